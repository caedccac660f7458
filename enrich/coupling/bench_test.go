package coupling

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// Benchmarks of the hot paths:
//
//	go test ./enrich/coupling -run '^$' -bench . -benchmem
//
// ObserveAction and ObserveStream are per event, on a detector holding
// 10,000 busy hosts; Evaluate is the statistic on one host (an agent loop
// drawing the whole null, or an uncoupled host stopping early); ShiftNull
// is the null alone.

// benchInputs prepares actions and streams for hosts hosts, identity
// strings allocated up front (the pipeline's records own them).
func benchInputs(hosts, perHost int) ([]Action, []Stream) {
	r := rand.New(rand.NewPCG(1, 2))
	var as []Action
	var ss []Stream
	for k := 0; k < perHost; k++ {
		for i := 0; i < hosts; i++ {
			h := hostN(i)
			t := t0 + int64(k)*int64(5*time.Second) + int64(r.IntN(1000))*int64(time.Millisecond)
			as = append(as, Action{Host: h, Time: t, Kind: ActionConnect, FlowKey: fmt.Sprintf("tcp %s:%d 10.30.1.20:22", h, 40000+k),
				UID: fmt.Sprintf("C%08d%09d", i, k), Service: "ssh", DstPort: 22})
			ss = append(ss, Stream{Host: h, Start: t - int64(3*time.Second), End: t - int64(200*time.Millisecond), UID: fmt.Sprintf("L%08d", i)})
		}
	}
	return as, ss
}

func BenchmarkObserveAction(b *testing.B) {
	as, _ := benchInputs(10_000, 64)
	d := mustNew(b, DefaultConfig())
	for _, a := range as[:len(as)/2] {
		d.ObserveAction(a)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := as[len(as)/2+i%(len(as)/2)]
		a.Time += int64(i/(len(as)/2)) * int64(time.Hour/4)
		d.ObserveAction(a)
	}
}

func BenchmarkObserveStream(b *testing.B) {
	_, ss := benchInputs(10_000, 64)
	d := mustNew(b, DefaultConfig())
	for _, s := range ss[:len(ss)/2] {
		d.ObserveStream(s)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := ss[len(ss)/2+i%(len(ss)/2)]
		off := int64(i/(len(ss)/2)) * int64(time.Hour/4)
		s.Start += off
		s.End += off
		d.ObserveStream(s)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	h := netip.MustParseAddr("10.1.1.1")
	for _, c := range []struct {
		name  string
		build func() ([]Stream, []Action)
	}{
		{"agent_40_steps", func() ([]Stream, []Action) { return agentLoop(h, 40, 1) }},
		{"agent_128_steps", func() ([]Stream, []Action) { return agentLoop(h, 128, 2) }},
		{"uncoupled_busy_host", func() ([]Stream, []Action) { return randomHost(h, 60, 400, 10*time.Minute, 3) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			ss, as := c.build()
			d := mustNew(b, DefaultConfig())
			observeAll(d, ss, as)
			now := lastTime(ss, as) + int64(time.Minute)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d.Evaluate(h, now)
			}
		})
	}
}

func BenchmarkShiftNull(b *testing.B) {
	ss, as := agentLoop(hostN(1), 128, 4)
	var ends, acts []int64
	for _, s := range ss {
		ends = append(ends, s.End)
	}
	for _, a := range as {
		acts = append(acts, a.Time)
	}
	w := int64(1500 * time.Millisecond)
	_, c := cycles(ends, acts, w)
	buf := make([]int64, len(acts))
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		shiftNull(ends, acts, w, 2*w, int64(2*time.Minute), c, 1999, 1, rng, buf)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1999, "ns/copy")
}
