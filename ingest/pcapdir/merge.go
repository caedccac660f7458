package pcapdir

import (
	"math"
	"slices"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// merge hands out up to len(batch) packets in time order from the open
// files' buffers. A packet waits while an open file with nothing buffered
// might still get an earlier one: a file whose writer is active (it grew
// within MergeWait) and whose last packet is older, unless it is an older
// file of the same writer as the packet's (a writer moves to a new file
// only after finishing the old one).
func (s *Source) merge(now time.Time, batch []schemas.Packet) int {
	n := 0
	pendTS, pendLimited := s.minPending()
	for n < len(batch) && len(s.heap) > 0 {
		t := s.heap[0]
		head := t.buf[t.bpos].TS
		if pendLimited && pendTS <= head {
			if s.activateDue(head, now) {
				for _, e := range slices.Clone(s.opened) {
					if e.state == stateOpen && e.bpos == e.bn && !e.inHeap {
						s.fill(e, now)
					}
				}
			}
			pendTS, pendLimited = s.minPending()
			continue
		}
		// The packets of t that may go: before the next file's head,
		// before the first packet of a file not opened yet, and not after
		// what a silent writer may still write.
		heapLimited := len(s.heap) > 1
		var limTS int64
		var limSeq uint64
		if heapLimited {
			c := s.heap[1]
			if len(s.heap) > 2 && s.less(s.heap[2], c) {
				c = s.heap[2]
			}
			limTS, limSeq = c.buf[c.bpos].TS, c.seq
		}
		blockTS, blocked := int64(math.MaxInt64), false
		for _, e := range s.opened {
			if e.state != stateOpen || e == t || e.bpos < e.bn {
				continue
			}
			if e.group == t.group && e.before(t) {
				continue
			}
			if now.Sub(e.lastGrowth) >= s.cfg.MergeWait {
				continue
			}
			b := int64(math.MinInt64)
			if e.hasLast {
				b = e.lastTS
			}
			if b < blockTS {
				blockTS, blocked = b, true
			}
		}
		if blocked && head > blockTS {
			break
		}
		j := t.bpos + 1
		for j < t.bn && n+(j-t.bpos) < len(batch) {
			ts := t.buf[j].TS
			if heapLimited && !(ts < limTS || (ts == limTS && t.seq < limSeq)) {
				break
			}
			if blocked && ts > blockTS {
				break
			}
			if pendLimited && ts >= pendTS {
				break
			}
			j++
		}
		k := copy(batch[n:], t.buf[t.bpos:j])
		for _, p := range batch[n : n+k] {
			if p.TS < s.clock {
				s.st.Late++
			} else {
				s.clock = p.TS
			}
		}
		n += k
		t.bpos += k
		t.emitted = t.offs[t.bpos-1]
		if t.bpos < t.bn {
			s.down(0)
			continue
		}
		s.popHeap()
		t.emitted = t.readOffset()
		s.fill(t, now)
	}
	return n
}

func (s *Source) less(a, b *entry) bool {
	ta, tb := a.buf[a.bpos].TS, b.buf[b.bpos].TS
	return ta < tb || (ta == tb && a.seq < b.seq)
}

func (s *Source) push(e *entry) {
	e.inHeap = true
	s.heap = append(s.heap, e)
	s.up(len(s.heap) - 1)
}

func (s *Source) popHeap() {
	t := s.heap[0]
	t.inHeap = false
	last := len(s.heap) - 1
	s.heap[0] = s.heap[last]
	s.heap[last] = nil
	s.heap = s.heap[:last]
	if last > 0 {
		s.down(0)
	}
}

func (s *Source) removeHeap(e *entry) {
	i := slices.Index(s.heap, e)
	if i < 0 {
		return
	}
	e.inHeap = false
	last := len(s.heap) - 1
	s.heap[i] = s.heap[last]
	s.heap[last] = nil
	s.heap = s.heap[:last]
	if i < last {
		s.down(i)
		s.up(i)
	}
}

func (s *Source) up(i int) {
	h := s.heap
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (s *Source) down(i int) {
	h := s.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && s.less(h[r], h[l]) {
			c = r
		}
		if !s.less(h[c], h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
