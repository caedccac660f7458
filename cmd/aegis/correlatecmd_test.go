package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/aegis-nsm/aegis/enrich/correlate"
	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/enrich/sink/kafka"
	"github.com/aegis-nsm/aegis/rules"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

// TestCorrelateConfig covers defaults, the optional llm section and
// errors that name the file and the line.
func TestCorrelateConfig(t *testing.T) {
	const minimal = "input:\n  brokers: [k1:9092]\n  topics: [aegis.detections]\n"
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, c *correlateConfig)
		err   string // regexp the error must match
	}{
		{name: "minimal", yaml: "name: c1\n" + minimal, check: func(t *testing.T, c *correlateConfig) {
			if c.Input.GroupID != correlate.DefaultGroupID || c.Campaigns.Span != time.Hour || c.Campaigns.Lookback != 2*time.Hour ||
				c.Output.Brokers[0] != "k1:9092" || c.Output.Sensor != "c1" || c.LLM != nil || c.Metrics.Listen != "127.0.0.1:9179" ||
				c.Rules.SequenceWindow != 10*time.Minute {
				t.Errorf("%+v", c)
			}
		}},
		{name: "llm section", yaml: minimal + "llm:\n  model: llama3\n", check: func(t *testing.T, c *correlateConfig) {
			if c.LLM == nil || c.LLM.Model != "llama3" || c.LLM.URL == "" || c.LLM.Window != 10*time.Minute {
				t.Errorf("llm %+v", c.LLM)
			}
		}},
		{name: "output of its own", yaml: minimal + "output:\n  brokers: [k2:9092]\n  sensor: x\n", check: func(t *testing.T, c *correlateConfig) {
			if c.Output.Brokers[0] != "k2:9092" || c.Output.Sensor != "x" {
				t.Errorf("output %+v", c.Output)
			}
		}},
		{name: "unknown key", yaml: minimal + "campaigns:\n  spam: 1h\n", err: `c\.yaml: line 5: field spam not found`},
		{name: "wrong type", yaml: minimal + "campaigns:\n  span: soon\n", err: `line 5: cannot unmarshal`},
		{name: "bad start", yaml: "input:\n  brokers: [k1:9092]\n  topics: [t]\n  start: middle\n", err: `c\.yaml:4: input\.start: "middle"`},
		{name: "no brokers", yaml: "input:\n  topics: [t]\n", err: `c\.yaml:1: input\.brokers: at least one broker`},
		{name: "short look-back", yaml: minimal + "campaigns:\n  lookback: 30m\n", err: `c\.yaml:5: campaigns\.lookback 30m0s must cover`},
		{name: "bad output", yaml: minimal + "output:\n  compression: brotli\n", err: `c\.yaml:5: output: kafka: compression "brotli"`},
		{name: "bad rules", yaml: minimal + "rules:\n  sequence_window: 48h\n", err: `c\.yaml:5: rules: sequence_window`},
		{name: "bad llm", yaml: minimal + "llm:\n  url: ftp://x\n", err: `c\.yaml:5: llm: url`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCorrelateConfig("c.yaml", []byte(tt.yaml))
			if tt.err != "" {
				if err == nil || !regexp.MustCompile(tt.err).MatchString(err.Error()) {
					t.Fatalf("err = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// TestCorrelateDeployExample: deploy/correlate.yaml is valid, names every
// key there is, and comments each section and setting.
func TestCorrelateDeployExample(t *testing.T) {
	const path = "../../deploy/correlate.yaml"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCorrelateConfig(path, raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.LLM == nil || c.Output.Topics[sink.KindCampaign] != "aegis.campaigns" {
		t.Errorf("example: %+v", c)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	// Every section the configuration has is in the example.
	for _, key := range []string{"name", "input", "campaigns", "rules", "output", "llm", "metrics", "shutdown_timeout",
		"input.tls", "input.sasl", "input.start", "input.session_timeout", "input.drain_timeout", "input.commit_interval",
		"campaigns.span", "campaigns.lookback", "campaigns.lateness", "campaigns.max_hosts", "campaigns.max_host_records", "campaigns.max_evidence", "campaigns.rules"} {
		if keyLine(&root, key) == 0 {
			t.Errorf("%s: no %s", path, key)
		}
	}
	// Each setting is commented: a comment on it, or on a key just before
	// it in the same block (a group of settings under one comment).
	var walk func(n *yaml.Node, path string, parentCommented bool)
	walk = func(n *yaml.Node, path string, parentCommented bool) {
		if n.Kind == yaml.DocumentNode {
			walk(n.Content[0], path, false)
			return
		}
		if n.Kind != yaml.MappingNode || strings.HasPrefix(path, "output.topics") {
			return
		}
		commented := parentCommented // the section's comment covers its first keys
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.HeadComment != "" || k.LineComment != "" {
				commented = true
			}
			if !commented {
				t.Errorf("%s:%d: %s%s has no comment", "deploy/correlate.yaml", k.Line, path, k.Value)
			}
			walk(n.Content[i+1], path+k.Value+".", k.HeadComment != "" || k.LineComment != "")
		}
	}
	walk(&root, "", false)
}

// correlateBuf is a goroutine-safe writer for the command's output.
type correlateBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *correlateBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *correlateBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCorrelateCommand runs 'aegis correlate' against kfake: sensors
// publish a recon record and an agent shell of one host; the command
// publishes the campaign, serves /metrics (with per-partition lag),
// /healthz and /readyz, and exits 0 on cancellation. --check validates
// without starting.
func TestCorrelateCommand(t *testing.T) {
	topics := map[sink.Kind]string{}
	var names []string
	for _, k := range sink.Kinds {
		topics[k] = "aegis-cmd." + string(k)
		names = append(names, topics[k])
	}
	f, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, names...), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	addr := f.ListenAddrs()[0]
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "correlate.yaml")
	cfgYAML := fmt.Sprintf(`name: correlate-test
input:
  brokers: [%s]
  topics: [%s]
  group_id: cmd-test
  session_timeout: 20s
  heartbeat_interval: 200ms
  rebalance_timeout: 40s
  drain_timeout: 30s
  join_backoff: 200ms
  commit_interval: 100ms
  max_wait: 100ms
rules:
  dir: ""
output:
  topics: {detection: %s, verdict: %s, coupling: %s, campaign: %s}
  batch_timeout: 2ms
llm:
  enabled: false
  min_severity: medium
  max_wait: 300ms
metrics:
  listen: 127.0.0.1:0
shutdown_timeout: 10s
`, addr, topics[sink.KindDetection], topics[sink.KindDetection], topics[sink.KindVerdict], topics[sink.KindCoupling], topics[sink.KindCampaign])
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o644); err != nil {
		t.Fatal(err)
	}

	var out, errOut correlateBuf
	if code := runCorrelate(context.Background(), []string{"--check", "--config", cfgPath}, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "OK (campaign rules aegis-agent-campaign") {
		t.Fatalf("--check: exit %d, %s %s", code, out.String(), errOut.String())
	}
	if code := runCorrelate(context.Background(), []string{"--config", filepath.Join(dir, "missing.yaml")}, io.Discard, io.Discard); code != exitUsage {
		t.Errorf("missing config: exit %d", code)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr correlateBuf
	code := make(chan int, 1)
	go func() {
		code <- runCorrelate(ctx, []string{"--config", cfgPath, "--log-format", "json", "--log-level", "debug"}, &stdout, &stderr)
	}()

	// Two sensors publish one host's recon and agent shell.
	host := "10.70.0.5"
	end := time.Date(2026, 3, 2, 9, 14, 0, 0, time.UTC)
	rc, err := correlate.ReconRecord("sensor-a", rules.ReconFinding{Source: host, Start: end.Add(-4 * time.Minute), At: end.Add(-3 * time.Minute), Targets: 50, Probes: 60})
	if err != nil {
		t.Fatal(err)
	}
	shell := cmdShellRecord(host, end)
	for _, p := range []struct {
		sensor string
		v      any
	}{{"sensor-a", rc}, {"sensor-b", shell}} {
		s, err := kafka.New(kafka.Config{Brokers: []string{addr}, Topics: topics, Sensor: p.sensor, BatchTimeout: 2 * time.Millisecond}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(p.v)
		if err := s.Write(ctx, sink.Message{Kind: sink.KindDetection, Value: b, SourceIP: host}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// The campaign arrives on the campaign topic.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics[sink.KindCampaign]), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
	defer pcancel()
	var got *kgo.Record
	for got == nil {
		fs := cl.PollFetches(pctx)
		if pctx.Err() != nil {
			t.Fatalf("no campaign record; stderr:\n%s", stderr.String())
		}
		fs.EachRecord(func(r *kgo.Record) { got = r })
	}
	if err := schemacheck.ValidateCampaignJSON(got.Value); err != nil {
		t.Errorf("campaign record fails the schema: %v", err)
	}
	var c schemas.Campaign
	json.Unmarshal(got.Value, &c)
	if c.Source.IP != host || c.Aegis.Version != 1 || len(c.Aegis.Steps) != 2 || strings.Join(c.Aegis.Sensors, ",") != "sensor-a,sensor-b" || string(got.Key) != host {
		t.Errorf("campaign %s", got.Value)
	}
	for _, h := range got.Headers {
		if h.Key == kafka.HeaderSensor && string(h.Value) != "correlate-test" {
			t.Errorf("aegis-sensor header %q", h.Value)
		}
	}

	// The reasoning stage (model off) publishes a verdict over the
	// campaign's detections.
	vcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics[sink.KindVerdict]), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer vcl.Close()
	var verdict []byte
	for verdict == nil {
		fs := vcl.PollFetches(pctx)
		if pctx.Err() != nil {
			t.Fatalf("no verdict record; stderr:\n%s", stderr.String())
		}
		fs.EachRecord(func(r *kgo.Record) { verdict = r.Value })
	}
	if err := schemacheck.ValidateVerdictJSON(verdict); err != nil {
		t.Errorf("verdict fails the schema: %v", err)
	}
	var v schemas.Verdict
	json.Unmarshal(verdict, &v)
	if v.Source.IP != host || strings.Join(v.Aegis.Detections, ",") != shell.Event.ID || v.Aegis.Outcome != schemas.OutcomeDisabled {
		t.Errorf("verdict %s", verdict)
	}

	// Metrics, health and readiness.
	m := regexp.MustCompile(`"metrics":"([^"]+)"`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", stderr.String())
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz %d %s", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, metrics := get("/metrics")
		want := []string{
			`aegis_correlate_partition_lag{partition="0",topic="` + topics[sink.KindDetection] + `"} 0`,
			`aegis_correlate_campaign_records_total{outcome="published"} 1`,
			`aegis_correlate_records_total{outcome="correlated"} 2`,
			`aegis_correlate_partitions_assigned 3`,
			`aegis_sink_records_total{outcome="acked",sink="kafka"} 2`, // the campaign and the verdict
			`aegis_ready 1`,
			`aegis_correlate_llm_verdicts_total 1`,
		}
		missing := ""
		for _, w := range want {
			if !strings.Contains(metrics, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			var ours []string
			for _, l := range strings.Split(metrics, "\n") {
				if strings.HasPrefix(l, "aegis_") {
					ours = append(ours, l)
				}
			}
			t.Fatalf("/metrics lacks %s:\n%s", missing, strings.Join(ours, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}

	cancel()
	select {
	case c := <-code:
		if c != exitOK {
			t.Errorf("exit %d; stderr:\n%s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("aegis correlate did not stop")
	}
}

// cmdShellRecord is a schema-valid agent-shell detection of host ending at
// end.
func cmdShellRecord(host string, end time.Time) *schemas.Record {
	start := end.Add(-time.Minute)
	rec := &schemas.Record{
		Timestamp: start.Format(time.RFC3339Nano),
		Event: schemas.Event{ID: strings.Repeat("ab", 16), Kind: "alert", Category: []string{"network"}, Type: []string{"connection"}, Dataset: "aegis.detection",
			Start: start.Format(time.RFC3339Nano), End: end.Format(time.RFC3339Nano), Duration: int64(time.Minute), Severity: 73},
		Source:      schemas.Endpoint{IP: host, Port: 51000, Bytes: 4000, Packets: 40},
		Destination: schemas.Endpoint{IP: "10.30.1.20", Port: 22, Bytes: 9000, Packets: 90},
		Network:     schemas.Network{Transport: "tcp", IANANumber: "6", CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", Protocol: "ssh", Bytes: 13000, Packets: 130},
	}
	rec.Aegis.SchemaVersion = schemas.SchemaVersion
	rec.Aegis.FlowKey = "tcp " + host + ":51000 10.30.1.20:22"
	rec.Aegis.Class = schemas.ClassAgentShell
	rec.Aegis.Confidence = 0.9
	rec.Aegis.Severity = "high"
	rec.Aegis.Reasons = []string{"test"}
	rec.Aegis.Route = schemas.RouteMatch{Name: "unknown", SNI: "none"}
	rec.Aegis.Cadence.Session.CommandSide = "client"
	return rec
}
