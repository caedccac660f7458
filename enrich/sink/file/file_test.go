package file

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/format"
	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/ingest/zeek"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

// Interface check.
var _ sink.Sink = (*Sink)(nil)

// recordIDs extracts the record id of each record line of a file in the
// given format, and checks every line is valid for it (json lines against
// the record's JSON Schema).
func recordIDs(t *testing.T, formatName, path string) []string {
	return recordIDsCheck(t, formatName, path, true)
}

// recordIDsCheck is recordIDs; schema false skips the (slow) JSON Schema
// validation, still checking each line is a whole JSON object.
func recordIDsCheck(t *testing.T, formatName, path string, schema bool) []string {
	t.Helper()
	var ids []string
	switch formatName {
	case format.JSON:
		for _, l := range lines(t, path) {
			if schema {
				if err := schemacheck.ValidateJSON(l); err != nil {
					t.Fatalf("%s: line not valid against the schema: %v\n%s", path, err, l)
				}
			}
			var r struct {
				Event struct{ ID string } `json:"event"`
			}
			if err := json.Unmarshal(l, &r); err != nil || r.Event.ID == "" {
				t.Fatalf("%s: not a whole record (%v): %.200s", path, err, l)
			}
			ids = append(ids, r.Event.ID)
		}
	case format.EVE:
		for _, l := range lines(t, path) {
			var ev struct {
				EventType string `json:"event_type"`
				Aegis     struct {
					ID string `json:"id"`
				} `json:"aegis"`
			}
			if err := json.Unmarshal(l, &ev); err != nil || ev.EventType != "aegis" {
				t.Fatalf("%s: bad eve line (%v): %s", path, err, l)
			}
			ids = append(ids, ev.Aegis.ID)
		}
	case format.Zeek:
		flows, st, err := zeek.ReadFilesConfig(zeek.Config{ConnPaths: []string{"aegis"}}, path)
		if err != nil || st.Bad != 0 {
			t.Fatalf("%s: zeek reader: %v %v", path, err, st)
		}
		if st.HeaderBlocks != 1 {
			t.Errorf("%s: %d header blocks, want 1", path, st.HeaderBlocks)
		}
		b, _ := os.ReadFile(path)
		if !bytes.Contains(b, []byte("\n#close\t")) {
			t.Errorf("%s: no #close footer", path)
		}
		// record_id is not a conn column: take it from the raw rows.
		col := slices.Index(strings.Split(string(bytes.Split(b, []byte("#fields\t"))[1][:bytes.IndexByte(bytes.Split(b, []byte("#fields\t"))[1], '\n')]), "\t"), "record_id")
		for _, l := range lines(t, path) {
			if l[0] == '#' {
				continue
			}
			ids = append(ids, strings.Split(string(l), "\t")[col])
		}
		if len(ids) != len(flows) {
			t.Errorf("%s: %d rows, zeek reader decoded %d", path, len(ids), len(flows))
		}
	}
	return ids
}

