package llm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/llm/prompt"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// The record ids of the campaign scenario; the recorded replies name them.
const (
	idScan   = "3c1f0e2a9b8d7c6f5e4d3c2b1a090801"
	idShell  = "7d2e1f3a4b5c6d7e8f90a1b2c3d4e5f6"
	idStream = "b4c5d6e7f8091a2b3c4d5e6f708192a3"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func ts(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }

// record builds a detection record of src with the given id, class,
// severity, times (offsets from t0) and rule hits, shaped as the alert
// pipeline publishes them.
func record(id, src string, class schemas.Class, sev string, start, end time.Duration, hits ...schemas.RuleHit) *schemas.Record {
	score := map[string]int{"none": 0, "low": 21, "medium": 47, "high": 73, "critical": 99}[sev]
	r := &schemas.Record{
		Timestamp: ts(start),
		Event: schemas.Event{ID: id, Kind: "alert", Category: []string{"network"}, Type: []string{"connection"},
			Dataset: "aegis.detection", Start: ts(start), End: ts(end), Duration: int64(end - start), Severity: score},
		Source:      schemas.Endpoint{IP: src, Port: 51000, Bytes: 4000, Packets: 40},
		Destination: schemas.Endpoint{IP: "10.20.0.8", Port: 22, Bytes: 9000, Packets: 50},
		Network:     schemas.Network{Transport: "tcp", IANANumber: "6", CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", Bytes: 13000, Packets: 90},
		Aegis: schemas.AegisSection{SchemaVersion: schemas.SchemaVersion, FlowKey: "tcp " + src + ":51000 10.20.0.8:22",
			Class: class, Confidence: 0.9, Severity: sev, Rules: hits, Reasons: []string{"test record"},
			Route: schemas.RouteMatch{Name: "unknown", SNI: "none"}},
	}
	if len(hits) > 0 {
		var techs []string
		for _, h := range hits {
			techs = append(techs, h.Techniques...)
		}
		r.Threat = &schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{ID: techs}}
	}
	return r
}

// campaign is the scenario for host 10.1.2.3: a port scan of
// 10.20.0.8, five minutes later an agent-driven SSH shell to it (which the
// campaign rule ties to the scan), and, during the shell, an LLM stream
// from a hosted model. Records are returned in the order the alert
// pipeline publishes them (by flow end).
func campaign() []*schemas.Record {
	scan := record(idScan, "10.1.2.3", schemas.ClassOther, "medium", 0, 40*time.Second,
		schemas.RuleHit{ID: "corp-scan-burst", Name: "Port scan burst", Severity: "medium", Tags: []string{"recon"},
			Techniques: []string{"T1046"}, Message: "10.1.2.3 probed about 30 targets on 10.20.0.8"})
	scan.Destination.Port = 1
	scan.Aegis.Confidence = 0.5
	shell := record(idShell, "10.1.2.3", schemas.ClassAgentShell, "critical", 4*time.Minute, 5*time.Minute,
		schemas.RuleHit{ID: "aegis-agent-campaign", Name: "Reconnaissance followed by agent activity", Severity: "critical",
			Tags: []string{"agent", "campaign", "recon"}, Techniques: []string{"T1046", "T1059.004"},
			Message: "Agent campaign: 10.1.2.3 probed about 30 targets, then agent_shell to 10.20.0.8:22 (confidence 0.9)"},
		schemas.RuleHit{ID: "aegis-agent-shell", Name: "Agent-driven shell", Severity: "high", Tags: []string{"agent", "shell"},
			Techniques: []string{"T1059.004"}, Message: "Agent-driven shell 10.1.2.3 -> 10.20.0.8:22 (ssh): 14 commands after pauses of 2310.5 ms (median), confidence 0.9"})
	shell.Network.Protocol = "ssh"
	shell.Aegis.Cadence.Session = schemas.SessionFeatures{CommandSide: "client", Commands: 14, PauseMedianMs: 2310.5, AnsweredShare: 1}
	stream := record(idStream, "10.1.2.3", schemas.ClassLLMStream, "low", 4*time.Minute+10*time.Second, 4*time.Minute+40*time.Second,
		schemas.RuleHit{ID: "aegis-llm-stream", Name: "LLM streaming cadence", Severity: "low", Tags: []string{"llm", "ai-usage"},
			Techniques: []string{"T1071.001"}, Message: "LLM stream to 10.1.2.3 from 104.18.7.192:443 (api.openai.com), route openai/gpt-4o, confidence 0.93"})
	stream.Destination = schemas.Endpoint{IP: "104.18.7.192", Port: 443, Bytes: 48000, Packets: 400}
	stream.TLS = &schemas.TLS{Client: schemas.TLSClient{ServerName: "api.openai.com"}}
	stream.Network.Protocol = "ssl"
	stream.Aegis.Confidence = 0.93
	stream.Aegis.Route = schemas.RouteMatch{Name: "openai/gpt-4o", Provider: "openai", Score: 0.81, SNI: "listed"}
	stream.Aegis.Cadence.Server.IAT = schemas.IATStats{N: 399, MedianMs: 41, CV: 0.6}
	stream.Aegis.Cadence.Exchange = schemas.ExchangeFeatures{Turns: 2, TTFBMs: 420, ServerRunS: 28.5, ServerRunPackets: 390}
	return []*schemas.Record{scan, stream, shell}
}

// collector is a publish callback that keeps every verdict and checks it
// against the verdict JSON Schema.
type collector struct {
	t    testing.TB
	mu   sync.Mutex
	msgs []sink.Message
	got  chan struct{}
}

func newCollector(t testing.TB) *collector { return &collector{t: t, got: make(chan struct{}, 1024)} }

func (c *collector) publish(m sink.Message) {
	if m.Kind != sink.KindVerdict {
		c.t.Errorf("published kind %q, want verdict", m.Kind)
	}
	if err := schemacheck.ValidateVerdictJSON(m.Value); err != nil {
		c.t.Errorf("verdict %s does not match its schema: %v\n%s", m.ID, err, m.Value)
	}
	var v schemas.Verdict
	if err := json.Unmarshal(m.Value, &v); err != nil {
		c.t.Errorf("verdict is not JSON: %v", err)
	} else if m.ID != v.Event.ID || m.SourceIP != v.Source.IP || m.Severity != v.Aegis.Severity {
		c.t.Errorf("message header (%s %s %s) does not match the verdict (%s %s %s)", m.ID, m.SourceIP, m.Severity, v.Event.ID, v.Source.IP, v.Aegis.Severity)
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	select {
	case c.got <- struct{}{}:
	default:
	}
}

func (c *collector) verdicts() []schemas.Verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]schemas.Verdict, len(c.msgs))
	for i, m := range c.msgs {
		if err := json.Unmarshal(m.Value, &out[i]); err != nil {
			c.t.Fatal(err)
		}
	}
	return out
}

