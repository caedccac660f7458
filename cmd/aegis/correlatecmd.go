package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gopkg.in/yaml.v3"

	"github.com/aegis-nsm/aegis/enrich/correlate"
	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/enrich/sink/kafka"
	"github.com/aegis-nsm/aegis/llm"
	"github.com/aegis-nsm/aegis/rules"
)

// correlateConfig is correlate.yaml: every setting of 'aegis correlate'.
// deploy/correlate.yaml documents every key.
type correlateConfig struct {
	// Name names this instance: the aegis-sensor header of the campaign
	// records it publishes (default output.sensor), logs and metrics.
	Name string `yaml:"name"`
	// Input and Campaigns: the consumer group and the windows.
	correlate.Config `yaml:",inline"`
	// Rules: which rules to load (the campaign rules among them).
	Rules correlateRulesConfig `yaml:"rules"`
	// Output is the Kafka sink campaign (and verdict) records go to;
	// brokers default to input.brokers, sensor to name.
	Output kafka.Config `yaml:"output"`
	// LLM, when the section is present, sends the detection records of
	// every campaign to the reasoning stage for a cross-sensor intent
	// chain (verdict records on the verdict topic).
	LLM     *llm.Config   `yaml:"llm"`
	Metrics metricsConfig `yaml:"metrics"`
	// ShutdownTimeout bounds the drain on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// correlateRulesConfig is the part of rules.Config that correlation uses
// (recon counting happens at the sensors).
type correlateRulesConfig struct {
	Dir            string              `yaml:"dir"`
	Disable        []string            `yaml:"disable"`
	Lists          map[string][]string `yaml:"lists"`
	SequenceWindow time.Duration       `yaml:"sequence_window"`
}

func (r correlateRulesConfig) rulesConfig() rules.Config {
	c := rules.DefaultConfig()
	c.Dir, c.Disable, c.Lists, c.SequenceWindow = r.Dir, r.Disable, r.Lists, r.SequenceWindow
	return c
}

func defaultCorrelateConfig() correlateConfig {
	def := rules.DefaultConfig()
	return correlateConfig{
		Name:            hostname(),
		Config:          correlate.DefaultConfig(),
		Rules:           correlateRulesConfig{Dir: def.Dir, SequenceWindow: def.SequenceWindow},
		Metrics:         metricsConfig{Listen: "127.0.0.1:9179"},
		ShutdownTimeout: 30 * time.Second,
	}
}

// loadCorrelateConfig reads path strictly: an unknown key, a wrong type or
// an invalid value is an error naming the file and the line.
func loadCorrelateConfig(path string) (*correlateConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCorrelateConfig(path, raw)
}

func parseCorrelateConfig(name string, raw []byte) (*correlateConfig, error) {
	cfg := defaultCorrelateConfig()
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, yamlError(err))
	}
	if keyLine(&root, "llm") > 0 {
		def := llm.DefaultConfig()
		cfg.LLM = &def
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, yamlError(err))
	}
	if len(cfg.Output.Brokers) == 0 {
		cfg.Output.Brokers = cfg.Input.Brokers
		cfg.Output.TLS, cfg.Output.SASL = cfg.Input.TLS, cfg.Input.SASL
	}
	if cfg.Output.Sensor == "" {
		cfg.Output.Sensor = cfg.Name
	}
	if cfg.LLM != nil {
		cfg.LLM.Sensor = cfg.Name
	}
	if err := cfg.validate(); err != nil {
		return nil, locate(name, &root, err)
	}
	return &cfg, nil
}

