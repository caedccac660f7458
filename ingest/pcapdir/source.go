package pcapdir

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

// fileBatch is how many packets are read ahead from each open file.
const fileBatch = 256

// maxLosses bounds the losses kept for Losses.
const maxLosses = 256

// Source follows a directory of rotating capture files and delivers their
// packets, decoded, in time order. See the package documentation.
//
// Run owns the files and is called once; Position, Clock, Stats, Losses
// and SkipErrors are safe for concurrent use (from the callback too).
type Source struct {
	cfg Config
	log *slog.Logger

	running atomic.Bool

	// Owned by Run.
	files    []*entry          // every file known, live or still open
	byName   map[string]*entry // the files whose name still leads to them
	order    []*entry          // the files in byName, in time order
	opened   []*entry          // the files being read
	spare    [][]byte          // read buffers of closed files, for reuse
	seq      uint64
	heap     []*entry
	batch    []schemas.Packet
	clock    int64
	closed   capture.Stats // counters of closed readers
	bytes    uint64        // bytes read by closed readers
	waits    uint64        // partial waits of closed readers
	st       Stats         // counters kept by the Source itself
	started  bool
	resume   []FilePosition
	skipSeen map[string]bool
	// groupLast is the last packet timestamp of each writer's closed
	// files: a writer's next file starts no earlier.
	groupLast map[string]int64

	mu       sync.Mutex
	snap     Stats
	pos      Position
	losses   []Loss
	skipErrs []error
}

type state uint8

const (
	statePending state = iota // not read yet
	stateOpen                 // being read
	stateDone                 // read to its end and closed
	stateSkipped              // not a capture, or unreadable
	stateGone                 // deleted and forgotten
)

// entry is one capture file (one generation of a name).
type entry struct {
	name, path string
	group      string
	seq        uint64
	id         fileID
	size       int64
	mtime      time.Time
	genSize    int64  // largest size seen of this content
	head       []byte // the first bytes as last read
	format     format
	first      int64 // timestamp of the first record
	hasFirst   bool
	state      state
	lastGrowth time.Time
	deleted    bool // the name no longer leads here; read on through the descriptor

	held *os.File // pending: kept open (Config.LookAhead)
	f    *os.File // open
	tail *tailReader
	rest *restReader

	startOff int64 // where reading starts: byte offset (pcap) or records (other)
	skipTo   int64 // on opening, pass records ending at or before this offset (-1: none)

	buf        []schemas.Packet
	offs       []int64
	bpos, bn   int
	lastTS     int64
	hasLast    bool
	atEnd      bool  // the last pull found nothing more
	emitted    int64 // position just past the last packet handed out
	doneOff    int64 // where reading stopped (-1: the file was skipped, never read)
	doneSize   int64 // size when closed
	inHeap     bool
	reportedSk bool
}

// New returns a Source for cfg. Zero fields of cfg take their defaults; an
// invalid cfg is an error naming the setting. log may be nil (nothing is
// logged then).
func New(cfg Config, log *slog.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Source{cfg: cfg, log: log, byName: map[string]*entry{}, skipSeen: map[string]bool{},
		groupLast: map[string]int64{}}
	if cfg.Start == StartPosition {
		s.resume = slices.Clone(cfg.Resume.Files)
		s.clock = cfg.Resume.Clock
	}
	s.pos = Position{Clock: s.clock}
	return s, nil
}

// Position returns the position just past the last batch handed to the
// callback (the batch being processed, when called from the callback).
// The returned value is the caller's.
func (s *Source) Position() Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pos
	p.Files = slices.Clone(p.Files)
	return p
}

// Clock returns the packet clock: the latest packet timestamp delivered
// (ns since the Unix epoch; the saved clock before the first packet when
// resuming, else 0).
func (s *Source) Clock() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap.Clock
}

// Stats returns a snapshot of the counters.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}

// Losses returns the most recent losses (up to 256), oldest first. The
// slice is the caller's.
func (s *Source) Losses() []Loss {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.losses)
}

