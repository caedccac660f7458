// Package livejoin is the live meeting point of the two halves of Aegis:
// IDS records (Zeek conn.log, Suricata flow events) as the readers decode
// them, and finished packet flows as the flow table lets go of them.
//
//   - A finished flow's timing is kept for Grace on the packet clock (Zeek
//     writes conn.log when it drops the connection, which can be minutes
//     after the last packet), or until its IDS record takes it.
//   - An IDS record whose packets are not in yet waits on the packet clock
//     until JoinDelay past its end (and at most MaxWallWait of real time, so
//     a stalled packet source cannot hold records forever).
//   - When the timing is gone (evicted, expired, or Aegis restarted), the
//     record is backfilled from the PCAP files whose time range covers it.
//   - Otherwise it is a miss: the record goes on without timing.
//
// Results come out in the order the IDS records went in, so a replay of the
// same log gives the same output. One goroutine (Run) owns all state; the
// feeding methods block when the joiner is behind (back-pressure).
package livejoin

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/enrich"
	"github.com/aegis-nsm/aegis/schemas"
)

// Config is the join section of aegis.yaml.
type Config struct {
	// JoinDelay is how long, on the packet clock past its end, an IDS record
	// waits for its flow's packets.
	JoinDelay time.Duration `yaml:"join_delay"`
	// MaxWallWait caps that wait in real time, for when packets stop.
	MaxWallWait time.Duration `yaml:"max_wall_wait"`
	// Grace is how long a finished flow's timing is kept, on the packet
	// clock, for its IDS record.
	Grace time.Duration `yaml:"grace"`
	// Slack widens the IDS record's time range when matching flows (clock
	// differences between the sensor and the capture).
	Slack time.Duration `yaml:"slack"`
	// MaxPending bounds the IDS records waiting; past it, feeding blocks.
	MaxPending int `yaml:"max_pending"`
	// MemoryBudget bounds the bytes of kept timing; past it the oldest
	// finished flows are dropped (counted as evicted; their records are
	// backfilled if they come).
	MemoryBudget int64 `yaml:"memory_budget"`
}

// DefaultConfig suits a sensor a few seconds behind the wire.
func DefaultConfig() Config {
	return Config{JoinDelay: 30 * time.Second, MaxWallWait: 2 * time.Minute, Grace: 10 * time.Minute,
		Slack: 2 * time.Second, MaxPending: 10_000, MemoryBudget: 256 << 20}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.JoinDelay < 0 || c.MaxWallWait <= 0:
		return fmt.Errorf("join: join_delay must not be negative and max_wall_wait must be positive")
	case c.Grace < c.JoinDelay:
		return fmt.Errorf("join: grace (%v) must be at least join_delay (%v)", c.Grace, c.JoinDelay)
	case c.Slack < 0:
		return fmt.Errorf("join: slack must not be negative")
	case c.MaxPending < 1:
		return fmt.Errorf("join: max_pending must be at least 1")
	case c.MemoryBudget < 1<<20:
		return fmt.Errorf("join: memory_budget %d is under 1 MiB", c.MemoryBudget)
	}
	return nil
}

// Outcome says how an IDS record found its timing.
type Outcome string

// Outcomes of a join.
const (
	Hit        Outcome = "hit"        // the flow was waiting for it
	Waited     Outcome = "waited"     // it waited for the flow's packets
	Backfilled Outcome = "backfilled" // the flow was rebuilt from PCAP files
	Miss       Outcome = "miss"       // no timing
)

// Item is one IDS record to join. Done travels with it to the Result.
type Item struct {
	IDS  *schemas.IDSFlow
	Done func(error)
}

// Result is a joined IDS record: Flow is nil on a miss. The receiver owns
// Flow.
type Result struct {
	IDS     *schemas.IDSFlow
	Flow    *flowtable.Flow
	Outcome Outcome
	Done    func(error)
}

// Backfiller rebuilds the packet flow of an IDS record from stored
// captures; it returns nil, nil when the captures do not hold it.
type Backfiller interface {
	Backfill(ctx context.Context, ids *schemas.IDSFlow) (*flowtable.Flow, error)
}

