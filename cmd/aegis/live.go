package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/aegis-nsm/aegis/enrich/coupling"
	"github.com/aegis-nsm/aegis/enrich/sink"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aegis-nsm/aegis/cadence"
	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/enrich"
	"github.com/aegis-nsm/aegis/enrich/alert"
	"github.com/aegis-nsm/aegis/enrich/candidate"
	"github.com/aegis-nsm/aegis/enrich/correlate"
	"github.com/aegis-nsm/aegis/enrich/livejoin"
	"github.com/aegis-nsm/aegis/ingest/idsfollow"
	"github.com/aegis-nsm/aegis/llm"
	"github.com/aegis-nsm/aegis/rules"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/communityid"
)

// packetRunner is a live packet source: a rolling PCAP directory or an
// AF_PACKET tap. Run calls fn with batches in (roughly) time order until
// ctx ends; fn may block (back-pressure). The batch is only valid during
// the call.
type packetRunner interface {
	Run(ctx context.Context, fn func(batch []schemas.Packet) error) error
}

// ruleEvaluator is the rules stage as the live pipeline uses it.
type ruleEvaluator interface {
	ObserveIDS(f *schemas.IDSFlow)
	Evaluate(rec *schemas.Record) []schemas.RuleHit
	TakeReconFindings() []rules.ReconFinding
}

// live is 'aegis run': the stages in their order, wired in one place.
//
//	logs ──idsfollow──► rules.ObserveIDS ─► candidate? ─► livejoin ◄── flow table shards ◄── packets
//	                                                         │
//	                              cadence.Analyze ◄──────────┘ (IDS order)
//	                                     │
//	                  enrich.Assemble ─► rules.Evaluate ─► alert pipeline ─► sinks ─► Done ─► log ack
type live struct {
	cfg      *runConfig
	log      *slog.Logger
	follow   *idsfollow.Follower
	packets  packetRunner // nil with packets.source none
	joiner   *livejoin.Joiner
	selector *candidate.Selector
	analyzer atomic.Pointer[cadence.Analyzer]
	rules    ruleEvaluator
	alerts   *alert.Pipeline
	llm      *llm.Stage // the reasoning pass; nil in tests that do not need it
	coupling *coupling.Detector
	// lastFindings is the record time the coupling findings were last
	// asked for (join goroutine only).
	lastFindings int64
	hasher       communityid.Hasher

	shards []*liveShard
	clock  atomic.Int64 // packet clock: newest packet time dispatched
	lastPk atomic.Int64 // wall time (ns) of the newest packet

	stats liveStats
}

// liveStats are the pipeline's own counters (the stages keep theirs).
type liveStats struct {
	idsRecords   atomic.Int64 // flow records from the logs
	idsSelected  atomic.Int64 // of those, candidates
	flowsIn      atomic.Int64 // finished packet flows
	flowsKept    atomic.Int64 // of those, possible candidates handed to the join
	analysed     atomic.Int64 // joined records analysed
	detections   atomic.Int64 // analysed records of a detection class
	missed       atomic.Int64 // candidates without timing
	processErr   atomic.Int64
	classCounts  sync.Map // schemas.Class -> *atomic.Int64
	routeCounts  sync.Map // route name -> *atomic.Int64
	packets      atomic.Int64
	packetBatchs atomic.Int64
}

// liveShard is one flow table and its goroutine.
type liveShard struct {
	l     *live
	table *flowtable.Table
	in    chan shardWork
	free  chan []schemas.Packet
	now   atomic.Int64 // the table's clock after the last work item
	// stats is the table's counters after the last work item, for
	// metrics (the table itself belongs to the shard's goroutine).
	stats atomic.Pointer[flowtable.Stats]
}

// shardWork is a batch of packets (maybe none), then a clock advance to
// the newest packet time of the whole dispatch, so that every shard's
// clock moves even when the batch had nothing for it.
type shardWork struct {
	batch []schemas.Packet
	clock int64
}

