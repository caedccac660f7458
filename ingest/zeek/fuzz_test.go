package zeek

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
)

// FuzzZeekDecode feeds arbitrary input, split into lines, to one Decoder (so
// header state carries from line to line, as in a file) and checks that it
// never panics, that every error is a *LineError for the current line, and
// that the counters add up.
func FuzzZeekDecode(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(logscantest.CorpusRoot, "zeek", "*", "*.log"))
	seeds = append(seeds, "testdata/malformed-conn.log")
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Add([]byte(jsonConn + "\n" + `{"_path":"ssl","uid":"C1","server_name":"a\u00e9"}`))
	f.Add([]byte("#separator \\x7c\n#fields|ts|uid|id.orig_h|id.orig_p|id.resp_h|id.resp_p\n1|C|::1|1|::2|2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDecoder("fuzz.log", Config{ConnPaths: []string{"conn", "conn_long"}})
		if err != nil {
			t.Fatal(err)
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			res, err := d.Decode(line)
			if err != nil {
				logscantest.CheckLineError(t, err, "fuzz.log", d.Line())
				continue
			}
			switch res.Kind {
			case KindConn:
				fl := res.Flow
				if fl.Line != d.Line() || fl.File != "fuzz.log" || !fl.Orig.Addr().IsValid() || !fl.Resp.Addr().IsValid() {
					t.Fatalf("bad flow %+v at line %d", fl, d.Line())
				}
			case KindSSL:
				if res.SSL.Line != d.Line() {
					t.Fatalf("ssl record line %d at line %d", res.SSL.Line, d.Line())
				}
			}
		}
		st := d.Stats()
		if st.Lines != st.Meta+st.Conn+st.SSL+st.Skipped+st.Bad {
			t.Fatalf("stats do not add up: %+v", st)
		}
		var byReason int64
		for _, n := range st.BadByReason {
			byReason += n
		}
		if byReason != st.Bad {
			t.Fatalf("BadByReason sums to %d, Bad is %d", byReason, st.Bad)
		}
	})
}
