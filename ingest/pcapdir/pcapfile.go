package pcapdir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

// Classic pcap layout. The growing-file reader parses classic pcap itself
// (capture's parser is internal to that package and reads a stream, not a
// file that grows under it) and hands each frame to capture's Decoder.
const (
	fileHeaderLen = 24
	recHeaderLen  = 16
	// headLen is how much of a file identifies its content: the file
	// header and the first record header (whose timestamp differs between
	// two generations of a name that tcpdump -C -W truncates and
	// rewrites in place).
	headLen = fileHeaderLen + recHeaderLen
	// maxRecordFloor and maxRecordCeil bound a record's captured length
	// the way capture does (libpcap's MAXIMUM_SNAPLEN, raised by a larger
	// snap length up to the ceiling).
	maxRecordFloor = 262144
	maxRecordCeil  = 64 << 20
)

const (
	magicMicroLE = 0xa1b2c3d4
	magicMicroBE = 0xd4c3b2a1
	magicNanoLE  = 0xa1b23c4d
	magicNanoBE  = 0x4d3cb2a1
	magicNg      = 0x0a0d0d0a
)

// format is what the start of a file says it is.
type format uint8

const (
	formatShort format = iota // too few bytes yet to tell
	formatPcap                // classic pcap: followed as it grows
	formatOther               // pcapng or gzip: read through capture once complete
)

// errReplaced reports that a file's first record changed under the
// reader: the writer truncated the file and wrote a new capture into the
// same inode (tcpdump -C -W reusing a ring slot).
var errReplaced = errors.New("file rewritten in place by the capture writer")

// pcapHeader is what a classic pcap file header says.
type pcapHeader struct {
	bigEndian bool
	tsScale   int64 // nanoseconds per unit of the fraction field
	link      capture.LinkType
	snaplen   uint32
	maxRecord uint32
	// swapLens: files older than 2.4 may give the original length before
	// the captured one (as libpcap and capture handle them).
	swapLens uint8
}

const (
	lensInOrder = iota
	lensMaybeSwapped
	lensSwapped
)

// sniff classifies the first bytes of a file and parses a classic pcap
// header. It returns formatShort while too few bytes are there to decide,
// and an error wrapping capture.ErrNotCapture or
// capture.ErrUnknownLinkType for a file that will never be readable.
func sniff(b []byte) (format, pcapHeader, error) {
	var h pcapHeader
	if len(b) < 4 {
		return formatShort, h, nil
	}
	if b[0] == 0x1f && b[1] == 0x8b {
		return formatOther, h, nil
	}
	var order binary.ByteOrder = binary.LittleEndian
	switch magic := binary.LittleEndian.Uint32(b); magic {
	case magicNg:
		return formatOther, h, nil
	case magicMicroLE:
		h.tsScale = 1000
	case magicNanoLE:
		h.tsScale = 1
	case magicMicroBE:
		h.tsScale, h.bigEndian, order = 1000, true, binary.BigEndian
	case magicNanoBE:
		h.tsScale, h.bigEndian, order = 1, true, binary.BigEndian
	default:
		return formatShort, h, fmt.Errorf("%w (magic %08x)", capture.ErrNotCapture, magic)
	}
	if len(b) < fileHeaderLen {
		return formatShort, h, nil
	}
	major, minor := order.Uint16(b[4:]), order.Uint16(b[6:])
	switch {
	case major != 2:
		return formatShort, h, fmt.Errorf("%w: pcap version %d.%d", capture.ErrNotCapture, major, minor)
	case minor < 3:
		h.swapLens = lensSwapped
	case minor == 3:
		h.swapLens = lensMaybeSwapped
	}
	h.snaplen = order.Uint32(b[16:])
	h.link = capture.LinkType(order.Uint32(b[20:]) & 0xffff)
	h.maxRecord = min(max(h.snaplen, maxRecordFloor), maxRecordCeil)
	if !h.link.Supported() {
		return formatShort, h, fmt.Errorf("link type %v: %w", h.link, capture.ErrUnknownLinkType)
	}
	return formatPcap, h, nil
}

// record parses a record header (at least recHeaderLen bytes).
func (h *pcapHeader) record(b []byte) (ts int64, capLen, wireLen uint32) {
	var sec, frac uint32
	if h.bigEndian {
		sec, frac = binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
		capLen, wireLen = binary.BigEndian.Uint32(b[8:]), binary.BigEndian.Uint32(b[12:])
	} else {
		sec, frac = binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
		capLen, wireLen = binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:])
	}
	if h.swapLens != lensInOrder && (h.swapLens == lensSwapped || capLen > wireLen) {
		capLen, wireLen = wireLen, capLen
	}
	return int64(sec)*1e9 + int64(frac)*h.tsScale, capLen, wireLen
}

// fileID is what the operating system says identifies a file.
type fileID struct{ dev, ino uint64 }

func statID(fi os.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)} //nolint:unconvert // types differ by platform
	}
	return fileID{}
}

// readHead reads up to headLen bytes from the start of r.
func readHead(r io.ReaderAt) ([]byte, error) {
	b := make([]byte, headLen)
	n, err := r.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return b[:n], nil
}