// validate checks every section and returns every problem, each naming
// its key.
func (c *correlateConfig) validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name: must not be empty"))
	}
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	rc := c.Rules.rulesConfig()
	if err := rc.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Output.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("output: %w", err))
	}
	if c.LLM != nil {
		if err := c.LLM.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("shutdown_timeout: %v must be positive", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// keyPattern finds the key a validation message is about: "input.brokers",
// "kafka: brokers" (output), "rules: sequence_window", "llm: url".
var keyPattern = regexp.MustCompile(`^(?:output: kafka: |(rules|llm): )?([a-z_]+(?:\.[a-z_]+)*)`)

// locate prefixes each line of a validation error with file:line of the
// key it names, when the file has that key (else with the file name).
func locate(name string, root *yaml.Node, err error) error {
	var out []string
	for _, msg := range strings.Split(err.Error(), "\n") {
		line := 0
		if m := keyPattern.FindStringSubmatch(msg); m != nil {
			path := m[2]
			switch {
			case strings.HasPrefix(msg, "output: kafka: "):
				path = "output." + path
			case m[1] != "":
				path = m[1] + "." + path
			}
			for p := path; p != "" && line == 0; p = parent(p) {
				line = keyLine(root, p)
			}
		}
		if line > 0 {
			out = append(out, fmt.Sprintf("%s:%d: %s", name, line, msg))
		} else {
			out = append(out, fmt.Sprintf("%s: %s", name, msg))
		}
	}
	return errors.New(strings.Join(out, "\n"))
}

func parent(p string) string {
	if i := strings.LastIndexByte(p, '.'); i > 0 {
		return p[:i]
	}
	return ""
}

// keyLine returns the line of the dotted key path in the YAML document, 0
// when absent.
func keyLine(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, k := range strings.Split(path, ".") {
		if n.Kind != yaml.MappingNode {
			return 0
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			return 0
		}
	}
	return line
}

// runCorrelate is 'aegis correlate --config FILE'.
func runCorrelate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("aegis correlate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "correlate.yaml `file` (see deploy/correlate.yaml)")
	logFormat := fs.String("log-format", "json", "log format: json or text")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	check := fs.Bool("check", false, "validate the configuration and the rules, then exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: aegis correlate --config correlate.yaml [--check] [--log-format json|text]

Joins the detections of every sensor (their detection topics, read as one
Kafka consumer group keyed by source host) and publishes cross-sensor
campaigns: reconnaissance at one sensor, agent activity at another, one
record per campaign version on the campaign topic.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *config == "" && fs.NArg() == 1 {
		*config = fs.Arg(0)
	}
	if *config == "" {
		fs.Usage()
		fmt.Fprintln(stderr, "aegis correlate: no configuration: use --config FILE")
		return exitUsage
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "aegis correlate: %v\n", err)
		return exitUsage
	}
	cfg, err := loadCorrelateConfig(*config)
	if err != nil {
		log.Error("configuration", "err", err)
		return exitUsage
	}
	rcfg := cfg.Rules.rulesConfig()
	set, err := rules.Load(rcfg)
	if err != nil {
		log.Error("rules", "err", err)
		return exitUsage
	}
	for _, w := range set.Warnings() {
		log.Warn("rules", "warning", w)
	}
	crules, err := correlate.NewRules(set, rcfg, cfg.Campaigns.Rules)
	if err != nil {
		log.Error("rules", "err", err)
		return exitUsage
	}
	if *check {
		fmt.Fprintf(stdout, "%s: OK (campaign rules %s, window %v)\n", *config, strings.Join(crules.IDs(), ", "), crules.Window())
		return exitOK
	}
	out, err := kafka.New(cfg.Output, log)
	if err != nil {
		log.Error("output", "err", err)
		return exitUsage
	}
	defer out.Close()
	if err := out.Check(ctx); err != nil {
		log.Error("output", "err", err)
		return exitUsage
	}

	var opts []correlate.Option
	var stage *llm.Stage
	llmCtx, stopLLM := context.WithCancel(context.Background())
	defer stopLLM()
	llmDone := make(chan struct{})
	if cfg.LLM != nil {
		publish := func(m sink.Message) {
			if err := out.Write(llmCtx, m); err != nil && llmCtx.Err() == nil {
				log.Warn("llm: verdict not published", "err", err)
			}
		}
		if stage, err = llm.New(*cfg.LLM, publish, log); err != nil {
			log.Error("llm", "err", err)
			return exitUsage
		}
		opts = append(opts, correlate.WithExplainer(stage))
		go func() { stage.Run(llmCtx); close(llmDone) }()
	} else {
		close(llmDone)
	}
	svc, err := correlate.New(cfg.Config, crules, out, log, opts...)
	if err != nil {
		log.Error("start-up", "err", err)
		return exitUsage
	}
	if err := svc.Check(ctx); err != nil {
		log.Error("input", "err", err)
		return exitUsage
	}
	addr, err := serveCorrelateMetrics(ctx, cfg.Metrics, svc, out, stage, log)
	if err != nil {
		log.Error("start-up", "err", err)
		return exitUsage
	}
	log.Info("started", "name", cfg.Name, "metrics", addr, "campaign_topic", out.Config().Topics[sink.KindCampaign])
	runErr := svc.Run(ctx)

	// Shutdown: the service has drained and committed; let the reasoning
	// stage publish what it holds, then flush and close the sink.
	shut, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if stage != nil {
		if err := stage.Flush(shut); err != nil {
			log.Warn("llm: flush", "err", err)
		}
	}
	stopLLM()
	<-llmDone
	if err := out.Flush(shut); err != nil {
		log.Warn("output: flush", "err", err)
	}
	if runErr != nil {
		log.Error("run", "err", runErr)
		return exitFailure
	}
	log.Info("stopped")
	return exitOK
}

// Metric descriptions of 'aegis correlate'.
var (
	mcRecords    = desc("correlate_records_total", "Records read from the detection topics, per outcome (correlated, replayed, ignored, bad).", "outcome")
	mcCampaigns  = desc("correlate_campaign_records_total", "Campaign records per outcome (published: handed to the sink; failed: the sink gave up on them).", "outcome")
	mcOpened     = desc("correlate_campaigns_opened_total", "Campaigns opened (replays included).")
	mcOpen       = desc("correlate_campaigns_open", "Campaigns open now (spans not yet closed).")
	mcHosts      = desc("correlate_hosts", "Hosts with a window now.")
	mcDropped    = desc("correlate_dropped_total", "Records and hosts dropped, per reason (late, duplicate, trimmed, host_evicted).", "reason")
	mcOutOfOrder = desc("correlate_out_of_order_total", "Records older than their host's newest one (the host was re-evaluated).")
	mcEvaluated  = desc("correlate_evaluations_total", "Detections run through the rules engine.")
	mcRebuilds   = desc("correlate_rebuilds_total", "Partitions taken with windows to rebuild from the look-back.")
	mcGens       = desc("correlate_generations_total", "Consumer group generations joined (rebalances).")
	mcCommits    = desc("correlate_commits_total", "Offset commits per outcome (ok, error).", "outcome")
	mcLag        = desc("correlate_partition_lag", "Records between a partition's processed position and its end at the last fetch.", "topic", "partition")
	mcCommitted  = desc("correlate_partition_committed_offset", "Last committed offset of an assigned partition.", "topic", "partition")
	mcRebuilding = desc("correlate_partition_rebuilding", "1 while a partition re-reads its look-back without publishing.", "topic", "partition")
	mcClock      = desc("correlate_partition_clock_seconds", "Partition clock: the latest record time seen, Unix seconds.", "topic", "partition")
	mcAssigned   = desc("correlate_partitions_assigned", "Partitions assigned to this instance now.")
	mcVerdicts   = desc("correlate_llm_verdicts_total", "Verdicts the reasoning stage published for campaigns.")
)

// correlateCollector is the Prometheus view of 'aegis correlate', read at
// scrape time.
type correlateCollector struct {
	svc   *correlate.Service
	out   *kafka.Sink
	stage *llm.Stage
}

func (c correlateCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c correlateCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	st := c.svc.Stats()
	ready := 0.0
	if c.svc.Ready() == "" {
		ready = 1
	}
	gauge(mReady, ready)
	counter(mcRecords, float64(st.Records-st.Replayed-st.Ignored-st.Bad), "correlated")
	counter(mcRecords, float64(st.Replayed), "replayed")
	counter(mcRecords, float64(st.Ignored), "ignored")
	counter(mcRecords, float64(st.Bad), "bad")
	counter(mcCampaigns, float64(st.Published), "published")
	counter(mcCampaigns, float64(st.Failed), "failed")
	t := st.Tracker
	counter(mcOpened, float64(t.Opened))
	gauge(mcOpen, float64(t.OpenCampaigns))
	gauge(mcHosts, float64(t.Hosts))
	counter(mcDropped, float64(t.Late), "late")
	counter(mcDropped, float64(t.Duplicates), "duplicate")
	counter(mcDropped, float64(t.Trimmed), "trimmed")
	counter(mcDropped, float64(t.HostsEvicted), "host_evicted")
	counter(mcOutOfOrder, float64(t.OutOfOrder))
	counter(mcEvaluated, float64(t.Evaluated))
	counter(mcRebuilds, float64(st.Rebuilds))
	counter(mcGens, float64(st.Generations))
	counter(mcCommits, float64(st.Commits), "ok")
	counter(mcCommits, float64(st.CommitErrs), "error")
	gauge(mcAssigned, float64(len(st.Partitions)))
	for _, p := range st.Partitions {
		part := strconv.Itoa(p.Partition)
		gauge(mcLag, float64(p.Lag), p.Topic, part)
		gauge(mcCommitted, float64(p.Committed), p.Topic, part)
		rebuilding := 0.0
		if p.Rebuilding {
			rebuilding = 1
		}
		gauge(mcRebuilding, rebuilding, p.Topic, part)
		if !p.Clock.IsZero() {
			gauge(mcClock, float64(p.Clock.UnixNano())/1e9, p.Topic, part)
		}
	}
	if c.stage != nil {
		counter(mcVerdicts, float64(c.stage.Stats().Verdicts))
	}
	collectSink("kafka", c.out, counter, gauge, ch)
}

// serveCorrelateMetrics serves /metrics, /healthz and /readyz on
// cfg.Listen until ctx ends and returns the bound address ("" when off).
func serveCorrelateMetrics(ctx context.Context, cfg metricsConfig, svc *correlate.Service, out *kafka.Sink, stage *llm.Stage, log *slog.Logger) (string, error) {
	if cfg.Listen == "" {
		return "", nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(correlateCollector{svc, out, stage}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		why := svc.Ready()
		if why == "" {
			if err := out.Err(); err != nil {
				why = "output: " + err.Error()
			}
		}
		if why != "" {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return "", fmt.Errorf("metrics: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	return ln.Addr().String(), nil
}
