package coupling

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// t0 is the start of the hand-built timelines (2026-03-02T09:00:00Z).
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).UnixNano()

func ms(x float64) int64 { return int64(x * float64(time.Millisecond)) }

// agentLoop builds an agent loop on host: n answers on one keep-alive LLM
// connection, each followed after 50-500 ms by a command in one SSH
// session, then 1-10 s of command and model time.
func agentLoop(host netip.Addr, n int, seed uint64) ([]Stream, []Action) {
	r := rand.New(rand.NewPCG(seed, 7))
	var ss []Stream
	var as []Action
	t := t0
	for i := 0; i < n; i++ {
		start := t
		end := start + ms(300+r.Float64()*800) + ms(500+r.Float64()*3000)
		ss = append(ss, Stream{Host: host, Start: start, End: end, RecordID: "00112233445566778899aabbccddeeff", UID: "Cllm" + host.String(),
			CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", FlowKey: "tcp " + host.String() + ":40000 203.0.113.5:443", Route: "anthropic/claude-3.5-haiku"})
		a := end + ms(50+r.Float64()*450)
		as = append(as, Action{Host: host, Time: a, Kind: ActionCommand, FlowKey: "tcp " + host.String() + ":41000 10.30.1.20:22",
			RecordID: "ffeeddccbbaa99887766554433221100", UID: "Cssh" + host.String(), Service: "ssh", DstPort: 22, Class: "agent_shell"})
		t = a + ms(200+r.ExpFloat64()*2000) + ms(60+r.Float64()*1000)
	}
	return ss, as
}

// randomHost builds an uncoupled host: answers at random times and
// actions on several channels at random times.
func randomHost(host netip.Addr, streams, actions int, span time.Duration, seed uint64) ([]Stream, []Action) {
	r := rand.New(rand.NewPCG(seed, 9))
	var ss []Stream
	var as []Action
	for i := 0; i < streams; i++ {
		st := t0 + int64(r.Float64()*float64(span))
		ss = append(ss, Stream{Host: host, Start: st, End: st + ms(500+r.Float64()*5000), UID: fmt.Sprintf("Cllm%d", i%3)})
	}
	svcs := []string{"http", "ssl", "ssh", "postgresql"}
	for i := 0; i < actions; i++ {
		as = append(as, Action{Host: host, Time: t0 + int64(r.Float64()*float64(span)), Kind: ActionConnect,
			UID: fmt.Sprintf("Cact%d", i), Service: svcs[i%len(svcs)], DstPort: uint16(1000 + i%len(svcs))})
	}
	return ss, as
}

// hostN returns the n-th test host address (10.x.y.z).
func hostN(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

func observeAll(d *Detector, ss []Stream, as []Action) {
	for _, s := range ss {
		d.ObserveStream(s)
	}
	for _, a := range as {
		d.ObserveAction(a)
	}
}

func lastTime(ss []Stream, as []Action) int64 {
	var t int64 = math.MinInt64
	for _, s := range ss {
		t = max(t, s.End)
	}
	for _, a := range as {
		t = max(t, a.Time)
	}
	return t
}

// snapshotOf builds the timeline a detector would hold for host after
// observing ss and as, without the insertion path (for tests that
// evaluate many timelines).
func snapshotOf(host netip.Addr, ss []Stream, as []Action) *snapshot {
	s := &snapshot{ip: schemas.IPFromAddr(host)}
	for _, x := range ss {
		m := &meta{recordID: x.RecordID, uid: x.UID, communityID: x.CommunityID, flowKey: x.FlowKey, label: x.Route}
		s.streams = append(s.streams, streamEv{start: x.Start, end: x.End, m: m})
	}
	for _, x := range as {
		m := &meta{recordID: x.RecordID, uid: x.UID, communityID: x.CommunityID, flowKey: x.FlowKey, label: x.Service, port: x.DstPort, class: classIndex(x.Class)}
		s.actions = append(s.actions, actionEv{t: x.Time, m: m, kind: x.Kind})
	}
	slices.SortStableFunc(s.streams, func(a, b streamEv) int { return cmp.Compare(a.end, b.end) })
	slices.SortStableFunc(s.actions, func(a, b actionEv) int { return cmp.Compare(a.t, b.t) })
	return s
}
