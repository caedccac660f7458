package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRules writes files (name -> content) into a new temporary directory.
func writeRules(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testConfig is DefaultConfig with dir (explicit) and the given lists.
func testConfig(dir string, lists map[string][]string) Config {
	cfg := DefaultConfig()
	cfg.Dir = dir
	cfg.Lists = lists
	return cfg
}

// mustLoad loads a set or fails the test.
func mustLoad(t testing.TB, cfg Config) *Set {
	t.Helper()
	s, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// loadOne loads the built-ins plus one user file holding body.
func loadOne(t testing.TB, body string, lists map[string][]string) *Set {
	t.Helper()
	return mustLoad(t, testConfig(writeRules(t, map[string]string{"r.yaml": body}), lists))
}

// yamlRule is a user rule file with one rule of id "t" and the given when
// block (indented as under "when:").
func yamlRule(when string) string {
	var b strings.Builder
	b.WriteString("rules:\n  - id: t\n    name: test rule\n    severity: high\n    when:\n")
	for _, l := range strings.Split(strings.TrimRight(when, "\n"), "\n") {
		b.WriteString("      " + l + "\n")
	}
	return b.String()
}

// errorText joins errors one per line.
func errorText(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	return b.String()
}
