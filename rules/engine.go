package rules

import (
	"hash/maphash"
	"math/bits"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/aegis-nsm/aegis/schemas"
)

// Engine evaluates a rule Set against records and keeps the per-source
// state that reconnaissance counters and sequence rules need. It is safe
// for concurrent use: sources are sharded over independent locks by a hash
// of their address, records whose class no state-reading rule looks at take
// no lock at all, and the rule set is swapped atomically.
//
// Time is record time, never the wall clock: windows and eviction follow
// the IDSFlow Start/End and the record's event.end, so replaying the same
// inputs gives the same hits.
type Engine struct {
	cur    atomic.Pointer[active]
	shards []*shard
	mask   uint64
	shift  uint
	recon  reconRules

	seed  maphash.Seed  // stripes the evaluation counter of records no rule reads
	finds reconFindings // scanning sources for TakeReconFindings

	mu       sync.Mutex // guards counters (Swap and Stats)
	counters map[string]*atomic.Uint64
}

// active is a rule set with its hit counters.
type active struct {
	set     *Set
	hits    []*atomic.Uint64 // per rule, by rule.order
	horizon int64            // how long an idle source can still matter (ns)
}

// NewEngine returns an engine for set. cfg supplies MaxSources and Recon
// (it should have passed Validate; zero fields take the defaults).
func NewEngine(set *Set, cfg Config) *Engine {
	def := DefaultConfig()
	if cfg.MaxSources <= 0 {
		cfg.MaxSources = def.MaxSources
	}
	if cfg.Recon.MinTargets <= 0 {
		cfg.Recon.MinTargets = def.Recon.MinTargets
	}
	if cfg.Recon.Window <= 0 {
		cfg.Recon.Window = def.Recon.Window
	}
	if cfg.Recon.MaxProbeDuration <= 0 {
		cfg.Recon.MaxProbeDuration = def.Recon.MaxProbeDuration
	}
	// One shard per 256 sources, at most 64, a power of two: small budgets
	// get exact LRU order, large ones spread the locks.
	n := 1
	for n < 64 && n*2*256 <= cfg.MaxSources {
		n *= 2
	}
	e := &Engine{
		shards:   make([]*shard, n),
		mask:     uint64(n - 1),
		shift:    uint(64 - bits.TrailingZeros(uint(n))),
		recon:    compileRecon(cfg.Recon),
		seed:     maphash.MakeSeed(),
		counters: map[string]*atomic.Uint64{},
	}
	per := (cfg.MaxSources + n - 1) / n
	for i := range e.shards {
		e.shards[i] = newShard(per)
	}
	e.Swap(set)
	return e
}

// Swap replaces the rule set atomically (a SIGHUP reload). Per-source state
// is kept: recon counters and class history always, rule-hit history for
// the rule ids the new set still refers to. Evaluations running during the
// swap finish with the set they started with. Only the rules change:
// MaxSources and Recon stay as NewEngine set them (the set's named lists
// and sequence window come with the set).
func (e *Engine) Swap(set *Set) {
	if set == nil {
		set = emptySet()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := &active{set: set, hits: make([]*atomic.Uint64, len(set.rules))}
	for i, r := range set.rules {
		c := e.counters[r.id]
		if c == nil {
			c = new(atomic.Uint64)
			e.counters[r.id] = c
		}
		a.hits[i] = c
	}
	a.horizon = int64(set.maxWindow) + 2*e.recon.window
	e.cur.Store(a)
}

// Set returns the rule set in use.
func (e *Engine) Set() *Set { return e.cur.Load().set }

// shardFor picks ip's shard.
func (e *Engine) shardFor(ip *schemas.IP) *shard {
	if e.mask == 0 {
		return e.shards[0]
	}
	return e.shards[shardHash(ip)>>e.shift&e.mask]
}

// parseIP reads a record address; ok is false for an empty or bad one.
func parseIP(s string) (schemas.IP, netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return schemas.IP{}, netip.Addr{}, false
	}
	a = a.WithZone("").Unmap()
	return schemas.IPFromAddr(a), a, true
}