// TestRotation writes records through a small max_size and checks that
// exactly max_files rotated files remain besides the active one, no file
// exceeds max_size, and the files, oldest first, hold a contiguous run of
// the last records: none split, lost (other than in deleted files) or
// duplicated.
func TestRotation(t *testing.T) {
	for _, f := range format.Names() {
		t.Run(f, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "aegis.log")
			const n, maxFiles = 60, 3
			maxSize := int64(12 << 10)
			if f == format.Zeek { // its lines are a fifth as long
				maxSize = 3 << 10
			}
			tr := newTracker()
			s, err := New(Config{Path: path, Format: f, MaxSize: maxSize, MaxFiles: maxFiles, FsyncInterval: 0}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range messages(t, n, tr.done) {
				if err := s.Write(context.Background(), m); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tr.check(t, n, false)
			names := dirFiles(t, dir)
			want := []string{"aegis.log", "aegis.log.1", "aegis.log.2", "aegis.log.3"}
			if !reflect.DeepEqual(names, want) {
				t.Fatalf("files %v, want %v", names, want)
			}
			var ids []string
			for _, name := range slices.Backward(want) {
				p := filepath.Join(dir, name)
				st, _ := os.Stat(p)
				if st.Size() > maxSize {
					t.Errorf("%s: %d bytes, max_size %d", name, st.Size(), maxSize)
				}
				if st.Mode().Perm() != 0o640 {
					t.Errorf("%s: mode %v, want 0640", name, st.Mode().Perm())
				}
				got := recordIDs(t, f, p)
				if len(got) == 0 {
					t.Errorf("%s holds no record", name)
				}
				ids = append(ids, got...)
			}
			first := n - len(ids)
			for i, id := range ids {
				if id != idOf(first+i) {
					t.Fatalf("record %d of the kept files is %s, want %s (the kept files must hold the last %d records in order)", i, id, idOf(first+i), len(ids))
				}
			}
			st := s.Stats()
			if st.Written != n || st.Rotations < maxFiles+1 || st.Failed != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestBigRecord checks a record larger than max_size gets a file of its
// own rather than being split or refused.
func TestBigRecord(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	s, err := New(Config{Path: path, MaxSize: 100, MaxFiles: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range messages(t, 3, nil) {
		s.Write(context.Background(), m)
	}
	s.Close()
	for _, name := range []string{"a.jsonl", "a.jsonl.1", "a.jsonl.2"} {
		if got := recordIDs(t, format.JSON, filepath.Join(dir, name)); len(got) != 1 {
			t.Errorf("%s holds %d records, want 1", name, len(got))
		}
	}
}

// TestConcurrentWriters writes from several goroutines through rotation
// (nothing deleted) and checks every record is in the files exactly once
// and every Done came exactly once.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "aegis.jsonl")
	const writers, each = 8, 100
	// Count fsyncs rather than wait for a shared disk: this test is about
	// concurrency; TestDoneAfterFsync and TestRotation use real ones.
	var fsyncs atomic.Int64
	fsyncFile = func(*os.File) error { fsyncs.Add(1); return nil }
	defer func() { fsyncFile = (*os.File).Sync }()
	tr := newTracker()
	msgs := messages(t, writers*each, tr.done)
	s, err := New(Config{Path: path, MaxSize: 256 << 10, MaxFiles: 1000, FsyncInterval: time.Millisecond, QueueSize: 16}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := s.Write(context.Background(), msgs[w*each+i]); err != nil {
					t.Error(err)
					return
				}
			}
			if err := s.Flush(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tr.check(t, writers*each, false)
	seen := map[string]int{}
	for _, name := range dirFiles(t, dir) {
		// Schema validity is TestRotation's: here only whole records.
		for _, id := range recordIDsCheck(t, format.JSON, filepath.Join(dir, name), false) {
			seen[id]++
		}
	}
	for i := range writers * each {
		if seen[idOf(i)] != 1 {
			t.Errorf("record %s is in the files %d times", idOf(i), seen[idOf(i)])
		}
	}
	if st := s.Stats(); st.Rotations == 0 || st.Written != writers*each || st.Syncs == 0 || fsyncs.Load() < st.Syncs {
		t.Errorf("stats %+v, %d fsync calls", st, fsyncs.Load())
	}
}

// TestDoneAfterFsync checks the acknowledgement order: when Done(nil) runs,
// the record is in the file and an fsync of the file happened after it was
// written.
func TestDoneAfterFsync(t *testing.T) {
	for _, interval := range []time.Duration{0, 5 * time.Millisecond} {
		t.Run(interval.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "aegis.jsonl")
			s, err := New(Config{Path: path, FsyncInterval: interval}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var syncedSize int64 // file size at the last fsync
			s.fsync = func(f *os.File) error {
				st, err := f.Stat()
				if err != nil {
					return err
				}
				mu.Lock()
				syncedSize = st.Size()
				mu.Unlock()
				return f.Sync()
			}
			tr := newTracker()
			tr.onDone = func(id string, err error) {
				mu.Lock()
				size := syncedSize
				mu.Unlock()
				b, rerr := os.ReadFile(path)
				if rerr != nil || int64(len(b)) < size {
					t.Errorf("reading %s: %v", path, rerr)
					return
				}
				if !bytes.Contains(b[:size], []byte(`"id":"`+id+`"`)) {
					t.Errorf("Done(%v) for %s before its bytes were fsynced", err, id)
				}
			}
			const n = 40
			for _, m := range messages(t, n, tr.done) {
				if err := s.Write(context.Background(), m); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tr.check(t, n, false)
			if st := s.Stats(); st.Syncs == 0 || st.Syncs > n {
				t.Errorf("stats %+v: want between 1 and %d fsyncs", st, n)
			}
		})
	}
}

// TestFlushForcesFsync: with a long interval, Flush acknowledges everything
// written before it.
func TestFlushForcesFsync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aegis.jsonl")
	s, err := New(Config{Path: path, FsyncInterval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := newTracker()
	const n = 25
	for _, m := range messages(t, n, tr.done) {
		s.Write(context.Background(), m)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.check(t, n, false)
	if got := len(recordIDs(t, format.JSON, path)); got != n {
		t.Errorf("%d records in the file, want %d", got, n)
	}
}

// TestMaxUnsynced: with a long interval and no Flush, reaching
// max_unsynced forces the fsync that acknowledges the records.
func TestMaxUnsynced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aegis.jsonl")
	s, err := New(Config{Path: path, FsyncInterval: time.Hour, MaxUnsynced: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acked := make(chan string, 20)
	for _, m := range messages(t, 20, nil) {
		m.Done = func(error) { acked <- m.ID }
		s.Write(context.Background(), m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard, not a timing assertion
	defer cancel()
	for range 20 {
		select {
		case <-acked:
		case <-ctx.Done():
			t.Fatal("records were not acknowledged although max_unsynced was reached")
		}
	}
}

// TestPerKind writes kinds to their own files, creating the directory with
// the configured modes.
func TestPerKind(t *testing.T) {
	base := t.TempDir()
	path := filepath.Join(base, "logs", "aegis", "{kind}.jsonl")
	tr := newTracker()
	s, err := New(Config{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Files of every kind exist from the start.
	for _, k := range sink.Kinds {
		if _, err := os.Stat(strings.ReplaceAll(path, "{kind}", string(k))); err != nil {
			t.Errorf("file of kind %s not opened at New: %v", k, err)
		}
	}
	msgs := messages(t, 4, tr.done)
	msgs[1].Kind, msgs[1].Record, msgs[1].Value = sink.KindVerdict, nil, []byte(`{"verdict":1}`)
	msgs[3].Kind, msgs[3].Record, msgs[3].Value = "experimental", nil, []byte(`{"x":1}`)
	for _, m := range msgs {
		if err := s.Write(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	bad := msgs[0]
	bad.Kind, bad.ID = "../escape", idOf(99)
	bad.Done = tr.done(bad.ID)
	s.Write(context.Background(), bad)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "logs", "aegis")
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o750&^umask() {
		t.Errorf("directory %s: %v, %v", dir, st.Mode(), err)
	}
	want := map[string]string{
		"detection.jsonl":    string(msgs[0].Value) + "\n" + string(msgs[2].Value) + "\n",
		"verdict.jsonl":      "{\"verdict\":1}\n",
		"experimental.jsonl": "{\"x\":1}\n",
		"coupling.jsonl":     "",
		"campaign.jsonl":     "",
	}
	if names := dirFiles(t, dir); len(names) != len(want) {
		t.Errorf("files %v", names)
	}
	for name, content := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != content {
			t.Errorf("%s: %q (%v)", name, b, err)
		}
	}
	if tr.errs[idOf(99)] == nil || !strings.Contains(tr.errs[idOf(99)].Error(), "../escape") {
		t.Errorf("a kind that is not a word was not refused: %v", tr.errs[idOf(99)])
	}
	delete(tr.calls, idOf(99))
	delete(tr.errs, idOf(99))
	tr.check(t, 4, false)
}

func umask() fs.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return fs.FileMode(m)
}

// TestZeekSkipsOtherKinds: the zeek format carries detections only; other
// kinds are counted, acknowledged, and get no file.
func TestZeekSkipsOtherKinds(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Path: filepath.Join(dir, "{kind}.log"), Format: format.Zeek}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker()
	msgs := messages(t, 3, tr.done)
	msgs[1].Kind, msgs[1].Record = sink.KindCoupling, nil
	for _, m := range msgs {
		s.Write(context.Background(), m)
	}
	s.Close()
	tr.check(t, 3, false)
	if names := dirFiles(t, dir); !reflect.DeepEqual(names, []string{"detection.log"}) {
		t.Errorf("files %v, want only detection.log", names)
	}
	if got := recordIDs(t, format.Zeek, filepath.Join(dir, "detection.log")); !reflect.DeepEqual(got, []string{idOf(0), idOf(2)}) {
		t.Errorf("rows %v", got)
	}
	if st := s.Stats(); st.Skipped != 1 || st.Written != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestReopen: a second sink on the same path appends (a new Zeek header
// block), and a torn last line from a crash is ended before appending.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	zpath := filepath.Join(dir, "aegis.log")
	msgs := messages(t, 4, nil)
	for run := range 2 {
		s, err := New(Config{Path: zpath, Format: format.Zeek}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.Write(context.Background(), msgs[2*run])
		s.Write(context.Background(), msgs[2*run+1])
		s.Close()
	}
	flows, st, err := zeek.ReadFilesConfig(zeek.Config{ConnPaths: []string{"aegis"}}, zpath)
	if err != nil || len(flows) != 4 || st.HeaderBlocks != 2 || st.Bad != 0 {
		t.Errorf("zeek reader: %d flows, %v, %v", len(flows), st, err)
	}

	jpath := filepath.Join(dir, "aegis.jsonl")
	os.WriteFile(jpath, []byte(`{"torn":`), 0o600)
	s, err := New(Config{Path: jpath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Write(context.Background(), msgs[0])
	s.Close()
	b, _ := os.ReadFile(jpath)
	if want := "{\"torn\":\n" + string(msgs[0].Value) + "\n"; string(b) != want {
		t.Errorf("file %q, want %q", b, want)
	}
	if st, _ := os.Stat(jpath); st.Mode().Perm() != 0o600 {
		t.Errorf("an existing file's mode was changed to %v", st.Mode().Perm())
	}
}

func TestClosed(t *testing.T) {
	s, err := New(Config{Path: filepath.Join(t.TempDir(), "a.jsonl")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	called := false
	m := messages(t, 1, nil)[0]
	m.Done = func(error) { called = true }
	if err := s.Write(context.Background(), m); !errors.Is(err, sink.ErrClosed) {
		t.Errorf("Write after Close: %v, want sink.ErrClosed", err)
	}
	if called {
		t.Error("Done called for a message Write refused")
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestUnwritablePath: New fails with an error that names the path.
func TestUnwritablePath(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "plainfile")
	os.WriteFile(notDir, nil, 0o644)
	cases := []struct {
		name, path, want string
	}{
		{"parent is a file", filepath.Join(notDir, "aegis.jsonl"), notDir},
		{"parent is a file, per kind", filepath.Join(notDir, "{kind}", "x.jsonl"), notDir},
		{"path is a directory", dir, dir},
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "readonly")
		os.Mkdir(ro, 0o500)
		cases = append(cases, struct{ name, path, want string }{"no permission", filepath.Join(ro, "a.jsonl"), filepath.Join(ro, "a.jsonl")})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(Config{Path: c.path}, nil)
			if err == nil {
				s.Close()
				t.Fatalf("New(%q) succeeded", c.path)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %q", err, c.want)
			}
		})
	}
}

// TestDiskFull writes to /dev/full: every record gets Done with the error
// (naming the file), none is acknowledged, and the sink keeps going.
func TestDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	s, err := New(Config{Path: "/dev/full", FsyncInterval: 0}, nil)
	if err != nil {
		t.Skip("cannot open /dev/full:", err)
	}
	tr := newTracker()
	for _, m := range messages(t, 5, tr.done) {
		if err := s.Write(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		s.Flush(context.Background())
	}
	s.Close()
	tr.check(t, 5, true)
	for id, err := range tr.errs {
		if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "/dev/full") {
			t.Errorf("%s: %v, want ENOSPC naming /dev/full", id, err)
		}
	}
	if st := s.Stats(); st.Failed != 5 || st.Written != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestWriterSink is the stdout sink's logic on a buffer: Done after the
// write, the format's header and footer, and recovery after a write error.
func TestWriterSink(t *testing.T) {
	var buf lockedBuffer
	s, err := NewWriter("stdout", &buf, Config{Format: format.Zeek}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "stdout" {
		t.Errorf("Name %q", s.Name())
	}
	msgs := messages(t, 3, nil)
	for _, m := range msgs {
		m.Done = func(err error) {
			if err != nil || !bytes.Contains(buf.Bytes(), []byte(m.ID)) {
				t.Errorf("Done(%v) for %s before it was written", err, m.ID)
			}
		}
		s.Write(context.Background(), m)
	}
	s.Close()
	out := buf.Bytes()
	if !bytes.HasPrefix(out, []byte("#separator \\x09\n")) || !bytes.Contains(out, []byte("\n#close\t")) {
		t.Errorf("no header or footer:\n%s", out)
	}
	flows, _, err := zeek.Read(bytes.NewReader(out), "stdout", zeek.Config{ConnPaths: []string{"aegis"}})
	if err != nil || len(flows) != 3 {
		t.Errorf("%d rows, %v", len(flows), err)
	}
}

// failingWriter fails while fail is set.
type failingWriter struct {
	mu   sync.Mutex
	fail bool
	buf  bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		return 0, syscall.EPIPE
	}
	return w.buf.Write(p)
}

func (w *failingWriter) set(fail bool) {
	w.mu.Lock()
	w.fail = fail
	w.mu.Unlock()
}

func TestWriterSinkError(t *testing.T) {
	w := &failingWriter{fail: true}
	s, err := NewWriter("stdout", w, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker()
	msgs := messages(t, 2, tr.done)
	s.Write(context.Background(), msgs[0])
	s.Flush(context.Background())
	w.set(false)
	s.Write(context.Background(), msgs[1])
	s.Close()
	if !errors.Is(tr.errs[idOf(0)], syscall.EPIPE) || tr.errs[idOf(1)] != nil || tr.count() != 2 {
		t.Errorf("Done errors %v, calls %v", tr.errs, tr.calls)
	}
	if got := w.buf.String(); got != string(msgs[1].Value)+"\n" {
		t.Errorf("output %q", got)
	}
}

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct{ release chan struct{} }

func (w blockingWriter) Write(p []byte) (int, error) { <-w.release; return len(p), nil }

// TestBackPressure: while the writer is stuck, Write blocks once the queue
// is full and returns ctx's error when ctx ends; that message gets no Done.
func TestBackPressure(t *testing.T) {
	w := blockingWriter{release: make(chan struct{})}
	s, err := NewWriter("stuck", w, Config{QueueSize: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker()
	msgs := messages(t, 10, tr.done)
	accepted := 0
	var refused []string
	for _, m := range msgs {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := s.Write(ctx, m)
		cancel()
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, context.DeadlineExceeded):
			refused = append(refused, m.ID)
		default:
			t.Fatal(err)
		}
	}
	// The writer holds one batch (at most one queue's worth plus the one it
	// took) and the queue one more.
	if accepted > 3 || len(refused) == 0 {
		t.Errorf("accepted %d of 10 with a stuck writer and queue_size 1", accepted)
	}
	close(w.release)
	s.Close()
	if tr.count() != accepted {
		t.Errorf("%d Done calls, want %d (refused messages get none)", tr.count(), accepted)
	}
	for _, id := range refused {
		if tr.calls[id] != 0 {
			t.Errorf("refused message %s got Done", id)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Path = "/var/log/aegis/{kind}.jsonl"
	if err := ok.Validate(); err != nil {
		t.Fatalf("default config with a path: %v", err)
	}
	for _, c := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no path", func(c *Config) { c.Path = "" }, "path is empty"},
		{"directory", func(c *Config) { c.Path = "/var/log/aegis/" }, "names a directory"},
		{"format", func(c *Config) { c.Format = "csv" }, `format "csv"`},
		{"max_size", func(c *Config) { c.MaxSize = -1 }, "max_size"},
		{"max_files", func(c *Config) { c.MaxFiles = -1 }, "max_files"},
		{"file_mode", func(c *Config) { c.FileMode = 0o4755 }, "file_mode"},
		{"dir_mode", func(c *Config) { c.DirMode = fs.ModeDir | 0o755 }, "dir_mode"},
		{"queue_size", func(c *Config) { c.QueueSize = -1 }, "queue_size"},
		{"max_unsynced", func(c *Config) { c.MaxUnsynced = -1 }, "max_unsynced"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate() = %v, want an error about %q", err, c.want)
			}
			if _, nerr := New(cfg, nil); nerr == nil {
				t.Error("New accepted the invalid config")
			}
		})
	}
	// Every field has a yaml tag (the config file decodes strictly).
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		if typ.Field(i).Tag.Get("yaml") == "" {
			t.Errorf("Config.%s has no yaml tag", typ.Field(i).Name)
		}
	}
}

func TestStdoutPath(t *testing.T) {
	s, err := New(Config{Path: "-"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "stdout" {
		t.Errorf("Name %q", s.Name())
	}
	s.Close()
}

// BenchmarkFileSink measures throughput of the JSON file sink, acknowledged
// records included (Close waits for the last fsync), under each fsync
// policy.
func BenchmarkFileSink(b *testing.B) {
	for _, c := range []struct {
		name     string
		interval time.Duration
	}{
		{"fsync=100ms", 100 * time.Millisecond},
		{"fsync=batch", 0},
		{"fsync=never", -1},
	} {
		b.Run(c.name, func(b *testing.B) {
			msgs := messages(b, 64, nil)
			s, err := New(Config{Path: filepath.Join(b.TempDir(), "a.jsonl"), FsyncInterval: c.interval, MaxSize: 64 << 20, MaxFiles: 2}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(msgs[0].Value) + 1))
			b.ReportAllocs()
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if err := s.Write(ctx, msgs[i%len(msgs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(s.Stats().Written)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// TestCloseReleasesBlockedWrite: a Write blocked on a full queue (the
// writer is stuck) returns sink.ErrClosed as soon as Close starts, rather
// than holding Close up; its message gets no Done.
func TestCloseReleasesBlockedWrite(t *testing.T) {
	w := blockingWriter{release: make(chan struct{})}
	s, err := NewWriter("stuck", w, Config{QueueSize: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker()
	msgs := messages(t, 10, tr.done)
	next := 0
	for ; next < len(msgs); next++ { // fill the queue
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := s.Write(ctx, msgs[next])
		cancel()
		if err != nil {
			break
		}
	}
	blocked := make(chan error, 1)
	go func() { blocked <- s.Write(context.Background(), msgs[next]) }()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-blocked:
		if !errors.Is(err, sink.ErrClosed) {
			t.Errorf("blocked Write: %v, want sink.ErrClosed", err)
		}
	case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("Close did not release a blocked Write")
	}
	close(w.release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if tr.calls[msgs[next].ID] != 0 || tr.count() != next {
		t.Errorf("Done calls %v, want one for each of the %d accepted messages", tr.calls, next)
	}
}
