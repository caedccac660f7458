package tail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stepper drives a Follower one step at a time (no Run goroutine, no
// timers): the test decides exactly when the follower scans, when it
// polls, and what the writer and a logrotate-style copytruncate do in
// between, so that an interleaving a loaded machine produces by chance is
// replayed every time.
type stepper struct {
	t       *testing.T
	f       *Follower
	dir     string
	path    string
	next    int          // number of the next line the writer appends
	copies  int          // copies made so far
	window  map[int]bool // lines written between a copy and its truncation
	inWin   bool         // a copy was made and the truncation is still to come
	seen    map[int]int
	headers map[string]int // "#" lines delivered
}

func newStepper(t *testing.T, mutate func(*Config)) *stepper {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "eve.json")
	appendFile(t, path, "")
	cfg := fastConfig(path, path+".*")
	// No timer-driven behaviour: scans and polls happen only when the test
	// calls them, and nothing is closed for inactivity.
	cfg.PollInterval, cfg.CloseInactive, cfg.MaxInFlight = time.Hour, time.Hour, 1<<16
	if mutate != nil {
		mutate(&cfg)
	}
	f, err := New(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.closeFiles() })
	s := &stepper{t: t, f: f, dir: dir, path: path, next: 1, window: map[int]bool{}, seen: map[int]int{}, headers: map[string]int{}}
	s.scan()
	return s
}

// write appends n numbered lines to the followed file.
func (s *stepper) write(n int) {
	var b strings.Builder
	for range n {
		if s.inWin {
			s.window[s.next] = true
		}
		b.WriteString(num(s.next) + "\n")
		s.next++
	}
	appendFile(s.t, s.path, b.String())
}

// copy is the first half of a copytruncate: the file is copied to a
// temporary name and renamed to eve.json.K, which Paths match.
func (s *stepper) copy() {
	b, err := os.ReadFile(s.path)
	if err != nil {
		s.t.Fatal(err)
	}
	s.copies++
	tmp := filepath.Join(s.dir, "copy.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, fmt.Sprintf("%s.%d", s.path, s.copies)); err != nil {
		s.t.Fatal(err)
	}
	s.inWin = true
}

// truncate is the second half of a copytruncate.
func (s *stepper) truncate() {
	if err := os.Truncate(s.path, 0); err != nil {
		s.t.Fatal(err)
	}
	s.inWin = false
}

func (s *stepper) copyTruncate() { s.copy(); s.truncate() }

func (s *stepper) scan() { s.f.scan(false) }

// poll reads every open file once (as one round of Run does) and takes
// the lines delivered.
func (s *stepper) poll() {
	if _, err := s.f.pollAll(context.Background()); err != nil {
		s.t.Fatal(err)
	}
	s.drain()
}

// settle scans and polls until nothing more comes.
func (s *stepper) settle() {
	for range 10 {
		s.scan()
		s.poll()
	}
}

func (s *stepper) drain() {
	for {
		select {
		case l := <-s.f.lines:
			if strings.HasPrefix(string(l.Text), "#") {
				s.headers[string(l.Text)]++
			} else {
				s.seen[parseNum(s.t, string(l.Text))]++
			}
			s.f.Ack(l)
		default:
			return
		}
	}
}

// check asserts the copytruncate contract: no line twice, and a line
// missing only if it was written between a copy and its truncation.
func (s *stepper) check() {
	s.t.Helper()
	s.settle()
	missing := 0
	for i := 1; i < s.next; i++ {
		switch c := s.seen[i]; {
		case c > 1:
			s.t.Errorf("line %d delivered %d times", i, c)
		case c == 0 && !s.window[i]:
			s.t.Errorf("line %d missing but not written between a copy and its truncation", i)
		case c == 0:
			missing++
		}
	}
	st := s.f.Stats()
	if st.BytesLost < 0 || st.BytesLost > int64(missing*8) {
		s.t.Errorf("BytesLost = %d, missing lines hold %d bytes", st.BytesLost, missing*8)
	}
	if st.InFlight != 0 {
		s.t.Errorf("InFlight = %d after every line was acknowledged", st.InFlight)
	}
}

