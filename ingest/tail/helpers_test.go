package tail

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fastConfig is a Config with short intervals for tests.
func fastConfig(paths ...string) Config {
	return Config{
		Paths:           paths,
		PollInterval:    2 * time.Millisecond,
		CloseInactive:   300 * time.Millisecond,
		CheckpointEvery: 20 * time.Millisecond,
		MaxInFlight:     256,
	}
}

// running is a Follower under test with its Run goroutine.
type running struct {
	*Follower
	cancel context.CancelFunc
	errc   chan error
}

func start(t testing.TB, cfg Config) *running {
	t.Helper()
	f, err := New(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Follower: f, cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- f.Run(ctx) }()
	t.Cleanup(func() { cancel(); f.Close() })
	return r
}

// collect receives lines until want distinct line texts were seen or the
// timeout passes, acking each at once. It returns how often each text was
// seen.
func collect(t testing.TB, r *running, want int, timeout time.Duration) map[string]int {
	return collectQuiet(t, r, want, timeout, timeout)
}

// collectQuiet is collect that also stops when no line came for quiet.
func collectQuiet(t testing.TB, r *running, want int, timeout, quiet time.Duration) map[string]int {
	t.Helper()
	seen := make(map[string]int)
	deadline := time.After(timeout)
	for len(seen) < want {
		select {
		case <-time.After(quiet):
			return seen
		case l, ok := <-r.Lines():
			if !ok {
				return seen
			}
			seen[string(l.Text)]++
			r.Ack(l)
		case <-deadline:
			t.Logf("timeout: %d of %d lines", len(seen), want)
			return seen
		}
	}
	return seen
}

// expectNone fails if a line arrives within d.
func expectNone(t testing.TB, r *running, d time.Duration) {
	t.Helper()
	select {
	case l := <-r.Lines():
		t.Fatalf("unexpected line %q", l.Text)
	case <-time.After(d):
	}
}

func num(i int) string { return fmt.Sprintf("%07d", i) }

func parseNum(t testing.TB, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || len(s) != 7 {
		t.Fatalf("corrupt line %q", s)
	}
	return n
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// lockedWriter appends numbered lines to a file that a rotator may rename
// or copy and truncate.
type lockedWriter struct {
	mu   sync.Mutex
	path string
	f    *os.File
	n    int // last line number written
}

func (w *lockedWriter) open(t testing.TB) {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	w.f = f
}

func tmpPath(t testing.TB, name string) string { return filepath.Join(t.TempDir(), name) }