// Stats are the join counters.
type Stats struct {
	Hits, Waits, Backfills, Misses int64
	BackfillErrors                 int64
	// Partial counts live flows that began after their IDS record did
	// (Aegis started, or the capture began, in the middle of the
	// connection); they are backfilled from stored captures when possible.
	Partial int64
	Flows   int64 // finished flows taken in
	Expired int64 // kept flows no IDS record took within Grace
	Evicted int64 // kept flows dropped by the memory budget
	Kept    int64 // flows held now
	Memory  int64 // bytes held now
	Pending int64 // IDS records waiting now
}

// Joiner joins IDS records with finished flows. Create with New, feed with
// AddFlow, AddIDS and Clock from any goroutine, and drive with Run.
type Joiner struct {
	cfg      Config
	backfill Backfiller
	emit     func(Result) error

	// flows carries finished flows and packet-clock moves in one queue,
	// so that a clock move never overtakes a flow sent before it.
	flows   chan flowOrClock
	ids     chan Item
	ctl     chan bool    // true: drain, false: stop
	clock   atomic.Int64 // packet clock, ns (written by Run only)
	stopped chan struct{}

	// Owned by Run.
	kept    map[flowtable.Key][]*flowtable.Flow
	order   []*keptFlow // FIFO by arrival, for expiry and eviction
	head    int
	pending []*pendingItem
	stats   Stats
	shared  atomic.Pointer[Stats]
	now     func() time.Time
}

// flowOrClock is a finished flow, or (f nil) a packet-clock move.
type flowOrClock struct {
	f     *flowtable.Flow
	clock int64
}

type keptFlow struct {
	f     *flowtable.Flow
	taken bool
	mem   int64
}

type pendingItem struct {
	Item
	deadline int64     // packet clock
	wallDL   time.Time // real time
	flow     *flowtable.Flow
	outcome  Outcome
	resolved bool
}

// New returns a Joiner that hands results to emit, from Run's goroutine, in
// IDS order. emit may block (back-pressure); an error from emit stops Run.
// backfill may be nil (no stored captures).
func New(cfg Config, backfill Backfiller, emit func(Result) error) (*Joiner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	j := &Joiner{
		cfg: cfg, backfill: backfill, emit: emit,
		flows: make(chan flowOrClock, 256), ids: make(chan Item, 256),
		ctl: make(chan bool), stopped: make(chan struct{}),
		kept: map[flowtable.Key][]*flowtable.Flow{}, now: time.Now,
	}
	j.shared.Store(&Stats{})
	return j, nil
}

// AddFlow hands a finished flow to the joiner (the joiner owns it from now
// on). It blocks while the joiner is behind, and returns ctx's error if ctx
// ends first.
func (j *Joiner) AddFlow(ctx context.Context, f *flowtable.Flow) error {
	select {
	case j.flows <- flowOrClock{f: f}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-j.stopped:
		return nil
	}
}

