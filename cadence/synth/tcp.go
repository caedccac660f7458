package synth

import (
	"math"

	"github.com/aegis-nsm/aegis/schemas"
)

// tcpConn models one TCP connection as a sensor near the client sees it. It
// is a small discrete-event simulation: the scenario issues application
// writes (in non-decreasing time), the connection cuts them into segments,
// paces them by the congestion window and the path's bottleneck rate, and
// schedules what the receiver does when each segment arrives: an immediate
// or delayed ACK (Linux quick-ack, pingpong and the one-full-segment rule;
// Windows and macOS ack every second segment), duplicate ACKs with SACK
// while a hole is open, and the sender's fast or timeout retransmission.
//
// Times are sensor times in ns. owd[side] is the one-way delay between the
// sensor and that side: a packet seen at t reaches side p at t+owd[p], and a
// reaction of side p to it is seen at t+2*owd[p].
type tcpConn struct {
	f         *flow
	r         *rng
	owd       [2]int64
	nsPerByte [2]float64 // bottleneck serialisation of packets sent by each side
	jit       [2]float64 // mean extra gap (ns) between back-to-back segments
	mss       [2]int     // payload bytes per full segment sent by each side
	optLen    int        // TCP option bytes on non-SYN segments (timestamps)
	nxt       [2]uint32  // next relative sequence number of each side
	rx        [2]rxState // rx[p]: side p receiving from the other side
	tx        [2]txState
	os        [2]osKind
	loss      [2]float64 // per-segment loss probability of data sent by each side
	lossEarly [2]float64 // share of those losses that happen before the sensor
	fin       [2]bool
	lastT     [2]int64
	now       int64
	evq       minHeap[event]
	evSeq     uint64
	rtt       int64
	rto       int64
	lastArr   [2]int64 // last arrival event time of data sent by each side
	maxCwnd   [2]float64
	// ssai: the side restarts slow start after an idle period
	// (net.ipv4.tcp_slow_start_after_idle, on by default; large
	// front ends often turn it off).
	ssai [2]bool
}

type arrival struct {
	e   int64
	cum uint32
}

type rxState struct {
	arr       []arrival
	cum       uint32
	hole      bool
	holeStart uint32
	holeEnd   uint32
	oooMax    uint32
	dups      int
	unBytes   int
	unSegs    int
	pendDue   int64
	pendFrom  int64
	pendGen   uint32
	quick     int
	pingpong  bool
	lastRcv   int64
	ato       int64
}

type txState struct {
	cwnd, ssthresh float64
	ring           []int64
	sent           int // data segments sent (for the window ring)
	lastData       int64
	retxPending    bool
	retxGen        uint32
	retxSeq, retxN uint32
	lostSeen       bool
}

type evKind uint8

const (
	evArrive evKind = iota + 1
	evDelAck
	evRetx
)

type event struct {
	t    int64
	seq  uint64
	kind evKind
	side uint8 // evArrive: sender; evDelAck: receiver; evRetx: sender
	lost bool
	gen  uint32
	s, n uint32
}

// eventBefore orders events by time, then by the order they were queued.
func eventBefore(a, b event) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	return a.seq < b.seq
}

const (
	quickAcks   = 16
	ringSize    = 1024
	initialCwnd = 10
)

// pathParams describes the path of one connection.
type pathParams struct {
	owdCli, owdSrv int64   // one-way delays sensor↔client and sensor↔server
	mbpsDown       float64 // bottleneck rate server→client (Mbit/s)
	mbpsUp         float64 // bottleneck rate client→server
	lossDown       float64 // per-segment loss probability server→client
	lossUp         float64
}

