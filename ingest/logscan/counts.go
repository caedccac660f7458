package logscan

// The per-key counters of the decoders' Stats.

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Counts counts lines by a string key: rejected lines by Reason, skipped
// records by log path or event type. It is a plain map, to index, range
// and clone as one; the methods that count make it when it is nil, so a
// nil Counts is ready to use.
type Counts[K ~string] map[K]int64

// Inc counts one k.
func (c *Counts[K]) Inc(k K) {
	if *c == nil {
		*c = make(Counts[K])
	}
	(*c)[k]++
}

// IncBounded counts one k, unless k is new and c already holds max keys:
// then it counts one other instead, so that garbled input cannot grow c
// without limit.
func (c *Counts[K]) IncBounded(k K, max int, other K) {
	if *c == nil {
		*c = make(Counts[K])
	}
	if _, ok := (*c)[k]; !ok && len(*c) >= max {
		k = other
	}
	(*c)[k]++
}

// Add adds the counts of o to c (with no bound).
func (c *Counts[K]) Add(o Counts[K]) {
	for k, v := range o {
		if *c == nil {
			*c = make(Counts[K])
		}
		(*c)[k] += v
	}
}

// WriteSorted writes " (k1 n1, k2 n2)", in key order, to b; nothing when c
// is empty.
func (c Counts[K]) WriteSorted(b *strings.Builder) {
	if len(c) == 0 {
		return
	}
	b.WriteString(" (")
	for i, k := range slices.Sorted(maps.Keys(c)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%s %d", k, c[k])
	}
	b.WriteString(")")
}
