package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/aegis-nsm/aegis/cadence/synth"
)

func runSynth(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("aegis synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "output `directory` (created if missing)")
	seed := fs.Int64("seed", 1, "generator `seed`; the same seed writes the same bytes")
	packets := fs.Int("packets", 0, "write a large capture of about this many `packets` (for benchmarks)")
	per := fs.Int("flows", 0, "flows per scenario (0: the generator's default)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: aegis synth --out DIR [--seed N] [--flows N | --packets N]

Writes labelled synthetic traffic: DIR/traffic.pcap, DIR/conn.log and
DIR/ssl.log (Zeek TSV), and DIR/truth.jsonl (the class, scenario and route of
every flow).

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *out == "" {
		fmt.Fprintln(stderr, "aegis synth: --out DIR is required")
		return exitUsage
	}
	cfg := synth.DefaultConfig()
	cfg.Seed = *seed
	if *per > 0 {
		cfg.EpisodesPerScenario = *per
	}
	if *packets > 0 {
		cfg.TargetPackets = int64(*packets)
	}
	sum, err := synth.WriteDir(cfg, *out)
	if err != nil {
		fmt.Fprintf(stderr, "aegis synth: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%v\n", sum)
	return exitOK
}
