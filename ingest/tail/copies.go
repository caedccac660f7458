package tail

import (
	"os"
	"time"
)

// Copytruncate (logrotate, Vector and Filebeat setups) copies a file to a
// new name, lets the writer go on for a moment, then truncates the file to
// 0. When Paths match the copies, the follower continues each generation
// in its copy where reading it from the original stopped, so that no line
// is read twice (once from the original, once from the copy) and the only
// lines lost are those written between the copy and the truncation that
// were not read in time.
//
// The rules that make this exact, whatever the order in which the
// follower notices the copy and the truncation, and however many
// copytruncates happen between two polls:
//
//   - Bytes are attributed to a generation only after the file is seen to
//     still start with that generation's first bytes (see read): a
//     generation is never continued with a newer one's bytes.
//   - A generation's first bytes are kept as read (head), so a copy is
//     recognised by comparing bytes, whatever the generation's length;
//     short generations are no exception.
//   - A new file is classified (copy or not) only once its head is
//     distinctive (a complete record line, or a Full fingerprint), before
//     any of it is read.
//   - A copy of a generation that was, is, or may yet be read elsewhere is
//     never read from 0: it waits (parked) until that reading ends and
//     continues from its offset. At any time one harvester at most reads a
//     generation.
//
// Identical content cannot be told apart: a new file that starts with the
// same complete lines as a generation being read is taken for its copy.
// Continuing it where that generation was left can at worst skip lines
// identical to lines already delivered; reading it from 0 could deliver
// the same lines twice. The follower prefers the first.

// classify decides what a new file whose first bytes are head (the file
// being undecided, open, with a distinctive head) is:
//
//  1. the copy of a generation whose reading ended (truncated, or its file
//     gone) and that no copy continues yet: it continues it now;
//  2. the copy of the generation another harvester reads (its head agrees):
//     it is parked until that reading ends;
//  3. the copy of what another open file holds now, a generation its
//     harvester has not read yet (it lags behind a truncation, or has read
//     nothing since the last one): parked, pending, until that harvester
//     identifies the generation it reads next (see resolvePending);
//  4. else an ordinary file, read from 0 (after the "#" header lines it
//     shares with a generation of which nothing else was read, if any).
func (f *Follower) classify(h *harvester, head []byte) {
	rec := f.cfg.FingerprintBytes
	bi, bn := -1, 0
	for i, t := range f.trunc {
		// t's head may be shorter than head (a short generation, all of it
		// read): then its bytes being a prefix of the copy is all there is
		// to compare, and continuing risks no duplicate.
		if n := agree(head, t.head); n > bn && (n == len(t.head) || distinctive(head[:n], rec)) {
			bi, bn = i, n
		}
	}
	if bi >= 0 {
		t := f.trunc[bi]
		if f.activateCopy(h, t) {
			f.mu.Lock()
			f.trunc = append(f.trunc[:bi], f.trunc[bi+1:]...)
			f.mu.Unlock()
			return
		}
		if h.f == nil {
			return
		}
	}
	var bound, pending, headerOf *harvester
	boundN := 0
	var pendingGen uint64
	for _, o := range f.reg {
		if o == h || o.parked || o.undecided || o.trk == nil {
			continue
		}
		if o.identified {
			if n := agree(head, o.head); n > boundN && distinctive(head[:n], rec) {
				bound, boundN = o, n
				continue
			}
		} else if o.off > 0 && len(o.head) > 0 && agree(head, o.head) == len(o.head) &&
			(headerOf == nil || o.off > headerOf.off) {
			headerOf = o
		}
		if pending != nil || o.f == nil {
			continue
		}
		ok, buf, err := startsWith(o.f, head, f.scratch)
		f.scratch = buf
		if err == nil && ok {
			// o's file holds this content now, and o has not read it:
			// it is the generation o reads next (or the one it reads now,
			// if it has read nothing of it yet).
			pending, pendingGen = o, o.gen
			if o.identified {
				// o's file no longer holds the generation o reads: it
				// was truncated. The next poll of o checks it even if
				// its size happens to be the same.
				pendingGen++
				o.lastSize = -1
			}
		}
	}
	switch {
	case bound != nil:
		f.park(h, head, bound.key, bound.gen, false)
	case pending != nil:
		f.park(h, head, pending.key, pendingGen, true)
	case headerOf != nil:
		// Only "#" header lines of headerOf's generation were read, and
		// this file starts with them; headerOf's file holds something
		// else now. This file is a copy of that generation (truncated
		// since), or another file with the same header: either way it is
		// read after those lines, which are not delivered twice.
		f.startGeneration(h, headerOf.off, headerOf.num, head)
	default:
		f.startGeneration(h, 0, 0, head)
	}
}

