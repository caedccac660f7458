package cadence

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenFlows are the scenarios whose full results are pinned.
func goldenFlows() map[string]*flowtable.Flow {
	ho, _ := genHandoff(4, 5, 6, false)
	haiku := genStream(9, 60, 110*ms, 0.5, 400, 700*ms)
	return map[string]*flowtable.Flow{
		"llm_stream":        genStream(1, 300, 40*ms, 0.6, 300, 600*ms).build(),
		"llm_stream_haiku":  haiku.build(),
		"agent_shell":       genAgentShell(2, 8).build(),
		"human_interactive": genHuman(3, 4).build(),
		"handoff":           ho.build(),
		"agent_exfil":       genExfil(5, 4, 16384, 1<<20, 200*ms, true).build(),
		"other_ticker":      genTicker(6, 60, 1000*ms, 5*ms).build(),
	}
}

func resultJSON(t testing.TB, r Result) []byte {
	t.Helper()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatalf("result does not encode: %v", err)
	}
	return append(b, '\n')
}

// TestGolden pins complete results (features, class, confidence, reasons,
// route) for fixed flows: the same flow must give the same bytes on every
// run and every platform. Run with -update after an intended change.
func TestGolden(t *testing.T) {
	a := newTestAnalyzer(t)
	for name, f := range goldenFlows() {
		t.Run(name, func(t *testing.T) {
			got := resultJSON(t, a.Analyze(f, FlowContext{SNI: "api.anthropic.com", Service: "ssl"}))
			again := resultJSON(t, a.Analyze(f, FlowContext{SNI: "api.anthropic.com", Service: "ssl"}))
			if !bytes.Equal(got, again) {
				t.Fatal("two analyses of the same flow differ")
			}
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("result differs from %s (run with -update if intended):\n%s", path, got)
			}
			if !strings.HasPrefix(name, string(mustClass(t, got))) {
				t.Errorf("golden %s holds class %s", name, mustClass(t, got))
			}
		})
	}
}

func mustClass(t *testing.T, b []byte) schemas.Class {
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.Class
}

// TestConcurrentAnalyze runs many goroutines over shared flows and checks
// they agree with a sequential run (run with -race).
func TestConcurrentAnalyze(t *testing.T) {
	a := newTestAnalyzer(t)
	flows := goldenFlows()
	names := make([]string, 0, len(flows))
	want := map[string][]byte{}
	for n, f := range flows {
		names = append(names, n)
		want[n] = resultJSON(t, a.Analyze(f, FlowContext{}))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				n := names[(g+i)%len(names)]
				if got := resultJSON(t, a.Analyze(flows[n], FlowContext{})); !bytes.Equal(got, want[n]) {
					errs <- n
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for n := range errs {
		t.Errorf("concurrent result for %s differs from the sequential one", n)
	}
}

// TestResultValidatesAgainstSchema puts each result into a published record
// and validates it against the JSON Schema.
func TestResultValidatesAgainstSchema(t *testing.T) {
	a := newTestAnalyzer(t)
	for name, f := range goldenFlows() {
		r := a.Analyze(f, FlowContext{SNI: "api.openai.com"})
		rec := recordFor(r)
		if err := schemacheck.ValidateRecord(rec); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// recordFor wraps a result in an otherwise minimal valid record.
func recordFor(r Result) *schemas.Record {
	reasons := r.Reasons
	if reasons == nil {
		reasons = []string{}
	}
	return &schemas.Record{
		Timestamp:   "2026-11-25T10:00:00Z",
		Event:       schemas.Event{ID: strings.Repeat("ab", 16), Kind: "event", Category: []string{"network"}, Type: []string{"connection"}, Dataset: "aegis.detection", Start: "2026-11-25T10:00:00Z", End: "2026-11-25T10:00:01Z", Duration: 1},
		Source:      schemas.Endpoint{IP: "10.0.0.1", Port: 51000},
		Destination: schemas.Endpoint{IP: "10.0.0.2", Port: 443},
		Network:     schemas.Network{Transport: "tcp", IANANumber: "6", CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		Aegis: schemas.AegisSection{SchemaVersion: schemas.SchemaVersion, FlowKey: "tcp 10.0.0.1:51000 10.0.0.2:443",
			Class: r.Class, Confidence: r.Confidence, Reasons: reasons, Handoff: r.Handoff, Route: r.Route, Cadence: r.Features, Severity: "none"},
	}
}

func TestAnalyzeNilAndEmpty(t *testing.T) {
	a := newTestAnalyzer(t)
	if r := a.Analyze(nil, FlowContext{}); r.Class != schemas.ClassOther || r.Route.Name != RouteUnknown {
		t.Errorf("nil flow: %+v", r)
	}
	r := a.Analyze(&flowtable.Flow{}, FlowContext{})
	if r.Class != schemas.ClassOther || r.Features.Session.CommandSide != "none" {
		t.Errorf("empty flow: %+v", r)
	}
	if err := schemacheck.ValidateRecord(recordFor(r)); err != nil {
		t.Errorf("empty flow record: %v", err)
	}
}
