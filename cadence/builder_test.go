package cadence

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/schemas"
)

// t0 is the flow start used by the builders: 2026-11-25T10:00:00Z.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano()

const ms = int64(time.Millisecond)

// pkt is one payload packet of a test flow.
type pkt struct {
	t      int64
	server bool
	size   uint32
}

// flowBuilder collects payload packets and renders a flowtable.Flow the way
// the flow table would: per-direction detail (optionally trimmed), running
// gap stats over every packet, totals.
type flowBuilder struct {
	pkts   []pkt
	proto  uint8
	detail int // 0: keep every packet in the detail
	rng    *rand.Rand
	now    int64 // cursor for the sequential helpers
	rtt    int64 // echo delay of typeLine
}

func newBuilder(seed uint64) *flowBuilder {
	return &flowBuilder{proto: schemas.ProtoTCP, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: t0, rtt: 8 * ms}
}

func (b *flowBuilder) c(t int64, size int) *flowBuilder {
	b.pkts = append(b.pkts, pkt{t: t, size: uint32(size)})
	return b
}

func (b *flowBuilder) s(t int64, size int) *flowBuilder {
	b.pkts = append(b.pkts, pkt{t: t, server: true, size: uint32(size)})
	return b
}

// write sends n bytes as one flush starting at t, split into MSS segments
// 30 µs apart; it returns the time of the last segment.
func (b *flowBuilder) write(t int64, server bool, n int) int64 {
	for n > 0 {
		seg := min(n, 1448)
		b.pkts = append(b.pkts, pkt{t: t, server: server, size: uint32(seg)})
		n -= seg
		if n > 0 {
			t += 30_000
		}
	}
	return t
}

// advance moves the cursor by d and returns the new time.
func (b *flowBuilder) advance(d int64) int64 {
	b.now += d
	return b.now
}

// lognormal draws exp(N(ln median, sigma)) in ns from a median in ns.
func (b *flowBuilder) lognormal(median int64, sigma float64) int64 {
	return int64(float64(median) * math.Exp(sigma*b.rng.NormFloat64()))
}

// tlsHandshake adds a TLS 1.3 handshake at the cursor.
func (b *flowBuilder) tlsHandshake() {
	b.c(b.now, 517)
	b.write(b.advance(30*ms), true, 4200)
	b.c(b.advance(31*ms), 80)
	b.advance(2 * ms)
}

// sshHandshake adds an SSH banner exchange, key exchange and login.
func (b *flowBuilder) sshHandshake() {
	b.c(b.now, 21)
	b.s(b.advance(90*ms), 42)
	b.write(b.advance(1*ms), false, 1536)
	b.s(b.advance(12*ms), 1080)
	b.c(b.advance(4*ms), 48)
	b.s(b.advance(80*ms), 484)
	b.c(b.advance(9*ms), 16)
	b.c(b.advance(9*ms), 44)
	b.s(b.advance(85*ms), 44)
	b.c(b.advance(1*ms), 60)
	b.s(b.advance(14*ms), 52)
	b.c(b.advance(1*ms), 492)
	b.s(b.advance(100*ms), 28)
	b.c(b.advance(1*ms), 112)
	b.s(b.advance(18*ms), 776)
	b.s(b.advance(50*ms), 116)
	b.advance(200 * ms)
}

// sshCommandSize is the SSH (chacha20-poly1305) payload of a channel data
// write of n characters: 4 length + 16-padded body + 16 MAC.
func sshCommandSize(n int) int {
	body := 1 + 1 + 4 + 4 + n // padlen, type, channel, string length, data
	pad := 8 - body%8
	if pad < 4 {
		pad += 8
	}
	return 4 + body + pad + 16
}

// output sends a command's output: a few flushes of a shell's writes.
func (b *flowBuilder) output(lines int) {
	for range lines {
		b.write(b.advance(b.lognormal(3*ms, 0.8)), true, sshCommandSize(20+b.rng.IntN(80)))
	}
}

