package flowtable

import (
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

var (
	client = schemas.IPv4(10, 0, 0, 2)
	server = schemas.IPv4(10, 0, 0, 1) // sorts lower than client: the key's A side is the server
)

func tcp(ts int64, fromClient bool, flags uint8, seq, payload uint32) schemas.Packet {
	t := schemas.Tuple{SrcIP: client, DstIP: server, SrcPort: 51000, DstPort: 443, Proto: schemas.ProtoTCP}
	if !fromClient {
		t = t.Reverse()
	}
	return schemas.Packet{TS: ts, Tuple: t, WireLen: 54 + payload, IPLen: 40 + payload, Payload: payload, Seq: seq, TCPFlags: flags}
}

func collect(t *testing.T, cfg Config) (*Table, *[]*Flow) {
	t.Helper()
	var out []*Flow
	tab, err := New(cfg, func(f *Flow) { out = append(out, f) })
	if err != nil {
		t.Fatal(err)
	}
	return tab, &out
}

const ms = int64(time.Millisecond)

func TestOriginatorIsSYNSender(t *testing.T) {
	cases := []struct {
		name       string
		first      schemas.Packet
		wantClient bool // originator is the client
	}{
		{"syn from client", tcp(0, true, schemas.TCPSyn, 100, 0), true},
		{"syn-ack first means receiver opened", tcp(0, false, schemas.TCPSyn|schemas.TCPAck, 900, 0), true},
		{"mid-stream from the service port: its peer", tcp(0, false, schemas.TCPAck, 900, 10), true},
		{"mid-stream from the ephemeral port: the sender", tcp(0, true, schemas.TCPAck, 900, 10), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab, out := collect(t, DefaultConfig())
			p := c.first
			tab.Add(&p)
			tab.Flush()
			if len(*out) != 1 {
				t.Fatalf("got %d flows, want 1", len(*out))
			}
			f := (*out)[0]
			if got := f.OrigTuple.SrcIP == client; got != c.wantClient {
				t.Fatalf("originator is client = %v, want %v (orig tuple %+v)", got, c.wantClient, f.OrigTuple)
			}
		})
	}
}

func TestCountsPerDirectionAndRetransmits(t *testing.T) {
	tab, out := collect(t, DefaultConfig())
	pkts := []schemas.Packet{
		tcp(0, true, schemas.TCPSyn, 99, 0),
		tcp(1*ms, false, schemas.TCPSyn|schemas.TCPAck, 499, 0),
		tcp(2*ms, true, schemas.TCPAck, 100, 0),
		tcp(3*ms, true, schemas.TCPAck|schemas.TCPPsh, 100, 200), // request
		tcp(50*ms, false, schemas.TCPAck|schemas.TCPPsh, 500, 30),
		tcp(90*ms, false, schemas.TCPAck|schemas.TCPPsh, 530, 40),
		tcp(95*ms, false, schemas.TCPAck|schemas.TCPPsh, 530, 40), // retransmission
		tcp(130*ms, false, schemas.TCPAck|schemas.TCPPsh, 570, 50),
		tcp(131*ms, true, schemas.TCPAck, 300, 0),
	}
	for i := range pkts {
		tab.Add(&pkts[i])
	}
	tab.Flush()
	f := (*out)[0]
	if f.Orig.Packets != 4 || f.Resp.Packets != 5 {
		t.Fatalf("packets orig %d resp %d, want 4 and 5", f.Orig.Packets, f.Resp.Packets)
	}
	if f.Resp.PayloadPackets != 3 || f.Resp.Retransmits != 1 || f.Resp.PayloadBytes != 120 {
		t.Fatalf("resp payload packets %d retransmits %d bytes %d, want 3, 1, 120", f.Resp.PayloadPackets, f.Resp.Retransmits, f.Resp.PayloadBytes)
	}
	if got := f.Resp.IPBytes; got != 40*5+30+40+40+50 {
		t.Fatalf("resp ip bytes %d", got)
	}
	if len(f.Resp.Times) != 3 || f.Resp.Times[2] != 130*ms {
		t.Fatalf("resp times %v", f.Resp.Times)
	}
	if f.Resp.Gaps.N != 2 || f.Resp.Gaps.Mean != float64(40*ms) {
		t.Fatalf("resp gap stats %+v, want 2 gaps of mean 40ms", f.Resp.Gaps)
	}
	if f.Orig.Flags&schemas.TCPSyn == 0 || f.First != 0 || f.Last != 131*ms {
		t.Fatalf("flags %x first %d last %d", f.Orig.Flags, f.First, f.Last)
	}
	if s := tab.Stats(); s.Memory != 0 || s.Active != 0 || s.Retransmits != 1 {
		t.Fatalf("stats after flush %+v", s)
	}
}

