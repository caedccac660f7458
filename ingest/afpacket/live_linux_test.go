//go:build linux

package afpacket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/aegis-nsm/aegis/schemas"
)

// liveWait bounds how long a live test waits for the kernel to hand over
// packets it has already sent. It is a deadline against hanging, not a
// speed requirement: on an idle machine the wait is a few milliseconds.
const liveWait = 20 * time.Second

// liveConfig is a Source configuration for a veth in a test: small
// blocks, but many of them, since at a trickle each packet may take a
// block of its own (the kernel hands a block over after BlockTimeout
// however little it holds), so the ring rides out a worker held up for
// NumBlocks × BlockTimeout (1.3 s) on a busy test machine.
func liveConfig(iface string, workers int) Config {
	c := DefaultConfig()
	c.Interface = iface
	c.Workers = workers
	c.BlockSize = 64 << 10
	c.NumBlocks = 128
	c.BlockTimeout = 10 * time.Millisecond
	c.PollTimeout = 20 * time.Millisecond
	return c
}

// seen is one captured packet and the worker that delivered it.
type seen struct {
	worker int
	p      schemas.Packet
}

// sink collects what a Source delivers.
type sink struct {
	mu   sync.Mutex
	pkts []seen
}

func (s *sink) add(worker int, batch []schemas.Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range batch {
		s.pkts = append(s.pkts, seen{worker, p})
	}
	return nil
}

func (s *sink) snapshot() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pkts)
}

// running is a Source running in the background.
type running struct {
	*Source
	sink   *sink
	cancel context.CancelFunc
	errc   chan error
}

// startSource makes and runs a Source; the test's cleanup stops it.
func startSource(t *testing.T, cfg Config) *running {
	t.Helper()
	src, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Source: src, sink: &sink{}, cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- src.Run(ctx, r.sink.add) }()
	t.Cleanup(func() { cancel(); src.Close() })
	return r
}

// stop cancels Run and returns its error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.errc:
		return err
	case <-time.After(liveWait):
		t.Fatal("Run did not return after its context was cancelled")
		return nil
	}
}

// waitFor polls cond until it holds, failing the test after liveWait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(liveWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drained waits until every packet the kernel accepted for the rings has
// been read (Packets == Drops + Frames) and returns the final counts.
func (r *running) drained(t *testing.T) WorkerStats {
	t.Helper()
	var tot WorkerStats
	waitFor(t, "the rings to drain", func() bool {
		tot = r.Stats().Total()
		return tot.Packets == tot.Drops+tot.Frames
	})
	return tot
}

// flowKey identifies a flow regardless of direction.
type flowKey struct {
	a, b   schemas.IP
	pa, pb uint16
	proto  uint8
}

func keyOf(t schemas.Tuple) flowKey {
	if !t.SrcFirst() {
		t = t.Reverse()
	}
	return flowKey{t.SrcIP, t.DstIP, t.SrcPort, t.DstPort, t.Proto}
}

// asmFilter assembles a classic BPF program and writes it in the
// `tcpdump -ddd` form Config.Filter accepts.
func asmFilter(t *testing.T, ins []bpf.Instruction) string {
	t.Helper()
	raw, err := bpf.Assemble(ins)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", len(raw))
	for _, r := range raw {
		fmt.Fprintf(&b, "%d %d %d %d\n", r.Op, r.Jt, r.Jf, r.K)
	}
	return b.String()
}

// ipv4Only is the raw filter "ip": IPv4 frames only (no ARP).
func ipv4Only(t *testing.T) string {
	return asmFilter(t, []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 1},
		bpf.RetConstant{Val: 262144},
		bpf.RetConstant{Val: 0},
	})
}

// streamPlan is what the stream server sends: chunk sizes and the pause
// after each chunk, machine-regular like a model emitting tokens.
type streamPlan struct {
	sizes []int
	gaps  []time.Duration // gaps[i] follows chunk i; the last is unused
}

