package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckErrors feeds broken rule files to Check and expects each
// problem to be reported with file:line and rule id.
func TestCheckErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // substrings of the report, each must appear
	}{
		{"unknown key in rule", `rules:
  - id: r1
    name: n
    severity: low
    colour: red
    when: {class: llm_stream}
`, []string{`r.yaml:5: rule "r1": unknown key "colour" (allowed here: id, name,`}},
		{"unknown key in when", `rules:
  - id: r1
    name: n
    severity: low
    when:
      class: llm_stream
      confidance: {min: 0.5}
`, []string{`r.yaml:7: rule "r1": unknown key "confidance" (allowed here: class, confidence,`}},
		{"wrong type", `rules:
  - id: r1
    name: n
    severity: low
    when:
      class: llm_stream
      confidence: high
`, []string{`r.yaml:7: rule "r1": expected a range {min: X, max: Y}, got "high"`}},
		{"range not a number", `rules:
  - id: r1
    name: n
    severity: low
    when: {class: llm_stream, confidence: {min: lots}}
`, []string{`r.yaml:5: rule "r1": expected a number, got "lots"`}},
		{"range backwards", `rules:
  - id: r1
    name: n
    severity: low
    when:
      confidence: {min: 0.9, max: 0.1}
`, []string{`r.yaml:6: rule "r1": range max (0.1) is below min (0.9)`}},
		{"bad CIDR", `rules:
  - id: r1
    name: n
    severity: low
    when:
      class: llm_stream
      source:
        cidr: [10.0.0.0/8, 10.300.0.0/16]
`, []string{`r.yaml:8: rule "r1": source.cidr: bad CIDR "10.300.0.0/16"`}},
		{"bad glob", `rules:
  - id: r1
    name: n
    severity: low
    when:
      sni:
        - "*.openai.com"
        - "[a-z].example"
`, []string{`r.yaml:8: rule "r1": sni: pattern "[a-z].example": '[' is not supported`}},
		{"bad class", `rules:
  - id: r1
    name: n
    severity: low
    when: {class: [llm_stream, agent_shel]}
`, []string{`r.yaml:5: rule "r1": class "agent_shel" is not one of llm_stream, agent_shell`}},
		{"bad severity", `rules:
  - id: r1
    name: n
    severity: severe
    when: {class: llm_stream}
`, []string{`r.yaml:4: rule "r1": severity "severe" is not one of low, medium, high, critical`}},
		{"bad technique", `rules:
  - id: r1
    name: n
    severity: low
    techniques: [T1059.4, t1046]
    when: {class: llm_stream}
`, []string{`r.yaml:5: rule "r1": technique "T1059.4" is not an ATT&CK technique id`, `technique "t1046"`}},
		{"bad template field", `rules:
  - id: r1
    name: n
    severity: low
    message: "from ${source.addr}"
    when: {class: llm_stream}
`, []string{`r.yaml:5: rule "r1": message: unknown field ${source.addr}`}},
		{"unknown numeric field", `rules:
  - id: r1
    name: n
    severity: low
    when:
      client:
        iat:
          mean: {max: 10}
`, []string{`r.yaml:8: rule "r1": client: "aegis.cadence.client.iat.mean" is not a record field; numeric fields there: aegis.cadence.client.iat.cv`}},
		{"string field in fields", `rules:
  - id: r1
    name: n
    severity: low
    when:
      fields:
        source.ip: {min: 1}
`, []string{`r.yaml:7: rule "r1": fields: field "source.ip" is not a number`}},
		{"missing when", `rules:
  - id: r1
    name: n
    severity: low
`, []string{`r.yaml:2: rule "r1": when: is missing`}},
		{"empty when", `rules:
  - id: r1
    name: n
    severity: low
    when: {}
`, []string{`r.yaml:2: rule "r1": when: has no condition`}},
		{"missing id and name", `rules:
  - severity: low
    when: {class: llm_stream}
`, []string{`r.yaml:2: id is missing`, `name is missing`}},
		{"bad id", `rules:
  - id: "has space"
    name: n
    severity: low
    when: {class: llm_stream}
`, []string{`r.yaml:2: rule "has space": id "has space" is not valid`}},
		{"duplicate id", `rules:
  - id: r1
    name: n
    severity: low
    when: {class: llm_stream}
  - id: r1
    name: n
    severity: low
    when: {class: agent_shell}
`, []string{`r.yaml:6: rule "r1": id is already used at `}},
		{"bad step", `rules:
  - id: r1
    name: n
    severity: low
    when:
      class: agent_shell
      preceded_by:
        - {recon: true, class: llm_stream}
        - {rule: nope}
        - {class: llm_stream, within: 0s}
        - {class: llm_strem}
`, []string{
			`rule "r1": preceded_by: each step names exactly one of`,
			`r.yaml:9: rule "r1": preceded_by.rule "nope" is not a loaded rule`,
			`r.yaml:10: rule "r1": preceded_by.within must be > 0`,
			`r.yaml:11: rule "r1": preceded_by.class "llm_strem" is not one of`,
		}},
		{"bad duration", `rules:
  - id: r1
    name: n
    severity: low
    when:
      class: agent_shell
      preceded_by:
        - {class: llm_stream, within: soon}
`, []string{`r.yaml:8: rule "r1": bad duration "soon"`}},
		{"bad port", `rules:
  - id: r1
    name: n
    severity: low
    when: {destination_port: [22, "9000-80", 70000]}
`, []string{`r.yaml:5: rule "r1": port range "9000-80" runs backwards`}},
		{"empty lists", `rules:
  - id: r1
    name: n
    severity: low
    when:
      class:
`, []string{`r.yaml:6: rule "r1": class: has no value`}},
		{"empty lists 2", `rules:
  - id: r1
    name: n
    severity: low
    when:
      class: []
      destination_port: []
      source: {not_lists: []}
`, []string{`r.yaml:6: rule "r1": class: is empty`, `r.yaml:7: rule "r1": destination_port: is empty`, `r.yaml:8: rule "r1": source.not_lists: is empty`}},
		{"bad handoff", `rules:
  - id: r1
    name: n
    severity: low
    when: {handoff: sideways}
`, []string{`r.yaml:5: rule "r1": handoff "sideways" is not human_to_agent or agent_to_human`}},
		{"syntax error", "rules:\n  - id: r1\n    name: [unclosed\n", []string{`r.yaml:`, `YAML: `}},
		{"not a mapping", "- id: r1\n", []string{`r.yaml:1: a rule file is a mapping with a 'rules:' list`}},
		{"rules not a list", "rules: {id: r1}\n", []string{`r.yaml:1: 'rules:' must be a list`}},
		{"duplicate rules key", "rules:\nrules:\n- id: a\n", []string{`r.yaml:2: mapping key "rules" already defined at line 1`}},
		{"bad version", "version: 2\nrules: []\n", []string{`r.yaml:1: version 2 is not supported`}},
		{"two documents", "rules: []\n---\nrules: []\n", []string{`one YAML document`}},
		{"test case expect", `rules:
  - id: r1
    name: n
    severity: low
    when: {class: llm_stream}
    tests:
      - name: x
        expect: fire
        record: {aegis: {class: llm_stream}}
`, []string{`r.yaml:8: rule "r1": test "x": expect must be hit or miss`}},
		{"test case unknown record field", `rules:
  - id: r1
    name: n
    severity: low
    when: {class: llm_stream}
    tests:
      - name: x
        expect: hit
        record: {aegis: {klass: llm_stream}}
`, []string{`r.yaml:9: rule "r1": test "x": record: unknown field "klass"`}},
		{"test case bad ids", `rules:
  - id: r1
    name: n
    severity: low
    when: {class: llm_stream}
    tests:
      - name: x
        expect: miss
        prior:
          - ids: {orig: nowhere, conn_state: S0}
        record: {source: {ip: 10.0.0.1}}
`, []string{`r.yaml:10: rule "r1": test "x": prior #1: ids: orig: "nowhere" is not an address`}},
		{"test case unknown ids key", `rules:
  - id: r1
    name: n
    severity: low
    when: {class: llm_stream}
    tests:
      - name: x
        expect: miss
        prior:
          - ids: {state: S0}
        record: {}
`, []string{`r.yaml:10: rule "r1": unknown key "state" (allowed here: sensor, orig, resp`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeRules(t, map[string]string{"r.yaml": tt.body})
			errs := Check(dir)
			if len(errs) == 0 {
				t.Fatal("Check found no problem")
			}
			got := errorText(errs)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("report lacks %q; got:\n%s", w, got)
				}
			}
			if _, err := Load(testConfig(dir, nil)); err == nil {
				t.Error("Load accepted what Check rejected")
			}
		})
	}
}

