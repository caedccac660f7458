package report

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/cadence"
	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func fixtureReport(opts Options) *Report {
	r := New("Aegis analyze: fixture", opts)
	for _, f := range fixture() {
		r.Add(&f.rec, f.detail)
	}
	return r
}

func render(t testing.TB, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	opts := Options{Inputs: []string{"testdata/synth/traffic.pcap", "testdata/synth/conn.log"}}
	got := render(t, fixtureReport(opts))
	golden := filepath.Join("testdata", "fixture.golden.html")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./enrich/report -run TestGolden -update)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("output differs from %s at line %d:\n got: %.300s\nwant: %.300s\n(run with -update if the change is intended)", golden, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("output differs from %s in length: %d vs %d lines (run with -update if intended)", golden, len(gl), len(wl))
	}
	// The page shows every detection, in flow-start order, with both charts.
	if n := strings.Count(got, `<svg class="chart timeline"`); n != 4 {
		t.Errorf("timelines = %d, want 4", n)
	}
	if n := strings.Count(got, `<svg class="chart histogram"`); n != 4 {
		t.Errorf("histograms = %d, want 4", n)
	}
	order := []string{"4f1d2a9c0b7e6d5a", "9a8b7c6d5e4f3a2b", "0c1d2e3f40516273", "77aa66bb55cc44dd"}
	last := -1
	for _, id := range order {
		i := strings.Index(got, `id <code>`+id)
		if i < last {
			t.Errorf("detection %s out of flow-start order", id)
		}
		last = i
	}
	for _, want := range []string{`href="#det-1"`, `id="det-4"`, `class="expected"`, `class="handoff"`, `class="quantum"`, "No IDS record was joined", "AEG-002", "anthropic/claude-3.5-haiku"} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestDeterministicConcurrentAdd adds the same records from many goroutines
// in shuffled orders, with a cap that drops some, and expects the page of a
// sequential, sorted Add.
func TestDeterministicConcurrentAdd(t *testing.T) {
	type item struct {
		rec    schemas.Record
		detail Detail
	}
	var items []item
	base := fixture()
	for i := range 40 {
		f := base[i%len(base)]
		f.rec.Event.ID = fmt.Sprintf("%032x", i*7919%40)
		shift := int64(i%13) * 1_000_000_000 // some share a start: the id decides
		f.detail.First += shift
		f.rec.Timestamp = ts(f.detail.First)
		items = append(items, item{f.rec, f.detail})
	}
	opts := Options{MaxDetections: 25}
	want := New("t", opts)
	for i := range items {
		want.Add(&items[i].rec, items[i].detail)
	}
	wantHTML := render(t, want)
	for round := range 3 {
		// A shuffled order, dealt round-robin to 8 goroutines.
		order := make([]int, len(items))
		for i := range order {
			order[i] = i
		}
		g := rng(round + 1)
		for i := len(order) - 1; i > 0; i-- {
			j := int(g.next() % uint64(i+1))
			order[i], order[j] = order[j], order[i]
		}
		r := New("t", opts)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < len(order); i += 8 {
					r.Add(&items[order[i]].rec, items[order[i]].detail)
				}
			})
		}
		wg.Wait()
		if r.Len() != len(items) {
			t.Fatalf("Len = %d, want %d", r.Len(), len(items))
		}
		if got := render(t, r); got != wantHTML {
			t.Fatalf("round %d: concurrent Add gave a different page", round)
		}
	}
	if !strings.Contains(wantHTML, "first 25 of 40 detections") {
		t.Error("capped page lacks the note on hidden detections")
	}
}

