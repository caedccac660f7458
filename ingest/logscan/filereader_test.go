package logscan

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testDecoder keeps the lines it is given and rejects those that start
// with "bad".
type testDecoder struct {
	file  string
	line  int64
	lines []string
}

func (d *testDecoder) DecodeLine(line []byte) error {
	d.line++
	if bytes.HasPrefix(line, []byte("bad")) {
		return NewLineError(d.file, d.line, "", "bad_test", line, nil)
	}
	d.lines = append(d.lines, string(line))
	return nil
}

func (d *testDecoder) SkipLine() {
	d.line++
	d.lines = append(d.lines, "(skipped)")
}

func TestFileReaderReadLines(t *testing.T) {
	fr := FileReader{Prefix: "test", MaxLineBytes: 8, MaxErrorSamples: 2}
	d := &testDecoder{file: "in"}
	input := "a\nbad1\n" + strings.Repeat("x", 9) + "\nbad2\n\nlast"
	if err := fr.ReadLines(strings.NewReader(input), "in", d); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.lines, "|"); got != "a|(skipped)||last" {
		t.Errorf("lines %q", got)
	}
	var errs []string
	for _, e := range fr.Errors {
		errs = append(errs, e.Error())
	}
	want := `in:2: bad_test "bad1"|in:3: line_too_long: 9 bytes, limit 8`
	if got := strings.Join(errs, "|"); got != want {
		t.Errorf("errors %q\nwant   %q", got, want)
	}
}

func TestFileReaderNoSamples(t *testing.T) {
	for _, max := range []int{0, -1} {
		fr := FileReader{Prefix: "test", MaxLineBytes: 8, MaxErrorSamples: max}
		if err := fr.ReadLines(strings.NewReader("bad\nbad\n"), "in", &testDecoder{}); err != nil || fr.Errors != nil {
			t.Errorf("max %d: %v, %v", max, err, fr.Errors)
		}
	}
}

// failingReader returns data, then err.
type failingReader struct {
	data string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestFileReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	fr := FileReader{Prefix: "test", MaxLineBytes: 100}
	err := fr.ReadLines(&failingReader{"a\nb\nc", boom}, "in", &testDecoder{})
	if !errors.Is(err, boom) || err.Error() != "test: read in after line 2: boom" {
		t.Errorf("err = %v", err)
	}
	err = fr.ReadLines(strings.NewReader("\x1f\x8b broken gzip"), "in.gz", &testDecoder{})
	if err == nil || !strings.HasPrefix(err.Error(), "test: read in.gz: gzip: ") {
		t.Errorf("bad gzip: err = %v", err)
	}
}

func TestFileReaderReadFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log.gz")
	if err := os.WriteFile(a, []byte("1\n2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("3\n"))
	zw.Close()
	if err := os.WriteFile(b, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	fr := FileReader{Prefix: "test", MaxLineBytes: 100}
	var got []string
	read := func(r io.Reader, name string) error {
		d := &testDecoder{file: name}
		err := fr.ReadLines(r, name, d)
		got = append(got, fmt.Sprint(filepath.Base(name), d.lines))
		return err
	}
	missing := filepath.Join(dir, "missing.log")
	err := fr.ReadFiles([]string{a, b, missing, a}, read)
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "test: open ") {
		t.Errorf("err = %v", err)
	}
	if s := strings.Join(got, " "); s != "a.log[1 2] b.log.gz[3]" {
		t.Errorf("read %s", s)
	}
}

func TestLineError(t *testing.T) {
	long := []byte(strings.Repeat("v", 100))
	e := NewLineError("f.log", 7, "id.orig_p", "bad_port", long, errors.New("detail"))
	if len(e.Value) != MaxErrorValue {
		t.Errorf("value of %d bytes", len(e.Value))
	}
	long[0] = 'w' // the value is a copy
	if want := `f.log:7: field id.orig_p: bad_port: detail "` + strings.Repeat("v", 64) + `"`; e.Error() != want {
		t.Errorf("Error() = %q", e.Error())
	}
	if e := NewLineError("", 3, "", "bad_json", nil, nil); e.Error() != "3: bad_json" || e.Unwrap() != nil {
		t.Errorf("Error() = %q", e.Error())
	}
}

func TestTrimLine(t *testing.T) {
	tests := []struct {
		in    string
		first bool
		want  string
	}{
		{"a\r\n", false, "a"},
		{"a\n", false, "a"},
		{"\xef\xbb\xbfa\n", true, "a"},
		{"\xef\xbb\xbfa", false, "\xef\xbb\xbfa"},
		{"", true, ""},
	}
	for _, tt := range tests {
		if got := string(TrimLine([]byte(tt.in), tt.first)); got != tt.want {
			t.Errorf("TrimLine(%q, %v) = %q, want %q", tt.in, tt.first, got, tt.want)
		}
	}
}
