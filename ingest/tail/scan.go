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
			// A copy waiting for its generation to end elsewhere (it may
			// never end: logrotate "copy" without truncation). Its handle
			// is closed; it stays parked and is reopened when it is needed.
			h.close()
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
		if h.f == nil && (h.trk == nil || h.trk.idle()) {
			f.forget(key, h)
		}
	}
	f.mu.Lock()
	keep := f.trunc[:0]
	for _, t := range f.trunc {
		if now.Sub(t.at) < truncatedKeep {
			keep = append(keep, t)
		}
	}
	clear(f.trunc[len(keep):])
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
// saved position (first scan), the end (first scan, StartEnd), or, once
// its first bytes tell whether it is a copytruncate copy (see classify),
// the point a copy continues from or the beginning.
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
	h := &harvester{path: path, key: key, f: file, lastSize: -1, lastGrowth: time.Now()}
	start := func(off, num int64) {
		head, err := readHead(file, size, f.cfg.FingerprintBytes)
		if err != nil {
			file.Close()
			f.unreadable(path, key, err)
			return
		}
		f.startGeneration(h, off, num, head)
		h.lastSize, h.maxSeen = size, size
		f.mu.Lock()
		f.reg[key] = h
		f.mu.Unlock()
	}
	switch {
	case first && f.cfg.Start == StartSaved:
		p, ok := f.savedFor(key)
		if !ok {
			start(0, 0)
			return
		}
		match, err := p.Check.matches(file)
		if err != nil || !match {
			f.c.idMismatch.Add(1)
			f.rep.report("reuse:"+path, "tail: saved position not used: the file's content changed (inode reused or truncated)", "path", path)
			start(0, 0)
			return
		}
		start(p.Offset, p.Line)
		f.mu.Lock()
		h.id, h.delivered = p.ID, true
		f.mu.Unlock()
		// A copytruncate copy continues its generation at the offset where
		// the original was left, which may lie past the copy's end (the
		// follower had read lines written after the copy was made).
		h.cont = size < p.Offset
	case first && f.cfg.Start == StartEnd:
		start(lastNewline(file, size), 0)
	default:
		h.undecided = true
		f.mu.Lock()
		f.reg[key] = h
		f.mu.Unlock()
	}
}

// startGeneration makes h read a generation from off (line num), head
// being its first bytes as far as known.
func (f *Follower) startGeneration(h *harvester, off, num int64, head []byte) {
	check := checkOf(head, f.cfg.FingerprintBytes)
	f.mu.Lock()
	h.undecided, h.parked, h.pending, h.cont = false, false, false, false
	h.head, h.check = head, check
	h.id = FileID{Dev: h.key.dev, Inode: h.key.ino, Fingerprint: check.Sum}
	h.trk = newTracker(off, num)
	f.mu.Unlock()
	h.identified = distinctive(head, f.cfg.FingerprintBytes)
	h.delivered = false
	h.off, h.num, h.readPos, h.pend, h.skipping, h.maxSeen = off, num, off, nil, false, 0
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
