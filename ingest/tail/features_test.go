package tail

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func writeLines(t testing.TB, path string, from, to int) {
	t.Helper()
	var b strings.Builder
	for i := from; i <= to; i++ {
		b.WriteString(num(i) + "\n")
	}
	appendFile(t, path, b.String())
}

func wantAll(t testing.TB, seen map[string]int, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if seen[num(i)] != 1 {
			t.Errorf("line %d delivered %d times", i, seen[num(i)])
		}
	}
}

// Suricata rotate-interval / threaded output: new names appear, old files
// stop growing and are closed once drained and inactive.
func TestGlobNewNameRotation(t *testing.T) {
	dir := t.TempDir()
	writeLines(t, filepath.Join(dir, "eve.1.json"), 1, 100)
	r := start(t, fastConfig(filepath.Join(dir, "eve.*.json")))
	wantAll(t, collect(t, r, 100, 5*time.Second), 1, 100)
	writeLines(t, filepath.Join(dir, "eve.2.json"), 101, 200)
	wantAll(t, collect(t, r, 100, 5*time.Second), 101, 200)
	time.Sleep(500 * time.Millisecond)
	if st := r.Stats(); st.FilesClosed < 1 || st.FilesOpened != 2 {
		t.Errorf("stats %+v: want eve.1.json closed after CloseInactive", st)
	}
	writeLines(t, filepath.Join(dir, "eve.1.json"), 201, 210) // a closed file that grows is reopened
	wantAll(t, collect(t, r, 10, 5*time.Second), 201, 210)
}

func TestDeleteAndRecreate(t *testing.T) {
	path := tmpPath(t, "conn.log")
	writeLines(t, path, 1, 50)
	r := start(t, fastConfig(path))
	wantAll(t, collect(t, r, 50, 5*time.Second), 1, 50)
	os.Remove(path)
	time.Sleep(20 * time.Millisecond)
	writeLines(t, path, 51, 100)
	wantAll(t, collect(t, r, 50, 5*time.Second), 51, 100)
	if st := r.Stats(); st.RotationsRemoved != 1 {
		t.Errorf("RotationsRemoved = %d, want 1", st.RotationsRemoved)
	}
}

func TestUnreadableFileIsCountedOthersGoOn(t *testing.T) {
	if os.Geteuid() == 0 {
		// Root reads files with mode 000: run this test again in a child
		// process as nobody, where permission denied is real.
		runAsNobody(t, "TestUnreadableFileIsCountedOthersGoOn")
		return
	}
	dir := t.TempDir()
	bad, good := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	writeLines(t, bad, 1, 10)
	os.Chmod(bad, 0)
	writeLines(t, good, 11, 20)
	r := start(t, fastConfig(filepath.Join(dir, "*.log")))
	wantAll(t, collect(t, r, 10, 5*time.Second), 11, 20)
	if st := r.Stats(); st.Unreadable != 1 {
		t.Errorf("Unreadable = %d, want 1", st.Unreadable)
	}
}

// Lines over MaxLineBytes are counted and skipped whole (also when they
// arrive in pieces), and the durable offset moves past them.
func TestLongLinesSkippedWhole(t *testing.T) {
	dir := t.TempDir()
	path, pos := filepath.Join(dir, "x.log"), filepath.Join(dir, "pos.json")
	cfg := fastConfig(path)
	cfg.MaxLineBytes, cfg.PositionsFile = 100, pos
	appendFile(t, path, "a\n"+strings.Repeat("x", 500)+"\nb\n")
	r := start(t, cfg)
	seen := collect(t, r, 2, 5*time.Second)
	appendFile(t, path, strings.Repeat("y", 200<<10))
	time.Sleep(20 * time.Millisecond)
	appendFile(t, path, strings.Repeat("y", 200<<10)+"\nc\n")
	for k, v := range collect(t, r, 1, 5*time.Second) {
		seen[k] += v
	}
	if len(seen) != 3 || seen["a"] != 1 || seen["b"] != 1 || seen["c"] != 1 {
		t.Errorf("delivered %v", seen)
	}
	if st := r.Stats(); st.LongLines != 2 {
		t.Errorf("LongLines = %d, want 2", st.LongLines)
	}
	r.Close()
	fi, _ := os.Stat(path)
	p, _ := loadPositions(pos)
	if len(p) != 1 || p[0].Offset != fi.Size() || p[0].Line != 5 {
		t.Errorf("positions %+v, want offset %d line 5", p, fi.Size())
	}
}

func TestPartialLineWaitsForNewline(t *testing.T) {
	path := tmpPath(t, "eve.json")
	appendFile(t, path, `{"a":`)
	r := start(t, fastConfig(path))
	expectNone(t, r, 100*time.Millisecond)
	appendFile(t, path, `1}`+"\n")
	l := <-r.Lines()
	if string(l.Text) != `{"a":1}` || l.Start != 0 || l.End != 8 || l.Num != 1 {
		t.Errorf("got %+v", l)
	}
	r.Ack(l)
}

