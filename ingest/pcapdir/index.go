package pcapdir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

// FileRange is the time range of one capture file.
type FileRange struct {
	// Path is the file's path (Dir joined with its name).
	Path string
	// First and Last are the timestamps of its first and last whole
	// records, in nanoseconds since the Unix epoch. Last is 0 until the
	// file has been walked (see Index).
	First, Last int64
	// Records is the number of whole records (0 until walked).
	Records uint64
	// Size and ModTime are the file's as last seen.
	Size    int64
	ModTime time.Time
}

// Index knows the time ranges of the capture files in a directory, so
// that a flow can be backfilled by reading only the files that cover it.
// The first record of a file is read when the file is first listed; the
// last is found by walking the record headers (no decoding), only for
// files a query needs, and cached by size and modification time: a file
// that grew is walked on from where the last walk stopped.
//
// An Index is safe for concurrent use; queries are serialised.
type Index struct {
	dir, pattern string

	mu    sync.Mutex
	files map[string]*indexEntry
}

type indexEntry struct {
	path     string
	id       fileID
	size     int64
	mtime    time.Time
	head     []byte
	format   format
	first    int64
	hasFirst bool

	// The walk, valid for walkedSize/walkedMtime.
	last        int64
	hasLast     bool
	records     uint64
	walkOff     int64
	walkedSize  int64
	walkedMtime time.Time
	err         error
}

// NewIndex returns an Index of the files in dir matching pattern (a
// filepath.Match glob relative to dir, as Config.Pattern; "" means all).
func NewIndex(dir, pattern string) *Index {
	if pattern == "" {
		pattern = DefaultPattern
	}
	return &Index{dir: dir, pattern: pattern, files: map[string]*indexEntry{}}
}

// refresh lists the directory and reads the heads of new or changed files.
// The caller holds mu.
func (ix *Index) refresh() error {
	matches, err := filepath.Glob(filepath.Join(ix.dir, ix.pattern))
	if err != nil {
		return fmt.Errorf("pcapdir: index %s: pattern %q: %w", ix.dir, ix.pattern, err)
	}
	seen := make(map[string]bool, len(matches))
	for _, p := range matches {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		seen[p] = true
		id := statID(fi)
		e := ix.files[p]
		if e != nil && e.id == id && e.size == fi.Size() && e.mtime.Equal(fi.ModTime()) {
			continue
		}
		head, err := readHeadOf(p)
		if err != nil {
			continue
		}
		if e == nil || e.id != id || !sameContent(e.head, head) || fi.Size() < e.size {
			e = &indexEntry{path: p, id: id}
			ix.files[p] = e
		}
		e.size, e.mtime, e.head = fi.Size(), fi.ModTime(), head
		fm, h, err := sniff(head)
		if err != nil {
			e.err = &capture.RecordError{File: p, Err: err}
			continue
		}
		e.format = fm
		if fm == formatPcap && len(head) >= headLen && !e.hasFirst {
			e.first, _, _ = h.record(head[fileHeaderLen:])
			e.hasFirst = true
		}
		if fm == formatOther && !e.hasFirst {
			ix.walk(e) // pcapng and gzip have no cheap first record
		}
	}
	for p := range ix.files {
		if !seen[p] {
			delete(ix.files, p)
		}
	}
	return nil
}

// walk brings a file's last timestamp and record count up to date.
func (ix *Index) walk(e *indexEntry) {
	if e.walkedSize == e.size && e.walkedMtime.Equal(e.mtime) && (e.hasLast || e.err != nil) {
		return
	}
	e.walkedSize, e.walkedMtime = e.size, e.mtime
	f, err := os.Open(e.path)
	if err != nil {
		e.err = err
		return
	}
	defer f.Close()
	switch e.format {
	case formatPcap:
		buf := make([]byte, capture.MinReadBufferSize)
		t := newTailReader(f, e.path, e.walkOff, buf)
		if e.walkOff > fileHeaderLen && len(e.head) >= headLen {
			copy(t.first[:], e.head[fileHeaderLen:])
			t.hasFirst = true
		}
		recs, last, err := t.skipAll()
		if errors.Is(err, errReplaced) {
			*e = indexEntry{path: e.path, id: e.id, size: e.size, mtime: e.mtime, head: e.head, format: e.format,
				first: e.first, hasFirst: e.hasFirst}
			t = newTailReader(f, e.path, 0, buf)
			recs, last, err = t.skipAll()
			e.walkedSize, e.walkedMtime = e.size, e.mtime
		}
		if err != nil {
			e.err = &capture.RecordError{File: e.path, Err: err}
		}
		if recs > 0 {
			e.records += recs
			e.last, e.hasLast = last, true
		}
		e.walkOff = t.offset()
	case formatOther:
		r, err := capture.NewReader(f, e.path)
		if err != nil {
			e.err = err
			return
		}
		var p schemas.Packet
		e.records, e.hasLast = 0, false
		for r.Next(&p) == nil {
			if !e.hasFirst {
				e.first, e.hasFirst = p.TS, true
			}
			e.last, e.hasLast = p.TS, true
		}
		e.records = r.Stats().Records
	}
}

