package cadence

import "github.com/aegis-nsm/aegis/schemas"

// sanitizeCadence makes every number JSON-safe and within its schema range:
// NaN and infinities become 0, negatives 0, shares stay within 0..1. On sane
// input it changes nothing; it guards against absurd packet clocks.
func sanitizeCadence(c *schemas.Cadence) {
	c.DurationS = nonneg(c.DurationS)
	sanitizeDirection(&c.Client)
	sanitizeDirection(&c.Server)
	x := &c.Exchange
	x.TTFBMs = nonneg(x.TTFBMs)
	x.ServerRunS = nonneg(x.ServerRunS)
	x.BytesRatio = nonneg(x.BytesRatio)
	s := &c.Session
	s.EchoShare = clamp01(s.EchoShare)
	s.AnsweredShare = clamp01(s.AnsweredShare)
	s.FastCommandShare = clamp01(s.FastCommandShare)
	s.PauseMedianMs = nonneg(s.PauseMedianMs)
	s.PauseCV = nonneg(s.PauseCV)
	s.UploadSizeCV = nonneg(s.UploadSizeCV)
	s.UploadGapCV = nonneg(s.UploadGapCV)
	s.UploadOffsetS = nonneg(s.UploadOffsetS)
}

func sanitizeDirection(d *schemas.DirectionFeatures) {
	sanitizeIAT(&d.IAT)
	sanitizeIAT(&d.FlushIAT)
	sanitizeIAT(&d.TinyIAT)
	d.GapEntropy = clamp01(d.GapEntropy)
	d.Regularity = clamp01(d.Regularity)
	d.SubMsShare = clamp01(d.SubMsShare)
	d.FlushesPerS = nonneg(d.FlushesPerS)
	d.SizeMean = nonneg(d.SizeMean)
	d.SizeMedian = nonneg(d.SizeMedian)
	d.SizeModeShare = clamp01(d.SizeModeShare)
	d.TinyShare = clamp01(d.TinyShare)
}

func sanitizeIAT(s *schemas.IATStats) {
	for _, p := range []*float64{&s.MeanMs, &s.StdMs, &s.CV, &s.MedianMs, &s.MADMs, &s.P10Ms, &s.P25Ms, &s.P75Ms, &s.P90Ms, &s.P99Ms, &s.MinMs, &s.MaxMs} {
		*p = nonneg(*p)
	}
	if s.N < 0 {
		s.N = 0
	}
}
