package pcapdir

import (
	"errors"
	"os"
	"slices"
	"time"

	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

// activate opens, for each writer, its oldest file not read yet, unless an
// older file of the writer is still open. It reports whether it opened
// any.
func (s *Source) activate(now time.Time) bool {
	opened := false
	busy := map[string]bool{}
	for _, e := range s.files {
		if e.deleted && e.state == stateOpen {
			busy[e.group] = true
		}
	}
	for _, e := range s.order {
		switch e.state {
		case stateOpen:
			busy[e.group] = true
		case statePending:
			if !busy[e.group] {
				busy[e.group] = true
				if s.open(e, now) {
					opened = true
				}
			}
		}
	}
	if opened {
		s.hold()
	}
	return opened
}

// activateDue opens the pending files whose first packet is not after ts
// (another writer's, or a file that appeared late). It reports whether it
// opened any.
func (s *Source) activateDue(ts int64, now time.Time) bool {
	opened := false
	for _, e := range s.order {
		if e.state == statePending && e.hasFirst && e.first <= ts {
			if s.open(e, now) {
				opened = true
			}
		}
	}
	return opened
}

// minPending returns the earliest first-record timestamp of the pending
// files.
func (s *Source) minPending() (int64, bool) {
	var m int64
	ok := false
	for _, e := range s.order {
		if e.state == statePending && e.hasFirst && (!ok || e.first < m) {
			m, ok = e.first, true
		}
	}
	return m, ok
}

// open starts reading a pending file.
func (s *Source) open(e *entry, now time.Time) bool {
	f := e.held
	e.held = nil
	if f == nil {
		var err error
		f, err = os.Open(e.path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				s.gone(e)
			} else {
				s.skipFile(e, err)
			}
			return false
		}
		if fi, err := f.Stat(); err != nil || statID(fi) != e.id {
			f.Close()
			s.gone(e)
			return false
		}
	}
	e.f = f
	e.state = stateOpen
	s.opened = append(s.opened, e)
	e.bpos, e.bn = 0, 0
	if v, ok := s.groupLast[e.group]; ok && !e.hasLast {
		e.lastTS, e.hasLast = v, true
	}
	e.atEnd = false
	if e.buf == nil {
		e.buf = make([]schemas.Packet, fileBatch)
		e.offs = make([]int64, fileBatch)
	}
	s.closed.Files++
	if e.format == formatOther {
		e.rest = &restReader{f: f, name: e.name, skip: uint64(max(e.startOff, 0))}
		e.emitted = e.startOff
		return true
	}
	e.tail = newTailReader(f, e.name, e.startOff, s.readBuffer())
	if e.startOff > fileHeaderLen && len(e.head) >= headLen {
		// Resuming inside the file: it must still hold the capture the
		// offset belongs to.
		copy(e.tail.first[:], e.head[fileHeaderLen:])
		e.tail.hasFirst = true
	}
	e.emitted = max(e.startOff, fileHeaderLen)
	if e.skipTo >= 0 {
		s.skipAhead(e, now)
	}
	return true
}

// skipAhead passes the records a start position or an earlier reading
// already covered, without decoding them.
func (s *Source) skipAhead(e *entry, now time.Time) {
	t := e.tail
	if ok, err := t.header(); !ok {
		if err != nil {
			s.readError(e, err, now)
		}
		return
	}
	limit := e.skipTo
	e.skipTo = -1
	for {
		need := recHeaderLen
		if t.end-t.pos >= recHeaderLen {
			ts, capLen, _ := t.hdr.record(t.buf[t.pos:])
			if capLen > t.hdr.maxRecord {
				break // let pull report it
			}
			need = recHeaderLen + int(capLen)
			if t.end-t.pos >= need {
				if t.offset()+int64(need) > limit {
					break // the next record is past the limit
				}
				if !t.hasFirst && t.offset() == fileHeaderLen {
					copy(t.first[:], t.buf[t.pos:])
					t.hasFirst = true
				}
				t.pos += need
				e.lastTS, e.hasLast = ts, true
				continue
			}
		}
		got, err := t.fill(need)
		if err != nil {
			s.readError(e, err, now)
			return
		}
		if !got {
			break
		}
	}
	e.emitted = t.offset()
	if t.seen > e.size {
		e.size = t.seen
	}
}

