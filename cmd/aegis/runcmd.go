package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/aegis-nsm/aegis/enrich/coupling"
	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/ingest/afpacket"
	"github.com/aegis-nsm/aegis/ingest/pcapdir"
	"github.com/aegis-nsm/aegis/llm"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/aegis-nsm/aegis/cadence"
	"github.com/aegis-nsm/aegis/enrich/alert"
	"github.com/aegis-nsm/aegis/ingest/idsfollow"
)

// runOptions are the flags of 'aegis run' and 'aegis check-config'.
type runOptions struct {
	config    string
	logFormat string
	logLevel  string
}

func parseRunFlags(name string, args []string, stderr io.Writer) (*runOptions, error) {
	o := &runOptions{}
	fs := flag.NewFlagSet("aegis "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "aegis.yaml `file` (see deploy/aegis.yaml)")
	fs.StringVar(&o.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.config == "" && fs.NArg() == 1 {
		o.config = fs.Arg(0)
	}
	if o.config == "" {
		fs.Usage()
		return nil, errors.New("no configuration: use --config FILE")
	}
	return o, nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %v", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use json or text", format)
}

// runCheckConfig is 'aegis check-config FILE': the validation 'aegis run'
// does at start, without starting (systemd's ExecStartPre).
func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	o, err := parseRunFlags("check-config", args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "aegis check-config: %v\n", err)
		return exitUsage
	}
	cfg, err := loadRunConfig(o.config)
	if err == nil {
		if _, rerr := loadRules(cfg); rerr != nil {
			err = fmt.Errorf("%s: %w", o.config, rerr)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "aegis check-config: %v\n", err)
		return exitUsage
	}
	if p := cfg.Packets.SuricataConfig; p != "" {
		warnings, err := pcapdir.CheckOptions{JoinDelay: cfg.Join.Grace}.Check(p)
		if err != nil {
			fmt.Fprintf(stderr, "aegis check-config: %s: packets: suricata_config: %v\n", o.config, err)
			return exitUsage
		}
		for _, w := range warnings {
			fmt.Fprintf(stdout, "warning: %s:%d: %s: %s\n", w.File, w.Line, w.Setting, w.Message)
		}
	}
	fmt.Fprintf(stdout, "%s: OK\n", o.config)
	return exitOK
}

// runRun is 'aegis run --config FILE'.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseRunFlags("run", args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "aegis run: %v\n", err)
		return exitUsage
	}
	log, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "aegis run: %v\n", err)
		return exitUsage
	}
	cfg, err := loadRunConfig(o.config)
	if err != nil {
		log.Error("configuration", "err", err)
		return exitUsage
	}
	d, err := startDaemon(ctx, cfg, log, stdout)
	if err != nil {
		// Not the configuration's syntax: a sink, a capture or a rule
		// file that cannot work now. Exit 1, so a supervisor retries
		// (exit 2 means "fix the config", see RestartPreventExitStatus).
		log.Error("start-up", "err", err)
		return exitFailure
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			d.reload(o.config)
		}
	}()
	err = d.wait()
	if err != nil {
		log.Error("run", "err", err)
		return exitFailure
	}
	log.Info("stopped")
	return exitOK
}

// daemon is a started 'aegis run'.
type daemon struct {
	cfg     *runConfig
	log     *slog.Logger
	live    *live
	follow  *idsfollow.Follower
	rules   *ruleStage
	sinks   map[string]sink.Sink
	pcap    *pcapdir.Source  // nil unless packets.source is pcapdir
	afp     *afpacket.Source // nil unless packets.source is afpacket
	closers []func() error
	done    chan error
	ready   atomic.Bool
	// MetricsAddr is the bound address of the metrics endpoint ("" when
	// off).
	metricsAddr string
}

