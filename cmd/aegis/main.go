// Command aegis is the Aegis sidecar: it reads what a Zeek or Suricata
// sensor writes, measures the packet cadence of the flows worth a closer
// look, and publishes records of machine-paced LLM and agent traffic.
//
// This package is the one place that wires the stages (ingest, cadence,
// enrich) in order; the stages know only schemas.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes. Bad packets and bad log lines are counted, not errors.
const (
	exitOK      = 0
	exitFailure = 1 // the run failed (output could not be written, ...)
	exitUsage   = 2 // bad flags or configuration
	exitInput   = 3 // an input file could not be opened or read; the rest was processed
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `aegis: is that an AI agent on my network?

Usage:
  aegis analyze --pcap FILE... [--zeek LOG...] [--eve FILE...] [flags]
  aegis run --config aegis.yaml [--log-format json|text]
  aegis check-config aegis.yaml
  aegis rules check|test|list DIR
  aegis correlate --config correlate.yaml
  aegis eval [--seed N] [--scale N]
  aegis synth --out DIR [--seed N] [--packets N]
  aegis version

Commands:
  analyze   read pcap/pcapng files (and the Zeek or Suricata logs written
            from them), measure each flow's packet cadence and print one JSON
            record per detection (llm_stream, agent_shell, handoff,
            agent_exfil), or per flow with --all
  run       the sidecar: follow the sensor's logs and its capture ring (or an
            AF_PACKET tap), join, analyse, apply rules and publish alerts
            to Kafka, files, stdout and webhooks (SIGHUP reloads rules and
            profiles; SIGTERM drains and checkpoints)
  check-config
            validate aegis.yaml (and the rules it names) without starting
  rules     check rule files, run their test cases, list the loaded rules
  correlate the cluster-wide view: a Kafka consumer group over every
            sensor's detections that publishes cross-sensor campaigns
  eval      generate labelled traffic and print per-class precision and
            recall, the confusion matrix and route accuracy
  synth     write labelled synthetic traffic (pcap, Zeek conn.log and
            ssl.log, truth.jsonl) for tests, benchmarks and evaluation
  version   print the version

Examples:
  aegis analyze --pcap testdata/synth/traffic.pcap --zeek testdata/synth/conn.log --zeek testdata/synth/ssl.log
  aegis analyze --pcap ring/trace-*.pcap --eve eve.json --all --out flows.jsonl
  aegis analyze --pcap capture.pcapng --profiles my-routes.yaml
  aegis synth --out /tmp/big --packets 2000000

Run 'aegis COMMAND --help' for a command's flags.
`

// run is the testable main: it takes the arguments and output streams and
// returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "analyze":
		return runAnalyze(ctx, args[1:], stdout, stderr)
	case "run":
		return runRun(ctx, args[1:], stdout, stderr)
	case "check-config":
		return runCheckConfig(args[1:], stdout, stderr)
	case "rules":
		return runRules(args[1:], stdout, stderr)
	case "correlate":
		return runCorrelate(ctx, args[1:], stdout, stderr)
	case "eval":
		return runEval(ctx, args[1:], stdout, stderr)
	case "synth":
		return runSynth(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "aegis: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
