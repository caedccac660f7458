package tail

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// durableLine reads the line number checkpointed for path (0 if none).
func durableLine(t testing.TB, posFile string) int64 {
	t.Helper()
	pos, err := loadPositions(posFile)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range pos {
		n = max(n, p.Line)
	}
	return n
}

// slowWriter appends total numbered lines to path, sometimes in two
// writes that split a line, until done or stopped.
func slowWriter(t testing.TB, path string, total int, stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for i := 1; i <= total; i++ {
			s := num(i) + "\n"
			if i%97 == 0 {
				f.WriteString(s[:3])
				time.Sleep(100 * time.Microsecond)
				s = s[3:]
			}
			f.WriteString(s)
			if i%50 == 0 {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}
	}()
	return done
}

// ackers acknowledges lines sent to the returned channel after random
// delays, out of order, recording each number as acked before the Ack.
func ackers(f *Follower, record func(n int64)) (chan<- Line, func()) {
	ch := make(chan Line, 1024)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range ch {
				time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
				record(l.Num)
				f.Ack(l)
			}
		}()
	}
	return ch, func() { close(ch); wg.Wait() }
}

// Simulated crashes: the follower is abandoned (no final checkpoint) at
// random points while lines flow and are acked out of order; each restart
// resumes right after the last durable line, so nothing is missing and the
// only duplicates are lines not durable at the crash.
func TestCrashRestartInProcess(t *testing.T) {
	const total = 30_000
	dir := t.TempDir()
	path, posFile := filepath.Join(dir, "app.log"), filepath.Join(dir, "positions.json")
	stop := make(chan struct{})
	defer close(stop)
	wdone := slowWriter(t, path, total, stop)
	var mu sync.Mutex
	acked := make(map[int64]bool)
	delivered := make(map[int64]int)
	const crashes = 50
	for session := 0; session <= crashes; session++ {
		before := durableLine(t, posFile)
		cfg := fastConfig(path)
		cfg.PositionsFile, cfg.MaxInFlight = posFile, 64
		f, err := New(cfg, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go f.Run(ctx)
		ack, stopAck := ackers(f, func(n int64) { mu.Lock(); acked[n] = true; mu.Unlock() })
		first := int64(-1)
		last := int64(0)
		crashAt := time.After(time.Duration(50+rand.IntN(250)) * time.Millisecond)
		if session == crashes {
			// The last session runs to the end of the file.
			crashAt = time.After(2 * time.Minute)
		}
		finished := false
	recv:
		for {
			select {
			case l := <-f.Lines():
				if string(l.Text) != num(int(l.Num)) {
					t.Fatalf("line %d reads %q", l.Num, l.Text)
				}
				if first < 0 {
					first = l.Num
				}
				if l.Num != last+1 && last != 0 {
					t.Fatalf("line %d after %d", l.Num, last)
				}
				last = l.Num
				delivered[l.Num]++
				ack <- l
			case <-crashAt:
				break recv
			}
			if last == total {
				finished = true
				break
			}
		}
		if finished {
			stopAck()
			f.Close()
			cancel()
			break
		}
		if session == crashes {
			t.Fatalf("the last session did not reach line %d in 2 minutes (at %d)", total, last)
		}
		cancel()
		f.abandon() // crash: no final checkpoint
		stopAck()
		if first >= 0 && first != before+1 {
			t.Fatalf("session %d started at line %d, durable was %d", session, first, before)
		}
		d := durableLine(t, posFile)
		mu.Lock()
		for n := int64(1); n <= d; n++ {
			if !acked[n] {
				t.Fatalf("line %d durable but never acked", n)
			}
		}
		mu.Unlock()
	}
	<-wdone
	dups := 0
	for n := int64(1); n <= total; n++ {
		switch c := delivered[n]; {
		case c == 0:
			t.Fatalf("line %d never delivered", n)
		case c > 1:
			dups += c - 1
		}
	}
	t.Logf("%d duplicates (lines not durable at a crash)", dups)
}

// The child side of TestKill9: follows the file named by the environment,
// writes "d N" for each line delivered and "a N" before acknowledging it
// (after a random delay), until it is killed.
func TestChildHelper(t *testing.T) {
	dir := os.Getenv("AEGIS_TAIL_CHILD_DIR")
	if dir == "" {
		t.Skip("helper process for TestKill9")
	}
	out, err := os.OpenFile(os.Getenv("AEGIS_TAIL_CHILD_OUT"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig(filepath.Join(dir, "app.log"))
	cfg.PositionsFile, cfg.MaxInFlight = filepath.Join(dir, "positions.json"), 64
	f, err := New(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ack, _ := ackers(f, func(n int64) { mu.Lock(); fmt.Fprintf(out, "a %d\n", n); mu.Unlock() })
	go func() {
		for l := range f.Lines() {
			mu.Lock()
			fmt.Fprintf(out, "d %d\n", l.Num)
			mu.Unlock()
			ack <- l
		}
	}()
	f.Run(context.Background()) // until SIGKILL
}

// A real kill -9 of a child process following a file while lines flow
// and are acked: after each restart nothing is missing and every
// duplicate is a line that was not durable at the kill.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	const total = 20_000
	dir := t.TempDir()
	path, posFile := filepath.Join(dir, "app.log"), filepath.Join(dir, "positions.json")
	stop := make(chan struct{})
	defer close(stop)
	wdone := slowWriter(t, path, total, stop)
	delivered := make(map[int64]int)
	acked := make(map[int64]bool)
	for kill := 0; kill < 4; kill++ {
		before := durableLine(t, posFile)
		outPath := filepath.Join(dir, fmt.Sprintf("out.%d", kill))
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "AEGIS_TAIL_CHILD_DIR="+dir, "AEGIS_TAIL_CHILD_OUT="+outPath)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+rand.IntN(300)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		d := durableLine(t, posFile)
		b, _ := os.ReadFile(outPath)
		first, last := int64(-1), int64(0)
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			kind, v, ok := strings.Cut(sc.Text(), " ")
			n, err := strconv.ParseInt(v, 10, 64)
			if !ok || err != nil {
				continue // the last record may be cut by the kill
			}
			if kind == "a" {
				acked[n] = true
				continue
			}
			if first < 0 {
				first = n
			}
			if last != 0 && n != last+1 {
				t.Fatalf("child %d: line %d after %d", kill, n, last)
			}
			last = n
			delivered[n]++
		}
		if first >= 0 && first != before+1 {
			t.Fatalf("child %d started at line %d, durable was %d", kill, first, before)
		}
		for n := int64(1); n <= d; n++ {
			if !acked[n] {
				t.Fatalf("line %d durable at kill %d but never acked", n, kill)
			}
		}
		t.Logf("kill %d: delivered %d..%d, durable %d", kill, first, last, d)
	}
	<-wdone
	// Restart in process and take the rest.
	before := durableLine(t, posFile)
	cfg := fastConfig(path)
	cfg.PositionsFile = posFile
	r := start(t, cfg)
	first := int64(-1)
	for n := before + 1; n <= total; n++ {
		select {
		case l := <-r.Lines():
			if first < 0 {
				first = l.Num
			}
			if l.Num != n || string(l.Text) != num(int(n)) {
				t.Fatalf("got line %d %q, want %d", l.Num, l.Text, n)
			}
			delivered[n]++
			r.Ack(l)
		case <-time.After(10 * time.Second):
			t.Fatalf("line %d not delivered", n)
		}
	}
	dups := 0
	for n := int64(1); n <= total; n++ {
		if delivered[n] == 0 {
			t.Fatalf("line %d never delivered", n)
		}
		dups += delivered[n] - 1
	}
	t.Logf("%d duplicates, all after a durable offset", dups)
}
