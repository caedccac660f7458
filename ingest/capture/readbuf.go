package capture

import "io"

// readBuf reads a stream through one large buffer and lets the pcap parser
// look at whole records in place, without copying them out.
type readBuf struct {
	r        io.Reader
	buf      []byte
	pos, end int   // buf[pos:end] holds unread bytes
	off      int64 // stream offset of buf[0]
	err      error // sticky: what r returned last (io.EOF at the end)
}

func newReadBuf(r io.Reader, size int) *readBuf {
	return &readBuf{r: r, buf: make([]byte, size)}
}

// offset returns the stream offset of the next unread byte.
func (b *readBuf) offset() int64 { return b.off + int64(b.pos) }

// buffered returns the number of unread bytes in the buffer.
func (b *readBuf) buffered() int { return b.end - b.pos }

// fill tries to make n unread bytes available in buf[pos:end] and reports
// whether it could; it fails only when the stream ends (or errs) first.
// The buffer grows for records longer than it, but only as their bytes
// arrive: a short file claiming a huge record cannot make it allocate much.
func (b *readBuf) fill(n int) bool {
	if b.end-b.pos >= n {
		return true
	}
	if b.err != nil {
		return false
	}
	if b.pos > 0 {
		// Keep the partial record and read a full buffer after it.
		b.end = copy(b.buf, b.buf[b.pos:b.end])
		b.off += int64(b.pos)
		b.pos = 0
	}
	empty := 0
	for b.end < n {
		if b.end == len(b.buf) {
			nb := make([]byte, min(n, 2*len(b.buf)))
			copy(nb, b.buf[:b.end])
			b.buf = nb
		}
		m, err := b.r.Read(b.buf[b.end:])
		b.end += m
		if err != nil {
			b.err = err
			return b.end >= n
		}
		if m == 0 {
			if empty++; empty >= 100 {
				b.err = io.ErrNoProgress
				return false
			}
		}
	}
	return true
}

// Read implements io.Reader for the formats parsed by pcapgo and for gzip:
// buffered bytes first, then straight from the stream.
func (b *readBuf) Read(p []byte) (int, error) {
	if b.pos == b.end {
		if b.err != nil {
			return 0, b.err
		}
		if len(p) >= len(b.buf) {
			n, err := b.r.Read(p)
			b.off += int64(n)
			if err != nil {
				b.err = err
			}
			return n, err
		}
		if !b.fill(1) {
			return 0, b.err
		}
	}
	n := copy(p, b.buf[b.pos:b.end])
	b.pos += n
	return n, nil
}

// ReadByte implements io.ByteReader, so that compress/gzip reads from the
// buffer directly instead of adding its own.
func (b *readBuf) ReadByte() (byte, error) {
	if b.pos == b.end && !b.fill(1) {
		return 0, b.err
	}
	c := b.buf[b.pos]
	b.pos++
	return c, nil
}
