package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aegis-nsm/aegis/cadence"
	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/enrich"
	"github.com/aegis-nsm/aegis/enrich/report"
	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/ingest/eve"
	"github.com/aegis-nsm/aegis/ingest/zeek"
	"github.com/aegis-nsm/aegis/schemas"
)

// listFlag collects a repeatable flag, one value per use.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// analyzeOptions are the flags of 'aegis analyze'.
type analyzeOptions struct {
	pcaps, zeekLogs, eveLogs listFlag
	profiles                 string
	all                      bool
	out                      string
	workers                  int
	cidSeed                  uint
	maxDetail                int
	memoryMiB                int64
	quiet                    bool
	semantics                string
	report                   string
}

func parseAnalyze(args []string, stderr io.Writer) (*analyzeOptions, error) {
	o := &analyzeOptions{}
	fs := flag.NewFlagSet("aegis analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&o.pcaps, "pcap", "pcap or pcapng `file` (repeatable; several files are read as one capture in time order; also given as arguments)")
	fs.Var(&o.zeekLogs, "zeek", "Zeek conn.log or ssl.log `file`, TSV or JSON (repeatable)")
	fs.Var(&o.eveLogs, "eve", "Suricata eve.json `file` (repeatable)")
	fs.StringVar(&o.profiles, "profiles", "", "YAML `file` of model-route profiles that add to or override the built-in ones")
	fs.BoolVar(&o.all, "all", false, "write a record for every analysed flow, not only detections")
	fs.StringVar(&o.out, "out", "", "write records to `file` instead of stdout")
	fs.IntVar(&o.workers, "workers", 0, "flow-table shards (0: one per core)")
	fs.UintVar(&o.cidSeed, "community-id-seed", 0, "Community ID `seed`, as configured on the sensor")
	fs.IntVar(&o.maxDetail, "max-detail", flowtable.DefaultConfig().MaxDetail, "payload packets per direction kept with their own timing")
	fs.Int64Var(&o.memoryMiB, "memory", flowtable.DefaultConfig().MemoryBudget>>20, "flow-table memory budget in `MiB`")
	fs.BoolVar(&o.quiet, "quiet", false, "no summary on stderr")
	fs.StringVar(&o.report, "report", "", "also write a self-contained HTML report of the detections to `file` (timelines, gap histograms against the route's profile, deciding features, IDS context)")
	fs.StringVar(&o.semantics, "flow-semantics", "auto", "split flows as `zeek` or suricata does (timeouts, close delays); auto: suricata when only --eve is given")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: aegis analyze --pcap FILE... [--zeek LOG...] [--eve FILE...] [flags]

Reads the capture, measures every flow's packet cadence, joins each flow with
its Zeek or Suricata record when logs are given (by Community ID, else by
5-tuple and time), and writes one JSON record per detection (one per flow
with --all), in flow-start order. A summary goes to stderr.

Exit codes: 0 done; 1 failed; 2 bad flags or configuration; 3 an input file
could not be read (the others were processed). Malformed packets and log
lines are counted in the summary, never fatal.

Examples:
  aegis analyze --pcap testdata/synth/traffic.pcap --zeek testdata/synth/conn.log --zeek testdata/synth/ssl.log
  aegis analyze --pcap a.pcap --pcap b.pcap --eve eve.json --all --out flows.jsonl

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.pcaps = append(o.pcaps, fs.Args()...)
	if len(o.pcaps) == 0 {
		fs.Usage()
		return nil, errors.New("no capture given: use --pcap FILE")
	}
	switch o.semantics {
	case "auto":
		o.semantics = "zeek"
		if len(o.eveLogs) > 0 && len(o.zeekLogs) == 0 {
			o.semantics = "suricata"
		}
	case "zeek", "suricata":
	default:
		return nil, fmt.Errorf("--flow-semantics %q: use zeek, suricata or auto", o.semantics)
	}
	if o.cidSeed > 0xffff {
		return nil, fmt.Errorf("--community-id-seed %d: must fit in 16 bits", o.cidSeed)
	}
	return o, nil
}

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseAnalyze(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "aegis analyze: %v\n", err)
		return exitUsage
	}
	started := time.Now()
	profiles, err := cadence.LoadProfiles(o.profiles)
	if err != nil {
		fmt.Fprintf(stderr, "aegis analyze: %v\n", err)
		return exitUsage
	}
	an, err := cadence.NewAnalyzer(cadence.DefaultConfig(), profiles)
	if err != nil {
		fmt.Fprintf(stderr, "aegis analyze: %v\n", err)
		return exitUsage
	}
	tcfg := flowtable.DefaultConfig()
	if o.semantics == "suricata" {
		tcfg = flowtable.SuricataConfig()
	}
	tcfg.MaxDetail = o.maxDetail
	tcfg.MemoryBudget = o.memoryMiB << 20
	if err := tcfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "aegis analyze: %v\n", err)
		return exitUsage
	}

	code := exitOK
	idsFlows, idsReport, idsErr := loadIDS(o.zeekLogs, o.eveLogs)
	if idsErr != nil {
		fmt.Fprintf(stderr, "aegis analyze: %v\n", idsErr)
		code = exitInput
	}

	src := capture.OpenMerger(o.pcaps)
	defer src.Close()
	for _, e := range src.OpenErrors() {
		fmt.Fprintf(stderr, "aegis analyze: %v\n", e)
		code = exitInput
	}
	if len(src.OpenErrors()) == len(o.pcaps) {
		return exitInput
	}

	var rep *report.Report
	if o.report != "" {
		rep = report.New("Aegis detections", report.Options{FlushGap: an.Config().FlushGap, Inputs: o.pcaps})
	}
	eng, err := newEngine(engineConfig{Workers: o.workers, Table: tcfg, All: o.all, CIDSeed: uint16(o.cidSeed),
		Analyzer: an, Index: enrich.NewIndex(idsFlows), Report: rep, Profiles: profiles})
	if err != nil {
		fmt.Fprintf(stderr, "aegis analyze: %v\n", err)
		return exitUsage
	}
	prog := newProgress(stderr, o.pcaps, false, eng.flowsDone.Load, eng.detections.Load)
	prog.run()
	recs, err := eng.run(ctx, prog.wrap(src))
	prog.finish()
	if err != nil {
		fmt.Fprintf(stderr, "aegis analyze: %v\n", err)
		return exitFailure
	}

	if err := writeRecords(o.out, stdout, recs); err != nil {
		fmt.Fprintf(stderr, "aegis analyze: %v\n", err)
		return exitFailure
	}
	if rep != nil {
		if err := writeReport(o.report, rep); err != nil {
			fmt.Fprintf(stderr, "aegis analyze: %v\n", err)
			return exitFailure
		}
	}
	if !o.quiet {
		printSummary(stderr, summaryInput{
			capture: src.Stats(), table: eng.tableStats(), analysis: eng.analysisStats(),
			ids: idsReport, idsTotal: len(idsFlows), records: len(recs), elapsed: time.Since(started),
		})
	}
	return code
}