func (c *collector) values() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]byte, len(c.msgs))
	for i, m := range c.msgs {
		out[i] = m.Value
	}
	return out
}

// fakeOllama is an httptest server speaking Ollama's /api/chat. Each
// request is answered by the next handler of script (the last one repeats).
type fakeOllama struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []api.ChatRequest
	script []reply
	base   int           // requests served before the current script
	hang   chan struct{} // closed at cleanup: releases hanging handlers
}

// reply answers one request.
type reply func(w http.ResponseWriter, r *http.Request, req api.ChatRequest)

func newFakeOllama(t testing.TB, script ...reply) *fakeOllama {
	f := &fakeOllama{t: t, script: script, hang: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		close(f.hang)
		f.srv.Close()
	})
	return f
}

func (f *fakeOllama) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/chat" {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	var req api.ChatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q}`, err.Error())
		return
	}
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, req)
	h := f.script[min(n-f.base, len(f.script)-1)]
	f.mu.Unlock()
	h(w, r, req)
}

// setScript replaces the answers from the next request on.
func (f *fakeOllama) setScript(script ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script, f.base = script, len(f.reqs)
}

func (f *fakeOllama) requests() []api.ChatRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.ChatRequest(nil), f.reqs...)
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ollama", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func streaming(req api.ChatRequest) bool { return req.Stream == nil || *req.Stream }

