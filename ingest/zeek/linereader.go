package zeek

// The line splitter of the file readers.
//
// This file is kept identical in ingest/zeek and ingest/eve apart from the
// package clause; sibling_test.go checks that.

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
)

// lineReader splits a stream into lines. A line longer than max is not
// returned; its length is, so the caller can count it and go on.
type lineReader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

const readBufferSize = 64 << 10

// newLineReader returns a lineReader over r, transparently decompressing
// gzip input (rotated Zeek and Suricata archives are often *.gz).
func newLineReader(r io.Reader, max int) (*lineReader, error) {
	br := bufio.NewReaderSize(r, readBufferSize)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		br = bufio.NewReaderSize(zr, readBufferSize)
	}
	return &lineReader{br: br, max: max}, nil
}

// next returns the next line without its "\n". The slice is valid until
// the next call. tooLong is the length of a line that exceeded max (line is
// then nil). At the end of input it returns io.EOF; a last line without
// "\n" is returned first.
func (lr *lineReader) next() (line []byte, tooLong int, err error) {
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
