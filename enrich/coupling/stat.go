package coupling

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// The coupling statistic, for one host and one channel of its actions.
//
// Inputs: E, the distinct ends of the host's model answers (sorted), and A,
// the times of the channel's actions (sorted); W, the lag window.
//
// For each stream end e_j, its lag is the time from e_j to the first action
// a with e_j <= a < e_{j+1} (the action's latest stream end is e_j); the
// stream end is a cycle when that lag is at most W. Each stream end counts
// once, so a burst of actions after one answer is one cycle, and an action
// that follows two answers belongs to the later one.
//
// Cycles is the number of cycles. The test statistic is the closeness
// C = sum over cycles of (W - lag): the part of the lag window still left
// when the action came. An agent acts in the first few hundred ms of the
// window, every time; an unrelated action that happens to fall in a window
// falls anywhere in it. When the loop is fast (answers a second or two
// apart, so W covers much of each gap) chance fills many windows, but not
// their beginnings: C keeps the test's power where the count alone loses
// it. C is an integer (ns), so ties are exact.
//
// Null: the actions keep their own rhythm but lose any tie to the streams.
// The span [T0, T1) runs from the first stream end or action to the last
// stream end + W or action; each null copy shifts every action by one
// common offset d and wraps it around the span (a circular shift). d is
// drawn uniformly from [MinShift, min(MaxShift, L/2)] (L = T1 - T0) and
// used as +d or -d with equal chance, so the copies never re-create the
// observed alignment (|d| >= MinShift >= W) and stay local (|d| <=
// MaxShift). The p-value is (1 + #{copies with C >= observed}) /
// (1 + copies), the usual Monte Carlo p-value.

// cycles returns the number of cycles of ends and acts (both sorted) and
// their closeness (the sum of w - lag over the cycles, ns).
func cycles(ends, acts []int64, w int64) (n int, closeness int64) {
	i := 0
	for j, e := range ends {
		for i < len(acts) && acts[i] < e {
			i++
		}
		if i == len(acts) {
			break
		}
		if a := acts[i]; a <= e+w && (j+1 == len(ends) || a < ends[j+1]) {
			n++
			closeness += e + w - a
		}
	}
	return n, closeness
}

// pair is one cycle: the index of the stream end and of the first action
// after it.
type pair struct{ end, act int }

// pairsOf returns the cycles of ends and acts, oldest first.
func pairsOf(ends, acts []int64, w int64, out []pair) []pair {
	i := 0
	for j, e := range ends {
		for i < len(acts) && acts[i] < e {
			i++
		}
		if i == len(acts) {
			break
		}
		if a := acts[i]; a <= e+w && (j+1 == len(ends) || a < ends[j+1]) {
			out = append(out, pair{end: j, act: i})
		}
	}
	return out
}

// nullResult is the outcome of the shift null for one channel.
type nullResult struct {
	p        float64 // Monte Carlo p-value of the closeness
	mean, sd float64 // closeness over the copies drawn (ns)
	cycles   float64 // mean cycles over the copies drawn
	perms    int     // copies drawn
	complete bool    // all copies drawn (false: stopped once p could no longer reach the cut)
	minShift int64
	maxShift int64
}

// span returns the analysed span [t0, t1) of ends and acts (both non-empty).
func span(ends, acts []int64, w int64) (t0, t1 int64) {
	t0 = min(ends[0], acts[0])
	t1 = max(ends[len(ends)-1]+w, acts[len(acts)-1]) + 1
	return t0, t1
}

// shiftNull builds the circular-shift null of the channel's closeness and
// returns the p-value of obs. It stops early, with complete false, once the
// p-value is certain to exceed cut (the channel cannot be significant).
// ok is false when the span is too short to shift by minShift and still
// stay apart from the observed alignment. buf is scratch space (len(acts)
// or more); rng draws the offsets.
func shiftNull(ends, acts []int64, w, minShift, maxShift int64, obs int64, perms int, cut float64, rng *rand.Rand, buf []int64) (res nullResult, ok bool) {
	if len(ends) == 0 || len(acts) == 0 {
		return nullResult{}, false
	}
	t0, t1 := span(ends, acts, w)
	l := t1 - t0
	hi := min(maxShift, l/2)
	if hi <= minShift {
		return nullResult{}, false
	}
	res.minShift, res.maxShift = minShift, hi
	buf = buf[:len(acts)]
	ge := 0
	var sum, sum2, sumN float64
	for k := 0; k < perms; k++ {
		d := minShift + int64(rng.Float64()*float64(hi-minShift))
		if rng.IntN(2) == 0 {
			d = l - d // a shift by -d on the circle
		}
		// Actions at or after t1-d wrap to the front: the shifted copy is
		// the wrapped suffix followed by the shifted prefix, still sorted.
		c0 := sort.Search(len(acts), func(i int) bool { return acts[i] >= t1-d })
		n := copy(buf, acts[c0:])
		for i := 0; i < n; i++ {
			buf[i] += d - l
		}
		for i, a := range acts[:c0] {
			buf[n+i] = a + d
		}
		nc, c := cycles(ends, buf, w)
		fc := float64(c)
		sum += fc
		sum2 += fc * fc
		sumN += float64(nc)
		if c >= obs {
			ge++
		}
		res.perms = k + 1
		if float64(1+ge)/float64(perms+1) > cut {
			break // p >= (1+ge)/(perms+1) > cut whatever the rest gives
		}
	}
	res.complete = res.perms == perms
	res.p = float64(1+ge) / float64(res.perms+1)
	n := float64(res.perms)
	res.mean = sum / n
	res.cycles = sumN / n
	if v := sum2/n - res.mean*res.mean; v > 0 {
		res.sd = math.Sqrt(v)
	}
	return res, true
}

// quantile returns the q-quantile (0..1) of sorted xs by linear
// interpolation between order statistics (type 7); 0 for an empty slice.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	pos := q * float64(len(xs)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(xs)-1)
	return xs[lo] + (pos-float64(lo))*(xs[hi]-xs[lo])
}

// permutationsFor is the number of null copies for a host with m tested
// channels: enough that the smallest p-value times m is at most half of
// alpha, and never fewer than configured.
func permutationsFor(configured, m int, alpha float64) int {
	need := int(math.Ceil(2*float64(m)/alpha)) - 1
	return max(configured, need)
}

// dedupSorted removes repeated values of a sorted slice in place.
func dedupSorted(xs []int64) []int64 { return slices.Compact(xs) }
