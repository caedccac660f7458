package cadence

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/schemas"
)

// fuzzFlow turns arbitrary bytes into a flow: the first byte picks the
// detail limit and protocol, then 5-byte records give direction, a time
// step (ns, µs, ms or s scale, sometimes backwards) and a payload size.
func fuzzFlow(data []byte) *flowtable.Flow {
	f := &flowtable.Flow{}
	if len(data) == 0 {
		return f
	}
	detail := int(data[0] & 0x3f)
	if data[0]&0x40 != 0 {
		f.Key.Proto = schemas.ProtoUDP
	} else {
		f.Key.Proto = schemas.ProtoTCP
	}
	data = data[1:]
	t := t0
	scales := [4]int64{1, 1e3, 1e6, 1e9}
	for i := 0; i+5 <= len(data); i += 5 {
		r := data[i : i+5]
		dt := int64(binary.BigEndian.Uint16(r[1:3])) * scales[(r[0]>>1)&3]
		if r[0]&0x80 != 0 {
			dt = -dt
		}
		t += dt
		size := uint32(binary.BigEndian.Uint16(r[3:5]))
		d := &f.Orig
		if r[0]&1 != 0 {
			d = &f.Resp
		}
		if f.First == 0 || t < f.First {
			f.First = t
		}
		f.Last = max(f.Last, t)
		if d.PayloadPackets > 0 {
			d.Gaps.Add(float64(t - d.LastPayload))
		}
		d.PayloadPackets++
		d.PayloadBytes += int64(size)
		d.LastPayload = t
		if detail == 0 || len(d.Times) < detail {
			d.Times = append(d.Times, t)
			d.Sizes = append(d.Sizes, size)
		}
	}
	return f
}

// FuzzAnalyze: any packet sequence analyses without panic, every number is
// finite (JSON cannot carry NaN or Inf) and in range, confidences in 0..1.
func FuzzAnalyze(f *testing.F) {
	for _, fb := range []*flowBuilder{genStream(1, 30, 40*ms, 0.6, 300, 500*ms), genHuman(2, 2), genAgentShell(3, 4)} {
		var seed []byte
		seed = append(seed, 0)
		var prev int64 = t0
		pk := slices.Clone(fb.pkts)
		slices.SortStableFunc(pk, func(x, y pkt) int { return cmp.Compare(x.t, y.t) })
		for _, p := range pk {
			dir := byte(0)
			if p.server {
				dir = 1
			}
			dt := (p.t - prev) / 1e3 // µs
			prev = p.t
			seed = append(seed, dir|1<<1, byte(dt>>8), byte(dt), byte(p.size>>8), byte(p.size))
		}
		f.Add(seed)
	}
	f.Add([]byte{0x40, 1, 0, 1, 0, 10, 0x81, 255, 255, 255, 255, 0xff, 0xff, 0xff, 0xff, 0xff})
	a := newTestAnalyzer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fl := fuzzFlow(data)
		r := a.Analyze(fl, FlowContext{SNI: "api.openai.com", Service: "ssh"})
		if !(r.Confidence >= 0 && r.Confidence <= 1) {
			t.Fatalf("confidence %v", r.Confidence)
		}
		if !slices.Contains(schemas.Classes, r.Class) {
			t.Fatalf("class %q", r.Class)
		}
		if !(r.Route.Score >= 0 && r.Route.Score <= 1) {
			t.Fatalf("route score %v", r.Route.Score)
		}
		for _, c := range r.Route.Candidates {
			if !(c.Score >= 0 && c.Score <= 1) {
				t.Fatalf("candidate score %v", c.Score)
			}
		}
		if (r.Class == schemas.ClassHandoff) != (r.Handoff != nil) {
			t.Fatalf("handoff %v for %s", r.Handoff, r.Class)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("result does not encode: %v", err)
		}
		checkRanges(t, &r.Features)
	})
}

// checkRanges asserts the schema's numeric ranges.
func checkRanges(t *testing.T, c *schemas.Cadence) {
	t.Helper()
	bad := func(name string, x float64, unit bool) {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 || (unit && x > 1) {
			t.Fatalf("%s = %v", name, x)
		}
	}
	for _, d := range []schemas.DirectionFeatures{c.Client, c.Server} {
		for _, s := range []schemas.IATStats{d.IAT, d.FlushIAT, d.TinyIAT} {
			for _, x := range []float64{s.MeanMs, s.StdMs, s.CV, s.MedianMs, s.MADMs, s.P10Ms, s.P25Ms, s.P75Ms, s.P90Ms, s.P99Ms, s.MinMs, s.MaxMs} {
				bad("iat", x, false)
			}
		}
		bad("entropy", d.GapEntropy, true)
		bad("regularity", d.Regularity, true)
		bad("sub_ms", d.SubMsShare, true)
		bad("mode", d.SizeModeShare, true)
		bad("tiny", d.TinyShare, true)
		bad("flushes_per_s", d.FlushesPerS, false)
		bad("size_mean", d.SizeMean, false)
	}
	bad("duration", c.DurationS, false)
	bad("ttfb", c.Exchange.TTFBMs, false)
	bad("run", c.Exchange.ServerRunS, false)
	bad("ratio", c.Exchange.BytesRatio, false)
	s := c.Session
	bad("echo", s.EchoShare, true)
	bad("answered", s.AnsweredShare, true)
	bad("fast", s.FastCommandShare, true)
	bad("pause", s.PauseMedianMs, false)
	bad("upload offset", s.UploadOffsetS, false)
}
