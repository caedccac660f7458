package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// TestReconFindings: a scanner yields one finding when it crosses the
// threshold, another a window later while it goes on, none in between;
// an alert yields one at once; TakeReconFindings empties the queue.
func TestReconFindings(t *testing.T) {
	cfg := testConfig("", nil)
	e := NewEngine(mustLoad(t, cfg), cfg)
	if f := e.TakeReconFindings(); f != nil {
		t.Fatalf("findings before any probe: %v", f)
	}
	probes(e, "10.0.0.5", "10.0.0.9", 15, 0, "REJ")
	if f := e.TakeReconFindings(); f != nil {
		t.Fatalf("findings below the threshold: %v", f)
	}
	probes(e, "10.0.0.5", "10.0.0.10", 10, time.Second, "S0")
	got := e.TakeReconFindings()
	if len(got) != 1 {
		t.Fatalf("after crossing: %d findings, want 1: %+v", len(got), got)
	}
	f := got[0]
	if f.Source != "10.0.0.5" || f.Alert || f.Targets < 19 || f.Probes < 16 || !f.At.After(f.Start) || !f.Start.Equal(t0.Add(time.Millisecond)) {
		t.Errorf("finding %+v", f)
	}
	probes(e, "10.0.0.5", "10.0.0.11", 10, 2*time.Minute, "S0") // still scanning, same window
	if f := e.TakeReconFindings(); f != nil {
		t.Errorf("re-reported within the window: %+v", f)
	}
	probes(e, "10.0.0.5", "10.0.0.12", 30, 6*time.Minute, "S0") // a window later
	if f := e.TakeReconFindings(); len(f) != 1 || f[0].Source != "10.0.0.5" {
		t.Errorf("a window later: %+v", f)
	}
	// A scan alert reports at once.
	alert := &schemas.IDSFlow{Sensor: schemas.SensorSuricata, Proto: schemas.ProtoTCP, ConnState: "established", OrigPkts: 3, RespPkts: 3,
		Context: &schemas.FlowContext{Alerts: []schemas.IDSAlert{{Signature: "ET SCAN Potential SSH Scan"}}}}
	alert.Orig, alert.Resp = mustAddrPort("2001:db8::7", 40000), mustAddrPort("2001:db8::9", 22)
	alert.Start, alert.End = t0.UnixNano(), t0.Add(time.Second).UnixNano()
	e.ObserveIDS(alert)
	if f := e.TakeReconFindings(); len(f) != 1 || f[0].Source != "2001:db8::7" || !f[0].Alert {
		t.Errorf("alert: %+v", f)
	}
}

// TestReconFindingsBounded: nobody takes the findings; the queue stays
// bounded and counts what it drops.
func TestReconFindingsBounded(t *testing.T) {
	cfg := testConfig("", nil)
	cfg.MaxSources = maxPendingFindings + 200
	e := NewEngine(mustLoad(t, cfg), cfg)
	for i := range maxPendingFindings + 100 {
		probes(e, fmt.Sprintf("10.%d.%d.1", i/250, i%250), "10.200.0.1", 21, 0, "S0")
	}
	if s := e.Stats(); s.ReconFindingsDropped != 100 {
		t.Errorf("dropped %d, want 100", s.ReconFindingsDropped)
	}
	if n := len(e.TakeReconFindings()); n != maxPendingFindings {
		t.Errorf("took %d, want %d", n, maxPendingFindings)
	}
}

// TestMarkRecon: recon marked from outside satisfies the campaign rule's
// recon step within the window, not before it and not for another source;
// Forget drops it.
func TestMarkRecon(t *testing.T) {
	cfg := testConfig("", nil)
	e := NewEngine(mustLoad(t, cfg), cfg)
	shell := func(src string, at time.Duration) *schemas.Record {
		r := baseRecord(at)
		r.Source.IP = src
		r.Aegis.Class = schemas.ClassAgentShell
		return r
	}
	campaign := func(r *schemas.Record) bool {
		return slices.Contains(hitIDsOf(e.Evaluate(r)), "aegis-agent-campaign")
	}
	tests := []struct {
		name string
		ok   bool
	}{
		{"not an address", e.MarkRecon("sensor-a", t0)},
		{"zero time", e.MarkRecon("10.0.0.5", time.Time{})},
	}
	for _, tt := range tests {
		if tt.ok {
			t.Errorf("MarkRecon accepted %s", tt.name)
		}
	}
	if campaign(shell("10.0.0.5", 0)) {
		t.Fatal("campaign without recon")
	}
	if !e.MarkRecon("10.0.0.5", t0.Add(time.Minute)) {
		t.Fatal("MarkRecon refused a good source")
	}
	if !campaign(shell("10.0.0.5", 5*time.Minute)) {
		t.Error("marked recon did not satisfy the step")
	}
	if campaign(shell("10.0.0.6", 5*time.Minute)) {
		t.Error("recon of another source counted")
	}
	if campaign(shell("10.0.0.5", 40*time.Minute)) {
		t.Error("recon older than the window counted")
	}
	if s := e.Stats(); s.ReconSources != 1 || s.ReconDetections != 1 {
		t.Errorf("stats %+v", s)
	}
	if !e.Forget("10.0.0.5") || e.Forget("10.0.0.5") || e.Forget("nonsense") {
		t.Error("Forget reported wrongly")
	}
	if campaign(shell("10.0.0.5", 5*time.Minute)) {
		t.Error("forgotten recon counted")
	}
	if s := e.Stats(); s.ReconSources != 0 {
		t.Errorf("after Forget: %+v", s)
	}
}

// TestSetShape checks StateClasses, StepRefs and RuleInfo.SequenceWindow on the
// built-in rules plus a class-step rule.
func TestSetShape(t *testing.T) {
	set := loadOne(t, `rules:
  - id: t
    name: shell after a stream
    severity: high
    when:
      class: agent_shell
      preceded_by:
        - class: llm_stream
          within: 30m
`, nil)
	got := set.StateClasses()
	for _, c := range []schemas.Class{schemas.ClassAgentShell, schemas.ClassHandoff, schemas.ClassAgentExfil, schemas.ClassLLMStream} {
		if !slices.Contains(got, c) {
			t.Errorf("StateClasses %v lacks %s", got, c)
		}
	}
	if slices.Contains(got, schemas.ClassOther) || slices.Contains(got, schemas.ClassHumanInteractive) {
		t.Errorf("StateClasses %v has classes no sequence rule reads", got)
	}
	if recon, classes, refs := set.StepRefs(); !recon || !slices.Equal(classes, []schemas.Class{schemas.ClassLLMStream}) || len(refs) != 0 {
		t.Errorf("StepRefs = %v %v %v", recon, classes, refs)
	}
	if recon, classes, refs := mustLoad(t, testConfig("", nil)).StepRefs(); !recon || len(classes) != 0 || len(refs) != 0 {
		t.Errorf("built-in StepRefs = %v %v %v", recon, classes, refs)
	}
	want := map[string]time.Duration{"aegis-agent-campaign": 10 * time.Minute, "t": 30 * time.Minute, "aegis-llm-stream": 0}
	for _, r := range set.Rules() {
		if w, ok := want[r.ID]; ok && r.SequenceWindow != w {
			t.Errorf("%s: SequenceWindow %v, want %v", r.ID, r.SequenceWindow, w)
		}
	}
}

func mustAddrPort(ip string, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(ip), port)
}