// Ranges returns the time ranges of all the files, walking those not
// walked since they last changed, in time order of their first records.
// Files without a whole record yet are left out. The error joins the
// files that could not be read (they are left out too).
func (ix *Index) Ranges(ctx context.Context) ([]FileRange, error) {
	return ix.query(ctx, func(*indexEntry) bool { return true }, -1<<63, 1<<63-1)
}

// Covering returns the paths of the files whose time range overlaps
// [start, end] (nanoseconds since the Unix epoch, inclusive), in time
// order of their first records. Only files that start at or before end
// are walked. The error joins the files that could not be read.
func (ix *Index) Covering(ctx context.Context, start, end int64) ([]string, error) {
	rs, err := ix.query(ctx, func(e *indexEntry) bool { return e.first <= end }, start, end)
	paths := make([]string, len(rs))
	for i, r := range rs {
		paths[i] = r.Path
	}
	return paths, err
}

// FilesCovering is Covering without a context and ignoring unreadable
// files.
func (ix *Index) FilesCovering(start, end int64) []string {
	paths, _ := ix.Covering(context.Background(), start, end)
	return paths
}

func (ix *Index) query(ctx context.Context, need func(*indexEntry) bool, start, end int64) ([]FileRange, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ix.refresh(); err != nil {
		return nil, err
	}
	var out []FileRange
	var errs []error
	for _, e := range ix.files {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !e.hasFirst {
			if e.err != nil {
				errs = append(errs, e.err)
			}
			continue
		}
		if !need(e) {
			continue
		}
		ix.walk(e)
		if e.err != nil {
			errs = append(errs, e.err)
		}
		if !e.hasLast {
			continue
		}
		if e.last < start || e.first > end {
			continue
		}
		out = append(out, FileRange{Path: e.path, First: e.first, Last: e.last, Records: e.records,
			Size: e.size, ModTime: e.mtime})
	}
	slices.SortFunc(out, func(a, b FileRange) int {
		switch {
		case a.First != b.First:
			if a.First < b.First {
				return -1
			}
			return 1
		case naturalLess(a.Path, b.Path):
			return -1
		case naturalLess(b.Path, a.Path):
			return 1
		}
		return 0
	})
	return out, errors.Join(errs...)
}

// Backfill reads files as one capture in time order (a capture.Merger)
// and calls fn with every packet filter accepts (all packets when filter
// is nil). The *Packet passed to filter and fn is reused: copy it to keep
// it. Files the ring deleted since they were listed are skipped (an open
// descriptor is not kept between listing and reading: Covering and
// Backfill back to back leave a short window), and so is the half-written
// last record of a file still being written. It returns the counters of
// what was read and an error that joins the files that could not be
// opened and the corrupt records met, each naming its file; packets of the
// other files were still delivered. It stops early with ctx.Err() when ctx
// is done.
func Backfill(ctx context.Context, files []string, filter func(*schemas.Packet) bool, fn func(*schemas.Packet)) (capture.Stats, error) {
	m := capture.OpenMerger(files)
	defer m.Close()
	batch := make([]schemas.Packet, 512)
	for {
		if err := ctx.Err(); err != nil {
			return m.Stats(), err
		}
		n, err := m.ReadBatch(batch)
		if err != nil {
			break
		}
		for i := range batch[:n] {
			p := &batch[i]
			if filter == nil || filter(p) {
				fn(p)
			}
		}
	}
	errs := slices.Clone(m.OpenErrors())
	if err := m.Err(); err != nil {
		for _, e := range unjoin(err) {
			if !errors.Is(e, capture.ErrTruncatedRecord) {
				errs = append(errs, e)
			}
		}
	}
	return m.Stats(), errors.Join(errs...)
}

// unjoin splits an errors.Join error.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
