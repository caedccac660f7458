package tail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Follower follows a set of files and globs, delivering their complete
// lines on Lines and checkpointing, per file, the offset up to which every
// line has been acknowledged.
//
// Lines, Ack, Stats and Close are safe for concurrent use; Run must be
// called once. The Follower owns the files it opens and the positions
// file; the receiver owns each Line's Text.
type Follower struct {
	cfg   Config
	log   *slog.Logger
	lines chan Line
	slots chan struct{} // one token per line in flight
	c     counters
	rep   reporter

	saved    []position // positions loaded by New, used by the first scan
	lastScan time.Time  // Run goroutine only
	scratch  []byte     // Run goroutine only: comparing file heads

	mu    sync.Mutex            // guards reg, trunc and the harvester fields checkpoints read
	reg   map[devIno]*harvester // files known, open or not
	trunc []*truncated          // recent truncated generations, for copytruncate copies
	bad   map[string]devIno     // unreadable paths already reported

	lastSaved []position // last positions written (checkpoint goroutine and Close)
	saveMu    sync.Mutex

	stop      chan struct{}
	stopOnce  sync.Once
	done      chan struct{}
	started   chan struct{}
	startOnce sync.Once
}

// New validates cfg, loads the positions file and returns a Follower that
// does nothing until Run. log receives rate-limited reports (never one per
// line); nil means slog.Default().
func New(cfg Config, log *slog.Logger) (*Follower, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	f := &Follower{
		cfg:     cfg,
		log:     log.With("stage", "tail"),
		lines:   make(chan Line, cfg.MaxInFlight),
		slots:   make(chan struct{}, cfg.MaxInFlight),
		reg:     make(map[devIno]*harvester),
		bad:     make(map[string]devIno),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		started: make(chan struct{}),
	}
	f.rep.log = f.log
	if cfg.PositionsFile != "" {
		// The state directory may be new (first start): make it, so the
		// first checkpoint does not fail. A directory that cannot be made
		// is a start-up error naming it.
		if err := os.MkdirAll(filepath.Dir(cfg.PositionsFile), 0o750); err != nil {
			return nil, fmt.Errorf("tail: positions file directory: %w", err)
		}
	}
	if cfg.Start == StartSaved {
		saved, err := loadPositions(cfg.PositionsFile)
		if err != nil {
			return nil, err
		}
		f.saved = saved
	}
	return f, nil
}

// Lines returns the channel of complete lines, in file order per file. It
// is closed when Run returns. Each received Line must be acknowledged (see
// Line and Ack).
func (f *Follower) Lines() <-chan Line { return f.lines }

// Ack acknowledges a delivered line (pass a Line or its Token through
// AckToken). Acknowledging a line twice is counted in
// Stats.DuplicateAcks and otherwise ignored.
func (f *Follower) Ack(l Line) { f.AckToken(l.tok) }

// AckToken acknowledges the line tok was taken from. The zero Token is
// ignored.
func (f *Follower) AckToken(tok Token) {
	if tok.t == nil {
		return
	}
	if !tok.t.ack(tok.num) {
		f.c.dupAcks.Add(1)
		return
	}
	f.c.acked.Add(1)
	f.c.inFlight.Add(-1)
	<-f.slots
}

// Stats returns a snapshot of the counters.
func (f *Follower) Stats() Stats { return f.c.snapshot() }

// Run follows the files until ctx is done or Close is called, then closes
// Lines and returns nil. It does not write a final checkpoint (Close
// does), so abandoning a Follower after Run returns behaves like a crash:
// the next start resumes at the last checkpoint.
func (f *Follower) Run(ctx context.Context) error {
	first := false
	f.startOnce.Do(func() { first = true; close(f.started) })
	if !first {
		return errors.New("tail: Run called twice")
	}
	defer close(f.done)
	defer close(f.lines)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-f.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.checkpointLoop(ctx) }()
	defer wg.Wait()

	f.scan(true)
	f.saved = nil
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		progress, err := f.pollAll(ctx)
		if err != nil {
			return nil // ctx done while waiting for room
		}
		if !progress {
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
			timer.Reset(f.cfg.PollInterval)
		}
		if !progress {
			f.scan(false)
		} else {
			f.maybeScan()
		}
	}
}

// Close stops Run (if running), writes the final checkpoint and closes the
// files. It returns the checkpoint's error. Calling it again does nothing.
func (f *Follower) Close() error {
	var err error
	f.stopOnce.Do(func() {
		close(f.stop)
		select {
		case <-f.started:
			<-f.done
		default:
		}
		err = f.checkpoint()
		f.closeFiles()
	})
	return err
}

// abandon stops Run without a final checkpoint, as a crash would; tests use
// it.
func (f *Follower) abandon() {
	f.stopOnce.Do(func() {
		close(f.stop)
		select {
		case <-f.started:
			<-f.done
		default:
		}
		f.closeFiles()
	})
}

func (f *Follower) closeFiles() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.reg {
		h.close()
	}
}

func (f *Follower) checkpointLoop(ctx context.Context) {
	t := time.NewTicker(f.cfg.CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f.checkpoint(); err != nil {
				f.rep.report("checkpoint", "tail: checkpoint failed", "err", err)
			}
		}
	}
}

// checkpoint writes the positions file if it changed.
func (f *Follower) checkpoint() error {
	if f.cfg.PositionsFile == "" {
		return nil
	}
	f.saveMu.Lock()
	defer f.saveMu.Unlock()
	pos := f.positions()
	if f.lastSaved != nil && slices.Equal(pos, f.lastSaved) {
		return nil
	}
	if err := savePositions(f.cfg.PositionsFile, pos); err != nil {
		f.c.checkpointErrors.Add(1)
		return err
	}
	f.c.checkpoints.Add(1)
	f.lastSaved = pos
	return nil
}

// positions snapshots the durable position of every file being followed.
func (f *Follower) positions() []position {
	f.mu.Lock()
	defer f.mu.Unlock()
	pos := make([]position, 0, len(f.reg))
	for _, h := range f.reg {
		if h.parked || h.trk == nil {
			continue
		}
		off, num := h.trk.durable()
		pos = append(pos, position{Path: h.path, ID: h.id, Check: h.check, Offset: off, Line: num})
	}
	slices.SortFunc(pos, func(a, b position) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return int(a.ID.Inode) - int(b.ID.Inode)
	})
	return pos
}

// reporter logs a problem at most once per key and interval.
type reporter struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]time.Time
}

const reportEvery = time.Minute

func (r *reporter) report(key, msg string, args ...any) {
	r.mu.Lock()
	if r.last == nil {
		r.last = make(map[string]time.Time)
	}
	now := time.Now()
	if t, ok := r.last[key]; ok && now.Sub(t) < reportEvery {
		r.mu.Unlock()
		return
	}
	r.last[key] = now
	r.mu.Unlock()
	r.log.Warn(msg, args...)
}
