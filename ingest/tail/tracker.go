package tail

import "sync"

// tracker is the acknowledgement watermark of one file generation: lines
// are pushed in file order as they are delivered (or skipped), acked in any
// order, and the durable offset advances only over the contiguous prefix of
// acknowledged lines. Safe for concurrent use.
type tracker struct {
	mu     sync.Mutex
	base   int64   // line number of q[head]
	q      []bool  // acked flag per pending line, q[head:] are pending
	ends   []int64 // end offset per pending line, parallel to q
	head   int
	durOff int64 // end offset of the last line of the acked prefix
	durNum int64 // its line number
	dirty  bool  // durable position changed since the last checkpoint
}

func newTracker(off, num int64) *tracker {
	return &tracker{base: num + 1, durOff: off, durNum: num, dirty: true}
}

// push records line num ending at end; acked lines (skipped, too long)
// need no Ack. Lines must be pushed in order.
func (t *tracker) push(num, end int64, acked bool) {
	t.mu.Lock()
	if t.head == len(t.q) {
		// Nothing pending: reset the queue.
		t.q, t.ends, t.head = t.q[:0], t.ends[:0], 0
		t.base = num
		if acked {
			t.durOff, t.durNum, t.dirty = end, num, true
			t.base = num + 1
			t.mu.Unlock()
			return
		}
	}
	t.q = append(t.q, acked)
	t.ends = append(t.ends, end)
	t.mu.Unlock()
}

// ack marks line num acknowledged; it reports false for a line that is not
// pending (acknowledged twice, or never delivered).
func (t *tracker) ack(num int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.head + int(num-t.base)
	if num < t.base || i >= len(t.q) || t.q[i] {
		return false
	}
	t.q[i] = true
	for t.head < len(t.q) && t.q[t.head] {
		t.durOff, t.durNum = t.ends[t.head], t.base
		t.head++
		t.base++
		t.dirty = true
	}
	if t.head > 1024 && t.head*2 > len(t.q) {
		n := copy(t.q, t.q[t.head:])
		copy(t.ends, t.ends[t.head:])
		t.q, t.ends, t.head = t.q[:n], t.ends[:n], 0
	}
	return true
}

// durable returns the durable offset and line number.
func (t *tracker) durable() (off, num int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.durOff, t.durNum
}

// idle reports whether every pushed line is acknowledged.
func (t *tracker) idle() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.head == len(t.q)
}