// TestCheckReportsEveryProblem: one broken rule does not hide another, in
// the same file or another.
func TestCheckReportsEveryProblem(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"a.yaml": "rules:\n  - id: a1\n    name: n\n    severity: low\n    bogus: 1\n    when: {class: llm_stream}\n  - id: a2\n    name: n\n    severity: nope\n    when: {class: llm_stream}\n",
		"b.yml":  "rules:\n  - id: b1\n    name: n\n    severity: low\n    when: {source: {cidr: [1.2.3.4/40]}}\n",
	})
	got := errorText(Check(dir))
	for _, w := range []string{`a.yaml:5: rule "a1": unknown key "bogus"`, `a.yaml:9: rule "a2": severity "nope"`, `b.yml:5: rule "b1": source.cidr: bad CIDR "1.2.3.4/40"`} {
		if !strings.Contains(got, w) {
			t.Errorf("report lacks %q; got:\n%s", w, got)
		}
	}
}

func TestLoadDirectory(t *testing.T) {
	good := yamlRule("class: agent_shell\nconfidence: {min: 0.9}")
	t.Run("missing default dir is fine", func(t *testing.T) {
		t.Chdir(t.TempDir())
		s, err := Load(DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if n := len(s.Rules()); n != 7 {
			t.Errorf("got %d rules, want the 7 built-ins", n)
		}
	})
	t.Run("missing explicit dir is an error", func(t *testing.T) {
		_, err := Load(testConfig(filepath.Join(t.TempDir(), "nope"), nil))
		if err == nil || !strings.Contains(err.Error(), "cannot read the rules directory") {
			t.Fatalf("err = %v", err)
		}
		if errs := Check(filepath.Join(t.TempDir(), "nope")); len(errs) != 1 {
			t.Fatalf("Check: %v", errs)
		}
	})
	t.Run("empty dir means built-ins only", func(t *testing.T) {
		cfg := testConfig("", nil)
		if n := len(mustLoad(t, cfg).Rules()); n != 7 {
			t.Errorf("got %d rules", n)
		}
	})
	t.Run("user rules follow built-ins, files by name, other files ignored", func(t *testing.T) {
		dir := writeRules(t, map[string]string{
			"b.yml":        strings.Replace(good, "id: t", "id: from-b", 1),
			"a.yaml":       strings.Replace(good, "id: t", "id: from-a", 1),
			"notes.txt":    "not yaml at all: [",
			".hidden.yaml": "garbage: [",
			"empty.yaml":   "",
		})
		rs := mustLoad(t, testConfig(dir, nil)).Rules()
		if len(rs) != 9 || rs[7].ID != "from-a" || rs[8].ID != "from-b" || !rs[0].Builtin || rs[8].Builtin {
			t.Fatalf("rules = %+v", ids(rs))
		}
		if rs[7].File != filepath.Join(dir, "a.yaml") || rs[7].Line != 2 {
			t.Errorf("a rule's place = %s:%d", rs[7].File, rs[7].Line)
		}
	})
	t.Run("user rule overrides built-in in place", func(t *testing.T) {
		dir := writeRules(t, map[string]string{"o.yaml": strings.Replace(good, "id: t", "id: aegis-agent-shell", 1)})
		rs := mustLoad(t, testConfig(dir, nil)).Rules()
		if len(rs) != 7 || rs[1].ID != "aegis-agent-shell" || rs[1].Builtin || !rs[1].Overrides || rs[1].Name != "test rule" {
			t.Fatalf("rules = %+v", rs[1])
		}
	})
	t.Run("disable by id", func(t *testing.T) {
		cfg := testConfig("", nil)
		cfg.Disable = []string{"aegis-llm-stream", "aegis-agent-campaign"}
		rs := mustLoad(t, cfg).Rules()
		if len(rs) != 5 || rs[0].ID != "aegis-agent-shell" {
			t.Fatalf("rules = %v", ids(rs))
		}
	})
	t.Run("disable of an unknown id is an error", func(t *testing.T) {
		cfg := testConfig("", nil)
		cfg.Disable = []string{"aegis-llm-strem"}
		if _, err := Load(cfg); err == nil || !strings.Contains(err.Error(), `no rule has id "aegis-llm-strem"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("duplicate id across files", func(t *testing.T) {
		dir := writeRules(t, map[string]string{"a.yaml": good, "b.yaml": good})
		_, err := Load(testConfig(dir, nil))
		var e *Error
		if !errors.As(err, &e) || e.Rule != "t" || !strings.Contains(e.Msg, "a.yaml:2") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("undefined list is a warning", func(t *testing.T) {
		s := loadOne(t, yamlRule("source: {lists: [db_servers]}"), nil)
		w := s.Warnings()
		if len(w) != 1 || !strings.Contains(w[0], `list "db_servers" is not defined`) || !strings.Contains(w[0], `r.yaml:6: rule "t"`) {
			t.Fatalf("warnings = %q", w)
		}
		if w := loadOne(t, yamlRule("source: {lists: [db_servers]}"), map[string][]string{"db_servers": {"10.0.0.0/8"}}).Warnings(); len(w) != 0 {
			t.Fatalf("warnings = %q", w)
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		dir := writeRules(t, nil)
		if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
			t.Fatal(err)
		}
		if errs := Check(dir); len(errs) != 0 {
			t.Fatalf("a directory named *.yaml should be skipped: %v", errs)
		}
	})
	t.Run("bad config", func(t *testing.T) {
		cfg := testConfig("", map[string][]string{"llm_clients": {"10.0.0.0/33"}})
		if _, err := Load(cfg); err == nil || !strings.Contains(err.Error(), "lists.llm_clients") {
			t.Fatalf("err = %v", err)
		}
	})
}

func ids(rs []RuleInfo) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// TestErrorFormat pins the message shape that 'aegis rules check' prints.
func TestErrorFormat(t *testing.T) {
	for _, tt := range []struct {
		e    Error
		want string
	}{
		{Error{File: "f.yaml", Line: 3, Rule: "r", Msg: "m"}, `f.yaml:3: rule "r": m`},
		{Error{File: "f.yaml", Msg: "m"}, `f.yaml: m`},
		{Error{File: "f.yaml", Line: 1, Msg: "m"}, `f.yaml:1: m`},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
