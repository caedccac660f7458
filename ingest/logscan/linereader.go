package logscan

// The line splitter of the file readers.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
)

// LineReader splits a stream into lines. A line longer than its limit is
// not returned; its length is, so the caller can count it and go on.
type LineReader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

// ReadBufferSize is the size of a LineReader's read buffer. A line that
// fits in it is returned without copying; a longer one is gathered into a
// buffer of the LineReader's own.
const ReadBufferSize = 64 << 10

// NewLineReader returns a LineReader over r that drops lines longer than
// max bytes (not counting the "\n"), transparently decompressing gzip input
// (rotated Zeek and Suricata archives are often *.gz). The error is that of
// a gzip header that does not read.
func NewLineReader(r io.Reader, max int) (*LineReader, error) {
	br := bufio.NewReaderSize(r, ReadBufferSize)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		br = bufio.NewReaderSize(zr, ReadBufferSize)
	}
	return &LineReader{br: br, max: max}, nil
}

// Next returns the next line without its "\n" (a "\r" before it is kept).
// The slice is valid until the next call. tooLong is the length of a line
// that exceeded the limit (line is then nil). At the end of input it
// returns io.EOF; a last line without "\n" is returned first. Any other
// error is the underlying reader's (or the gzip stream's).
func (lr *LineReader) Next() (line []byte, tooLong int, err error) {
	chunk, err := lr.br.ReadSlice('\n')
	if err == nil {
		if len(chunk)-1 > lr.max {
			return nil, len(chunk) - 1, nil
		}
		return chunk[:len(chunk)-1], 0, nil
	}
	// A long line (or the last line without "\n"): gather it.
	lr.buf = lr.buf[:0]
	n := 0 // bytes of the line, without its "\n"
	for {
		if err == nil {
			chunk = chunk[:len(chunk)-1] // the "\n" that ends the line
		}
		n += len(chunk)
		if n <= lr.max {
			lr.buf = append(lr.buf, chunk...)
		}
		if err != bufio.ErrBufferFull {
			break
		}
		chunk, err = lr.br.ReadSlice('\n')
	}
	switch {
	case errors.Is(err, io.EOF):
		if n == 0 {
			return nil, 0, io.EOF
		}
	case err != nil:
		return nil, 0, err
	}
	if n > lr.max {
		return nil, n, nil
	}
	return lr.buf, 0, nil
}

// TrimLine returns line without its "\n" or "\r\n" ending and, for the
// first line of a file, without a UTF-8 byte order mark: the line as the
// decoders read it.
func TrimLine(line []byte, first bool) []byte {
	// bytes.TrimRight(line, "\r\n"), without building its byte set.
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	if first {
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	}
	return line
}