const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>`

// hostileRecord carries attacker-controlled text in every free-text field.
func hostileRecord(payload string) (schemas.Record, Detail) {
	f := fixture()[2] // the LLM stream
	rec, d := f.rec, f.detail
	rec.TLS = &schemas.TLS{Client: schemas.TLSClient{ServerName: payload}}
	rec.Network.Protocol = payload
	rec.Source.IP = payload
	rec.Event.ID = payload
	rec.Aegis.FlowKey = payload
	rec.Aegis.Class = schemas.Class(payload)
	rec.Aegis.Severity = payload
	rec.Aegis.Route.Name = payload
	rec.Aegis.Route.Provider = payload
	rec.Aegis.Route.Candidates = []schemas.RouteCandidate{{Name: payload, Score: 0.5}}
	rec.Aegis.Reasons = []string{fmt.Sprintf("LLM cadence to server name %q that no profile lists", payload)}
	rec.Aegis.Rules = []schemas.RuleHit{{ID: payload, Name: payload, Severity: payload, Message: payload, Tags: []string{payload}, Techniques: []string{payload}}}
	ids := *rec.Aegis.IDS
	ids.UID, ids.History, ids.Source, ids.Sensor = payload, payload, payload, schemas.Sensor(payload)
	rec.Aegis.IDS = &ids
	rec.Threat = &schemas.Threat{Technique: schemas.ThreatTechnique{ID: []string{payload}, Name: []string{payload}}}
	rec.Aegis.Handoff = &schemas.Handoff{Direction: payload, At: payload, AtOffsetS: 1}
	d.Expected.Route, d.Expected.Source = payload, payload
	return rec, d
}

var (
	attrValueRE = regexp.MustCompile(`="[^"]*"`)
	tagRE       = regexp.MustCompile(`<[^>]*>`)
)

// tags lists the tags of a page in order, with their attribute names but
// not their values (html/template escapes quotes inside values, so a value
// cannot end early).
func tags(page string) []string {
	return tagRE.FindAllString(attrValueRE.ReplaceAllString(page, `=""`), -1)
}

func TestEscaping(t *testing.T) {
	page := func(payload string) string {
		rec, d := hostileRecord(payload)
		r := New(payload, Options{Inputs: []string{payload}})
		r.Add(&rec, d)
		return render(t, r)
	}
	benign := page("benign.example.com")
	for _, payload := range []string{hostile, `' onmouseover='alert(1)`, `</title><script>x</script>`, `javascript:alert(1)`, "</style><style>*{}"} {
		got := page(payload)
		low := strings.ToLower(got)
		if strings.Contains(low, "<script") || strings.Contains(low, "<img") || strings.Contains(low, "</style><style") {
			t.Errorf("payload %q: markup got through", payload)
		}
		if strings.Contains(got, payload) && strings.ContainsAny(payload, `<>"'`) {
			t.Errorf("payload %q appears unescaped", payload)
		}
		// The hostile page has exactly the elements of the benign one:
		// nothing was injected or broken.
		if !slices.Equal(tags(got), tags(benign)) {
			t.Errorf("payload %q changed the page's element structure", payload)
		}
		for _, tag := range tags(got) {
			if regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(tag) {
				t.Errorf("payload %q: an event-handler attribute appears in %s", payload, tag)
			}
		}
	}
	// Bidirectional overrides and other format characters are shown, not
	// obeyed.
	got := page("api.\u202eopenai\u200b.com")
	if strings.Contains(got, "\u202e") || strings.Contains(got, "\u200b") || !strings.Contains(got, `api.\u202Eopenai\u200B.com`) {
		t.Error("format characters in a server name were not made visible")
	}
	// The page forbids scripts and fetches whatever slips through.
	if !strings.Contains(benign, `http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;`) {
		t.Error("page lacks its Content-Security-Policy")
	}
}

