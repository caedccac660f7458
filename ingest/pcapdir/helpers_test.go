package pcapdir

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

const synthPath = "../../testdata/synth/traffic.pcap"

// rawRec is one record of the synth capture: what a writer writes.
type rawRec struct {
	ts   int64
	wire uint32
	data []byte
}

// bytes returns the record in little-endian nanosecond pcap layout.
func (r rawRec) bytes() []byte {
	b := make([]byte, recHeaderLen+len(r.data))
	binary.LittleEndian.PutUint32(b, uint32(r.ts/1e9))
	binary.LittleEndian.PutUint32(b[4:], uint32(r.ts%1e9))
	binary.LittleEndian.PutUint32(b[8:], uint32(len(r.data)))
	binary.LittleEndian.PutUint32(b[12:], r.wire)
	copy(b[recHeaderLen:], r.data)
	return b
}

// pcapFileHeader is a little-endian nanosecond Ethernet pcap header.
func pcapFileHeader() []byte {
	b := make([]byte, fileHeaderLen)
	binary.LittleEndian.PutUint32(b, magicNanoLE)
	binary.LittleEndian.PutUint16(b[4:], 2)
	binary.LittleEndian.PutUint16(b[6:], 4)
	binary.LittleEndian.PutUint32(b[16:], 262144)
	binary.LittleEndian.PutUint32(b[20:], uint32(capture.LinkEthernet))
	return b
}

var (
	synthOnce sync.Once
	synthRecs []rawRec
	synthErr  error
)

// synth returns the records of testdata/synth/traffic.pcap.
func synth(tb testing.TB) []rawRec {
	tb.Helper()
	synthOnce.Do(func() {
		f, err := os.Open(synthPath)
		if err != nil {
			synthErr = err
			return
		}
		defer f.Close()
		r, err := pcapgo.NewReader(f)
		if err != nil {
			synthErr = err
			return
		}
		for {
			data, ci, err := r.ReadPacketData()
			if err == io.EOF {
				break
			}
			if err != nil {
				synthErr = err
				return
			}
			synthRecs = append(synthRecs, rawRec{ts: ci.Timestamp.UnixNano(), wire: uint32(ci.Length), data: data})
		}
	})
	if synthErr != nil {
		tb.Fatalf("reading %s: %v", synthPath, synthErr)
	}
	return synthRecs
}

// decodeRecs decodes records the way the Source must: the expected output.
func decodeRecs(tb testing.TB, recs []rawRec) []schemas.Packet {
	tb.Helper()
	d, err := capture.NewDecoder(capture.LinkEthernet)
	if err != nil {
		tb.Fatal(err)
	}
	var out []schemas.Packet
	for _, r := range recs {
		var p schemas.Packet
		if d.Decode(&p, r.data, capture.CaptureInfo{TS: r.ts, WireLen: r.wire}) == nil {
			out = append(out, p)
		}
	}
	return out
}

