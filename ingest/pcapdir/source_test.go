package pcapdir

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

// epochName formats the first packet's second the way Suricata and
// netsniff-ng name files.
func epochName(r rawRec) string { return strconv.FormatInt(r.ts/1e9, 10) }

// TestFollowRing follows a ring that a writer goroutine produces while the
// Source reads it, for each naming scheme: every packet is delivered
// exactly once, in the order written, decoded as capture decodes it;
// records are written in two halves and the writer waits, now and then,
// until the Source has met a half-written record (so the wait is
// exercised, deterministically); old files are deleted beyond the ring
// size once the Source has opened the next one, so files are deleted
// under the open descriptor.
func TestFollowRing(t *testing.T) {
	recs := synth(t)
	want := decodeRecs(t, recs)
	for _, tc := range []struct {
		name    string
		pattern string
		file    func(i int, first rawRec) string
		keep    int
	}{
		{"tcpdump -G strftime", "ring-*.pcap", func(_ int, r rawRec) string {
			return "ring-" + time.Unix(0, r.ts).UTC().Format("20060102150405") + ".pcap"
		}, 3},
		{"tcpdump -C numbered", "ring.pcap*", func(i int, _ rawRec) string {
			if i == 0 {
				return "ring.pcap"
			}
			return "ring.pcap" + strconv.Itoa(i)
		}, 0},
		{"suricata normal", "log.pcap.*", func(_ int, r rawRec) string { return "log.pcap." + epochName(r) }, 4},
		{"netsniff-ng", "*.pcap", func(_ int, r rawRec) string { return epochName(r) + ".pcap" }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := New(testConfig(dir, tc.pattern), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			c := &collector{want: len(want)}
			w := &ringWriter{dir: dir, name: tc.file, perFile: 2000, keep: tc.keep,
				between: func(k int) {
					if k%1000 == 500 {
						before := s.Stats().PartialWaits
						waitFor(func() bool { return s.Stats().PartialWaits > before }, 10*time.Second)
					}
				},
				beforeDelete: func(i int) {
					waitFor(func() bool { return s.Stats().Decode.Files >= uint64(i+2) }, 30*time.Second)
				},
			}
			var werr error
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); _, werr = w.write(recs) }()
			if err := runSource(t, s, c, 60*time.Second); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if werr != nil {
				t.Fatal(werr)
			}
			if err := equalPackets(c.packets(), want); err != nil {
				t.Fatal(err)
			}
			st := s.Stats()
			if st.FilesLost != 0 || st.Late != 0 || st.Decode.TruncatedRecord != 0 || st.Decode.BadRecord != 0 {
				t.Errorf("unexpected counters: %v", st)
			}
			if st.PartialWaits == 0 {
				t.Errorf("no half-written record was met: %v", st)
			}
			if st.Packets != uint64(len(want)) || st.Decode.Records != uint64(len(recs)) {
				t.Errorf("counted %d packets of %d records, want %d of %d", st.Packets, st.Decode.Records, len(want), len(recs))
			}
			if st.Clock != want[len(want)-1].TS {
				t.Errorf("clock %d, want %d", st.Clock, want[len(want)-1].TS)
			}
		})
	}
}

// threadOf assigns a record to one of n threads by its flow, the way
// AF_PACKET cluster_flow spreads flows over Suricata's threads.
func threadOf(d *capture.Decoder, r rawRec, n int) int {
	var p schemas.Packet
	if d.Decode(&p, r.data, capture.CaptureInfo{TS: r.ts, WireLen: r.wire}) != nil {
		return 0
	}
	tu := p.Tuple
	if !tu.SrcFirst() {
		tu = tu.Reverse()
	}
	h := fnv.New32a()
	h.Write(tu.SrcIP[:])
	h.Write(tu.DstIP[:])
	h.Write([]byte{byte(tu.SrcPort >> 8), byte(tu.SrcPort), byte(tu.DstPort >> 8), byte(tu.DstPort), tu.Proto})
	return int(h.Sum32() % uint32(n))
}

