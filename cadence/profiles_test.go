package cadence

import (
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultProfiles(t *testing.T) {
	p, err := LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() < 10 {
		t.Fatalf("%d default routes, want >= 10", p.Len())
	}
	want := []string{"amazon-bedrock/nova-lite", "amazon-bedrock/nova-pro", "azure-ai/deepseek-r1", "xai/grok-2",
		"openrouter-lambda/llama-3.1-8b", "openai/o1-mini", "azure-openai/gpt-4o", "azure-openai/gpt-4o-mini",
		"anthropic/claude-3.5-haiku", "google/gemini-2.0-flash", "google/gemini-2.0-flash-lite", "ollama/local"}
	for _, n := range want {
		r, ok := p.Route(n)
		if !ok {
			t.Errorf("default route %s missing", n)
			continue
		}
		if r.Source == "" || r.Provider == "" || !(r.LogSigma > 0) {
			t.Errorf("route %s incomplete: %+v", n, r)
		}
	}
	// The in-stream log-normal keeps the published mean; its spread is the
	// moment-matched one, capped for pooled stds.
	for _, c := range []struct {
		name  string
		mean  float64
		sigma float64
	}{
		{"google/gemini-2.0-flash", 215.2, math.Sqrt(math.Log1p(math.Pow(179.9/215.2, 2)))}, // 0.73, under the cap
		{"azure-openai/gpt-4o", 46.1, MaxStreamSigma},                                       // pooled std 151 ms capped
		{"anthropic/claude-3.5-haiku", 116.4, MaxStreamSigma},
	} {
		r, _ := p.Route(c.name)
		mean := math.Exp(r.LogMu + r.LogSigma*r.LogSigma/2)
		if math.Abs(mean-c.mean) > 1e-6 || math.Abs(r.LogSigma-c.sigma) > 1e-9 {
			t.Errorf("%s: log-normal mean %v sigma %v, want %v %v", c.name, mean, r.LogSigma, c.mean, c.sigma)
		}
	}
	if h, _ := p.Route("anthropic/claude-3.5-haiku"); h.QuantumMs != 45 {
		t.Errorf("haiku quantum %v", h.QuantumMs)
	}
	// Routes returns copies.
	rs := p.Routes()
	rs[0].Servers[0] = "mutated"
	if r, _ := p.Route(rs[0].Name); r.Servers[0] == "mutated" {
		t.Error("Routes exposes internal state")
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestUserProfiles(t *testing.T) {
	f := writeFile(t, `version: 1
routes:
  - name: azure-openai/gpt-4o
    gap_ms: {mean: 30, std: 60}
  - name: ollama/local
    disabled: true
  - name: acme/llama-70b
    provider: acme
    servers: ["LLM.Acme.example."]
    gap_ms: {mu: 2.5, sigma: 0.6}
    source: measured on sensor s1, 2026-05
`)
	p, err := LoadProfiles(f)
	if err != nil {
		t.Fatal(err)
	}
	def, _ := LoadProfiles("")
	if p.Len() != def.Len() { // one disabled, one added
		t.Errorf("%d routes, want %d", p.Len(), def.Len())
	}
	g, _ := p.Route("azure-openai/gpt-4o")
	dg, _ := def.Route("azure-openai/gpt-4o")
	if g.GapMeanMs != 30 || g.GapStdMs != 60 || g.Source != dg.Source || g.PacketsP95 != dg.PacketsP95 || len(g.Servers) != len(dg.Servers) {
		t.Errorf("override replaced more than gap_ms: %+v", g)
	}
	if _, ok := p.Route("ollama/local"); ok {
		t.Error("disabled route still present")
	}
	n, ok := p.Route("acme/llama-70b")
	if !ok || n.LogMu != 2.5 || n.Servers[0] != "llm.acme.example" {
		t.Errorf("added route = %+v", n)
	}
	if !n.listsServer("llm.acme.example") {
		t.Error("added route does not list its server")
	}
}

func TestProfileErrors(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []string // substrings of the error
	}{
		{"unknown key", "routes:\n  - name: xai/grok-2\n    gap_mean: 3\n", []string{"routes.yaml", "line 3", `unknown key "gap_mean"`, "gap_ms"}},
		{"unknown top key", "version: 1\nroute:\n  - name: x\n", []string{"line 2", `unknown key "route"`, "routes"}},
		{"unknown nested key", "routes:\n  - name: xai/grok-2\n    gap_ms: {avg: 3}\n", []string{"line 3", `unknown key "avg"`}},
		{"negative std", "routes:\n  - name: xai/grok-2\n    gap_ms: {mean: 10, std: -3}\n", []string{"line 2", `"xai/grok-2"`, "gap_ms.std must be > 0", "spread"}},
		{"mixed gap forms", "routes:\n  - name: xai/grok-2\n    gap_ms: {mean: 10, sigma: 1}\n", []string{"either mean and std, or mu and sigma"}},
		{"new route incomplete", "routes:\n  - name: acme/x\n    provider: acme\n", []string{`"acme/x"`, "gap_ms is missing"}},
		{"new route without source", "routes:\n  - name: acme/x\n    provider: acme\n    gap_ms: {mean: 10, std: 5}\n", []string{"source is missing"}},
		{"range reversed", "routes:\n  - name: xai/grok-2\n    ttft_ms: {min: 900, max: 100}\n", []string{"ttft_ms", "swap"}},
		{"bad server pattern", "routes:\n  - name: xai/grok-2\n    servers: [\"[x\"]\n", []string{"bad pattern"}},
		{"disable unknown", "routes:\n  - name: nobody/none\n    disabled: true\n", []string{"no earlier profile defines it"}},
		{"duplicate", "routes:\n  - name: xai/grok-2\n    quantum_ms: 5\n  - name: xai/grok-2\n    quantum_ms: 6\n", []string{"line 4", "defined twice", "line 2"}},
		{"no name", "routes:\n  - provider: x\n", []string{"has no name"}},
		{"version", "version: 2\nroutes: []\n", []string{"version 2 is not supported"}},
		{"wrong type", "routes:\n  - name: xai/grok-2\n    packets_p95: many\n", []string{"line 3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadProfiles(writeFile(t, c.body))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := LoadProfiles(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
	// An empty file changes nothing.
	p, err := LoadProfiles(writeFile(t, ""))
	if err != nil || p.Len() < 10 {
		t.Errorf("empty file: %v, %d routes", err, p.Len())
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	c := DefaultConfig()
	c.FlushGap = 0
	c.TokenGapMin = 500 * time.Millisecond
	c.MinConfidence = 1.5
	c.LineMaxBytes = 10
	err := c.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, w := range []string{"flush_gap", "token_gap_max", "min_confidence", "line_max_bytes"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %s: %v", w, err)
		}
	}
	if _, err := NewAnalyzer(c, nil); err == nil {
		t.Error("NewAnalyzer accepted a bad config")
	}
	a, err := NewAnalyzer(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := a.Analyze(genStream(1, 100, 40*ms, 0.6, 300, 500*ms).build(), FlowContext{}); r.Class != "llm_stream" || r.Route.Name != RouteUnknown {
		t.Errorf("without profiles: %s route %s", r.Class, r.Route.Name)
	}
}

func TestServerMatch(t *testing.T) {
	cases := []struct {
		pat, server string
		want        bool
	}{
		{"api.openai.com", "api.openai.com", true},
		{"api.openai.com", "xapi.openai.com", false},
		{"*.openai.azure.com", "res1.openai.azure.com", true},
		{"*.openai.azure.com", "a.b.openai.azure.com", true},
		{"*.openai.azure.com", "openai.azure.com", false},
		{"*.openai.azure.com", "evil/x.openai.azure.com", false},
		{"bedrock-runtime.*.amazonaws.com", "bedrock-runtime.us-east-1.amazonaws.com", true},
		{"bedrock-runtime.*.amazonaws.com", "bedrock.us-east-1.amazonaws.com", false},
		{"*-aiplatform.googleapis.com", "us-central1-aiplatform.googleapis.com", true},
	}
	for _, c := range cases {
		ok, _ := path.Match(c.pat, c.server)
		if got := serverMatch(c.pat, c.server); got != c.want || got != ok {
			t.Errorf("serverMatch(%q, %q) = %v, path.Match %v, want %v", c.pat, c.server, got, ok, c.want)
		}
	}
}
