package cadence

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

// lookalikes are routes whose published figures are nearly the same: a
// stream drawn from one may honestly come out "unknown", but never as a
// route outside its group.
var lookalikes = [][]string{
	{"amazon-bedrock/nova-lite", "amazon-bedrock/nova-pro", "azure-ai/deepseek-r1"},
	{"xai/grok-2", "openrouter-lambda/llama-3.1-8b", "openai/o1-mini"},
	{"azure-openai/gpt-4o", "azure-openai/gpt-4o-mini", "ollama/local"},
	{"google/gemini-2.0-flash", "google/gemini-2.0-flash-lite"},
}

func groupOf(name string) []string {
	for _, g := range lookalikes {
		if slices.Contains(g, name) {
			return g
		}
	}
	return []string{name}
}

// TestRouteMatchDrawnStreams draws streams from each default profile and
// checks that the matcher names that route, or says "unknown" only among
// look-alike routes.
func TestRouteMatchDrawnStreams(t *testing.T) {
	a := newTestAnalyzer(t)
	for _, p := range a.profiles.Routes() {
		t.Run(p.Name, func(t *testing.T) {
			named := 0
			const seeds = 6
			for seed := uint64(1); seed <= seeds; seed++ {
				packets := 400
				if p.PacketsP95 > 0 {
					packets = min(packets, 2*p.PacketsP95)
				}
				r := a.Analyze(genProfileStream(seed, p, packets).build(), FlowContext{})
				if r.Class != schemas.ClassLLMStream {
					t.Fatalf("seed %d: class %s: %v", seed, r.Class, r.Reasons)
				}
				group := groupOf(p.Name)
				switch {
				case r.Route.Name == p.Name:
					named++
				case r.Route.Name == RouteUnknown && len(group) > 1:
					if !slices.ContainsFunc(r.Route.Candidates, func(c schemas.RouteCandidate) bool { return c.Name == p.Name }) {
						t.Errorf("seed %d: unknown, and %s not among candidates %v", seed, p.Name, r.Route.Candidates)
					}
				default:
					t.Errorf("seed %d: route %s (score %.2f), want %s; %v", seed, r.Route.Name, r.Route.Score, p.Name, r.Reasons)
				}
			}
			if len(groupOf(p.Name)) == 1 && named < seeds {
				t.Errorf("named %d of %d streams", named, seeds)
			}
		})
	}
}

// TestRouteUnknownFarStream: a token stream whose gaps fit no profile.
func TestRouteUnknownFarStream(t *testing.T) {
	a := newTestAnalyzer(t)
	// Flush gaps spread evenly (in log) from 3 to 300 ms: a token-paced
	// run, but far wider than any single route's cadence.
	b := newBuilder(3)
	b.tlsHandshake()
	b.write(b.now, false, 2000)
	b.advance(400 * ms)
	for range 300 {
		g := 3 * math.Pow(100, b.rng.Float64()) // ms
		b.write(b.advance(int64(g*1e6)), true, 200)
	}
	r := a.Analyze(b.build(), FlowContext{})
	if r.Class != schemas.ClassLLMStream {
		t.Fatalf("class %s: %v", r.Class, r.Reasons)
	}
	if r.Route.Name != RouteUnknown || r.Route.Score >= a.cfg.RouteMinScore {
		t.Errorf("route %s score %.2f, want unknown below %.2f", r.Route.Name, r.Route.Score, a.cfg.RouteMinScore)
	}
	if !strings.Contains(strings.Join(r.Reasons, " "), "no route profile fits") {
		t.Errorf("reasons: %v", r.Reasons)
	}
}

func TestRouteSNI(t *testing.T) {
	a := newTestAnalyzer(t)
	haiku, _ := a.profiles.Route("anthropic/claude-3.5-haiku")
	flow := genProfileStream(7, haiku, 120).build()
	cases := []struct {
		sni     string
		rel     string
		reasons []string
	}{
		{"", SNINone, nil},
		{"API.Anthropic.com.", SNIListed, []string{"corroborates"}},
		{"llm.internal.example", SNIUnlisted, []string{"no profile lists", "self-hosted or proxied"}},
		{"api.openai.com", SNIListed, []string{"listed for provider [openai] but the cadence fits anthropic/claude-3.5-haiku"}},
	}
	for _, c := range cases {
		r := a.Analyze(flow, FlowContext{SNI: c.sni})
		if r.Class != schemas.ClassLLMStream || r.Route.Name != haiku.Name {
			t.Fatalf("sni %q: %s route %s: %v", c.sni, r.Class, r.Route.Name, r.Reasons)
		}
		if r.Route.SNI != c.rel {
			t.Errorf("sni %q: relation %s, want %s", c.sni, r.Route.SNI, c.rel)
		}
		all := strings.Join(r.Reasons, " | ")
		for _, w := range c.reasons {
			if !strings.Contains(all, w) {
				t.Errorf("sni %q: reasons lack %q: %s", c.sni, w, all)
			}
		}
	}
	// The name is never the only evidence.
	r := a.Analyze(genTicker(1, 60, 1000*ms, 5*ms).build(), FlowContext{SNI: "api.anthropic.com"})
	if r.Class != schemas.ClassOther || r.Route.Name != RouteUnknown || r.Route.SNI != SNIListed {
		t.Errorf("ticker to an LLM API name: %s route %s sni %s", r.Class, r.Route.Name, r.Route.SNI)
	}
}

// TestRouteSNIBreaksTie: two routes with the same cadence; the server name
// picks the one that lists it, and without it the route is unknown with
// the shared provider.
func TestRouteSNIBreaksTie(t *testing.T) {
	p, err := ParseProfiles("twins.yaml", []byte(`routes:
  - name: acme/a
    provider: acme
    servers: [a.acme.example]
    gap_ms: {mean: 40, std: 60}
    source: test
  - name: acme/b
    provider: acme
    servers: [b.acme.example]
    gap_ms: {mean: 40, std: 60}
    source: test
`), &Profiles{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAnalyzer(DefaultConfig(), p)
	if err != nil {
		t.Fatal(err)
	}
	twin, _ := p.Route("acme/a")
	flow := genProfileStream(3, twin, 300).build()
	r := a.Analyze(flow, FlowContext{})
	if r.Route.Name != RouteUnknown || r.Route.Provider != "acme" || len(r.Route.Candidates) != 2 {
		t.Errorf("twins without SNI: %+v", r.Route)
	}
	r = a.Analyze(flow, FlowContext{SNI: "b.acme.example"})
	if r.Route.Name != "acme/b" || r.Route.SNI != SNIListed {
		t.Errorf("twins with SNI b: %+v %v", r.Route, r.Reasons)
	}
}

func TestRouteHistogram(t *testing.T) {
	if routeBin(0.5) != 0 || routeBin(1) != 1 || routeBin(1.9) != 1 || routeBin(2) != 2 || routeBin(1e9) != routeBins-1 {
		t.Error("route bin edges")
	}
	p := lognormalBins(3, 1)
	var sum float64
	for _, x := range p {
		sum += x
	}
	if sum < 0.999 || sum > 1.001+routeBins*1e-6 {
		t.Errorf("bin probabilities sum to %v", sum)
	}
}
