package zeek

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/ingest/logscan"
	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
	"github.com/aegis-nsm/aegis/schemas"
)

func TestReadGzip(t *testing.T) {
	src := logscantest.Corpus(t, "zeek/ssh-basic/conn.log")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	gz := filepath.Join(t.TempDir(), "conn.00:00:00-01:00:00.log.gz")
	if err := os.WriteFile(gz, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	plain, _, err := ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	flows, st, err := ReadFile(gz)
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != len(plain) || st.Bad != 0 {
		t.Fatalf("gzip: %d flows, plain %d, stats %+v", len(flows), len(plain), st)
	}
	for i := range flows {
		flows[i].File = plain[i].File
		if !reflect.DeepEqual(flows[i], plain[i]) {
			t.Errorf("flow %d differs: %+v vs %+v", i, flows[i], plain[i])
		}
	}
}

func TestReadLineTooLong(t *testing.T) {
	long := row(7, strings.Repeat("x", 5000))
	input := strings.Join(append(append([]string(nil), connHeader...), connRow, long, row(1, "CAfter")), "\n") + "\n"
	flows, st, err := Read(strings.NewReader(input), "conn.log", Config{MaxLineBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 2 || flows[1].UID != "CAfter" || flows[1].Line != 11 {
		t.Fatalf("flows %+v", flows)
	}
	if st.BadByReason[ReasonLineTooLong] != 1 || len(st.Errors) != 1 || st.Errors[0].Line != 10 || st.Lines != 11 {
		t.Errorf("stats %+v, errors %v", st, st.Errors)
	}
	// With the default limit the long line is an ordinary record.
	flows, _, err = Read(strings.NewReader(input), "conn.log", Config{})
	if err != nil || len(flows) != 3 || len(flows[1].Service) != 5000 {
		t.Errorf("default limit: %v, %d flows", err, len(flows))
	}
}

func TestReadLongLineAcrossBuffers(t *testing.T) {
	// Lines longer than the reader's buffer are gathered, and the last
	// line without "\n" is still read.
	long := row(7, strings.Repeat("s", 3*logscan.ReadBufferSize))
	input := strings.Join(append(append([]string(nil), connHeader...), long, connRow), "\n")
	flows, st, err := Read(strings.NewReader(input), "conn.log", Config{})
	if err != nil || len(flows) != 2 || len(flows[0].Service) != 3*logscan.ReadBufferSize || st.Bad != 0 {
		t.Fatalf("%v, %d flows, %+v", err, len(flows), st)
	}
}

func TestReadErrorSamples(t *testing.T) {
	lines := append([]string(nil), connHeader...)
	for range 150 {
		lines = append(lines, "bad")
	}
	input := strings.Join(lines, "\n")
	_, st, _ := Read(strings.NewReader(input), "conn.log", Config{})
	if st.Bad != 150 || len(st.Errors) != DefaultMaxErrorSamples {
		t.Errorf("Bad %d, %d samples", st.Bad, len(st.Errors))
	}
	_, st, _ = Read(strings.NewReader(input), "conn.log", Config{MaxErrorSamples: -1})
	if st.Bad != 150 || len(st.Errors) != 0 {
		t.Errorf("Bad %d, %d samples", st.Bad, len(st.Errors))
	}
}

func TestReadUnreadableFile(t *testing.T) {
	_, _, err := ReadFile(filepath.Join(t.TempDir(), "missing.log"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "zeek: ") {
		t.Errorf("err = %v", err)
	}
	// ReadFiles returns what it read before the unreadable file.
	conn := logscantest.Corpus(t, "zeek/ssh-basic/conn.log")
	flows, st, err := ReadFiles(conn, filepath.Join(t.TempDir(), "missing.log"))
	if err == nil || len(flows) != 25 || st.Conn != 25 {
		t.Errorf("err %v, %d flows", err, len(flows))
	}
	// A directory opens but cannot be read.
	if _, _, err := ReadFile(t.TempDir()); err == nil {
		t.Error("reading a directory: no error")
	}
}

func TestReadFilesOrder(t *testing.T) {
	a, b := logscantest.Corpus(t, "zeek/redis-50-pings/conn.log"), logscantest.Corpus(t, "zeek/sctp-unknown-proto/conn.log")
	flows, st, err := ReadFiles(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 2 || flows[0].File != a || flows[1].File != b || st.Conn != 2 || st.HeaderBlocks != 2 {
		t.Errorf("flows %+v, stats %+v", flows, st)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	bad := []Config{
		{MaxLineBytes: -1},
		{MaxErrorSamples: -2},
		{ConnPaths: []string{""}},
		{ConnPaths: []string{"conn"}, SSLPaths: []string{"conn"}},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
		if _, err := NewDecoder("x", c); err == nil {
			t.Errorf("NewDecoder(%+v): no error", c)
		}
		if _, _, err := ReadFilesConfig(c); err == nil {
			t.Errorf("ReadFilesConfig(%+v): no error", c)
		}
	}
}

func TestReadFileConcurrent(t *testing.T) {
	path := logscantest.Corpus(t, "zeek/wikipedia/conn.log")
	logscantest.CheckConcurrentReads(t, 8, func() ([]schemas.IDSFlow, error) {
		flows, _, err := ReadFile(path)
		return flows, err
	})
}
