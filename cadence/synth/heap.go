package synth

// minHeap is a binary min-heap of T ordered by less (ties must be broken by
// less itself, so that the order, and the files written, are
// deterministic). Not safe for concurrent use.
type minHeap[T any] struct {
	items []T
	less  func(a, b T) bool
}

// Len is the number of items.
func (h *minHeap[T]) Len() int { return len(h.items) }

// Top is the least item; the heap must not be empty.
func (h *minHeap[T]) Top() T { return h.items[0] }

// Push adds x.
func (h *minHeap[T]) Push(x T) {
	h.items = append(h.items, x)
	s := h.items
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(s[i], s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// Pop removes and returns the least item; the heap must not be empty.
func (h *minHeap[T]) Pop() T {
	s := h.items
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	var zero T
	s[last] = zero
	h.items = s[:last]
	h.Fix()
	return top
}

// Fix restores the order after the top item's key grew.
func (h *minHeap[T]) Fix() {
	s := h.items
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(s) {
			return
		}
		m := l
		if r := l + 1; r < len(s) && h.less(s[r], s[l]) {
			m = r
		}
		if !h.less(s[m], s[i]) {
			return
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
}