// park makes h wait for generation gen of the harvester key.
func (f *Follower) park(h *harvester, head []byte, key devIno, gen uint64, pending bool) {
	f.mu.Lock()
	h.undecided, h.parked, h.trk = false, true, nil
	f.mu.Unlock()
	h.head, h.copyOf, h.copyGen, h.pending = head, key, gen, pending
	h.lastGrowth = time.Now()
}

// resolvePending is called when o's generation becomes identified: the
// copies pending on o (waiting for the generation o reads next) either
// copy that generation (they are then parked on it) or one o never read,
// having been truncated before o got to it (they are read from 0).
func (f *Follower) resolvePending(o *harvester) {
	for _, c := range f.reg {
		if !c.parked || !c.pending || c.copyOf != o.key || c.copyGen > o.gen {
			continue
		}
		if agree(c.head, o.head) > 0 {
			c.pending, c.copyGen = false, o.gen
		} else {
			f.activatePlain(c)
		}
	}
}

// truncate handles h's file being truncated (it shrank, or no longer
// starts with the generation's first bytes): the bytes of the generation
// seen and not read are counted as lost, the generation is handed to its
// copy (or kept for one found later), and h reads the new generation from
// 0.
func (f *Follower) truncate(h *harvester) {
	f.c.truncations.Add(1)
	lost := max(h.maxSeen-h.off, 0)
	if len(h.pend) > 0 || h.skipping {
		f.c.partialLost.Add(1)
	}
	f.c.bytesLost.Add(lost)
	t := f.ended(h, lost)
	f.rep.report("truncate:"+h.path, "tail: file truncated; reading from the start", "path", h.path, "bytes_lost", lost)
	h.gen++
	f.startGeneration(h, 0, 0, nil)
	h.lastSize = -1
	f.handOff(t)
}

// ended returns h's generation as a truncated one.
func (f *Follower) ended(h *harvester, lost int64) *truncated {
	return &truncated{key: h.key, gen: h.gen, head: h.head, id: h.id, check: h.check, trk: h.trk,
		off: h.off, num: h.num, lost: lost, at: time.Now()}
}

// handOff passes a generation whose reading ended to the copy parked on it
// (the longest, if there are several: the others then wait behind it),
// or keeps it for a copy found later.
func (f *Follower) handOff(t *truncated) {
	for {
		var best *harvester
		bestSize := int64(-1)
		for _, c := range f.reg {
			if c.parked && !c.pending && c.copyOf == t.key && c.copyGen == t.gen {
				if s := f.sizeOf(c); s > bestSize {
					best, bestSize = c, s
				}
			}
		}
		if best == nil {
			break
		}
		if f.activateCopy(best, t) {
			for _, c := range f.reg {
				if c.parked && !c.pending && c.copyOf == t.key && c.copyGen == t.gen {
					c.copyOf, c.copyGen = best.key, best.gen
				}
			}
			return
		}
	}
	if t.off > 0 || t.lost > 0 {
		f.mu.Lock()
		f.trunc = append(f.trunc, t)
		f.mu.Unlock()
	}
}

// sizeOf returns the size of h's file (-1 if it cannot be had).
func (f *Follower) sizeOf(h *harvester) int64 {
	var fi os.FileInfo
	var err error
	if h.f != nil {
		fi, err = h.f.Stat()
	} else {
		fi, err = os.Stat(h.path)
		if err == nil && !sameKey(fi, h.key) {
			return -1
		}
	}
	if err != nil {
		return -1
	}
	return fi.Size()
}

