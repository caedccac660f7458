package pcapdir

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

// scan lists the directory and brings the file list up to date: new files,
// grown files, deleted files, renamed files, files rewritten in place.
func (s *Source) scan(now time.Time) {
	matches, err := filepath.Glob(filepath.Join(s.cfg.Dir, s.cfg.Pattern))
	if err != nil {
		// Validate checked the pattern; nothing else makes Glob fail.
		s.log.Error("pcapdir: listing the directory", "dir", s.cfg.Dir, "pattern", s.cfg.Pattern, "err", err)
		return
	}
	type found struct {
		rel, path string
		fi        os.FileInfo
		id        fileID
	}
	listed := make(map[string]found, len(matches))
	idAt := make(map[fileID]string, len(matches))
	var list []found
	for _, p := range matches {
		rel, err := filepath.Rel(s.cfg.Dir, p)
		if err != nil {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		f := found{rel: rel, path: p, fi: fi, id: statID(fi)}
		listed[rel] = f
		idAt[f.id] = rel
		list = append(list, f)
	}
	// Files whose name no longer leads to them: renamed within the
	// pattern, or deleted (and perhaps replaced by a new file of the same
	// name).
	var vanished []*entry
	for name, e := range s.byName {
		if f, ok := listed[name]; !ok || f.id != e.id {
			vanished = append(vanished, e)
		}
	}
	for _, e := range vanished {
		delete(s.byName, e.name)
	}
	for _, e := range vanished {
		// A renamed file keeps its inode and its content; a new file may
		// get a deleted one's inode number, so the content decides.
		if rel, ok := idAt[e.id]; ok && s.byName[rel] == nil && rel != e.name && s.sameHead(e, listed[rel].path) {
			s.log.Debug("pcapdir: file renamed", "from", e.name, "to", rel)
			e.name, e.path, e.group = rel, filepath.Join(s.cfg.Dir, rel), writerKey(rel)
			s.byName[rel] = e
			continue
		}
		s.gone(e)
	}
	for _, f := range list {
		if e := s.byName[f.rel]; e != nil {
			s.update(e, f.fi, now)
		} else {
			s.discover(f.rel, f.path, f.fi, f.id, now)
		}
	}
	s.sortOrder()
	if !s.started {
		s.started = true
		s.applyStart(now)
	}
	s.hold()
}

// sameHead reports whether the file at path starts as e's capture did.
func (s *Source) sameHead(e *entry, path string) bool {
	head, err := readHeadOf(path)
	return err == nil && len(e.head) > 0 && sameContent(e.head, head)
}

// discover adds a file seen for the first time.
func (s *Source) discover(rel, path string, fi os.FileInfo, id fileID, now time.Time) *entry {
	s.seq++
	e := &entry{name: rel, path: path, group: writerKey(rel), seq: s.seq, id: id,
		size: fi.Size(), mtime: fi.ModTime(), genSize: fi.Size(), skipTo: -1, doneOff: -1}
	e.lastGrowth = fi.ModTime()
	if e.lastGrowth.After(now) {
		e.lastGrowth = now
	}
	s.peek(e)
	s.files = append(s.files, e)
	s.byName[rel] = e
	return e
}

// peek reads the head of a pending file: its format and the timestamp of
// its first record, which orders it.
func (s *Source) peek(e *entry) {
	f := e.held
	if f == nil {
		var err error
		if f, err = os.Open(e.path); err != nil {
			s.skipFile(e, err)
			return
		}
		defer f.Close()
	}
	head, err := readHead(f)
	if err != nil {
		s.skipFile(e, err)
		return
	}
	e.head = head
	fm, h, err := sniff(head)
	if err != nil {
		s.skipFile(e, err)
		return
	}
	if e.state == stateSkipped {
		e.state = statePending
	}
	e.format = fm
	switch fm {
	case formatPcap:
		if len(head) >= headLen {
			e.first, _, _ = h.record(head[fileHeaderLen:])
			e.hasFirst = true
		}
	case formatOther:
		if r, err := capture.NewReader(io.NewSectionReader(f, 0, math.MaxInt64>>1), e.name); err == nil {
			var p schemas.Packet
			if r.Next(&p) == nil {
				e.first, e.hasFirst = p.TS, true
			}
		}
	}
}

// skipFile marks a file that cannot be read (reported once per name).
func (s *Source) skipFile(e *entry, err error) {
	if e.held != nil {
		e.held.Close()
		e.held = nil
	}
	e.state = stateSkipped
	if s.skipSeen[e.name] {
		return
	}
	s.skipSeen[e.name] = true
	s.closed.FilesSkipped++
	rerr := &capture.RecordError{File: e.name, Err: err}
	s.log.Warn("pcapdir: skipping a file that is not a readable capture", "file", e.path, "err", err)
	s.noteErr(rerr)
}

// update looks at a known file again.
func (s *Source) update(e *entry, fi os.FileInfo, now time.Time) {
	size, mtime := fi.Size(), fi.ModTime()
	if size == e.size && mtime.Equal(e.mtime) {
		return
	}
	shrank := size < e.size
	if size > e.size {
		e.lastGrowth = now
	}
	e.size, e.mtime = size, mtime
	if e.state == stateOpen {
		if shrank && e.tail != nil {
			if err := e.tail.checkGeneration(); errors.Is(err, errReplaced) {
				s.rewritten(e, now)
			}
		}
		e.genSize = max(e.genSize, size)
		return
	}
	head, err := readHeadOf(e.path)
	if err != nil {
		return // gone or unreadable: the next scan tells
	}
	if !sameContent(e.head, head) {
		// Truncated and rewritten in place: a new capture in an old name.
		switch e.state {
		case statePending:
			s.lost(e, "rewritten in place before it was read", false)
		case stateDone:
			if e.doneOff >= 0 && e.doneOff < e.doneSize {
				s.noteLoss(Loss{File: e.name, Packets: -1, Bytes: e.doneSize - e.doneOff,
					Reason: "rewritten in place before its last record was complete"}, false)
			}
		}
		s.renew(e, size, now)
		return
	}
	e.genSize = max(e.genSize, size)
	switch e.state {
	case statePending, stateSkipped:
		if !e.hasFirst || e.state == stateSkipped {
			s.peek(e)
		}
	case stateDone:
		if size > e.doneSize && e.format == formatPcap {
			// A closed file grew: its writer was only quiet. Read on.
			e.state = statePending
			if e.doneOff >= 0 {
				e.startOff, e.skipTo = e.doneOff, -1
			} else {
				e.startOff, e.skipTo = 0, e.doneSize
			}
			s.st.FilesReopened++
			s.log.Info("pcapdir: a closed file grew; reading on", "file", e.path)
		}
	}
}

// renew turns an entry into a fresh pending file (a new capture written
// into the same inode).
func (s *Source) renew(e *entry, size int64, now time.Time) {
	if e.held != nil {
		e.held.Close()
		e.held = nil
	}
	s.seq++
	*e = entry{name: e.name, path: e.path, group: e.group, seq: s.seq, id: e.id, size: size, mtime: e.mtime,
		genSize: size, lastGrowth: now, skipTo: -1, doneOff: -1}
	s.peek(e)
}

func readHeadOf(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readHead(f)
}

// sameContent reports whether new is the head of the same capture as
// old: it starts with old's bytes (old is shorter while a file is young).
func sameContent(old, new []byte) bool {
	n := min(len(old), len(new))
	return len(new) >= len(old) && string(old[:n]) == string(new[:n])
}

// gone handles a file whose name no longer leads to it.
func (s *Source) gone(e *entry) {
	delete(s.byName, e.name)
	switch e.state {
	case stateOpen:
		e.deleted = true
		s.log.Debug("pcapdir: file deleted while open; reading on through the descriptor", "file", e.path)
		return
	case statePending:
		s.lost(e, "deleted before it was read", true)
	}
	if e.held != nil {
		e.held.Close()
		e.held = nil
	}
	s.remove(e)
}

func (s *Source) remove(e *entry) {
	e.state = stateGone
	if i := slices.Index(s.files, e); i >= 0 {
		s.files = slices.Delete(s.files, i, i+1)
	}
}

// lost reports a pending file that will not be read. Its packets are
// counted through the descriptor kept open (LookAhead) when there is one
// and count is set; else its size tells the bytes.
func (s *Source) lost(e *entry, reason string, count bool) {
	from := max(e.startOff, fileHeaderLen)
	l := Loss{File: e.name, Packets: -1, Bytes: max(e.genSize-from, 0), Reason: reason}
	if e.format == formatOther {
		l.Bytes = e.genSize
	}
	if e.held != nil && count {
		switch e.format {
		case formatPcap:
			t := newTailReader(e.held, e.name, e.startOff, s.readBuffer())
			if recs, _, err := t.skipAll(); err == nil {
				if e.skipTo < 0 { // else the count would include records skipped on purpose
					l.Packets = int64(recs)
				}
				l.Bytes = max(t.seen-from, 0)
			}
		case formatOther:
			if r, err := capture.NewReader(io.NewSectionReader(e.held, 0, math.MaxInt64>>1), e.name); err == nil {
				var p schemas.Packet
				for r.Next(&p) == nil {
				}
				l.Packets = int64(r.Stats().Records) - e.startOff
			}
		}
	}
	if e.held != nil {
		e.held.Close()
		e.held = nil
	}
	s.noteLoss(l, true)
}

// noteLoss counts and reports a loss.
func (s *Source) noteLoss(l Loss, file bool) {
	if file {
		s.st.FilesLost++
	}
	if l.Packets >= 0 {
		s.st.PacketsLost += uint64(l.Packets)
	} else {
		s.st.LostUncounted++
	}
	if l.Bytes > 0 {
		s.st.BytesLost += uint64(l.Bytes)
	}
	s.log.Warn("pcapdir: packets lost to the capture ring", "file", filepath.Join(s.cfg.Dir, l.File),
		"reason", l.Reason, "packets", l.Packets, "bytes", l.Bytes)
	s.mu.Lock()
	if len(s.losses) == maxLosses {
		s.losses = slices.Delete(s.losses, 0, 1)
	}
	s.losses = append(s.losses, l)
	s.mu.Unlock()
}

func (s *Source) noteErr(err error) {
	s.mu.Lock()
	if len(s.skipErrs) < 256 {
		s.skipErrs = append(s.skipErrs, err)
	}
	s.mu.Unlock()
}

// before orders two files in time: by their first records' timestamps;
// a file without records yet (just created) is newer unless it was
// modified before the other; then by modification time and by name, with
// digit runs compared as numbers.
func (a *entry) before(b *entry) bool {
	if a.hasFirst && b.hasFirst && a.first != b.first {
		return a.first < b.first
	}
	if !a.mtime.Equal(b.mtime) {
		return a.mtime.Before(b.mtime)
	}
	if a.hasFirst != b.hasFirst {
		return a.hasFirst
	}
	if a.name != b.name {
		return naturalLess(a.name, b.name)
	}
	return a.seq < b.seq
}

func (s *Source) sortOrder() {
	s.order = s.order[:0]
	for _, e := range s.byName {
		s.order = append(s.order, e)
	}
	slices.SortFunc(s.order, func(a, b *entry) int {
		switch {
		case a.before(b):
			return -1
		case b.before(a):
			return 1
		}
		return 0
	})
}

// newerInGroup reports whether a newer file of e's writer exists.
func (s *Source) newerInGroup(e *entry) bool {
	for _, g := range s.order {
		if g != e && g.group == e.group && g.state != stateSkipped && e.before(g) {
			return true
		}
	}
	return false
}

// newerAny reports whether any newer file exists.
func (s *Source) newerAny(e *entry) bool {
	for _, g := range s.order {
		if g != e && g.state != stateSkipped && e.before(g) {
			return true
		}
	}
	return false
}

// applyStart sets where reading begins in the files found by the first
// scan.
func (s *Source) applyStart(now time.Time) {
	switch s.cfg.Start {
	case StartNow:
		newest := map[string]*entry{}
		for _, e := range s.order {
			if e.state != stateSkipped {
				newest[e.group] = e
			}
		}
		for _, e := range s.order {
			if e.state != statePending {
				continue
			}
			if newest[e.group] == e {
				e.skipTo = math.MaxInt64
				s.open(e, now)
				continue
			}
			s.skipped(e)
		}
	case StartPosition:
		used := make([]bool, len(s.resume))
		for _, e := range s.order {
			if e.state != statePending {
				continue
			}
			matched := false
			for i, fp := range s.resume {
				// A file saved before its first record had none: only
				// its start can be the position then.
				sameContent := (e.hasFirst && fp.First == e.first) || (fp.First == 0 && fp.Offset <= fileHeaderLen)
				if !used[i] && fp.Dev == e.id.dev && fp.Ino == e.id.ino && sameContent {
					used[i], matched = true, true
					e.startOff = fp.Offset
					e.emitted = fp.Offset
					break
				}
			}
			if !matched && e.hasFirst && e.first <= s.cfg.Resume.Clock {
				s.skipped(e)
			}
		}
		for i, fp := range s.resume {
			if !used[i] {
				s.noteLoss(Loss{File: fp.Name, Packets: -1, Bytes: -1,
					Reason: "being read at the saved position, gone since"}, true)
			}
		}
		s.resume = nil
	}
}

// skipped marks a file passed over by the start position as done.
func (s *Source) skipped(e *entry) {
	e.state = stateDone
	e.doneOff, e.doneSize = -1, e.size
}

// hold keeps descriptors open on the next LookAhead pending files, so that
// a deletion by the ring can still be counted in packets, and closes the
// others'.
func (s *Source) hold() {
	n := 0
	for _, e := range s.order {
		if e.state != statePending {
			continue
		}
		if n < s.cfg.LookAhead {
			n++
			if e.held == nil {
				f, err := os.Open(e.path)
				if err != nil {
					continue
				}
				if fi, err := f.Stat(); err != nil || statID(fi) != e.id {
					f.Close()
					continue
				}
				e.held = f
			}
		} else if e.held != nil {
			e.held.Close()
			e.held = nil
		}
	}
}