// typeLine types a line of n characters at a human rhythm with server
// echoes one RTT later, then Enter and the output.
func (b *flowBuilder) typeLine(n int, medianKey int64) {
	for i := 0; i <= n; i++ {
		if i > 0 {
			b.advance(max(b.lognormal(medianKey, 0.45), 45*ms))
		}
		b.c(b.now, 36)
		b.s(b.now+b.rtt+int64(b.rng.IntN(8))*ms, 36)
	}
	b.advance(b.rtt)
	b.advance(20 * ms)
	b.output(1 + b.rng.IntN(6))
}

// agentCommand sends a whole command line after a think pause, the PTY
// echo and the output.
func (b *flowBuilder) agentCommand(pause int64) {
	n := 18 + b.rng.IntN(70) // longer than a keystroke-sized write (> 52 B)
	size := sshCommandSize(n)
	b.c(b.advance(pause), size)
	b.s(b.advance(int64(8+b.rng.IntN(6))*ms), size)
	b.output(1 + b.rng.IntN(8))
}

// build renders the flow.
func (b *flowBuilder) build() *flowtable.Flow {
	pk := slices.Clone(b.pkts)
	slices.SortStableFunc(pk, func(x, y pkt) int { return cmp.Compare(x.t, y.t) })
	f := &flowtable.Flow{
		OrigTuple: schemas.Tuple{SrcPort: 51000, DstPort: 443, Proto: b.proto},
	}
	f.Key.Proto = b.proto
	for i, p := range pk {
		if i == 0 {
			f.First = p.t
		}
		f.Last = max(f.Last, p.t)
		d := &f.Orig
		if p.server {
			d = &f.Resp
		}
		if d.PayloadPackets > 0 {
			d.Gaps.Add(float64(p.t - d.LastPayload))
		} else {
			d.FirstPayload = p.t
		}
		d.LastPayload, d.LastSeen = p.t, p.t
		d.PayloadPackets++
		d.Packets++
		d.PayloadBytes += int64(p.size)
		if b.detail == 0 || len(d.Times) < b.detail {
			d.Times = append(d.Times, p.t)
			d.Sizes = append(d.Sizes, p.size)
		}
	}
	return f
}

// Scenario generators. Each returns a flow of the named kind; seed varies
// the random draws.

// genStream is a streamed completion: TLS, a request, TTFT, then flushes
// with log-normal gaps (median, sigma) of flushBytes each (split in MSS
// segments when larger).
func genStream(seed uint64, flushes int, median int64, sigma float64, flushBytes int, ttft int64) *flowBuilder {
	b := newBuilder(seed)
	b.tlsHandshake()
	b.write(b.now, false, 2100)
	b.s(b.advance(ttft), 180) // response headers
	for range flushes {
		b.advance(max(b.lognormal(median, sigma), 2500*time.Microsecond.Nanoseconds()))
		n := max(flushBytes/2+b.rng.IntN(flushBytes+1), 40)
		b.write(b.now, true, n)
	}
	b.s(b.advance(5*ms), 60)
	return b
}

// genProfileStream draws server flush gaps straight from a profile's
// in-stream log-normal (quantised when the profile says so) with flush
// sizes inside its range, each flush split into MSS segments.
func genProfileStream(seed uint64, p Profile, flushes int) *flowBuilder {
	b := newBuilder(seed)
	b.tlsHandshake()
	b.write(b.now, false, 1800)
	b.advance(400 * ms)
	lo, hi := max(p.FlushBytesMin, 60), p.FlushBytesMax
	if hi <= lo {
		hi = lo + 400
	}
	for range flushes {
		g := math.Exp(p.LogMu + p.LogSigma*b.rng.NormFloat64())
		if p.QuantumMs > 0 && g > p.QuantumMs/2 {
			g = math.Round(g/p.QuantumMs)*p.QuantumMs + 3*b.rng.NormFloat64()
		}
		b.advance(int64(max(g, 2.5) * 1e6))
		size := math.Exp(math.Log(lo) + b.rng.Float64()*(math.Log(hi)-math.Log(lo)))
		b.write(b.now, true, int(size))
	}
	return b
}

func genAgentShell(seed uint64, commands int) *flowBuilder {
	b := newBuilder(seed)
	b.sshHandshake()
	for range commands {
		b.agentCommand(b.lognormal(2500*ms, 0.6))
	}
	return b
}

func genHuman(seed uint64, lines int) *flowBuilder {
	return genHumanRTT(seed, lines, 8*ms)
}

