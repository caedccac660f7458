package tail

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// scan expands Paths, opens files not seen before, reopens closed files
// that changed, and notices files that were renamed away or deleted. The
// first scan applies Config.Start and the saved positions.
func (f *Follower) scan(first bool) {
	f.lastScan = time.Now()
	seen := make(map[devIno]bool)
	for _, pattern := range f.cfg.Paths {
		for _, path := range f.expand(pattern) {
			fi, err := os.Stat(path)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					f.unreadable(path, devIno{}, err)
				}
				continue
			}
			if !fi.Mode().IsRegular() {
				continue
			}
			key, ok := statKey(fi)
			if !ok || seen[key] {
				continue
			}
			seen[key] = true
			if h, ok := f.reg[key]; ok {
				f.known(h, path, fi)
				continue
			}
			f.discover(path, key, first)
		}
	}
	now := time.Now()
	for key, h := range f.reg {
		if h.parked && h.f != nil && now.Sub(h.lastGrowth) >= f.cfg.CloseInactive {
			h.close() // a copy whose original was never truncated: a duplicate, never read
		}
		if seen[key] {
			continue
		}
		if !h.detached {
			h.detached = true
			if h.f != nil {
				if fi, err := h.f.Stat(); err == nil && nlink(fi) == 0 {
					f.c.removed.Add(1)
				} else {
					f.c.renamed.Add(1)
				}
			}
		}
		if h.f == nil && h.trk.idle() {
			f.mu.Lock()
			delete(f.reg, key)
			f.mu.Unlock()
		}
	}
	f.mu.Lock()
	keep := f.trunc[:0]
	for _, t := range f.trunc {
		if now.Sub(t.at) < truncatedKeep {
			keep = append(keep, t)
		}
	}
	f.trunc = keep
	f.mu.Unlock()
}

// expand returns the paths a pattern names now. A pattern without glob
// metacharacters is returned as is (so that errors reading it are
// reported); an unreadable directory of a glob is reported.
func (f *Follower) expand(pattern string) []string {
	if !hasMeta(pattern) {
		return []string{pattern}
	}
	matches, _ := filepath.Glob(pattern) // the only error is a bad pattern, rejected by Validate
	if len(matches) == 0 {
		if dir := filepath.Dir(pattern); !hasMeta(dir) {
			if d, err := os.Open(dir); err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					f.unreadable(dir, devIno{}, err)
				}
			} else {
				if _, err := d.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
					f.unreadable(dir, devIno{}, err)
				}
				d.Close()
			}
		}
	}
	return matches
}