func newLive(cfg *runConfig, log *slog.Logger, follow *idsfollow.Follower, packets packetRunner,
	rules ruleEvaluator, alerts *alert.Pipeline, analyzer *cadence.Analyzer, backfill livejoin.Backfiller) (*live, error) {
	sel, err := candidate.New(cfg.Candidates)
	if err != nil {
		return nil, err
	}
	l := &live{cfg: cfg, log: log, follow: follow, packets: packets, selector: sel, rules: rules,
		alerts: alerts, hasher: communityid.Hasher{Seed: cfg.CommunityIDSeed}}
	l.analyzer.Store(analyzer)
	l.joiner, err = livejoin.New(cfg.Join, backfill, l.joined)
	if err != nil {
		return nil, err
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	tcfg := cfg.FlowTable
	tcfg.MemoryBudget /= int64(workers)
	for range workers {
		s := &liveShard{l: l, in: make(chan shardWork, 8), free: make(chan []schemas.Packet, 16)}
		if s.table, err = flowtable.New(tcfg, s.finished); err != nil {
			return nil, err
		}
		for range 12 {
			s.free <- make([]schemas.Packet, 0, 512)
		}
		l.shards = append(l.shards, s)
	}
	return l, nil
}

// run runs every stage until ctx ends (shutdown) or a stage fails. On
// shutdown it stops reading, lets the join emit what is resolved, flushes
// the alert pipeline and its sinks and returns nil; records still waiting
// for packets are left unacknowledged, to be read again after a restart.
func (l *live) run(ctx context.Context) error {
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	joinCtx, stopJoin := context.WithCancel(context.Background())
	defer stopJoin()

	var wg sync.WaitGroup
	errc := make(chan error, 4)
	fail := func(stage string, err error) {
		if err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("%s: %w", stage, err)
			stopReading()
		}
	}
	joinDone := make(chan error, 1)
	go func() { joinDone <- l.joiner.Run(joinCtx) }()
	llmCtx, stopLLM := context.WithCancel(context.Background())
	defer stopLLM()
	llmDone := make(chan error, 1)
	if l.llm != nil {
		go func() { llmDone <- l.llm.Run(llmCtx) }()
	} else {
		llmDone <- nil
	}

	var shardWG sync.WaitGroup
	for _, s := range l.shards {
		shardWG.Go(func() { s.loop(joinCtx) })
	}
	if l.packets != nil {
		wg.Go(func() { fail("packets", l.packets.Run(readCtx, l.dispatch)) })
		wg.Go(func() { l.quietClock(readCtx) })
	}
	wg.Go(func() { fail("logs", l.follow.Run(readCtx, l.idsRecord)) })

	var runErr error
	select {
	case <-readCtx.Done():
	case err := <-joinDone:
		runErr = fmt.Errorf("join: %w", err)
		stopReading()
		joinDone <- nil
	}
	wg.Wait()
	select {
	case err := <-errc:
		runErr = errors.Join(runErr, err)
	default:
	}
	// Shutdown order: inputs stopped; shards stop; the join emits what is
	// resolved; the alert pipeline and the sinks flush; then the caller
	// closes the follower, which writes the last checkpoint.
	for _, s := range l.shards {
		close(s.in)
	}
	shardWG.Wait()
	drainCtx, cancel := context.WithTimeout(context.Background(), l.cfg.ShutdownTimeout)
	defer cancel()
	if runErr == nil {
		if err := l.joiner.Stop(drainCtx); err != nil {
			runErr = err
		}
	}
	stopJoin()
	<-joinDone
	// The reasoning pass closes its windows and publishes their verdicts
	// before the sinks flush.
	if l.llm != nil {
		if err := l.llm.Flush(drainCtx); err != nil {
			l.log.Warn("llm: verdicts still open at shutdown", "err", err)
		}
	}
	stopLLM()
	<-llmDone
	if err := l.alerts.Flush(drainCtx); err != nil {
		runErr = errors.Join(runErr, err)
	}
	l.logSummary()
	return runErr
}