// newTCP creates the connection's state for flow f (whose addresses, ports,
// options and OS styles are already set).
func newTCP(f *flow, r *rng, pp pathParams, osc, oss osKind) *tcpConn {
	c := &tcpConn{f: f, r: r, evq: minHeap[event]{less: eventBefore}}
	c.owd = [2]int64{pp.owdCli, pp.owdSrv}
	c.nsPerByte = [2]float64{8000 / pp.mbpsUp, 8000 / pp.mbpsDown}
	c.jit = [2]float64{float64(2 * us), float64(4 * us)}
	c.loss = [2]float64{pp.lossUp, pp.lossDown}
	// Losses of what the far side sends happen upstream of the sensor
	// (the sensor never sees the original); losses of what the near side
	// sends happen downstream (the sensor sees the segment twice).
	c.lossEarly = [2]float64{0.1, 0.8}
	c.os = [2]osKind{osc, oss}
	if f.tsOpt {
		c.optLen = 12
	}
	for d := 0; d < 2; d++ {
		m := int(min(f.mssOpt[0], f.mssOpt[1]))
		c.mss[d] = m - c.optLen
		// The receiver's advertised window bounds what may be in flight.
		rwnd := float64(int(f.win[1-d]) << f.wscale[1-d])
		c.maxCwnd[d] = max(4, min(rwnd/float64(c.mss[d]), ringSize-1))
		c.tx[d].cwnd = initialCwnd
		c.tx[d].ssthresh = math.Inf(1)
		c.rx[d].quick = quickAcks
		c.rx[d].ato = c.delack(d)
	}
	c.ssai = [2]bool{true, true}
	c.rtt = 2 * (pp.owdCli + pp.owdSrv)
	c.rto = 200*ms + c.rtt
	return c
}

// delack is side p's delayed-ACK timeout.
func (c *tcpConn) delack(p int) int64 {
	switch c.os[p] {
	case osWindows:
		return 200 * ms
	case osMac:
		return 100 * ms
	case osNetdev:
		return 200 * ms
	}
	return 40 * ms
}

// open writes the three-way handshake starting at t and returns the time the
// client's ACK is seen (from then on the client may send).
func (c *tcpConn) open(t int64) int64 {
	f := c.f
	f.add(pkt{t: t, flags: schemas.TCPSyn, dir: cli})
	sa := t + 2*c.owd[srv] + us*int64(15+c.r.IntN(60))
	f.add(pkt{t: sa, flags: schemas.TCPSyn | schemas.TCPAck, ack: 1, dir: srv})
	a := sa + 2*c.owd[cli] + us*int64(5+c.r.IntN(40))
	f.add(pkt{t: a, flags: schemas.TCPAck, seq: 1, ack: 1, dir: cli})
	c.nxt = [2]uint32{1, 1}
	c.rx[srv].arr = append(c.rx[srv].arr, arrival{e: sa, cum: 1})
	c.rx[cli].arr = append(c.rx[cli].arr, arrival{e: a, cum: 1})
	c.rx[srv].cum, c.rx[cli].cum = 1, 1
	c.lastT = [2]int64{a, sa}
	c.now = a
	return a
}

// off is the relative sequence number side d's next byte will carry.
func (c *tcpConn) off(d int) uint32 { return c.nxt[d] }

// turn is the time from a packet of the other side passing the sensor to
// side d's immediate reaction passing the sensor.
func (c *tcpConn) turn(d int) int64 { return 2 * c.owd[d] }

// ackAt is the cumulative ACK side p puts on a packet seen at sensor time t.
func (c *tcpConn) ackAt(p int, t int64) uint32 {
	a := c.rx[p].arr
	lo, hi := 0, len(a)
	for lo < hi {
		m := (lo + hi) / 2
		if a[m].e <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0
	}
	return a[lo-1].cum
}

func (c *tcpConn) pushEv(e event) {
	c.evSeq++
	e.seq = c.evSeq
	c.evq.Push(e)
}