// recorded answers with a recorded reply: name.ndjson when the request
// streams and that file exists, else name.json, sent whole or, for a
// streaming request, split into chunks the way Ollama streams.
func recorded(name string) reply {
	return func(w http.ResponseWriter, r *http.Request, req api.ChatRequest) {
		nd, ndErr := os.ReadFile(filepath.Join("testdata", "ollama", name+".ndjson"))
		if streaming(req) && ndErr == nil {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Write(nd)
			return
		}
		js, err := os.ReadFile(filepath.Join("testdata", "ollama", name+".json"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if !streaming(req) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Write(js)
			return
		}
		writeChunked(w, js)
	}
}

// writeChunked streams a non-streaming reply as Ollama would: the content
// in small pieces (done false), then a final object with the metrics.
func writeChunked(w http.ResponseWriter, whole []byte) {
	var full map[string]any
	if err := json.Unmarshal(whole, &full); err != nil {
		panic(err)
	}
	content := full["message"].(map[string]any)["content"].(string)
	w.Header().Set("Content-Type", "application/x-ndjson")
	fl, _ := w.(http.Flusher)
	runes := []rune(content)
	for i := 0; i < len(runes); i += 7 {
		piece := string(runes[i:min(i+7, len(runes))])
		b, _ := json.Marshal(map[string]any{"model": full["model"], "created_at": full["created_at"],
			"message": map[string]any{"role": "assistant", "content": piece}, "done": false})
		w.Write(append(b, '\n'))
		if fl != nil {
			fl.Flush()
		}
	}
	full["message"] = map[string]any{"role": "assistant", "content": ""}
	b, _ := json.Marshal(full)
	w.Write(append(b, '\n'))
}

// jsonReply answers with content (the model's text) in an Ollama-shaped
// reply, streamed or not as asked.
func jsonReply(content string) reply {
	return func(w http.ResponseWriter, r *http.Request, req api.ChatRequest) {
		whole, _ := json.Marshal(map[string]any{"model": req.Model, "created_at": "2026-11-25T10:12:03.5Z",
			"message": map[string]any{"role": "assistant", "content": content}, "done_reason": "stop", "done": true,
			"total_duration": 812345678, "load_duration": 2345678, "prompt_eval_count": 900, "prompt_eval_duration": 91234567,
			"eval_count": 120, "eval_duration": 701234567})
		if streaming(req) {
			writeChunked(w, whole)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(whole)
	}
}

// valid answers every request with a minimal valid reply built from the
// request's format (its record-id enum): one execution step naming every
// record.
func valid() reply {
	return func(w http.ResponseWriter, r *http.Request, req api.ChatRequest) {
		var schema struct {
			Properties struct {
				Chain struct {
					Items struct {
						Properties struct {
							RecordIDs struct {
								Items struct {
									Enum []string `json:"enum"`
								} `json:"items"`
							} `json:"record_ids"`
						} `json:"properties"`
					} `json:"items"`
				} `json:"chain"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(req.Format, &schema); err != nil {
			http.Error(w, `{"error":"bad format"}`, 400)
			return
		}
		ids := schema.Properties.Chain.Items.Properties.RecordIDs.Items.Enum
		c, _ := json.Marshal(map[string]any{"chain": []any{map[string]any{"tactic": "execution", "record_ids": ids, "summary": "agent activity"}},
			"techniques": []string{"T1059.004"}, "narrative": "An agent ran commands.", "route_opinion": ""})
		jsonReply(string(c))(w, r, req)
	}
}

// status answers with an HTTP error and a recorded body.
func status(code int, file string) reply {
	return func(w http.ResponseWriter, r *http.Request, req api.ChatRequest) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		b, err := os.ReadFile(filepath.Join("testdata", "ollama", file))
		if err != nil {
			panic(err)
		}
		w.WriteHeader(code)
		w.Write(b)
	}
}

// hang never answers: it holds the request until the client gives up or
// the test ends.
func (f *fakeOllama) hangs() reply {
	return func(w http.ResponseWriter, r *http.Request, req api.ChatRequest) {
		select {
		case <-r.Context().Done():
		case <-f.hang:
		}
	}
}

// rawBody answers with a fixed NDJSON body from testdata.
func rawBody(file string) reply {
	return func(w http.ResponseWriter, r *http.Request, req api.ChatRequest) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		b, err := os.ReadFile(filepath.Join("testdata", "ollama", file))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(b)
	}
}

// backend is where a test's model requests go.
type backend struct {
	name     string
	url      string
	model    string
	recorded bool // an httptest server with recorded replies
	stream   bool
}

// realOllama returns the real server's backend, or skips with the reason.
func realOllama(t *testing.T) backend {
	t.Helper()
	u := os.Getenv("AEGIS_OLLAMA_URL")
	if u == "" {
		t.Skip("AEGIS_OLLAMA_URL is not set: the real-Ollama run of this test is skipped (set it to e.g. http://127.0.0.1:11434, and AEGIS_OLLAMA_MODEL to override qwen3-coder)")
	}
	m := os.Getenv("AEGIS_OLLAMA_MODEL")
	if m == "" {
		m = "qwen3-coder"
	}
	return backend{name: "ollama", url: u, model: m}
}

// testConfig is an enabled configuration with short timings for tests
// (the tests never assert durations; short values only keep them fast).
func testConfig(url string) Config {
	c := DefaultConfig()
	c.Enabled = true
	c.URL = url
	c.Timeout = 5 * time.Second
	c.Backoff = time.Millisecond
	c.Sensor = "sensor-test"
	return c
}

// startStage builds and runs a stage (opts adjust it before Run); stop
// cancels Run and waits for it, and runs at cleanup too.
func startStage(t testing.TB, cfg Config, publish func(sink.Message), opts ...func(*Stage)) (s *Stage, stop func()) {
	t.Helper()
	s, err := New(cfg, publish, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return s, stop
}

// fakeClock is a wall clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func flush(t testing.TB, s *Stage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// golden compares got with testdata/golden/name (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./llm -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking the change):\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func indent(b []byte) []byte {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		panic(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// ndjsonLines counts the objects of an NDJSON body.
func ndjsonLines(b []byte) int {
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			n++
		}
	}
	return n
}

type (
	sinkMessage = sink.Message
	promptReply = prompt.Reply
)
