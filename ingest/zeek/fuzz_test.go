package zeek

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

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
		d, err := NewDecoder("fuzz.log", Config{})
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

// FuzzZeekJSON feeds Zeek JSON logs, seeded with JSON twins (epoch and ISO
// 8601 ts) of every corpus log written as Zeek's JSON writer would, to one
// Decoder, with the checks of FuzzZeekDecode.
func FuzzZeekJSON(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(logscantest.CorpusRoot, "zeek", "*", "*.log"))
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil && len(data) < 64<<10 {
			f.Add(zeekJSON(f, data, false))
			f.Add(zeekJSON(f, data, true))
		}
	}
	f.Add([]byte(jsonConn))
	f.Add([]byte(`{"_path":"conn_long","ts":"2026-11-25T10:00:00.123456Z","uid":"C1","id":{"orig_h":"::1","orig_p":1,"resp_h":"::2","resp_p":2},"proto":"tcp","duration":600.5}`))
	f.Add([]byte(`{"timestamp":"2026-11-25T10:00:00.000000+0000","event_type":"flow","src_ip":"10.0.0.1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDecoder("fuzz.json", Config{})
		if err != nil {
			t.Fatal(err)
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			res, err := d.Decode(line)
			if err != nil {
				logscantest.CheckLineError(t, err, "fuzz.json", d.Line())
				continue
			}
			if res.Kind == KindConn {
				fl := res.Flow
				if fl.Line != d.Line() || !fl.Orig.Addr().IsValid() || !fl.Resp.Addr().IsValid() ||
					fl.Interim != (res.Path == "conn_long") || !utf8.ValidString(fl.UID) || !utf8.ValidString(fl.Service) {
					t.Fatalf("bad flow %+v (path %q) at line %d", fl, res.Path, d.Line())
				}
			}
		}
		st := d.Stats()
		if st.Lines != st.Meta+st.Conn+st.SSL+st.Skipped+st.Bad {
			t.Fatalf("stats do not add up: %+v", st)
		}
	})
}
