package schemacheck

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

// fullCampaign returns a campaign record with every field filled, so that
// a Go field missing from the schema (additionalProperties: false) fails.
func fullCampaign() *schemas.Campaign {
	return &schemas.Campaign{
		Timestamp: "2026-03-02T09:07:00.5Z",
		Event: schemas.Event{ID: strings.Repeat("ab", 16), Kind: "alert", Category: []string{"network", "intrusion_detection"}, Type: []string{"info"},
			Dataset: schemas.CampaignDataset, Start: "2026-03-02T09:00:00Z", End: "2026-03-02T09:07:00.5Z", Duration: 420500000000, Severity: 99},
		Source: schemas.HostRef{IP: "10.20.8.14"},
		Threat: &schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{ID: []string{"T1046", "T1059.004"}, Name: []string{"Network Service Discovery", "Unix Shell"}}},
		Aegis: schemas.CampaignSection{
			SchemaVersion: schemas.CampaignSchemaVersion, CampaignID: strings.Repeat("cd", 16), Version: 2, Severity: "critical",
			Rules: []string{"aegis-agent-campaign"}, Message: "x", Sensors: []string{"sensor-a", "sensor-b"},
			RecordIDs: []string{strings.Repeat("01", 16), strings.Repeat("02", 16)},
			Steps: []schemas.CampaignStep{
				{Kind: schemas.StepRecon, Sensor: "sensor-a", RecordID: strings.Repeat("01", 16), Start: "2026-03-02T09:00:00Z", Time: "2026-03-02T09:02:00Z",
					Severity: "low", Targets: 40, Probes: 55},
				{Kind: schemas.StepDetection, Sensor: "sensor-b", RecordID: strings.Repeat("02", 16), Start: "2026-03-02T09:05:00Z", Time: "2026-03-02T09:07:00.5Z",
					Class: schemas.ClassAgentShell, Severity: "high", Rules: []string{"aegis-agent-campaign"}, Destination: "10.30.1.20:22"},
			},
			FirstSeen: "2026-03-02T09:00:00Z", LastSeen: "2026-03-02T09:07:00.5Z",
			Span:           schemas.CampaignSpan{Start: "2026-03-02T09:00:00Z", End: "2026-03-02T10:00:00Z"},
			EvidenceCapped: true,
		},
	}
}

// fullRecon returns a recon record with every field filled.
func fullRecon() *schemas.Recon {
	return &schemas.Recon{
		Timestamp: "2026-03-02T09:02:00Z",
		Event: schemas.Event{ID: strings.Repeat("ef", 16), Kind: "alert", Category: []string{"network", "intrusion_detection"}, Type: []string{"info"},
			Dataset: schemas.ReconDataset, Start: "2026-03-02T09:00:00Z", End: "2026-03-02T09:02:00Z", Duration: 120000000000, Severity: 21},
		Source: schemas.HostRef{IP: "2001:db8::14"},
		Threat: schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{ID: []string{"T1046"}, Name: []string{"Network Service Discovery"}}},
		Aegis: schemas.ReconAegis{SchemaVersion: schemas.ReconSchemaVersion, Sensor: "sensor-a", Severity: "low", Trigger: "probes",
			Targets: 40, Probes: 55, Window: schemas.ReconWindow{Start: "2026-03-02T09:00:00Z", End: "2026-03-02T09:02:00Z"}, Reasons: []string{"x"}},
	}
}

func TestFullCampaignAndReconValidate(t *testing.T) {
	if err := ValidateCampaign(fullCampaign()); err != nil {
		t.Errorf("full campaign record does not validate: %v", err)
	}
	if err := ValidateRecon(fullRecon()); err != nil {
		t.Errorf("full recon record does not validate: %v", err)
	}
}

func TestCampaignSchemaRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *schemas.Campaign)
	}{
		{"wrong dataset", func(c *schemas.Campaign) { c.Event.Dataset = "aegis.detection" }},
		{"bad campaign id", func(c *schemas.Campaign) { c.Aegis.CampaignID = "XYZ" }},
		{"version zero", func(c *schemas.Campaign) { c.Aegis.Version = 0 }},
		{"no rules", func(c *schemas.Campaign) { c.Aegis.Rules = []string{} }},
		{"no sensors", func(c *schemas.Campaign) { c.Aegis.Sensors = nil }},
		{"duplicate record ids", func(c *schemas.Campaign) { c.Aegis.RecordIDs[1] = c.Aegis.RecordIDs[0] }},
		{"no steps", func(c *schemas.Campaign) { c.Aegis.Steps = nil }},
		{"bad step kind", func(c *schemas.Campaign) { c.Aegis.Steps[0].Kind = "scan" }},
		{"detection without class", func(c *schemas.Campaign) { c.Aegis.Steps[1].Class = "" }},
		{"recon with class", func(c *schemas.Campaign) { c.Aegis.Steps[0].Class = schemas.ClassOther }},
		{"bad step time", func(c *schemas.Campaign) { c.Aegis.Steps[1].Time = "later" }},
		{"bad severity", func(c *schemas.Campaign) { c.Aegis.Severity = "urgent" }},
		{"bad ip", func(c *schemas.Campaign) { c.Source.IP = "host-1" }},
		{"bad technique", func(c *schemas.Campaign) { c.Threat.Technique.ID = []string{"T59"} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := fullCampaign()
			c.mutate(r)
			if err := ValidateCampaign(r); err == nil {
				t.Fatalf("schema accepted a campaign record with %s", c.name)
			}
		})
	}
}

func TestReconSchemaRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(r *schemas.Recon)
	}{
		{"wrong dataset", func(r *schemas.Recon) { r.Event.Dataset = "aegis.detection" }},
		{"bad id", func(r *schemas.Recon) { r.Event.ID = "1234" }},
		{"no sensor", func(r *schemas.Recon) { r.Aegis.Sensor = "" }},
		{"bad trigger", func(r *schemas.Recon) { r.Aegis.Trigger = "guess" }},
		{"negative targets", func(r *schemas.Recon) { r.Aegis.Targets = -1 }},
		{"bad window", func(r *schemas.Recon) { r.Aegis.Window.End = "soon" }},
		{"no technique", func(r *schemas.Recon) { r.Threat.Technique.ID = nil }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := fullRecon()
			c.mutate(r)
			if err := ValidateRecon(r); err == nil {
				t.Fatalf("schema accepted a recon record with %s", c.name)
			}
		})
	}
}

// TestCampaignReconFieldsRequired removes each field of the main blocks in
// turn (the optional ones must still validate) and adds an unknown one
// (always rejected).
func TestCampaignReconFieldsRequired(t *testing.T) {
	optional := map[string]bool{"threat": true, "class": true, "rules": true, "destination": true, "targets": true, "probes": true}
	check := func(t *testing.T, doc any, validate func([]byte) error, path ...string) {
		b, _ := json.Marshal(doc)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		block := dig(m, path)
		for k := range block {
			var c map[string]any
			_ = json.Unmarshal(b, &c)
			delete(dig(c, path), k)
			cb, _ := json.Marshal(c)
			err := validate(cb)
			if optional[k] && err != nil && len(path) > 0 && path[len(path)-1] == "0" {
				t.Errorf("%v: optional %s is required: %v", path, k, err)
			}
			if !optional[k] && err == nil {
				t.Errorf("%v: schema does not require %s", path, k)
			}
		}
		var c map[string]any
		_ = json.Unmarshal(b, &c)
		dig(c, path)["surprise"] = 1
		cb, _ := json.Marshal(c)
		if validate(cb) == nil {
			t.Errorf("%v: schema accepted an unknown field", path)
		}
	}
	for _, path := range [][]string{nil, {"event"}, {"aegis"}, {"aegis", "span"}, {"aegis", "steps", "1"}} {
		check(t, fullCampaign(), ValidateCampaignJSON, path...)
	}
	for _, path := range [][]string{nil, {"event"}, {"aegis"}, {"aegis", "window"}, {"threat"}} {
		check(t, fullRecon(), ValidateReconJSON, path...)
	}
}

// dig follows path (object keys, or array indexes as "0", "1") from m.
func dig(m map[string]any, path []string) map[string]any {
	var cur any = m
	for _, p := range path {
		switch v := cur.(type) {
		case map[string]any:
			cur = v[p]
		case []any:
			i := int(p[0] - '0')
			cur = v[i]
		}
	}
	return cur.(map[string]any)
}
