package tail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// harvester is the reading state of one file (one inode). Only the Run
// goroutine uses it, except the fields path, id, check, trk and parked,
// which it changes under Follower.mu for the checkpoints to read.
type harvester struct {
	path   string
	key    devIno
	id     FileID
	check  fpCheck
	trk    *tracker
	parked bool   // a copytruncate copy waiting for its original's truncation
	copyOf devIno // the original of a parked copy

	f          *os.File // nil while closed
	off, num   int64    // end offset and number of the last complete line handled
	pend       []byte   // bytes read after off, not yet a complete line
	skipping   bool     // discarding an overlong line; pend is empty
	readPos    int64    // next offset to read
	lastSize   int64    // size at the last poll
	maxSeen    int64    // largest size seen in this generation
	lastGrowth time.Time
	detached   bool // the path no longer names this file (rotated away or deleted)
}

func (h *harvester) close() {
	if h.f != nil {
		h.f.Close()
		h.f = nil
	}
	h.pend, h.skipping, h.readPos = nil, false, h.off
}

// truncated is a generation of a file lost to a truncation, kept for a
// while so that a copytruncate copy found later continues it.
type truncated struct {
	key   devIno // the truncated file
	id    FileID
	check fpCheck
	trk   *tracker
	off   int64
	num   int64
	lost  int64 // bytes counted in BytesLost for it
	at    time.Time
}

const (
	readSize      = 64 << 10
	fileBudget    = 4 << 20 // bytes read from one file per round, for fairness
	truncatedKeep = time.Minute
)

// pollAll reads what is new in every open file. It reports whether
// anything was read; the error is ctx's when it ended while waiting for
// room in flight.
func (f *Follower) pollAll(ctx context.Context) (bool, error) {
	progress := false
	for _, h := range f.reg {
		if h.f == nil || h.parked {
			continue
		}
		p, err := f.poll(ctx, h)
		if err != nil {
			return progress, err
		}
		progress = progress || p
	}
	return progress, nil
}

// poll checks one open file for truncation, reads its new complete lines
// and closes it when it has been drained and inactive for CloseInactive.
func (f *Follower) poll(ctx context.Context, h *harvester) (bool, error) {
	now := time.Now()
	fi, err := h.f.Stat()
	if err != nil {
		f.unreadable(h.path, h.key, err)
		f.closeHarvester(h)
		return false, nil
	}
	size := fi.Size()
	if size != h.lastSize {
		trunc := size < h.readPos
		if !trunc {
			ok, err := h.check.matches(h.f)
			if err != nil {
				f.unreadable(h.path, h.key, err)
				f.closeHarvester(h)
				return false, nil
			}
			trunc = !ok
		}
		if trunc {
			f.truncate(h, size)
		} else if !h.checkFull() {
			f.upgradeCheck(h, size)
		}
		h.lastSize = size
		h.maxSeen = max(h.maxSeen, size)
		h.lastGrowth = now
	}
	progress := false
	for budget := fileBudget; budget > 0 && h.readPos < size; {
		n, err := f.read(ctx, h)
		if err != nil {
			return progress, err
		}
		if n == 0 {
			break
		}
		progress = true
		budget -= n
	}
	if !progress && h.readPos >= size && now.Sub(h.lastGrowth) >= f.cfg.CloseInactive {
		f.closeHarvester(h)
	}
	return progress, nil
}

func (h *harvester) checkFull() bool { return h.check.Full }

// upgradeCheck extends a short fingerprint as the file grows, after
// checking (in poll) that the old one still matches.
func (f *Follower) upgradeCheck(h *harvester, size int64) {
	c, err := fingerprint(h.f, size, f.cfg.FingerprintBytes)
	if err != nil || c.N <= h.check.N {
		return
	}
	f.mu.Lock()
	h.check = c
	f.mu.Unlock()
}

// read reads once from h and hands out the complete lines found. It
// returns the number of bytes read.
func (f *Follower) read(ctx context.Context, h *harvester) (int, error) {
	start0 := h.readPos - int64(len(h.pend)) // file offset of data[0]
	buf := make([]byte, len(h.pend)+max(readSize, len(h.pend)))
	copy(buf, h.pend)
	m, err := h.f.ReadAt(buf[len(h.pend):], h.readPos)
	if err != nil && !errors.Is(err, io.EOF) {
		f.unreadable(h.path, h.key, err)
		f.closeHarvester(h)
		return 0, nil
	}
	if m == 0 {
		return 0, nil
	}
	h.readPos += int64(m)
	data := buf[:len(h.pend)+m]
	h.pend = nil
	i := 0
	if h.skipping {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return m, nil
		}
		h.skipLine(f, start0+int64(nl)+1)
		i = nl + 1
	}
	for {
		nl := bytes.IndexByte(data[i:], '\n')
		if nl < 0 {
			if rest := data[i:]; len(rest) > f.cfg.MaxLineBytes {
				h.skipping = true // counted when its newline arrives
			} else {
				h.pend = rest
			}
			return m, nil
		}
		end := i + nl
		start := start0 + int64(i)
		stop := start0 + int64(end) + 1
		if nl > f.cfg.MaxLineBytes {
			h.skipLine(f, stop)
			i = end + 1
			continue
		}
		if h.num&127 == 0 {
			f.maybeScan() // a long read must not keep new files from being opened
		}
		if err := f.acquire(ctx); err != nil {
			h.pend = data[i:] // not handed out: read again later
			return m, err
		}
		h.num++
		h.off = stop
		h.trk.push(h.num, stop, false)
		f.c.inFlight.Add(1)
		f.c.lines.Add(1)
		f.c.bytes.Add(stop - start)
		f.lines <- Line{File: h.path, ID: h.id, Num: h.num, Start: start, End: stop,
			Text: data[i:end:end], tok: Token{t: h.trk, num: h.num}}
		i = end + 1
	}
}

// skipLine counts an overlong line ending at end and moves past it.
func (h *harvester) skipLine(f *Follower, end int64) {
	h.num++
	h.off = end
	h.skipping = false
	h.trk.push(h.num, end, true)
	f.c.longLines.Add(1)
}

// closeHarvester closes h's file; a rotated-away file is forgotten once
// all its lines are acknowledged (in scan).
func (f *Follower) closeHarvester(h *harvester) {
	if h.f == nil {
		return
	}
	h.close()
	f.c.closed.Add(1)
}

// acquire takes a slot for one line in flight, waiting for an Ack when
// MaxInFlight lines are out. While it waits it keeps scanning Paths, so
// that files created and rotated away meanwhile are opened (and can be
// drained later) instead of being missed.
func (f *Follower) acquire(ctx context.Context) error {
	select {
	case f.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTicker(f.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case f.slots <- struct{}{}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			f.maybeScan()
		}
	}
}

// maybeScan rescans Paths if the last scan is PollInterval old, so that a
// file created and rotated away while Run was busy reading or waiting is
// still opened (and drained later through its handle).
func (f *Follower) maybeScan() {
	if time.Since(f.lastScan) >= f.cfg.PollInterval {
		f.scan(false)
	}
}