// ObserveIDS feeds one IDS record (every one, candidate or not) to the
// reconnaissance counters: a probe (see isProbeState) or an alert matching
// Recon.AlertPatterns updates its source's state; any other record only
// bumps a counter and takes no lock. f is read, not kept.
func (e *Engine) ObserveIDS(f *schemas.IDSFlow) {
	if f == nil {
		return
	}
	ip := schemas.IPFromAddr(f.Orig.Addr())
	sh := e.shardFor(&ip)
	sh.ids.Add(1)
	if e.recon.disabled || !f.Orig.Addr().IsValid() {
		return
	}
	kind := e.recon.classify(f)
	t := f.End
	if t == 0 {
		t = f.Start
	}
	if kind == probeNone || t <= 0 {
		return
	}
	a := e.cur.Load()
	sh.mu.Lock()
	sh.sync(a)
	i := sh.getOrInsert(ip, t, a.horizon)
	st := &sh.slots[i]
	var crossed bool
	if kind == probeAlert {
		sh.scanAlerts++
		crossed = st.markRecon(t)
	} else {
		sh.probes++
		crossed = st.addProbe(t, targetBit(f.Resp), &e.recon)
	}
	if crossed {
		sh.reconSources++
		sh.reconDetections++
	}
	e.noteRecon(st, t, kind == probeAlert)
	sh.mu.Unlock()
}

// evalCtx is one evaluation: the record, its parsed addresses and times
// (parsed on first use), and (under the shard lock) its source's state.
type evalCtx struct {
	rec        *schemas.Record
	sh         *shard
	src        netip.Addr
	dst        netip.Addr
	dstDone    bool
	start, end int64
	times      uint8 // 0 not parsed yet, 1 parsed, 2 unreadable
	st         *srcState
	refs       []int64
}

// timed parses the record's times on first use and reports whether they
// could be read (unreadable ones are counted in Stats.NoTime).
func (c *evalCtx) timed() bool {
	if c.times == 0 {
		var ok bool
		c.start, c.end, ok = recordTimes(c.rec)
		c.times = 1
		if !ok {
			c.times = 2
			c.sh.noTime.Add(1)
		}
	}
	return c.times == 1
}

// dstAddr parses the destination address on first use.
func (c *evalCtx) dstAddr() netip.Addr {
	if !c.dstDone {
		_, c.dst, _ = parseIP(c.rec.Destination.IP)
		c.dstDone = true
	}
	return c.dst
}

// inWindow reports whether an earlier event at time at counts for this
// flow: no more than w before the flow started, and not after it ended.
func (c *evalCtx) inWindow(at, w int64) bool {
	return at != 0 && c.timed() && at >= c.start-w && at <= c.end
}

// refAt is the last hit time of the rule in history slot i.
func (c *evalCtx) refAt(i int) int64 {
	if i < len(c.refs) {
		return c.refs[i]
	}
	return 0
}

