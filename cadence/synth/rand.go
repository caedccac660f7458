package synth

import (
	"math"
	"math/rand/v2"
	"time"
)

// rng wraps a deterministic PCG generator with the distributions the
// scenarios draw from. Every episode owns one, seeded from the Config seed and
// the episode's index, so an episode's traffic does not depend on the order in
// which episodes are generated.
type rng struct {
	*rand.Rand
}

// splitmix64 is the SplitMix64 finaliser; it turns related seeds (seed, seed+1,
// ...) into unrelated PCG states.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// newRNG returns a generator for the stream identified by (seed, stream, sub).
func newRNG(seed int64, stream uint64, sub uint64) *rng {
	a := splitmix64(uint64(seed) ^ splitmix64(stream+0x51ed27))
	b := splitmix64(a ^ splitmix64(sub+0xa0761d64))
	return &rng{rand.New(rand.NewPCG(a, b))}
}

// uniform returns a value in [lo, hi).
func (r *rng) uniform(lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// intn returns an int in [lo, hi] (inclusive).
func (r *rng) intIn(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.IntN(hi-lo+1)
}

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.Float64() < p }

// logn draws a log-normal value with the given median and log-space sigma.
func (r *rng) logn(median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

// lognMean draws a log-normal value with the given mean (not median) and sigma.
func (r *rng) lognMean(mean, sigma float64) float64 {
	return mean * math.Exp(sigma*r.NormFloat64()-sigma*sigma/2)
}

// lognClip draws a log-normal value and clips it into [lo, hi].
func (r *rng) lognClip(median, sigma, lo, hi float64) float64 {
	return clamp(r.logn(median, sigma), lo, hi)
}

// exp draws an exponential value with the given mean.
func (r *rng) exp(mean float64) float64 { return r.ExpFloat64() * mean }

// gamma draws a gamma-distributed value with the given mean and coefficient
// of variation (shape k = 1/cv², scale = mean/k), using Marsaglia and Tsang.
func (r *rng) gamma(mean, cv float64) float64 {
	if cv <= 0 {
		return mean
	}
	k := 1 / (cv * cv)
	theta := mean / k
	boost := 1.0
	if k < 1 {
		// Gamma(k) = Gamma(k+1) * U^(1/k).
		boost = math.Pow(r.Float64(), 1/k)
		k++
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v * theta * boost
		}
	}
}

// normal draws a normal value.
func (r *rng) normal(mean, sd float64) float64 { return mean + sd*r.NormFloat64() }

// pick returns one element of xs uniformly.
func pick[T any](r *rng, xs []T) T { return xs[r.IntN(len(xs))] }

// weighted returns an index drawn with the given (non-negative) weights.
func (r *rng) weighted(w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	u := r.Float64() * sum
	for i, x := range w {
		u -= x
		if u < 0 {
			return i
		}
	}
	return len(w) - 1
}

func clamp(x, lo, hi float64) float64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// Time helpers: the generator keeps time as int64 nanoseconds.
const (
	us  = int64(1000)
	ms  = int64(1000 * 1000)
	sec = int64(1000 * 1000 * 1000)
)

// msf converts float milliseconds to nanoseconds.
func msf(x float64) int64 { return int64(x * 1e6) }

// secf converts float seconds to nanoseconds.
func secf(x float64) int64 { return int64(x * 1e9) }

// timeUTC converts ns since the epoch to a UTC time.
func timeUTC(t int64) time.Time { return time.Unix(0, t).UTC() }
