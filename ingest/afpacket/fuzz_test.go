package afpacket

import (
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

// FuzzReadBlock: whatever a ring block holds, reading it does not panic,
// and every frame read is accounted for exactly once.
func FuzzReadBlock(f *testing.F) {
	frames := []ringFrame{{data: tcpFrame(1, 2, 3, schemas.TCPSyn, 0)}, {data: arpFrame()}, {data: udpFrame(5, 6, 7)}}
	f.Add(fakeBlock(4096, frames))
	f.Add(fakeBlock(4096, nil))
	f.Fuzz(func(t *testing.T, blk []byte) {
		if len(blk) < blkHeaderSize {
			return
		}
		r := newTestReader(t, 2)
		n := 0
		fn := func(_ int, b []schemas.Packet) error { n += len(b); return nil }
		if err := r.readBlock(blk, fn); err != nil {
			t.Fatal(err)
		}
		_ = r.flush(fn)
		c := r.cnt
		if c.frames < c.decoded+c.notIP+c.truncated || uint64(n) != c.decoded {
			t.Fatalf("counters %+v, delivered %d", c, n)
		}
	})
}

// FuzzParseRawFilter: a parsed program is never empty, never too long,
// and always ends in a return.
func FuzzParseRawFilter(f *testing.F) {
	f.Add(udpProg)
	f.Add("1,6 0 0 0")
	f.Add("2\n6 0 0 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		prog, err := parseRawFilter(s)
		if err != nil {
			return
		}
		if len(prog) == 0 || len(prog) > maxFilterLen || prog[len(prog)-1].Op&0x07 != 0x06 {
			t.Fatalf("accepted %q as %v", s, prog)
		}
	})
}