// startDaemon builds every stage from cfg and starts them. Permanent
// problems (a sink that cannot work, a capture that cannot open) fail here,
// with a message that says what to fix.
func startDaemon(ctx context.Context, cfg *runConfig, log *slog.Logger, stdout io.Writer) (*daemon, error) {
	d := &daemon{cfg: cfg, log: log, done: make(chan error, 1)}
	ok := false
	defer func() {
		if !ok {
			d.close()
		}
	}()
	profiles, err := cadence.LoadProfiles(cfg.Profiles)
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	analyzer, err := cadence.NewAnalyzer(cfg.Cadence, profiles)
	if err != nil {
		return nil, err
	}
	if d.rules, err = loadRules(cfg); err != nil {
		return nil, err
	}
	sinks, closeSinks, err := buildSinks(ctx, cfg, log, stdout)
	if err != nil {
		return nil, err
	}
	d.sinks = sinks
	d.closers = append(d.closers, closeSinks)
	alerts, err := alert.New(cfg.Alerts, sinks, log)
	if err != nil {
		return nil, err
	}
	if d.follow, err = idsfollow.New(cfg.Logs, log); err != nil {
		return nil, err
	}
	packets, err := buildPackets(cfg, log)
	if err != nil {
		return nil, err
	}
	d.pcap, d.afp = packets.pcap, packets.afp
	d.closers = append(d.closers, packets.close)
	if d.live, err = newLive(cfg, log, d.follow, packets.run, d.rules, alerts, analyzer, packets.backfill); err != nil {
		return nil, err
	}
	if d.live.coupling, err = coupling.New(cfg.Coupling, coupling.WithLogger(log)); err != nil {
		return nil, err
	}
	lcfg := cfg.LLM
	lcfg.Sensor = cfg.Sensor
	publish := func(m sink.Message) {
		if err := alerts.Publish(context.Background(), m); err != nil {
			log.Error("llm: publishing a verdict", "id", m.ID, "err", err)
		}
	}
	if d.live.llm, err = llm.New(lcfg, publish, log); err != nil {
		return nil, err
	}
	if d.metricsAddr, err = serveMetrics(ctx, cfg.Metrics, d, log); err != nil {
		return nil, err
	}
	log.Info("started", "sensor", cfg.Sensor, "packets", cfg.Packets.Source, "sinks", len(sinks),
		"zeek", cfg.Logs.Zeek, "eve", cfg.Logs.EVE, "metrics", d.metricsAddr)
	d.ready.Store(true)
	go func() {
		err := d.live.run(ctx)
		d.ready.Store(false)
		d.done <- err
	}()
	ok = true
	return d, nil
}

// wait blocks until the pipeline stopped, then closes the follower (the
// last checkpoint: only acknowledged lines) and the sinks.
func (d *daemon) wait() error {
	err := <-d.done
	if cerr := d.follow.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("logs: writing the last checkpoint: %w", cerr))
	}
	return errors.Join(err, d.close())
}

func (d *daemon) close() error {
	var err error
	for i := len(d.closers) - 1; i >= 0; i-- {
		err = errors.Join(err, d.closers[i]())
	}
	d.closers = nil
	return err
}

// reload re-reads the rules and profiles of the configuration at path
// (SIGHUP). A file that does not load keeps the old set; the log says why.
// Nothing in flight is dropped: the new sets apply to the next record.
func (d *daemon) reload(path string) {
	cfg, err := loadRunConfig(path)
	if err != nil {
		d.log.Error("reload: configuration does not load; keeping the running rules and profiles", "err", err)
		return
	}
	profiles, err := cadence.LoadProfiles(cfg.Profiles)
	if err != nil {
		d.log.Error("reload: profiles do not load; keeping the running ones", "err", err)
		return
	}
	analyzer, err := cadence.NewAnalyzer(d.cfg.Cadence, profiles)
	if err != nil {
		d.log.Error("reload: analyzer", "err", err)
		return
	}
	if err := d.rules.reload(cfg); err != nil {
		d.log.Error("reload: rules do not load; keeping the running set", "err", err)
		return
	}
	d.live.analyzer.Store(analyzer)
	d.log.Info("reloaded rules and profiles", "config", path)
}
