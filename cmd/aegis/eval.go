package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aegis-nsm/aegis/cadence"
	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/cadence/synth"
	"github.com/aegis-nsm/aegis/enrich"
	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

// truthRow is one line of a synth truth.jsonl.
type truthRow = synth.Truth

// evalResult is the detection-quality report of one labelled set.
type evalResult struct {
	Flows     int
	Unmatched int                                     // truth flows the analysis never produced
	Confusion map[schemas.Class]map[schemas.Class]int // truth -> predicted
	// Decidable is Confusion without the scenarios whose class one flow
	// cannot show (see hostViewScenarios).
	Decidable  map[schemas.Class]map[schemas.Class]int
	ByScenario map[string]map[schemas.Class]int // scenario -> predicted
	RouteTotal int                              // true llm_stream flows with a route, predicted llm_stream
	RouteRight int                              // ... whose top-1 route is right
	RouteUnk   int                              // ... called "unknown"
	HandoffErr []float64                        // |predicted - true| handoff moment, seconds
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("aegis eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "evaluate an existing labelled `directory` (traffic.pcap, conn.log, ssl.log, truth.jsonl) instead of generating one")
	seed := fs.Int64("seed", 1, "generator `seed`")
	per := fs.Int("flows", 0, "episodes per scenario (0: the generator's default)")
	profiles := fs.String("profiles", "", "extra model-route profiles (YAML `file`)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: aegis eval [--seed N] [--flows N] [--dir DIR]

Generates labelled synthetic traffic (or reads DIR), runs the same analysis
as 'aegis analyze --all' on it, and prints per-class precision and recall,
the confusion matrix, route top-1 accuracy and handoff timing error as
Markdown. Synthetic traffic is a model of the physics, not real traffic: see
the README for what it cannot show.

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
	d := *dir
	if d == "" {
		tmp, err := os.MkdirTemp("", "aegis-eval-")
		if err != nil {
			fmt.Fprintf(stderr, "aegis eval: %v\n", err)
			return exitFailure
		}
		defer os.RemoveAll(tmp)
		cfg := evalConfig(*seed)
		if *per > 0 {
			cfg.EpisodesPerScenario = *per
		}
		if _, err := synth.WriteDir(cfg, tmp); err != nil {
			fmt.Fprintf(stderr, "aegis eval: generate: %v\n", err)
			return exitFailure
		}
		d = tmp
	}
	res, err := evaluateDir(ctx, d, *profiles)
	if err != nil {
		fmt.Fprintf(stderr, "aegis eval: %v\n", err)
		return exitFailure
	}
	res.writeMarkdown(stdout)
	return exitOK
}

// evalConfig is the labelled set 'aegis eval' generates: every scenario
// several times, shortened (Scale) and with small transfers (VolumeScale)
// so that it runs in seconds; timing physics are not scaled.
func evalConfig(seed int64) synth.Config {
	c := synth.DefaultConfig()
	c.Seed = seed
	c.EpisodesPerScenario = 4
	c.Scale = 0.3
	c.VolumeScale = 0.02
	return c
}

// evaluateDir analyses a labelled directory and scores it against its truth.
func evaluateDir(ctx context.Context, dir, profilesFile string) (*evalResult, error) {
	truth, err := readTruth(filepath.Join(dir, "truth.jsonl"))
	if err != nil {
		return nil, err
	}
	profiles, err := cadence.LoadProfiles(profilesFile)
	if err != nil {
		return nil, err
	}
	an, err := cadence.NewAnalyzer(cadence.DefaultConfig(), profiles)
	if err != nil {
		return nil, err
	}
	var logs []string
	for _, n := range []string{"conn.log", "ssl.log"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			logs = append(logs, filepath.Join(dir, n))
		}
	}
	flows, _, err := loadIDS(logs, nil)
	if err != nil {
		return nil, err
	}
	src := capture.OpenMerger([]string{filepath.Join(dir, "traffic.pcap")})
	defer src.Close()
	if errs := src.OpenErrors(); len(errs) > 0 {
		return nil, errs[0]
	}
	eng, err := newEngine(engineConfig{Table: flowtable.DefaultConfig(), All: true, Analyzer: an, Index: enrich.NewIndex(flows)})
	if err != nil {
		return nil, err
	}
	recs, err := eng.run(ctx, src)
	if err != nil {
		return nil, err
	}
	return score(truth, recs)
}

func readTruth(path string) ([]truthRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := synth.ReadTruth(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

// score matches records to truth rows by flow key and start time.
func score(truth []truthRow, recs []outRecord) (*evalResult, error) {
	type key struct {
		flowKey string
		start   int64
	}
	pred := make(map[string][]*schemas.Record)
	for _, r := range recs {
		var rec schemas.Record
		if err := json.Unmarshal(r.line, &rec); err != nil {
			return nil, err
		}
		pred[rec.Aegis.FlowKey] = append(pred[rec.Aegis.FlowKey], &rec)
	}
	res := &evalResult{Confusion: map[schemas.Class]map[schemas.Class]int{}, Decidable: map[schemas.Class]map[schemas.Class]int{},
		ByScenario: map[string]map[schemas.Class]int{}}
	for _, t := range truth {
		res.Flows++
		tp, err := truthTuple(t)
		if err != nil {
			return nil, err
		}
		var got *schemas.Record
		bestDist := int64(math.MaxInt64)
		for _, r := range pred[enrich.FlowKeyString(tp)] {
			if d := abs64(startNS(r) - t.StartNS); d < bestDist {
				got, bestDist = r, d
			}
		}
		predicted := schemas.Class("(missing)")
		if got == nil || bestDist > int64(5e9) {
			res.Unmatched++
		} else {
			predicted = got.Aegis.Class
		}
		if res.Confusion[t.Class] == nil {
			res.Confusion[t.Class] = map[schemas.Class]int{}
		}
		res.Confusion[t.Class][predicted]++
		if !hostViewScenarios[t.Scenario] {
			if res.Decidable[t.Class] == nil {
				res.Decidable[t.Class] = map[schemas.Class]int{}
			}
			res.Decidable[t.Class][predicted]++
		}
		if res.ByScenario[t.Scenario] == nil {
			res.ByScenario[t.Scenario] = map[schemas.Class]int{}
		}
		res.ByScenario[t.Scenario][predicted]++
		if got == nil {
			continue
		}
		if t.Class == schemas.ClassLLMStream && t.Route != "" && predicted == schemas.ClassLLMStream {
			res.RouteTotal++
			switch got.Aegis.Route.Name {
			case t.Route:
				res.RouteRight++
			case "unknown":
				res.RouteUnk++
			}
		}
		if t.Class == schemas.ClassHandoff && predicted == schemas.ClassHandoff && got.Aegis.Handoff != nil && t.HandoffAtNS > 0 {
			at := startNS(got) + int64(got.Aegis.Handoff.AtOffsetS*1e9)
			res.HandoffErr = append(res.HandoffErr, math.Abs(float64(at-t.HandoffAtNS))/1e9)
		}
	}
	return res, nil
}

func startNS(r *schemas.Record) int64 {
	// @timestamp is RFC 3339 with nanoseconds; event.duration is exact.
	t, err := parseTime(r.Timestamp)
	if err != nil {
		return 0
	}
	return t
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// hostViewScenarios are generator scenarios whose class a single flow
// cannot show: an agent running each command on its own connection, or
// exfiltrating on a separate connection after its session. They need the
// per-host view (tool-call coupling, issue 9) and are reported apart.
var hostViewScenarios = map[string]bool{
	"agent_ssh_exec":        true,
	"exfil_https_multiconn": true,
	"exfil_https_chunked":   true,
	"exfil_scp":             true,
}

// precisionRecall returns the precision and recall of class c over all
// flows.
func (r *evalResult) precisionRecall(c schemas.Class) (p, rec float64, support int) {
	return precisionRecallOf(r.Confusion, c)
}

func precisionRecallOf(m map[schemas.Class]map[schemas.Class]int, c schemas.Class) (p, rec float64, support int) {
	tp := m[c][c]
	predicted := 0
	for _, row := range m {
		predicted += row[c]
	}
	for _, n := range m[c] {
		support += n
	}
	p, rec = math.NaN(), math.NaN()
	if predicted > 0 {
		p = float64(tp) / float64(predicted)
	}
	if support > 0 {
		rec = float64(tp) / float64(support)
	}
	return p, rec, support
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

// writeMarkdown prints the report.
func (r *evalResult) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "Flows: %d (%d not found in the analysis)\n\n", r.Flows, r.Unmatched)
	fmt.Fprintln(w, "| class | support | precision | recall | support (one flow decides) | precision | recall |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, c := range schemas.Classes {
		p, rec, n := r.precisionRecall(c)
		dp, drec, dn := precisionRecallOf(r.Decidable, c)
		fmt.Fprintf(w, "| %s | %d | %s | %s | %d | %s | %s |\n", c, n, pct(p), pct(rec), dn, pct(dp), pct(drec))
	}
	fmt.Fprintln(w, "\n\"One flow decides\" leaves out the scenarios whose class needs the per-host view:")
	names := make([]string, 0, len(hostViewScenarios))
	for n := range hostViewScenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "%s.\n", strings.Join(names, ", "))
	cols := append(append([]schemas.Class{}, schemas.Classes...), "(missing)")
	fmt.Fprintln(w, "\nConfusion matrix (rows: truth, columns: predicted):")
	fmt.Fprintln(w)
	fmt.Fprint(w, "| truth \\ predicted |")
	for _, c := range cols {
		fmt.Fprintf(w, " %s |", c)
	}
	fmt.Fprint(w, "\n|---|")
	for range cols {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	for _, t := range schemas.Classes {
		fmt.Fprintf(w, "| %s |", t)
		for _, c := range cols {
			fmt.Fprintf(w, " %d |", r.Confusion[t][c])
		}
		fmt.Fprintln(w)
	}
	if r.RouteTotal > 0 {
		named := r.RouteTotal - r.RouteUnk
		fmt.Fprintf(w, "\nRoute top-1 accuracy on detected LLM streams: %d/%d (%s); called unknown: %d; right when a route is named: %d/%d (%s)\n",
			r.RouteRight, r.RouteTotal, pct(float64(r.RouteRight)/float64(r.RouteTotal)), r.RouteUnk,
			r.RouteRight, named, pct(float64(r.RouteRight)/float64(max(named, 1))))
	}
	if len(r.HandoffErr) > 0 {
		sort.Float64s(r.HandoffErr)
		fmt.Fprintf(w, "Handoff moment error: median %.2f s, max %.2f s over %d handoffs\n",
			r.HandoffErr[len(r.HandoffErr)/2], r.HandoffErr[len(r.HandoffErr)-1], len(r.HandoffErr))
	}
	fmt.Fprintln(w, "\nPer scenario (predicted classes):")
	fmt.Fprintln(w)
	names = make([]string, 0, len(r.ByScenario))
	for n := range r.ByScenario {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var parts []string
		for _, c := range cols {
			if k := r.ByScenario[n][c]; k > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", c, k))
			}
		}
		fmt.Fprintf(w, "- %s: %s\n", n, strings.Join(parts, ", "))
	}
}

// truthTuple is the directional tuple of a truth row.
func truthTuple(t truthRow) (schemas.Tuple, error) {
	o, err := netip.ParseAddr(t.OrigH)
	if err != nil {
		return schemas.Tuple{}, fmt.Errorf("truth: orig_h %q: %w", t.OrigH, err)
	}
	r, err := netip.ParseAddr(t.RespH)
	if err != nil {
		return schemas.Tuple{}, fmt.Errorf("truth: resp_h %q: %w", t.RespH, err)
	}
	proto, ok := map[string]uint8{"tcp": schemas.ProtoTCP, "udp": schemas.ProtoUDP, "icmp": schemas.ProtoICMP}[t.Proto]
	if !ok {
		return schemas.Tuple{}, fmt.Errorf("truth: proto %q", t.Proto)
	}
	return schemas.Tuple{SrcIP: schemas.IPFromAddr(o), DstIP: schemas.IPFromAddr(r), SrcPort: t.OrigP, DstPort: t.RespP, Proto: proto}, nil
}