// writeThreads writes recs as Suricata pcap-log multi mode does: one file
// series per thread, <filename>.<thread>.<epoch>, each rotated after
// perFile of its packets, records in two halves. It returns each
// thread's records.
func writeThreads(t testing.TB, dir string, recs []rawRec, threads, perFile int, between func(k int)) [][]rawRec {
	d, _ := capture.NewDecoder(capture.LinkEthernet)
	files := make([]*os.File, threads)
	counts := make([]int, threads)
	per := make([][]rawRec, threads)
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	for k, r := range recs {
		th := threadOf(d, r, threads)
		per[th] = append(per[th], r)
		if counts[th]%perFile == 0 {
			if files[th] != nil {
				files[th].Close()
			}
			name := filepath.Join(dir, "log.pcap."+strconv.Itoa(th+1)+"."+epochName(r))
			f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				t.Error(err)
				return per
			}
			files[th] = f
			f.Write(pcapFileHeader())
		}
		counts[th]++
		b := r.bytes()
		cut := 1 + k%(len(b)-1)
		files[th].Write(b[:cut])
		if between != nil {
			between(k)
		}
		files[th].Write(b[cut:])
	}
	return per
}

// TestSuricataMultiThreads follows Suricata multi-mode files, three
// threads writing at once and rotating, while they are written: the
// packets come out merged in time order, each exactly once.
func TestSuricataMultiThreads(t *testing.T) {
	recs := synth(t)
	want := decodeRecs(t, recs)
	dir := t.TempDir()
	s, err := New(testConfig(dir, "log.pcap.*"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{want: len(want)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		writeThreads(t, dir, recs, 3, 1500, func(k int) {
			if k%3000 == 1500 {
				// Give the Source a chance to meet the half-written
				// record (the other threads' files hold it back for
				// MergeWait if it waits longer).
				before := s.Stats().PartialWaits
				waitFor(func() bool { return s.Stats().PartialWaits > before }, 100*time.Millisecond)
			}
		})
	}()
	if err := runSource(t, s, c, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	got := c.packets()
	if err := inTimeOrder(got); err != nil {
		t.Error(err)
	}
	sortPackets(got)
	sortPackets(want)
	if err := equalPackets(got, want); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Late != 0 || st.FilesLost != 0 || st.Decode.TruncatedRecord != 0 {
		t.Errorf("unexpected counters: %v", st)
	}
	if st.Decode.Files < 6 {
		t.Errorf("opened %d files, want the rotations of 3 threads", st.Decode.Files)
	}
}

// TestStartNow starts at the end of a ring whose newest file ends in a
// half-written record: the old files and the whole records of the newest
// are skipped; the half-written record, completed later, and everything
// after it are delivered.
func TestStartNow(t *testing.T) {
	recs := synth(t)[:4000]
	dir := t.TempDir()
	name := func(i int) string { return filepath.Join(dir, "ring.pcap"+strconv.Itoa(i)) }
	writeFile(t, name(0), recs[:1000])
	writeFile(t, name(1), recs[1000:2000])
	writeFile(t, name(2), recs[2000:2500])
	half := recs[2500].bytes()
	appendFile(t, name(2), half[:7])
	// Old files, as on a real disk.
	old := time.Now().Add(-time.Hour)
	for i := range 2 {
		os.Chtimes(name(i), old, old)
	}
	cfg := testConfig(dir, "ring.pcap*")
	cfg.Start = StartNow
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := decodeRecs(t, recs[2500:])
	c := &collector{want: len(want)}
	go func() {
		waitFor(func() bool { return s.Stats().Decode.Files >= 1 }, 30*time.Second)
		appendFile(t, name(2), half[7:])
		for _, r := range recs[2501:3000] {
			appendFile(t, name(2), r.bytes())
		}
		writeFile(t, name(3), recs[3000:])
	}()
	if err := runSource(t, s, c, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := equalPackets(c.packets(), want); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.FilesLost != 0 || st.Decode.TruncatedRecord != 0 {
		t.Errorf("unexpected counters: %v", st)
	}
}

func appendFile(t testing.TB, path string, b []byte) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Error(err)
	}
}

// TestResumePosition stops a Source in the middle of two writers' files,
// saves its Position as JSON and resumes a new Source from it: the two
// runs together deliver every packet exactly once.
func TestResumePosition(t *testing.T) {
	recs := synth(t)
	want := decodeRecs(t, recs)
	dir := t.TempDir()
	writeThreads(t, dir, recs, 2, 3000, nil)
	for _, stopAt := range []int{1, 3001, 9000, len(want) - 1} {
		t.Run(strconv.Itoa(stopAt), func(t *testing.T) {
			cfg := testConfig(dir, "log.pcap.*")
			cfg.StopAtEnd = true
			cfg.BatchSize = 100
			s1, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			var saved []byte
			c1 := &collector{}
			c1.onData = func([]schemas.Packet) {
				if c1.count() >= stopAt && saved == nil {
					saved, _ = json.Marshal(s1.Position())
					c1.cancel()
				}
			}
			if err := runSource(t, s1, c1, 60*time.Second); err != nil {
				t.Fatal(err)
			}
			var pos Position
			if err := json.Unmarshal(saved, &pos); err != nil {
				t.Fatalf("position %s: %v", saved, err)
			}
			cfg.Start, cfg.Resume = StartPosition, &pos
			s2, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			c2 := &collector{}
			if err := runSource(t, s2, c2, 60*time.Second); err != nil {
				t.Fatal(err)
			}
			got1, got2 := c1.packets(), c2.packets()
			if len(got2) > 0 && got2[0].TS < got1[len(got1)-1].TS {
				t.Errorf("resumed before the saved clock: %d < %d", got2[0].TS, got1[len(got1)-1].TS)
			}
			got := append(got1, got2...)
			if err := inTimeOrder(got); err != nil {
				t.Error(err)
			}
			w := append([]schemas.Packet(nil), want...)
			sortPackets(got)
			sortPackets(w)
			if err := equalPackets(got, w); err != nil {
				t.Fatalf("%v (first run %d packets, position %s)", err, len(got1), saved)
			}
			if l := s2.Losses(); len(l) != 0 {
				t.Errorf("losses: %v", l)
			}
		})
	}
}

// TestDeletedBeforeRead deletes two files the Source has not reached yet,
// while it is busy with the first: the one it kept open ahead is reported
// with its packet count, the other with its size; the Source moves on to
// the file written after them.
func TestDeletedBeforeRead(t *testing.T) {
	recs := synth(t)[:2000]
	dir := t.TempDir()
	names := []string{"ring-1.pcap", "ring-2.pcap", "ring-3.pcap", "ring-4.pcap"}
	path := func(i int) string { return filepath.Join(dir, names[i]) }
	for i := range 3 {
		writeFile(t, path(i), recs[i*500:(i+1)*500])
	}
	fi3, _ := os.Stat(path(2))
	cfg := testConfig(dir, "ring-*.pcap")
	cfg.LookAhead = 1
	cfg.BatchSize = 10
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := append(decodeRecs(t, recs[:500]), decodeRecs(t, recs[1500:])...)
	c := &collector{want: len(want)}
	first := true
	c.onData = func([]schemas.Packet) {
		if !first {
			return
		}
		first = false
		os.Remove(path(1))
		os.Remove(path(2))
		writeFile(t, path(3), recs[1500:])
	}
	if err := runSource(t, s, c, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := equalPackets(c.packets(), want); err != nil {
		t.Fatal(err)
	}
	losses := s.Losses()
	wantLoss := []Loss{
		{File: names[1], Packets: 500, Bytes: fi3.Size() - fileHeaderLen, Reason: "deleted before it was read"},
		{File: names[2], Packets: -1, Bytes: fi3.Size() - fileHeaderLen, Reason: "deleted before it was read"},
	}
	if len(losses) != 2 {
		t.Fatalf("losses %v, want %v", losses, wantLoss)
	}
	// ring-2 and ring-3 hold different records; compare sizes per file.
	fi2size := int64(fileHeaderLen)
	for _, r := range recs[500:1000] {
		fi2size += int64(recHeaderLen + len(r.data))
	}
	wantLoss[0].Bytes = fi2size - fileHeaderLen
	// The two deletions may be noticed in either order (one file was held
	// open ahead, the other only listed): compare by file.
	sort.Slice(losses, func(i, j int) bool { return losses[i].File < losses[j].File })
	for i := range wantLoss {
		if losses[i] != wantLoss[i] {
			t.Errorf("loss %d: %v, want %v", i, losses[i], wantLoss[i])
		}
	}
	st := s.Stats()
	if st.FilesLost != 2 || st.PacketsLost != 500 || st.LostUncounted != 1 ||
		st.BytesLost != uint64(wantLoss[0].Bytes+wantLoss[1].Bytes) {
		t.Errorf("loss counters: %v", st)
	}
}

// TestRewrittenInPlace rewrites the file being read in place (tcpdump -C
// -W reusing a ring slot: same inode, truncated): nothing of the new
// capture is parsed as the old one's; what was read of the old one is
// delivered, the rest is reported lost, and the new capture is read from
// its start.
func TestRewrittenInPlace(t *testing.T) {
	recs := synth(t)
	oldRecs, newRecs := recs[:2000], recs[5000:5500]
	dir := t.TempDir()
	path := filepath.Join(dir, "ring.pcap0")
	writeFile(t, path, oldRecs)
	cfg := testConfig(dir, "ring.pcap*")
	cfg.BatchSize = 10
	cfg.ReadBufferSize = capture.MinReadBufferSize
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	oldWant, newWant := decodeRecs(t, oldRecs), decodeRecs(t, newRecs)
	c := &collector{}
	first := true
	c.onData = func(batch []schemas.Packet) {
		if first {
			first = false
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Error(err)
				return
			}
			b := pcapFileHeader()
			for _, r := range newRecs {
				b = append(b, r.bytes()...)
			}
			f.Write(b)
			f.Close()
		}
		if batch[len(batch)-1] == newWant[len(newWant)-1] {
			c.cancel()
		}
	}
	if err := runSource(t, s, c, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	got := c.packets()
	k := len(got) - len(newWant)
	if k < 10 || k >= len(oldWant) {
		t.Fatalf("got %d packets: %d of the old capture, want some but not all %d", len(got), k, len(oldWant))
	}
	if err := equalPackets(got[:k], oldWant[:k]); err != nil {
		t.Fatalf("old capture: %v", err)
	}
	if err := equalPackets(got[k:], newWant); err != nil {
		t.Fatalf("new capture: %v", err)
	}
	st := s.Stats()
	if st.Rewritten != 1 || st.FilesLost != 1 || st.BytesLost == 0 || st.Decode.BadRecord != 0 {
		t.Errorf("counters: %v", st)
	}
}

// TestStopAtEndPcapng reads a directory that mixes classic pcap with a
// pcapng and a gzip file, offline: all are read, in time order.
func TestStopAtEndMixedFormats(t *testing.T) {
	recs := synth(t)[:3000]
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.pcap"), recs[:1000])
	writeNg(t, filepath.Join(dir, "b.pcapng"), recs[1000:2000])
	writeGz(t, filepath.Join(dir, "c.pcap.gz"), recs[2000:])
	cfg := testConfig(dir, "*")
	cfg.StopAtEnd = true
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	if err := runSource(t, s, c, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := equalPackets(c.packets(), decodeRecs(t, recs)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Decode.Files != 3 || st.FilesDone != 3 {
		t.Errorf("counters: %v", st)
	}
}

// TestSkipsNonCaptures skips a file that is not a capture, reporting it
// once, and reads the others.
func TestSkipsNonCaptures(t *testing.T) {
	recs := synth(t)[:100]
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.pcap"), recs)
	os.WriteFile(filepath.Join(dir, "notes.pcap"), []byte("this is not a capture file\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "empty.pcap"), nil, 0o644)
	cfg := testConfig(dir, "*.pcap")
	cfg.StopAtEnd = true
	s, _ := New(cfg, nil)
	c := &collector{}
	if err := runSource(t, s, c, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := equalPackets(c.packets(), decodeRecs(t, recs)); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Decode.FilesSkipped != 1 {
		t.Errorf("files skipped %d, want 1: %v", st.Decode.FilesSkipped, s.SkipErrors())
	}
	errs := s.SkipErrors()
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), "notes.pcap") {
		t.Errorf("skip errors %v, want one naming notes.pcap", errs)
	}
}

// TestTruncatedAtEnd: a file whose writer died inside a record is read to
// the record, and the partial record is counted as truncated once the next
// file shows the writer has moved on (never as corrupt).
func TestTruncatedAtEnd(t *testing.T) {
	recs := synth(t)[:300]
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ring.pcap0"), recs[:100])
	appendFile(t, filepath.Join(dir, "ring.pcap0"), recs[100].bytes()[:20])
	writeFile(t, filepath.Join(dir, "ring.pcap1"), recs[101:])
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "ring.pcap0"), old, old)
	s, _ := New(testConfig(dir, "ring.pcap*"), nil)
	want := append(decodeRecs(t, recs[:100]), decodeRecs(t, recs[101:])...)
	c := &collector{want: len(want)}
	if err := runSource(t, s, c, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := equalPackets(c.packets(), want); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Decode.TruncatedRecord != 1 || st.Decode.BadRecord != 0 {
		t.Errorf("counters: %v", st)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "dir"},
		{Config{Dir: "d", Pattern: "["}, "pattern"},
		{Config{Dir: "d", Pattern: "/abs/*"}, "relative"},
		{Config{Dir: "d", Start: "later"}, "start"},
		{Config{Dir: "d", Start: StartPosition}, "no saved position"},
		{Config{Dir: "d", Settle: -1}, "settle"},
		{Config{Dir: "d", BatchSize: -1}, "batch_size"},
		{Config{Dir: "d", ReadBufferSize: 10}, "read_buffer_size"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one about %q", tc.cfg, err, tc.want)
		}
	}
	if err := (Config{Dir: "d"}).Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Error("New accepted an invalid config")
	}
}

func TestRunErrors(t *testing.T) {
	s, _ := New(Config{Dir: filepath.Join(t.TempDir(), "missing")}, nil)
	if err := s.Run(context.Background(), func([]schemas.Packet) error { return nil }); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Run on a missing dir: %v", err)
	}
	if err := s.Run(context.Background(), nil); err == nil {
		t.Error("second Run accepted")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.pcap"), synth(t)[:10])
	s, _ = New(Config{Dir: dir}, nil)
	err := s.Run(context.Background(), func([]schemas.Packet) error { return errStop })
	if err == nil || !strings.Contains(err.Error(), "stop") {
		t.Errorf("callback error: %v", err)
	}
}

func TestWriterKeyAndOrder(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"log.pcap.1.1700000000", "log.pcap.1.1700000100"},
		{"log.pcap.2.1700000000.123456", "log.pcap.2.1700000100.5"},
	} {
		if writerKey(tc.a) != writerKey(tc.b) {
			t.Errorf("%s and %s: different writers", tc.a, tc.b)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"log.pcap.1.1700000000", "log.pcap.2.1700000000"},
		{"1/log.1700000000", "2/log.1700000000"},
	} {
		if writerKey(tc.a) == writerKey(tc.b) {
			t.Errorf("%s and %s: same writer", tc.a, tc.b)
		}
	}
	for _, name := range []string{"log.pcap.1700000000", "log.pcap.1700000000.123456", "ring-20240101120000.pcap", "1700000000.pcap", "ring.pcap3"} {
		if writerKey(name) != "" {
			t.Errorf("%s: writer %q, want the directory's", name, writerKey(name))
		}
	}
	ordered := []string{"ring.pcap", "ring.pcap1", "ring.pcap2", "ring.pcap10", "ring.pcap010", "ring.pcap11"}
	for i := 1; i < len(ordered); i++ {
		if !naturalLess(ordered[i-1], ordered[i]) || naturalLess(ordered[i], ordered[i-1]) {
			t.Errorf("%s should come before %s", ordered[i-1], ordered[i])
		}
	}
}

// TestRenamed: a file renamed within the pattern (a post-processing step,
// or a writer that hides the file it writes) is the same file: read once,
// no loss.
func TestRenamed(t *testing.T) {
	recs := synth(t)[:1500]
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cap-1.pcap"), recs[:500])
	writeFile(t, filepath.Join(dir, "cap-2.pcap"), recs[500:1000])
	cfg := testConfig(dir, "cap-*.pcap")
	cfg.BatchSize = 10
	s, _ := New(cfg, nil)
	want := decodeRecs(t, recs)
	c := &collector{want: len(want)}
	first := true
	c.onData = func([]schemas.Packet) {
		if first {
			first = false
			// The one being read and the one not reached yet.
			os.Rename(filepath.Join(dir, "cap-1.pcap"), filepath.Join(dir, "cap-1-done.pcap"))
			os.Rename(filepath.Join(dir, "cap-2.pcap"), filepath.Join(dir, "cap-2-done.pcap"))
			writeFile(t, filepath.Join(dir, "cap-3.pcap"), recs[1000:])
		}
	}
	if err := runSource(t, s, c, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := equalPackets(c.packets(), want); err != nil {
		t.Fatal(err)
	}
	if l := s.Losses(); len(l) != 0 {
		t.Errorf("losses %v", l)
	}
}

// TestReopenGrown: two writers Aegis cannot tell apart by name (two
// tcpdump processes in one directory) look like one ring; the first
// file is closed once the second is newer and it has stayed unchanged,
// and when its writer appends again it is reopened where reading stopped:
// nothing is lost or read twice.
func TestReopenGrown(t *testing.T) {
	recs := synth(t)[:3000]
	dir := t.TempDir()
	a, b := filepath.Join(dir, "eth0-1.pcap"), filepath.Join(dir, "eth1-1.pcap")
	writeFile(t, a, recs[:1000])
	old := time.Now().Add(-time.Hour)
	os.Chtimes(a, old, old)
	writeFile(t, b, recs[1000:2000])
	cfg := testConfig(dir, "*.pcap")
	cfg.MergeWait = 100 * time.Millisecond
	s, _ := New(cfg, nil)
	want := decodeRecs(t, recs)
	c := &collector{want: len(want)}
	go func() {
		waitFor(func() bool { return s.Stats().FilesDone >= 1 }, 30*time.Second)
		for _, r := range recs[2000:] {
			appendFile(t, a, r.bytes())
		}
	}()
	if err := runSource(t, s, c, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	got := c.packets()
	sortPackets(got)
	sortPackets(want)
	if err := equalPackets(got, want); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.FilesReopened != 1 || st.FilesLost != 0 {
		t.Errorf("counters: %v", st)
	}
}

// TestPerThreadDirectories reads Suricata multi mode with
// "filename: %n/log.%t" (one directory per thread) through a pattern
// across the directories: the threads are merged by time.
func TestPerThreadDirectories(t *testing.T) {
	recs := synth(t)[:6000]
	dir := t.TempDir()
	d, _ := capture.NewDecoder(capture.LinkEthernet)
	per := make([][]rawRec, 3)
	for _, r := range recs {
		th := threadOf(d, r, 3)
		per[th] = append(per[th], r)
	}
	for th, rs := range per {
		sub := filepath.Join(dir, strconv.Itoa(th+1))
		os.Mkdir(sub, 0o755)
		for i := 0; i < len(rs); i += 700 {
			part := rs[i:min(len(rs), i+700)]
			writeFile(t, filepath.Join(sub, "log."+epochName(part[0])), part)
		}
	}
	cfg := testConfig(dir, "*/log.*")
	cfg.StopAtEnd = true
	s, _ := New(cfg, nil)
	c := &collector{}
	if err := runSource(t, s, c, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	got, want := c.packets(), decodeRecs(t, recs)
	if err := inTimeOrder(got); err != nil {
		t.Error(err)
	}
	sortPackets(got)
	sortPackets(want)
	if err := equalPackets(got, want); err != nil {
		t.Fatal(err)
	}
}

// TestConfigYAML decodes a Config strictly from YAML, as the command does.
func TestConfigYAML(t *testing.T) {
	src := "dir: /nsm/pcap\npattern: log.pcap.*\nstart: now\npoll_interval: 500ms\nsettle: 2s\nmerge_wait: 3s\nclose_idle: 5m\nbatch_size: 256\nlook_ahead: 2\nread_buffer_size: 262144\nstop_at_end: false\n"
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	want := Config{Dir: "/nsm/pcap", Pattern: "log.pcap.*", Start: StartNow, PollInterval: 500 * time.Millisecond,
		Settle: 2 * time.Second, MergeWait: 3 * time.Second, CloseIdle: 5 * time.Minute, BatchSize: 256,
		LookAhead: 2, ReadBufferSize: 262144}
	if cfg != want {
		t.Errorf("decoded %+v, want %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
	dec = yaml.NewDecoder(strings.NewReader("dir: x\nfollow: yes\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err == nil {
		t.Error("unknown key accepted")
	}
}