// logSummary logs the counters of every stage once, at shutdown.
func (l *live) logSummary() {
	j := l.joiner.Stats()
	a := l.alerts.Stats()
	l.log.Info("summary",
		"ids_records", l.stats.idsRecords.Load(), "candidates", l.stats.idsSelected.Load(),
		"packets", l.stats.packets.Load(), "flows", l.stats.flowsIn.Load(), "flows_kept", l.stats.flowsKept.Load(),
		"join_hits", j.Hits, "join_waits", j.Waits, "join_backfills", j.Backfills, "join_misses", j.Misses,
		"join_partial", j.Partial, "join_expired", j.Expired, "join_evicted", j.Evicted, "join_pending", j.Pending,
		"analysed", l.stats.analysed.Load(), "detections", l.stats.detections.Load(),
		"published", a.Published, "suppressed", a.Suppressed, "sink_failures", a.Failed)
}

// idsRecord takes one flow record from the logs.
func (l *live) idsRecord(r idsfollow.Record) error {
	l.stats.idsRecords.Add(1)
	l.rules.ObserveIDS(r.Flow)
	l.publishRecon()
	if l.coupling != nil && !r.Flow.Interim && r.Flow.Orig.IsValid() {
		// Every connection a host starts is a possible action of an agent.
		l.coupling.ObserveAction(coupling.Action{Host: r.Flow.Orig.Addr(), Time: r.Flow.Start,
			Kind: coupling.ActionConnect, UID: r.Flow.UID, CommunityID: r.Flow.CommunityID,
			Service: r.Flow.Service, DstPort: r.Flow.Resp.Port(), FlowKey: enrich.FlowKeyString(enrich.IDSTuple(r.Flow))})
	}
	if l.selector.IDS(r.Flow) != candidate.Selected {
		r.Done(nil)
		return nil
	}
	l.stats.idsSelected.Add(1)
	return l.joiner.AddIDS(context.Background(), livejoin.Item{IDS: r.Flow, Done: r.Done})
}

// publishRecon publishes the reconnaissance findings of the rules engine
// (a source crossing the scanning threshold) as recon records, so that
// `aegis correlate` sees a scan at this sensor. A finding lost in a crash
// is not published again: the counters restart with the process.
func (l *live) publishRecon() {
	for _, f := range l.rules.TakeReconFindings() {
		msg, err := correlate.ReconMessage(l.cfg.Sensor, f, nil)
		if err != nil {
			l.log.Warn("recon record", "err", err)
			continue
		}
		if err := l.alerts.Publish(context.Background(), msg); err != nil {
			l.log.Warn("publishing a recon record", "source", msg.SourceIP, "err", err)
		}
	}
}

// dispatch hands a batch of packets to the shards.
func (l *live) dispatch(batch []schemas.Packet) error {
	n := len(l.shards)
	var newest int64
	pending := make([][]schemas.Packet, n)
	for i := range batch {
		p := &batch[i]
		if p.TS > newest {
			newest = p.TS
		}
		si := 0
		if n > 1 {
			si = shardOf(&p.Tuple, n)
		}
		if pending[si] == nil {
			pending[si] = <-l.shards[si].free
		}
		pending[si] = append(pending[si], *p)
		if len(pending[si]) == cap(pending[si]) {
			l.shards[si].in <- shardWork{batch: pending[si], clock: p.TS}
			pending[si] = nil
		}
	}
	for si := range l.shards {
		l.shards[si].in <- shardWork{batch: pending[si], clock: newest}
	}
	l.stats.packets.Add(int64(len(batch)))
	l.stats.packetBatchs.Add(1)
	for {
		old := l.clock.Load()
		if newest <= old || l.clock.CompareAndSwap(old, newest) {
			break
		}
	}
	l.lastPk.Store(time.Now().UnixNano())
	return nil
}

