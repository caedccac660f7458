package alert

import (
	"container/heap"
	"slices"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// suppressor holds one window per (source, rule): the alert that opened it,
// when it closes, and how many repeats it folded. Windows close on the
// record clock; at most max are held (the one closing first goes early).
type suppressor struct {
	window int64
	max    int
	open_  map[supKey]*supWindow
	byEnd  windowHeap
}

type supKey struct{ source, rule string }

type supWindow struct {
	key   supKey
	end   int64
	count int             // alerts folded into this window, the first included
	rec   *schemas.Record // the published alert (a copy shared by its rules' windows)
	index int             // in byEnd
}

func newSuppressor(window time.Duration, max int) *suppressor {
	return &suppressor{window: window.Nanoseconds(), max: max, open_: map[supKey]*supWindow{}}
}

// fold reports whether a hit of rule for source at now falls in an open
// window; if so it is counted there.
func (s *suppressor) fold(source, rule string, now int64) bool {
	w, ok := s.open_[supKey{source, rule}]
	if !ok || now >= w.end {
		return false
	}
	w.count++
	return true
}

// open starts a window for every rule on rec, which is being published.
// The windows share one copy of rec, updated with the counts at close.
func (s *suppressor) open(rec *schemas.Record, now int64) {
	if len(rec.Aegis.Rules) == 0 {
		return
	}
	cp := *rec
	cp.Aegis.Rules = slices.Clone(rec.Aegis.Rules)
	for _, h := range rec.Aegis.Rules {
		k := supKey{rec.Source.IP, h.ID}
		if old, ok := s.open_[k]; ok { // expired but not yet collected
			heap.Remove(&s.byEnd, old.index)
			delete(s.open_, k)
		}
		w := &supWindow{key: k, end: now + s.window, count: 1, rec: &cp}
		s.open_[k] = w
		heap.Push(&s.byEnd, w)
	}
}

// expire closes the windows that end at or before now, and, when more than
// max are open, the ones closing first. It returns the alerts to publish
// again: those whose windows folded repeats, each once, with the counts of
// its closed rules set. The returned records are fresh copies, owned by the
// caller (the window's copy is never handed out, so a later close cannot
// change a record a sink still holds).
func (s *suppressor) expire(now int64) []*schemas.Record {
	var closed []*schemas.Record
	for len(s.byEnd) > 0 && (s.byEnd[0].end <= now || len(s.byEnd) > s.max) {
		w := heap.Pop(&s.byEnd).(*supWindow)
		delete(s.open_, w.key)
		if w.count < 2 {
			continue
		}
		for i := range w.rec.Aegis.Rules {
			if w.rec.Aegis.Rules[i].ID == w.key.rule {
				w.rec.Aegis.Rules[i].Count = w.count
			}
		}
		if !slices.Contains(closed, w.rec) {
			closed = append(closed, w.rec)
		}
	}
	out := make([]*schemas.Record, len(closed))
	for i, r := range closed {
		cp := *r
		cp.Aegis.Rules = slices.Clone(r.Aegis.Rules)
		out[i] = &cp
	}
	return out
}

// windowHeap orders windows by end, then by key for determinism.
type windowHeap []*supWindow

func (h windowHeap) Len() int { return len(h) }
func (h windowHeap) Less(i, j int) bool {
	if h[i].end != h[j].end {
		return h[i].end < h[j].end
	}
	if h[i].key.source != h[j].key.source {
		return h[i].key.source < h[j].key.source
	}
	return h[i].key.rule < h[j].key.rule
}
func (h windowHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *windowHeap) Push(x any) {
	w := x.(*supWindow)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *windowHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	*h = old[:len(old)-1]
	return w
}
