package correlate

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/rules"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

// TestReconRecord: recon records are schema-valid, their ids depend on the
// sensor, the source and the times only, and bad findings are refused.
func TestReconRecord(t *testing.T) {
	f := rules.ReconFinding{Source: "::ffff:10.1.2.3", Start: t0, At: t0.Add(90 * time.Second), Targets: 33, Probes: 41}
	a, err := ReconRecord("sensor-a", f)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemacheck.ValidateRecon(a); err != nil {
		t.Fatalf("schema: %v", err)
	}
	if a.Source.IP != "10.1.2.3" || a.Aegis.Trigger != "probes" || a.Aegis.Targets != 33 || a.Event.Duration != int64(90*time.Second) ||
		a.Threat.Technique.ID[0] != "T1046" || a.Event.Dataset != schemas.ReconDataset {
		t.Errorf("recon %+v", a)
	}
	again, _ := ReconRecord("sensor-a", f)
	other, _ := ReconRecord("sensor-b", f)
	if again.Event.ID != a.Event.ID || other.Event.ID == a.Event.ID {
		t.Errorf("ids: %s %s %s", a.Event.ID, again.Event.ID, other.Event.ID)
	}
	f.Alert, f.Start = true, time.Time{}
	al, err := ReconRecord("sensor-a", f)
	if err != nil || al.Aegis.Trigger != "alert" || al.Event.Start != al.Event.End || schemacheck.ValidateRecon(al) != nil {
		t.Errorf("alert recon %+v, %v", al, err)
	}
	for name, bad := range map[string]rules.ReconFinding{
		"no source": {At: t0}, "bad source": {Source: "sensor", At: t0}, "no time": {Source: "10.1.2.3"},
	} {
		if _, err := ReconRecord("sensor-a", bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ReconRecord("", rules.ReconFinding{Source: "10.1.2.3", At: t0}); err == nil {
		t.Error("no sensor: accepted")
	}
	m, err := ReconMessage("sensor-a", rules.ReconFinding{Source: "10.1.2.3", At: t0, Targets: 20}, nil)
	if err != nil || m.Kind != sink.KindDetection || m.SourceIP != "10.1.2.3" || m.Severity != "low" || m.Record != nil || schemacheck.ValidateReconJSON(m.Value) != nil {
		t.Errorf("message %+v, %v", m, err)
	}
	var back schemas.Recon
	if err := json.Unmarshal(m.Value, &back); err != nil || back.Event.ID != m.ID {
		t.Errorf("message value: %v", err)
	}
}

// TestReconFromEngine: the engine's findings, turned into recon records by
// one sensor and read by the correlator, open a campaign with another
// sensor's shell.
func TestReconFromEngine(t *testing.T) {
	cfg := rules.DefaultConfig()
	cfg.Dir = ""
	set, err := rules.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sensorA := rules.NewEngine(set, cfg)
	for i := range 30 {
		f := &schemas.IDSFlow{Sensor: schemas.SensorZeek, Proto: schemas.ProtoTCP, ConnState: "REJ", OrigPkts: 1, RespPkts: 1}
		f.Orig = mustAddrPort(t, "10.1.2.3:40000")
		f.Resp = mustAddrPort(t, "10.30.0.9:"+itoa(1+i))
		f.Start = t0.Add(time.Duration(i) * time.Second).UnixNano()
		f.End = f.Start + int64(time.Millisecond)
		sensorA.ObserveIDS(f)
	}
	finds := sensorA.TakeReconFindings()
	if len(finds) != 1 {
		t.Fatalf("%d findings", len(finds))
	}
	msg, err := ReconMessage("sensor-a", finds[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	rin, err := DecodeInput(msg.Value, "sensor-a")
	if err != nil {
		t.Fatal(err)
	}
	r := testRules(t)
	tr := NewTracker(r, DefaultConfig().Campaigns, false)
	shell := input(t, detection("shell", "10.1.2.3", schemas.ClassAgentShell, t0.Add(2*time.Minute), t0.Add(3*time.Minute), "10.30.0.9", 22), "sensor-b")
	if got := run(t, tr, r, []*Input{rin, shell}); len(got) != 1 || len(got[0].ids) != 2 {
		t.Fatalf("campaigns %+v", got)
	}
}