// The interleavings behind the duplicates (and the losses outside the
// windows) that TestCopyTruncateLosesOnlyWindowLines showed on a loaded
// machine, replayed step by step. Each one failed before the fix.
func TestCopyTruncateInterleavings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*Config)
		run   func(s *stepper)
	}{
		{
			// The follower had read a generation shorter than
			// FingerprintBytes (a starved follower, or a quiet file), so
			// its fingerprint was not Full; the copy of that generation
			// was then not recognised and was read from 0.
			name: "short generation, copy found before the truncation is seen",
			run: func(s *stepper) {
				s.write(100) // 800 bytes < FingerprintBytes
				s.poll()
				s.write(10)
				s.copyTruncate()
				s.write(10)
				s.scan() // the copy, while the original still looks like generation 1
				s.poll()
			},
		},
		{
			name: "short generation, truncation seen before the copy is found",
			run: func(s *stepper) {
				s.write(100)
				s.poll()
				s.write(10)
				s.copyTruncate()
				s.write(10)
				s.poll() // truncation of a generation with a short fingerprint
				s.scan()
				s.poll()
			},
		},
		{
			// The follower polled the original after the truncation but
			// when only a few bytes of the new generation were there: the
			// new generation's fingerprint was short (here 2 lines). The
			// next generation's copy was not matched.
			name: "new generation fingerprinted short right after the truncation",
			run: func(s *stepper) {
				s.write(200)
				s.poll()
				s.copyTruncate()
				s.write(2)
				s.poll() // truncation; generation 2 has 16 bytes
				s.write(98)
				s.scan() // nothing new
				s.copy()
				s.write(3)
				s.truncate()
				s.write(5)
				s.scan() // copy of generation 2
				s.poll()
			},
		},
		{
			// The follower checked the file (size and fingerprint), then the
			// file was copied, truncated and rewritten past the old offset
			// before the read: the bytes of generation 2 were delivered as
			// generation 1's, the copy of generation 1 was continued past
			// its end (loss outside any window) and generation 2 was read
			// again from 0 once the fingerprint mismatch was seen
			// (duplicates).
			name: "copytruncate between the check and the read",
			run: func(s *stepper) {
				s.write(200)
				s.poll()
				s.write(50)
				once := true
				testHookBeforeRead = func(path string) {
					if once && path == s.path {
						once = false
						s.copyTruncate()
						s.write(400) // past the old offset
					}
				}
				s.t.Cleanup(func() { testHookBeforeRead = nil })
				s.poll()
				s.scan()
				s.poll()
			},
		},
		{
			// A copy of a generation the follower has not started yet (it
			// still reads the previous one): the copy was read from 0, and
			// the original, once its truncation was seen, was read from 0
			// too, delivering that generation twice.
			name: "copy of a generation the follower has not reached",
			run: func(s *stepper) {
				s.write(200)
				s.poll()
				s.copyTruncate() // generation 1 fully read: nothing lost
				s.write(200)
				s.copy() // copy of generation 2, not truncated yet
				s.write(100)
				s.scan() // both copies, the follower still on generation 1
				s.poll() // sees the truncation, reads generation 2 from 0
				s.truncate()
				s.write(10)
				s.scan()
				s.poll()
			},
		},
		{
			name: "copy of a generation the follower skips",
			run: func(s *stepper) {
				s.write(200)
				s.poll()
				s.copyTruncate()
				s.write(200)
				s.copy() // copy of generation 2
				s.write(5)
				s.scan() // found while generation 2 is still in the file
				s.truncate()
				s.write(300) // generation 3, longer than generation 2 was
				s.poll()
				s.scan()
				s.poll()
			},
		},
		{
			// A copy parked until its original's truncation is seen was
			// closed after CloseInactive and never read when the follower
			// was slower than that.
			name: "parked copy outlives CloseInactive",
			setup: func(c *Config) {
				c.CloseInactive = 20 * time.Millisecond
			},
			run: func(s *stepper) {
				s.write(200)
				s.poll()
				s.write(100) // not read before the copy
				s.copyTruncate()
				s.write(10)
				s.scan() // parks the copy
				time.Sleep(50 * time.Millisecond)
				s.scan() // the copy is now inactive
				s.poll() // the truncation is seen
				s.scan()
				s.poll()
			},
		},
		{
			// The copy appears while the follower has read nothing of the
			// generation yet (it saw the truncation when the file was
			// empty): the copy waits until the follower identifies what it
			// reads next.
			name: "copy of the generation the follower starts next",
			run: func(s *stepper) {
				s.write(200)
				s.poll()
				s.copyTruncate()
				s.poll() // the truncation, nothing of generation 2 yet
				s.write(200)
				s.copy()
				s.write(10)
				s.scan()
				s.poll() // generation 2 from the original
				s.truncate()
				s.write(10)
				s.scan()
				s.poll()
			},
		},
		{
			// logrotate "copy" without "copytruncate": the copy is a
			// duplicate of what the original still holds and is never
			// read; if the original is truncated later, the copy holds
			// nothing that was not read.
			name: "copy without truncation",
			run: func(s *stepper) {
				s.write(300)
				s.poll()
				s.write(50)
				s.copy()
				s.inWin = false
				s.write(50)
				s.scan()
				s.poll()
				s.write(50)
				s.scan()
				s.poll()
				s.truncate()
				s.write(20)
				s.scan()
				s.poll()
			},
		},
		{
			name: "two copytruncates between two polls",
			run: func(s *stepper) {
				s.write(200)
				s.poll()
				s.write(50)
				s.copyTruncate()
				s.write(300)
				s.copyTruncate()
				s.write(20)
				s.scan()
				s.poll()
				s.write(20)
				s.scan()
				s.poll()
			},
		},
		{
			name: "two copytruncates between two polls, short generations",
			run: func(s *stepper) {
				s.write(20)
				s.poll()
				s.write(5)
				s.copyTruncate()
				s.write(30)
				s.copyTruncate()
				s.write(2)
				s.poll()
				s.scan()
				s.poll()
			},
		},
		{
			name: "copies of many rotations found at once",
			run: func(s *stepper) {
				s.write(150)
				s.poll()
				for i := range 6 {
					s.write(40 + 70*i)
					s.copy()
					s.write(i % 3)
					s.truncate()
				}
				s.write(7)
				s.scan()
				s.poll()
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStepper(t, tc.setup)
			tc.run(s)
			s.check()
		})
	}
}