// runUntil processes every scheduled event at or before t, in time order.
func (c *tcpConn) runUntil(t int64) {
	for c.evq.Len() > 0 && c.evq.Top().t <= t {
		e := c.evq.Pop()
		if e.t > c.now {
			c.now = e.t
		}
		switch e.kind {
		case evArrive:
			c.onArrive(e)
		case evDelAck:
			rx := &c.rx[e.side]
			if rx.pendDue != 0 && rx.pendGen == e.gen {
				c.pureAck(int(e.side), e.t, 0, 0)
				c.ackedAll(int(e.side))
				rx.pingpong = false
			}
		case evRetx:
			tx := &c.tx[e.side]
			if tx.retxPending && tx.retxGen == e.gen {
				tx.retxPending = false
				tx.retxGen++
				tx.ssthresh = max(2, tx.cwnd/2)
				tx.cwnd = tx.ssthresh
				c.emitSeg(int(e.side), max(e.t, c.lastT[e.side]+us), e.s, int(e.n), schemas.TCPAck|schemas.TCPPsh, false)
			}
		}
	}
}

func (c *tcpConn) ackedAll(p int) {
	rx := &c.rx[p]
	rx.unBytes, rx.unSegs = 0, 0
	rx.pendDue = 0
	rx.pendGen++
}

// pureAck emits a bare ACK from side p at t (optionally with one SACK block).
func (c *tcpConn) pureAck(p int, t int64, sl, sr uint32) {
	t = max(t, c.lastT[p]+us)
	c.f.add(pkt{t: t, dir: uint8(p), flags: schemas.TCPAck, seq: c.nxt[p], ack: c.ackAt(p, t), sackL: sl, sackR: sr})
	c.lastT[p] = t
	if t > c.now {
		c.now = t
	}
}

// onArrive is the receiver's reaction to a data segment.
func (c *tcpConn) onArrive(e event) {
	d := int(e.side)
	p := 1 - d
	rx := &c.rx[p]
	seq, n := e.s, e.n
	if e.lost {
		if !rx.hole {
			rx.hole = true
			rx.holeStart, rx.holeEnd = seq, seq+n
			rx.oooMax = seq + n
			rx.dups = 0
		}
		return
	}
	if rx.hole {
		switch {
		case seq <= rx.holeStart && seq+n >= rx.holeEnd:
			rx.hole = false
			rx.cum = max(rx.cum, rx.oooMax, seq+n)
			c.pushArr(p, e.t)
			c.pureAck(p, e.t, 0, 0)
			c.ackedAll(p)
			return
		case seq >= rx.holeEnd:
			rx.oooMax = max(rx.oooMax, seq+n)
			c.pureAck(p, e.t, rx.holeEnd, rx.oooMax)
			c.ackedAll(p)
			rx.dups++
			if rx.dups == 3 {
				tx := &c.tx[d]
				if tx.retxPending {
					// Fast retransmit: the third duplicate ACK reaches the sender.
					tx.retxGen++
					c.pushEv(event{t: e.t + 2*c.owd[d] + 20*us, kind: evRetx, side: uint8(d), gen: tx.retxGen, s: tx.retxSeq, n: tx.retxN})
				}
			}
			return
		}
	}
	if seq+n <= rx.cum {
		// A copy of data already received (spurious retransmission):
		// duplicate ACK with a D-SACK block.
		c.pureAck(p, e.t, seq, seq+n)
		c.ackedAll(p)
		return
	}
	rx.cum = seq + n
	c.pushArr(p, e.t)
	rx.unBytes += int(n)
	rx.unSegs++
	gap := e.t - rx.lastRcv
	rx.lastRcv = e.t
	rx.pendFrom = e.t
	immediate := false
	switch c.os[p] {
	case osLinux:
		if gap > c.rto {
			rx.quick = quickAcks
		}
		if rx.quick > 0 && !rx.pingpong {
			rx.quick--
			immediate = true
		}
		if rx.unBytes > c.mss[d] {
			immediate = true
		}
	default:
		immediate = rx.unSegs >= 2
	}
	if immediate {
		c.pureAck(p, e.t, 0, 0)
		c.ackedAll(p)
		return
	}
	if rx.pendDue == 0 {
		rx.pendGen++
		// Timer granularity adds up to a few ms.
		rx.pendDue = e.t + rx.ato + us*int64(c.r.IntN(4000))
		c.pushEv(event{t: rx.pendDue, kind: evDelAck, side: uint8(p), gen: rx.pendGen})
	}
}

