package capture

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aegis-nsm/aegis/schemas"
)

// FileReader reads the packets of one pcap or pcapng file (gzip-compressed
// or not) and decodes them. Records it cannot decode are skipped and
// counted (Stats); the first error of each kind is kept (SkipErrors). A
// FileReader is not safe for concurrent use.
type FileReader struct {
	name   string
	closer io.Closer // the file Open opened; nil for NewReader

	pcap *pcapSource // classic pcap, or
	ng   *ngSource   // pcapng

	stats Stats
	first [numReasons]error
	// unknownLinks lists the pcapng link types already reported beyond
	// the first, so that each unsupported interface type is named once.
	unknownLinks []LinkType
	extraErrs    []error
	err          error
	done         bool
}

// Open opens a capture file with the default Config. See Config.Open.
func Open(path string) (*FileReader, error) {
	return DefaultConfig().Open(path)
}

// NewReader reads a capture from r with the default Config. See
// Config.NewReader.
func NewReader(r io.Reader, name string) (*FileReader, error) {
	return DefaultConfig().NewReader(r, name)
}

// Open opens the capture file at path: classic pcap (microsecond or
// nanosecond timestamps, either byte order) or pcapng, either of them
// gzip-compressed. The error, if any, is a *RecordError naming the file;
// it wraps ErrNotCapture for other formats, ErrUnknownLinkType for a
// classic pcap of an unsupported link type, ErrTruncatedRecord for a file
// too short to hold its header (one just created), or the os error.
// Close the reader when done.
func (c Config) Open(path string) (*FileReader, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &RecordError{File: path, Err: err}
	}
	r, err := c.NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads a capture from r, which stays owned by the caller (Close
// does not close it); name is used in errors and statistics. Errors are as
// for Open.
func (c Config) NewReader(r io.Reader, name string) (*FileReader, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	fr := &FileReader{name: name}
	fr.stats.Files = 1
	if err := fr.open(r, c.ReadBufferSize); err != nil {
		return nil, &RecordError{File: name, Err: err}
	}
	return fr, nil
}

func (r *FileReader) open(rd io.Reader, size int) error {
	b := newReadBuf(rd, size)
	if !b.fill(4) {
		if b.buffered() == 0 && b.err == io.EOF {
			return fmt.Errorf("%w: file is empty", ErrTruncatedRecord)
		}
		return streamEnd(b, "file header truncated")
	}
	if b.buf[b.pos] == 0x1f && b.buf[b.pos+1] == 0x8b {
		gz, err := gzip.NewReader(b)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: gzip header truncated", ErrTruncatedRecord)
			}
			return fmt.Errorf("%w: gzip: %v", ErrNotCapture, err)
		}
		b = newReadBuf(gz, size)
		if !b.fill(4) {
			return streamEnd(b, "file header truncated")
		}
	}
	switch binary.LittleEndian.Uint32(b.buf[b.pos:]) {
	case magicNg:
		ng, err := newNgSource(b, size)
		if err != nil {
			return err
		}
		r.ng = ng
		return nil
	default:
		s, err := newPcapSource(b)
		if err != nil {
			return err
		}
		if !s.link.Supported() {
			return fmt.Errorf("link type %v: %w", s.link, ErrUnknownLinkType)
		}
		r.pcap = s
		return nil
	}
}

// Name returns the file name given to Open or NewReader.
func (r *FileReader) Name() string { return r.name }

// LinkType returns the link type of a classic pcap file, or 0 (with ok
// false) for pcapng, whose interfaces each have their own.
func (r *FileReader) LinkType() (link LinkType, ok bool) {
	if r.pcap == nil {
		return 0, false
	}
	return r.pcap.link, true
}

// Next decodes the next packet into *p, which it overwrites; records that
// do not decode are skipped and counted. It returns io.EOF when the file
// has no more packets, also when reading stopped early; Err then says why.
// Nothing retains p.
func (r *FileReader) Next(p *schemas.Packet) error {
	if r.pcap != nil {
		s := r.pcap
		for !r.done {
			frame, ci, err := s.next()
			if err != nil {
				r.stop(err)
				break
			}
			r.stats.Records++
			if err := decodeFrame(s.link, p, frame, ci); err != nil {
				r.skip(err, frame, ci, s.link, -1)
				continue
			}
			r.stats.Decoded++
			return nil
		}
		return io.EOF
	}
	for !r.done && r.ng != nil {
		frame, ci, link, iface, err := r.ng.next()
		if err != nil {
			r.stop(err)
			break
		}
		r.stats.Records++
		if err := decodeFrame(link, p, frame, ci); err != nil {
			r.skip(err, frame, ci, link, iface)
			continue
		}
		r.stats.Decoded++
		return nil
	}
	return io.EOF
}