// Only the "#" header lines of a generation were read when it was copied
// and truncated (a Zeek-style file, quiet at first): its copy, holding the
// header and records, is read after the header lines, which are not
// delivered twice, and its records once.
func TestCopyOfGenerationReadUpToItsHeader(t *testing.T) {
	s := newStepper(t, nil)
	const header = "#separator \\x09\n#path\teve\n"
	appendFile(t, s.path, header)
	s.poll() // the header lines only
	s.write(50)
	s.copyTruncate()
	s.write(30)
	s.scan()
	s.poll()
	s.check()
	for _, l := range []string{"#separator \\x09", "#path\teve"} {
		if s.headers[l] != 1 {
			t.Errorf("header line %q delivered %d times, want 1", l, s.headers[l])
		}
	}
}

// A new file that starts with the same "#" header lines as a followed one
// (Zeek writes the same header in every file of a kind) is not taken for
// its copy: it is read, header included.
func TestSameHeaderIsNotACopy(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "conn.log"), filepath.Join(dir, "conn.2.log")
	appendFile(t, a, zeekHeader+"1700000000.1\tCa\n")
	r := start(t, fastConfig(filepath.Join(dir, "*.log")))
	seen := collect(t, r, 9, 5*time.Second)
	appendFile(t, b, zeekHeader)
	time.Sleep(20 * time.Millisecond) // the header alone is not distinctive: b waits
	appendFile(t, b, "1700000000.2\tCb\n")
	for k, v := range collect(t, r, 9, 5*time.Second) {
		seen[k] += v
	}
	for _, l := range strings.Split(zeekHeader, "\n")[:8] {
		if seen[l] != 2 {
			t.Errorf("header line %q delivered %d times, want 2 (once per file)", l, seen[l])
		}
	}
	if seen["1700000000.1\tCa"] != 1 || seen["1700000000.2\tCb"] != 1 {
		t.Errorf("records delivered %v", seen)
	}
	if st := r.Stats(); st.CopiesFollowed != 0 {
		t.Errorf("CopiesFollowed = %d, want 0", st.CopiesFollowed)
	}
}

// After a copytruncate whose copy was continued past its end, a clean
// restart (Close, then New with StartSaved) resumes the copy at its saved
// offset: nothing is read again.
func TestRestartAfterCopyTruncate(t *testing.T) {
	s := newStepper(t, func(c *Config) { c.PositionsFile = filepath.Join(t.TempDir(), "pos.json") })
	s.write(200)
	s.poll()
	s.write(30)
	s.copy()
	s.write(5)
	s.poll() // reads past the end of the copy
	s.truncate()
	s.write(40)
	s.settle()
	if err := s.f.checkpoint(); err != nil {
		t.Fatal(err)
	}
	s.f.closeFiles()
	if st := s.f.Stats(); st.CopiesFollowed != 1 {
		t.Fatalf("CopiesFollowed = %d, want 1", st.CopiesFollowed)
	}
	f, err := New(s.f.cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.closeFiles)
	s.f = f
	f.scan(true)
	s.write(10)
	s.settle()
	s.check()
	if st := f.Stats(); st.Lines != 10 || st.IdentityMismatch != 0 {
		t.Errorf("after the restart %d lines delivered, %d identity mismatches; want the 10 new ones, 0", st.Lines, st.IdentityMismatch)
	}
}
