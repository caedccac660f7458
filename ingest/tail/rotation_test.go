package tail

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// A writer appends 200,000 lines (through a buffer that splits lines
// across writes) while the file is renamed away every 50 ms and recreated
// at its path: every line is delivered exactly once. Paths also match the
// rotated names, as a deployment should whenever rotation can outpace the
// poll interval: a file created and renamed away between two polls is then
// still found (by inode it is the same file, so nothing is read twice).
// TestRenameRotationOutsidePaths covers rotated names outside Paths.
func TestRenameRotationEveryLineOnce(t *testing.T) {
	renameRotation(t, 200_000, 50*time.Millisecond, true)
}

// TestRenameRotationOutsidePaths: rotated names outside Paths are drained
// through the open handle; the follower must have seen each file once, so
// rotation here is slower than any poll delay a loaded machine causes.
func TestRenameRotationOutsidePaths(t *testing.T) {
	renameRotation(t, 40_000, 500*time.Millisecond, false)
}

func renameRotation(t *testing.T, total int, every time.Duration, rotatedInPaths bool) {
	dir := t.TempDir()
	path := filepath.Join(dir, "conn.log")
	appendFile(t, path, "")
	paths := []string{path}
	if rotatedInPaths {
		paths = append(paths, filepath.Join(dir, "conn.*.log.old"))
	}
	r := start(t, fastConfig(paths...))

	done := make(chan int)
	go func() {
		f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		bw := bufio.NewWriterSize(f, 4000) // flushes split lines
		rot, last := 0, time.Now()
		for i := 1; i <= total; i++ {
			fmt.Fprintf(bw, "%s\n", num(i))
			if i%200 == 0 {
				time.Sleep(time.Millisecond)
			}
			if time.Since(last) >= every {
				bw.Flush()
				f.Close()
				rot++
				os.Rename(path, filepath.Join(dir, fmt.Sprintf("conn.%d.log.old", rot)))
				f, _ = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
				bw.Reset(f)
				last = time.Now()
			}
		}
		bw.Flush()
		f.Close()
		done <- rot
	}()
	seen := collect(t, r, total, 30*time.Second)
	rot := <-done
	for s, c := range seen {
		parseNum(t, s)
		if c != 1 {
			t.Errorf("line %s delivered %d times", s, c)
		}
	}
	if len(seen) != total {
		for i, shown := 1, 0; i <= total && shown < 5; i++ {
			if seen[num(i)] == 0 {
				j := i
				for j < total && seen[num(j+1)] == 0 {
					j++
				}
				t.Logf("missing %d..%d", i, j)
				i, shown = j, shown+1
			}
		}
		t.Errorf("delivered %d distinct lines, want %d", len(seen), total)
	}
	st := r.Stats()
	t.Logf("rotations %d, stats %+v", rot, st)
	if st.RotationsRenamed < int64(rot)/2 || st.BytesLost != 0 || st.Truncations != 0 {
		t.Errorf("stats %+v after %d renames", st, rot)
	}
}

// copytruncate every 50 ms, with the copies matched by Paths (as Vector
// and Filebeat recommend): only lines written between a copy and its
// truncation may be missing, none is delivered twice or corrupted, every
// truncation is counted, and the counted loss does not exceed what is
// missing.
func TestCopyTruncateLosesOnlyWindowLines(t *testing.T) {
	const total = 100_000
	dir := t.TempDir()
	path := filepath.Join(dir, "eve.json")
	appendFile(t, path, "")
	r := start(t, fastConfig(path, path+".*"))

	w := &lockedWriter{path: path}
	w.open(t)
	type window struct{ from, to int } // lines (from, to] were written between copy and truncate
	var windows []window
	stop := make(chan struct{})
	got := make(chan map[string]int)
	go func() { got <- collectQuiet(t, r, total, 15*time.Second, time.Second) }() // stops at the timeout if lines were lost
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // rotator: logrotate copytruncate
		defer wg.Done()
		for k := 1; ; k++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			w.mu.Lock()
			b, _ := os.ReadFile(path)
			tmp := filepath.Join(dir, "copy.tmp")
			os.WriteFile(tmp, b, 0o644)
			os.Rename(tmp, fmt.Sprintf("%s.%d", path, k))
			from := w.n
			w.mu.Unlock()
			time.Sleep(time.Duration(k%3) * time.Millisecond) // the writer goes on: lines in the window
			w.mu.Lock()
			os.Truncate(path, 0)
			windows = append(windows, window{from, w.n})
			w.mu.Unlock()
		}
	}()
	for i := 1; i <= total; i++ {
		w.mu.Lock()
		fmt.Fprintf(w.f, "%s\n", num(i))
		w.n = i
		w.mu.Unlock()
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	w.f.Close()

	inWindow := func(n int) bool {
		for _, win := range windows {
			if n > win.from && n <= win.to {
				return true
			}
		}
		return false
	}
	windowLines := 0
	for _, win := range windows {
		windowLines += win.to - win.from
	}
	seen := <-got
	missing := 0
	for i := 1; i <= total; i++ {
		c := seen[num(i)]
		switch {
		case c > 1:
			t.Errorf("line %d delivered %d times", i, c)
		case c == 0:
			missing++
			if !inWindow(i) {
				t.Errorf("line %d missing but not written between a copy and its truncation", i)
			}
		}
	}
	for s := range seen {
		parseNum(t, s)
	}
	st := r.Stats()
	t.Logf("%d copytruncates, %d lines in windows, %d missing (%d bytes); stats %+v", len(windows), windowLines, missing, missing*8, st)
	// Two copytruncates between two polls (a starved follower on a loaded
	// machine) look like one: the count may fall short, never exceed.
	if st.Truncations < 1 || st.Truncations > int64(len(windows)) {
		t.Errorf("Truncations = %d after %d copytruncates", st.Truncations, len(windows))
	}
	if st.BytesLost > int64(missing*8) || st.BytesLost < 0 {
		t.Errorf("BytesLost = %d, missing lines hold %d bytes", st.BytesLost, missing*8)
	}
}
