package rules

import (
	"strings"
	"testing"
)

// TestRunTestsReportsFailures: a case that does not behave as it says is
// reported with its file, line, rule and why.
func TestRunTestsReportsFailures(t *testing.T) {
	body := `rules:
  - id: t
    name: shell after stream
    severity: high
    message: "${source.ip} after stream"
    when:
      class: agent_shell
      preceded_by: [{class: llm_stream, within: 1m}]
    tests:
      - name: passes
        expect: hit
        message: "10.0.0.5 after stream"
        prior:
          - at: -30s
            record: {aegis: {class: llm_stream}}
        record: {source: {ip: 10.0.0.5}, aegis: {class: agent_shell}}
      - name: wrong expectation
        expect: hit
        record: {source: {ip: 10.0.0.5}, aegis: {class: agent_shell}}
      - name: wrong message
        expect: hit
        message: "something else"
        prior:
          - at: -30s
            record: {aegis: {class: llm_stream}}
        record: {source: {ip: 10.0.0.5}, aegis: {class: agent_shell}}
      - name: unexpected hit
        expect: miss
        prior:
          - at: -30s
            record: {aegis: {class: llm_stream}}
        record: {source: {ip: 10.0.0.5}, aegis: {class: agent_shell}}
      - name: prior too old
        expect: miss
        prior:
          - at: -2m
            record: {aegis: {class: llm_stream}}
        record: {source: {ip: 10.0.0.5}, aegis: {class: agent_shell}}
      - name: published JSON record
        expect: miss
        record: {"@timestamp": "2026-01-01T00:00:00Z", "event": {"end": "2026-01-01T00:00:10Z", "duration": 10000000000}, "source": {"ip": "10.0.0.5"}, "aegis": {"class": "agent_shell"}}
`
	set := loadOne(t, body, nil)
	var mine []TestResult
	for _, r := range set.RunTests() {
		if r.Rule == "t" {
			mine = append(mine, r)
		}
	}
	want := []struct {
		pass   bool
		line   int
		detail string
	}{
		{true, 10, ""},
		{false, 17, "expected a hit, got none (rules that fired: none)"},
		{false, 20, `message is "10.0.0.5 after stream", want "something else"`},
		{false, 27, `expected no hit, got one: "10.0.0.5 after stream"`},
		{true, 33, ""},
		{true, 39, ""},
	}
	if len(mine) != len(want) {
		t.Fatalf("%d results: %v", len(mine), mine)
	}
	for i, w := range want {
		r := mine[i]
		if r.Pass != w.pass || r.Line != w.line || r.Detail != w.detail || !strings.HasSuffix(r.File, "r.yaml") {
			t.Errorf("case %d: %+v, want %+v", i, r, w)
		}
	}
	if s := mine[1].String(); !strings.HasPrefix(s, "FAIL ") || !strings.Contains(s, `r.yaml:17: rule "t": test "wrong expectation": expected a hit`) {
		t.Errorf("String() = %q", s)
	}
}

// TestRunTestsLists: a case's lists apply to that case only.
func TestRunTestsLists(t *testing.T) {
	body := `rules:
  - id: t
    name: in list
    severity: low
    when: {source: {lists: [mine]}}
    tests:
      - {name: with list, expect: hit, lists: {mine: [10.0.0.0/8]}, record: {source: {ip: 10.0.0.5}}}
      - {name: config list, expect: hit, record: {source: {ip: 192.0.2.5}}}
      - {name: outside, expect: miss, lists: {mine: [10.0.0.0/8]}, record: {source: {ip: 192.0.2.5}}}
`
	set := loadOne(t, body, map[string][]string{"mine": {"192.0.2.0/24"}})
	for _, r := range set.RunTests() {
		if !r.Pass {
			t.Error(r)
		}
	}
}
