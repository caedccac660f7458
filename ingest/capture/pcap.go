package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Classic pcap magic numbers, as read little-endian from the first four
// bytes of the file.
const (
	magicMicroLE = 0xa1b2c3d4
	magicMicroBE = 0xd4c3b2a1
	magicNanoLE  = 0xa1b23c4d
	magicNanoBE  = 0x4d3cb2a1
	magicNg      = 0x0a0d0d0a // pcapng section header block type
)

const (
	pcapFileHeaderLen   = 24
	pcapRecordHeaderLen = 16
	// maxRecordFloor is the largest record accepted whatever the file's
	// snap length says (libpcap's MAXIMUM_SNAPLEN, as pcapgo);
	// maxRecordCeil bounds what a snap length can raise it to.
	maxRecordFloor = 262144
	maxRecordCeil  = 64 << 20
)

// pcapSource parses classic pcap records straight out of the read buffer.
// This is the hot path of file reading: pcapgo.Reader costs two interface
// calls, a time.Time and a copy per packet, this costs a few loads.
type pcapSource struct {
	*readBuf
	bigEndian bool
	tsScale   int64 // nanoseconds per unit of the fraction field
	link      LinkType
	snaplen   uint32
	maxRecord uint32
	// swapLens is how libpcap treats files older than version 2.4, whose
	// records give the original length before the captured one:
	// lensSwapped for 2.0-2.2, lensMaybeSwapped for 2.3.
	swapLens uint8
}

const (
	lensInOrder = iota
	lensMaybeSwapped
	lensSwapped
)

// recordErr is a source's report that a file ended inside a record or that
// a record is unreadable; the FileReader adds file name and record number.
type recordErr struct {
	kind   error // ErrTruncatedRecord or ErrBadRecord
	detail string
}

// Error formats the kind and the detail.
func (e *recordErr) Error() string {
	if e.detail == "" {
		return e.kind.Error()
	}
	return e.kind.Error() + ": " + e.detail
}

// Unwrap returns the kind (ErrTruncatedRecord or ErrBadRecord).
func (e *recordErr) Unwrap() error { return e.kind }

// newPcapSource parses the 24-byte file header at the start of b.
// The caller has checked that 4 bytes are buffered.
func newPcapSource(b *readBuf) (*pcapSource, error) {
	s := &pcapSource{readBuf: b}
	var order binary.ByteOrder = binary.LittleEndian
	switch magic := binary.LittleEndian.Uint32(b.buf[b.pos:]); magic {
	case magicMicroLE:
		s.tsScale = 1000
	case magicNanoLE:
		s.tsScale = 1
	case magicMicroBE:
		s.tsScale, s.bigEndian, order = 1000, true, binary.BigEndian
	case magicNanoBE:
		s.tsScale, s.bigEndian, order = 1, true, binary.BigEndian
	default:
		return nil, fmt.Errorf("%w (magic %08x)", ErrNotCapture, magic)
	}
	if !b.fill(pcapFileHeaderLen) {
		return nil, streamEnd(b, fmt.Sprintf("file header truncated (%d of %d bytes)", b.buffered(), pcapFileHeaderLen))
	}
	h := b.buf[b.pos : b.pos+pcapFileHeaderLen]
	major, minor := order.Uint16(h[4:]), order.Uint16(h[6:])
	switch {
	case major != 2:
		return nil, fmt.Errorf("%w: pcap version %d.%d", ErrNotCapture, major, minor)
	case minor < 3:
		s.swapLens = lensSwapped
	case minor == 3:
		s.swapLens = lensMaybeSwapped
	}
	s.snaplen = order.Uint32(h[16:])
	// The upper bits carry FCS length and reserved flags.
	s.link = LinkType(order.Uint32(h[20:]) & 0xffff)
	s.maxRecord = min(max(s.snaplen, maxRecordFloor), maxRecordCeil)
	b.pos += pcapFileHeaderLen
	return s, nil
}

// streamEnd is the error for a stream that stopped inside a record (or
// the file header): truncation if it simply ended, else the read error.
func streamEnd(b *readBuf, detail string) error {
	if b.err != nil && b.err != io.EOF && !errors.Is(b.err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("read: %w", b.err)
	}
	return &recordErr{kind: ErrTruncatedRecord, detail: detail}
}

// next returns the next record. frame aliases the read buffer and is valid
// until the next call. err is io.EOF at a clean end, a *recordErr when the
// stream ends inside a record or a record header is unreadable, or the
// read error that ended the stream between records.
func (s *pcapSource) next() (frame []byte, ci CaptureInfo, err error) {
	if !s.fill(pcapRecordHeaderLen) {
		if s.buffered() == 0 {
			switch {
			case s.err == io.EOF:
				return nil, ci, io.EOF
			case errors.Is(s.err, io.ErrUnexpectedEOF):
				// A compressed stream cut short: whatever followed is lost.
				return nil, ci, &recordErr{kind: ErrTruncatedRecord, detail: fmt.Sprintf(
					"compressed stream cut after offset %d", s.offset())}
			}
			return nil, ci, fmt.Errorf("read: %w", s.err)
		}
		return nil, ci, streamEnd(s.readBuf, fmt.Sprintf("%d of %d header bytes at offset %d",
			s.buffered(), pcapRecordHeaderLen, s.offset()))
	}
	h := s.buf[s.pos : s.pos+pcapRecordHeaderLen]
	var sec, frac, capLen, wireLen uint32
	if s.bigEndian {
		sec = binary.BigEndian.Uint32(h)
		frac = binary.BigEndian.Uint32(h[4:])
		capLen = binary.BigEndian.Uint32(h[8:])
		wireLen = binary.BigEndian.Uint32(h[12:])
	} else {
		sec = binary.LittleEndian.Uint32(h)
		frac = binary.LittleEndian.Uint32(h[4:])
		capLen = binary.LittleEndian.Uint32(h[8:])
		wireLen = binary.LittleEndian.Uint32(h[12:])
	}
	if s.swapLens != lensInOrder && (s.swapLens == lensSwapped || capLen > wireLen) {
		capLen, wireLen = wireLen, capLen
	}
	if capLen > s.maxRecord {
		return nil, ci, &recordErr{kind: ErrBadRecord, detail: fmt.Sprintf(
			"captured length %d exceeds the limit %d (snap length %d) at offset %d",
			capLen, s.maxRecord, s.snaplen, s.offset())}
	}
	n := pcapRecordHeaderLen + int(capLen)
	if !s.fill(n) {
		return nil, ci, streamEnd(s.readBuf, fmt.Sprintf("%d of %d bytes at offset %d",
			s.buffered(), n, s.offset()))
	}
	frame = s.buf[s.pos+pcapRecordHeaderLen : s.pos+n : s.pos+n]
	s.pos += n
	ci.TS = int64(sec)*1e9 + int64(frac)*s.tsScale
	ci.WireLen = wireLen
	return frame, ci, nil
}
