package cadence

import (
	"math"

	"github.com/aegis-nsm/aegis/schemas"
)

// sanitizeCadence makes every number JSON-safe, within its schema range and
// rounded to a useful precision: NaN and infinities become 0, negatives 0,
// shares stay within 0..1; milliseconds keep microseconds, seconds keep
// microseconds, ratios four decimals. Rounding keeps records readable and
// byte-stable across platforms whose last-bit float results may differ.
func sanitizeCadence(c *schemas.Cadence) {
	c.DurationS = round(nonneg(c.DurationS), 6)
	sanitizeDirection(&c.Client)
	sanitizeDirection(&c.Server)
	x := &c.Exchange
	x.TTFBMs = round(nonneg(x.TTFBMs), 3)
	x.ServerRunS = round(nonneg(x.ServerRunS), 6)
	x.BytesRatio = round(nonneg(x.BytesRatio), 4)
	s := &c.Session
	s.EchoShare = round(clamp01(s.EchoShare), 4)
	s.AnsweredShare = round(clamp01(s.AnsweredShare), 4)
	s.FastCommandShare = round(clamp01(s.FastCommandShare), 4)
	s.PauseMedianMs = round(nonneg(s.PauseMedianMs), 3)
	s.PauseCV = round(nonneg(s.PauseCV), 4)
	s.UploadSizeCV = round(nonneg(s.UploadSizeCV), 4)
	s.UploadGapCV = round(nonneg(s.UploadGapCV), 4)
	s.UploadOffsetS = round(nonneg(s.UploadOffsetS), 6)
}

func sanitizeDirection(d *schemas.DirectionFeatures) {
	sanitizeIAT(&d.IAT)
	sanitizeIAT(&d.FlushIAT)
	sanitizeIAT(&d.TinyIAT)
	d.GapEntropy = round(clamp01(d.GapEntropy), 4)
	d.Regularity = round(clamp01(d.Regularity), 4)
	d.SubMsShare = round(clamp01(d.SubMsShare), 4)
	d.FlushesPerS = round(nonneg(d.FlushesPerS), 3)
	d.SizeMean = round(nonneg(d.SizeMean), 2)
	d.SizeMedian = round(nonneg(d.SizeMedian), 2)
	d.SizeModeShare = round(clamp01(d.SizeModeShare), 4)
	d.TinyShare = round(clamp01(d.TinyShare), 4)
}

func sanitizeIAT(s *schemas.IATStats) {
	for _, p := range []*float64{&s.MeanMs, &s.StdMs, &s.MedianMs, &s.MADMs, &s.P10Ms, &s.P25Ms, &s.P75Ms, &s.P90Ms, &s.P99Ms, &s.MinMs, &s.MaxMs} {
		*p = round(nonneg(*p), 3)
	}
	s.CV = round(nonneg(s.CV), 4)
	if s.N < 0 {
		s.N = 0
	}
}

// round rounds x to n decimals; values too large to scale stay as they are.
func round(x float64, n int) float64 {
	p := math.Pow10(n)
	if math.Abs(x) > 1e15/p {
		return x
	}
	return math.Round(x*p) / p
}