// fill reads the next packets of an open file into its buffer and puts it
// on the merge heap. It reports whether it got any or the file changed
// state.
func (s *Source) fill(e *entry, now time.Time) bool {
	var n int
	switch {
	case e.tail != nil:
		t := e.tail
		var err error
		n, err = t.pull(e.buf, e.offs)
		if t.seen > e.size {
			e.size, e.lastGrowth = t.seen, now
		}
		e.genSize = max(e.genSize, t.seen)
		if !e.hasFirst && t.hasFirst {
			e.first, _, _ = t.hdr.record(t.first[:])
			e.hasFirst = true
		}
		if err != nil {
			if n > 0 {
				// Deliver what decoded before the problem; it comes back
				// on the next pull.
				break
			}
			return s.readError(e, err, now)
		}
	case e.rest != nil:
		if !e.rest.ready() {
			if !s.complete(e, now) {
				e.atEnd = true
				return false
			}
			if err := e.rest.start(s.cfg.ReadBufferSize); err != nil {
				s.skipFile(e, err)
				s.finish(e)
				return true
			}
		}
		n = e.rest.pull(e.buf, e.offs)
		if !e.hasFirst && n > 0 {
			e.first, e.hasFirst = e.buf[0].TS, true
		}
	default:
		return false
	}
	e.bpos, e.bn = 0, n
	e.atEnd = n < len(e.buf)
	if n == 0 {
		e.emitted = e.readOffset()
		return false
	}
	e.lastTS, e.hasLast = e.buf[n-1].TS, true
	s.push(e)
	return true
}

// readOffset is the position of the reader: past every record read.
func (e *entry) readOffset() int64 {
	if e.tail != nil {
		return e.tail.offset()
	}
	if e.rest != nil {
		return int64(e.rest.records())
	}
	return e.emitted
}

// readError handles an error from reading an open file.
func (s *Source) readError(e *entry, err error, now time.Time) bool {
	switch {
	case errors.Is(err, errOther):
		// pcapng or gzip after all (the header was not written when the
		// file was first seen): read it once complete.
		e.format = formatOther
		e.tail = nil
		e.rest = &restReader{f: e.f, name: e.name}
		return true
	case errors.Is(err, errReplaced):
		s.rewritten(e, now)
		return true
	case errors.Is(err, capture.ErrBadRecord):
		t := e.tail
		t.stats.Records++
		t.stats.BadRecord++
		rerr := &capture.RecordError{File: e.name, Record: t.stats.Records, Err: err}
		s.noteErr(rerr)
		s.noteLoss(Loss{File: e.name, Packets: -1, Bytes: max(e.size-t.offset(), 0),
			Reason: "corrupt record; the rest of the file cannot be parsed"}, false)
		// Nothing is left to count as truncated.
		t.bufOff += int64(t.pos)
		t.pos, t.end = 0, 0
		t.seen = t.offset()
		s.finish(e)
		return true
	case errors.Is(err, capture.ErrNotCapture), errors.Is(err, capture.ErrUnknownLinkType):
		s.skipFile(e, err)
		s.finish(e)
		return true
	}
	s.log.Warn("pcapdir: reading a capture file failed; closing it", "file", e.path, "err", err)
	s.noteErr(&capture.RecordError{File: e.name, Err: err})
	s.finish(e)
	return true
}

// rewritten handles an open file truncated and rewritten in place: what
// was not read of the old capture is lost, the new one is read from its
// start.
func (s *Source) rewritten(e *entry, now time.Time) {
	t := e.tail
	s.st.Rewritten++
	s.noteLoss(Loss{File: e.name, Packets: -1, Bytes: max(max(e.genSize, t.seen)-t.offset(), 0),
		Reason: "rewritten in place while being read"}, true)
	s.closed.Add(t.stats)
	s.bytes += t.bytes
	s.waits += t.waits
	t.stats = capture.Stats{}
	t.bytes, t.waits = 0, 0
	t.restart()
	e.hasFirst, e.hasLast = false, false
	e.genSize = 0
	e.emitted = fileHeaderLen
	// Packets still buffered were read from the old capture before it
	// was overwritten: they are delivered, and past them the position is
	// the new capture's start.
	for i := e.bpos; i < e.bn; i++ {
		e.offs[i] = fileHeaderLen
	}
	e.lastGrowth = now
	if head, err := readHead(e.f); err == nil {
		e.head = head
	}
}

