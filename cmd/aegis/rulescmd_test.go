package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodRule = `version: 1
rules:
  - id: corp-db-llm
    name: Database server streams from a model
    severity: high
    techniques: [T1071.001]
    message: "${source.ip} streamed from ${tls.client.server_name:-no SNI}"
    when:
      class: llm_stream
      source: {lists: [db_servers]}
      sni: ["*.openai.com"]
    tests:
      - name: db server streams from OpenAI
        expect: hit
        message: "10.50.0.9 streamed from api.openai.com"
        record:
          source: {ip: 10.50.0.9}
          tls: {client: {server_name: api.openai.com}}
          aegis: {class: llm_stream, confidence: 0.9}
      - name: workstation stays quiet
        expect: miss
        record: {source: {ip: 10.20.3.4}, aegis: {class: llm_stream, confidence: 0.9}}
`

const brokenRule = `rules:
  - id: broken-one
    name: x
    severity: high
    when:
      class: llm_stream
      source: {cidr: [10.0.0.0/33]}
  - id: broken-two
    name: y
    severity: high
    when: {class: agent_shell, colour: red}
`

const failingRule = `rules:
  - id: wrong-test
    name: z
    severity: low
    when: {class: agent_shell}
    tests:
      - name: claims a stream fires
        expect: hit
        record: {aegis: {class: llm_stream}}
`

// rulesDir writes one rule file into a new directory.
func rulesDir(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunRules(t *testing.T) {
	good, broken, failing := rulesDir(t, goodRule), rulesDir(t, brokenRule), rulesDir(t, failingRule)
	dbList := "--list=db_servers=10.50.0.0/24,10.60.0.1"
	tests := []struct {
		name      string
		args      []string
		code      int
		stdout    []string
		stderr    []string
		notStdout []string
	}{
		{"check good", []string{"check", dbList, good}, exitOK, []string{"ok: 8 rules (1 from " + good + ", 7 built-in), 34 test cases"}, nil, nil},
		{"check warns about an undefined list", []string{"check", good}, exitOK, []string{"ok: 8 rules"}, []string{`warning: ` + filepath.Join(good, "rules.yaml") + `:10: rule "corp-db-llm": source.lists: list "db_servers" is not defined`}, nil},
		{"check broken", []string{"check", broken}, exitFailure, nil, []string{
			filepath.Join(broken, "rules.yaml") + `:7: rule "broken-one": source.cidr: bad CIDR "10.0.0.0/33"`,
			filepath.Join(broken, "rules.yaml") + `:11: rule "broken-two": unknown key "colour"`,
			"2 problem(s)",
		}, nil},
		{"check missing dir", []string{"check", filepath.Join(good, "nope")}, exitFailure, nil, []string{"cannot read the rules directory"}, nil},
		{"test good", []string{"test", good, dbList}, exitOK, []string{"34 passed, 0 failed"}, nil, []string{"PASS"}},
		{"test good verbose", []string{"test", "-v", dbList, good}, exitOK, []string{`PASS ` + filepath.Join(good, "rules.yaml") + `:13: rule "corp-db-llm": test "db server streams from OpenAI"`, "PASS builtin/7-agent-campaign.yaml"}, nil, nil},
		{"test without the list fails the hit case", []string{"test", good}, exitFailure, []string{`FAIL ` + filepath.Join(good, "rules.yaml") + `:13: rule "corp-db-llm": test "db server streams from OpenAI": expected a hit, got none`, "33 passed, 1 failed"}, nil, nil},
		{"test failing case", []string{"test", failing}, exitFailure, []string{`FAIL ` + filepath.Join(failing, "rules.yaml") + `:7: rule "wrong-test": test "claims a stream fires": expected a hit, got none`}, nil, nil},
		{"test broken dir", []string{"test", broken}, exitFailure, nil, []string{`rule "broken-one"`}, nil},
		{"list", []string{"list", good}, exitOK, []string{"aegis-llm-stream", "corp-db-llm", "T1071.001"}, nil, nil},
		{"list built-ins", []string{"list"}, exitOK, []string{"aegis-agent-campaign", "builtin/7-agent-campaign.yaml:4"}, nil, nil},
		{"no command", nil, exitUsage, nil, []string{"Usage:"}, nil},
		{"unknown command", []string{"lint", good}, exitUsage, nil, []string{`unknown command "lint"`}, nil},
		{"no dir", []string{"check"}, exitUsage, nil, []string{"give one rule directory"}, nil},
		{"two dirs", []string{"test", good, failing}, exitUsage, nil, []string{"give one rule directory"}, nil},
		{"bad list flag", []string{"test", "--list", "nonsense", good}, exitUsage, nil, []string{"write NAME=CIDR"}, nil},
		{"bad list cidr", []string{"check", "--list", "x=10.0.0.0/99", good}, exitUsage, nil, []string{"lists.x"}, nil},
		{"help", []string{"help"}, exitOK, []string{"aegis rules check"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runRules(tt.args, &out, &errb)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			for _, w := range tt.notStdout {
				if strings.Contains(out.String(), w) {
					t.Errorf("stdout has %q:\n%s", w, out.String())
				}
			}
		})
	}
}
