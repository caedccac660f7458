package coupling

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// hostEvents is one host's inputs from a generated set.
type hostEvents struct {
	host    netip.Addr
	streams []Stream
	actions []Action
}

// perHost splits a timeline's events by host, in arrival order.
func (tl *timeline) perHost() []*hostEvents {
	idx := map[netip.Addr]*hostEvents{}
	var out []*hostEvents
	get := func(a netip.Addr) *hostEvents {
		h, ok := idx[a]
		if !ok {
			h = &hostEvents{host: a}
			idx[a] = h
			out = append(out, h)
		}
		return h
	}
	for _, e := range tl.events {
		if e.stream != nil {
			h := get(e.stream.Host)
			h.streams = append(h.streams, *e.stream)
		} else {
			h := get(e.action.Host)
			h.actions = append(h.actions, *e.action)
		}
	}
	return out
}

// shuffled returns a copy of h whose action times are rotated together by
// one random offset around the host's span: the actions keep their own
// rhythm and their channels, any tie to the streams is gone. The offset is
// at least guard either way round the circle: a rotation by less than the
// lag window leaves the actions where they were relative to the answers,
// which is no shuffle. nil when the span is too short for that.
func (h *hostEvents) shuffled(r *rand.Rand, guard int64) *hostEvents {
	t0, t1 := int64(math.MaxInt64), int64(math.MinInt64)
	for _, s := range h.streams {
		t0, t1 = min(t0, s.Start), max(t1, s.End)
	}
	for _, a := range h.actions {
		t0, t1 = min(t0, a.Time), max(t1, a.Time)
	}
	l := t1 - t0 + 1
	if l <= 2*guard {
		return nil
	}
	d := guard + r.Int64N(l-2*guard)
	out := &hostEvents{host: h.host, streams: h.streams, actions: slices.Clone(h.actions)}
	for i := range out.actions {
		out.actions[i].Time = t0 + (out.actions[i].Time-t0+d)%l
	}
	return out
}

// evaluateHost tests h's timeline once, at its end, as Evaluate would
// after observing it (built directly: these tests evaluate thousands of
// timelines, the insertion path has its own tests), and returns the
// smallest adjusted p-value of its channels (1 when none was complete or
// none reached min_cycles) and whether any channel was tested. DNS
// connects are left out as ObserveAction leaves them out.
func evaluateHost(d *Detector, h *hostEvents) (padj float64, tested bool) {
	end := int64(0)
	var as []Action
	for _, s := range h.streams {
		end = max(end, s.End)
	}
	for _, a := range h.actions {
		end = max(end, a.Time)
		if a.Kind == ActionConnect && d.ignore[a.Service] {
			continue
		}
		as = append(as, a)
	}
	res := d.evaluate(snapshotOf(h.host, h.streams, as), end+int64(d.cfg.LagWindow)+1, false)
	padj = 1
	for _, f := range res.findings {
		padj = min(padj, f.Aegis.PAdjusted)
	}
	return padj, res.tests > 0
}

// alphas are the levels the false-positive tests measure. The detector
// runs at the largest (its null stops early only above it) and each level
// counts the timelines whose adjusted p-value is at or below it.
var alphas = []float64{0.05, 0.01, 0.001}

// trials is the number of timelines per false-positive measurement:
// n, or a fifth of it under the race detector (which only checks for
// races here).
func trials(n int) int {
	if raceEnabled {
		return n / 5
	}
	return n
}

// measureFP evaluates the timelines at the largest alpha and returns, per
// alpha, how many were flagged, and how many were tested at all.
func measureFP(t testing.TB, timelines []*hostEvents) (flagged []int, tested int) {
	cfg := DefaultConfig()
	cfg.Alpha = alphas[0]
	d := mustNew(t, cfg)
	flagged = make([]int, len(alphas))
	for _, h := range timelines {
		p, te := evaluateHost(d, h)
		if te {
			tested++
		}
		for i, a := range alphas {
			if p <= a {
				flagged[i]++
			}
		}
	}
	return flagged, tested
}

// binomialBound is the largest fraction of n trials a test with level
// alpha should reach: alpha plus four binomial standard deviations.
func binomialBound(alpha float64, n int) float64 {
	return alpha + 4*math.Sqrt(alpha*(1-alpha)/float64(n)) + 1/float64(n)
}