// complete reports whether a file read to its end (as far as it goes now)
// is finished: its writer has moved on to a newer file and it has stayed
// unchanged for Settle, or it has been idle for CloseIdle while newer
// files exist, or it was deleted and is idle.
func (s *Source) complete(e *entry, now time.Time) bool {
	if s.cfg.StopAtEnd {
		return true
	}
	idle := now.Sub(e.lastGrowth)
	switch {
	case idle >= s.cfg.Settle && (e.deleted || s.newerInGroup(e)):
		return true
	case idle >= s.cfg.CloseIdle && (e.deleted || s.newerAny(e)):
		return true
	}
	return false
}

// finishComplete closes the open files that are complete and read. It
// reports whether it closed any.
func (s *Source) finishComplete(now time.Time) bool {
	closed := false
	for _, e := range slices.Clone(s.opened) {
		if e.state == stateOpen && e.bpos == e.bn && e.atEnd && (e.rest == nil || e.rest.ready()) && s.complete(e, now) {
			s.finish(e)
			closed = true
		}
	}
	return closed
}

// finish closes a file: a half-written record still at its end is counted
// as truncated.
func (s *Source) finish(e *entry) {
	if e.inHeap {
		s.removeHeap(e)
	}
	switch {
	case e.tail != nil:
		t := e.tail
		if err := t.finish(); err != nil {
			s.noteErr(err)
			s.log.Info("pcapdir: capture file ends inside a record", "file", e.path, "err", err)
		}
		s.closed.Add(t.stats)
		s.bytes += t.bytes
		s.waits += t.waits
		s.closeSkipErrs(t.skipErrs)
		e.doneOff = t.offset()
		if len(t.buf) == s.cfg.ReadBufferSize && len(s.spare) < 4 {
			s.spare = append(s.spare, t.buf)
		}
		if t.hdrOK {
			// Remember the head of the capture read, to tell it from a
			// new one written into the same inode later.
			e.head = slices.Clone(t.rawHdr[:])
			if t.hasFirst {
				e.head = append(e.head, t.first[:]...)
			}
		}
		e.tail = nil
	case e.rest != nil:
		if e.rest.r != nil {
			st := e.rest.r.Stats()
			st.Files = 0
			s.closed.Add(st)
			if err := e.rest.r.Err(); err != nil {
				s.noteErr(err)
			}
			s.closeSkipErrs(e.rest.r.SkipErrors())
		}
		e.doneOff = int64(e.rest.records())
		e.rest = nil
	}
	if e.f != nil {
		e.f.Close()
		e.f = nil
	}
	if i := slices.Index(s.opened, e); i >= 0 {
		s.opened = slices.Delete(s.opened, i, i+1)
	}
	e.doneSize = e.size
	e.emitted = e.doneOff
	if e.hasLast {
		s.groupLast[e.group] = max(s.groupLast[e.group], e.lastTS)
	}
	e.state = stateDone
	e.buf, e.offs = nil, nil
	e.bpos, e.bn = 0, 0
	s.st.FilesDone++
	if e.deleted {
		s.remove(e)
	}
}

// readBuffer returns a read buffer: one a closed file left, or a new one.
func (s *Source) readBuffer() []byte {
	if n := len(s.spare); n > 0 {
		b := s.spare[n-1]
		s.spare = s.spare[:n-1]
		return b
	}
	return make([]byte, s.cfg.ReadBufferSize)
}

func (s *Source) closeSkipErrs(errs []error) {
	for _, err := range errs {
		s.noteErr(err)
	}
}

// closeAll closes every file (Run returning).
func (s *Source) closeAll() {
	for _, e := range s.files {
		if e.held != nil {
			e.held.Close()
			e.held = nil
		}
		if e.f != nil {
			e.f.Close()
			e.f = nil
		}
	}
	s.publish()
}
