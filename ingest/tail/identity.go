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
	n := min(size, maxHeaderBytes+int64(recordBytes))
	buf := make([]byte, n)
	m, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fpCheck{}, err
	}
	buf = buf[:m]
	want := headerEnd(buf) + recordBytes
	limit := min(len(buf), want)
	h := fnv.New64a()
	h.Write(buf[:limit])
	return fpCheck{N: int64(limit), Sum: h.Sum64(), Full: limit == want}, nil
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