// reopen opens a closed harvester's file again, through its last path. It
// reports false if that path names another file now, or none.
func (f *Follower) reopen(h *harvester) bool {
	if h.f != nil {
		return true
	}
	file, err := os.Open(h.path)
	if err != nil {
		return false
	}
	if fi, err := file.Stat(); err != nil || !sameKey(fi, h.key) {
		file.Close()
		return false
	}
	h.f = file
	f.c.opened.Add(1)
	return true
}

// activateCopy makes c (a copy, parked or new) continue generation t from
// where t was left. It reports false, leaving c undecided (classified
// again when it changes) or closed, if c cannot be opened or no longer
// starts with t's first bytes.
func (f *Follower) activateCopy(c *harvester, t *truncated) bool {
	fail := func() bool {
		f.mu.Lock()
		c.parked, c.pending, c.undecided, c.trk = false, false, true, nil
		f.mu.Unlock()
		c.lastSize = -1
		return false
	}
	if !f.reopen(c) {
		return fail()
	}
	fi, err := c.f.Stat()
	if err != nil {
		return fail()
	}
	size := fi.Size()
	head, err := readHead(c.f, size, f.cfg.FingerprintBytes)
	if err != nil || agree(head, t.head) <= 0 {
		return fail()
	}
	if rec := min(max(size-t.off, 0), t.lost); rec > 0 {
		f.c.bytesLost.Add(-rec)
	}
	check := checkOf(head, f.cfg.FingerprintBytes)
	f.mu.Lock()
	c.undecided, c.parked, c.pending, c.cont = false, false, false, true
	c.head, c.check = head, check
	c.id = FileID{Dev: c.key.dev, Inode: c.key.ino, Fingerprint: check.Sum}
	c.trk = t.trk
	f.mu.Unlock()
	c.gen++
	c.identified = distinctive(head, f.cfg.FingerprintBytes)
	c.delivered = true
	c.off, c.num, c.readPos, c.pend, c.skipping = t.off, t.num, t.off, nil, false
	c.maxSeen = max(size, t.off)
	c.lastSize, c.lastGrowth, c.detached = size, time.Now(), false
	f.c.copies.Add(1)
	return true
}

// activatePlain makes a parked copy an ordinary file read from 0: the
// generation it copies was never read elsewhere.
func (f *Follower) activatePlain(c *harvester) {
	if !f.reopen(c) {
		f.mu.Lock()
		c.parked, c.pending, c.undecided = false, false, true
		f.mu.Unlock()
		c.lastSize = -1
		return
	}
	f.recoverSkipped(c)
	f.startGeneration(c, 0, 0, nil)
	c.lastSize, c.lastGrowth = -1, time.Now()
}

// recoverSkipped takes back the loss counted for the generation a copy
// read from 0 copies, if its reading ended before a line of it was handed
// out (a partial first line was all that was read of it).
func (f *Follower) recoverSkipped(c *harvester) {
	if !c.parked {
		return
	}
	for i, t := range f.trunc {
		if t.key != c.copyOf || t.off != 0 || t.lost == 0 || len(t.head) == 0 || agree(c.head, t.head) < 0 {
			continue
		}
		if rec := min(max(f.sizeOf(c), 0), t.lost); rec > 0 {
			f.c.bytesLost.Add(-rec)
		}
		f.mu.Lock()
		f.trunc = append(f.trunc[:i], f.trunc[i+1:]...)
		f.mu.Unlock()
		return
	}
}

// forget drops a harvester whose file is gone from Paths, closed and fully
// acknowledged. The generation it was reading ends: a copy parked on it
// takes over, and copies pending on its next generation are read from 0.
func (f *Follower) forget(key devIno, h *harvester) {
	f.mu.Lock()
	delete(f.reg, key)
	f.mu.Unlock()
	if h.parked || h.undecided || h.trk == nil {
		return
	}
	f.handOff(f.ended(h, 0))
	for _, c := range f.reg {
		if c.parked && c.copyOf == key {
			f.activatePlain(c)
		}
	}
}