func TestSizeBound(t *testing.T) {
	const maxDet, adds = 30, 120
	opts := Options{MaxDetections: maxDet}
	r := New("size", opts)
	huge := strings.Repeat("\x01<&\"", 25_000) // 100 KB of the characters that escape the longest
	// One big detail, reused (Add keeps none of it): 20k packets a side.
	var d Detail
	d.First = fixtureT0
	for i := range 20_000 {
		t := fixtureT0 + int64(i)*3_000_000
		d.Client.Times = append(d.Client.Times, t)
		d.Client.Sizes = append(d.Client.Sizes, uint32(40+i%1400))
		d.Server.Times = append(d.Server.Times, t+1_000_000)
		d.Server.Sizes = append(d.Server.Sizes, uint32(1+i*7919%65000))
	}
	d.Last = d.Server.Times[len(d.Server.Times)-1]
	d.Client.Total, d.Server.Total = 1<<40, 1<<40
	d.Expected = Expected{Route: huge, Source: huge, LogMu: 3, LogSigma: 0.5, QuantumMs: 0.001}
	for i := range adds {
		rec, _ := hostileRecord(huge)
		rec.Event.ID = fmt.Sprintf("%08d", i)
		for range 500 {
			rec.Aegis.Reasons = append(rec.Aegis.Reasons, huge)
			rec.Aegis.Rules = append(rec.Aegis.Rules, rec.Aegis.Rules[0])
			rec.Aegis.Route.Candidates = append(rec.Aegis.Route.Candidates, rec.Aegis.Route.Candidates[0])
		}
		dd := d
		dd.First += int64(adds-i) * 1e9 // reverse order: the heap must replace
		r.Add(&rec, dd)
	}
	got := render(t, r)
	// Per detection: two charts (at most ~480 stems a side), the capped
	// lists and texts; the page frame is under 32 KB.
	const perDetection = 160 << 10
	if limit := 32<<10 + maxDet*perDetection; len(got) > limit {
		t.Errorf("page is %d bytes, over the bound %d", len(got), limit)
	}
	t.Logf("page: %d bytes for %d shown of %d detections (%.1f KB each)", len(got), maxDet, adds, float64(len(got))/maxDet/1024)
	if n := strings.Count(got, `<section class="detection block"`); n != maxDet {
		t.Errorf("sections = %d, want %d", n, maxDet)
	}
	if !strings.Contains(got, fmt.Sprintf("first %d of %d detections", maxDet, adds)) {
		t.Error("page lacks the note on hidden detections")
	}
	// The earliest flows were kept: the last added started first.
	if !strings.Contains(got, "00000119") || strings.Contains(got, "id <code>00000000") {
		t.Error("the cap did not keep the earliest detections")
	}
	for _, want := range []string{"more reasons in the record", "more rule hits in the record", "more candidates in the record", "more bytes)"} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks the cut note %q", want)
		}
	}
}

func TestEmptyReport(t *testing.T) {
	got := render(t, New("", Options{}))
	if !strings.Contains(got, "No detections.") || strings.Contains(got, "<svg class=\"chart") {
		t.Error("empty report should say so and draw no chart")
	}
	// A record without detail or times still renders.
	r := New("x", Options{})
	r.Add(&schemas.Record{}, Detail{})
	r.Add(nil, Detail{})
	got = render(t, r)
	if r.Len() != 1 || !strings.Contains(got, "no payload packets in the timing detail") {
		t.Error("a bare record should render with an empty timeline")
	}
}

func TestOptions(t *testing.T) {
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	err := Options{MaxDetections: -1, TimelinePoints: 3, FlushGap: -time.Millisecond}.Validate()
	if err == nil || !strings.Contains(err.Error(), "max_detections") || !strings.Contains(err.Error(), "timeline_points") || !strings.Contains(err.Error(), "flush_gap") {
		t.Errorf("bad options: %v", err)
	}
	o := Options{MaxDetections: -1, TimelinePoints: 3}.withDefaults()
	if o.MaxDetections != DefaultMaxDetections || o.TimelinePoints != DefaultTimelinePoints || o.FlushGap != cadence.DefaultConfig().FlushGap {
		t.Errorf("withDefaults = %+v", o)
	}
}

func TestHistBinsMatchRouteBins(t *testing.T) {
	// The route matcher's bins: 0 under 1 ms, 1 + floor(log2 ms), capped.
	for _, c := range []struct {
		ms  float64
		bin int
	}{{0, 0}, {0.99, 0}, {1, 1}, {1.99, 1}, {2, 2}, {45, 6}, {64, 7}, {1000, 10}, {131071, 17}, {131072, 18}, {1e9, 18}, {math.NaN(), 0}} {
		if got := histBin(c.ms); got != c.bin {
			t.Errorf("histBin(%v) = %d, want %d", c.ms, got, c.bin)
		}
	}
	p := lognormalProbs(math.Log(40), 0.6)
	sum := 0.0
	for _, x := range p {
		sum += x
	}
	if math.Abs(sum-1) > 1e-9 || p[6] < p[3] || p[6] < p[9] {
		t.Errorf("lognormal bins %v (sum %v)", p, sum)
	}
}

