package cadence

import (
	"math"
	"slices"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/schemas"
)

// gapMs returns b-a in milliseconds, 0 when b is not after a (reordered or
// duplicate timestamps). It subtracts in integers first to keep nanosecond
// precision on epoch timestamps.
func gapMs(a, b int64) float64 {
	if b <= a {
		return 0
	}
	d := b - a
	if d < 0 { // overflow on absurd inputs
		return float64(b)/1e6 - float64(a)/1e6
	}
	return float64(d) / 1e6
}

// detail returns the packet detail of d, cut to the shorter of Times and
// Sizes.
func detail(d *flowtable.Direction) ([]int64, []uint32) {
	n := min(len(d.Times), len(d.Sizes))
	return d.Times[:n], d.Sizes[:n]
}

// trimmed reports whether d's timing detail covers only its first packets.
func trimmed(d *flowtable.Direction) bool {
	return d.PayloadPackets > int64(min(len(d.Times), len(d.Sizes)))
}

// buildFlushes groups consecutive packets closer than gapNs into flushes,
// appending to out.
func buildFlushes(times []int64, sizes []uint32, dir uint8, gapNs int64, out []flush) []flush {
	for i := range times {
		if len(out) > 0 {
			last := &out[len(out)-1]
			if d := times[i] - last.end; d >= 0 && d < gapNs || times[i] < last.end {
				last.end = max(last.end, times[i])
				last.bytes += int64(sizes[i])
				last.n++
				continue
			}
		}
		out = append(out, flush{start: times[i], end: times[i], bytes: int64(sizes[i]), first: int32(i), n: 1, dir: dir})
	}
	return out
}

// direction computes one direction's features and leaves its packet gaps
// and flushes in sc for the exchange and session analyses.
func (a *Analyzer) direction(d *flowtable.Direction, dir uint8, sc *scratch) schemas.DirectionFeatures {
	times, sizes := detail(d)
	n := len(times)
	var f schemas.DirectionFeatures

	var detailBytes int64
	for _, s := range sizes {
		detailBytes += int64(s)
	}
	f.Packets, f.Bytes = d.PayloadPackets, d.PayloadBytes
	if f.Packets < int64(n) || f.Bytes < detailBytes {
		// Totals inconsistent with the detail (a hand-built flow): trust
		// what we can count.
		f.Packets, f.Bytes = int64(n), detailBytes
	}

	// Packet gaps over the detail.
	gaps := sc.gaps[dir][:0]
	subMs := 0
	for i := 1; i < n; i++ {
		g := gapMs(times[i-1], times[i])
		if g < 1 {
			subMs++
		}
		gaps = append(gaps, g)
	}
	sc.gaps[dir] = gaps
	f.IAT = summarize(gaps, sc)
	if trimmed(d) && d.Gaps.N > int64(len(gaps)) {
		// The running stats saw every gap; the quantiles stay those of
		// the detail.
		f.IAT.N = d.Gaps.N
		f.IAT.MeanMs = d.Gaps.Mean / 1e6
		f.IAT.StdMs = math.Sqrt(d.Gaps.Variance()) / 1e6
		f.IAT.CV = cv(f.IAT.MeanMs, f.IAT.StdMs)
		f.IAT.MinMs = d.Gaps.Min / 1e6
		f.IAT.MaxMs = d.Gaps.Max / 1e6
	}
	if len(gaps) >= 2 {
		f.GapEntropy = gapEntropy(gaps)
		f.Regularity = 1 - f.GapEntropy
	}
	if len(gaps) > 0 {
		f.SubMsShare = float64(subMs) / float64(len(gaps))
	}

	// Flushes.
	fl := buildFlushes(times, sizes, dir, a.flushGapNs, sc.flushes[dir][:0])
	sc.flushes[dir] = fl
	f.Flushes = int64(len(fl))
	if n >= 2 {
		if span := gapMs(times[0], times[n-1]) / 1000; span > 0 {
			f.FlushesPerS = float64(len(fl)) / span
		}
	}
	work := sc.work[:0]
	for i := 1; i < len(fl); i++ {
		work = append(work, gapMs(fl[i-1].start, fl[i].start))
	}
	sc.work = work
	f.FlushIAT = summarize(work, sc)

	// Sizes.
	if f.Packets > 0 {
		f.SizeMean = float64(f.Bytes) / float64(f.Packets)
	}
	if n > 0 {
		ss := append(sc.sizes[:0], sizes...)
		slices.Sort(ss)
		sc.sizes = ss
		if n%2 == 1 {
			f.SizeMedian = float64(ss[n/2])
		} else {
			f.SizeMedian = (float64(ss[n/2-1]) + float64(ss[n/2])) / 2
		}
		best, run := 0, 0
		tiny := 0
		for i, s := range ss {
			if i > 0 && s == ss[i-1] {
				run++
			} else {
				run = 1
			}
			best = max(best, run)
			if int(s) <= a.cfg.TinyMaxBytes {
				tiny++
			}
		}
		f.SizeModeShare = float64(best) / float64(n)
		f.TinyShare = float64(tiny) / float64(n)
	}

	// Keystroke rhythm: gaps between consecutive keystroke-sized flushes.
	work = sc.work[:0]
	var prev int64
	havePrev := false
	for _, x := range fl {
		if x.bytes > int64(a.cfg.TinyMaxBytes) {
			continue
		}
		if havePrev {
			work = append(work, gapMs(prev, x.start))
		}
		prev, havePrev = x.start, true
	}
	sc.work = work
	f.TinyIAT = summarize(work, sc)
	return f
}
