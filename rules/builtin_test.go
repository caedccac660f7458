package rules

import (
	"encoding/csv"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestBuiltinRuleCases runs the test cases embedded in the built-in rule
// files, the same way 'aegis rules test' does.
func TestBuiltinRuleCases(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dir = ""
	set, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := set.RunTests()
	if len(res) == 0 {
		t.Fatal("no built-in test cases ran")
	}
	for _, r := range res {
		if !r.Pass {
			t.Error(r)
		}
	}
}

// TestBuiltinCoverage: every built-in rule has a case that fires and one
// that stays quiet, is documented in the README, and maps to techniques.
func TestBuiltinCoverage(t *testing.T) {
	set := mustLoad(t, testConfig("", nil))
	doc, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rules := set.Rules()
	if len(rules) != 7 {
		t.Fatalf("%d built-in rules, want 7", len(rules))
	}
	for _, r := range set.rules {
		var hit, miss bool
		for _, tc := range r.tests {
			hit = hit || tc.hit
			miss = miss || !tc.hit
		}
		if !hit || !miss {
			t.Errorf("%s: needs test cases that fire and that stay quiet (hit %v, miss %v)", r.id, hit, miss)
		}
		if !strings.Contains(string(doc), "`"+r.id+"`") {
			t.Errorf("%s is not documented in the README", r.id)
		}
		if len(r.techs) == 0 || r.desc == "" {
			t.Errorf("%s: needs techniques and a description", r.id)
		}
	}
}

// TestBuiltinTechniques checks every technique id of the built-in rules
// against MITRE's list (../../shared/attack/enterprise-techniques.tsv).
func TestBuiltinTechniques(t *testing.T) {
	const path = "../../shared/attack/enterprise-techniques.tsv"
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("ATT&CK technique list not available (%v); it lives beside the repository in shared/attack", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	idCol, statusCol := slices.Index(header, "id"), slices.Index(header, "status")
	if idCol < 0 || statusCol < 0 {
		t.Fatalf("header %q lacks id or status", header)
	}
	status := map[string]string{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		status[rec[idCol]] = rec[statusCol]
	}
	if len(status) < 100 {
		t.Fatalf("only %d techniques read from %s", len(status), path)
	}
	for _, rule := range mustLoad(t, testConfig("", nil)).Rules() {
		for _, id := range rule.Techniques {
			switch st, ok := status[id]; {
			case !ok:
				t.Errorf("%s: technique %s is not in ATT&CK Enterprise", rule.ID, id)
			case st != "active":
				t.Errorf("%s: technique %s is %s", rule.ID, id, st)
			}
		}
	}
}
