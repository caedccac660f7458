package cadence

import (
	"fmt"
	"slices"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
)

// maxQuartileRatio bounds p75/p25 of a stream's flush gaps (a factor of
// about 12, ln 2.5): token streams stay within a few times.
const maxQuartileRatio = 12

// mssSizedBytes is the least payload of a full-size TCP segment on common
// paths (1460 B Ethernet MSS, less options, tunnels and PPPoE).
const mssSizedBytes = 1200

// streamEval is the verdict on the longest server run: is it a token stream?
type streamEval struct {
	ok     bool
	score  float64
	why    []string
	reject string
	shape  streamShape
}

// streamShape is what route matching reads from a stream run. The gap
// slices alias scratch and are valid until the next Analyze step reuses it.
type streamShape struct {
	hist       [routeBins]int // server flush gaps in the run
	histN      int
	flushGaps  []float64
	flushBytes []float64 // payload of each flush in the run, sorted
	ttfbMs     float64
	hasTTFB    bool
	packets    int64
}

// evalStream applies the token-stream physics to the longest server run.
func (a *Analyzer) evalStream(f *flowtable.Flow, m []flush, run serverRun, sc *scratch) streamEval {
	cfg := &a.cfg
	var e streamEval
	if !run.ok {
		e.reject = "the server sent no payload"
		return e
	}
	dur := run.durationS()
	if run.flushes < cfg.MinStreamFlushes {
		e.reject = fmt.Sprintf("longest server run has %d flushes (a stream needs %d)", run.flushes, cfg.MinStreamFlushes)
		return e
	}
	if dur < cfg.MinStreamDuration.Seconds() {
		e.reject = fmt.Sprintf("longest server run lasts %.2f s (a stream lasts at least %.2f s)", dur, cfg.MinStreamDuration.Seconds())
		return e
	}
	if dur > cfg.MaxStreamDuration.Seconds() {
		e.reject = fmt.Sprintf("longest server run lasts %.0f s, longer than any streamed answer (%.0f s): a push feed", dur, cfg.MaxStreamDuration.Seconds())
		return e
	}
	if run.hasRequest && run.requestBytes <= int64(cfg.TinyMaxBytes) {
		e.reject = fmt.Sprintf("the longest server run follows a keystroke-sized client write (%d B): command output, not an API request", run.requestBytes)
		return e
	}
	times, sizes := detail(&f.Resp)
	if run.hasRequest && run.requestBytes <= int64(cfg.LineMaxBytes) && opensWithEcho(times, sizes, m[run.first], run.requestBytes) {
		e.reject = fmt.Sprintf("the longest server run opens with an echo of the %d B client write (terminal echo, then command output), not an API response", run.requestBytes)
		return e
	}

	// Flush gaps, flush sizes and packet gaps inside the run.
	fgaps := sc.work[:0]
	fbytes := sc.tmp[:0]
	pgaps := sc.work2[:0]
	var prevStart, prevPkt int64
	first := true
	pkts, mss, subMs := 0, 0, 0
	for i := run.first; i <= run.last; i++ {
		x := m[i]
		if x.dir != dirServer {
			continue
		}
		if !first {
			fgaps = append(fgaps, gapMs(prevStart, x.start))
		}
		prevStart = x.start
		fbytes = append(fbytes, float64(x.bytes))
		for k := x.first; k < x.first+x.n && int(k) < len(times); k++ {
			if !first {
				g := gapMs(prevPkt, times[k])
				if g < 1 {
					subMs++
				}
				pgaps = append(pgaps, g)
			}
			first = false
			prevPkt = times[k]
			pkts++
			if sizes[k] >= mssSizedBytes {
				mss++
			}
		}
	}
	sc.work, sc.tmp, sc.work2 = fgaps, fbytes, pgaps

	lo, hi := float64(cfg.TokenGapMin)/1e6, float64(cfg.TokenGapMax)/1e6
	slices.Sort(fgaps) // order is not needed later: quantiles, MAD, histogram
	medGap := quantileSorted(fgaps, 0.5)
	gapMAD := 0.0
	if isUDP(f) {
		gapMAD = mad(fgaps, medGap, sc)
	}
	gMean, gStd := meanStd(fgaps)
	gapCV := cv(gMean, gStd)
	bMean, bStd := meanStd(fbytes)
	sizeCV := cv(bMean, bStd)
	slices.Sort(fbytes) // sorted for route matching's size ranges
	medFlush := quantileSorted(fbytes, 0.5)
	rate := 0.0
	if dur > 0 {
		rate = float64(run.bytes) / dur
	}
	band := 0
	flushGapMs := float64(cfg.FlushGap) / 1e6
	for _, g := range fgaps {
		if g >= flushGapMs && g <= 2*hi {
			band++
		}
	}
	bandShare := float64(band) / float64(max(len(fgaps), 1))
	mssShare := float64(mss) / float64(max(pkts, 1))
	subShare := float64(subMs) / float64(max(len(pgaps), 1))

	// Spread of the flush gaps between their quartiles: a decoder emits
	// tokens at a steady rate (batching and sampling jitter keep p75/p25
	// within a few times), event feeds come in bursts.
	quartiles := 0.0
	if q1 := quantileSorted(fgaps, 0.25); q1 > 0 {
		quartiles = quantileSorted(fgaps, 0.75) / q1
	}
	switch {
	case medGap > hi:
		e.reject = fmt.Sprintf("median server flush gap %.0f ms is above the token range (%.0f-%.0f ms): push ticker, video or polling cadence", medGap, lo, hi)
	case medGap < lo:
		e.reject = fmt.Sprintf("median server flush gap %.1f ms is below the token range (%.0f-%.0f ms)", medGap, lo, hi)
	case medFlush > float64(cfg.StreamMaxFlushBytes):
		e.reject = fmt.Sprintf("median server flush %.1f KB is bulk-sized (token flushes stay under %.1f KB)", medFlush/1000, float64(cfg.StreamMaxFlushBytes)/1000)
	case rate > cfg.StreamMaxRate:
		e.reject = fmt.Sprintf("server run carries %.0f KB/s, bulk throughput (token streams stay under %.0f KB/s)", rate/1000, cfg.StreamMaxRate/1000)
	case mssShare >= 0.7 && sizeCV < 0.15:
		e.reject = fmt.Sprintf("%.0f%% of server packets are MSS-sized in equal flushes: throughput-limited bulk transfer", 100*mssShare)
	case isUDP(f) && mssShare >= 0.5 && float64(pkts) >= 2*float64(run.flushes):
		e.reject = fmt.Sprintf("%.0f%% of server datagrams are MTU-sized, %.1f per flush: media frames, not tokens", 100*mssShare, float64(pkts)/float64(run.flushes))
	case isUDP(f) && gapMAD < 0.25*medGap:
		e.reject = fmt.Sprintf("server datagrams on a %.0f ms frame clock (MAD %.1f ms): media (RTP) or game ticks, not tokens", medGap, gapMAD)
	case quartiles > maxQuartileRatio:
		e.reject = fmt.Sprintf("server flush gaps spread %.0fx between their quartiles: bursty events, not steady token generation", quartiles)
	case gapCV < 0.03:
		e.reject = fmt.Sprintf("server flush gaps are constant to within %.1f%% (timer-driven push, not token generation)", 100*gapCV)
	case bandShare < 0.7:
		e.reject = fmt.Sprintf("only %.0f%% of server flush gaps lie in the token range (bursty output with long stalls)", 100*bandShare)
	}
	if e.reject != "" {
		return e
	}

	e.ok = true
	score := 0.55
	score += 0.15 * clamp01(ln(float64(run.flushes)/float64(cfg.MinStreamFlushes))/ln(8))
	score += 0.10 * clamp01((bandShare-0.7)/0.3)
	req := "no client request seen before it (capture started mid-flow?)"
	switch {
	case !run.hasRequest:
		score -= 0.10
	case run.requestBytes < int64(cfg.MinRequestBytes):
		score -= 0.15
		req = "after a " + humanBytes(run.requestBytes) + " client write, too small to carry a prompt (a subscription?)"
	default:
		score += 0.05
		req = "after one " + humanBytes(run.requestBytes) + " client request"
	}
	e.why = append(e.why, fmt.Sprintf("server run %.1f s of %d small flushes (%d packets, median flush %s) %s",
		dur, run.flushes, run.packets, humanBytes(int64(medFlush)), req))
	e.why = append(e.why, fmt.Sprintf("median flush gap %.0f ms in the token range (%.0f-%.0f ms), CV %.2f, %.0f%% of gaps in range",
		medGap, lo, hi, gapCV, 100*bandShare))
	if gapCV >= 0.2 {
		score += 0.05
	}
	if quartiles > 5 {
		score -= 0.1
		e.why = append(e.why, fmt.Sprintf("gaps spread %.0fx between quartiles, burstier than most token streams", quartiles))
	}
	switch {
	case run.controls == 0:
		e.why = append(e.why, "client silent during the run (ACK only)")
	case isUDP(f):
		e.why = append(e.why, fmt.Sprintf("client sent only %d acknowledgement-sized datagrams during the run", run.controls))
	default:
		e.why = append(e.why, fmt.Sprintf("client sent only %d control-sized records during the run (flow control)", run.controls))
	}
	if subShare >= 0.05 {
		score += 0.05
		e.why = append(e.why, fmt.Sprintf("%.0f%% of server packet gaps are sub-ms segment splits of one flush", 100*subShare))
	}
	if run.hasRequest {
		e.why = append(e.why, fmt.Sprintf("time to first byte %.0f ms", run.ttfbMs()))
	}
	e.score = min(score, 0.95)

	for _, g := range fgaps {
		e.shape.hist[routeBin(g)]++
	}
	e.shape.histN = len(fgaps)
	e.shape.flushGaps = fgaps
	e.shape.flushBytes = fbytes
	e.shape.ttfbMs = run.ttfbMs()
	e.shape.hasTTFB = run.hasRequest
	e.shape.packets = run.packets
	return e
}

// opensWithEcho reports whether one of the first packets of flush first
// (within 5 ms of its start) has the size of the request, give or take
// echoSlack: a terminal echoes a command line at once, before its output
// (a window adjust or a prompt redraw may come first).
func opensWithEcho(times []int64, sizes []uint32, first flush, request int64) bool {
	for k := first.first; k < first.first+first.n && k < first.first+3 && int(k) < len(sizes); k++ {
		if times[k]-first.start > 5_000_000 {
			break
		}
		if d := int64(sizes[k]) - request; d >= -echoSlack && d <= echoSlack {
			return true
		}
	}
	return false
}