// genHumanRTT types over a path with the given round-trip time.
func genHumanRTT(seed uint64, lines int, rtt int64) *flowBuilder {
	b := newBuilder(seed)
	b.rtt = rtt
	b.sshHandshake()
	for range lines {
		b.advance(b.lognormal(3*int64(time.Second), 0.5))
		b.typeLine(3+b.rng.IntN(20), 170*ms)
	}
	return b
}

// genHandoff types humanLines lines, then an agent issues agentCmds
// commands (or the reverse); it returns the builder and the start of the
// first act of the second phase.
func genHandoff(seed uint64, humanLines, agentCmds int, agentFirst bool) (*flowBuilder, int64) {
	b := newBuilder(seed)
	b.sshHandshake()
	var at int64
	if agentFirst {
		for range agentCmds {
			b.agentCommand(b.lognormal(2500*ms, 0.6))
		}
		b.advance(b.lognormal(4*int64(time.Second), 0.3))
		at = b.now
		for i := range humanLines {
			if i > 0 {
				b.advance(b.lognormal(3*int64(time.Second), 0.5))
			}
			b.typeLine(3+b.rng.IntN(20), 170*ms)
		}
		return b, at
	}
	for range humanLines {
		b.advance(b.lognormal(3*int64(time.Second), 0.5))
		b.typeLine(3+b.rng.IntN(20), 170*ms)
	}
	for i := range agentCmds {
		b.agentCommand(b.lognormal(2500*ms, 0.6))
		if i == 0 {
			// agentCommand advanced past the echo and output; find the
			// command write itself.
			for j := len(b.pkts) - 1; j >= 0; j-- {
				if !b.pkts[j].server && b.pkts[j].size > 52 {
					at = b.pkts[j].t
					break
				}
			}
		}
	}
	return b, at
}

// genExfil: an agent runs a few commands, then uploads total bytes in
// chunk-sized writes every period.
func genExfil(seed uint64, commands, chunk, total int, period int64, withAgent bool) *flowBuilder {
	b := newBuilder(seed)
	b.sshHandshake()
	if withAgent {
		for range commands {
			b.agentCommand(b.lognormal(2500*ms, 0.6))
		}
	}
	b.advance(1500 * ms)
	for sent := 0; sent < total; sent += chunk {
		b.write(b.now, false, chunk)
		b.s(b.now+20*ms, 36) // window adjust
		b.advance(period + int64(b.rng.IntN(10))*ms)
	}
	return b
}

// genBulkDownload: a request, then MSS segments back to back at a
// bottleneck of bps bits/s.
func genBulkDownload(seed uint64, bytes int, bps float64) *flowBuilder {
	b := newBuilder(seed)
	b.tlsHandshake()
	b.c(b.now, 400)
	b.advance(40 * ms)
	per := int64(1448 * 8 / bps * 1e9)
	for sent := 0; sent < bytes; sent += 1448 {
		b.s(b.advance(per), 1448)
	}
	return b
}

// genBulkUpload: a plain upload with no agent phase (a backup).
func genBulkUpload(seed uint64, bytes int) *flowBuilder {
	b := newBuilder(seed)
	b.tlsHandshake()
	for sent := 0; sent < bytes; sent += 1448 {
		b.c(b.advance(int64(120_000+b.rng.IntN(40_000))), 1448)
		if sent%(1448*20) == 0 {
			b.s(b.now+5*ms, 40)
		}
	}
	return b
}

// genPingPong: request/response RPC (Redis, FTP commands, polling).
func genPingPong(seed uint64, n int, think int64) *flowBuilder {
	b := newBuilder(seed)
	for range n {
		b.c(b.advance(b.lognormal(think, 0.3)), 60+b.rng.IntN(60))
		b.s(b.advance(b.lognormal(3*ms, 0.4)), 80+b.rng.IntN(400))
	}
	return b
}

// genTicker: a subscription, then server pushes every period (timer-driven).
func genTicker(seed uint64, n int, period int64, jitter int64) *flowBuilder {
	b := newBuilder(seed)
	b.tlsHandshake()
	b.c(b.now, 300)
	for range n {
		b.s(b.advance(period+int64(b.rng.NormFloat64()*float64(jitter))), 180+b.rng.IntN(40))
	}
	return b
}