// TestFalsePositiveRateShuffled rotates the actions of every generated host
// (agents and hard negatives) by a random offset, 1000 timelines in all,
// and counts the hosts flagged: at most about alpha of them, at several
// alphas.
func TestFalsePositiveRateShuffled(t *testing.T) {
	var hosts []*hostEvents
	for _, tl := range couplingSets(t) {
		hosts = append(hosts, tl.perHost()...)
	}
	n := trials(1000)
	r := rand.New(rand.NewPCG(11, 12))
	guard := 2 * int64(DefaultConfig().LagWindow)
	var timelines []*hostEvents
	for i := 0; len(timelines) < n; i++ {
		if s := hosts[i%len(hosts)].shuffled(r, guard); s != nil {
			timelines = append(timelines, s)
		}
	}
	flagged, tested := measureFP(t, timelines)
	for i, alpha := range alphas {
		rate := float64(flagged[i]) / float64(n)
		t.Logf("alpha %-5g: %d of %d shuffled timelines flagged (%.4f); %d reached min_cycles and were tested", alpha, flagged[i], n, rate, tested)
		if b := binomialBound(alpha, n); rate > b {
			t.Errorf("alpha %g: %d of %d shuffled timelines flagged, above %.4f", alpha, flagged[i], n, b)
		}
	}
}

// TestFalsePositiveRateModel draws 600 timelines from each of three
// simple independent models (answers at random times; actions Poisson, on
// a jittered timer, or in bursts), dense enough that most reach
// min_cycles by chance, and checks that at most about alpha of them are
// flagged.
func TestFalsePositiveRateModel(t *testing.T) {
	host := netip.MustParseAddr("10.9.9.9")
	models := []struct {
		name    string
		actions func(r *rand.Rand, span int64) []int64
	}{
		{"poisson 1/2s", func(r *rand.Rand, span int64) []int64 { return poisson(r, span, 2*time.Second) }},
		{"timer 3s, 3% jitter", func(r *rand.Rand, span int64) []int64 { return timer(r, span, 3*time.Second, 0.03) }},
		{"bursts of 6 every 30s", func(r *rand.Rand, span int64) []int64 { return bursts(r, span, 30*time.Second, 6) }},
	}
	n := trials(600)
	for mi, m := range models {
		r := rand.New(rand.NewPCG(21, uint64(mi)))
		timelines := make([]*hostEvents, n)
		for i := range timelines {
			span := int64(10 * time.Minute)
			h := &hostEvents{host: host}
			for _, e := range poisson(r, span, 20*time.Second) {
				dur := int64(time.Duration(0.5+r.ExpFloat64()*4) * time.Second)
				h.streams = append(h.streams, Stream{Host: host, Start: e - dur, End: e, UID: "llm"})
			}
			for k, a := range m.actions(r, span) {
				h.actions = append(h.actions, Action{Host: host, Time: a, Kind: ActionConnect, Service: "http", UID: fmt.Sprint("a", k)})
			}
			timelines[i] = h
		}
		flagged, tested := measureFP(t, timelines)
		for i, alpha := range alphas {
			rate := float64(flagged[i]) / float64(n)
			t.Logf("%-22s alpha %-5g: %d of %d timelines flagged (%.4f); %d reached min_cycles and were tested", m.name, alpha, flagged[i], n, rate, tested)
			if b := binomialBound(alpha, n); rate > b {
				t.Errorf("%s alpha %g: %d of %d flagged, above %.4f", m.name, alpha, flagged[i], n, b)
			}
		}
	}
}

func poisson(r *rand.Rand, span int64, mean time.Duration) []int64 {
	var out []int64
	for t := int64(r.ExpFloat64() * float64(mean)); t < span; t += int64(r.ExpFloat64() * float64(mean)) {
		out = append(out, 1e18+t)
	}
	return out
}

func timer(r *rand.Rand, span int64, period time.Duration, jitter float64) []int64 {
	var out []int64
	for t := int64(r.Float64() * float64(period)); t < span; t += int64(float64(period) * (1 + jitter*(2*r.Float64()-1))) {
		out = append(out, 1e18+t)
	}
	return out
}

func bursts(r *rand.Rand, span int64, period time.Duration, k int) []int64 {
	var out []int64
	for t := int64(r.Float64() * float64(period)); t < span; t += int64(period) {
		x := t
		for j := 0; j < k; j++ {
			out = append(out, 1e18+x)
			x += int64((5 + r.ExpFloat64()*40) * float64(time.Millisecond))
		}
	}
	return out
}
