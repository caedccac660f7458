package afpacket

import (
	"errors"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

func newTestReader(t testing.TB, batch int) *reader {
	dec, err := capture.NewDecoder(capture.LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	return newReader(3, dec, batch)
}

// collect returns a BatchFunc that appends copies of the batches.
func collect(got *[]schemas.Packet, sizes *[]int) BatchFunc {
	return func(worker int, b []schemas.Packet) error {
		*got = append(*got, b...)
		*sizes = append(*sizes, len(b))
		return nil
	}
}

func TestReadBlock(t *testing.T) {
	const t0 = int64(1_700_000_000_123_456_789)
	var frames []ringFrame
	for i := range 10 {
		frames = append(frames, ringFrame{data: tcpFrame(40000, 443, uint32(i), schemas.TCPAck|schemas.TCPPsh, 10*i), ts: t0 + int64(i)*25_000_000})
	}
	blk := fakeBlock(fakeBlockSize(frames), frames)

	r := newTestReader(t, 4)
	var got []schemas.Packet
	var sizes []int
	fn := collect(&got, &sizes)
	if err := r.readBlock(blk, fn); err != nil {
		t.Fatal(err)
	}
	if len(sizes) != 2 || sizes[0] != 4 || sizes[1] != 4 {
		t.Fatalf("batches during the block: %v, want [4 4]", sizes)
	}
	if err := r.flush(fn); err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || sizes[2] != 2 {
		t.Fatalf("got %d packets in batches %v, want 10 in [4 4 2]", len(got), sizes)
	}
	for i, p := range got {
		if p.TS != frames[i].ts {
			t.Errorf("packet %d: TS %d, want the ring's %d", i, p.TS, frames[i].ts)
		}
		if p.Seq != uint32(i) || p.Payload != uint32(10*i) || p.Tuple.SrcPort != 40000 || p.Tuple.DstPort != 443 ||
			p.Tuple.Proto != schemas.ProtoTCP || p.Tuple.SrcIP != schemas.IPv4(10, 0, 0, 1) {
			t.Errorf("packet %d decoded as %+v", i, p)
		}
	}
	r.publish()
	if s := r.stats(); s.Worker != 3 || s.Frames != 10 || s.Decoded != 10 || s.Batches != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestReadBlockSkips(t *testing.T) {
	full := tcpFrame(1, 2, 3, schemas.TCPSyn, 0)
	frames := []ringFrame{
		{data: arpFrame()},
		{data: full[:20], wireLen: uint32(len(full))},                                               // cut by the snap length
		{data: ether(0x0800, []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7})}, // IPv4 header cut short, nothing dropped
		{data: tcpFrame(1, 2, 3, schemas.TCPSyn, 0)},
		{data: udpFrame(5, 6, 7), wireLen: 1500}, // snap-cut payload: still decoded, lengths from headers
	}
	r := newTestReader(t, 16)
	var got []schemas.Packet
	var sizes []int
	fn := collect(&got, &sizes)
	if err := r.readBlock(fakeBlock(fakeBlockSize(frames), frames), fn); err != nil {
		t.Fatal(err)
	}
	_ = r.flush(fn)
	r.publish()
	s := r.stats()
	if s.Frames != 5 || s.Decoded != 2 || s.NotIP != 1 || s.TruncatedHeader != 1 || s.BadHeader != 1 {
		t.Fatalf("stats %+v, want 5 frames: 2 decoded, 1 not IP, 1 truncated, 1 bad", s)
	}
	if s.Frames != s.Decoded+s.NotIP+s.TruncatedHeader+s.BadHeader {
		t.Fatal("frames not all accounted for")
	}
	if len(got) != 2 || got[1].Tuple.Proto != schemas.ProtoUDP || got[1].Payload != 7 || got[1].WireLen != 1500 {
		t.Fatalf("decoded %+v", got)
	}
}

// TestReadBlockCorrupt feeds blocks whose offsets point outside the block:
// no panic, the packets count as bad.
func TestReadBlockCorrupt(t *testing.T) {
	frames := []ringFrame{{data: tcpFrame(1, 2, 3, 0, 0)}, {data: tcpFrame(1, 2, 4, 0, 0)}}
	for name, corrupt := range map[string]func([]byte){
		"first packet beyond block": func(b []byte) { ne.PutUint32(b[blkFirstPkt:], uint32(len(b))) },
		"first packet in header":    func(b []byte) { ne.PutUint32(b[blkFirstPkt:], 4) },
		"snaplen beyond block":      func(b []byte) { ne.PutUint32(b[blkHeaderSize+pktSnaplen:], 1<<30) },
		"next beyond block":         func(b []byte) { ne.PutUint32(b[blkHeaderSize+pktNext:], 1<<20) },
		"mac beyond block":          func(b []byte) { ne.PutUint16(b[blkHeaderSize+pktMac:], 65535) },
	} {
		t.Run(name, func(t *testing.T) {
			blk := fakeBlock(4096, frames)
			corrupt(blk)
			r := newTestReader(t, 16)
			var got []schemas.Packet
			var sizes []int
			if err := r.readBlock(blk, collect(&got, &sizes)); err != nil {
				t.Fatal(err)
			}
			r.publish()
			if s := r.stats(); s.BadHeader == 0 && s.Decoded == 2 {
				t.Fatalf("corruption not noticed: %+v", s)
			}
		})
	}
}

func TestReadBlockCallbackError(t *testing.T) {
	frames := []ringFrame{{data: tcpFrame(1, 2, 3, 0, 0)}, {data: tcpFrame(1, 2, 4, 0, 0)}, {data: tcpFrame(1, 2, 5, 0, 0)}}
	r := newTestReader(t, 2)
	stop := errors.New("sink full")
	calls := 0
	err := r.readBlock(fakeBlock(4096, frames), func(int, []schemas.Packet) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("err %v after %d calls, want the callback's error after 1", err, calls)
	}
}

// TestReadBlockNoAlloc: reading a block and handing out its batches
// allocates nothing.
func TestReadBlockNoAlloc(t *testing.T) {
	var frames []ringFrame
	for i := range 100 {
		frames = append(frames, ringFrame{data: tcpFrame(40000, 443, uint32(i), schemas.TCPAck, 20), ts: int64(i)})
	}
	blk := fakeBlock(fakeBlockSize(frames), frames)
	r := newTestReader(t, 32)
	n := 0
	fn := func(_ int, b []schemas.Packet) error { n += len(b); return nil }
	allocs := testing.AllocsPerRun(50, func() {
		_ = r.readBlock(blk, fn)
		_ = r.flush(fn)
		r.publish()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per block, want 0", allocs)
	}
	if n != 51*100 {
		t.Fatalf("delivered %d packets, want %d", n, 51*100)
	}
}

// TestReadBlockClock: a worker's packet clock never goes back by a
// reordering; a big step back is followed.
func TestReadBlockClock(t *testing.T) {
	const ms = int64(time.Millisecond)
	base := int64(1_700_000_000) * 1e9
	in := []int64{base, base + 5*ms, base + 5*ms - 300, base + 6*ms, base + 2*ms, base + 7*ms, base - 3600_000*ms, base - 3600_000*ms + 1}
	want := []int64{base, base + 5*ms, base + 5*ms, base + 6*ms, base + 6*ms, base + 7*ms, base - 3600_000*ms, base - 3600_000*ms + 1}
	var frames []ringFrame
	for _, ts := range in {
		frames = append(frames, ringFrame{data: tcpFrame(1, 2, 3, schemas.TCPAck, 0), ts: ts})
	}
	r := newTestReader(t, 16)
	var got []schemas.Packet
	var sizes []int
	fn := collect(&got, &sizes)
	// Across two blocks: the clock carries over.
	if err := r.readBlock(fakeBlock(4096, frames[:3]), fn); err != nil {
		t.Fatal(err)
	}
	if err := r.readBlock(fakeBlock(4096, frames[3:]), fn); err != nil {
		t.Fatal(err)
	}
	_ = r.flush(fn)
	for i, p := range got {
		if p.TS != want[i] {
			t.Errorf("packet %d: TS %d, want %d (kernel said %d)", i, p.TS-base, want[i]-base, in[i]-base)
		}
	}
	r.publish()
	if s := r.stats(); s.Reordered != 2 || s.ClockSteps != 1 {
		t.Fatalf("stats %+v, want 2 reordered and 1 clock step", s)
	}
}

func TestStatsTotal(t *testing.T) {
	s := Stats{Workers: []WorkerStats{
		{Worker: 0, Packets: 10, Drops: 1, Freezes: 1, Frames: 9, Decoded: 8, NotIP: 1, Batches: 2, Reordered: 3},
		{Worker: 1, Packets: 5, Frames: 5, Decoded: 4, TruncatedHeader: 1, Batches: 1, ClockSteps: 1},
	}}
	want := WorkerStats{Worker: -1, Packets: 15, Drops: 1, Freezes: 1, Frames: 14, Decoded: 12, NotIP: 1, TruncatedHeader: 1, Batches: 3, Reordered: 3, ClockSteps: 1}
	if got := s.Total(); got != want {
		t.Fatalf("Total() = %+v, want %+v", got, want)
	}
	if got := want.String(); got != "packets=15 drops=1 freezes=1 frames=14 decoded=12 not_ip=1 truncated_header=1 reordered=3 clock_steps=1" {
		t.Fatalf("String() = %q", got)
	}
}

func BenchmarkReadBlock(b *testing.B) {
	var frames []ringFrame
	for i := range 2000 {
		frames = append(frames, ringFrame{data: tcpFrame(uint16(30000+i%500), 443, uint32(i), schemas.TCPAck, 40), ts: int64(i)})
	}
	blk := fakeBlock(fakeBlockSize(frames), frames)
	r := newTestReader(b, DefaultBatchSize)
	fn := func(int, []schemas.Packet) error { return nil }
	b.ReportAllocs()
	b.SetBytes(int64(len(blk)))
	for b.Loop() {
		_ = r.readBlock(blk, fn)
		_ = r.flush(fn)
		r.publish()
	}
	b.ReportMetric(float64(b.N)*float64(len(frames))/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(frames)), "ns/pkt")
}