// tailReader reads the records of one classic pcap file that may still be
// growing. It reads with ReadAt, so neither the file position nor a
// concurrent writer matter, and it parses a record only once all of its
// bytes are in the buffer: a half-written last record is waited on (pull
// returns with it still buffered) and never parsed, and a record is never
// counted as corrupt because its tail has not been written yet. Only when
// the caller decides the file is complete (finish) is a partial record
// left over counted as truncated.
//
// A tailReader is not safe for concurrent use; the frames it decodes
// alias its buffer only during pull.
type tailReader struct {
	r    io.ReaderAt
	name string // for errors

	hdrOK  bool
	hdr    pcapHeader
	rawHdr [fileHeaderLen]byte
	dec    *capture.Decoder

	buf      []byte
	bufOff   int64 // file offset of buf[0]
	pos, end int   // buf[pos:end] holds bytes not yet parsed
	maxBuf   int

	// first is the first record header once known: the identity of the
	// file's content, checked after each read that finds new bytes.
	first    [recHeaderLen]byte
	hasFirst bool

	// seen is the file size the reader has seen (the end of what ReadAt
	// returned); it grows as the file does.
	seen int64

	// err is sticky: a rewrite in place, once seen, ends this capture.
	err error

	stats    capture.Stats
	bytes    uint64 // bytes of whole records consumed
	waits    uint64 // pulls that stopped at a partial record
	skipErrs []error
	errSeen  [4]bool
}

// newTailReader prepares to read r from offset off (0 for the start; a
// saved offset must be a record boundary of the same content). buf is the
// initial read buffer, which the reader takes over (it grows a new one for
// records longer than it).
func newTailReader(r io.ReaderAt, name string, off int64, buf []byte) *tailReader {
	return &tailReader{r: r, name: name, buf: buf, bufOff: off, maxBuf: max(len(buf), maxRecordCeil+recHeaderLen)}
}

// offset returns the file offset of the next record to parse.
func (t *tailReader) offset() int64 { return t.bufOff + int64(t.pos) }

// pending returns how many bytes of a partial record are buffered or
// known to be in the file past the last whole record.
func (t *tailReader) pending() int64 { return max(t.seen-t.offset(), int64(t.end-t.pos)) }

// header reads and checks the file header. ok is false while the file is
// too short; err wraps capture.ErrNotCapture or ErrUnknownLinkType for a
// file that is not classic pcap, or is errOther for pcapng and gzip.
func (t *tailReader) header() (ok bool, err error) {
	if t.hdrOK {
		return true, nil
	}
	head, err := readHead(t.r)
	if err != nil {
		return false, err
	}
	t.seen = max(t.seen, int64(len(head)))
	f, h, err := sniff(head)
	if err != nil {
		return false, err
	}
	switch f {
	case formatShort:
		return false, nil
	case formatOther:
		return false, errOther
	}
	d, err := capture.NewDecoder(h.link)
	if err != nil {
		return false, err
	}
	if len(head) >= headLen {
		if t.hasFirst && !bytes.Equal(t.first[:], head[fileHeaderLen:]) {
			// A saved position belongs to another capture.
			return false, errReplaced
		}
		copy(t.first[:], head[fileHeaderLen:])
		t.hasFirst = true
	}
	t.hdr, t.dec, t.hdrOK = h, d, true
	copy(t.rawHdr[:], head)
	if t.bufOff < fileHeaderLen {
		t.bufOff = fileHeaderLen
	}
	return true, nil
}

// errOther reports a pcapng or gzip file, which is read through capture
// once complete rather than followed.
var errOther = errors.New("not classic pcap")

// next returns the next whole record (header and frame), reading more of
// the file when the buffer holds only part of it. ok is false when no
// whole record is available yet. rec aliases the buffer until the next
// call.
func (t *tailReader) next() (rec []byte, ok bool, err error) {
	if t.err != nil {
		return nil, false, t.err
	}
	for {
		need := recHeaderLen
		if t.end-t.pos >= recHeaderLen {
			_, capLen, _ := t.hdr.record(t.buf[t.pos:])
			if capLen > t.hdr.maxRecord {
				return nil, false, fmt.Errorf("%w: captured length %d exceeds the limit %d (snap length %d) at offset %d",
					capture.ErrBadRecord, capLen, t.hdr.maxRecord, t.hdr.snaplen, t.offset())
			}
			need = recHeaderLen + int(capLen)
			if t.end-t.pos >= need {
				rec = t.buf[t.pos : t.pos+need : t.pos+need]
				if !t.hasFirst && t.offset() == fileHeaderLen {
					copy(t.first[:], rec)
					t.hasFirst = true
				}
				t.pos += need
				return rec, true, nil
			}
		}
		got, err := t.fill(need)
		if err != nil || !got {
			if err == nil && t.end > t.pos {
				t.waits++
			}
			return nil, false, err
		}
	}
}