func TestGapSets(t *testing.T) {
	ms := int64(1e6)
	d := Detail{
		Client: Packets{Times: []int64{0, 500 * ms, 900 * ms}, Sizes: []uint32{900, 30, 700}},
		// flushes at 10 (two segments), 50, 100, [client 30 B: no break],
		// 600, [client 700 B: break], 1000, 1040.
		Server: Packets{Times: []int64{10 * ms, 10*ms + 100_000, 50 * ms, 100 * ms, 600 * ms, 1000 * ms, 1040 * ms}, Sizes: []uint32{100, 30, 100, 100, 100, 100, 100}},
	}
	srv, cli := gapSets(&d, 2*ms, true)
	if want := []float64{40, 50, 500, 40}; !slices.Equal(srv, want) {
		t.Errorf("server gaps %v, want %v", srv, want)
	}
	if all, _ := gapSets(&d, 2*ms, false); !slices.Equal(all, []float64{40, 50, 500, 400, 40}) {
		t.Errorf("all server gaps %v", all)
	}
	if want := []float64{500, 400}; !slices.Equal(cli, want) {
		t.Errorf("client gaps %v, want %v", cli, want)
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           "plain",
		"a\x00b\x1bc":     `a\u0000b\u001Bc`,
		"rtl\u202eflip":   `rtl\u202Eflip`,
		"bad\xffutf8":     "bad\ufffdutf8",
		"tab\tand\nline":  "tab and line",
		"zero\u200bwidth": `zero\u200Bwidth`,
	} {
		if got := clean(in, 100); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
	if got := clean(strings.Repeat("é", 10), 4); got != "éééé… (12 more bytes)" {
		t.Errorf("cut: %q", got)
	}
}

func TestDetailFromFlow(t *testing.T) {
	f := &flowtable.Flow{First: 10, Last: 99}
	f.Orig.Times, f.Orig.Sizes, f.Orig.PayloadPackets = []int64{10, 20, 30}, []uint32{1, 2, 3}, 7
	f.Resp.Times, f.Resp.Sizes, f.Resp.PayloadPackets = []int64{15}, []uint32{5, 6}, 1
	d := DetailFromFlow(f, 2)
	if d.First != 10 || d.Last != 99 || !slices.Equal(d.Client.Times, []int64{10, 20}) || d.Client.Total != 7 ||
		len(d.Server.Times) != 1 || len(d.Server.Sizes) != 1 {
		t.Errorf("DetailFromFlow = %+v", d)
	}
	f.Orig.Times[0] = -1
	if d.Client.Times[0] != 10 {
		t.Error("Detail aliases the flow")
	}
	if d := DetailFromFlow(nil, 0); d.First != 0 || d.Client.n() != 0 {
		t.Error("nil flow")
	}
}

func TestExpectedFor(t *testing.T) {
	profiles, err := cadence.LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	routes := profiles.Routes()
	if len(routes) < 2 {
		t.Skip("fewer than two built-in profiles")
	}
	e, ok := ExpectedFor(profiles, schemas.RouteMatch{Name: routes[0].Name})
	if !ok || !e.Matched || e.Route != routes[0].Name || e.LogSigma != routes[0].LogSigma || !e.ok() {
		t.Errorf("matched: %+v %v", e, ok)
	}
	e, ok = ExpectedFor(profiles, schemas.RouteMatch{Name: cadence.RouteUnknown, Candidates: []schemas.RouteCandidate{{Name: routes[1].Name, Score: 0.3}}})
	if !ok || e.Matched || e.Route != routes[1].Name {
		t.Errorf("candidate: %+v %v", e, ok)
	}
	if _, ok := ExpectedFor(profiles, schemas.RouteMatch{Name: cadence.RouteUnknown}); ok {
		t.Error("unknown route without candidates has no profile")
	}
	if _, ok := ExpectedFor(nil, schemas.RouteMatch{Name: routes[0].Name}); ok {
		t.Error("nil profiles")
	}
}

func BenchmarkAdd(b *testing.B) {
	f := fixture()[2]
	r := New("bench", Options{MaxDetections: 1 << 30})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.rec.Event.ID = fmt.Sprint(i)
		r.Add(&f.rec, f.detail)
	}
}

func BenchmarkWriteHTML(b *testing.B) {
	r := fixtureReport(Options{})
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := r.WriteHTML(&buf); err != nil {
			b.Fatal(err)
		}
	}
}