func (c *tcpConn) pushArr(p int, t int64) {
	rx := &c.rx[p]
	if k := len(rx.arr); k > 0 && rx.arr[k-1].e > t {
		t = rx.arr[k-1].e
	}
	rx.arr = append(rx.arr, arrival{e: t, cum: rx.cum})
}

// emitSeg writes one data segment of side d at t and schedules its arrival.
func (c *tcpConn) emitSeg(d int, t int64, seq uint32, n int, flags uint8, mayLose bool) {
	p := 1 - d
	lost, seen := false, true
	tx := &c.tx[d]
	if mayLose && !tx.retxPending && c.loss[d] > 0 && c.r.chance(c.loss[d]) {
		lost = true
		seen = !c.r.chance(c.lossEarly[d])
	}
	// Data piggybacks side d's pending ACK.
	rxd := &c.rx[d]
	if rxd.pendDue != 0 && t >= rxd.pendFrom {
		c.ackedAll(d)
	}
	if c.os[d] == osLinux && rxd.lastRcv != 0 && t-rxd.lastRcv < rxd.ato {
		rxd.pingpong = true
	}
	if seen {
		c.f.add(pkt{t: t, dir: uint8(d), flags: flags, seq: seq, ack: c.ackAt(d, t), n: uint32(n)})
	}
	c.lastT[d] = t
	if t > c.now {
		c.now = t
	}
	if lost {
		tx.retxPending = true
		tx.retxGen++
		tx.retxSeq, tx.retxN = seq, uint32(n)
		// Until three duplicate ACKs arrive, the tail-loss probe or the
		// retransmission timer fires.
		due := t + max(2*c.rtt, 10*ms) + 2*ms
		if c.r.chance(0.4) {
			due = t + c.rto
		}
		c.pushEv(event{t: due, kind: evRetx, side: uint8(d), gen: tx.retxGen, s: seq, n: uint32(n)})
	}
	// Segments of one direction arrive in the order they were sent.
	at := max(t+2*c.owd[p]+us*int64(8+c.r.IntN(30)), c.lastArr[d]+1)
	c.lastArr[d] = at
	c.pushEv(event{t: at, kind: evArrive, side: uint8(d), lost: lost, s: seq, n: uint32(n)})
}

// frameOverhead is the link+IP+TCP bytes of a data segment (for pacing).
func (c *tcpConn) frameOverhead() int {
	h := 14 + 20 + 20 + c.optLen
	if c.f.v6 {
		h += 20
	}
	if c.f.vlan != 0 {
		h += 4
	}
	return h
}

// send transmits one application write of n bytes from side d that is ready
// at sensor time t, and returns the sensor time of its last segment. The
// content of the bytes must already be registered in f.st[d] at off(d).
//
// Writes of one side must come in time order; a write may start before the
// other side's last packet (both directions active at once), as long as the
// scenario issues the earlier of two overlapping writes first.
func (c *tcpConn) send(d int, t int64, n int) int64 {
	if n <= 0 {
		return t
	}
	t = max(t, c.lastT[d]+us)
	tx := &c.tx[d]
	if c.ssai[d] && tx.lastData != 0 && t-tx.lastData > c.rto {
		// Slow start after idle (tcp_slow_start_after_idle).
		tx.cwnd = min(tx.cwnd, initialCwnd)
	}
	over := c.frameOverhead()
	s := max(t, tx.lastData)
	first := true
	windowBound := false
	for k := 0; n > 0; k++ {
		seg := min(n, c.mss[d])
		n -= seg
		if !first {
			s += int64(float64(seg+over)*c.nsPerByte[d]) + int64(c.r.ExpFloat64()*c.jit[d])
		} else if s > t {
			s += int64(float64(seg+over) * c.nsPerByte[d])
		}
		first = false
		w := int(tx.cwnd)
		if w < ringSize && tx.sent >= w {
			if lim := tx.ring[(tx.sent-w)%ringSize] + c.rtt + 50*us; lim > s {
				s = lim + int64(c.r.ExpFloat64()*c.jit[d])
				windowBound = true
			}
		}
		c.runUntil(s)
		s = max(s, c.lastT[d]+us)
		flags := uint8(schemas.TCPAck)
		if n == 0 {
			flags |= schemas.TCPPsh
		}
		c.emitSeg(d, s, c.nxt[d], seg, flags, true)
		c.nxt[d] += uint32(seg)
		if len(tx.ring) < ringSize {
			tx.ring = append(tx.ring, s)
		} else {
			tx.ring[tx.sent%ringSize] = s
		}
		tx.sent++
		if windowBound || k >= w/2 {
			if tx.cwnd < tx.ssthresh {
				tx.cwnd++
			} else {
				tx.cwnd += 1 / tx.cwnd
			}
			tx.cwnd = min(tx.cwnd, c.maxCwnd[d])
		}
	}
	tx.lastData = s
	return s
}