// ReadBatch decodes up to len(ps) packets into ps[:n] and returns n. It
// returns io.EOF only with n == 0, when the file has no more packets; Err
// then says whether reading stopped early. Nothing retains ps.
func (r *FileReader) ReadBatch(ps []schemas.Packet) (int, error) {
	n := 0
	if s := r.pcap; s != nil {
		link := s.link
		for n < len(ps) && !r.done {
			frame, ci, err := s.next()
			if err != nil {
				r.stop(err)
				break
			}
			r.stats.Records++
			if err := decodeFrame(link, &ps[n], frame, ci); err != nil {
				r.skip(err, frame, ci, link, -1)
				continue
			}
			n++
		}
		r.stats.Decoded += uint64(n)
	} else {
		for n < len(ps) && r.Next(&ps[n]) == nil {
			n++
		}
	}
	if n == 0 && len(ps) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// skip counts a record that did not decode and keeps the first error of
// its kind (allocating only then).
func (r *FileReader) skip(err error, frame []byte, ci CaptureInfo, link LinkType, iface int) {
	rs := reasonOf(err)
	r.stats.count(rs)
	if rs == reasonUnknownLinkType {
		if r.first[rs] != nil {
			for _, l := range r.unknownLinks {
				if l == link {
					return
				}
			}
			if len(r.unknownLinks) >= 64 {
				return
			}
		}
		r.unknownLinks = append(r.unknownLinks, link)
		e := r.recordError(fmt.Errorf("interface %d: link type %v: %w; the interface's packets are skipped", iface, link, err))
		if r.first[rs] == nil {
			r.first[rs] = e
		} else {
			r.extraErrs = append(r.extraErrs, e)
		}
		return
	}
	if r.first[rs] != nil {
		return
	}
	detail := fmt.Errorf("%w (%d of %d bytes captured)", err, len(frame), max(int(ci.WireLen), len(frame)))
	if iface >= 0 {
		detail = fmt.Errorf("interface %d, link type %v: %w", iface, link, detail)
	}
	r.first[rs] = r.recordError(detail)
}

func (r *FileReader) recordError(err error) *RecordError {
	return &RecordError{File: r.name, Record: r.stats.Records, Err: err}
}

// stop ends reading: at the clean end (io.EOF), at a truncated or corrupt
// record (counted as a record), or at a read error.
func (r *FileReader) stop(err error) {
	r.done = true
	if err == io.EOF {
		return
	}
	var re *recordErr
	if errors.As(err, &re) {
		r.stats.Records++
		rs := reasonOf(err)
		r.stats.count(rs)
		r.err = r.recordError(err)
		if r.first[rs] == nil {
			r.first[rs] = r.err
		}
		return
	}
	r.err = &RecordError{File: r.name, Record: r.stats.Records + 1, Err: err}
}

// Stats returns the counters so far.
func (r *FileReader) Stats() Stats { return r.stats }

// Err returns the error that ended reading before the end of the file (a
// *RecordError wrapping ErrTruncatedRecord, ErrBadRecord or a read error),
// or nil if the file was read to its end or is still being read.
func (r *FileReader) Err() error { return r.err }

// SkipErrors returns, for each kind of skipped record seen so far, the
// error of the first such record (each a *RecordError naming the file and
// record), and one more for each further unsupported link type of a pcapng
// interface. Counts are in Stats. It returns nil if nothing was skipped.
func (r *FileReader) SkipErrors() []error {
	var errs []error
	for _, e := range r.first {
		if e != nil {
			errs = append(errs, e)
		}
	}
	return append(errs, r.extraErrs...)
}

// Close releases the file opened by Open (a reader from NewReader does not
// close its io.Reader). Next and ReadBatch return io.EOF afterwards. Close
// is idempotent.
func (r *FileReader) Close() error {
	r.done = true
	r.pcap, r.ng = nil, nil
	if r.closer == nil {
		return nil
	}
	c := r.closer
	r.closer = nil
	if err := c.Close(); err != nil {
		return &RecordError{File: r.name, Err: err}
	}
	return nil
}

// firstRecordTS returns the timestamp of the first record without decoding
// it, for the Merger to order files it has not opened yet. ok is false if
// the file holds no record.
func (r *FileReader) firstRecordTS() (ts int64, ok bool) {
	switch {
	case r.pcap != nil:
		s := r.pcap
		if !s.fill(pcapRecordHeaderLen) {
			return 0, false
		}
		h := s.buf[s.pos:]
		if s.bigEndian {
			return int64(binary.BigEndian.Uint32(h))*1e9 + int64(binary.BigEndian.Uint32(h[4:]))*s.tsScale, true
		}
		return int64(binary.LittleEndian.Uint32(h))*1e9 + int64(binary.LittleEndian.Uint32(h[4:]))*s.tsScale, true
	case r.ng != nil:
		_, ci, _, _, err := r.ng.next()
		return ci.TS, err == nil
	}
	return 0, false
}