// writeFile writes recs as one complete pcap file.
func writeFile(tb testing.TB, path string, recs []rawRec) {
	tb.Helper()
	b := pcapFileHeader()
	for _, r := range recs {
		b = append(b, r.bytes()...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// collector gathers what a Source delivers and stops it once it has want
// packets.
type collector struct {
	mu     sync.Mutex
	got    []schemas.Packet
	want   int
	cancel context.CancelFunc
	onData func(batch []schemas.Packet) // called in the callback, may block
}

func (c *collector) fn(batch []schemas.Packet) error {
	c.mu.Lock()
	c.got = append(c.got, batch...)
	n := len(c.got)
	c.mu.Unlock()
	if c.onData != nil {
		c.onData(batch)
	}
	if c.want > 0 && n >= c.want {
		c.cancel()
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func (c *collector) packets() []schemas.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// runSource runs s until the collector has want packets (or Run returns);
// it fails the test if that takes longer than limit (a hang guard, not a
// timing assertion).
func runSource(t *testing.T, s *Source, c *collector, limit time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.cancel = cancel
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, c.fn) }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		cancel()
		<-done
		t.Fatalf("source did not deliver %d packets within %v: got %d; stats %v; losses %v",
			c.want, limit, c.count(), s.Stats(), s.Losses())
		return nil
	}
}

// testConfig is a Config with short waits for tests.
func testConfig(dir, pattern string) Config {
	return Config{Dir: dir, Pattern: pattern, PollInterval: 2 * time.Millisecond, Settle: 20 * time.Millisecond,
		MergeWait: 3 * time.Second, CloseIdle: 10 * time.Second}
}

// equalPackets reports the first difference between two packet lists.
func equalPackets(got, want []schemas.Packet) error {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Errorf("packet %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("got %d packets, want %d", len(got), len(want))
	}
	return nil
}

// sortPackets orders packets by every field, to compare multisets.
func sortPackets(ps []schemas.Packet) {
	slices.SortFunc(ps, func(a, b schemas.Packet) int {
		return cmp.Or(cmp.Compare(a.TS, b.TS), slices.Compare(a.Tuple.SrcIP[:], b.Tuple.SrcIP[:]),
			slices.Compare(a.Tuple.DstIP[:], b.Tuple.DstIP[:]), cmp.Compare(a.Tuple.SrcPort, b.Tuple.SrcPort),
			cmp.Compare(a.Tuple.DstPort, b.Tuple.DstPort), cmp.Compare(a.Tuple.Proto, b.Tuple.Proto),
			cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.WireLen, b.WireLen), cmp.Compare(a.Payload, b.Payload),
			cmp.Compare(a.TCPFlags, b.TCPFlags))
	})
}

// inTimeOrder reports the first packet that goes back in time.
func inTimeOrder(ps []schemas.Packet) error {
	for i := 1; i < len(ps); i++ {
		if ps[i].TS < ps[i-1].TS {
			return fmt.Errorf("packet %d at %d comes after one at %d", i, ps[i].TS, ps[i-1].TS)
		}
	}
	return nil
}

// ringWriter writes records into a rotating ring of files the way a
// capture writer does: every record in two writes (a half-written record
// is on disk in between), a new file every perFile records, the oldest
// deleted beyond keep files.
type ringWriter struct {
	dir     string
	name    func(i int, first rawRec) string // file name of the i-th file
	perFile int
	keep    int // 0: keep all
	// between, if set, runs between the two halves of record k of the
	// whole stream (to wait until a reader has seen the half).
	between func(k int)
	// beforeDelete, if set, runs before file i is deleted.
	beforeDelete func(i int)
}

// write writes recs and returns the names of the files written, in order.
func (w *ringWriter) write(recs []rawRec) ([]string, error) {
	var names []string
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for k, r := range recs {
		if k%w.perFile == 0 {
			if f != nil {
				if err := f.Close(); err != nil {
					return names, err
				}
			}
			name := w.name(len(names), r)
			var err error
			f, err = os.OpenFile(filepath.Join(w.dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return names, err
			}
			names = append(names, name)
			h := pcapFileHeader()
			if _, err := f.Write(h[:10]); err != nil {
				return names, err
			}
			if _, err := f.Write(h[10:]); err != nil {
				return names, err
			}
			if w.keep > 0 && len(names) > w.keep {
				i := len(names) - w.keep - 1
				if w.beforeDelete != nil {
					w.beforeDelete(i)
				}
				if err := os.Remove(filepath.Join(w.dir, names[i])); err != nil {
					return names, err
				}
			}
		}
		b := r.bytes()
		cut := 1 + k%(len(b)-1)
		if _, err := f.Write(b[:cut]); err != nil {
			return names, err
		}
		if w.between != nil {
			w.between(k)
		}
		if _, err := f.Write(b[cut:]); err != nil {
			return names, err
		}
	}
	return names, nil
}

// waitFor polls cond until it holds or limit passes (a hang guard).
func waitFor(cond func() bool, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Microsecond)
	}
	return true
}

var errStop = errors.New("stop")

// writeNg writes recs as a pcapng file.
func writeNg(tb testing.TB, path string, recs []rawRec) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range recs {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, r.ts), CaptureLength: len(r.data), Length: int(r.wire)}
		if err := w.WritePacket(ci, r.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
}

// writeGz writes recs as a gzip-compressed pcap file.
func writeGz(tb testing.TB, path string, recs []rawRec) {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(pcapFileHeader())
	for _, r := range recs {
		zw.Write(r.bytes())
	}
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}
