// Package alert is the last stage before the sinks: it collapses every rule
// hit on one flow into one alert, sets its severity (the highest hit,
// raised one step when enough distinct rules agree), folds repeated alerts
// of one rule for one source into one (suppression), and routes each
// severity to the configured sinks, turning the sinks' delivery reports
// into one completion per record.
//
// Time is the records' own (event.end), never the wall clock, so a replay
// gives the same output.
package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aegis-nsm/aegis/enrich"
	"github.com/aegis-nsm/aegis/enrich/attack"
	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas"
)

// Input is one assembled record and the rule hits on it.
type Input struct {
	// Record is the assembled detection record. The pipeline fills its
	// rules, severity, event kind and threat; it owns Record from the call
	// on.
	Record *schemas.Record
	// Hits are the rule hits on the record, in any order.
	Hits []schemas.RuleHit
	// Done is called exactly once: when every sink the record was routed to
	// has it (nil), when one gave up (its error), or at once (nil) when the
	// record is not published (no hit, or every hit suppressed). May be nil.
	Done func(error)
}

// Stats are the pipeline's counters.
type Stats struct {
	Records      int64            // records processed
	Alerts       int64            // records with at least one rule hit
	Published    int64            // records written to at least one sink
	Suppressed   int64            // hits folded into an earlier alert
	Updates      int64            // alerts published again with their suppression count
	Unrouted     int64            // published records no route took
	Corroborated int64            // alerts raised one step by corroboration
	Failed       int64            // records a sink gave up on
	PerSink      map[string]int64 // records written per sink
}

// Pipeline is the alert stage. Process and Flush are safe for concurrent
// use; records are published in the order Process is called.
type Pipeline struct {
	cfg   Config
	log   *slog.Logger
	names []string    // sink names, sorted
	sinks []sink.Sink // by names' index
	// bySeverity[s] lists the sinks (indices) that take severity s.
	bySeverity [enrich.SeverityCritical + 1][]int

	mu     sync.Mutex
	sup    *suppressor
	stats  Stats
	failed atomic.Int64 // records a sink gave up on (sinks report from their goroutines)
}

// New builds a pipeline over named sinks. The pipeline does not close the
// sinks; the caller does, after Flush.
func New(cfg Config, sinks map[string]sink.Sink, log *slog.Logger) (*Pipeline, error) {
	names := make([]string, 0, len(sinks))
	for n := range sinks {
		names = append(names, n)
	}
	sort.Strings(names)
	if err := cfg.Validate(names); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{cfg: cfg, log: log, names: names, stats: Stats{PerSink: map[string]int64{}}}
	for _, n := range names {
		p.sinks = append(p.sinks, sinks[n])
	}
	for sev := enrich.SeverityNone; sev <= enrich.SeverityCritical; sev++ {
		if len(cfg.Routes) == 0 {
			for i := range names {
				p.bySeverity[sev] = append(p.bySeverity[sev], i)
			}
			continue
		}
		for _, r := range cfg.Routes {
			min, _ := enrich.ParseSeverity(r.MinSeverity)
			if sev < min {
				continue
			}
			for _, s := range r.Sinks {
				i := slices.Index(names, s)
				if !slices.Contains(p.bySeverity[sev], i) {
					p.bySeverity[sev] = append(p.bySeverity[sev], i)
				}
			}
		}
		slices.Sort(p.bySeverity[sev])
	}
	if cfg.SuppressWindow > 0 {
		p.sup = newSuppressor(cfg.SuppressWindow, cfg.MaxSuppressed)
	}
	return p, nil
}

// Process collapses, suppresses, routes and writes one record. It blocks
// while a routed sink is full (back-pressure) and returns ctx's error if ctx
// ends first (in.Done is then not called: the record was not accepted) or
// a sink's error when it refuses the record outright.
func (p *Pipeline) Process(ctx context.Context, in Input) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Records++
	rec := in.Record
	now := recordTime(rec)
	if p.sup != nil {
		if err := p.publishUpdates(ctx, p.sup.expire(now)); err != nil {
			return err
		}
	}
	hits := in.Hits
	if len(hits) > 0 {
		p.stats.Alerts++
	}
	var fresh []schemas.RuleHit
	if p.sup != nil && len(hits) > 0 {
		fresh = make([]schemas.RuleHit, 0, len(hits))
		for _, h := range hits {
			if p.sup.fold(rec.Source.IP, h.ID, now) {
				p.stats.Suppressed++
				continue
			}
			fresh = append(fresh, h)
		}
		if len(fresh) == 0 {
			finish(in.Done, nil)
			return nil
		}
	} else {
		fresh = hits
	}
	if len(fresh) == 0 && !p.cfg.PublishAll {
		finish(in.Done, nil)
		return nil
	}
	p.collapse(rec, fresh)
	if p.sup != nil {
		p.sup.open(rec, now)
	}
	return p.publish(ctx, rec, in.Done)
}

