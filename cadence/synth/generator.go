package synth

import (
	"fmt"
	"hash/fnv"
	"math"
	"net/netip"
	"slices"

	"github.com/aegis-nsm/aegis/schemas"
)

// generator plans episodes, runs them and merges their flows' packets into
// one time-ordered stream.
type generator struct {
	cfg        Config
	net        *network
	scen       []*scenario
	start      int64
	flowIdx    int
	episodes   int
	flowsDone  int
	genPackets int64
	byClass    map[schemas.Class]int
	byScenario map[string]int
	err        error

	plan    []*planItem // per-scenario mode, sorted by start
	pi      int
	planRNG *rng // benchmark mode
	pending *planItem
	lastSt  int64
	weights []float64

	heap minHeap[*flow]
}

type planItem struct {
	sc      *scenario
	variant string
	start   int64
	r       *rng
}

func hashName(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func newGenerator(cfg Config) *generator {
	g := &generator{
		cfg:        cfg,
		heap:       minHeap[*flow]{less: flowBefore},
		net:        newNetwork(cfg.Seed, cfg.VLANShare),
		start:      cfg.Start.UnixNano(),
		byClass:    map[schemas.Class]int{},
		byScenario: map[string]int{},
	}
	want := map[string]bool{}
	for _, n := range cfg.Scenarios {
		want[n] = true
	}
	for _, s := range allScenarios() {
		if len(want) == 0 || want[s.name] {
			g.scen = append(g.scen, s)
		}
	}
	if cfg.TargetPackets > 0 {
		g.planRNG = newRNG(cfg.Seed, hashName("benchmark-plan"), 0)
		for _, s := range g.scen {
			g.weights = append(g.weights, s.weight)
		}
		g.lastSt = g.start
		return g
	}
	for _, s := range g.scen {
		vs := s.variants
		if len(vs) == 0 {
			vs = []string{""}
		}
		add := func(v string, k int) {
			r := newRNG(cfg.Seed, hashName(s.name)^hashName("v:"+v), uint64(k))
			st := g.start + int64(r.Float64()*float64(cfg.Span))
			g.plan = append(g.plan, &planItem{sc: s, variant: v, start: st, r: r})
		}
		if s.perVariant {
			for _, v := range vs {
				for k := 0; k < cfg.EpisodesPerScenario; k++ {
					add(v, k)
				}
			}
			continue
		}
		for k := 0; k < max(cfg.EpisodesPerScenario, len(vs)); k++ {
			add(vs[k%len(vs)], k/len(vs))
		}
	}
	slices.SortStableFunc(g.plan, func(a, b *planItem) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	return g
}

// peek returns the next episode to run, or nil when the plan is done.
func (g *generator) peek() *planItem {
	if g.planRNG == nil {
		if g.pi < len(g.plan) {
			return g.plan[g.pi]
		}
		return nil
	}
	if g.pending == nil && g.genPackets < g.cfg.TargetPackets {
		s := g.scen[g.planRNG.weighted(g.weights)]
		v := ""
		if len(s.variants) > 0 {
			v = pick(g.planRNG, s.variants)
		}
		g.lastSt += int64(g.planRNG.exp(float64(g.cfg.EpisodeGap)))
		r := newRNG(g.cfg.Seed, hashName(s.name)^hashName("v:"+v)^0xbe4c, uint64(g.episodes))
		g.pending = &planItem{sc: s, variant: v, start: g.lastSt, r: r}
	}
	return g.pending
}

func (g *generator) take() {
	if g.planRNG == nil {
		g.pi++
	} else {
		g.pending = nil
	}
}

func (g *generator) run(w *sinks) error {
	for {
		for {
			it := g.peek()
			if it == nil {
				break
			}
			if g.heap.Len() > 0 {
				top := g.heap.Top()
				if it.start > top.pkts[top.next].t {
					break
				}
			}
			g.take()
			if err := g.runEpisode(it); err != nil {
				return err
			}
		}
		if g.heap.Len() == 0 {
			return nil
		}
		f := g.heap.Top()
		if err := w.packet(f, &f.pkts[f.next]); err != nil {
			return err
		}
		f.next++
		if f.next == len(f.pkts) {
			if err := w.flowDone(f); err != nil {
				return err
			}
			g.flowsDone++
			g.byClass[f.class]++
			g.byScenario[f.scenario]++
			g.heap.Pop()
			f.pkts = nil
			f.st = [2]stream{}
		} else {
			g.heap.Fix()
		}
	}
}

func (g *generator) runEpisode(it *planItem) error {
	e := &episode{g: g, r: it.r, idx: g.episodes, start: it.start, variant: it.variant, sc: it.sc, scale: g.cfg.Scale, volume: g.cfg.VolumeScale}
	g.episodes++
	e.v6 = e.r.chance(g.cfg.IPv6Share)
	it.sc.run(e)
	for _, f := range e.flows {
		if len(f.pkts) == 0 {
			continue
		}
		slices.SortStableFunc(f.pkts, func(a, b pkt) int {
			switch {
			case a.t < b.t:
				return -1
			case a.t > b.t:
				return 1
			}
			return 0
		})
		if f.st[0].bad || f.st[1].bad {
			return fmt.Errorf("synth: internal error: scenario %s wrote overlapping content", it.sc.name)
		}
		if f.pkts[0].t < e.start {
			return fmt.Errorf("synth: internal error: scenario %s wrote a packet %d ns before its episode start", it.sc.name, e.start-f.pkts[0].t)
		}
		f.uid = zeekUID(newRNG(g.cfg.Seed, hashName("uid"), uint64(f.idx)))
		f.episode = e.idx
		g.genPackets += int64(len(f.pkts))
		g.heap.Push(f)
	}
	return nil
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// zeekUID returns a Zeek-style connection uid: "C" and 17 base62 characters.
func zeekUID(r *rng) string {
	b := make([]byte, 18)
	b[0] = 'C'
	for i := 1; i < len(b); i++ {
		b[i] = base62[r.IntN(62)]
	}
	return string(b)
}

// flowBefore orders flows by their next packet's time, then creation order.
func flowBefore(a, b *flow) bool {
	ta, tb := a.pkts[a.next].t, b.pkts[b.next].t
	if ta != tb {
		return ta < tb
	}
	return a.idx < b.idx
}

// episode is one run of a scenario: it owns an RNG and creates flows.
type episode struct {
	g       *generator
	r       *rng
	idx     int
	start   int64
	variant string
	sc      *scenario
	scale   float64
	volume  float64
	v6      bool
	flows   []*flow
	paths   map[pathKey]pathParams
}

// pathKey identifies the path between a client and a server (one episode
// reuses it for all connections between them).
type pathKey struct {
	c   *host
	rem *remote
	lan *host
}

// scaled multiplies x by the episode scale, with a floor.
func (e *episode) scaled(x, floor float64) float64 { return math.Max(x*e.scale, floor) }

// vol multiplies a byte volume by the episode's volume scale, with a floor.
func (e *episode) vol(x, floor float64) int { return int(math.Max(x*e.volume, floor)) }

// scaledInt is scaled rounded to an int.
func (e *episode) scaledInt(x float64, floor int) int {
	return max(int(math.Round(x*e.scale)), floor)
}

func (e *episode) newFlow(proto uint8) *flow {
	f := &flow{idx: e.g.flowIdx, proto: proto, class: e.sc.class, scenario: e.sc.name}
	e.g.flowIdx++
	e.flows = append(e.flows, f)
	return f
}

// connSpec describes a new connection.
type connSpec struct {
	client  *host
	server  endpoint
	dport   uint16
	sport   uint16 // 0: an ephemeral port
	service string
	v4only  bool
	addr    netip.Addr // the server address to use (zero: pick one)
}

func (e *episode) path(cs connSpec) pathParams {
	key := pathKey{cs.client, cs.server.rem, cs.server.lan}
	if pp, ok := e.paths[key]; ok {
		return pp
	}
	r := e.r
	var pp pathParams
	pp.owdCli = int64(r.lognClip(120, 0.5, 30, 2000) * float64(us))
	if cs.client.os != osLinux && r.chance(0.3) {
		// A laptop on Wi-Fi: the sensor sits behind the access point.
		pp.owdCli = int64(r.uniform(0.8, 5) * float64(ms))
	}
	if cs.server.lan != nil {
		pp.owdSrv = int64(r.lognClip(150, 0.5, 30, 2000) * float64(us))
		pp.mbpsDown, pp.mbpsUp = 1000, 1000
	} else {
		rem := cs.server.rem
		rtt := math.Exp(r.uniform(math.Log(rem.rtt[0]), math.Log(rem.rtt[1])))
		rtt = clamp(rtt, 5, 150)
		pp.owdSrv = max(int64(rtt*float64(ms)/2)-pp.owdCli, 500*us)
		pp.mbpsDown = math.Exp(r.uniform(math.Log(50), math.Log(1000)))
		pp.mbpsUp = math.Exp(r.uniform(math.Log(20), math.Log(1000)))
		pp.lossDown = math.Pow(10, r.uniform(-4.5, -2.6))
		pp.lossUp = pp.lossDown / 3
	}
	if e.paths == nil {
		e.paths = map[pathKey]pathParams{}
	}
	e.paths[key] = pp
	return pp
}

// endpoints fills the identity of flow f for a connection cs.
func (e *episode) endpoints(f *flow, cs connSpec) {
	r := e.r
	if cs.addr.IsValid() {
		f.v6 = cs.addr.Is6()
		f.addr[srv] = cs.addr
	} else {
		f.v6 = e.v6 && !cs.v4only && cs.server.hasV6()
		f.addr[srv] = cs.server.pickAddr(r, f.v6)
	}
	if f.v6 {
		f.addr[cli] = cs.client.v6
	} else {
		f.addr[cli] = cs.client.v4
	}
	f.port[cli] = cs.sport
	if f.port[cli] == 0 {
		f.port[cli] = cs.client.ephemeral(r)
	}
	f.port[srv] = cs.dport
	f.vlan = cs.client.vlan
	f.mac[cli] = cs.client.mac
	f.service = cs.service
	ttlOf := func(o osKind) uint8 {
		switch o {
		case osWindows:
			return 128
		case osNetdev:
			return 255
		}
		return 64
	}
	f.ttl[cli] = ttlOf(cs.client.os)
	if cs.server.lan != nil {
		f.mac[srv] = cs.server.lan.mac
		f.ttl[srv] = ttlOf(cs.server.lan.os)
	} else {
		f.mac[srv] = e.g.net.router
		f.ttl[srv] = uint8(pick(r, []int{64, 64, 128, 255}) - r.intIn(8, 22))
	}
	for d := 0; d < 2; d++ {
		f.ipid[d] = uint16(r.Uint32())
		f.flowLbl[d] = r.Uint32() & 0xfffff
		f.isn[d] = r.Uint32()
		f.tsBase[d] = r.Uint32()
	}
}

// newTCP creates a TCP flow and its connection model.
func (e *episode) newTCP(cs connSpec) *tcpConn {
	f := e.newFlow(schemas.ProtoTCP)
	e.endpoints(f, cs)
	r := e.r
	osc := cs.client.os
	oss := osLinux
	if cs.server.lan != nil {
		oss = cs.server.lan.os
	} else {
		oss = cs.server.rem.os
	}
	f.osStyle = [2]osKind{osc, oss}
	f.tsOpt = osc != osWindows && oss != osWindows && oss != osNetdev && (cs.server.rem == nil || !cs.server.rem.noTS)
	mss := uint16(1460)
	if f.v6 {
		mss = 1440
	}
	f.mssOpt[cli] = mss
	if r.chance(0.05) {
		f.mssOpt[cli] = mss - 80 // behind a VPN or PPPoE link that clamps the MSS
	}
	f.mssOpt[srv] = mss
	if cs.server.rem != nil && cs.server.rem.mss != 0 {
		f.mssOpt[srv] = cs.server.rem.mss
		if f.v6 {
			f.mssOpt[srv] -= 20
		}
	}
	ws := func(o osKind) uint8 {
		switch o {
		case osWindows:
			return 8
		case osMac:
			return 6
		case osNetdev:
			return 0
		}
		return 7
	}
	f.wscale = [2]uint8{ws(osc), ws(oss)}
	// Scaled windows as autotuned receivers advertise them (0.5-6 MB).
	f.win[cli] = uint16(r.intIn(4000, 40000))
	if osc == osWindows {
		f.win[cli] = uint16(r.intIn(2000, 20000))
	}
	f.win[srv] = uint16(r.intIn(4000, 40000))
	if oss == osNetdev {
		f.win[srv] = 4128
	}
	c := newTCP(f, r, e.path(cs), osc, oss)
	if cs.server.rem != nil {
		c.ssai[srv] = r.chance(0.5)
	}
	return c
}

// udpConn writes the datagrams of one UDP flow.
type udpConn struct {
	f   *flow
	r   *rng
	owd [2]int64
	off [2]uint32
}

// newUDP creates a UDP flow.
func (e *episode) newUDP(cs connSpec) *udpConn {
	f := e.newFlow(schemas.ProtoUDP)
	e.endpoints(f, cs)
	pp := e.path(cs)
	return &udpConn{f: f, r: e.r, owd: [2]int64{pp.owdCli, pp.owdSrv}}
}

// send writes one datagram of n bytes from side d at t; lit, if any, is its
// content prefix.
func (u *udpConn) send(d int, t int64, n int, lit []byte) {
	u.f.st[d].lit(u.off[d], lit[:min(len(lit), n)])
	u.f.add(pkt{t: t, dir: uint8(d), seq: u.off[d], n: uint32(n)})
	u.off[d] += uint32(n)
}

// turn is the time from a packet passing the sensor to side d's immediate
// reaction passing it.
func (u *udpConn) turn(d int) int64 { return 2 * u.owd[d] }