// SkipErrors returns, for files read so far, the first error of each kind
// of skipped or truncated record (each a *capture.RecordError naming the
// file and record) and the errors of files that could not be read, up to
// 256. The slice is the caller's.
func (s *Source) SkipErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.skipErrs)
}

// Run follows the directory until ctx is done (then it returns nil), fn
// returns an error (returned wrapped), or, with Config.StopAtEnd, every
// file has been read (nil). It calls fn with each batch of packets in
// time order; the batch is the Source's, valid only until fn returns, and
// fn runs on Run's goroutine (while it runs, nothing is read). Run may be
// called once; it closes every file it opened before returning.
func (s *Source) Run(ctx context.Context, fn func(batch []schemas.Packet) error) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("pcapdir: Run called twice")
	}
	defer s.closeAll()
	if fi, err := os.Stat(s.cfg.Dir); err != nil {
		return fmt.Errorf("pcapdir: dir %s: %w", s.cfg.Dir, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("pcapdir: dir %s: not a directory", s.cfg.Dir)
	}
	s.batch = make([]schemas.Packet, s.cfg.BatchSize)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var lastScan time.Time
	rescan := true
	for {
		if ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		if rescan || now.Sub(lastScan) >= s.cfg.PollInterval {
			s.scan(now)
			lastScan = now
		}
		changed := s.activate(now)
		for _, e := range slices.Clone(s.opened) {
			if e.state == stateOpen && e.bpos == e.bn {
				if s.fill(e, now) {
					changed = true
				}
			}
		}
		if s.finishComplete(now) {
			changed = true
		}
		n := s.merge(now, s.batch)
		if n > 0 {
			s.st.Packets += uint64(n)
			s.st.Batches++
		}
		s.publish()
		if n > 0 {
			if err := fn(s.batch[:n]); err != nil {
				return fmt.Errorf("pcapdir: %w", err)
			}
			rescan = false
			continue
		}
		if s.cfg.StopAtEnd && s.drained() {
			return nil
		}
		if changed {
			rescan = false
			continue
		}
		// Nothing to do: wait, then look at the directory again.
		timer.Reset(s.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		rescan = true
	}
}

// drained reports whether every known file has been read (StopAtEnd).
func (s *Source) drained() bool {
	for _, e := range s.files {
		if e.state == statePending || e.state == stateOpen {
			return false
		}
	}
	return true
}

// ---- snapshots --------------------------------------------------------------

// publish updates the snapshot Stats and Position return.
func (s *Source) publish() {
	st := s.st
	st.Decode = s.closed
	st.Bytes, st.PartialWaits = s.bytes, s.waits
	var files []FilePosition
	for _, e := range s.files {
		switch {
		case e.state == stateOpen:
			if e.tail != nil {
				st.Decode.Add(e.tail.stats)
				st.Bytes += e.tail.bytes
				st.PartialWaits += e.tail.waits
			} else if e.rest != nil && e.rest.r != nil {
				rs := e.rest.r.Stats()
				rs.Files = 0
				st.Decode.Add(rs)
			}
		case e.state == statePending && (e.startOff > 0 || e.skipTo >= 0):
		default:
			continue
		}
		fp := FilePosition{Name: e.name, Dev: e.id.dev, Ino: e.id.ino, Offset: e.emitted}
		if e.state == statePending {
			fp.Offset = e.startOff
			if e.skipTo >= 0 {
				continue // skipped on purpose; nothing to resume in it
			}
		}
		if e.hasFirst {
			fp.First = e.first
		}
		files = append(files, fp)
	}
	st.Clock = s.clock
	slices.SortFunc(files, func(a, b FilePosition) int {
		if a.First != b.First {
			return cmp.Compare(a.First, b.First)
		}
		return strings.Compare(a.Name, b.Name)
	})
	s.mu.Lock()
	s.snap = st
	s.pos = Position{Clock: s.clock, Files: files}
	s.mu.Unlock()
}