// quietClock moves the packet clock with the wall clock while the capture
// is silent, so idle flows still end and waiting records still time out.
func (l *live) quietClock(ctx context.Context) {
	tick := time.NewTicker(l.cfg.QuietAdvance / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		last, clock := l.lastPk.Load(), l.clock.Load()
		if last == 0 || clock == 0 {
			continue
		}
		quiet := time.Now().UnixNano() - last
		if quiet < int64(l.cfg.QuietAdvance) {
			continue
		}
		now := clock + quiet
		for _, s := range l.shards {
			select {
			case s.in <- shardWork{clock: now}:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (s *liveShard) loop(ctx context.Context) {
	for w := range s.in {
		for i := range w.batch {
			s.table.Add(&w.batch[i])
		}
		if w.batch != nil {
			select {
			case s.free <- w.batch[:0]:
			default:
			}
		}
		s.table.Advance(w.clock)
		s.now.Store(s.table.Now())
		st := s.table.Stats()
		s.stats.Store(&st)
		s.l.shardClock()
	}
	// Flows still open at shutdown are not analysed: their IDS records
	// come after a restart, and are backfilled then.
}

// shardClock moves the join's packet clock to the slowest shard's: a flow
// is in the join (or still in its table) before the join's clock passes
// its end, so a waiting record never gives up on a flow a shard is still
// holding.
func (l *live) shardClock() {
	slowest := int64(-1)
	for _, s := range l.shards {
		if n := s.now.Load(); slowest < 0 || n < slowest {
			slowest = n
		}
	}
	if slowest > 0 {
		l.joiner.Clock(slowest)
	}
}

// finished takes a flow the table let go of.
func (s *liveShard) finished(f *flowtable.Flow) {
	l := s.l
	l.stats.flowsIn.Add(1)
	if l.selector.Tuple(f.OrigTuple) != candidate.Selected {
		return
	}
	l.stats.flowsKept.Add(1)
	l.joiner.AddFlow(context.Background(), f)
}

// joined analyses a joined candidate and hands its record to the alert
// pipeline. It runs on the join's goroutine, in IDS order.
func (l *live) joined(r livejoin.Result) error {
	l.follow.Enrich(r.IDS)
	if r.Outcome != livejoin.Hit && r.Outcome != livejoin.Waited {
		l.log.Debug("join", "outcome", r.Outcome, "uid", r.IDS.UID, "source", r.IDS.File, "line", r.IDS.Line)
	}
	if r.Flow == nil {
		l.stats.missed.Add(1)
		r.Done(nil)
		return nil
	}
	f := r.Flow
	res := l.analyzer.Load().Analyze(f, cadence.FlowContext{SNI: r.IDS.SNI, Service: r.IDS.Service})
	l.stats.analysed.Add(1)
	count(&l.stats.classCounts, string(res.Class))
	if res.Class.IsDetection() {
		l.stats.detections.Add(1)
	}
	if res.Class == schemas.ClassLLMStream {
		count(&l.stats.routeCounts, res.Route.Name)
	}
	sum := flowSummary(f, l.hasher.ID(f.OrigTuple))
	v := enrich.Verdict{Cadence: res.Features, Class: res.Class, Confidence: res.Confidence,
		Reasons: res.Reasons, Handoff: res.Handoff, Route: res.Route}
	rec := enrich.Assemble(sum, v, r.IDS, enrich.JoinTupleTime)
	hits := l.rules.Evaluate(&rec)
	err := l.alerts.Process(context.Background(), alert.Input{Record: &rec, Hits: hits, Done: r.Done})
	if err != nil {
		l.stats.processErr.Add(1)
		return err
	}
	if l.llm != nil && rec.Event.Kind == "alert" {
		l.llm.Submit(&rec) // never blocks; reads rec and keeps a copy
	}
	l.observeCoupling(f, &rec)
	return nil
}

// observeCoupling feeds the coupling detector the model answers of an LLM
// stream and the command writes of an interactive session, and every 10 s
// of record time publishes the hosts found coupled.
func (l *live) observeCoupling(f *flowtable.Flow, rec *schemas.Record) {
	d := l.coupling
	if d == nil {
		return
	}
	host, err := netip.ParseAddr(rec.Source.IP)
	if err != nil {
		return
	}
	ex := d.Config().Extract
	client := coupling.Detail{Times: f.Orig.Times, Sizes: f.Orig.Sizes, Trimmed: f.Orig.PayloadPackets > int64(len(f.Orig.Times))}
	server := coupling.Detail{Times: f.Resp.Times, Sizes: f.Resp.Sizes, Trimmed: f.Resp.PayloadPackets > int64(len(f.Resp.Times))}
	ids := rec.Aegis.IDS
	uid := ""
	if ids != nil {
		uid = ids.UID
	}
	switch rec.Aegis.Class {
	case schemas.ClassLLMStream:
		for _, a := range ex.Answers(client, server) {
			d.ObserveStream(coupling.Stream{Host: host, Start: a.Start, End: a.End, RecordID: rec.Event.ID, UID: uid,
				CommunityID: rec.Network.CommunityID, FlowKey: rec.Aegis.FlowKey, Route: rec.Aegis.Route.Name})
		}
	case schemas.ClassAgentShell, schemas.ClassHandoff, schemas.ClassHumanInteractive:
		in, out := client, server
		if rec.Aegis.Cadence.Session.CommandSide == "server" {
			in, out = server, client
		}
		for _, t := range ex.Commands(in, out) {
			d.ObserveAction(coupling.Action{Host: host, Time: t, Kind: coupling.ActionCommand, RecordID: rec.Event.ID,
				UID: uid, CommunityID: rec.Network.CommunityID, FlowKey: rec.Aegis.FlowKey, Service: rec.Network.Protocol,
				DstPort: rec.Destination.Port, Class: rec.Aegis.Class})
		}
	}
	if now := f.Last; now-l.lastFindings >= int64(10*time.Second) {
		l.lastFindings = now
		l.publishCouplings(now)
	}
}

// publishCouplings publishes the coupling findings as of record time now.
func (l *live) publishCouplings(now int64) {
	for _, c := range l.coupling.Findings(now) {
		value, err := json.Marshal(c)
		if err != nil {
			l.log.Warn("coupling record", "err", err)
			continue
		}
		msg := sink.Message{Kind: sink.KindCoupling, Value: value, SourceIP: c.Source.IP, Severity: c.Aegis.Severity, ID: c.Event.ID}
		if err := l.alerts.Publish(context.Background(), msg); err != nil {
			l.log.Warn("publishing a coupling record", "source", c.Source.IP, "err", err)
		}
	}
}

// flowSummary is the record-facing summary of a finished flow.
func flowSummary(f *flowtable.Flow, cid string) enrich.FlowSummary {
	return enrich.FlowSummary{
		Tuple: f.OrigTuple, First: f.First, Last: f.Last,
		OrigPackets: f.Orig.Packets, RespPackets: f.Resp.Packets,
		OrigIPBytes: f.Orig.IPBytes, RespIPBytes: f.Resp.IPBytes,
		CommunityID: cid,
		Capture: schemas.CaptureInfo{
			Packets:       f.Orig.Packets + f.Resp.Packets,
			Retransmits:   f.Orig.Retransmits + f.Resp.Retransmits,
			DetailTrimmed: f.Orig.PayloadPackets > int64(len(f.Orig.Times)) || f.Resp.PayloadPackets > int64(len(f.Resp.Times)),
			Evicted:       f.Evicted,
		},
	}
}

func count(m *sync.Map, key string) {
	v, ok := m.Load(key)
	if !ok {
		v, _ = m.LoadOrStore(key, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}
