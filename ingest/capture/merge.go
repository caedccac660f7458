package capture

import (
	"errors"
	"io"
	"math"
	"slices"

	"github.com/aegis-nsm/aegis/schemas"
)

// mergeBatch is how many packets the Merger reads ahead from each file.
const mergeBatch = 256

// Merger reads several capture files as one capture, in timestamp order:
// the files of a rolling capture ring, whose flows cross file boundaries,
// or the per-thread files of one sensor. Packets with equal timestamps
// come in the order the files were given, and packets of one file keep the
// file's order (a file that is not itself in time order is merged as
// it stands).
//
// Files are opened when the merge reaches their first timestamp and closed
// when read to the end, so a long ring of files that follow each other in
// time holds only one or two open at a time. A Merger is not safe for
// concurrent use.
type Merger struct {
	cfg     Config
	inputs  []*mergeInput // in the order given
	pending []*mergeInput // not opened yet, by (first, idx)
	heap    []*mergeInput // open, with buffered packets, min-heap by head
	openErr []error
}

type mergeInput struct {
	idx   int
	name  string
	first int64       // timestamp of the first record (pending inputs)
	r     *FileReader // nil before opening and after the end
	buf   []schemas.Packet
	pos   int
	n     int

	// kept when r is closed
	stats    Stats
	err      error
	skipErrs []error
	openErr  error
}

// OpenMerger opens paths as one capture with the default Config. See
// Config.OpenMerger.
func OpenMerger(paths []string) *Merger {
	return DefaultConfig().OpenMerger(paths)
}

// OpenMerger prepares to read the files at paths as one capture. It reads
// the first record header of each file to order them, and opens each fully
// only when the merge reaches it. A file that cannot be opened (missing,
// not a capture, an unsupported link type, an invalid Config) is skipped:
// OpenErrors names it and Stats counts it in FilesSkipped; the others are
// still read.
func (c Config) OpenMerger(paths []string) *Merger {
	m := &Merger{cfg: c}
	peek := c
	peek.ReadBufferSize = MinReadBufferSize
	for i, path := range paths {
		in := &mergeInput{idx: i, name: path}
		m.inputs = append(m.inputs, in)
		r, err := peek.Open(path)
		if err != nil {
			m.failed(in, err)
			continue
		}
		ts, ok := r.firstRecordTS()
		r.Close()
		if !ok {
			// No record (or none readable): open it first, to account
			// for what is there.
			ts = math.MinInt64
		}
		in.first = ts
		m.pending = append(m.pending, in)
	}
	slices.SortStableFunc(m.pending, func(a, b *mergeInput) int {
		if a.first < b.first {
			return -1
		}
		if a.first > b.first {
			return 1
		}
		return a.idx - b.idx
	})
	return m
}

// NewMerger merges readers that are already open, and takes them over:
// the Merger closes each at its end and on Close.
func NewMerger(readers ...*FileReader) *Merger {
	m := &Merger{cfg: DefaultConfig()}
	for i, r := range readers {
		in := &mergeInput{idx: i, name: r.Name(), r: r}
		m.inputs = append(m.inputs, in)
		m.start(in)
	}
	return m
}

func (m *Merger) failed(in *mergeInput, err error) {
	in.openErr = err
	in.stats = Stats{FilesSkipped: 1}
	m.openErr = append(m.openErr, err)
}

// activate opens a pending input and reads its first packets.
func (m *Merger) activate(in *mergeInput) {
	r, err := m.cfg.Open(in.name)
	if err != nil {
		// Deleted or replaced since OpenMerger looked at it.
		m.failed(in, err)
		return
	}
	in.r = r
	m.start(in)
}

// start reads the first batch of an open input and puts it on the heap.
func (m *Merger) start(in *mergeInput) {
	in.buf = make([]schemas.Packet, mergeBatch)
	n, _ := in.r.ReadBatch(in.buf)
	if n == 0 {
		m.finish(in)
		return
	}
	in.pos, in.n = 0, n
	m.heap = append(m.heap, in)
	m.up(len(m.heap) - 1)
}

// finish closes an input read to its end, keeping its statistics.
func (m *Merger) finish(in *mergeInput) {
	in.stats = in.r.Stats()
	in.err = in.r.Err()
	in.skipErrs = in.r.SkipErrors()
	in.r.Close()
	in.r = nil
	in.buf = nil
}

// activateDue opens the pending files whose first packet may come before
// the current head of the merge.
func (m *Merger) activateDue() {
	for len(m.pending) > 0 {
		q := m.pending[0]
		if len(m.heap) > 0 {
			h := m.heap[0]
			if before(h.buf[h.pos].TS, h.idx, q.first, q.idx) {
				return
			}
		}
		m.pending = m.pending[1:]
		m.activate(q)
	}
}

// before orders (timestamp, input index) pairs.
func before(ts1 int64, i1 int, ts2 int64, i2 int) bool {
	return ts1 < ts2 || (ts1 == ts2 && i1 < i2)
}

func (m *Merger) less(a, b *mergeInput) bool {
	return before(a.buf[a.pos].TS, a.idx, b.buf[b.pos].TS, b.idx)
}

