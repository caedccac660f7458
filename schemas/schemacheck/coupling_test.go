package schemacheck

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

// fullCoupling returns a coupling record with every field filled, so that a
// Go field missing from the schema (additionalProperties: false) fails.
func fullCoupling() *schemas.Coupling {
	return &schemas.Coupling{
		Timestamp: "2026-03-02T09:01:00.123456789Z",
		Event: schemas.Event{ID: strings.Repeat("cd", 16), Kind: "alert", Category: []string{"network", "intrusion_detection"}, Type: []string{"info"},
			Dataset: schemas.CouplingDataset, Start: "2026-03-02T09:00:00Z", End: "2026-03-02T09:01:00.123456789Z", Duration: 60123456789, Severity: 99},
		Source: schemas.CouplingSource{IP: "10.20.8.14"},
		Threat: schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{ID: []string{"T1071.001", "T1059.004", "T1021.004"},
			Name: []string{"Web Protocols", "Unix Shell", "SSH"}}},
		Aegis: schemas.CouplingAegis{
			SchemaVersion: schemas.CouplingSchemaVersion, Severity: "critical", Reasons: []string{"x"},
			Channel: schemas.CouplingChannel{Kind: "command", Service: "ssh", Port: 22, FlowKey: "tcp 10.20.8.14:51000 10.30.1.20:22", RecordID: strings.Repeat("ef", 16)},
			Cycles:  12, LagMedianMs: 210, LagP90Ms: 440, ClosenessMs: 15400, Score: 14.2, PValue: 0.001, PAdjusted: 0.002, Alpha: 0.01,
			Null: schemas.CouplingNull{Method: "circular_shift", Permutations: 999, MinShiftMs: 3000, MaxShiftMs: 120000,
				ExpectedCycles: 1.4, ExpectedClosenessMs: 900, SDClosenessMs: 700, ChannelsTested: 2},
			Window:      schemas.CouplingWindow{LagMs: 1500, Start: "2026-03-02T09:00:00Z", End: "2026-03-02T09:01:00Z"},
			StreamsSeen: 13, ActionsSeen: 14,
			Streams: []schemas.CouplingStream{{RecordID: strings.Repeat("01", 16), UID: "CHhAvVGS1DHFjwGM9", CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
				Route: "anthropic/claude-3.5-haiku", Start: "2026-03-02T09:00:00Z", End: "2026-03-02T09:00:03Z"}},
			Actions: []schemas.CouplingAction{{RecordID: strings.Repeat("ef", 16), UID: "CxT5Ah1ewJr2Ivd3x9", CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
				FlowKey: "tcp 10.20.8.14:51000 10.30.1.20:22", Class: "agent_shell", Kind: "command", Time: "2026-03-02T09:00:03.2Z", LagMs: 200, Service: "ssh", Port: 22}},
			EvidenceOmitted: 1,
		},
	}
}

func TestFullCouplingValidates(t *testing.T) {
	if err := ValidateCoupling(fullCoupling()); err != nil {
		t.Fatalf("full coupling record does not validate: %v", err)
	}
}

func TestCouplingSchemaRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *schemas.Coupling)
	}{
		{"wrong dataset", func(c *schemas.Coupling) { c.Event.Dataset = "aegis.detection" }},
		{"event kind not alert", func(c *schemas.Coupling) { c.Event.Kind = "event" }},
		{"bad id", func(c *schemas.Coupling) { c.Event.ID = "XYZ" }},
		{"bad ip", func(c *schemas.Coupling) { c.Source.IP = "host-1" }},
		{"bad channel kind", func(c *schemas.Coupling) { c.Aegis.Channel.Kind = "dns" }},
		{"p value zero", func(c *schemas.Coupling) { c.Aegis.PValue = 0 }},
		{"p value above 1", func(c *schemas.Coupling) { c.Aegis.PAdjusted = 1.5 }},
		{"negative lag", func(c *schemas.Coupling) { c.Aegis.Actions[0].LagMs = -1 }},
		{"bad technique", func(c *schemas.Coupling) { c.Threat.Technique.ID = []string{"T59"} }},
		{"bad null method", func(c *schemas.Coupling) { c.Aegis.Null.Method = "poisson" }},
		{"bad stream time", func(c *schemas.Coupling) { c.Aegis.Streams[0].End = "later" }},
		{"bad action class", func(c *schemas.Coupling) { c.Aegis.Actions[0].Class = "robot" }},
		{"bad community id", func(c *schemas.Coupling) { c.Aegis.Streams[0].CommunityID = "2:x" }},
		{"zero channels tested", func(c *schemas.Coupling) { c.Aegis.Null.ChannelsTested = 0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := fullCoupling()
			c.mutate(r)
			if err := ValidateCoupling(r); err == nil {
				t.Fatalf("schema accepted a coupling record with %s", c.name)
			}
		})
	}
}

// TestCouplingFieldsRequired removes each aegis field in turn: the optional
// ones must still validate, every other one must be required.
func TestCouplingFieldsRequired(t *testing.T) {
	b, _ := json.Marshal(fullCoupling())
	for _, block := range []string{"aegis", "event", "null", "window"} {
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		keys := sub(m, block)
		for k := range keys {
			var c map[string]any
			_ = json.Unmarshal(b, &c)
			delete(sub(c, block), k)
			cb, _ := json.Marshal(c)
			if err := ValidateCouplingJSON(cb); err == nil {
				t.Errorf("schema does not require %s.%s", block, k)
			}
		}
	}
	// Unknown fields are rejected everywhere.
	for _, block := range []string{"aegis", "event", "null", "window", "channel"} {
		var c map[string]any
		_ = json.Unmarshal(b, &c)
		sub(c, block)["surprise"] = 1
		cb, _ := json.Marshal(c)
		if err := ValidateCouplingJSON(cb); err == nil {
			t.Errorf("schema accepted an unknown field in %s", block)
		}
	}
}

// sub returns the object named block (a top-level block, or one under aegis).
func sub(m map[string]any, block string) map[string]any {
	if v, ok := m[block].(map[string]any); ok {
		return v
	}
	return m["aegis"].(map[string]any)[block].(map[string]any)
}