// Evaluate runs the rules on rec and returns their hits in rule order, nil
// when none fired. Each hit's Message is new; its Tags and Techniques are
// shared with the rule and must be treated as read-only (copy before
// changing). Evaluate also records what sequence rules need about rec
// (its class, the rules it hit) in its source's history. rec is read, not
// kept; it must not change during the call.
//
// A record of a class no rule looks at costs a hash and a counter; the
// source address and the record's times are parsed only when a condition
// or the history needs them.
func (e *Engine) Evaluate(rec *schemas.Record) []schemas.RuleHit {
	a := e.cur.Load()
	set := a.set
	slot := classSlot(rec.Aegis.Class)
	bit := uint16(1) << slot
	cands := set.byClass[slot]
	if len(cands) == 0 && set.recordClasses&bit == 0 {
		e.shards[maphash.String(e.seed, rec.Source.IP)&e.mask].evals.Add(1)
		return nil
	}
	ip, addr, ipOK := parseIP(rec.Source.IP)
	sh := e.shardFor(&ip)
	sh.evals.Add(1)
	c := evalCtx{rec: rec, src: addr, sh: sh}
	locked := ipOK && set.lockClasses&bit != 0
	if locked {
		sh.mu.Lock()
		sh.sync(a)
		if i := sh.lookup(ip); i >= 0 {
			c.st, c.refs = &sh.slots[i], sh.row(i)
		}
	}
	var hits []schemas.RuleHit
	var refBuf [8]int
	refHits := refBuf[:0]
	for _, r := range cands {
		if !r.matches(&c) {
			continue
		}
		if hits == nil {
			hits = make([]schemas.RuleHit, 0, len(cands))
		}
		hits = append(hits, r.hit(&c))
		a.hits[r.order].Add(1)
		if r.refSlot >= 0 {
			refHits = append(refHits, r.refSlot)
		}
	}
	if locked {
		if (set.recordClasses&bit != 0 || len(refHits) > 0) && c.timed() {
			i := sh.getOrInsert(ip, c.end, a.horizon)
			st := &sh.slots[i]
			if set.recordClasses&bit != 0 {
				st.classAt[slot] = max(st.classAt[slot], c.end)
			}
			row := sh.row(i)
			for _, k := range refHits {
				row[k] = max(row[k], c.end)
			}
		}
		sh.mu.Unlock()
	}
	return hits
}

// matches reports whether every condition holds.
func (r *rule) matches(c *evalCtx) bool {
	for i := range r.conds {
		if !r.conds[i].eval(c) {
			return false
		}
	}
	return true
}

// hit builds the RuleHit for a match.
func (r *rule) hit(c *evalCtx) schemas.RuleHit {
	rc := renderCtx{rule: r}
	if c.st != nil {
		rc.reconTargets = int(c.st.targets)
		rc.reconProbes = int(c.st.probes + c.st.prevProbes)
	}
	return schemas.RuleHit{
		ID:         r.id,
		Name:       r.name,
		Severity:   r.severity,
		Message:    r.msg.render(c.rec, &rc),
		Tags:       r.tags,
		Techniques: r.techs,
	}
}

// Stats are the engine's counters since NewEngine. Hits survive Swap by
// rule id.
type Stats struct {
	Evaluations     uint64            // records evaluated
	NoTime          uint64            // records whose time was needed (sequence steps, history) but could not be read
	Hits            map[string]uint64 // hits per rule id (rules that never fired included, at 0)
	IDSRecords      uint64            // IDS records observed
	Probes          uint64            // IDS records counted as probes
	ScanAlerts      uint64            // IDS alerts that named a scan
	SourcesTracked  int               // sources with state now
	SourcesEvicted  uint64            // sources dropped because MaxSources was reached
	SourcesExpired  uint64            // idle sources dropped because no window could still use them
	ReconSources    int               // tracked sources that have been seen scanning
	ReconDetections uint64            // times a source crossed the scanning threshold
	// ReconFindingsDropped counts findings lost because TakeReconFindings
	// was not called often enough (see maxPendingFindings).
	ReconFindingsDropped uint64
}

// Stats returns a snapshot of the counters. It briefly takes each shard's
// lock.
func (e *Engine) Stats() Stats {
	var s Stats
	for _, sh := range e.shards {
		s.Evaluations += sh.evals.Load()
		s.IDSRecords += sh.ids.Load()
		s.NoTime += sh.noTime.Load()
		sh.mu.Lock()
		s.SourcesTracked += len(sh.idx)
		s.SourcesEvicted += sh.evicted
		s.SourcesExpired += sh.expired
		s.ReconSources += sh.reconSources
		s.ReconDetections += sh.reconDetections
		s.Probes += sh.probes
		s.ScanAlerts += sh.scanAlerts
		sh.mu.Unlock()
	}
	s.ReconFindingsDropped = e.finds.dropped.Load()
	e.mu.Lock()
	s.Hits = make(map[string]uint64, len(e.counters))
	for id, c := range e.counters {
		s.Hits[id] = c.Load()
	}
	e.mu.Unlock()
	return s
}
