package report

import (
	"github.com/aegis-nsm/aegis/cadence"
	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/schemas"
)

// Detail is the packet evidence behind one record: copies of what the flow
// table held for the flow, and the expected gap shape of its route. It is a
// plain value; Add reads it and keeps none of its slices.
type Detail struct {
	// First and Last are the flow's first and last packet times (ns,
	// packet clock), payload or not. Zero First means unknown: the
	// record's event.start is used.
	First, Last int64
	// Client and Server are the payload packets of the originator and the
	// responder.
	Client, Server Packets
	// Expected is the gap shape of the record's route; the zero value
	// means no profile (the histogram then shows the observed gaps only).
	Expected Expected
}

// Packets holds the timing detail of one direction: the time (ns, packet
// clock) and payload size of the first payload packets, in arrival order.
type Packets struct {
	Times []int64
	Sizes []uint32
	// Total is how many payload packets the direction sent; when it
	// exceeds len(Times) the detail covers the first packets only. Zero
	// means len(Times).
	Total int64
}

// n is the number of packets with both a time and a size.
func (p *Packets) n() int { return min(len(p.Times), len(p.Sizes)) }

// total is the number of payload packets, at least n.
func (p *Packets) total() int64 { return max(p.Total, int64(p.n())) }

// Expected is the in-stream flush-gap shape of a model route, copied from
// its cadence.Profile: a log-normal of ln(milliseconds).
type Expected struct {
	// Route is the profile name; empty means no profile.
	Route    string
	Provider string
	// Matched is true when Route is the record's matched route; false
	// when it is only the best-scoring candidate of an unknown route,
	// shown for comparison.
	Matched bool
	// LogMu and LogSigma are the log-normal of flush gaps (ln ms).
	LogMu, LogSigma float64
	// QuantumMs is the gap quantisation step (0 = none).
	QuantumMs float64
	// FlushBytesMin and FlushBytesMax bound a typical flush (0, 0 = not
	// given).
	FlushBytesMin, FlushBytesMax float64
	// TTFTMaxMs is the latest expected first token (0 = not given).
	TTFTMaxMs float64
	// Source says where the profile's numbers come from.
	Source string
}

// ok reports whether e describes a usable density.
func (e *Expected) ok() bool {
	return e.Route != "" && e.LogSigma > 0 && finite(e.LogMu) && finite(e.LogSigma)
}

// DetailFromFlow copies the timing detail of f: at most maxPoints payload
// packets per direction (maxPoints <= 0: all the flow table kept). The
// result shares nothing with f. Expected is left empty: fill it with
// ExpectedFor. A nil f gives a zero Detail.
func DetailFromFlow(f *flowtable.Flow, maxPoints int) Detail {
	if f == nil {
		return Detail{}
	}
	return Detail{
		First:  f.First,
		Last:   f.Last,
		Client: packetsOf(&f.Orig, maxPoints),
		Server: packetsOf(&f.Resp, maxPoints),
	}
}

func packetsOf(d *flowtable.Direction, maxPoints int) Packets {
	n := min(len(d.Times), len(d.Sizes))
	if maxPoints > 0 {
		n = min(n, maxPoints)
	}
	return Packets{
		Times: append([]int64(nil), d.Times[:n]...),
		Sizes: append([]uint32(nil), d.Sizes[:n]...),
		Total: max(d.PayloadPackets, int64(n)),
	}
}

// ExpectedFromProfile copies the gap shape of p; matched says whether p is
// the record's matched route.
func ExpectedFromProfile(p cadence.Profile, matched bool) Expected {
	return Expected{
		Route: p.Name, Provider: p.Provider, Matched: matched,
		LogMu: p.LogMu, LogSigma: p.LogSigma, QuantumMs: p.QuantumMs,
		FlushBytesMin: p.FlushBytesMin, FlushBytesMax: p.FlushBytesMax,
		TTFTMaxMs: p.TTFTMaxMs, Source: p.Source,
	}
}

// ExpectedFor looks up the profile of a record's route in profiles: the
// matched route, or, when the route is unknown, its best-scoring candidate
// (Matched false). It returns false when neither names a loaded profile
// (no LLM stream, no profiles, or a profile since removed).
func ExpectedFor(profiles *cadence.Profiles, route schemas.RouteMatch) (Expected, bool) {
	if profiles == nil {
		return Expected{}, false
	}
	if route.Name != "" && route.Name != cadence.RouteUnknown {
		if p, ok := profiles.Route(route.Name); ok {
			return ExpectedFromProfile(p, true), true
		}
	}
	if len(route.Candidates) > 0 {
		if p, ok := profiles.Route(route.Candidates[0].Name); ok {
			return ExpectedFromProfile(p, false), true
		}
	}
	return Expected{}, false
}
