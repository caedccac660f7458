package schemacheck

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

// full returns a record with every field filled, so that a Go field missing
// from the schema (additionalProperties: false) fails validation.
func full() *schemas.Record {
	iat := schemas.IATStats{N: 3, MeanMs: 20, StdMs: 2, CV: 0.1, MedianMs: 19, MADMs: 1, P10Ms: 15, P25Ms: 17, P75Ms: 22, P90Ms: 24, P99Ms: 30, MinMs: 10, MaxMs: 31}
	dir := schemas.DirectionFeatures{Packets: 4, Bytes: 400, IAT: iat, GapEntropy: 0.4, Regularity: 0.6, SubMsShare: 0.1,
		Flushes: 3, FlushesPerS: 1.5, FlushIAT: iat, SizeMean: 100, SizeMedian: 100, SizeModeShare: 0.5, TinyShare: 0.2, TinyIAT: iat}
	exch := schemas.ExchangeFeatures{Turns: 2, TTFBMs: 300, ServerRunS: 1.5, ServerRunPackets: 30, ServerRunFlushes: 20, RequestBytes: 900, BytesRatio: 16}
	sess := schemas.SessionFeatures{CommandSide: "client", Keystrokes: 12, EchoShare: 0.9, FastTiny: 1, Commands: 4, AnsweredShare: 1, PauseMedianMs: 2100, PauseCV: 0.4,
		FastCommandShare: 0.5, UploadBytes: 1 << 20, UploadChunks: 64, UploadSizeCV: 0.05, UploadGapCV: 0.2, UploadOffsetS: 30}
	return &schemas.Record{
		Timestamp: "2026-11-25T10:00:00.000000001Z",
		Event: schemas.Event{ID: strings.Repeat("ab", 16), Kind: "alert", Category: []string{"network"}, Type: []string{"connection"},
			Dataset: "aegis.detection", Start: "2026-11-25T10:00:00Z", End: "2026-11-25T10:00:02Z", Duration: 2e9, Severity: 73},
		Source:      schemas.Endpoint{IP: "10.0.0.1", Port: 51000, Bytes: 1000, Packets: 10},
		Destination: schemas.Endpoint{IP: "2001:db8::1", Port: 443, Bytes: 9000, Packets: 30},
		Network:     schemas.Network{Transport: "tcp", IANANumber: "6", CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", Protocol: "ssl", Bytes: 10000, Packets: 40},
		TLS:         &schemas.TLS{Client: schemas.TLSClient{ServerName: "api.openai.com"}},
		Threat:      &schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{ID: []string{"T1071.001"}, Name: []string{"Web Protocols"}}},
		Aegis: schemas.AegisSection{
			SchemaVersion: schemas.SchemaVersion, FlowKey: "tcp 10.0.0.1:51000 2001:db8::1:443",
			IDS: &schemas.IDSInfo{Sensor: schemas.SensorZeek, UID: "CHhAvVGS1DHFjwGM9", FlowID: 7, Service: "ssl", ConnState: "SF", History: "ShADadFf",
				OrigPkts: 10, RespPkts: 30, OrigBytes: 500, RespBytes: 8000, JoinedBy: "community_id", Source: "conn.log:9"},
			Class: schemas.ClassHandoff, Confidence: 0.9, Reasons: []string{"x"},
			Handoff:  &schemas.Handoff{Direction: "human_to_agent", At: "2026-11-25T10:00:01Z", AtOffsetS: 1},
			Route:    schemas.RouteMatch{Name: "openai/gpt-4o", Provider: "openai", Score: 0.8, SNI: "listed", Candidates: []schemas.RouteCandidate{{Name: "a", Score: 0.5}}},
			Cadence:  schemas.Cadence{DurationS: 2, Client: dir, Server: dir, Exchange: exch, Session: sess},
			Rules:    []schemas.RuleHit{{ID: "AEGIS-001", Name: "n", Severity: "high", Message: "m", Tags: []string{"t"}}},
			Severity: "high",
			Capture:  schemas.CaptureInfo{Packets: 40, Retransmits: 1, DetailTrimmed: true, Evicted: false},
		},
	}
}

func TestFullRecordValidates(t *testing.T) {
	if err := ValidateRecord(full()); err != nil {
		t.Fatalf("full record does not validate: %v", err)
	}
}

func TestSchemaRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(r *schemas.Record)
	}{
		{"bad class", func(r *schemas.Record) { r.Aegis.Class = "robot" }},
		{"confidence above 1", func(r *schemas.Record) { r.Aegis.Confidence = 1.5 }},
		{"bad community id", func(r *schemas.Record) { r.Network.CommunityID = "2:abc" }},
		{"bad technique", func(r *schemas.Record) { r.Threat.Technique.ID = []string{"X1"} }},
		{"bad ip", func(r *schemas.Record) { r.Source.IP = "not-an-ip" }},
		{"bad timestamp", func(r *schemas.Record) { r.Timestamp = "yesterday" }},
		{"bad id", func(r *schemas.Record) { r.Event.ID = "XYZ" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := full()
			c.mutate(r)
			if err := ValidateRecord(r); err == nil {
				t.Fatalf("schema accepted a record with %s", c.name)
			}
		})
	}
}

func TestUnknownFieldRejected(t *testing.T) {
	b, _ := json.Marshal(full())
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["aegis"].(map[string]any)["surprise"] = 1
	b, _ = json.Marshal(m)
	if err := ValidateJSON(b); err == nil {
		t.Fatal("schema accepted an unknown aegis field")
	}
}

// TestEveryRequiredFieldExists removes each required top-level aegis field
// in turn and checks the schema notices.
func TestEveryRequiredFieldExists(t *testing.T) {
	b, _ := json.Marshal(full())
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for k := range m["aegis"].(map[string]any) {
		var c map[string]any
		_ = json.Unmarshal(b, &c)
		delete(c["aegis"].(map[string]any), k)
		cb, _ := json.Marshal(c)
		err := ValidateJSON(cb)
		optional := map[string]bool{"ids": true, "handoff": true, "rules": true}
		if optional[k] && err != nil {
			t.Errorf("optional field %q: %v", k, err)
		}
		if !optional[k] && err == nil {
			t.Errorf("schema does not require aegis.%s", k)
		}
	}
}
