package logscan

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
)

func TestLineReader(t *testing.T) {
	long := strings.Repeat("y", ReadBufferSize+10)
	input := "a\n\n" + long + "\nbb\r\n" + strings.Repeat("z", 2*ReadBufferSize) + "\nlast"
	lr, err := NewLineReader(strings.NewReader(input), ReadBufferSize+10)
	if err != nil {
		t.Fatal(err)
	}
	type out struct {
		line    string
		tooLong int
	}
	var got []out
	for {
		line, tooLong, err := lr.Next()
		if err != nil {
			break
		}
		got = append(got, out{string(line), tooLong})
	}
	want := []out{{"a", 0}, {"", 0}, {long, 0}, {"bb\r", 0}, {"", 2 * ReadBufferSize}, {"last", 0}}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %q (too long %d), want %q (%d)", i, got[i].line[:min(20, len(got[i].line))], got[i].tooLong, want[i].line[:min(20, len(want[i].line))], want[i].tooLong)
		}
	}
}

func TestLineReaderGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("one\ntwo\n"))
	zw.Close()
	lr, err := NewLineReader(&buf, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		line, _, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line))
	}
	if strings.Join(got, "|") != "one|two" {
		t.Errorf("got %q", got)
	}
}