// genVideo: segment requests every few seconds answered by large bursts.
func genVideo(seed uint64, segments int) *flowBuilder {
	b := newBuilder(seed)
	b.tlsHandshake()
	for range segments {
		b.c(b.now, 450)
		t := b.now + 30*ms
		for sent := 0; sent < 180_000; sent += 1448 {
			b.s(t, 1448)
			t += 120_000
		}
		b.advance(int64(2+b.rng.IntN(3)) * int64(time.Second))
	}
	return b
}

// genVoIP: RTP both ways every 20 ms.
func genVoIP(seed uint64, seconds int) *flowBuilder {
	b := newBuilder(seed)
	b.proto = schemas.ProtoUDP
	for i := range seconds * 50 {
		t := t0 + int64(i)*20*ms
		b.c(t+int64(b.rng.IntN(300_000)), 172)
		b.s(t+7*ms+int64(b.rng.IntN(300_000)), 172)
	}
	return b
}

// genBeacon: check-ins every period with jitter (fraction), same sizes.
func genBeacon(seed uint64, n int, period int64, jitter float64) *flowBuilder {
	b := newBuilder(seed)
	b.tlsHandshake()
	for range n {
		j := 1 + jitter*(2*b.rng.Float64()-1)
		b.c(b.advance(int64(float64(period)*j)), 310)
		b.s(b.advance(60*ms), 520)
	}
	return b
}

// genStreamH2 is genStream over HTTP/2: the client sends a WINDOW_UPDATE
// (a control-sized record) every 40 flushes, and the connection carries
// several request/stream pairs separated by tool-execution pauses.
func genStreamH2(seed uint64, requests, flushes int) *flowBuilder {
	b := newBuilder(seed)
	b.tlsHandshake()
	for r := range requests {
		if r > 0 {
			b.advance(b.lognormal(1500*ms, 0.5))
		}
		b.write(b.now, false, 6000+b.rng.IntN(20000))
		b.s(b.advance(b.lognormal(500*ms, 0.4)), 120)
		for i := range flushes {
			b.advance(max(b.lognormal(30*ms, 0.7), 3*ms))
			b.write(b.now, true, 80+b.rng.IntN(300))
			if i%40 == 39 {
				b.c(b.now+1*ms, 38)
			}
		}
	}
	return b
}

// genReverseShell: the victim (originator) connects out; the agent on the
// responder side sends commands; the victim answers with output and a
// prompt ("$ ").
func genReverseShell(seed uint64, commands int) *flowBuilder {
	b := newBuilder(seed)
	b.c(b.now, 2) // first prompt
	for range commands {
		b.s(b.advance(b.lognormal(2500*ms, 0.6)), 20+b.rng.IntN(100))
		for range 1 + b.rng.IntN(4) {
			b.write(b.advance(b.lognormal(3*ms, 0.8)), false, 30+b.rng.IntN(1200))
		}
		b.c(b.advance(4*ms), 2)
	}
	return b
}

// obfuscate mimics OpenSSH keystroke-timing obfuscation (ObscureKeystrokeTiming,
// OpenSSH >= 9.5) on the client side of a built session after start: chaff
// of keystroke size follows every client write on a 20 ms grid for
// 0.5-1.5 s or until the next write; with pong, the server answers each
// chaff packet. (Real writes already sit where the generator put them, so
// the server's echo still follows its command.)
func (b *flowBuilder) obfuscate(start int64, pong bool) {
	const tick = 20 * ms
	var writes []int64
	for _, p := range b.pkts {
		if !p.server && p.t >= start {
			writes = append(writes, p.t)
		}
	}
	slices.Sort(writes)
	for i, w := range writes {
		end := w + 500*ms + int64(b.rng.IntN(1000))*ms
		if i+1 < len(writes) {
			end = min(end, writes[i+1]-tick/2)
		}
		for c := w + tick; c < end; c += tick {
			b.pkts = append(b.pkts, pkt{t: c, size: 36})
			if pong {
				b.pkts = append(b.pkts, pkt{t: c + b.rtt, server: true, size: 36})
			}
		}
	}
}