// writeReport writes the HTML report to path.
func writeReport(path string, rep *report.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = rep.WriteHTML(bw)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// writeRecords writes one JSON line per record to path, or to stdout when
// path is empty.
func writeRecords(path string, stdout io.Writer, recs []outRecord) error {
	w := stdout
	var f *os.File
	if path != "" {
		var err error
		if f, err = os.Create(path); err != nil {
			return fmt.Errorf("output: %w", err)
		}
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	for _, r := range recs {
		bw.Write(r.line)
		bw.WriteByte('\n')
	}
	err := bw.Flush()
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	return nil
}

// idsReport describes what the IDS logs gave.
type idsReport struct {
	lines []string // one summary line per log file kind
}

// loadIDS reads every Zeek and EVE file. Bad lines are counted by the
// readers; only unreadable files are errors, and the other files still load.
func loadIDS(zeekLogs, eveLogs []string) ([]schemas.IDSFlow, idsReport, error) {
	var (
		flows []schemas.IDSFlow
		rep   idsReport
		errs  []error
	)
	if len(zeekLogs) > 0 {
		fl, st, err := zeek.ReadFiles(zeekLogs...)
		if err != nil {
			errs = append(errs, err)
		}
		flows = append(flows, fl...)
		rep.lines = append(rep.lines, fmt.Sprintf("zeek: %+v", st))
	}
	if len(eveLogs) > 0 {
		fl, st, err := eve.ReadFiles(eveLogs...)
		if err != nil {
			errs = append(errs, err)
		}
		flows = append(flows, fl...)
		rep.lines = append(rep.lines, fmt.Sprintf("eve: %+v", st))
	}
	return flows, rep, errors.Join(errs...)
}

type summaryInput struct {
	capture  capture.Stats
	table    flowtable.Stats
	analysis shardStats
	ids      idsReport
	idsTotal int
	records  int
	elapsed  time.Duration
}

// printSummary writes the human summary of a run.
func printSummary(w io.Writer, s summaryInput) {
	fmt.Fprintf(w, "aegis analyze summary\n  capture: %s (pcap records read, packets decoded, input files)\n", s.capture.String())
	t := s.table
	fmt.Fprintf(w, "  flows: %d (ended idle %d, closed %d, at end %d, evicted %d); %d retransmissions left out of timing; peak table memory %.1f MiB\n",
		t.Flows, t.EndedIdle, t.EndedClosed, t.Flushed, t.Evicted, t.Retransmits, float64(t.PeakMemory)/(1<<20))
	a := s.analysis
	var parts []string
	for _, c := range schemas.Classes {
		if n := a.classes[c]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, n))
		}
	}
	fmt.Fprintf(w, "  classes: %s\n", strings.Join(parts, ", "))
	if len(a.routes) > 0 {
		names := make([]string, 0, len(a.routes))
		for n := range a.routes {
			names = append(names, n)
		}
		sort.Strings(names)
		parts = parts[:0]
		for _, n := range names {
			parts = append(parts, fmt.Sprintf("%s %d", n, a.routes[n]))
		}
		fmt.Fprintf(w, "  llm routes: %s\n", strings.Join(parts, ", "))
	}
	for _, l := range s.ids.lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
	if s.idsTotal > 0 {
		fmt.Fprintf(w, "  join: %d flows by community id, %d by 5-tuple and time, %d without an IDS record; %d of %d IDS records matched no packets\n",
			a.joined[enrich.JoinCommunityID], a.joined[enrich.JoinTupleTime], a.joined[enrich.JoinNone], s.idsTotal-len(a.idsMatched), s.idsTotal)
	}
	fmt.Fprintf(w, "  records written: %d in %.2fs\n", s.records, s.elapsed.Seconds())
}