// drain runs events until no retransmission is pending (a lost segment is
// always recovered before the connection ends).
func (c *tcpConn) drain() {
	for (c.tx[0].retxPending || c.tx[1].retxPending) && c.evq.Len() > 0 {
		c.runUntil(c.evq.Top().t)
	}
}

// close sends a FIN from side d at t; the peer answers with its own FIN after
// peerDelay (combined with the ACK when that is shorter than its delayed-ACK
// timeout), and d acknowledges it. It returns the time of the last packet.
func (c *tcpConn) close(d int, t int64, peerDelay int64) int64 {
	c.drain()
	t = max(t, c.now, c.lastT[d]+us)
	c.runUntil(t)
	t = max(t, c.lastT[d]+us)
	p := 1 - d
	c.ackedAll(d)
	c.f.add(pkt{t: t, dir: uint8(d), flags: schemas.TCPFin | schemas.TCPAck, seq: c.nxt[d], ack: c.ackAt(d, t)})
	c.lastT[d] = t
	c.nxt[d]++
	c.fin[d] = true
	arr := t + 2*c.owd[p] + us*int64(10+c.r.IntN(40))
	c.runUntil(arr)
	// The peer has now received everything including the FIN.
	c.rx[p].cum = c.nxt[d]
	c.pushArr(p, arr)
	var pf int64
	ato := c.rx[p].ato
	if peerDelay < ato {
		pf = max(arr+peerDelay, c.lastT[p]+us)
	} else {
		c.pureAck(p, arr+ato, 0, 0)
		pf = max(arr+peerDelay, c.lastT[p]+us)
	}
	c.runUntil(pf)
	c.ackedAll(p)
	c.f.add(pkt{t: pf, dir: uint8(p), flags: schemas.TCPFin | schemas.TCPAck, seq: c.nxt[p], ack: c.ackAt(p, pf)})
	c.lastT[p] = pf
	c.nxt[p]++
	c.fin[p] = true
	fa := pf + 2*c.owd[d] + us*int64(5+c.r.IntN(30))
	c.rx[d].cum = c.nxt[p]
	c.pushArr(d, fa)
	c.f.add(pkt{t: fa, dir: uint8(d), flags: schemas.TCPAck, seq: c.nxt[d], ack: c.ackAt(d, fa)})
	c.lastT[d] = fa
	c.now = fa
	c.evq.items = c.evq.items[:0]
	return fa
}

// reset aborts the connection with a RST from side d at t.
func (c *tcpConn) reset(d int, t int64) int64 {
	c.drain()
	t = max(t, c.now, c.lastT[d]+us)
	c.runUntil(t)
	t = max(t, c.lastT[d]+us)
	c.f.add(pkt{t: t, dir: uint8(d), flags: schemas.TCPRst | schemas.TCPAck, seq: c.nxt[d], ack: c.ackAt(d, t)})
	c.lastT[d] = t
	c.now = t
	c.evq.items = c.evq.items[:0]
	return t
}

// abandon ends the simulation without closing (the connection is still open
// when the capture ends): pending ACKs up to t still happen.
func (c *tcpConn) abandon(t int64) {
	c.drain()
	c.runUntil(t)
	c.evq.items = c.evq.items[:0]
}
