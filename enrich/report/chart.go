package report

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// Chart geometry (SVG user units; the SVG scales to its container).
const (
	chartW      = 960.0
	timelineH   = 236.0
	histogramH  = 236.0
	plotLeft    = 64.0
	plotRight   = 16.0
	plotTop     = 18.0
	plotBottom  = 36.0
	controlMaxB = 64 // client records up to this size (HTTP/2 WINDOW_UPDATE, ACK-like) do not end a server run
	histBins    = 19 // as the route matcher: <1 ms, doubling bins from 1 ms, last open-ended
	bandZ       = 1.6448536269514722
)

// tick is one axis label.
type tick struct {
	Pos   string // x or y coordinate
	Label string
}

// rect is an SVG rectangle.
type rect struct {
	X, Y, W, H string
}

// marker is a vertical line with a label.
type marker struct {
	X, Y1, Y2, LabelX, LabelY string
	Label                     string
}

// timelineView is the geometry of one packet timeline.
type timelineView struct {
	ViewBox                string
	Left, Right            string // plot x range
	Top, Bottom, Mid       string // plot y range and the axis
	PlotW, PlotH           string
	YLabelX, DirLabelX     string
	CenterX                string
	LabelTop, LabelBottom  string // y of the direction labels
	ClientPath, ServerPath string
	XTicks                 []tick
	YTicks                 []tick // for both halves
	Handoff                *marker
	NoDetail               *rect // the time after the timing detail ends
	Empty                  bool
	XAxisY, XLabelY        string
	ClientPackets          int64 // payload packets in the flow
	ServerPackets          int64
	ClientShown            int // packets in the detail
	ServerShown            int
	Columns                int // columns after decimation, per direction (max of both)
	Decimated              bool
	Trimmed                bool
	SpanLabel              string
}

// histBar is one bar of the gap histogram.
type histBar struct {
	X, Y, W, H string
	Series     string // "server" or "client"
	Title      string
}

// histogramView is the geometry of one gap histogram.
type histogramView struct {
	ViewBox         string
	Left, Right     string
	Top, Bottom     string
	PlotW, PlotH    string
	YLabelX         string
	CenterX         string
	CenterY         string
	AxisTitleX      string
	XLabelY         string
	Bars            []histBar
	ExpectedPoints  string // polyline of expected counts at bin centres
	Dots            []point
	Band            *rect
	RefBands        []refBand
	BandLabelX      string
	BandLabelY      string
	XTicks          []tick
	YTicks          []tick
	ServerGaps      int
	ServerInRuns    bool // server gaps count inside server runs only
	ClientGaps      int
	InBand          string // share of server gaps inside the expected band, formatted
	Expected        *expectedView
	ServerMedian    string
	GridLines       []string // y of horizontal grid lines
	Empty           bool
	QuantumMarks    []string // x of quantum multiples (when the profile has one)
	QuantumMarkTop  string
	QuantumMarkBase string
}

// refBand is a labelled reference range on the histogram's gap axis.
type refBand struct {
	X, Y, W, H     string
	LabelX, LabelY string
	Label, Class   string
}

// Session reference ranges (DESIGN.md): a person types with 80-400 ms
// between keys; an agent sends a command line 0.5-10 s (model latency)
// after the output. They are drawn for interactive classes, which have no
// route profile; they are context, not a fitted density.
var sessionBands = []struct {
	loMs, hiMs   float64
	label, class string
}{
	{80, 400, "typing 80–400 ms", "typing"},
	{500, 10_000, "agent pause 0.5–10 s", "think"},
}

// point is an SVG point.
type point struct{ X, Y string }

// expectedView describes the route profile behind the expected curve.
type expectedView struct {
	Route     string
	Provider  string
	Matched   bool
	Band      string // "5.1–23 ms"
	Median    string
	Quantum   string
	FlushSize string
	TTFTMax   string
	Source    string
}

