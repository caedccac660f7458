package rules

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseRules feeds arbitrary bytes to the rule file loader: parsing,
// compiling, running the file's test cases and evaluating a record must
// never panic, and every problem must be an *Error naming the file.
func FuzzParseRules(f *testing.F) {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		data, err := builtinFS.ReadFile("builtin/" + e.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		yamlRule("class: llm_stream\nsource: {lists: [l], not_lists: [m]}\nsni: \"*.x\"\nroute: {name: \"a*\", score: {min: 0.1}}"),
		yamlRule("client: {iat: {p90_ms: {max: 3}}}\nfields: {aegis.cadence.session.commands: {min: 1}}\npreceded_by: [{recon: true}, {class: llm_stream, within: 1m}, {rule: t}]"),
		"rules:\n  - id: a\n    name: b\n    severity: low\n    message: \"${source.ip:-x} $$\"\n    when: {class: other}\n    tests:\n      - {name: c, expect: hit, prior: [{at: -1m, ids: {repeat: 3, conn_state: S0}}], record: {source: {ip: 10.0.0.1}, aegis: {class: other}}}\n",
		"rules: [{id: a, when: &x {class: other}, tests: [*x]}]",
		"version: 1\nrules:\n",
		"- a\n- b\n",
		"rules:\n  - id: x\n    when:\n      fields: {a: {b: {c: {min: 1}}}}\n",
	} {
		f.Add([]byte(s))
	}
	cfg := DefaultConfig()
	cfg.Lists = map[string][]string{"l": {"10.0.0.0/8"}}
	cfg.MaxSources = 256 // one shard: cheap engines, fast execs
	f.Fuzz(func(t *testing.T, data []byte) {
		defs, errs := parseFile("fuzz.yaml", data, false)
		checkErrs(t, errs)
		if len(defs) == 0 {
			return
		}
		s, errs := compileSet(defs, cfg)
		checkErrs(t, errs)
		if s == nil {
			return
		}
		s.RunTests()
		e := NewEngine(s, cfg)
		probes(e, "10.0.0.5", "10.0.0.9", 25, 0, "REJ")
		e.Evaluate(baseRecord(0))
	})
}

func checkErrs(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		var e *Error
		if !errors.As(err, &e) || e.File != "fuzz.yaml" || e.Msg == "" || strings.ContainsRune(e.Msg, '\x00') {
			t.Fatalf("problem not reported as an *Error on fuzz.yaml: %#v", err)
		}
	}
}
