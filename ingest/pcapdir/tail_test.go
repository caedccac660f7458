package pcapdir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

// growing is a file in memory that a writer extends: ReadAt sees only the
// first n bytes.
type growing struct {
	b []byte
	n int
}

func (g *growing) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(g.n) {
		return 0, io.EOF
	}
	m := copy(p, g.b[off:g.n])
	if m < len(p) {
		return m, io.EOF
	}
	return m, nil
}

// pullAll pulls until nothing more is available now.
func pullAll(t *tailReader, out []schemas.Packet) ([]schemas.Packet, error) {
	ps := make([]schemas.Packet, 7)
	offs := make([]int64, 7)
	for {
		n, err := t.pull(ps, offs)
		out = append(out, ps[:n]...)
		if err != nil {
			return out, err
		}
		if n == 0 {
			return out, nil
		}
	}
}

// atRest decodes b with capture's reader, the reference.
func atRest(t testing.TB, b []byte) ([]schemas.Packet, capture.Stats, bool) {
	r, err := capture.NewReader(bytes.NewReader(b), "ref")
	if err != nil {
		return nil, capture.Stats{}, false
	}
	var out []schemas.Packet
	var p schemas.Packet
	for r.Next(&p) == nil {
		out = append(out, p)
	}
	return out, r.Stats(), true
}

func synthBytes(t testing.TB, n int) []byte {
	b := pcapFileHeader()
	for _, r := range synth(t)[:n] {
		b = append(b, r.bytes()...)
	}
	return b
}

// TestTailGrowingByteByByte grows a file one byte at a time and pulls after
// every byte: every packet comes out exactly once, as capture decodes the
// whole file, none before all its bytes are there, and nothing is counted
// as truncated or corrupt on the way.
func TestTailGrowingByteByByte(t *testing.T) {
	b := synthBytes(t, 40)
	want, _, _ := atRest(t, b)
	g := &growing{b: b}
	tr := newTailReader(g, "g", 0, make([]byte, 64))
	var got []schemas.Packet
	var err error
	for g.n = 0; g.n <= len(b); g.n++ {
		before := len(got)
		if got, err = pullAll(tr, got); err != nil {
			t.Fatalf("at %d bytes: %v", g.n, err)
		}
		if len(got) > before && tr.offset() > int64(g.n) {
			t.Fatalf("at %d bytes: parsed up to %d", g.n, tr.offset())
		}
		if tr.stats.TruncatedRecord != 0 || tr.stats.BadRecord != 0 {
			t.Fatalf("at %d bytes: counted %v", g.n, tr.stats)
		}
	}
	if err := equalPackets(got, want); err != nil {
		t.Fatal(err)
	}
	if tr.waits == 0 {
		t.Error("no wait at a partial record")
	}
	if err := tr.finish(); err != nil {
		t.Errorf("finish of a whole file: %v", err)
	}
}

// TestTailFinishPartial: a partial last record is counted as truncated
// only by finish.
func TestTailFinishPartial(t *testing.T) {
	b := synthBytes(t, 5)
	g := &growing{b: b, n: len(b) - 3}
	tr := newTailReader(g, "g", 0, make([]byte, 64))
	got, err := pullAll(tr, nil)
	if err != nil || len(got) != 4 {
		t.Fatalf("got %d packets, %v", len(got), err)
	}
	err = tr.finish()
	if !errors.Is(err, capture.ErrTruncatedRecord) || tr.stats.TruncatedRecord != 1 || tr.stats.Records != 5 {
		t.Errorf("finish: %v, %v", err, tr.stats)
	}
}

// TestTailRewritten: bytes read after the file was rewritten in place are
// not parsed as the old capture.
func TestTailRewritten(t *testing.T) {
	old := synthBytes(t, 20)
	g := &growing{b: old, n: 24 + 16 + 50}
	tr := newTailReader(g, "g", 0, make([]byte, 64))
	if _, err := pullAll(tr, nil); err != nil {
		t.Fatal(err)
	}
	neu := pcapFileHeader()
	for _, r := range synth(t)[1000:1020] {
		neu = append(neu, r.bytes()...)
	}
	g.b, g.n = neu, len(neu)
	if _, err := pullAll(tr, nil); !errors.Is(err, errReplaced) {
		t.Fatalf("after a rewrite: %v, want errReplaced", err)
	}
	if _, err := pullAll(tr, nil); !errors.Is(err, errReplaced) {
		t.Fatalf("error not sticky: %v", err)
	}
	tr.restart()
	got, err := pullAll(tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := atRest(t, neu)
	if err := equalPackets(got, want); err != nil {
		t.Fatal(err)
	}
}

// TestTailBadRecord: a record longer than any snap length ends the file
// as corrupt (while one merely incomplete is waited on).
func TestTailBadRecord(t *testing.T) {
	b := synthBytes(t, 3)
	bad := make([]byte, 16)
	binary.LittleEndian.PutUint32(bad[8:], 1<<30)
	b = append(b, bad...)
	tr := newTailReader(&growing{b: b, n: len(b)}, "g", 0, make([]byte, 64))
	got, err := pullAll(tr, nil)
	if len(got) != 3 || !errors.Is(err, capture.ErrBadRecord) {
		t.Errorf("got %d packets, %v", len(got), err)
	}
}

// FuzzTailReader feeds arbitrary bytes to the growing-file reader, revealed
// in chunks whose sizes come from the input, pulling after each: it must
// not panic or loop, and what it delivers for a classic pcap must be what
// capture's reader decodes from the whole file.
func FuzzTailReader(f *testing.F) {
	f.Add(synthBytes(f, 6), uint8(1), uint8(7))
	f.Add(synthBytes(f, 3)[:100], uint8(13), uint8(3))
	f.Add(append(pcapFileHeader(), 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 1, 0, 0, 0), uint8(5), uint8(5))
	big := pcapFileHeader()
	binary.BigEndian.PutUint32(big, magicMicroLE)
	f.Add(big, uint8(2), uint8(9))
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 1, 2, 3}, uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, step, skew uint8) {
		g := &growing{b: data}
		tr := newTailReader(g, "fuzz", 0, make([]byte, 64))
		var got []schemas.Packet
		var err error
		chunk := 1 + int(step)
		for g.n < len(data) && err == nil {
			g.n = min(len(data), g.n+chunk)
			chunk = 1 + (chunk*int(skew)+int(step))%251
			got, err = pullAll(tr, got)
		}
		if err == nil {
			got, err = pullAll(tr, got)
		}
		want, wst, ok := atRest(t, data)
		if errors.Is(err, errOther) || !ok {
			return // pcapng, gzip, or not a capture: not followed
		}
		if err != nil && !errors.Is(err, capture.ErrBadRecord) {
			t.Fatalf("error %v", err)
		}
		if len(want) != len(got) {
			t.Fatalf("got %d packets, capture decodes %d (%v)", len(got), len(want), wst)
		}
		if e := equalPackets(got, want); e != nil {
			t.Fatal(e)
		}
		tr.finish()
		if tr.stats.Records != wst.Records || tr.stats.Decoded != wst.Decoded {
			t.Fatalf("counted %v, capture %v", tr.stats, wst)
		}
	})
}