// num formats a coordinate with one decimal, without a trailing ".0".
func num(x float64) string {
	if !finite(x) {
		x = 0
	}
	s := strconv.FormatFloat(math.Round(x*10)/10, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		s = "0"
	}
	return s
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// niceStep returns a 1-2-5 step so that span/step is at most maxTicks.
func niceStep(span float64, maxTicks int) float64 {
	if !(span > 0) || !finite(span) {
		return 1
	}
	raw := span / float64(maxTicks)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// decimals is the number of decimals that show multiples of step exactly.
func decimals(step float64) int {
	d := 0
	for step < 1 && d < 9 {
		step *= 10
		d++
		if math.Abs(step-math.Round(step)) < 1e-9 {
			break
		}
	}
	return d
}

// sizeLabel is a power-of-ten byte size for the timeline's y axis.
func sizeLabel(exp int) string {
	switch {
	case exp < 3:
		return strconv.Itoa(int(math.Pow(10, float64(exp)))) + " B"
	case exp < 6:
		return strconv.Itoa(int(math.Pow(10, float64(exp-3)))) + " KB"
	}
	return strconv.Itoa(int(math.Pow(10, float64(exp-6)))) + " MB"
}

// column decimates one direction's packets to cols columns over
// [first, first+span], keeping the largest payload of each column.
func columns(p *Packets, first int64, span float64, cols int) ([]uint32, int) {
	n := p.n()
	out := make([]uint32, cols)
	for i := range n {
		c := int(float64(p.Times[i]-first) / span * float64(cols))
		c = min(max(c, 0), cols-1)
		out[c] = max(out[c], p.Sizes[i])
	}
	return out, n
}

// buildTimeline lays out the packet timeline of d.
func buildTimeline(d *Detail, cols int, handoffS float64, hasHandoff bool) timelineView {
	left, right := plotLeft, chartW-plotRight
	top, bottom := plotTop, timelineH-plotBottom
	mid := (top + bottom) / 2
	half := mid - top - 4
	plotW := right - left
	v := timelineView{
		ViewBox: "0 0 " + num(chartW) + " " + num(timelineH),
		Left:    num(left), Right: num(right), Top: num(top), Bottom: num(bottom), Mid: num(mid),
		LabelTop: num(top + 10), LabelBottom: num(bottom - 4),
		PlotW: num(plotW), PlotH: num(bottom - top), YLabelX: num(left - 6), DirLabelX: num(left + 6),
		CenterX: num(left + plotW/2),
		XAxisY:  num(bottom), XLabelY: num(bottom + 16),
		ClientPackets: d.Client.total(), ServerPackets: d.Server.total(),
		ClientShown: d.Client.n(), ServerShown: d.Server.n(),
	}
	v.Trimmed = int64(v.ClientShown) < v.ClientPackets || int64(v.ServerShown) < v.ServerPackets
	// The axis spans the flow (First..Last) and covers the detail even
	// when First or Last is missing or off.
	first, last := d.First, d.Last
	haveFirst, haveLast := first != 0, last != 0
	lastDetail := int64(math.MinInt64)
	for _, p := range []*Packets{&d.Client, &d.Server} {
		for i := range p.n() {
			t := p.Times[i]
			if !haveFirst || t < first {
				first, haveFirst = t, true
			}
			if !haveLast || t > last {
				last, haveLast = t, true
			}
			lastDetail = max(lastDetail, t)
		}
	}
	last = max(last, first)
	span := float64(last - first)
	if span < 1e6 {
		span = 1e6 // at least 1 ms
	}
	v.SpanLabel = fmtSeconds(span / 1e9)
	if v.ClientShown+v.ServerShown == 0 {
		v.Empty = true
	}
	cols = max(16, min(cols, int(plotW)))
	cc, _ := columns(&d.Client, first, span, cols)
	sc, _ := columns(&d.Server, first, span, cols)
	v.Columns = cols
	v.Decimated = v.ClientShown > cols || v.ServerShown > cols

	var maxSize uint32
	for i := range cols {
		maxSize = max(maxSize, cc[i], sc[i])
	}
	topExp := max(3, int(math.Ceil(math.Log10(float64(max(maxSize, 1))))))
	scale := func(s uint32) float64 {
		h := half * math.Log10(float64(max(s, 1))) / float64(topExp)
		return max(h, 1.5)
	}
	colW := plotW / float64(cols)
	var cb, sb strings.Builder
	for i := range cols {
		x := num(left + (float64(i)+0.5)*colW)
		if cc[i] > 0 {
			cb.WriteString("M" + x + " " + num(mid-1) + "v-" + num(scale(cc[i])))
		}
		if sc[i] > 0 {
			sb.WriteString("M" + x + " " + num(mid+1) + "v" + num(scale(sc[i])))
		}
	}
	v.ClientPath, v.ServerPath = cb.String(), sb.String()
	for e := 1; e <= topExp; e++ {
		h := half * float64(e) / float64(topExp)
		lab := sizeLabel(e)
		v.YTicks = append(v.YTicks, tick{Pos: num(mid - h), Label: lab}, tick{Pos: num(mid + h), Label: lab})
	}
	// Time axis in seconds from the flow's first packet.
	spanS := span / 1e9
	step := niceStep(spanS, 8)
	dec := decimals(step)
	for k := 0; ; k++ {
		t := float64(k) * step
		if t > spanS*1.0001 {
			break
		}
		v.XTicks = append(v.XTicks, tick{Pos: num(left + t/spanS*plotW), Label: strconv.FormatFloat(t, 'f', dec, 64) + " s"})
	}
	if hasHandoff && finite(handoffS) && handoffS >= 0 && handoffS <= spanS {
		x := num(left + handoffS/spanS*plotW)
		v.Handoff = &marker{X: x, Y1: num(top), Y2: num(bottom), LabelX: num(left + handoffS/spanS*plotW + 4), LabelY: num(top + 22), Label: "handoff"}
	}
	if v.Trimmed && lastDetail > first {
		x := left + float64(lastDetail-first)/span*plotW
		if right-x > 2 {
			v.NoDetail = &rect{X: num(x), Y: num(top), W: num(right - x), H: num(bottom - top)}
		}
	}
	return v
}

// flush is one application write: packets closer than the flush gap.
type flush struct {
	start, end int64
	bytes      int64
	server     bool
}

// flushesOf groups p's packets into flushes (as the cadence analysis does:
// a packet closer than gapNs to the end of the current flush, or earlier
// than it, joins it).
func flushesOf(p *Packets, gapNs int64, server bool, out []flush) []flush {
	start := len(out)
	for i := range p.n() {
		t, s := p.Times[i], int64(p.Sizes[i])
		if len(out) > start {
			f := &out[len(out)-1]
			if d := t - f.end; (d >= 0 && d < gapNs) || t < f.end {
				f.end = max(f.end, t)
				f.bytes += s
				continue
			}
		}
		out = append(out, flush{start: t, end: t, bytes: s, server: server})
	}
	return out
}

// gapSets returns the gaps between consecutive server flushes and between
// consecutive client flushes, in ms. With inRuns, server gaps count only
// inside server runs (no client flush larger than a control record in
// between), as a streamed answer's gaps, which route profiles describe.
func gapSets(d *Detail, gapNs int64, inRuns bool) (server, client []float64) {
	cf := flushesOf(&d.Client, gapNs, false, nil)
	sf := flushesOf(&d.Server, gapNs, true, nil)
	// Merge by start time (each side is in arrival order), client first
	// on ties.
	fl := make([]flush, 0, len(cf)+len(sf))
	for i, j := 0, 0; i < len(cf) || j < len(sf); {
		if j == len(sf) || (i < len(cf) && cf[i].start <= sf[j].start) {
			fl = append(fl, cf[i])
			i++
		} else {
			fl = append(fl, sf[j])
			j++
		}
	}
	var prevS, prevC int64
	haveS, haveC := false, false
	for _, f := range fl {
		if f.server {
			if haveS {
				server = append(server, float64(f.start-prevS)/1e6)
			}
			prevS, haveS = f.start, true
			continue
		}
		if haveC {
			client = append(client, float64(f.start-prevC)/1e6)
		}
		prevC, haveC = f.start, true
		if inRuns && f.bytes > controlMaxB {
			haveS = false
		}
	}
	return server, client
}

// histBin returns the histogram bin of a gap in ms, as the route matcher
// bins: 0 under 1 ms, b for [2^(b-1), 2^b) ms, the last open-ended.
func histBin(ms float64) int {
	if !(ms >= 1) {
		return 0
	}
	_, e := math.Frexp(ms) // ms = f × 2^e, f in [0.5, 1): floor(log2 ms) = e-1
	return min(e, histBins-1)
}

// binPos maps a gap in ms to a continuous bin position in [0, histBins].
func binPos(ms float64) float64 {
	if !(ms > 0) {
		return 0
	}
	if ms < 1 {
		return ms
	}
	return min(1+math.Log2(ms), histBins)
}

// lognormalProbs is the probability of each bin under a log-normal of ln ms.
func lognormalProbs(mu, sigma float64) [histBins]float64 {
	var p [histBins]float64
	cdf := func(ms float64) float64 { return 0.5 * math.Erfc(-(math.Log(ms)-mu)/(sigma*math.Sqrt2)) }
	prev := 0.0
	for b := range histBins - 1 {
		c := cdf(math.Exp2(float64(b)))
		p[b] = c - prev
		prev = c
	}
	p[histBins-1] = 1 - prev
	return p
}

// binLabel names a bin's range.
func binLabel(b int) string {
	switch {
	case b == 0:
		return "< 1 ms"
	case b == histBins-1:
		return "≥ " + fmtMs(math.Exp2(float64(b-1)))
	}
	return fmtMs(math.Exp2(float64(b-1))) + " – " + fmtMs(math.Exp2(float64(b)))
}

// edgeLabel is the short label of the bin edge 2^(b-1) ms.
func edgeLabel(b int) string {
	ms := math.Exp2(float64(b - 1))
	if ms < 1000 {
		return strconv.FormatFloat(ms, 'f', 0, 64)
	}
	s := ms / 1000
	if s < 10 {
		return trimZeros(strconv.FormatFloat(s, 'f', 1, 64)) + "s"
	}
	return strconv.FormatFloat(s, 'f', 0, 64) + "s"
}

// buildHistogram lays out the gap histogram of d against its route.
func buildHistogram(d *Detail, gapNs int64, session bool) histogramView {
	left, right := plotLeft, chartW-plotRight
	top, bottom := plotTop, histogramH-plotBottom
	plotW, plotH := right-left, bottom-top
	binW := plotW / histBins
	v := histogramView{
		ViewBox: "0 0 " + num(chartW) + " " + num(histogramH),
		Left:    num(left), Right: num(right), Top: num(top), Bottom: num(bottom), XLabelY: num(bottom + 16),
		PlotW: num(plotW), PlotH: num(plotH), YLabelX: num(left - 6), CenterX: num(left + plotW/2),
		CenterY: num(top + plotH/2), AxisTitleX: num(right),
	}
	srv, cli := gapSets(d, gapNs, !session)
	v.ServerGaps, v.ClientGaps = len(srv), len(cli)
	v.ServerInRuns = !session
	var sc, cc [histBins]int
	for _, g := range srv {
		sc[histBin(g)]++
	}
	for _, g := range cli {
		cc[histBin(g)]++
	}
	if len(srv) > 0 {
		s := slices.Clone(srv)
		slices.Sort(s)
		v.ServerMedian = fmtMs(s[len(s)/2])
	}
	var exp [histBins]float64
	e := &d.Expected
	hasExp := e.ok()
	if hasExp {
		p := lognormalProbs(e.LogMu, e.LogSigma)
		for b := range p {
			exp[b] = p[b] * float64(len(srv))
		}
	}
	top1 := 1.0
	for b := range histBins {
		top1 = max(top1, float64(sc[b]), float64(cc[b]), exp[b])
	}
	step := niceStep(top1, 4)
	step = max(step, 1)
	yMax := math.Ceil(top1/step) * step
	y := func(c float64) float64 { return bottom - c/yMax*plotH }
	for k := 0.0; k <= yMax+step/2; k += step {
		v.YTicks = append(v.YTicks, tick{Pos: num(y(k)), Label: strconv.FormatFloat(k, 'f', 0, 64)})
		if k > 0 {
			v.GridLines = append(v.GridLines, num(y(k)))
		}
	}
	for b := range histBins {
		x0 := left + float64(b)*binW
		for _, s := range []struct {
			n      int
			off    float64
			series string
		}{{sc[b], 0.08, "server"}, {cc[b], 0.52, "client"}} {
			if s.n == 0 {
				continue
			}
			title := s.series + ": " + strconv.Itoa(s.n) + " gap"
			if s.n != 1 {
				title += "s"
			}
			title += " in " + binLabel(b)
			if hasExp && s.series == "server" {
				title += "; expected " + strconv.FormatFloat(exp[b], 'f', 1, 64)
			}
			h := max(float64(s.n)/yMax*plotH, 2) // a single gap stays visible
			v.Bars = append(v.Bars, histBar{X: num(x0 + s.off*binW), Y: num(bottom - h), W: num(0.4 * binW), H: num(h), Series: s.series, Title: title})
		}
	}
	for b := 1; b < histBins; b += 2 {
		v.XTicks = append(v.XTicks, tick{Pos: num(left + float64(b)*binW), Label: edgeLabel(b)})
	}
	v.Empty = len(srv)+len(cli) == 0
	if !hasExp {
		if session {
			for _, b := range sessionBands {
				x0, x1 := left+binPos(b.loMs)*binW, left+binPos(b.hiMs)*binW
				v.RefBands = append(v.RefBands, refBand{X: num(x0), Y: num(top), W: num(x1 - x0), H: num(plotH),
					LabelX: num(x0 + 2), LabelY: num(top - 5), Label: b.label, Class: b.class})
			}
		}
		return v
	}
	ev := &expectedView{Route: clean(e.Route, maxNameRunes), Provider: clean(e.Provider, maxNameRunes), Matched: e.Matched, Source: clean(e.Source, maxTextRunes)}
	lo, hi := math.Exp(e.LogMu-bandZ*e.LogSigma), math.Exp(e.LogMu+bandZ*e.LogSigma)
	ev.Band = fmtMs(lo) + " – " + fmtMs(hi)
	ev.Median = fmtMs(math.Exp(e.LogMu))
	if e.QuantumMs > 0 {
		ev.Quantum = fmtMs(e.QuantumMs)
	}
	if e.FlushBytesMax > 0 {
		ev.FlushSize = fmtBytes(int64(e.FlushBytesMin)) + " – " + fmtBytes(int64(e.FlushBytesMax))
	}
	if e.TTFTMaxMs > 0 {
		ev.TTFTMax = fmtMs(e.TTFTMaxMs)
	}
	v.Expected = ev
	x0, x1 := left+binPos(lo)*binW, left+binPos(hi)*binW
	v.Band = &rect{X: num(x0), Y: num(top), W: num(max(x1-x0, 1)), H: num(plotH)}
	v.BandLabelX, v.BandLabelY = num(x0+2), num(top-5)
	if len(srv) > 0 {
		in := 0
		for _, g := range srv {
			if g >= lo && g <= hi {
				in++
			}
		}
		v.InBand = fmtShare(float64(in) / float64(len(srv)))
	}
	if e.QuantumMs > 0 {
		for k := 1; k <= 64; k++ {
			q := float64(k) * e.QuantumMs
			if q > hi*1.5 {
				break
			}
			v.QuantumMarks = append(v.QuantumMarks, num(left+binPos(q)*binW))
		}
		v.QuantumMarkTop, v.QuantumMarkBase = num(bottom-6), num(bottom)
	}
	if len(srv) == 0 {
		return v
	}
	var pts strings.Builder
	for b := range histBins {
		if b > 0 {
			pts.WriteByte(' ')
		}
		xs, ys := num(left+(float64(b)+0.5)*binW), num(y(exp[b]))
		pts.WriteString(xs + "," + ys)
		if exp[b] >= 0.05 {
			v.Dots = append(v.Dots, point{X: xs, Y: ys})
		}
	}
	v.ExpectedPoints = pts.String()
	return v
}