// collapse puts hits on rec: sorted by severity then id, severity the
// highest of the class's base and the hits (one step higher when enough
// distinct rules agree), ATT&CK techniques the union of the record's and
// the hits'.
func (p *Pipeline) collapse(rec *schemas.Record, hits []schemas.RuleHit) {
	sev, _ := enrich.ParseSeverity(rec.Aegis.Severity)
	if len(hits) == 0 {
		rec.Event.Kind = "event"
		return
	}
	hits = slices.Clone(hits)
	sort.SliceStable(hits, func(i, j int) bool {
		si, _ := enrich.ParseSeverity(hits[i].Severity)
		sj, _ := enrich.ParseSeverity(hits[j].Severity)
		if si != sj {
			return si > sj
		}
		return hits[i].ID < hits[j].ID
	})
	var techs []string
	if rec.Threat != nil {
		techs = slices.Clone(rec.Threat.Technique.ID)
	}
	distinct := map[string]bool{}
	for _, h := range hits {
		distinct[h.ID] = true
		if s, _ := enrich.ParseSeverity(h.Severity); s > sev {
			sev = s
		}
		for _, t := range h.Techniques {
			if !slices.Contains(techs, t) {
				techs = append(techs, t)
			}
		}
	}
	if p.cfg.CorroborateRules > 0 && len(distinct) >= p.cfg.CorroborateRules && sev < enrich.SeverityCritical {
		sev++
		p.stats.Corroborated++
		rec.Aegis.Reasons = append(rec.Aegis.Reasons, fmt.Sprintf("severity raised: %d rules agree", len(distinct)))
	}
	rec.Aegis.Rules = hits
	rec.Aegis.Severity = sev.String()
	rec.Event.Severity = sev.Score()
	rec.Event.Kind = "alert"
	if len(techs) > 0 {
		rec.Threat = &schemas.Threat{Framework: "MITRE ATT&CK",
			Technique: schemas.ThreatTechnique{ID: techs, Name: attack.Names(techs)}}
	}
}

// publish encodes rec once and writes it to the sinks its severity routes
// to; done is called when all of them report.
func (p *Pipeline) publish(ctx context.Context, rec *schemas.Record, done func(error)) error {
	value, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("alert: encoding record %s: %w", rec.Event.ID, err)
	}
	return p.route(ctx, sink.Message{
		Kind: sink.KindDetection, Value: value, Record: rec,
		SourceIP: rec.Source.IP, CommunityID: rec.Network.CommunityID,
		Severity: rec.Aegis.Severity, ID: rec.Event.ID, Done: done,
	})
}

// Publish writes a record of another kind (a verdict, a coupling finding,
// a campaign, a reconnaissance finding) to the sinks its severity routes
// to, with the same delivery reports as detections: msg.Done is called once
// when every routed sink has it.
func (p *Pipeline) Publish(ctx context.Context, msg sink.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.route(ctx, msg)
}

// route writes msg to the sinks msg.Severity routes to.
func (p *Pipeline) route(ctx context.Context, msg sink.Message) error {
	sev, _ := enrich.ParseSeverity(msg.Severity)
	targets := p.bySeverity[sev]
	if len(targets) == 0 {
		p.stats.Unrouted++
		finish(msg.Done, nil)
		return nil
	}
	join := &joinDone{left: int32(len(targets)), done: msg.Done, failed: &p.failed}
	msg.Done = join.one
	for _, i := range targets {
		if err := p.sinks[i].Write(ctx, msg); err != nil {
			// Not accepted: the caller gets the error, and Done must not
			// fire when the sinks before this one report.
			join.abandoned.Store(true)
			return fmt.Errorf("alert: writing %s %s to sink %s: %w", msg.Kind, msg.ID, p.names[i], err)
		}
		p.stats.PerSink[p.names[i]]++
	}
	p.stats.Published++
	return nil
}

// publishUpdates publishes again the alerts whose suppression windows
// closed with folded repeats. An update is a count, not new evidence: its
// completion is not tied to any log line.
func (p *Pipeline) publishUpdates(ctx context.Context, recs []*schemas.Record) error {
	for _, r := range recs {
		p.stats.Updates++
		if err := p.publish(ctx, r, nil); err != nil {
			return err
		}
	}
	return nil
}

// Flush closes every open suppression window (publishing the counts) and
// waits for the sinks to report everything written so far.
func (p *Pipeline) Flush(ctx context.Context) error {
	p.mu.Lock()
	var err error
	if p.sup != nil {
		err = p.publishUpdates(ctx, p.sup.expire(maxTime))
	}
	p.mu.Unlock()
	for i, s := range p.sinks {
		if ferr := s.Flush(ctx); ferr != nil && err == nil {
			err = fmt.Errorf("alert: flushing sink %s: %w", p.names[i], ferr)
		}
	}
	return err
}

// Stats returns a copy of the counters.
func (p *Pipeline) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Failed = p.failed.Load()
	s.PerSink = make(map[string]int64, len(p.stats.PerSink))
	for k, v := range p.stats.PerSink {
		s.PerSink[k] = v
	}
	return s
}

// joinDone calls done once, after left reports, with the first error.
type joinDone struct {
	abandoned atomic.Bool // the record was not accepted by every sink
	left      int32
	done      func(error)
	failed    *atomic.Int64
	mu        sync.Mutex
	err       error
}

func (j *joinDone) one(err error) {
	if err != nil {
		j.mu.Lock()
		if j.err == nil {
			j.err = err
		}
		j.mu.Unlock()
	}
	if atomic.AddInt32(&j.left, -1) != 0 {
		return
	}
	if j.abandoned.Load() {
		return
	}
	if j.err != nil {
		j.failed.Add(1)
	}
	finish(j.done, j.err)
}

func finish(done func(error), err error) {
	if done != nil {
		done(err)
	}
}

const maxTime = int64(^uint64(0) >> 1)

// recordTime is the record's end time in ns, its start when the end does
// not parse (the assembler always writes both).
func recordTime(r *schemas.Record) int64 {
	if t, err := time.Parse(time.RFC3339Nano, r.Event.End); err == nil {
		return t.UnixNano()
	}
	if t, err := time.Parse(time.RFC3339Nano, r.Event.Start); err == nil {
		return t.UnixNano()
	}
	return 0
}