// fill reads what the file holds past the buffered bytes, making room for
// at least need bytes after pos. It reports whether anything was read.
func (t *tailReader) fill(need int) (bool, error) {
	if t.pos > 0 {
		t.end = copy(t.buf, t.buf[t.pos:t.end])
		t.bufOff += int64(t.pos)
		t.pos = 0
	}
	if t.end == len(t.buf) && need > len(t.buf) {
		// Grow for a record longer than the buffer, but only as its
		// bytes arrive: a short file announcing a huge record must not
		// make the reader allocate much.
		nb := make([]byte, min(need, 2*len(t.buf), t.maxBuf))
		copy(nb, t.buf[:t.end])
		t.buf = nb
	}
	if t.end == len(t.buf) {
		return false, nil
	}
	m, err := t.r.ReadAt(t.buf[t.end:], t.bufOff+int64(t.end))
	if err != nil && err != io.EOF {
		return false, err
	}
	if m == 0 {
		return false, nil
	}
	// The bytes count only if the file still holds the same capture.
	if err := t.checkGeneration(); err != nil {
		if err == errReplaced {
			t.err = err
		}
		return false, err
	}
	t.end += m
	t.seen = max(t.seen, t.bufOff+int64(t.end))
	return true, nil
}

// checkGeneration reports errReplaced if the file no longer starts with
// the first record this reader saw. Called after every read that found
// new bytes, it guarantees those bytes belong to the same content: a
// truncation before or during the read shows here as a different (or
// missing) first record.
func (t *tailReader) checkGeneration() error {
	if !t.hasFirst {
		return nil
	}
	var b [recHeaderLen]byte
	n, err := t.r.ReadAt(b[:], fileHeaderLen)
	if err != nil && err != io.EOF {
		return err
	}
	if n < recHeaderLen || !bytes.Equal(b[:], t.first[:]) {
		return errReplaced
	}
	return nil
}

// pull decodes up to len(ps) packets of the records available now into
// ps[:n], and sets offs[i] to the file offset just past packet i's
// record. Records that do not decode are counted and skipped. A partial
// record at the end stays buffered for the next pull. err is an I/O
// error, errReplaced, errOther, or an error wrapping capture.ErrBadRecord
// (after which the rest of the file cannot be parsed).
func (t *tailReader) pull(ps []schemas.Packet, offs []int64) (n int, err error) {
	if ok, err := t.header(); !ok {
		return 0, err
	}
	for n < len(ps) {
		rec, ok, err := t.next()
		if err != nil {
			return n, err
		}
		if !ok {
			return n, nil
		}
		ts, _, wire := t.hdr.record(rec)
		t.stats.Records++
		t.bytes += uint64(len(rec))
		if err := t.dec.Decode(&ps[n], rec[recHeaderLen:], capture.CaptureInfo{TS: ts, WireLen: wire}); err != nil {
			t.skip(err, len(rec)-recHeaderLen, wire)
			continue
		}
		t.stats.Decoded++
		offs[n] = t.offset()
		n++
	}
	return n, nil
}

// skipAll moves past every whole record available now without decoding
// it (StartNow, and counting the packets of a file deleted unread). It
// returns the number of records passed and the timestamp of the last.
func (t *tailReader) skipAll() (records uint64, last int64, err error) {
	if ok, err := t.header(); !ok {
		return 0, 0, err
	}
	for {
		rec, ok, err := t.next()
		if err != nil || !ok {
			return records, last, err
		}
		records++
		last, _, _ = t.hdr.record(rec)
	}
}

// skip counts a record that did not decode and keeps the first error of
// each reason.
func (t *tailReader) skip(err error, captured int, wire uint32) {
	i := 3
	switch err {
	case capture.ErrTruncatedHeader:
		t.stats.TruncatedHeader++
		i = 0
	case capture.ErrNotIP:
		t.stats.NotIP++
		i = 1
	case capture.ErrUnknownLinkType:
		t.stats.UnknownLinkType++
		i = 2
	default:
		t.stats.BadHeader++
	}
	if !t.errSeen[i] {
		t.errSeen[i] = true
		t.skipErrs = append(t.skipErrs, &capture.RecordError{File: t.name, Record: t.stats.Records,
			Err: fmt.Errorf("%w (%d of %d bytes captured)", err, captured, max(int(wire), captured))})
	}
}

// finish is called when the file is complete: a partial record still
// there is counted as truncated, and its error returned.
func (t *tailReader) finish() error {
	p := t.pending()
	if !t.hdrOK || p <= 0 {
		if !t.hdrOK && t.seen > 0 {
			// Shorter than a file header: nothing to count but the file.
			return &capture.RecordError{File: t.name, Err: fmt.Errorf("%w: file header truncated (%d of %d bytes)",
				capture.ErrTruncatedRecord, t.seen, fileHeaderLen)}
		}
		return nil
	}
	t.stats.Records++
	t.stats.TruncatedRecord++
	return &capture.RecordError{File: t.name, Record: t.stats.Records,
		Err: fmt.Errorf("%w: %d bytes of a record at offset %d", capture.ErrTruncatedRecord, p, t.offset())}
}

// restart forgets everything read: the file now holds a new capture.
func (t *tailReader) restart() {
	t.hdrOK, t.hasFirst, t.err = false, false, nil
	t.bufOff, t.pos, t.end, t.seen = 0, 0, 0, 0
}
