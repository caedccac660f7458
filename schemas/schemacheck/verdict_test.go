package schemacheck

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

// fullVerdict returns a verdict with every field filled, so that a Go
// field missing from the schema (additionalProperties: false) fails.
func fullVerdict() *schemas.Verdict {
	id := func(c string) string { return strings.Repeat(c, 32) }
	return &schemas.Verdict{
		Timestamp: "2026-11-25T10:05:02.5Z",
		Event: schemas.VerdictEvent{ID: id("c"), Kind: "enrichment", Category: []string{"intrusion_detection"}, Type: []string{"info"},
			Dataset: "aegis.verdict", Start: "2026-11-25T10:00:00Z", End: "2026-11-25T10:05:02.5Z", Severity: 99},
		Source: schemas.HostRef{IP: "10.1.2.3"},
		Threat: &schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{ID: []string{"T1046"}, Name: []string{"Network Service Discovery"}}},
		Aegis: schemas.VerdictSection{
			SchemaVersion: schemas.VerdictSchemaVersion, Sensor: "sensor-1", Severity: "critical",
			Detections: []string{id("a"), id("b")},
			Chain: []schemas.ChainStep{
				{Step: 1, Tactic: "reconnaissance", RecordIDs: []string{id("a")}, Summary: "scan", Origin: "rules"},
				{Step: 2, Tactic: "execution", RecordIDs: []string{id("b")}, Summary: "shell", Origin: "model"},
			},
			Techniques:         []schemas.VerdictTechnique{{ID: "T1046", Name: "Network Service Discovery", Tactics: []string{"discovery"}, Origin: "both"}},
			UnvettedTechniques: []string{"T1999"},
			Narrative:          "n", RouteOpinion: "r", Model: "qwen3-coder",
			Outcome: schemas.OutcomeTimeout, Reason: "timed out", Attempts: 2, Cached: false,
		},
	}
}

func TestFullVerdictValidates(t *testing.T) {
	if err := ValidateVerdict(fullVerdict()); err != nil {
		t.Fatalf("full verdict does not validate: %v", err)
	}
	ok := fullVerdict()
	ok.Aegis.Outcome, ok.Aegis.Reason = schemas.OutcomeOK, ""
	if err := ValidateVerdict(ok); err != nil {
		t.Fatalf("ok verdict does not validate: %v", err)
	}
	off := fullVerdict()
	off.Aegis.Outcome, off.Aegis.Model, off.Threat = schemas.OutcomeDisabled, "", nil
	if err := ValidateVerdict(off); err != nil {
		t.Fatalf("disabled verdict does not validate: %v", err)
	}
}

func TestVerdictSchemaRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(v *schemas.Verdict)
	}{
		{"bad kind", func(v *schemas.Verdict) { v.Event.Kind = "alert" }},
		{"bad dataset", func(v *schemas.Verdict) { v.Event.Dataset = "aegis.detection" }},
		{"bad id", func(v *schemas.Verdict) { v.Event.ID = "XYZ" }},
		{"bad ip", func(v *schemas.Verdict) { v.Source.IP = "host" }},
		{"bad outcome", func(v *schemas.Verdict) { v.Aegis.Outcome = "maybe" }},
		{"bad tactic", func(v *schemas.Verdict) { v.Aegis.Chain[0].Tactic = "access" }},
		{"bad step origin", func(v *schemas.Verdict) { v.Aegis.Chain[0].Origin = "llm" }},
		{"bad record id in chain", func(v *schemas.Verdict) { v.Aegis.Chain[0].RecordIDs = []string{"not-an-id"} }},
		{"empty chain", func(v *schemas.Verdict) { v.Aegis.Chain = nil }},
		{"no detections", func(v *schemas.Verdict) { v.Aegis.Detections = nil }},
		{"bad vetted technique", func(v *schemas.Verdict) { v.Aegis.Techniques[0].ID = "T46" }},
		{"bad unvetted technique", func(v *schemas.Verdict) { v.Aegis.UnvettedTechniques = []string{"ignore previous instructions"} }},
		{"failure without reason", func(v *schemas.Verdict) { v.Aegis.Reason = "" }},
		{"ok with reason", func(v *schemas.Verdict) { v.Aegis.Outcome = schemas.OutcomeOK }},
		{"enabled without model", func(v *schemas.Verdict) { v.Aegis.Model = "" }},
		{"severity above 100", func(v *schemas.Verdict) { v.Event.Severity = 101 }},
		{"bad timestamp", func(v *schemas.Verdict) { v.Timestamp = "now" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := fullVerdict()
			c.mutate(v)
			if err := ValidateVerdict(v); err == nil {
				t.Fatalf("schema accepted a verdict with %s", c.name)
			}
		})
	}
}

// TestVerdictRequiredFields removes each aegis field in turn and checks the
// schema notices (or, for optional ones, does not mind).
func TestVerdictRequiredFields(t *testing.T) {
	b, _ := json.Marshal(fullVerdict())
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	optional := map[string]bool{"sensor": true, "reason": false, "model": false}
	for k := range m["aegis"].(map[string]any) {
		var c map[string]any
		_ = json.Unmarshal(b, &c)
		delete(c["aegis"].(map[string]any), k)
		cb, _ := json.Marshal(c)
		err := ValidateVerdictJSON(cb)
		if optional[k] && err != nil {
			t.Errorf("optional field %q: %v", k, err)
		}
		if !optional[k] && err == nil {
			t.Errorf("schema does not require aegis.%s", k)
		}
	}
	var c map[string]any
	_ = json.Unmarshal(b, &c)
	c["aegis"].(map[string]any)["surprise"] = true
	cb, _ := json.Marshal(c)
	if err := ValidateVerdictJSON(cb); err == nil {
		t.Error("schema accepted an unknown aegis field")
	}
}
