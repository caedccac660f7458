package cadence

import (
	"math"
	"slices"

	"github.com/aegis-nsm/aegis/schemas"
)

// quantileSorted returns the q-quantile (0..1) of sorted xs, interpolating
// linearly between the closest ranks (Hyndman-Fan type 7, numpy's default).
// It returns 0 for an empty slice.
func quantileSorted(xs []float64, q float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	if q <= 0 {
		return xs[0]
	}
	if q >= 1 {
		return xs[n-1]
	}
	h := q * float64(n-1)
	lo := int(h)
	if lo >= n-1 {
		return xs[n-1]
	}
	frac := h - float64(lo)
	return xs[lo] + frac*(xs[lo+1]-xs[lo])
}

// meanStd returns the mean and population standard deviation of xs (two
// passes, stable for large values).
func meanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	mean = s / float64(len(xs))
	var v float64
	for _, x := range xs {
		d := x - mean
		v += d * d
	}
	return mean, math.Sqrt(v / float64(len(xs)))
}

// cv is std/mean, 0 when the mean is not positive.
func cv(mean, std float64) float64 {
	if mean <= 0 {
		return 0
	}
	return std / mean
}

// summarize fills IATStats from values xs (milliseconds). It sorts a copy in
// sc.sorted and uses sc.dev for the MAD, so xs is left untouched.
func summarize(xs []float64, sc *scratch) schemas.IATStats {
	var st schemas.IATStats
	n := len(xs)
	st.N = int64(n)
	if n == 0 {
		return st
	}
	sorted := append(sc.sorted[:0], xs...)
	slices.Sort(sorted)
	sc.sorted = sorted
	st.MeanMs, st.StdMs = meanStd(sorted)
	st.CV = cv(st.MeanMs, st.StdMs)
	st.MedianMs = quantileSorted(sorted, 0.5)
	st.P10Ms = quantileSorted(sorted, 0.10)
	st.P25Ms = quantileSorted(sorted, 0.25)
	st.P75Ms = quantileSorted(sorted, 0.75)
	st.P90Ms = quantileSorted(sorted, 0.90)
	st.P99Ms = quantileSorted(sorted, 0.99)
	st.MinMs = sorted[0]
	st.MaxMs = sorted[n-1]
	st.MADMs = mad(sorted, st.MedianMs, sc)
	return st
}

// mad returns the median absolute deviation of sorted xs around its median
// med (unscaled), in O(n): the deviations left of the median, read right to
// left, and those right of it, read left to right, are two ascending runs,
// so merging them up to the middle finds their median without a sort.
func mad(sorted []float64, med float64, _ *scratch) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// Split: sorted[:split] are < med, sorted[split:] are >= med.
	split, _ := slices.BinarySearch(sorted, med)
	i, j := split-1, split // i walks left (deviations ascending), j right
	next := func() float64 {
		if j >= n || (i >= 0 && med-sorted[i] <= sorted[j]-med) {
			d := med - sorted[i]
			i--
			return d
		}
		d := sorted[j] - med
		j++
		return d
	}
	// The median of n deviations: element n/2 (odd n) or the mean of
	// elements n/2-1 and n/2 (even n), in ascending order.
	var prev, cur float64
	for k := 0; k <= n/2; k++ {
		prev, cur = cur, next()
	}
	if n%2 == 1 {
		return cur
	}
	return (prev + cur) / 2
}

// selectK returns the k-th smallest element of xs (0-based), reordering xs.
// Quickselect with a median-of-three pivot: O(n) on average, deterministic.
func selectK(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for hi > lo {
		mid := lo + (hi-lo)/2
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		pivot := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}

// median returns the median of xs in O(n), reordering xs.
func median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	hi := selectK(xs, n/2)
	if n%2 == 1 {
		return hi
	}
	// The largest of the lower half is the (n/2-1)-th smallest.
	lo := xs[0]
	for _, x := range xs[:n/2] {
		lo = max(lo, x)
	}
	return (lo + hi) / 2
}

// medianOf returns the median of xs, working on a copy in sc.tmp.
func medianOf(xs []float64, sc *scratch) float64 {
	tmp := append(sc.tmp[:0], xs...)
	sc.tmp = tmp
	return median(tmp)
}

// Entropy bins: bin 0 holds gaps under entropyLowMs, bins 1..entropyLogBins
// are log2-wide from entropyLowMs up to entropyHighMs (0.1 ms .. 100 s is
// ~19.9 doublings, so 20 bins), and the last bin holds longer gaps.
const (
	entropyLowMs   = 0.1
	entropyHighMs  = 100_000
	entropyLogBins = 20
	entropyBins    = entropyLogBins + 2
)

// entropyBin returns the log2 bin of a gap in milliseconds.
func entropyBin(ms float64) int {
	if !(ms >= entropyLowMs) { // also catches NaN
		return 0
	}
	if ms >= entropyHighMs {
		return entropyBins - 1
	}
	b := 1 + floorLog2(ms/entropyLowMs)
	if b > entropyLogBins {
		b = entropyLogBins
	}
	return b
}

// gapEntropy returns the normalised Shannon entropy (0..1) of the log2-binned
// gaps: H / ln(min(n, bins)). A constant cadence has entropy 0. It returns 0
// for fewer than two gaps, where the spread is undefined.
func gapEntropy(gaps []float64) float64 {
	n := len(gaps)
	if n < 2 {
		return 0
	}
	var counts [entropyBins]int
	for _, g := range gaps {
		counts[entropyBin(g)]++
	}
	var h float64
	for _, c := range counts {
		if c == 0 {
			continue
		}
		p := float64(c) / float64(n)
		h -= p * math.Log(p)
	}
	k := min(n, entropyBins)
	return clamp01(h / math.Log(float64(k)))
}

func clamp01(x float64) float64 {
	if !(x > 0) { // NaN too
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

// finite returns x, or 0 when x is NaN or infinite (JSON cannot carry them).
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// nonneg returns a finite, non-negative x.
func nonneg(x float64) float64 {
	x = finite(x)
	if x < 0 {
		return 0
	}
	return x
}

// medianOfInPlace returns the median of xs, reordering xs.
func medianOfInPlace(xs []float64, _ *scratch) float64 { return median(xs) }

func ln(x float64) float64 { return math.Log(x) }

// floorLog2 returns floor(log2(x)) for x >= 1 from the float's exponent
// (exact at powers of two, no logarithm).
func floorLog2(x float64) int {
	_, exp := math.Frexp(x) // x = frac * 2^exp, frac in [0.5, 1)
	return exp - 1
}
