package cadence

import (
	"math"
	"slices"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

// near compares with the precision features are rounded to (ms to µs,
// ratios to four decimals).
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-3*math.Max(1, math.Abs(b)) }

func TestQuantilesAndMAD(t *testing.T) {
	sc := new(scratch)
	// Gaps 10, 20, 30, 40, 100 ms, given out of order.
	st := summarize([]float64{40, 10, 100, 30, 20}, sc)
	want := schemas.IATStats{N: 5, MeanMs: 40, StdMs: math.Sqrt(1000), CV: math.Sqrt(1000) / 40, MedianMs: 30, MADMs: 10,
		P10Ms: 14, P25Ms: 20, P75Ms: 40, P90Ms: 76, P99Ms: 97.6, MinMs: 10, MaxMs: 100}
	got := []float64{st.MeanMs, st.StdMs, st.CV, st.MedianMs, st.MADMs, st.P10Ms, st.P25Ms, st.P75Ms, st.P90Ms, st.P99Ms, st.MinMs, st.MaxMs}
	exp := []float64{want.MeanMs, want.StdMs, want.CV, want.MedianMs, want.MADMs, want.P10Ms, want.P25Ms, want.P75Ms, want.P90Ms, want.P99Ms, want.MinMs, want.MaxMs}
	names := []string{"mean", "std", "cv", "median", "mad", "p10", "p25", "p75", "p90", "p99", "min", "max"}
	for i := range got {
		if !near(got[i], exp[i]) {
			t.Errorf("%s = %v, want %v", names[i], got[i], exp[i])
		}
	}
	if st.N != 5 {
		t.Errorf("n = %d", st.N)
	}
	if z := summarize(nil, sc); z != (schemas.IATStats{}) {
		t.Errorf("empty summary = %+v", z)
	}
}

func TestEntropy(t *testing.T) {
	cases := []struct {
		name string
		gaps []float64
		want float64
	}{
		{"constant cadence", []float64{40, 40, 40, 40, 40, 40}, 0},
		{"one gap per bin", []float64{0.05, 0.15, 0.3, 0.7}, 1}, // bins 0,1,2,3
		{"two bins evenly", []float64{1, 1, 100, 100}, math.Log(2) / math.Log(4)},
		{"too few gaps", []float64{5}, 0},
	}
	for _, c := range cases {
		if got := gapEntropy(c.gaps); !near(got, c.want) {
			t.Errorf("%s: entropy %v, want %v", c.name, got, c.want)
		}
	}
	if entropyBin(0.09) != 0 || entropyBin(0.1) != 1 || entropyBin(0.2) != 2 || entropyBin(200_000) != entropyBins-1 || entropyBin(math.NaN()) != 0 {
		t.Error("entropy bin edges")
	}
}

// TestDirectionFeatures checks one direction's features against values
// worked out by hand.
func TestDirectionFeatures(t *testing.T) {
	a := newTestAnalyzer(t)
	b := newBuilder(1)
	// Client: a 3-segment flush at 0 ms (0, 0.1, 0.2 ms), a keystroke at
	// 50 ms, a 2-segment flush at 100 ms (100, 100.5 ms), a keystroke at
	// 300 ms.
	b.c(t0, 1448).c(t0+100_000, 1448).c(t0+200_000, 300)
	b.c(t0+50*ms, 36)
	b.c(t0+100*ms, 500).c(t0+100*ms+500_000, 500)
	b.c(t0+300*ms, 36)
	// Server: constant 40 ms cadence, 6 packets of 100 B.
	for i := range 6 {
		b.s(t0+int64(i)*40*ms+10*ms, 100)
	}
	r := a.Analyze(b.build(), FlowContext{})
	c, s := r.Features.Client, r.Features.Server
	if c.Packets != 7 || c.Bytes != 1448*2+300+36*2+500*2 {
		t.Errorf("client packets/bytes = %d/%d", c.Packets, c.Bytes)
	}
	// Gaps: 0.1, 0.1, 49.8, 50, 0.5, 199.5 ms.
	if c.IAT.N != 6 || !near(c.IAT.MinMs, 0.1) || !near(c.IAT.MaxMs, 199.5) || !near(c.IAT.MedianMs, (0.5+49.8)/2) {
		t.Errorf("client IAT = %+v", c.IAT)
	}
	if !near(c.SubMsShare, 3.0/6) {
		t.Errorf("sub-ms share = %v, want 0.5", c.SubMsShare)
	}
	if c.Flushes != 4 || c.FlushIAT.N != 3 || !near(c.FlushIAT.MedianMs, 50) || !near(c.FlushIAT.MaxMs, 200) {
		t.Errorf("flushes = %d, flush IAT = %+v", c.Flushes, c.FlushIAT)
	}
	if !near(c.FlushesPerS, 4/0.3) {
		t.Errorf("flushes/s = %v", c.FlushesPerS)
	}
	if !near(c.SizeMedian, 500) || !near(c.SizeModeShare, 2.0/7) || !near(c.TinyShare, 2.0/7) {
		t.Errorf("sizes: median %v mode %v tiny %v", c.SizeMedian, c.SizeModeShare, c.TinyShare)
	}
	if c.TinyIAT.N != 1 || !near(c.TinyIAT.MedianMs, 250) {
		t.Errorf("tiny IAT = %+v", c.TinyIAT)
	}
	if s.IAT.CV != 0 || s.GapEntropy != 0 || s.Regularity != 1 || !near(s.IAT.MeanMs, 40) || s.SizeModeShare != 1 {
		t.Errorf("constant server cadence: %+v", s)
	}
	if !near(r.Features.DurationS, 0.3) {
		t.Errorf("duration = %v", r.Features.DurationS)
	}
}

