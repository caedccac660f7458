package format

import (
	"bytes"
	"encoding/json"
	"flag"
	"github.com/aegis-nsm/aegis/enrich/sink/sinktest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// fixedNow is the clock of every golden file.
func fixedNow() time.Time { return time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC) }

// fixtures returns the shared fixture records (sinktest: real `aegis
// analyze` output over testdata/synth: an llm_stream with SNI, a handoff
// and an agent_shell) as messages, Value byte for byte as analyze wrote it.
func fixtures(t testing.TB) []sink.Message {
	t.Helper()
	var msgs []sink.Message
	for _, line := range sinktest.Lines() {
		r := new(schemas.Record)
		if err := json.Unmarshal(line, r); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, messageOf(r, line))
	}
	return msgs
}

func messageOf(r *schemas.Record, value []byte) sink.Message {
	return sink.Message{
		Kind: sink.KindDetection, Value: value, Record: r,
		SourceIP: r.Source.IP, CommunityID: r.Network.CommunityID,
		Severity: r.Aegis.Severity, ID: r.Event.ID,
	}
}

// hostileSNI is a server name an attacker chose: every byte the Zeek
// format must escape, markers, commas and a byte that is not UTF-8.
const hostileSNI = "evil\tsni\nx,y\\x41 \x7f\xff\u202e\u2028ok.é.example"

// suricataRecord is a hand-made record from a Suricata flow (flow_id, no
// uid) with rule hits, hostile text in SNI and reasons, and an IPv6
// responder.
func suricataRecord() *schemas.Record {
	return &schemas.Record{
		Timestamp: "2026-03-02T09:05:00.123456789Z",
		Event: schemas.Event{ID: "0123456789abcdef0123456789abcdef", Kind: "alert", Category: []string{"network"},
			Type: []string{"connection"}, Dataset: "aegis.detection", Start: "2026-03-02T09:05:00.123456789Z",
			End: "2026-03-02T09:05:42.5Z", Duration: 42376543211, Severity: 99},
		Source:      schemas.Endpoint{IP: "10.0.0.7", Port: 51544, Bytes: 5_000_000, Packets: 4000},
		Destination: schemas.Endpoint{IP: "2001:db8::1", Port: 443, Bytes: 90_000, Packets: 1500},
		Network: schemas.Network{Transport: "tcp", IANANumber: "6", CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
			Protocol: "tls", Bytes: 5_090_000, Packets: 5500},
		TLS: &schemas.TLS{Client: schemas.TLSClient{ServerName: hostileSNI}},
		Threat: &schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{
			ID: []string{"T1041", "T1030"}, Name: []string{"Exfiltration Over C2 Channel", "Data Transfer Size Limits"}}},
		Aegis: schemas.AegisSection{
			SchemaVersion: schemas.SchemaVersion, FlowKey: "tcp 10.0.0.7:51544 [2001:db8::1]:443",
			IDS: &schemas.IDSInfo{Sensor: schemas.SensorSuricata, FlowID: 1676750115612680, Service: "tls",
				ConnState: "closed", OrigPkts: 4000, RespPkts: 1500, OrigBytes: 5_000_000, RespBytes: 90_000,
				JoinedBy: "community_id", Source: "eve.json:77"},
			Class: schemas.ClassAgentExfil, Confidence: 0.875,
			Reasons: []string{"upload of 4.8 MB in 64 chunks, size CV 0.05", "comma, tab\tand -", "-", "(empty)"},
			Route:   schemas.RouteMatch{Name: "unknown", Score: 0, SNI: "unlisted"},
			Rules: []schemas.RuleHit{
				{ID: "AEGIS-004", Name: "agent exfil", Severity: "critical", Techniques: []string{"T1041", "T1030"}},
				{ID: "custom,1", Name: "site rule", Severity: "high", Techniques: []string{"T1041"}},
			},
			Severity: "critical",
			Cadence:  schemas.Cadence{DurationS: 42.376543, Session: schemas.SessionFeatures{CommandSide: "client", UploadBytes: 4_800_000, UploadChunks: 64}},
			Capture:  schemas.CaptureInfo{Packets: 5500},
		},
	}
}

// allMessages is the fixtures, the Suricata record and a verdict (a kind
// without a Record).
func allMessages(t testing.TB) []sink.Message {
	msgs := fixtures(t)
	r := suricataRecord()
	v, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	msgs = append(msgs, messageOf(r, v))
	msgs = append(msgs, verdictMessage())
	return msgs
}

func verdictMessage() sink.Message {
	return sink.Message{
		Kind:     sink.KindVerdict,
		Value:    []byte(`{"@timestamp":"2026-03-02T09:06:00Z","host":"10.20.0.62","intent":"data staging","records":["a475c412a1a0eb14068e9ad99edccb7d"]}`),
		SourceIP: "10.20.0.62", Severity: "high", ID: "f00dfeedf00dfeedf00dfeedf00dfeed",
	}
}

// golden compares got with testdata/golden/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after a deliberate change and review the diff)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