func newStreamPlan(seed uint64, chunks int) streamPlan {
	rng := rand.New(rand.NewPCG(seed, 7))
	p := streamPlan{sizes: make([]int, chunks), gaps: make([]time.Duration, chunks)}
	for i := range chunks {
		p.sizes[i] = 20 + rng.IntN(100)
		p.gaps[i] = time.Duration(20+rng.IntN(41)) * time.Millisecond
	}
	return p
}

func (p streamPlan) total() int {
	n := 0
	for _, s := range p.sizes {
		n += s
	}
	return n
}

// serveStream answers one request with the plan's chunks (each one write,
// TCP_NODELAY as Go sets it), then closes its side and waits for the
// client's. It returns when it made each write (nanoseconds since the
// epoch): the cadence it actually produced, pauses stretched by the
// scheduler included.
func serveStream(c net.Conn, plan streamPlan) ([]int64, error) {
	defer c.Close()
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		return nil, err
	}
	buf := make([]byte, 256)
	written := make([]int64, len(plan.sizes))
	for i, n := range plan.sizes {
		written[i] = time.Now().UnixNano()
		if _, err := c.Write(buf[:n]); err != nil {
			return nil, err
		}
		if i < len(plan.sizes)-1 {
			time.Sleep(plan.gaps[i])
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return nil, err
	}
	_, err := io.Copy(io.Discard, c)
	return written, err
}

// clientResult is what a client measured.
type clientResult struct {
	local    netip.AddrPort
	received int
	segs     uint32 // segments sent and received, by the client's TCP_INFO
}

