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

// mad returns the median absolute deviation of xs around med (unscaled).
func mad(xs []float64, med float64, sc *scratch) float64 {
	dev := sc.dev[:0]
	for _, x := range xs {
		dev = append(dev, math.Abs(x-med))
	}
	slices.Sort(dev)
	sc.dev = dev
	return quantileSorted(dev, 0.5)
}

// medianOf returns the median of xs, sorting a copy in sc.tmp.
func medianOf(xs []float64, sc *scratch) float64 {
	tmp := append(sc.tmp[:0], xs...)
	slices.Sort(tmp)
	sc.tmp = tmp
	return quantileSorted(tmp, 0.5)
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
	b := 1 + int(math.Log2(ms/entropyLowMs))
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

// logStats returns the mean and standard deviation of ln(x) over xs in
// milliseconds, flooring each value at 0.01 ms (10 µs, below any capture
// clock's useful resolution) so that zero gaps stay finite.
func logStats(xs []float64) (mu, sigma float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	var s float64
	for _, x := range xs {
		s += math.Log(max(x, 0.01))
	}
	mu = s / float64(len(xs))
	var v float64
	for _, x := range xs {
		d := math.Log(max(x, 0.01)) - mu
		v += d * d
	}
	return mu, math.Sqrt(v / float64(len(xs)))
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

// medianOfInPlace sorts xs and returns its median.
func medianOfInPlace(xs []float64, _ *scratch) float64 {
	slices.Sort(xs)
	return quantileSorted(xs, 0.5)
}

func ln(x float64) float64 { return math.Log(x) }
