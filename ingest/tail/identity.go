package tail

import (
	"bytes"
	"errors"
	"hash/fnv"
	"io"
	"os"
	"syscall"
)

// devIno is the part of a FileID the operating system gives.
type devIno struct{ dev, ino uint64 }

func statKey(fi os.FileInfo) (devIno, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return devIno{}, false
	}
	return devIno{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true //nolint:unconvert // types differ by platform
}

func nlink(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink) //nolint:unconvert
	}
	return 1
}

// fpCheck is a content fingerprint: the FNV-64a hash of a file's first n
// bytes. n covers the leading "#" header lines (every Zeek TSV file starts
// with the same "#separator \x09" line) plus up to FingerprintBytes of
// records, or the whole file while it is shorter.
type fpCheck struct {
	N    int64  `json:"len"`
	Sum  uint64 `json:"sum"`
	Full bool   `json:"full"` // N covers the header and FingerprintBytes of records

}

// headerEnd returns the length of the leading lines of b that start with
// "#" and end with "\n".
func headerEnd(b []byte) int {
	end := 0
	for end < len(b) && b[end] == '#' {
		nl := bytes.IndexByte(b[end:], '\n')
		if nl < 0 {
			break
		}
		end += nl + 1
	}
	return end
}

// maxHeaderBytes bounds how much of a file is read looking for the end of
// its header lines.
const maxHeaderBytes = 64 << 10

// fingerprint computes f's fingerprint from its first bytes, reading at
// most size bytes.
func fingerprint(f *os.File, size int64, recordBytes int) (fpCheck, error) {
	head, err := readHead(f, size, recordBytes)
	if err != nil {
		return fpCheck{}, err
	}
	return checkOf(head, recordBytes), nil
}

// readHead returns the bytes f's fingerprint covers (see fpCheck), reading
// at most size bytes. The slice is new.
func readHead(f *os.File, size int64, recordBytes int) ([]byte, error) {
	n := max(min(size, maxHeaderBytes+int64(recordBytes)), 0)
	buf := make([]byte, n)
	m, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:checkOf(buf[:m], recordBytes).N], nil
}

// checkOf is the fingerprint of a file whose first bytes are head (all of
// them, if the file is that short).
func checkOf(head []byte, recordBytes int) fpCheck {
	want := headerEnd(head) + recordBytes
	limit := min(len(head), want)
	h := fnv.New64a()
	h.Write(head[:limit])
	return fpCheck{N: int64(limit), Sum: h.Sum64(), Full: limit == want}
}

// distinctive reports whether head, the first bytes of a file, tells the
// file's content apart from other files': it holds a complete line after
// the "#" header lines (records carry timestamps, ids, line numbers), or a
// Full fingerprint's worth of bytes. Header lines alone do not: every Zeek
// file of a kind starts with nearly the same ones.
func distinctive(head []byte, recordBytes int) bool {
	he := headerEnd(head)
	return bytes.IndexByte(head[he:], '\n') >= 0 || len(head) >= he+recordBytes
}

// agree returns how many bytes a and b have in common at their start when
// one is a prefix of the other (the length of the shorter), and -1 when
// they differ.
func agree(a, b []byte) int {
	n := min(len(a), len(b))
	if !bytes.Equal(a[:n], b[:n]) {
		return -1
	}
	return n
}

// startsWith reports whether f's first len(head) bytes are head. buf is
// scratch space (grown if needed and returned).
func startsWith(f *os.File, head, buf []byte) (bool, []byte, error) {
	if len(head) == 0 {
		return true, buf, nil
	}
	if cap(buf) < len(head) {
		buf = make([]byte, len(head))
	}
	b := buf[:len(head)]
	m, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, buf, err
	}
	return m == len(b) && bytes.Equal(b, head), buf, nil
}

// matches reports whether f's first c.N bytes hash to c.Sum; a file
// shorter than that does not match.
func (c fpCheck) matches(f *os.File) (bool, error) {
	if c.N == 0 {
		return true, nil
	}
	buf := make([]byte, c.N)
	m, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	if int64(m) < c.N {
		return false, nil
	}
	h := fnv.New64a()
	h.Write(buf)
	return h.Sum64() == c.Sum, nil
}
