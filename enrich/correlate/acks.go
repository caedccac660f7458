package correlate

import (
	"errors"
	"log/slog"
	"sync"

	"github.com/aegis-nsm/aegis/enrich/sink"
)

// acks tracks, for one partition, which offsets have been processed and
// which still wait for the sink to acknowledge the campaign records they
// produced; committable is the first offset not fully done. The
// partition's goroutine calls reset, add, cancel and processed; Done
// callbacks (the sink's goroutines) and the committer call the rest.
type acks struct {
	mu      sync.Mutex
	set     bool
	next    int64  // every offset below next was processed
	pending []pend // offsets with records in flight, ascending
	blocked int64  // an offset whose record the sink gave up on at shutdown (-1: none)
}

type pend struct {
	off int64
	n   int
}

func newAcks() *acks { return &acks{blocked: -1} }

// reset starts tracking at offset start.
func (a *acks) reset(start int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.set, a.next, a.pending, a.blocked = true, start, nil, -1
}

// add notes one more record in flight for off.
func (a *acks) add(off int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := len(a.pending); n > 0 && a.pending[n-1].off == off {
		a.pending[n-1].n++
		return
	}
	a.pending = append(a.pending, pend{off, 1})
}

// cancel takes back an add whose record the sink did not accept.
func (a *acks) cancel(off int64) { a.done(off) }

// done notes that one record of off is finished.
func (a *acks) done(off int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.pending {
		if a.pending[i].off == off {
			a.pending[i].n--
			break
		}
	}
	for len(a.pending) > 0 && a.pending[0].n <= 0 {
		a.pending = a.pending[1:]
	}
}

// processed notes that off is processed (its records, if any, were added).
func (a *acks) processed(off int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next = max(a.next, off+1)
}

// committable returns the offset to commit: every record below it was
// processed and its campaign records acknowledged.
func (a *acks) committable() (int64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.set {
		return 0, false
	}
	c := a.next
	if len(a.pending) > 0 {
		c = min(c, a.pending[0].off)
	}
	if a.blocked >= 0 {
		c = min(c, a.blocked)
	}
	return c, true
}

// doneFunc is the Done callback of a campaign record produced at off. A
// record the sink acknowledged, or gave up on for good while going on (a
// record it can never write, counted as failed), is finished; one it gave
// up on because it closed or stopped blocks the commit at off, so the
// next owner publishes it again.
func (a *acks) doneFunc(off int64, s *Service, log *slog.Logger) func(error) {
	return func(err error) {
		if err != nil {
			stopped := errors.Is(err, sink.ErrClosed)
			if e, ok := s.out.(interface{ Err() error }); ok && e.Err() != nil {
				stopped = true
			}
			if stopped {
				a.mu.Lock()
				if a.blocked < 0 || off < a.blocked {
					a.blocked = off
				}
				a.mu.Unlock()
			} else {
				s.c.failed.Add(1)
				log.Error("the sink gave up on a campaign record; it is skipped", "offset", off, "err", err)
			}
		}
		a.done(off)
	}
}