func TestIdleTimeoutOnPacketClock(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TCPIdle = time.Second
	tab, out := collect(t, cfg)
	a := tcp(0, true, schemas.TCPAck, 1, 10)
	b := tcp(int64(2*time.Second), true, schemas.TCPAck, 11, 10) // same key after the timeout: a new flow
	tab.Add(&a)
	tab.Add(&b)
	if len(*out) != 1 || (*out)[0].Ended != EndIdle {
		t.Fatalf("want the first flow ended idle, got %d flows", len(*out))
	}
	// An unrelated flow far later sweeps the second one out.
	c := schemas.Packet{TS: int64(10 * time.Second), Tuple: schemas.Tuple{SrcIP: schemas.IPv4(1, 1, 1, 1), DstIP: schemas.IPv4(2, 2, 2, 2), SrcPort: 1, DstPort: 2, Proto: schemas.ProtoTCP}, Payload: 1}
	tab.Add(&c)
	if len(*out) != 2 || (*out)[1].Ended != EndIdle {
		t.Fatalf("sweep did not end the idle flow: %d flows", len(*out))
	}
	if s := tab.Stats(); s.EndedIdle != 2 || s.Active != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestClosedFlowEndsAfterDelay follows Zeek: once a connection has closed
// and its close delay has passed, a straggler (here a late RST) is a new
// connection, and the closed flow leaves the table without waiting for the
// idle timeout.
func TestClosedFlowEndsAfterDelay(t *testing.T) {
	tab, out := collect(t, DefaultConfig())
	seq := []schemas.Packet{
		tcp(0, false, schemas.TCPAck|schemas.TCPFin, 1, 0), // server's FIN: partial close
		tcp(1*ms, true, schemas.TCPAck, 1, 0),
		tcp(10_000*ms, true, schemas.TCPAck|schemas.TCPRst, 1, 0), // 10 s later: a new connection
	}
	for i := range seq {
		tab.Add(&seq[i])
	}
	if len(*out) != 1 || (*out)[0].Ended != EndClosed || (*out)[0].Orig.Packets+(*out)[0].Resp.Packets != 2 {
		t.Fatalf("want the closed flow of 2 packets ended, got %d flows", len(*out))
	}
	// A far later packet on another key sweeps the RST-closed flow out.
	other := schemas.Packet{TS: 20_000 * ms, Tuple: schemas.Tuple{SrcIP: schemas.IPv4(1, 1, 1, 1), DstIP: schemas.IPv4(2, 2, 2, 2), SrcPort: 1, DstPort: 2, Proto: schemas.ProtoUDP}}
	tab.Add(&other)
	if len(*out) != 2 || (*out)[1].Ended != EndClosed {
		t.Fatalf("RST-closed flow not swept after its reset delay: %d flows", len(*out))
	}
}

func TestNewSYNAfterCloseStartsNewFlow(t *testing.T) {
	tab, out := collect(t, DefaultConfig())
	seq := []schemas.Packet{
		tcp(0, true, schemas.TCPSyn, 0, 0),
		tcp(1*ms, true, schemas.TCPAck|schemas.TCPFin, 1, 0),
		tcp(2*ms, false, schemas.TCPAck|schemas.TCPFin, 1, 0),
		tcp(3*ms, true, schemas.TCPSyn, 5000, 0),
	}
	for i := range seq {
		tab.Add(&seq[i])
	}
	tab.Flush()
	if len(*out) != 2 || (*out)[0].Ended != EndClosed || (*out)[0].Orig.Packets != 2 {
		t.Fatalf("want 2 flows, the first closed with 2 orig packets; got %d", len(*out))
	}
}

func TestDetailTrimmedButStatsComplete(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxDetail = 10
	tab, out := collect(t, cfg)
	for i := 0; i < 100; i++ {
		p := tcp(int64(i)*ms, false, schemas.TCPAck, uint32(i*10), 10)
		tab.Add(&p)
	}
	tab.Flush()
	d := (*out)[0].Resp // packets from the server's service port: the client is the originator
	if len(d.Times) != 10 || d.PayloadPackets != 100 || d.Gaps.N != 99 {
		t.Fatalf("detail %d, payload packets %d, gaps %d", len(d.Times), d.PayloadPackets, d.Gaps.N)
	}
}

func TestEvictionIsCounted(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MemoryBudget = 1 << 20
	tab, out := collect(t, cfg)
	for i := 0; i < 20000; i++ {
		p := schemas.Packet{TS: int64(i), Tuple: schemas.Tuple{SrcIP: schemas.IPv4(10, 1, byte(i>>8), byte(i)), DstIP: server, SrcPort: uint16(i), DstPort: 80, Proto: schemas.ProtoUDP}, Payload: 10}
		tab.Add(&p)
	}
	s := tab.Stats()
	if s.Evicted == 0 || int64(len(*out)) != s.Evicted {
		t.Fatalf("evicted %d, emitted %d", s.Evicted, len(*out))
	}
	if s.Memory > cfg.MemoryBudget {
		t.Fatalf("memory %d over budget %d", s.Memory, cfg.MemoryBudget)
	}
	for _, f := range *out {
		if !f.Evicted || f.Ended != EndEvicted {
			t.Fatal("evicted flow not marked")
		}
	}
	// The oldest flows go first.
	if (*out)[0].First != 0 {
		t.Fatalf("first evicted flow started at %d, want the oldest", (*out)[0].First)
	}
}

func TestCanonicalKeySymmetric(t *testing.T) {
	a := schemas.Tuple{SrcIP: client, DstIP: server, SrcPort: 1, DstPort: 2, Proto: 6}
	k1, s1 := CanonicalKey(a)
	k2, s2 := CanonicalKey(a.Reverse())
	if k1 != k2 || s1 == s2 {
		t.Fatalf("keys %v %v, sides %v %v", k1, k2, s1, s2)
	}
	// Same address both ends: ports decide.
	b := schemas.Tuple{SrcIP: client, DstIP: client, SrcPort: 9, DstPort: 2, Proto: 6}
	k3, _ := CanonicalKey(b)
	k4, _ := CanonicalKey(b.Reverse())
	if k3 != k4 {
		t.Fatal("same-host flow keys differ by direction")
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.TCPIdle = 0 },
		func(c *Config) { c.MaxDetail = 1 },
		func(c *Config) { c.MemoryBudget = 10 },
		func(c *Config) { c.SweepEvery = 0 },
	}
	for i, m := range bad {
		c := DefaultConfig()
		m(&c)
		if c.Validate() == nil {
			t.Errorf("case %d: invalid config accepted", i)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAdd measures one table update per packet over 10,000
// concurrent flows with payload (the detail slices stay bounded).
func BenchmarkAdd(b *testing.B) {
	const nflows = 10000
	pkts := make([]schemas.Packet, nflows)
	for i := range pkts {
		pkts[i] = schemas.Packet{Tuple: schemas.Tuple{SrcIP: schemas.IPv4(10, 1, byte(i>>8), byte(i)), DstIP: server, SrcPort: uint16(40000 + i), DstPort: 443, Proto: schemas.ProtoTCP}, Payload: 100, TCPFlags: schemas.TCPAck, IPLen: 140}
	}
	cfg := DefaultConfig()
	cfg.MaxDetail = 64
	tab, _ := New(cfg, func(*Flow) {})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &pkts[i%nflows]
		p.TS = int64(i) * 1000
		p.Seq += 100
		tab.Add(p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

func TestAdvanceEndsQuietFlows(t *testing.T) {
	var ended []*Flow
	tb, err := New(DefaultConfig(), func(f *Flow) { ended = append(ended, f) })
	if err != nil {
		t.Fatal(err)
	}
	p := schemas.Packet{TS: 1e18, Tuple: schemas.Tuple{SrcIP: schemas.IPv4(10, 0, 0, 1), DstIP: schemas.IPv4(10, 0, 0, 2),
		SrcPort: 5000, DstPort: 53, Proto: schemas.ProtoUDP}, IPLen: 60, WireLen: 74}
	tb.Add(&p)
	tb.Advance(1e18 + int64(30*time.Second))
	if len(ended) != 0 {
		t.Fatal("a flow ended before its idle timeout")
	}
	tb.Advance(1e18 - 1) // behind the clock: ignored
	tb.Advance(1e18 + int64(61*time.Second))
	if len(ended) != 1 || ended[0].Ended != EndIdle || tb.Len() != 0 {
		t.Fatalf("ended %d flows, table holds %d; want the UDP flow ended idle", len(ended), tb.Len())
	}
	if tb.Now() != 1e18+int64(61*time.Second) {
		t.Errorf("clock %d", tb.Now())
	}
}