// AddIDS hands an IDS record to the joiner. It blocks while MaxPending
// records wait, and returns ctx's error if ctx ends first.
func (j *Joiner) AddIDS(ctx context.Context, it Item) error {
	select {
	case j.ids <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Clock advances the packet clock to ns (it never goes back). It is
// queued behind the flows added before it: a record never gives up on a
// flow that is already on its way. It blocks while the joiner is behind.
func (j *Joiner) Clock(ns int64) {
	select {
	case j.flows <- flowOrClock{clock: ns}:
	case <-j.stopped:
	}
}

// Stats returns the counters as of the last event Run handled.
func (j *Joiner) Stats() Stats { return *j.shared.Load() }

// Run joins until Drain or Stop (then it returns nil), until ctx ends
// (ctx's error), or until emit fails (that error).
func (j *Joiner) Run(ctx context.Context) error {
	defer close(j.stopped)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		ids := j.ids
		if len(j.pending) >= j.cfg.MaxPending {
			ids = nil // back-pressure: stop taking records until some resolve
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case drain := <-j.ctl:
			if drain {
				return j.drain(ctx)
			}
			err := j.advance(ctx)
			j.publishStats()
			return err
		case fc := <-j.flows:
			j.takeFlowOrClock(fc)
		case it := <-ids:
			j.takeIDS(ctx, it)
		case <-tick.C:
		}
		if err := j.advance(ctx); err != nil {
			return err
		}
		j.publishStats()
	}
}

// Drain asks Run to finish at the end of finite inputs: every waiting
// record is resolved at once (backfilled or missed, without waiting
// further), all are emitted, and Run returns nil. Call it after the last
// AddFlow and AddIDS have returned.
func (j *Joiner) Drain(ctx context.Context) error { return j.control(ctx, true) }

// Stop asks Run to return at shutdown: the resolved records at the head of
// the queue are emitted; records still waiting are not (their Done is not
// called: their lines are read again after a restart).
func (j *Joiner) Stop(ctx context.Context) error { return j.control(ctx, false) }

func (j *Joiner) control(ctx context.Context, drain bool) error {
	select {
	case j.ctl <- drain:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (j *Joiner) drain(ctx context.Context) error {
	for {
		select {
		case fc := <-j.flows:
			j.takeFlowOrClock(fc)
			continue
		case it := <-j.ids:
			j.takeIDS(ctx, it)
			continue
		default:
		}
		break
	}
	for _, p := range j.pending {
		if !p.resolved {
			j.giveUp(ctx, p)
		}
	}
	err := j.advance(ctx)
	j.publishStats()
	return err
}

func (j *Joiner) publishStats() {
	s := j.stats
	s.Pending = int64(len(j.pending))
	j.shared.Store(&s)
}

func (j *Joiner) takeFlowOrClock(fc flowOrClock) {
	if fc.f != nil {
		j.takeFlow(fc.f)
	} else if fc.clock > j.clock.Load() {
		j.clock.Store(fc.clock)
	}
}

// takeFlow keeps f for its IDS record, unless a waiting record takes it.
func (j *Joiner) takeFlow(f *flowtable.Flow) {
	j.stats.Flows++
	for _, p := range j.pending {
		if !p.resolved && p.flow == nil && matches(p.IDS, f, int64(j.cfg.Slack)) {
			p.flow, p.outcome, p.resolved = f, Waited, true
			j.stats.Waits++
			j.completeOrBackfill(p)
			return
		}
	}
	k := &keptFlow{f: f, mem: flowMemory(f)}
	j.kept[f.Key] = append(j.kept[f.Key], f)
	j.order = append(j.order, k)
	j.stats.Kept++
	j.stats.Memory += k.mem
	for j.stats.Memory > j.cfg.MemoryBudget && j.head < len(j.order) {
		j.dropOldest(&j.stats.Evicted)
	}
}

// takeIDS looks for the record's flow among the kept ones; if it is not
// there, the record waits, or, when its time is long past, is backfilled.
func (j *Joiner) takeIDS(ctx context.Context, it Item) {
	p := &pendingItem{Item: it,
		deadline: it.IDS.End + int64(j.cfg.JoinDelay),
		wallDL:   j.now().Add(j.cfg.MaxWallWait)}
	j.pending = append(j.pending, p)
	if f := j.take(it.IDS); f != nil {
		p.flow, p.outcome, p.resolved = f, Hit, true
		j.stats.Hits++
		j.completeOrBackfill(p)
		return
	}
	// Timing for a record older than the grace period was dropped (or
	// never seen since a restart): waiting will not bring it.
	if clock := j.clock.Load(); clock > 0 && it.IDS.End+int64(j.cfg.Grace) < clock {
		j.giveUp(ctx, p)
	}
}

// take removes and returns the kept flow that best matches ids.
func (j *Joiner) take(ids *schemas.IDSFlow) *flowtable.Flow {
	key := idsKey(ids)
	cands := j.kept[key]
	best, bestOv := -1, int64(-1)
	for i, f := range cands {
		if ov := overlap(ids, f, int64(j.cfg.Slack)); ov > bestOv {
			best, bestOv = i, ov
		}
	}
	if best < 0 {
		return nil
	}
	f := cands[best]
	if len(cands) == 1 {
		delete(j.kept, key)
	} else {
		j.kept[key] = append(cands[:best:best], cands[best+1:]...)
	}
	for _, k := range j.order[j.head:] {
		if k.f == f {
			k.taken = true
			j.stats.Kept--
			j.stats.Memory -= k.mem
			break
		}
	}
	return f
}

// completeOrBackfill replaces a live flow that began well after its IDS
// record (its first packets were never seen live) with the whole flow from
// the stored captures, when they have it; otherwise the partial flow stays.
func (j *Joiner) completeOrBackfill(p *pendingItem) {
	if p.flow.First-p.IDS.Start <= int64(j.cfg.Slack) {
		return
	}
	j.stats.Partial++
	if j.backfill == nil {
		return
	}
	f, err := j.backfill.Backfill(context.Background(), p.IDS)
	switch {
	case err != nil:
		j.stats.BackfillErrors++
	case f != nil && f.First < p.flow.First:
		p.flow, p.outcome = f, Backfilled
		j.stats.Backfills++
	}
}

// giveUp resolves p without live timing: backfill, else miss.
func (j *Joiner) giveUp(ctx context.Context, p *pendingItem) {
	p.resolved = true
	if j.backfill != nil {
		f, err := j.backfill.Backfill(ctx, p.IDS)
		switch {
		case err != nil:
			j.stats.BackfillErrors++
		case f != nil:
			p.flow, p.outcome = f, Backfilled
			j.stats.Backfills++
			return
		}
	}
	p.outcome = Miss
	j.stats.Misses++
}

// advance expires kept flows, gives up on records past their deadlines and
// emits the resolved records at the head of the queue.
func (j *Joiner) advance(ctx context.Context) error {
	clock := j.clock.Load()
	for j.head < len(j.order) {
		k := j.order[j.head]
		if !k.taken && k.f.Last+int64(j.cfg.Grace) >= clock {
			break
		}
		j.dropOldest(&j.stats.Expired)
	}
	if j.head > 1024 && j.head*2 > len(j.order) {
		j.order = append(j.order[:0], j.order[j.head:]...)
		j.head = 0
	}
	now := j.now()
	for _, p := range j.pending {
		if !p.resolved && (clock > p.deadline || now.After(p.wallDL)) {
			j.giveUp(ctx, p)
		}
	}
	n := 0
	for n < len(j.pending) && j.pending[n].resolved {
		p := j.pending[n]
		if err := j.emit(Result{IDS: p.IDS, Flow: p.flow, Outcome: p.outcome, Done: p.Done}); err != nil {
			j.pending = j.pending[n:]
			return fmt.Errorf("join: %w", err)
		}
		n++
	}
	if n > 0 {
		clear(j.pending[:n])
		j.pending = append(j.pending[:0], j.pending[n:]...)
	}
	return nil
}

// dropOldest forgets the oldest kept flow (if not taken), counting it in
// counter.
func (j *Joiner) dropOldest(counter *int64) {
	k := j.order[j.head]
	j.order[j.head] = nil
	j.head++
	if k.taken {
		return
	}
	*counter++
	j.stats.Kept--
	j.stats.Memory -= k.mem
	cands := j.kept[k.f.Key]
	for i, f := range cands {
		if f == k.f {
			if len(cands) == 1 {
				delete(j.kept, k.f.Key)
			} else {
				j.kept[k.f.Key] = append(cands[:i:i], cands[i+1:]...)
			}
			break
		}
	}
}

// matches reports whether f's packets are ids's connection: same 5-tuple
// and overlapping time (with slack).
func matches(ids *schemas.IDSFlow, f *flowtable.Flow, slack int64) bool {
	return idsKey(ids) == f.Key && overlap(ids, f, slack) >= 0
}

// idsKey is the flow-table key of an IDS record's connection.
func idsKey(ids *schemas.IDSFlow) flowtable.Key {
	key, _ := flowtable.CanonicalKey(enrich.IDSTuple(ids)) // the bool is the direction, not an error
	return key
}

// overlap is the length of the overlap of the IDS record's time range
// (widened by slack) and the flow's, negative when they are apart.
func overlap(ids *schemas.IDSFlow, f *flowtable.Flow, slack int64) int64 {
	lo, hi := max(ids.Start-slack, f.First), min(ids.End+slack, f.Last)
	return hi - lo
}

// flowMemory estimates the bytes a kept flow holds.
func flowMemory(f *flowtable.Flow) int64 {
	return 512 + int64(cap(f.Orig.Times)+cap(f.Resp.Times))*8 + int64(cap(f.Orig.Sizes)+cap(f.Resp.Sizes))*4
}