func TestStartEnd(t *testing.T) {
	path := tmpPath(t, "conn.log")
	writeLines(t, path, 1, 10)
	appendFile(t, path, "par")
	cfg := fastConfig(path)
	cfg.Start = StartEnd
	r := start(t, cfg)
	expectNone(t, r, 50*time.Millisecond)
	appendFile(t, path, "tial\nnew\n")
	seen := collect(t, r, 2, 5*time.Second)
	if len(seen) != 2 || seen["partial"] != 1 || seen["new"] != 1 {
		t.Errorf("delivered %v", seen)
	}
}

// A saved position is used only while the file's identity matches; the
// same inode holding other content (inode reuse, or rewritten while Aegis
// was down) starts at 0 and is counted.
func TestSavedPositionAndInodeReuse(t *testing.T) {
	dir := t.TempDir()
	path, pos := filepath.Join(dir, "conn.log"), filepath.Join(dir, "pos.json")
	writeLines(t, path, 1, 100)
	cfg := fastConfig(path)
	cfg.PositionsFile = pos
	r := start(t, cfg)
	wantAll(t, collect(t, r, 100, 5*time.Second), 1, 100)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	writeLines(t, path, 101, 120) // grows while down: resumes at the saved offset
	r = start(t, cfg)
	wantAll(t, collect(t, r, 20, 5*time.Second), 101, 120)
	expectNone(t, r, 50*time.Millisecond)
	r.Close()

	// Same inode, new content (what inode reuse looks like).
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, 500, 700)
	r = start(t, cfg)
	wantAll(t, collect(t, r, 201, 5*time.Second), 500, 700)
	if st := r.Stats(); st.IdentityMismatch != 1 {
		t.Errorf("IdentityMismatch = %d, want 1", st.IdentityMismatch)
	}
}

const zeekHeader = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t2026-08-21-10-00-00\n#fields\tts\tuid\n#types\ttime\tstring\n"

func TestZeekFilesWithSameHeaderDiffer(t *testing.T) {
	dir := t.TempDir()
	fp := func(name, body string) fpCheck {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		f, _ := os.Open(p)
		defer f.Close()
		fi, _ := f.Stat()
		c, err := fingerprint(f, fi.Size(), DefaultFingerprintBytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := fp("a.log", zeekHeader+"1700000000.1\tCabc\n")
	b := fp("b.log", zeekHeader+"1700000000.2\tCdef\n")
	if a.Sum == b.Sum {
		t.Error("two Zeek files with the same header and different records share a fingerprint")
	}
	if a.N != int64(len(zeekHeader)+len("1700000000.1\tCabc\n")) || a.Full {
		t.Errorf("short file: %+v", a)
	}
	h := fp("h.log", zeekHeader)
	if h.N != int64(len(zeekHeader)) || h.Full {
		t.Errorf("header-only file: %+v", h)
	}
	long := zeekHeader + strings.Repeat("1700000000.3\tCxyz\n", 200)
	l := fp("l.log", long)
	if !l.Full || l.N != int64(len(zeekHeader)+DefaultFingerprintBytes) {
		t.Errorf("long file: %+v", l)
	}
	if fp("m.log", long+"more\n") != l {
		t.Error("growth past the window changed the fingerprint")
	}
}

// The durable offset advances only over the contiguous prefix of acked
// lines, whatever the order of the acks.
func TestWatermarkOutOfOrder(t *testing.T) {
	tr := newTracker(0, 0)
	for i := int64(1); i <= 5; i++ {
		tr.push(i, i*10, false)
	}
	tr.push(6, 60, true) // skipped line
	tr.push(7, 70, false)
	steps := []struct {
		ack  int64
		want int64
	}{{3, 0}, {1, 10}, {5, 10}, {2, 30}, {4, 60}, {7, 70}}
	for _, s := range steps {
		if !tr.ack(s.ack) {
			t.Fatalf("ack %d refused", s.ack)
		}
		if off, _ := tr.durable(); off != s.want {
			t.Fatalf("after ack %d durable %d, want %d", s.ack, off, s.want)
		}
	}
	if tr.ack(3) {
		t.Error("second ack of line 3 accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{}, {Paths: []string{"["}}, {Paths: []string{"a"}, Start: "middle"}, {Paths: []string{"a"}, MaxInFlight: -1}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (Config{Paths: []string{"/var/log/zeek/current/*.log"}}).Validate(); err != nil {
		t.Error(err)
	}
	if d := DefaultConfig(); d.MaxInFlight != DefaultMaxInFlight || d.Start != StartSaved {
		t.Errorf("defaults %+v", d)
	}
}

// runAsNobody reruns the named test in a copy of the test binary as user
// nobody (65534) and fails if it does not pass there.
func runAsNobody(t *testing.T, name string) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "tail.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(dst, src)
	src.Close()
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^"+name+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "TMPDIR="+dir, "GOCOVERDIR=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	t.Logf("passed as nobody:\n%s", out)
}

// TestPositionsDirectoryIsCreated: the state directory of a first start
// does not exist yet; New makes it and the checkpoint lands there.
func TestPositionsDirectoryIsCreated(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "a.log")
	os.WriteFile(log, []byte("one\n"), 0o644)
	pos := filepath.Join(dir, "state", "sub", "positions.json")
	f, err := New(Config{Paths: []string{log}, PositionsFile: pos}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(pos)); err != nil {
		t.Errorf("state directory not made: %v", err)
	}
}
