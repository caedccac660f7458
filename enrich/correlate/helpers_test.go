package correlate

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/rules"
	"github.com/aegis-nsm/aegis/schemas"
)

// t0 is 10 minutes into an hour span, so that a campaign of a few minutes
// sits inside one span.
var t0 = time.Date(2026, 3, 2, 9, 10, 0, 0, time.UTC)

// recID returns a deterministic record id for a name.
func recID(name string) string { return hash32("test-record", name) }

// detection builds a schema-valid detection record of class c from src,
// running from start to end, to dst:port.
func detection(name, src string, c schemas.Class, start, end time.Time, dst string, port uint16) *schemas.Record {
	sev := map[schemas.Class]string{schemas.ClassLLMStream: "low", schemas.ClassAgentShell: "high", schemas.ClassHandoff: "high",
		schemas.ClassAgentExfil: "critical", schemas.ClassHumanInteractive: "none", schemas.ClassOther: "none"}[c]
	kind := "event"
	if c.IsDetection() {
		kind = "alert"
	}
	rec := &schemas.Record{
		Timestamp: start.UTC().Format(time.RFC3339Nano),
		Event: schemas.Event{ID: recID(name), Kind: kind, Category: []string{"network"}, Type: []string{"connection"}, Dataset: "aegis.detection",
			Start: start.UTC().Format(time.RFC3339Nano), End: end.UTC().Format(time.RFC3339Nano), Duration: int64(end.Sub(start)), Severity: map[string]int{"none": 0, "low": 21, "high": 73, "critical": 99}[sev]},
		Source:      schemas.Endpoint{IP: src, Port: 51000, Bytes: 4000, Packets: 40},
		Destination: schemas.Endpoint{IP: dst, Port: port, Bytes: 90000, Packets: 300},
		Network:     schemas.Network{Transport: "tcp", IANANumber: "6", CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", Protocol: "ssh", Bytes: 94000, Packets: 340},
	}
	rec.Aegis.SchemaVersion = schemas.SchemaVersion
	rec.Aegis.FlowKey = fmt.Sprintf("tcp %s:51000 %s:%d", src, dst, port)
	rec.Aegis.Class = c
	rec.Aegis.Confidence = 0.9
	rec.Aegis.Severity = sev
	rec.Aegis.Reasons = []string{"test"}
	rec.Aegis.Route = schemas.RouteMatch{Name: "unknown", SNI: "none"}
	rec.Aegis.Cadence.DurationS = end.Sub(start).Seconds()
	rec.Aegis.Cadence.Session.CommandSide = "client"
	if c == schemas.ClassLLMStream {
		rec.Network.Protocol = "ssl"
		rec.TLS = &schemas.TLS{Client: schemas.TLSClient{ServerName: "api.openai.com"}}
		rec.Aegis.Route = schemas.RouteMatch{Name: "openai/gpt-4o", Provider: "openai", Score: 0.8, SNI: "listed"}
	}
	if c == schemas.ClassAgentShell {
		rec.Threat = &schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{ID: []string{"T1059.004", "T1021.004"}, Name: []string{"Unix Shell", "SSH"}}}
	}
	return rec
}

// input encodes rec and decodes it as the service would.
func input(t testing.TB, rec any, sensor string) *Input {
	t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	in, err := DecodeInput(b, sensor)
	if err != nil {
		t.Fatalf("DecodeInput: %v", err)
	}
	return in
}

// recon builds the recon record sensor publishes for src scanning until at.
func recon(t testing.TB, sensor, src string, at time.Time, targets int) *schemas.Recon {
	t.Helper()
	r, err := ReconRecord(sensor, rules.ReconFinding{Source: src, Start: at.Add(-time.Minute), At: at, Targets: targets, Probes: targets + 5})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testRules loads the built-in rules.
func testRules(t testing.TB) *Rules {
	t.Helper()
	cfg := rules.DefaultConfig()
	cfg.Dir = ""
	set, err := rules.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRules(set, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testLogger logs through t (visible with -v or on failure).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func mustAddrPort(t testing.TB, s string) netip.AddrPort {
	t.Helper()
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func itoa(i int) string { return strconv.Itoa(i) }