// TestTrimmedDetailUsesRunningStats: with the detail trimmed, count, mean,
// std, min and max come from the running stats over every packet.
func TestTrimmedDetailUsesRunningStats(t *testing.T) {
	a := newTestAnalyzer(t)
	b := newBuilder(1)
	b.detail = 10
	// 51 packets 10 ms apart, then 49 more 30 ms apart.
	tt := t0
	for i := range 100 {
		switch {
		case i == 0:
		case i <= 50:
			tt += 10 * ms
		default:
			tt += 30 * ms
		}
		b.s(tt, 200)
	}
	r := a.Analyze(b.build(), FlowContext{})
	iat := r.Features.Server.IAT
	if iat.N != 99 || !near(iat.MeanMs, (50*10+49*30)/99.0) || !near(iat.MaxMs, 30) || !near(iat.MinMs, 10) {
		t.Errorf("trimmed IAT = %+v", iat)
	}
	if iat.MedianMs != 10 { // quantiles come from the 10-packet detail
		t.Errorf("median from detail = %v, want 10", iat.MedianMs)
	}
	if r.Features.Server.Packets != 100 || r.Features.Server.Bytes != 20000 {
		t.Errorf("totals = %d/%d", r.Features.Server.Packets, r.Features.Server.Bytes)
	}
}

func TestExchangeFeatures(t *testing.T) {
	a := newTestAnalyzer(t)
	b := newBuilder(1)
	b.c(t0, 900)               // request
	b.s(t0+400*ms, 150)        // first byte after 400 ms
	for i := 1; i <= 20; i++ { // 20 more flushes 50 ms apart
		b.s(t0+400*ms+int64(i)*50*ms, 150)
		if i == 10 {
			b.c(t0+400*ms+int64(i)*50*ms+5*ms, 38) // sparse flow-control record
		}
	}
	b.c(t0+2*1000*ms, 700) // next request ends the run
	b.s(t0+2100*ms, 400)
	r := a.Analyze(b.build(), FlowContext{})
	x := r.Features.Exchange
	if x.ServerRunFlushes != 21 || x.ServerRunPackets != 21 || !near(x.ServerRunS, 1.0) {
		t.Errorf("server run = %d flushes, %d packets, %v s", x.ServerRunFlushes, x.ServerRunPackets, x.ServerRunS)
	}
	if !near(x.TTFBMs, 400) || x.RequestBytes != 900 {
		t.Errorf("ttfb %v request %d", x.TTFBMs, x.RequestBytes)
	}
	// c s... (c) s... c s: changes at request->run, control in, control
	// out, run->request, request->answer.
	if x.Turns != 5 {
		t.Errorf("turns = %d, want 5", x.Turns)
	}
	if !near(x.BytesRatio, float64(21*150+400)/float64(900+38+700)) {
		t.Errorf("bytes ratio = %v", x.BytesRatio)
	}

	// Keystroke echo alternates one for one: every client write breaks the
	// run.
	b = newBuilder(2)
	for i := range 30 {
		b.c(t0+int64(i)*200*ms, 36)
		b.s(t0+int64(i)*200*ms+10*ms, 36)
	}
	if got := a.Analyze(b.build(), FlowContext{}).Features.Exchange.ServerRunFlushes; got != 1 {
		t.Errorf("echo session server run = %d flushes, want 1", got)
	}
}

// TestMADAndSelect checks the O(n) median and MAD against sorting.
func TestMADAndSelect(t *testing.T) {
	b := newBuilder(9)
	sc := new(scratch)
	for n := 1; n <= 60; n++ {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(b.rng.IntN(20)) // many ties
			if i%7 == 0 {
				xs[i] = b.rng.Float64() * 1000
			}
		}
		sorted := slices.Clone(xs)
		slices.Sort(sorted)
		med := quantileSorted(sorted, 0.5)
		if got := median(slices.Clone(xs)); got != med {
			t.Fatalf("n=%d: median %v, want %v", n, got, med)
		}
		dev := make([]float64, n)
		for i, x := range sorted {
			dev[i] = math.Abs(x - med)
		}
		slices.Sort(dev)
		if got, want := mad(sorted, med, sc), quantileSorted(dev, 0.5); got != want {
			t.Fatalf("n=%d: mad %v, want %v", n, got, want)
		}
	}
}
