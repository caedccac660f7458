package rules

import (
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

func TestTemplate(t *testing.T) {
	r := &rule{id: "rid", name: "Rule name", severity: "high"}
	rec := baseRecord(0)
	rec.Aegis.Handoff = nil
	tests := []struct {
		src, want string
	}{
		{"plain text", "plain text"},
		{"", ""},
		{"${source.ip}:${source.port} -> ${destination.ip}", "10.0.0.5:40000 -> 203.0.113.9"},
		{"${tls.client.server_name}", "API.OpenAI.com"},
		{"${aegis.confidence} ${aegis.route.score} ${aegis.cadence.server.iat.mean_ms}", "0.9 0.8 41"},
		{"${aegis.class}/${aegis.route.sni}", "llm_stream/listed"},
		{"${aegis.handoff.direction:-no handoff}", "no handoff"},
		{"${aegis.handoff.direction}|", "|"},
		{"${event.duration}ns", "20000000000ns"},
		{"${aegis.capture.evicted}", "false"},
		{"${rule.id} ${rule.name} ${rule.severity}", "rid Rule name high"},
		{"${recon.targets} ${recon.probes}", "7 9"},
		{"cost $$5", "cost $5"},
		{"${ source.ip }", "10.0.0.5"},
		{"${event.category}", ""},
	}
	for _, tt := range tests {
		tm, err := compileTemplate(tt.src)
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		if got := tm.render(rec, &renderCtx{rule: r, reconTargets: 7, reconProbes: 9}); got != tt.want {
			t.Errorf("%q = %q, want %q", tt.src, got, tt.want)
		}
	}
	rec.Event.Category = []string{"network", "intrusion_detection"}
	if got := mustTemplate(t, "${event.category}").render(rec, &renderCtx{rule: r}); got != "network,intrusion_detection" {
		t.Errorf("list = %q", got)
	}
}

func mustTemplate(t *testing.T, src string) *template {
	t.Helper()
	tm, err := compileTemplate(src)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestTemplateErrors(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"${source.addr}", "unknown field ${source.addr}"},
		{"${source}", "unknown field ${source}"}, // a block, not a value
		{"${source.ip", "is not closed"},
		{"$source.ip", "lone '$'"},
		{"trailing $", "lone '$'"},
		{strings.Repeat("x", 2000), "keep it under"},
		{"bad \xff utf8", "not valid UTF-8"},
	} {
		if _, err := compileTemplate(tt.src); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %q", tt.src, err, tt.want)
		}
	}
}

// TestTemplateQuotesWireData: an attacker-chosen SNI cannot inject lines or
// control sequences into a message, nor make it unbounded.
func TestTemplateQuotesWireData(t *testing.T) {
	tm := mustTemplate(t, "sni=${tls.client.server_name}.")
	rec := &schemas.Record{TLS: &schemas.TLS{}}
	for _, tt := range []struct{ sni, want string }{
		{"evil.com\nFAKE ALERT", "sni=evil.com?FAKE ALERT."},
		{"\x1b[31mred", "sni=?[31mred."},
		{"bad\xffutf8", "sni=bad\uFFFDutf8."},
		{"ok\u2028line", "sni=ok?line."},
		{"ünïcode.example", "sni=ünïcode.example."},
		{strings.Repeat("a", 300), "sni=" + strings.Repeat("a", maxValueBytes) + "...."},
	} {
		rec.TLS.Client.ServerName = tt.sni
		if got := tm.render(rec, &renderCtx{}); got != tt.want {
			t.Errorf("%q -> %q, want %q", tt.sni, got, tt.want)
		}
	}
}

func TestAppendNumber(t *testing.T) {
	for x, want := range map[float64]string{0: "0", 0.9: "0.9", 41.23456: "41.235", 12345678: "12345678", -0.0001: "0", -2.5: "-2.5", 1e21: "1000000000000000000000"} {
		if got := string(appendNumber(nil, x)); got != want {
			t.Errorf("%v -> %q, want %q", x, got, want)
		}
	}
}
