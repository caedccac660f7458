package logscan

import (
	"os"
	"strings"
)

// chunkLen is the number of values in one chunk of a Chunks.
const chunkLen = 4096

// Chunks collects values in fixed-size chunks, so that collecting a
// million large records (the whole-file readers' []schemas.IDSFlow) never
// re-copies what it already holds, as a growing slice does, and the
// garbage collector never meets one huge, growing object. All joins them
// into one slice at the end. The zero value is empty and ready. A Chunks
// is not safe for concurrent use.
type Chunks[T any] struct {
	done [][]T // full chunks
	cur  []T   // the chunk being filled
	n    int
}

// Reserve makes room for n values in the first chunk, so that a caller
// that can estimate the count (from file sizes) gets them back from All
// without any copy. Call it before the first Append; the room is address
// space until it is written (fresh memory from the OS is not touched).
func (c *Chunks[T]) Reserve(n int) {
	if c.n == 0 && c.done == nil && n > cap(c.cur) {
		c.cur = make([]T, 0, n)
	}
}

// EstimateRecords estimates how many records files of the given paths
// hold, at bytesPerRecord bytes each, from their sizes; compressed (.gz)
// and unreadable files count 0, and the result is capped at max.
func EstimateRecords(paths []string, bytesPerRecord int64, max int) int {
	var total int64
	for _, p := range paths {
		if strings.HasSuffix(p, ".gz") {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			total += st.Size()
		}
	}
	return int(min(total/bytesPerRecord, int64(max)))
}

// Append adds v and returns a pointer to the stored copy, valid until the
// next call to All.
func (c *Chunks[T]) Append(v T) *T {
	if len(c.cur) == cap(c.cur) {
		if c.cur != nil {
			c.done = append(c.done, c.cur)
		}
		c.cur = make([]T, 0, chunkLen)
	}
	c.cur = append(c.cur, v)
	c.n++
	return &c.cur[len(c.cur)-1]
}

// Next appends a zero value and returns a pointer to it, for the caller to
// fill in place (a large T is then copied once, not passed by value), valid
// until the next call to All.
func (c *Chunks[T]) Next() *T {
	if len(c.cur) == cap(c.cur) {
		if c.cur != nil {
			c.done = append(c.done, c.cur)
		}
		c.cur = make([]T, 0, chunkLen)
	}
	c.cur = c.cur[:len(c.cur)+1]
	c.n++
	return &c.cur[len(c.cur)-1]
}

// Spare returns a pointer to the slot the next Commit adds, for the
// caller to fill in place (a decoder writes its record straight there: no
// copy). Until Commit, the slot is not one of the values; calls to Spare
// without a Commit between them return the same slot. The pointer is
// valid until the next call to All.
func (c *Chunks[T]) Spare() *T {
	if len(c.cur) == cap(c.cur) {
		if c.cur != nil {
			c.done = append(c.done, c.cur)
		}
		c.cur = make([]T, 0, chunkLen)
	}
	return &c.cur[:len(c.cur)+1][len(c.cur)]
}

// Commit adds the value in the slot of the last Spare call. Call it only
// after Spare.
func (c *Chunks[T]) Commit() {
	c.cur = c.cur[:len(c.cur)+1]
	c.n++
}

// Len returns the number of values appended.
func (c *Chunks[T]) Len() int { return c.n }

// All returns the values in order, in one slice of exactly Len elements
// (nil when empty), and empties c.
func (c *Chunks[T]) All() []T {
	if c.n == 0 {
		return nil
	}
	var out []T
	if len(c.done) == 0 {
		out = c.cur[:len(c.cur):len(c.cur)] // one chunk (or a reserved one): no copy
	} else {
		out = make([]T, 0, c.n)
		for _, ch := range c.done {
			out = append(out, ch...)
		}
		out = append(out, c.cur...)
	}
	*c = Chunks[T]{}
	return out
}
