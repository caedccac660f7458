package capture

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

// splitRecs deals recs (in time order) to k files: in runs of runLen
// records like a rolling ring (runLen > 0), or at random like per-thread
// files that overlap in time (runLen == 0).
func splitRecs(recs []rec, k, runLen int, seed uint64) [][]rec {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]rec, k)
	for i, r := range recs {
		f := rng.IntN(k)
		if runLen > 0 {
			f = min(i/runLen, k-1)
		}
		out[f] = append(out[f], r)
	}
	return out
}

func writeFiles(t *testing.T, parts [][]rec) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i, part := range parts {
		path := filepath.Join(dir, fmt.Sprintf("log.pcap.%d", i))
		b := pcapBytes(LinkEthernet, i%2 == 0, i%3 == 1, 65535, part)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths
}

func mergeAll(t *testing.T, m *Merger, batch int) []schemas.Packet {
	t.Helper()
	var out []schemas.Packet
	if batch == 0 {
		for {
			var p schemas.Packet
			if err := m.Next(&p); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}
	buf := make([]schemas.Packet, batch)
	for {
		n, err := m.ReadBatch(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestMergerOrder(t *testing.T) {
	recs := genRecs(3000, 11) // strictly increasing timestamps? not quite: ties possible
	// Make timestamps unique so the expected order is the original one.
	for i := range recs {
		recs[i].ts = int64(1_700_000_000_000_000_000) + int64(i)*1000
	}
	var want []schemas.Packet
	for _, r := range recs {
		var p schemas.Packet
		if err := decodeFrame(LinkEthernet, &p, r.frame, CaptureInfo{TS: r.ts}); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	for _, tc := range []struct {
		name   string
		k, run int
	}{
		{"one file", 1, 0},
		{"ring of 7 files", 7, 450},
		{"4 overlapping per-thread files", 4, 0},
		{"16 overlapping files", 16, 0},
	} {
		for _, batch := range []int{0, 1, 100, 4096} {
			t.Run(fmt.Sprintf("%s batch %d", tc.name, batch), func(t *testing.T) {
				paths := writeFiles(t, splitRecs(recs, tc.k, tc.run, 3))
				slices.Reverse(paths) // the order given must not matter
				m := OpenMerger(paths)
				defer m.Close()
				got := mergeAll(t, m, batch)
				if len(got) != len(want) {
					t.Fatalf("got %d packets, want %d", len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("packet %d = %+v, want %+v", i, got[i], want[i])
					}
				}
				s := m.Stats()
				if s.Records != 3000 || s.Decoded != 3000 || s.Files != uint64(tc.k) || s.FilesSkipped != 0 {
					t.Errorf("Stats = %v", s)
				}
				var sum Stats
				for _, fs := range m.FileStats() {
					sum.Add(fs.Stats)
					if fs.Err != nil {
						t.Errorf("%s: %v", fs.Name, fs.Err)
					}
				}
				if sum != s {
					t.Errorf("per-file stats sum to %v, total %v", sum, s)
				}
				if m.Err() != nil || len(m.OpenErrors()) != 0 {
					t.Errorf("Err = %v, OpenErrors = %v", m.Err(), m.OpenErrors())
				}
			})
		}
	}
}

func TestMergerTiesFollowGivenOrder(t *testing.T) {
	mk := func(port uint16, tss ...int64) []rec {
		var out []rec
		for _, ts := range tss {
			out = append(out, rec{ts: ts * 1000, frame: eth(etIPv4, ipv4(17, v4a, v4b, udp(port, 53, 0), 0))})
		}
		return out
	}
	paths := writeFiles(t, [][]rec{mk(1, 10, 20, 20, 30), mk(2, 5, 20, 30), mk(3, 20)})
	for _, batch := range []int{0, 1, 64} {
		m := OpenMerger(paths)
		var got []string
		for _, p := range mergeAll(t, m, batch) {
			got = append(got, fmt.Sprintf("%d/%d", p.TS/1000, p.Tuple.SrcPort))
		}
		m.Close()
		want := "5/2 10/1 20/1 20/1 20/2 20/3 30/1 30/2"
		if strings.Join(got, " ") != want {
			t.Errorf("batch %d: order %v, want %s", batch, got, want)
		}
	}
}

func TestMergerSkipsBadFiles(t *testing.T) {
	good := genRecs(100, 5)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cut := pcapBytes(LinkEthernet, false, false, 65535, good[50:])
	paths := []string{
		write("a.pcap", pcapBytes(LinkEthernet, false, false, 65535, good[:50])),
		filepath.Join(dir, "missing.pcap"),
		write("conn.log", []byte("#separator \\x09\n")),
		write("user0.pcap", pcapBytes(147, false, false, 65535, good)),
		write("b.pcap", cut[:len(cut)-10]),
		write("empty.pcap", pcapBytes(LinkEthernet, false, false, 65535, nil)),
	}
	m := OpenMerger(paths)
	defer m.Close()
	got := mergeAll(t, m, 0)
	if len(got) != 99 {
		t.Errorf("got %d packets, want 99 (the last one is cut)", len(got))
	}
	if !slices.IsSortedFunc(got, func(a, b schemas.Packet) int { return int(a.TS - b.TS) }) {
		t.Error("packets out of order")
	}
	errs := m.OpenErrors()
	if len(errs) != 3 {
		t.Fatalf("OpenErrors = %v, want 3", errs)
	}
	for i, want := range []struct {
		name string
		is   error
	}{{"missing.pcap", os.ErrNotExist}, {"conn.log", ErrNotCapture}, {"user0.pcap", ErrUnknownLinkType}} {
		if !errors.Is(errs[i], want.is) || !strings.Contains(errs[i].Error(), want.name) {
			t.Errorf("open error %d = %v, want %v naming %s", i, errs[i], want.is, want.name)
		}
	}
	s := m.Stats()
	want := Stats{Records: 100, Decoded: 99, TruncatedRecord: 1, Files: 3, FilesSkipped: 3}
	if s != want {
		t.Errorf("Stats = %v, want %v", s, want)
	}
	if err := m.Err(); !errors.Is(err, ErrTruncatedRecord) || !strings.Contains(err.Error(), "b.pcap: record 50:") {
		t.Errorf("Err = %v", err)
	}
	fs := m.FileStats()
	if len(fs) != len(paths) || fs[1].Stats.FilesSkipped != 1 || fs[1].Err == nil || fs[4].Stats.TruncatedRecord != 1 {
		t.Errorf("FileStats = %+v", fs)
	}
}

// TestMergerOpensLazily checks that a long ring does not hold every file
// open: files are opened when the merge reaches them.
func TestMergerOpensLazily(t *testing.T) {
	recs := genRecs(5000, 8)
	paths := writeFiles(t, splitRecs(recs, 50, 100, 0))
	m := OpenMerger(paths)
	defer m.Close()
	var p schemas.Packet
	most := 0
	n := 0
	for m.Next(&p) == nil {
		most = max(most, len(m.heap))
		n++
	}
	if n != 5000 {
		t.Errorf("read %d packets, want 5000", n)
	}
	if most > 2 {
		t.Errorf("%d files open at once, want at most 2", most)
	}
}

func TestNewMergerMixedFormats(t *testing.T) {
	a := pcapBytes(LinkEthernet, false, false, 65535, []rec{
		{ts: 100_000, frame: eth(etIPv4, ipv4(17, v4a, v4b, udp(1, 1, 0), 0))},
		{ts: 300_000, frame: eth(etIPv4, ipv4(17, v4a, v4b, udp(3, 3, 0), 0))},
	})
	b := pcapngBytes(false, []ngIface{{link: LinkRaw, tsresol: 9}}, []ngRec{
		{0, rec{ts: 200_000, frame: ipv4(17, v4a, v4b, udp(2, 2, 0), 0)}},
		{0, rec{ts: 400_000, frame: ipv6(17, v6a, v6b, udp(4, 4, 0))}},
	})
	ra, err := Open(writeTemp(t, "a.pcap", a))
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Open(writeTemp(t, "b.pcapng", b))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMerger(ra, rb)
	got := mergeAll(t, m, 3)
	var ports []uint16
	for _, p := range got {
		ports = append(ports, p.Tuple.SrcPort)
	}
	if !slices.Equal(ports, []uint16{1, 2, 3, 4}) {
		t.Errorf("order %v, want 1 2 3 4", ports)
	}
	if err := m.Close(); err != nil {
		t.Error(err)
	}
	if err := m.Next(&schemas.Packet{}); err != io.EOF {
		t.Errorf("Next after Close = %v", err)
	}
}
