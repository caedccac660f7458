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
//
// A harvester reads one generation of its file at a time: the content
// from offset 0 up to the next truncation. head holds the generation's
// first bytes (those its fingerprint covers) exactly as they were read;
// every read is accepted only if the file still starts with head after
// it (see read), which ties the bytes handed out to the generation they
// came from.
//
// A new file is undecided until its head is distinctive, then classified
// (see classify): a plain file is read from 0; a copytruncate copy of a
// generation some other harvester has read, or may still read, is parked
// behind it and takes the generation over where that reading stopped.
type harvester struct {
	path   string
	key    devIno
	id     FileID
	check  fpCheck
	trk    *tracker // nil while undecided or parked
	parked bool     // a copy waiting for the generation it copies to end elsewhere

	undecided bool   // new, not yet known to be a copy or not (no trk)
	copyOf    devIno // parked: the harvester reading the copied generation
	copyGen   uint64 // parked: that generation (pending: the first one it may be)
	pending   bool   // parked on a generation copyOf has not identified yet
	cont      bool   // continues a generation read from another file: off may lie past the end

	gen        uint64 // generations of this file begun (truncations seen)
	head       []byte // the generation's first bytes as read (its fingerprint's bytes); never aliased
	identified bool   // head is distinctive (see distinctive)
	delivered  bool   // a line of the generation was handed out: id is final

	f          *os.File // nil while closed
	off, num   int64    // end offset and number of the last complete line handled
	pend       []byte   // bytes read after off, not yet a complete line
	skipping   bool     // discarding an overlong line; pend is empty
	readPos    int64    // next offset to read
	lastSize   int64    // size at the last poll
	maxSeen    int64    // largest size of this generation seen (and validated)
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

// truncated is a generation whose reading ended (its file was truncated,
// or is gone) and that no copy continues yet; a copytruncate copy found
// later continues it.
type truncated struct {
	key   devIno // the file it was read from
	gen   uint64 // its number there
	head  []byte
	id    FileID
	check fpCheck
	trk   *tracker
	off   int64
	num   int64
	lost  int64 // bytes counted in BytesLost for it
	at    time.Time
}

// testHookBeforeRead, set by tests only, runs before each read of a file
// (to replay a file changing between a poll's checks and its read).
var testHookBeforeRead func(path string)

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
	if h.undecided {
		return f.pollUndecided(ctx, h, size, now)
	}
	if size != h.lastSize {
		h.lastGrowth = now
		if size < h.readPos && !h.cont {
			f.truncate(h) // a file shrinks only by truncation
		} else {
			ok, err := f.startsWithHead(h)
			if err != nil {
				f.unreadable(h.path, h.key, err)
				f.closeHarvester(h)
				return false, nil
			}
			if !ok {
				f.truncate(h) // rewritten, maybe past the old offset
			} else if len(h.head) > 0 {
				h.maxSeen = max(h.maxSeen, size) // still this generation after the Stat
			}
		}
		h.lastSize = size
	}
	progress := false
	for budget := fileBudget; budget > 0 && h.f != nil && h.readPos < size; {
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

// pollUndecided classifies a new file once its head is distinctive, and
// reads it at once if it is to be read.
func (f *Follower) pollUndecided(ctx context.Context, h *harvester, size int64, now time.Time) (bool, error) {
	if size != h.lastSize {
		h.lastSize, h.lastGrowth = size, now
		head, err := readHead(h.f, size, f.cfg.FingerprintBytes)
		if err != nil {
			f.unreadable(h.path, h.key, err)
			f.closeHarvester(h)
			return false, nil
		}
		if distinctive(head, f.cfg.FingerprintBytes) {
			f.classify(h, head)
			if h.f != nil && !h.undecided && !h.parked {
				return f.poll(ctx, h)
			}
			return false, nil
		}
	}
	if now.Sub(h.lastGrowth) >= f.cfg.CloseInactive {
		f.closeHarvester(h)
	}
	return false, nil
}

// startsWithHead reports whether h's file still starts with the first
// bytes of the generation h reads.
func (f *Follower) startsWithHead(h *harvester) (bool, error) {
	ok, buf, err := startsWith(h.f, h.head, f.scratch)
	f.scratch = buf
	return ok, err
}

// grownHead returns h's head extended by data, read at h.readPos, when
// data continues it and the fingerprint is not Full yet; else h.head. It
// never aliases data.
func (f *Follower) grownHead(h *harvester, data []byte) []byte {
	have, at := int64(len(h.head)), h.readPos
	limit := int64(maxHeaderBytes + f.cfg.FingerprintBytes)
	if h.check.Full || have < at || have >= at+int64(len(data)) || have >= limit {
		return h.head
	}
	end := min(at+int64(len(data)), limit)
	head := make([]byte, 0, end)
	head = append(head, h.head...)
	head = append(head, data[have-at:end-at]...)
	return head[:checkOf(head, f.cfg.FingerprintBytes).N]
}

// setHead records the generation's longer head and its fingerprint. The
// identity of the generation follows the fingerprint until its first line
// is handed out. When the head becomes distinctive, the copies parked on
// "the generation h reads next" are resolved.
func (f *Follower) setHead(h *harvester, head []byte) {
	c := checkOf(head, f.cfg.FingerprintBytes)
	f.mu.Lock()
	h.head, h.check = head, c
	if !h.delivered {
		h.id = FileID{Dev: h.key.dev, Inode: h.key.ino, Fingerprint: c.Sum}
	}
	f.mu.Unlock()
	if !h.identified && distinctive(head, f.cfg.FingerprintBytes) {
		h.identified = true
		f.resolvePending(h)
	}
}

// read reads once from h and hands out the complete lines found. It
// returns the number of bytes read.
//
// The bytes read belong to the generation h has been reading only if the
// file was not truncated (and rewritten) before or while they were read.
// A check before the read cannot tell (the file may change right after
// it), so the check comes after: if the file still starts with the
// generation's first bytes (head, extended by this read when it is still
// short), it is still that generation now, so it was when the bytes were
// read, since a truncated generation never comes back. Otherwise the bytes
// may be a newer generation's: they are dropped, and the generation read
// so far is ended as truncated (its copy, if any, continues it).
func (f *Follower) read(ctx context.Context, h *harvester) (int, error) {
	if testHookBeforeRead != nil {
		testHookBeforeRead(h.path)
	}
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
	head := f.grownHead(h, buf[len(h.pend):len(h.pend)+m])
	ok, scratch, err := startsWith(h.f, head, f.scratch)
	f.scratch = scratch
	if err != nil {
		f.unreadable(h.path, h.key, err)
		f.closeHarvester(h)
		return 0, nil
	}
	if !ok {
		f.truncate(h)
		return m, nil // the caller reads the new generation
	}
	if len(head) != len(h.head) {
		f.setHead(h, head)
	}
	h.readPos += int64(m)
	h.maxSeen = max(h.maxSeen, h.readPos)
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
		h.delivered = true
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
	h.delivered = true
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