func hasMeta(p string) bool { return bytes.ContainsAny([]byte(p), `*?[\`) }

// known updates a file already followed: a new name (rename within Paths)
// and, for a closed file, a reopen when its size changed.
func (f *Follower) known(h *harvester, path string, fi os.FileInfo) {
	if h.path != path {
		f.mu.Lock()
		h.path = path
		f.mu.Unlock()
		f.c.renamed.Add(1)
	}
	if h.f != nil || h.parked || fi.Size() == h.lastSize {
		return
	}
	file, err := os.Open(path)
	if err != nil {
		f.unreadable(path, h.key, err)
		return
	}
	if ofi, err := file.Stat(); err != nil || !sameKey(ofi, h.key) {
		file.Close() // replaced between stat and open: the next scan sees the new one
		return
	}
	h.f, h.detached = file, false
	h.pend, h.skipping, h.readPos = nil, false, h.off
	h.lastSize = -1 // poll checks the fingerprint again
	f.c.opened.Add(1)
}

func sameKey(fi os.FileInfo, key devIno) bool {
	k, ok := statKey(fi)
	return ok && k == key
}

// discover opens a file not followed yet and decides where to start: a
// saved position (first scan), the end (first scan, StartEnd), the point a
// copytruncate copy continues from, or the beginning.
func (f *Follower) discover(path string, key devIno, first bool) {
	file, err := os.Open(path)
	if err != nil {
		f.unreadable(path, key, err)
		return
	}
	fi, err := file.Stat()
	if err != nil || !sameKey(fi, key) {
		file.Close()
		return
	}
	delete(f.bad, path)
	f.c.opened.Add(1)
	size := fi.Size()
	check, err := fingerprint(file, size, f.cfg.FingerprintBytes)
	if err != nil {
		file.Close()
		f.unreadable(path, key, err)
		return
	}
	h := &harvester{path: path, key: key, f: file, lastSize: size, maxSeen: size, lastGrowth: time.Now(),
		check: check, id: FileID{Dev: key.dev, Inode: key.ino, Fingerprint: check.Sum}}
	var off, num int64
	switch {
	case first && f.cfg.Start == StartSaved:
		if p, ok := f.savedFor(key); ok {
			match, err := p.Check.matches(file)
			if err == nil && match && size >= p.Offset {
				off, num = p.Offset, p.Line
				h.check, h.id = p.Check, p.ID
				if check.N > p.Check.N {
					h.check = check
				}
			} else {
				f.c.idMismatch.Add(1)
				f.rep.report("reuse:"+path, "tail: saved position not used: the file's content changed (inode reused or truncated)", "path", path)
			}
		}
	case first && f.cfg.Start == StartEnd:
		off = lastNewline(file, size)
	default:
		if f.continueCopy(h, size) {
			f.mu.Lock()
			f.reg[key] = h
			f.mu.Unlock()
			return
		}
	}
	h.off, h.num, h.readPos = off, num, off
	h.trk = newTracker(off, num)
	f.mu.Lock()
	f.reg[key] = h
	f.mu.Unlock()
}

func (f *Follower) savedFor(key devIno) (position, bool) {
	for _, p := range f.saved {
		if p.ID.Dev == key.dev && p.ID.Inode == key.ino {
			return p, true
		}
	}
	return position{}, false
}

// lastNewline returns the offset just after the last "\n" in file's first
// size bytes (0 if none).
func lastNewline(file *os.File, size int64) int64 {
	buf := make([]byte, readSize)
	for end := size; end > 0; {
		start := max(0, end-readSize)
		n, err := file.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1
		}
		end = start
	}
	return 0
}

// continueCopy recognises a copytruncate copy (a new file whose first
// bytes are those of a followed file, or of a generation lost to a recent
// truncation) and sets h up to continue that generation where its reading
// stopped instead of from 0. A copy of a file not truncated yet is parked
// until the truncation is seen.
func (f *Follower) continueCopy(h *harvester, size int64) bool {
	for i, t := range f.trunc {
		if ok, _ := t.check.matches(h.f); ok && t.check.Full {
			f.mu.Lock()
			f.trunc = append(f.trunc[:i], f.trunc[i+1:]...)
			f.mu.Unlock()
			f.activateCopy(h, t, size)
			return true
		}
	}
	for key, o := range f.reg {
		if o.parked || o.f == nil || !o.check.Full {
			continue
		}
		if ok, _ := o.check.matches(h.f); ok {
			h.parked, h.copyOf = true, key
			h.trk = newTracker(0, 0)
			return true
		}
	}
	return false
}

// activateCopy makes h continue generation t from where t was left.
func (f *Follower) activateCopy(h *harvester, t *truncated, size int64) {
	if rec := min(max(size-t.off, 0), t.lost); rec > 0 {
		f.c.bytesLost.Add(-rec)
	}
	if size < t.off {
		// Everything in the copy was already read from the original: the
		// copy is done.
		f.mu.Lock()
		h.parked, h.trk = false, newTracker(size, 0)
		f.mu.Unlock()
		h.off, h.num, h.readPos, h.pend, h.skipping = size, 0, size, nil, false
		return
	}
	f.mu.Lock()
	h.parked = false
	h.id, h.check, h.trk = t.id, t.check, t.trk
	f.mu.Unlock()
	h.off, h.num, h.readPos, h.pend, h.skipping = t.off, t.num, t.off, nil, false
	h.lastSize = -1
	f.c.copies.Add(1)
}

// truncate handles h's file shrinking or being rewritten: the bytes seen
// and not read are counted as lost, the generation is kept for a
// copytruncate copy to continue, and h restarts at 0 with a new identity.
func (f *Follower) truncate(h *harvester, size int64) {
	f.c.truncations.Add(1)
	lost := max(h.maxSeen-h.off, 0)
	if len(h.pend) > 0 || h.skipping {
		f.c.partialLost.Add(1)
	}
	f.c.bytesLost.Add(lost)
	t := &truncated{key: h.key, id: h.id, check: h.check, trk: h.trk, off: h.off, num: h.num, lost: lost, at: time.Now()}
	check, _ := fingerprint(h.f, size, f.cfg.FingerprintBytes)
	f.mu.Lock()
	h.check = check
	h.id = FileID{Dev: h.key.dev, Inode: h.key.ino, Fingerprint: check.Sum}
	h.trk = newTracker(0, 0)
	f.mu.Unlock()
	h.off, h.num, h.readPos, h.pend, h.skipping, h.maxSeen = 0, 0, 0, nil, false, size
	f.rep.report("truncate:"+h.path, "tail: file truncated; reading from the start", "path", h.path, "bytes_lost", lost)
	for _, c := range f.reg {
		if c.parked && c.copyOf == h.key && c.f != nil {
			if fi, err := c.f.Stat(); err == nil {
				if ok, _ := t.check.matches(c.f); ok {
					f.activateCopy(c, t, fi.Size())
					return
				}
			}
		}
	}
	f.mu.Lock()
	f.trunc = append(f.trunc, t)
	f.mu.Unlock()
}

// unreadable counts and reports a file that cannot be opened or read,
// once per path and file.
func (f *Follower) unreadable(path string, key devIno, err error) {
	if k, ok := f.bad[path]; ok && k == key {
		return
	}
	f.bad[path] = key
	f.c.unreadable.Add(1)
	f.rep.report("unreadable:"+path, "tail: cannot read file; skipping it", "path", path, "err", err)
}
