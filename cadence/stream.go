package cadence

import (
	"fmt"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
)

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
	hist          [routeBins]int // server packet gaps in the run
	histN         int
	flushGaps     []float64
	medFlushBytes float64
	ttfbMs        float64
	hasTTFB       bool
	packets       int64
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
	if run.hasRequest && run.requestBytes <= int64(cfg.TinyMaxBytes) {
		e.reject = fmt.Sprintf("the longest server run follows a keystroke-sized client write (%d B): command output, not an API request", run.requestBytes)
		return e
	}

	// Flush gaps, flush sizes and packet gaps inside the run.
	times, sizes := detail(&f.Resp)
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
	medGap := medianOfInPlace(fgaps, sc)
	gMean, gStd := meanStd(fgaps)
	gapCV := cv(gMean, gStd)
	bMean, bStd := meanStd(fbytes)
	sizeCV := cv(bMean, bStd)
	medFlush := medianOfInPlace(fbytes, sc)
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
	if run.hasRequest {
		score += 0.05
		req = "after one " + humanBytes(run.requestBytes) + " client request"
	} else {
		score -= 0.10
	}
	e.why = append(e.why, fmt.Sprintf("server run %.1f s of %d small flushes (%d packets, median flush %s) %s",
		dur, run.flushes, run.packets, humanBytes(int64(medFlush)), req))
	e.why = append(e.why, fmt.Sprintf("median flush gap %.0f ms in the token range (%.0f-%.0f ms), CV %.2f, %.0f%% of gaps in range",
		medGap, lo, hi, gapCV, 100*bandShare))
	if gapCV >= 0.2 {
		score += 0.05
	}
	if run.controls == 0 {
		e.why = append(e.why, "client silent during the run (ACK only)")
	} else {
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

	for _, g := range pgaps {
		e.shape.hist[routeBin(g)]++
	}
	e.shape.histN = len(pgaps)
	e.shape.flushGaps = fgaps
	e.shape.medFlushBytes = medFlush
	e.shape.ttfbMs = run.ttfbMs()
	e.shape.hasTTFB = run.hasRequest
	e.shape.packets = run.packets
	return e
}
