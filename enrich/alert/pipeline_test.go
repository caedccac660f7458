package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

// memSink keeps what it is given and reports delivery asynchronously (as
// Kafka does), or fails every message with fail.
type memSink struct {
	name  string
	fail  error
	block chan struct{} // when set, Write waits on it (a full sink)
	mu    sync.Mutex
	got   []sink.Message
	wg    sync.WaitGroup
}

func (m *memSink) Name() string { return m.name }
func (m *memSink) Write(ctx context.Context, msg sink.Message) error {
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	m.got = append(m.got, msg)
	m.mu.Unlock()
	m.wg.Add(1)
	go func() { defer m.wg.Done(); msg.Finish(m.fail) }()
	return nil
}
func (m *memSink) Flush(context.Context) error { m.wg.Wait(); return nil }
func (m *memSink) Close() error                { return nil }

func (m *memSink) records(t *testing.T) []schemas.Record {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []schemas.Record
	for _, msg := range m.got {
		if err := schemacheck.ValidateJSON(msg.Value); err != nil {
			t.Errorf("sink %s got a record that fails the schema: %v", m.name, err)
		}
		var r schemas.Record
		if err := json.Unmarshal(msg.Value, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// record is an assembled agent_shell detection from src at second sec.
func record(src string, sec int) *schemas.Record {
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).Add(time.Duration(sec) * time.Second)
	return &schemas.Record{
		Timestamp: start.Format(time.RFC3339Nano),
		Event: schemas.Event{
			ID: fmt.Sprintf("%032x", sec+1), Kind: "alert", Category: []string{"network"}, Type: []string{"connection"},
			Dataset: "aegis.detection", Start: start.Format(time.RFC3339Nano),
			End: start.Add(time.Second).Format(time.RFC3339Nano), Duration: 1e9, Severity: 73,
		},
		Source:      schemas.Endpoint{IP: src, Port: 50000},
		Destination: schemas.Endpoint{IP: "10.9.9.9", Port: 22},
		Network:     schemas.Network{Transport: "tcp", IANANumber: "6", CommunityID: "1:AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		Threat: &schemas.Threat{Framework: "MITRE ATT&CK",
			Technique: schemas.ThreatTechnique{ID: []string{"T1059.004"}, Name: []string{"Unix Shell"}}},
		Aegis: schemas.AegisSection{
			SchemaVersion: schemas.SchemaVersion, FlowKey: "tcp " + src + ":50000 10.9.9.9:22",
			Class: schemas.ClassAgentShell, Confidence: 0.9, Reasons: []string{"machine-paced commands"},
			Route: schemas.RouteMatch{Name: "unknown", SNI: "none"}, Severity: "high",
			Cadence: schemas.Cadence{Session: schemas.SessionFeatures{CommandSide: "none"}},
		},
	}
}

func hit(id, sev string, techs ...string) schemas.RuleHit {
	return schemas.RuleHit{ID: id, Name: id, Severity: sev, Techniques: techs}
}

func newPipeline(t *testing.T, cfg Config, sinks ...*memSink) *Pipeline {
	t.Helper()
	m := map[string]sink.Sink{}
	for _, s := range sinks {
		m[s.name] = s
	}
	p, err := New(cfg, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// doneCounter counts completions per record and fails on a second one.
type doneCounter struct {
	mu    sync.Mutex
	calls map[string]int
	errs  map[string]error
}

func (d *doneCounter) fn(t *testing.T, id string) func(error) {
	return func(err error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.calls == nil {
			d.calls, d.errs = map[string]int{}, map[string]error{}
		}
		d.calls[id]++
		if d.calls[id] > 1 {
			t.Errorf("Done called %d times for %s", d.calls[id], id)
		}
		d.errs[id] = err
	}
}

func TestCollapseSeverityAndTechniques(t *testing.T) {
	out := &memSink{name: "out"}
	p := newPipeline(t, Config{CorroborateRules: 2}, out)
	ctx := context.Background()
	var d doneCounter
	rec := record("10.0.0.1", 0)
	err := p.Process(ctx, Input{Record: rec, Done: d.fn(t, "a"), Hits: []schemas.RuleHit{
		hit("aegis-agent-shell", "high", "T1059.004", "T1021.004"),
		hit("site-campaign", "medium", "T1046"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	p.Flush(ctx)
	got := out.records(t)
	if len(got) != 1 {
		t.Fatalf("%d records published, want 1 alert carrying both hits", len(got))
	}
	r := got[0]
	if len(r.Aegis.Rules) != 2 || r.Aegis.Rules[0].ID != "aegis-agent-shell" || r.Aegis.Rules[1].ID != "site-campaign" {
		t.Errorf("hits %+v, want both, highest severity first", r.Aegis.Rules)
	}
	if r.Aegis.Severity != "critical" || r.Event.Severity != 99 {
		t.Errorf("severity %s/%d, want critical: high raised one step by two agreeing rules", r.Aegis.Severity, r.Event.Severity)
	}
	wantTech := []string{"T1059.004", "T1021.004", "T1046"}
	if fmt.Sprint(r.Threat.Technique.ID) != fmt.Sprint(wantTech) {
		t.Errorf("techniques %v, want %v", r.Threat.Technique.ID, wantTech)
	}
	if r.Threat.Technique.Name[2] != "Network Service Discovery" {
		t.Errorf("technique names %v not aligned with ids", r.Threat.Technique.Name)
	}
	if d.calls["a"] != 1 || d.errs["a"] != nil {
		t.Errorf("Done: %d calls, err %v", d.calls["a"], d.errs["a"])
	}

	// One rule only: no corroboration, severity is the highest hit.
	p2 := newPipeline(t, Config{CorroborateRules: 2}, &memSink{name: "x"})
	rec2 := record("10.0.0.2", 0)
	p2.Process(ctx, Input{Record: rec2, Hits: []schemas.RuleHit{hit("r1", "medium")}})
	if rec2.Aegis.Severity != "high" {
		t.Errorf("severity %s, want high (the class's base outranks a medium hit)", rec2.Aegis.Severity)
	}
}

func TestRecordsWithoutHits(t *testing.T) {
	ctx := context.Background()
	for _, all := range []bool{false, true} {
		out := &memSink{name: "out"}
		p := newPipeline(t, Config{PublishAll: all}, out)
		var d doneCounter
		p.Process(ctx, Input{Record: record("10.0.0.1", 0), Done: d.fn(t, "r")})
		p.Flush(ctx)
		got := out.records(t)
		if d.calls["r"] != 1 {
			t.Errorf("publish_all=%v: Done called %d times", all, d.calls["r"])
		}
		switch {
		case !all && len(got) != 0:
			t.Errorf("a record without hits was published: %+v", got)
		case all && (len(got) != 1 || got[0].Event.Kind != "event"):
			t.Errorf("publish_all: got %+v, want one record of kind event", got)
		}
	}
}

func TestSuppressionFoldsRepeatsIntoOne(t *testing.T) {
	out := &memSink{name: "out"}
	p := newPipeline(t, Config{SuppressWindow: 10 * time.Minute, MaxSuppressed: 100}, out)
	ctx := context.Background()
	var d doneCounter
	// Five agent_shell alerts from one source within 4 minutes, one from
	// another source, then one from the first source after the window.
	for i := range 5 {
		p.Process(ctx, Input{Record: record("10.0.0.1", i*60), Done: d.fn(t, fmt.Sprint("a", i)),
			Hits: []schemas.RuleHit{hit("aegis-agent-shell", "high")}})
	}
	p.Process(ctx, Input{Record: record("10.0.0.2", 30), Done: d.fn(t, "b"),
		Hits: []schemas.RuleHit{hit("aegis-agent-shell", "high")}})
	p.Process(ctx, Input{Record: record("10.0.0.1", 11*60), Done: d.fn(t, "late"),
		Hits: []schemas.RuleHit{hit("aegis-agent-shell", "high")}})
	p.Flush(ctx)
	got := out.records(t)
	var ids []string
	for _, r := range got {
		ids = append(ids, fmt.Sprintf("%s/%s/count=%d", r.Source.IP, r.Event.ID[28:], r.Aegis.Rules[0].Count))
	}
	// first alert of 10.0.0.1; 10.0.0.2's; at 11 min the window of
	// 10.0.0.1 closed: the first alert again with count 5, then the new one.
	want := []string{
		"10.0.0.1/0001/count=0", "10.0.0.2/001f/count=0",
		"10.0.0.1/0001/count=5", "10.0.0.1/0295/count=0",
	}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("published\n %v\nwant\n %v", ids, want)
	}
	for k, n := range d.calls {
		if n != 1 || d.errs[k] != nil {
			t.Errorf("Done for %s: %d calls, err %v", k, n, d.errs[k])
		}
	}
	if len(d.calls) != 7 {
		t.Errorf("Done called for %d inputs, want all 7 (suppressed ones at once)", len(d.calls))
	}
	if s := p.Stats(); s.Suppressed != 4 || s.Updates != 1 {
		t.Errorf("stats %+v, want 4 suppressed, 1 update", s)
	}

	// Flush closes open windows: the count is not lost at shutdown.
	out2 := &memSink{name: "out"}
	p2 := newPipeline(t, Config{SuppressWindow: time.Hour, MaxSuppressed: 100}, out2)
	for i := range 3 {
		p2.Process(ctx, Input{Record: record("10.0.0.1", i), Hits: []schemas.RuleHit{hit("r", "low")}})
	}
	p2.Flush(ctx)
	got2 := out2.records(t)
	if len(got2) != 2 || got2[1].Aegis.Rules[0].Count != 3 || got2[1].Event.ID != got2[0].Event.ID {
		t.Errorf("after Flush: %d records (%+v), want the alert and its update with count 3 under the same id", len(got2), got2)
	}
}

func TestSuppressionBoundedMemory(t *testing.T) {
	out := &memSink{name: "out"}
	p := newPipeline(t, Config{SuppressWindow: time.Hour, MaxSuppressed: 10}, out)
	ctx := context.Background()
	for i := range 1000 {
		src := fmt.Sprintf("10.1.%d.%d", i/250, i%250)
		for j := range 2 {
			p.Process(ctx, Input{Record: record(src, i*2+j), Hits: []schemas.RuleHit{hit("r", "low")}})
		}
	}
	if n := len(p.sup.open_); n > 10 {
		t.Errorf("%d suppression windows held, max is 10", n)
	}
	p.Flush(ctx)
	if s := p.Stats(); s.Updates != 1000 || s.Suppressed != 1000 {
		t.Errorf("stats %+v: every closed window with a repeat must publish its count", s)
	}
}

func TestRoutingBySeverity(t *testing.T) {
	kafka, pager := &memSink{name: "kafka"}, &memSink{name: "pagerduty"}
	p := newPipeline(t, Config{Routes: []Route{
		{MinSeverity: "low", Sinks: []string{"kafka"}},
		{MinSeverity: "critical", Sinks: []string{"pagerduty"}},
	}}, kafka, pager)
	ctx := context.Background()
	low := record("10.0.0.1", 0)
	low.Aegis.Severity = "low"
	p.Process(ctx, Input{Record: low, Hits: []schemas.RuleHit{hit("llm", "low")}})
	p.Process(ctx, Input{Record: record("10.0.0.2", 0), Hits: []schemas.RuleHit{hit("exfil", "critical")}})
	p.Flush(ctx)
	if k, pd := len(kafka.records(t)), len(pager.records(t)); k != 2 || pd != 1 {
		t.Errorf("kafka got %d, pagerduty %d; want 2 and 1", k, pd)
	}
	if pager.records(t)[0].Source.IP != "10.0.0.2" {
		t.Error("pagerduty got the wrong record")
	}
}

func TestDoneJoinsSinks(t *testing.T) {
	ok, bad := &memSink{name: "ok"}, &memSink{name: "bad", fail: errors.New("dead-lettered")}
	p := newPipeline(t, Config{}, ok, bad)
	ctx := context.Background()
	var d doneCounter
	p.Process(ctx, Input{Record: record("10.0.0.1", 0), Done: d.fn(t, "r"), Hits: []schemas.RuleHit{hit("r", "high")}})
	p.Flush(ctx)
	if d.calls["r"] != 1 || d.errs["r"] == nil || !strings.Contains(d.errs["r"].Error(), "dead-lettered") {
		t.Errorf("Done: %d calls, err %v; want one call with the failing sink's error", d.calls["r"], d.errs["r"])
	}
	if p.Stats().Failed != 1 {
		t.Errorf("failed = %d", p.Stats().Failed)
	}
}

func TestBlockedSinkHonoursContext(t *testing.T) {
	full := &memSink{name: "full", block: make(chan struct{})}
	p := newPipeline(t, Config{}, full)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	called := false
	err := p.Process(ctx, Input{Record: record("10.0.0.1", 0), Done: func(error) { called = true },
		Hits: []schemas.RuleHit{hit("r", "high")}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's", err)
	}
	if called {
		t.Error("Done called for a record no sink accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	sinks := []string{"kafka", "file"}
	bad := []Config{
		{SuppressWindow: -1},
		{SuppressWindow: time.Minute},
		{CorroborateRules: 1},
		{Routes: []Route{{MinSeverity: "urgent", Sinks: []string{"kafka"}}}},
		{Routes: []Route{{MinSeverity: "low"}}},
		{Routes: []Route{{MinSeverity: "low", Sinks: []string{"kakfa"}}}},
	}
	for _, c := range bad {
		if err := c.Validate(sinks); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
	if err := DefaultConfig().Validate(sinks); err != nil {
		t.Errorf("default config: %v", err)
	}
}

func TestPublishOtherKinds(t *testing.T) {
	kafka, pager := &memSink{name: "kafka"}, &memSink{name: "pagerduty"}
	p := newPipeline(t, Config{Routes: []Route{
		{MinSeverity: "low", Sinks: []string{"kafka"}},
		{MinSeverity: "critical", Sinks: []string{"pagerduty"}},
	}}, kafka, pager)
	var d doneCounter
	err := p.Publish(context.Background(), sink.Message{Kind: sink.KindVerdict, Value: []byte(`{"v":1}`),
		Severity: "critical", ID: "v1", Done: d.fn(t, "v1")})
	if err != nil {
		t.Fatal(err)
	}
	p.Publish(context.Background(), sink.Message{Kind: sink.KindCoupling, Value: []byte(`{"c":1}`), Severity: "medium", ID: "c1"})
	p.Flush(context.Background())
	if len(kafka.got) != 2 || len(pager.got) != 1 || pager.got[0].Kind != sink.KindVerdict {
		t.Errorf("kafka got %d, pagerduty %d (%v)", len(kafka.got), len(pager.got), pager.got)
	}
	if d.calls["v1"] != 1 || d.errs["v1"] != nil {
		t.Errorf("Done for the verdict: %d calls, %v", d.calls["v1"], d.errs["v1"])
	}
}