func (m *Merger) up(i int) {
	h := m.heap
	for i > 0 {
		parent := (i - 1) / 2
		if !m.less(h[i], h[parent]) {
			return
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (m *Merger) down(i int) {
	h := m.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && m.less(h[r], h[l]) {
			c = r
		}
		if !m.less(h[c], h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// advance restores the heap after the head input handed out packets.
func (m *Merger) advance(t *mergeInput) {
	if t.pos < t.n {
		m.down(0)
		return
	}
	n, _ := t.r.ReadBatch(t.buf)
	if n > 0 {
		t.pos, t.n = 0, n
		m.down(0)
		return
	}
	m.finish(t)
	last := len(m.heap) - 1
	m.heap[0] = m.heap[last]
	m.heap[last] = nil
	m.heap = m.heap[:last]
	if last > 0 {
		m.down(0)
	}
}

// Next copies the next packet in timestamp order into *p. It returns
// io.EOF when every file is exhausted; Err and OpenErrors then say which
// files ended early or could not be read. Nothing retains p.
func (m *Merger) Next(p *schemas.Packet) error {
	m.activateDue()
	if len(m.heap) == 0 {
		return io.EOF
	}
	t := m.heap[0]
	*p = t.buf[t.pos]
	t.pos++
	m.advance(t)
	return nil
}

// ReadBatch copies up to len(ps) packets in timestamp order into ps[:n]
// and returns n. It returns io.EOF only with n == 0, when every file is
// exhausted. Nothing retains ps.
func (m *Merger) ReadBatch(ps []schemas.Packet) (int, error) {
	n := 0
	for n < len(ps) {
		m.activateDue()
		if len(m.heap) == 0 {
			break
		}
		t := m.heap[0]
		end := t.n
		// Hand out the run of t's packets that come before every other
		// input's head and the next file to open.
		limTS, limIdx, limited := int64(0), 0, false
		if len(m.heap) > 1 {
			c := m.heap[1]
			if len(m.heap) > 2 && m.less(m.heap[2], c) {
				c = m.heap[2]
			}
			limTS, limIdx, limited = c.buf[c.pos].TS, c.idx, true
		}
		if len(m.pending) > 0 {
			q := m.pending[0]
			if !limited || before(q.first, q.idx, limTS, limIdx) {
				limTS, limIdx, limited = q.first, q.idx, true
			}
		}
		if limited {
			j := t.pos + 1 // the head itself comes first
			for j < end && before(t.buf[j].TS, t.idx, limTS, limIdx) {
				j++
			}
			end = j
		}
		k := copy(ps[n:], t.buf[t.pos:end])
		n += k
		t.pos += k
		m.advance(t)
	}
	if n == 0 && len(ps) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// FileStats is one input file's share of a Merger's work.
type FileStats struct {
	// Name is the file name as given.
	Name string
	// Stats are the file's counters (FilesSkipped 1 if it failed to open).
	Stats Stats
	// Err is why the file could not be opened or ended early, or nil.
	Err error
}

// Stats returns the counters summed over all files so far.
func (m *Merger) Stats() Stats {
	var s Stats
	for _, in := range m.inputs {
		s.Add(in.currentStats())
	}
	return s
}

func (in *mergeInput) currentStats() Stats {
	if in.r != nil {
		return in.r.Stats()
	}
	return in.stats
}

// FileStats returns the counters of each file, in the order given.
func (m *Merger) FileStats() []FileStats {
	out := make([]FileStats, len(m.inputs))
	for i, in := range m.inputs {
		out[i] = FileStats{Name: in.name, Stats: in.currentStats(), Err: in.currentErr()}
	}
	return out
}

func (in *mergeInput) currentErr() error {
	switch {
	case in.openErr != nil:
		return in.openErr
	case in.r != nil:
		return in.r.Err()
	}
	return in.err
}

// OpenErrors returns the errors of the files that could not be opened,
// each naming its file.
func (m *Merger) OpenErrors() []error { return m.openErr }

// Err joins the errors that ended files early (truncated last records,
// corrupt records, read errors), each naming its file and record; nil if
// every file opened was read to its end.
func (m *Merger) Err() error {
	var errs []error
	for _, in := range m.inputs {
		if in.openErr == nil {
			if err := in.currentErr(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// SkipErrors returns the SkipErrors of every file read so far.
func (m *Merger) SkipErrors() []error {
	var errs []error
	for _, in := range m.inputs {
		if in.r != nil {
			errs = append(errs, in.r.SkipErrors()...)
		} else {
			errs = append(errs, in.skipErrs...)
		}
	}
	return errs
}

// Close closes the files still open. Next and ReadBatch return io.EOF
// afterwards.
func (m *Merger) Close() error {
	var errs []error
	for _, in := range m.heap {
		in.stats = in.r.Stats()
		in.err = in.r.Err()
		in.skipErrs = in.r.SkipErrors()
		if err := in.r.Close(); err != nil {
			errs = append(errs, err)
		}
		in.r = nil
		in.buf = nil
	}
	m.heap = nil
	m.pending = nil
	return errors.Join(errs...)
}