// fetchStream sends one request, reads the stream to its end, closes,
// waits for the connection to be fully closed and reads TCP_INFO: the
// flow's segment count in both directions.
func fetchStream(server netip.AddrPort, req string) (clientResult, error) {
	var res clientResult
	c, err := net.DialTCP("tcp4", nil, net.TCPAddrFromAddrPort(server))
	if err != nil {
		return res, err
	}
	defer c.Close()
	res.local = c.LocalAddr().(*net.TCPAddr).AddrPort()
	if _, err := io.WriteString(c, req); err != nil {
		return res, err
	}
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		return res, err
	}
	res.received = int(n)
	if err := c.CloseWrite(); err != nil {
		return res, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return res, err
	}
	deadline := time.Now().Add(liveWait)
	for {
		var info *unix.TCPInfo
		var ierr error
		if err := rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
			return res, err
		}
		if ierr != nil {
			return res, ierr
		}
		if info.State == 7 { // TCP_CLOSE: our FIN is acknowledged, nothing more will pass
			res.segs = info.Segs_in + info.Segs_out
			return res, nil
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("connection stuck in TCP state %d", info.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// TestLiveStream is the end-to-end check on a real interface: LLM-like
// streams from a server in another network namespace, captured on the
// host side of the veth by two workers in a hash fanout group.
func TestLiveStream(t *testing.T) {
	v := newVethNet(t)
	cfg := liveConfig(v.Host, 2)
	cfg.Filter = ipv4Only(t) // ARP is on the link too; the filter keeps it out
	src := startSource(t, cfg)
	if id := src.FanoutID(); reservedFanoutID(id) {
		t.Fatalf("kernel-chosen fanout id %d is reserved", id)
	}

	// The server, listening in the namespace.
	var ln net.Listener
	if err := v.InNS(func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(v.PeerIP, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	server := ln.Addr().(*net.TCPAddr).AddrPort()
	const streams, chunks = 3, 30
	plan := newStreamPlan(1, chunks)
	type served struct {
		client  uint16 // the client's port
		written []int64
		err     error
	}
	servedc := make(chan served, streams)
	go func() {
		for range streams {
			c, err := ln.Accept()
			if err != nil {
				servedc <- served{err: err}
				return
			}
			go func() {
				w, err := serveStream(c, plan)
				servedc <- served{c.RemoteAddr().(*net.TCPAddr).AddrPort().Port(), w, err}
			}()
		}
	}()

	// The clients, on the host side, all at once.
	const req = "POST /v1/chat/completions {\"stream\":true}\n"
	results := make([]clientResult, streams)
	var wg sync.WaitGroup
	clientErr := make([]error, streams)
	for i := range streams {
		wg.Add(1)
		go func() { defer wg.Done(); results[i], clientErr[i] = fetchStream(server, req) }()
	}
	wg.Wait()
	written := map[uint16][]int64{}
	for i := range streams {
		if clientErr[i] != nil {
			t.Fatalf("client %d: %v", i, clientErr[i])
		}
		sv := <-servedc
		if sv.err != nil {
			t.Fatalf("server: %v", sv.err)
		}
		written[sv.client] = sv.written
		if results[i].received != plan.total() {
			t.Fatalf("client %d received %d bytes, server sent %d", i, results[i].received, plan.total())
		}
	}

	// Wait until every segment of every flow is captured.
	byFlow := func() map[flowKey][]seen {
		m := make(map[flowKey][]seen)
		for _, s := range src.sink.snapshot() {
			if s.p.Tuple.Proto == schemas.ProtoTCP {
				m[keyOf(s.p.Tuple)] = append(m[keyOf(s.p.Tuple)], s)
			}
		}
		return m
	}
	flowOf := func(r clientResult) flowKey {
		return keyOf(schemas.Tuple{
			SrcIP: schemas.IPFromAddr(r.local.Addr()), DstIP: schemas.IPFromAddr(server.Addr()),
			SrcPort: r.local.Port(), DstPort: server.Port(), Proto: schemas.ProtoTCP,
		})
	}
	waitFor(t, "every segment of the streams", func() bool {
		flows := byFlow()
		for _, r := range results {
			if len(flows[flowOf(r)]) < int(r.segs) {
				return false
			}
		}
		return true
	})
	tot := src.drained(t)
	flows := byFlow()

	clientIP, serverIP := schemas.IPFromAddr(v.HostIP), schemas.IPFromAddr(v.PeerIP)
	for i, r := range results {
		pkts := flows[flowOf(r)]
		t.Run(fmt.Sprintf("flow%d", i), func(t *testing.T) {
			// Every packet, exactly once: the client's TCP_INFO counts every
			// segment it sent and received.
			if len(pkts) != int(r.segs) {
				t.Errorf("captured %d packets of the flow, TCP_INFO counts %d segments", len(pkts), r.segs)
			}
			// Both directions on one worker.
			for _, s := range pkts {
				if s.worker != pkts[0].worker {
					t.Fatalf("flow split over workers %d and %d", pkts[0].worker, s.worker)
				}
			}
			var syn, synAck, finC, finS bool
			var upBytes, downBytes int
			var dataTS []int64
			for _, s := range pkts {
				p := s.p
				fromClient := p.Tuple.SrcIP == clientIP && p.Tuple.SrcPort == r.local.Port()
				switch {
				case p.TCPFlags&schemas.TCPSyn != 0 && p.TCPFlags&schemas.TCPAck == 0 && fromClient:
					syn = true
				case p.TCPFlags&schemas.TCPSyn != 0 && p.TCPFlags&schemas.TCPAck != 0 && !fromClient:
					synAck = true
				}
				if p.TCPFlags&schemas.TCPFin != 0 {
					if fromClient {
						finC = true
					} else {
						finS = true
					}
				}
				if fromClient {
					upBytes += int(p.Payload)
				} else {
					if p.Tuple.SrcIP != serverIP {
						t.Fatalf("packet from %v in the flow", p.Tuple.SrcIP)
					}
					downBytes += int(p.Payload)
					if p.Payload > 0 {
						dataTS = append(dataTS, p.TS)
					}
				}
			}
			if !syn || !synAck || !finC || !finS {
				t.Errorf("handshake/teardown: SYN %v, SYN-ACK %v, client FIN %v, server FIN %v; want all", syn, synAck, finC, finS)
			}
			if upBytes != len(req) || downBytes != plan.total() {
				t.Errorf("payload captured: %d up, %d down; sent %d up, %d down", upBytes, downBytes, len(req), plan.total())
			}
			// One segment per server write, and the capture shows the
			// server's cadence: the gaps between data segments follow the
			// gaps between the server's writes (which the scheduler may
			// stretch beyond the planned pauses on a busy machine).
			if len(dataTS) != chunks {
				t.Fatalf("%d server data segments, want one per write (%d)", len(dataTS), chunks)
			}
			w := written[r.local.Port()]
			if len(w) != chunks {
				t.Fatalf("server write times for client port %d: %d, want %d", r.local.Port(), len(w), chunks)
			}
			var obs, sent, dev []float64
			for j := 1; j < len(dataTS); j++ {
				o := float64(dataTS[j]-dataTS[j-1]) / 1e6
				s := float64(w[j]-w[j-1]) / 1e6
				obs, sent, dev = append(obs, o), append(sent, s), append(dev, abs(o-s))
			}
			mo, ms, md := median(obs), median(sent), median(dev)
			t.Logf("gaps: median observed %.2f ms, median between the server's writes %.2f ms (planned %.1f ms), median |observed-written| %.3f ms",
				mo, ms, float64(median(durations(plan.gaps[:chunks-1])))/1e6, md)
			if mo < 0.5*ms || mo > 1.5*ms {
				t.Errorf("median gap between data segments %.2f ms, between the server's writes %.2f ms (want within 50%%)", mo, ms)
			}
			if md > 0.5*ms {
				t.Errorf("observed gaps do not follow the server's: median deviation %.2f ms", md)
			}
		})
	}

	// Each worker's packet clock runs forward: every step back in what a
	// worker delivered is a clock step it counted (none, normally).
	// Reordering by the kernel, which this traffic provokes now and then,
	// shows only in Stats.Reordered.
	lastW := map[int]int64{}
	stepsBack := map[int]uint64{}
	for _, s := range src.sink.snapshot() {
		if s.p.TS == 0 {
			t.Fatal("packet without a timestamp")
		}
		if s.p.TS < lastW[s.worker] {
			stepsBack[s.worker]++
		}
		lastW[s.worker] = s.p.TS
	}
	for _, ws := range src.Stats().Workers {
		if stepsBack[ws.Worker] != ws.ClockSteps {
			t.Fatalf("worker %d: timestamps went back %d times, %d clock steps counted", ws.Worker, stepsBack[ws.Worker], ws.ClockSteps)
		}
	}

	// Many UDP flows: the hash spreads them over both workers, and keeps
	// each flow on one.
	const udpFlows, perFlow = 64, 3
	udpLn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(v.HostIP, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer udpLn.Close()
	udpDst := udpLn.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := v.InNS(func() error {
		// All open at once, so that each has a port of its own.
		conns := make([]*net.UDPConn, 0, udpFlows)
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for range udpFlows {
			c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(udpDst))
			if err != nil {
				return err
			}
			conns = append(conns, c)
			for range perFlow {
				if _, err := c.Write([]byte("tick")); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	udpByFlow := func() map[flowKey][]int {
		m := map[flowKey][]int{}
		for _, s := range src.sink.snapshot() {
			if s.p.Tuple.Proto == schemas.ProtoUDP && s.p.Tuple.DstPort == udpDst.Port() {
				m[keyOf(s.p.Tuple)] = append(m[keyOf(s.p.Tuple)], s.worker)
			}
		}
		return m
	}
	waitFor(t, "the UDP datagrams", func() bool {
		n := 0
		for _, ws := range udpByFlow() {
			n += len(ws)
		}
		return n >= udpFlows*perFlow
	})
	perWorker := map[int]int{}
	m := udpByFlow()
	if len(m) != udpFlows {
		t.Fatalf("%d UDP flows captured, want %d", len(m), udpFlows)
	}
	for k, ws := range m {
		if len(ws) != perFlow || slices.Min(ws) != slices.Max(ws) {
			t.Fatalf("UDP flow %v: datagrams on workers %v, want %d on one", k, ws, perFlow)
		}
		perWorker[ws[0]]++
	}
	if len(perWorker) != 2 {
		t.Fatalf("UDP flows per worker %v: the fanout did not spread them", perWorker)
	}

	tot = src.drained(t)
	t.Logf("flows per worker %v; totals %v", perWorker, tot)
	if tot.Drops != 0 {
		t.Errorf("kernel dropped %d packets (%d freezes) at a few packets per second", tot.Drops, tot.Freezes)
	}
	if tot.NotIP != 0 {
		t.Errorf("%d non-IP frames got through the IPv4-only filter", tot.NotIP)
	}
	if tot.Frames != tot.Decoded+tot.NotIP+tot.TruncatedHeader+tot.BadHeader {
		t.Errorf("frames not accounted for: %v", tot)
	}
	if err := src.stop(t); err != nil {
		t.Fatalf("Run after cancel: %v, want nil", err)
	}
	final := src.Stats().Total()
	if final.Frames != tot.Frames {
		t.Errorf("Stats after Run returned: %v, before: %v", final, tot)
	}
}

func durations(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d)
	}
	return out
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestLiveFilter checks that the filter runs in the kernel: datagrams it
// rejects never reach the ring, nor the kernel's count.
func TestLiveFilter(t *testing.T) {
	for _, form := range []string{"raw", "tcpdump"} {
		t.Run(form, func(t *testing.T) {
			if form == "tcpdump" {
				if _, err := findTcpdump(); err != nil {
					t.Skip("skipping: tcpdump is not installed, so expression filters cannot be compiled (the raw form is tested)")
				}
			}
			v := newVethNet(t)
			const keep, drop = 7001, 7002
			cfg := liveConfig(v.Host, 1)
			if form == "raw" {
				// udp and dst port 7001, for IPv4 without options
				cfg.Filter = asmFilter(t, []bpf.Instruction{
					bpf.LoadAbsolute{Off: 12, Size: 2},
					bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 5},
					bpf.LoadAbsolute{Off: 23, Size: 1},
					bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17, SkipFalse: 3},
					bpf.LoadAbsolute{Off: 36, Size: 2},
					bpf.JumpIf{Cond: bpf.JumpEqual, Val: keep, SkipFalse: 1},
					bpf.RetConstant{Val: 0xffff},
					bpf.RetConstant{Val: 0},
				})
			} else {
				cfg.Filter = fmt.Sprintf("udp and dst port %d", keep)
			}
			src := startSource(t, cfg)
			// The rejected datagrams go first: once the kept ones are all in
			// the (single, ordered) ring, the rejected ones would be too.
			const n = 10
			if err := v.InNS(func() error {
				for _, port := range []int{drop, keep} {
					c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(v.Other, uint16(port))))
					if err != nil {
						return err
					}
					for range n {
						if _, err := c.Write([]byte("x")); err != nil {
							return err
						}
					}
					c.Close()
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the kept datagrams", func() bool { return len(src.sink.snapshot()) >= n })
			tot := src.drained(t)
			for _, s := range src.sink.snapshot() {
				if s.p.Tuple.DstPort != keep {
					t.Fatalf("filter let through %+v", s.p.Tuple)
				}
			}
			if tot.Packets != n || tot.Decoded != n {
				t.Fatalf("kernel counted %d packets, %d decoded; want %d each (filtered packets are not counted)", tot.Packets, tot.Decoded, n)
			}
		})
	}
}

// TestLiveFanoutIDs: Aegis does not join a fanout group someone else uses.
func TestLiveFanoutIDs(t *testing.T) {
	v := newVethNet(t)
	own := uint16(1000 + rand.IntN(50000))
	cfg := liveConfig(v.Host, 2)
	cfg.FanoutID = own
	first, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if first.FanoutID() != own {
		t.Fatalf("FanoutID() = %d, want %d", first.FanoutID(), own)
	}

	t.Run("zeek and suricata ids", func(t *testing.T) {
		for id, who := range map[uint16]string{23: "Zeek", 99: "Suricata"} {
			c := cfg
			c.FanoutID = id
			s, err := New(c, nil)
			if err == nil {
				s.Close()
				t.Fatalf("second Source with fanout id %d was made", id)
			}
			if !strings.Contains(err.Error(), who) {
				t.Fatalf("fanout id %d refused with %q, want it to name %s", id, err, who)
			}
		}
	})

	t.Run("id in use", func(t *testing.T) {
		if _, err := fanoutIDsInUse(); err != nil {
			t.Skipf("skipping: this kernel offers no sock_diag for packet sockets (%v), so ids in use cannot be seen", err)
		}
		// Another Source's group.
		if s, err := New(cfg, nil); !errors.Is(err, ErrFanoutInUse) {
			if s != nil {
				s.Close()
			}
			t.Fatalf("second Source with the first's fanout id: %v, want ErrFanoutInUse", err)
		}
		// Another program's group, say a Zeek configured with its own id.
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		ifi, err := net.InterfaceByName(v.Host)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			t.Fatal(err)
		}
		foreign := own + 1
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, int(foreign)); err != nil {
			t.Fatal(err)
		}
		c := cfg
		c.FanoutID = foreign
		if s, err := New(c, nil); !errors.Is(err, ErrFanoutInUse) || !strings.Contains(err.Error(), fmt.Sprint(foreign)) {
			if s != nil {
				s.Close()
			}
			t.Fatalf("fanout id of another program's group: %v, want ErrFanoutInUse naming the id", err)
		}
	})

	t.Run("auto", func(t *testing.T) {
		c := cfg
		c.FanoutID = 0
		a, err := New(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := New(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		ids := []uint16{own, a.FanoutID(), b.FanoutID()}
		if a.FanoutID() == b.FanoutID() || slices.Contains(ids[:1], a.FanoutID()) || slices.Contains(ids[:1], b.FanoutID()) ||
			reservedFanoutID(a.FanoutID()) || reservedFanoutID(b.FanoutID()) {
			t.Fatalf("kernel-chosen ids %v: want distinct, unused and not reserved", ids)
		}
	})
}

// TestLiveStop: Close stops a running Source, Run runs once, Stats works
// after Close.
func TestLiveStop(t *testing.T) {
	v := newVethNet(t)
	src, err := New(liveConfig(v.Host, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- src.Run(context.Background(), func(int, []schemas.Packet) error { return nil }) }()
	waitFor(t, "Run to start", func() bool { src.mu.Lock(); defer src.mu.Unlock(); return src.state == stateRunning })
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-src.done: // closed as Run returns
	default:
		t.Fatal("Close returned before Run did")
	}
	if err := <-errc; err != nil {
		t.Fatalf("Run stopped by Close: %v, want nil", err)
	}
	if err := src.Run(context.Background(), func(int, []schemas.Packet) error { return nil }); err == nil {
		t.Fatal("second Run accepted")
	}
	_ = src.Stats()
	_ = src.Close()

	// A callback error stops Run and comes back from it.
	src2, err := New(liveConfig(v.Host, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	full := errors.New("downstream full")
	go func() { errc <- src2.Run(context.Background(), func(int, []schemas.Packet) error { return full }) }()
	if err := v.InNS(func() error {
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(v.Other, 9)))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("x"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, full) {
			t.Fatalf("Run = %v, want the callback's error", err)
		}
	case <-time.After(liveWait):
		t.Fatal("Run did not stop on the callback's error")
	}
}

// TestLiveInterfaceRemoved: Run ends with ErrNoInterface when the
// interface is deleted under it.
func TestLiveInterfaceRemoved(t *testing.T) {
	v := newVethNet(t)
	src := startSource(t, liveConfig(v.Host, 2))
	time.Sleep(50 * time.Millisecond) // let the workers reach poll (not required for the outcome)
	if out, err := exec.Command("ip", "link", "del", v.Host).CombinedOutput(); err != nil {
		t.Fatalf("ip link del: %v: %s", err, out)
	}
	select {
	case err := <-src.errc:
		if !errors.Is(err, ErrNoInterface) {
			t.Fatalf("Run = %v, want ErrNoInterface", err)
		}
	case <-time.After(liveWait):
		t.Fatal("Run went on after its interface was deleted")
	}
}

func TestMissingInterface(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Interface = "agnosuch" + fmt.Sprint(rand.IntN(1e6))
	_, err := New(cfg, nil)
	if !errors.Is(err, ErrNoInterface) || !strings.Contains(err.Error(), cfg.Interface) {
		t.Fatalf("New on a missing interface: %v, want ErrNoInterface naming it", err)
	}
}

// TestNoCapNetRaw checks the error when the process lacks CAP_NET_RAW. As
// root it drops the capability on one thread (capabilities are per thread
// on Linux) and opens the Source there.
func TestNoCapNetRaw(t *testing.T) {
	cfg := liveConfig("lo", 1)
	open := func() error {
		s, err := New(cfg, nil)
		if s != nil {
			s.Close()
		}
		return err
	}
	var err error
	if os.Geteuid() != 0 {
		err = open()
		if err == nil {
			t.Skip("skipping: this unprivileged process has CAP_NET_RAW, so the error cannot be provoked")
		}
	} else {
		errc := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
			hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
			var data [2]unix.CapUserData
			if err := unix.Capget(&hdr, &data[0]); err != nil {
				errc <- fmt.Errorf("capget: %w", err)
				return
			}
			data[0].Effective &^= 1 << unix.CAP_NET_RAW
			data[0].Permitted &^= 1 << unix.CAP_NET_RAW
			data[0].Inheritable &^= 1 << unix.CAP_NET_RAW
			if err := unix.Capset(&hdr, &data[0]); err != nil {
				errc <- fmt.Errorf("capset: %w", err)
				return
			}
			errc <- open()
		}()
		err = <-errc
		if err != nil && (strings.HasPrefix(err.Error(), "capget") || strings.HasPrefix(err.Error(), "capset")) {
			t.Skipf("skipping: cannot drop CAP_NET_RAW here: %v", err)
		}
	}
	want := "afpacket: opening lo needs CAP_NET_RAW (run as root or grant AmbientCapabilities=CAP_NET_RAW)"
	var pe *PermissionError
	if !errors.As(err, &pe) || err.Error() != want || !errors.Is(err, os.ErrPermission) || !errors.Is(err, syscall.EPERM) {
		t.Fatalf("New without CAP_NET_RAW: %v, want %q (a *PermissionError wrapping EPERM)", err, want)
	}
}

// TestLiveDrops: when the worker cannot keep up (here its callback is
// stuck), the ring fills and the kernel's drops show in Stats, and every
// packet the kernel took is either dropped or read.
func TestLiveDrops(t *testing.T) {
	v := newVethNet(t)
	cfg := liveConfig(v.Host, 1)
	cfg.BlockSize = os.Getpagesize()
	cfg.NumBlocks = 2
	cfg.FrameSize = cfg.BlockSize / 2
	cfg.BatchSize = 1
	src, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	release := make(chan struct{})
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = src.Run(ctx, func(int, []schemas.Packet) error { <-release; return nil }) }()

	send := func(n int) {
		t.Helper()
		if err := v.InNS(func() error {
			c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(v.Other, 9)))
			if err != nil {
				return err
			}
			defer c.Close()
			for range n {
				if _, err := c.Write([]byte("flood")); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "drops to show", func() bool {
		send(200) // a 2-page ring holds a few dozen packets
		return src.Stats().Total().Drops > 0
	})
	releaseOnce.Do(func() { close(release) })
	var tot WorkerStats
	waitFor(t, "the ring to drain", func() bool {
		tot = src.Stats().Total()
		return tot.Packets == tot.Drops+tot.Frames
	})
	t.Logf("%v", tot)
	if tot.Drops == 0 || tot.Frames == 0 || tot.Freezes == 0 {
		t.Fatalf("stats %v: want drops, frames read, and the queue frozen at least once", tot)
	}
}

// TestLiveRawIPLink captures on a TUN device, whose packets have no link
// header: the Source reads it through SOCK_DGRAM as raw IP, and a filter
// written for raw IP applies.
func TestLiveRawIPLink(t *testing.T) {
	v := newVethNet(t) // for its namespace
	tun := "agt" + v.Host[3:]
	var src *Source
	var tunFD int
	if err := v.InNS(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		tunFD = fd
		ifr, err := unix.NewIfreq(tun)
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			return fmt.Errorf("TUNSETIFF: %w", err)
		}
		if out, err := exec.Command("ip", "-n", v.NS, "link", "set", tun, "up").CombinedOutput(); err != nil {
			return fmt.Errorf("ip link set up: %v: %s", err, out)
		}
		cfg := liveConfig(tun, 1)
		cfg.Filter = asmFilter(t, []bpf.Instruction{ // ip proto 17, on raw IP
			bpf.LoadAbsolute{Off: 9, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17, SkipFalse: 1},
			bpf.RetConstant{Val: 0xffff},
			bpf.RetConstant{Val: 0},
		})
		src, err = New(cfg, nil)
		return err
	}); err != nil {
		if tunFD > 0 {
			unix.Close(tunFD)
		}
		if strings.Contains(err.Error(), "/dev/net/tun") || errors.Is(err, unix.ENOENT) {
			t.Skipf("skipping: no TUN device here: %v", err)
		}
		t.Fatal(err)
	}
	defer unix.Close(tunFD)
	defer src.Close()
	if src.link.String() != "RAW" {
		t.Fatalf("TUN link type read as %v, want RAW", src.link)
	}
	snk := &sink{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = src.Run(ctx, snk.add) }()

	a, b := [4]byte{192, 0, 2, 1}, [4]byte{192, 0, 2, 2}
	for i := range 5 {
		if _, err := unix.Write(tunFD, ipv4(schemas.ProtoUDP, a, b, udpDgram(5000, uint16(6000+i), 10))); err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Write(tunFD, ipv4(schemas.ProtoTCP, a, b, tcpSeg(5000, 443, 1, schemas.TCPSyn, 0))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the UDP packets from the TUN device", func() bool { return len(snk.snapshot()) >= 5 })
	var tot WorkerStats
	waitFor(t, "the ring to drain", func() bool {
		tot = src.Stats().Total()
		return tot.Packets == tot.Drops+tot.Frames
	})
	for i, s := range snk.snapshot() {
		p := s.p
		if p.Tuple.Proto != schemas.ProtoUDP || p.Tuple.SrcIP != schemas.IPv4(192, 0, 2, 1) ||
			p.Tuple.DstPort != uint16(6000+i) || p.Payload != 10 || p.WireLen != 20+8+10 {
			t.Fatalf("packet %d decoded as %+v", i, p)
		}
	}
	if tot.Packets != 5 || tot.Decoded != 5 {
		t.Fatalf("stats %v: want the 5 UDP packets only", tot)
	}
}

// TestLiveInterfaceFlap: an interface going down and up again does not
// stop the Source; capture resumes.
func TestLiveInterfaceFlap(t *testing.T) {
	v := newVethNet(t)
	src := startSource(t, liveConfig(v.Host, 2))
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ip("link", "set", v.Host, "down")
	time.Sleep(3 * liveConfig("", 1).PollTimeout) // let the workers see it (the outcome does not depend on it)
	ip("link", "set", v.Host, "up")
	select {
	case err := <-src.errc:
		t.Fatalf("Run ended when the interface went down: %v", err)
	default:
	}
	var port uint16
	waitFor(t, "packets after the interface came back", func() bool {
		if err := v.InNS(func() error {
			c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(v.Other, 9)))
			if err != nil {
				return err
			}
			defer c.Close()
			port = c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
			_, err = c.Write([]byte("back"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		for _, s := range src.sink.snapshot() {
			if s.p.Tuple.Proto == schemas.ProtoUDP && s.p.Tuple.SrcPort == port {
				return true
			}
		}
		return false
	})
	if err := src.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
