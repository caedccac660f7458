package zeek

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
	"github.com/aegis-nsm/aegis/schemas"
)

// zeekJSON rewrites a Zeek ASCII log as Zeek's JSON writer would
// (LogAscii::use_json=T): one object per record with the flattened column
// names as keys, unset fields absent, sets and vectors as arrays, numbers
// as numbers, bools as true/false, and ts either as epoch seconds
// (JSON::TS_EPOCH, the default) or as ISO 8601 with microseconds and "Z"
// (JSON::TS_ISO8601). btest's masked "XXXXXXXXXX.XXXXXX" timestamps are
// kept as that string.
func zeekJSON(t testing.TB, tsv []byte, iso bool) []byte {
	t.Helper()
	var fields, types []string
	sep, setSep, empty, unset := "\t", ",", "(empty)", "-"
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(tsv))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "#separator "); ok {
			sep = string(unescapeZeek(nil, []byte(v)))
			continue
		}
		if strings.HasPrefix(line, "#") {
			name, value, _ := strings.Cut(line[1:], sep)
			switch name {
			case "set_separator":
				setSep = value
			case "empty_field":
				empty = value
			case "unset_field":
				unset = value
			case "fields":
				fields = strings.Split(value, sep)
			case "types":
				types = strings.Split(value, sep)
			}
			continue
		}
		if line == "" {
			continue
		}
		vals := strings.Split(line, sep)
		if len(vals) != len(fields) || len(types) != len(fields) {
			t.Fatalf("row %q does not match header", line)
		}
		out.WriteByte('{')
		n := 0
		for i, v := range vals {
			if v == unset {
				continue // unset: absent
			}
			if n > 0 {
				out.WriteByte(',')
			}
			n++
			key, _ := json.Marshal(fields[i])
			out.Write(key)
			out.WriteByte(':')
			typ := types[i]
			str := func(s string) {
				b, _ := json.Marshal(string(unescapeZeek(nil, []byte(s))))
				out.Write(b)
			}
			switch {
			case strings.HasPrefix(typ, "set[") || strings.HasPrefix(typ, "vector["):
				out.WriteByte('[')
				if v != empty {
					for j, e := range strings.Split(v, setSep) {
						if j > 0 {
							out.WriteByte(',')
						}
						str(e)
					}
				}
				out.WriteByte(']')
			case typ == "time" && v == string(maskedTS):
				str(v)
			case typ == "time" && iso:
				sec, frac, _ := strings.Cut(v, ".")
				s, err1 := strconv.ParseInt(sec, 10, 64)
				us, err2 := strconv.ParseInt((frac + "000000")[:6], 10, 64)
				if err1 != nil || err2 != nil {
					t.Fatalf("ts %q", v)
				}
				str(time.Unix(s, us*1000).UTC().Format("2006-01-02T15:04:05.000000Z"))
			case typ == "time" || typ == "interval" || typ == "count" || typ == "int" || typ == "port" || typ == "double":
				out.WriteString(v)
			case typ == "bool":
				out.WriteString(map[string]string{"T": "true", "F": "false"}[v])
			default:
				if v == empty {
					v = ""
				}
				str(v)
			}
		}
		out.WriteString("}\n")
	}
	return out.Bytes()
}

// stripProvenance clears what differs between a record and its twin from
// another file (name and line).
func stripProvenance(fl []schemas.IDSFlow) []schemas.IDSFlow {
	out := make([]schemas.IDSFlow, len(fl))
	for i, f := range fl {
		f.File, f.Line = "", 0
		out[i] = f
	}
	return out
}

// TestCorpusJSONTwins writes a JSON twin of every corpus conn.log (epoch
// and ISO 8601 timestamps), with its ssl.log where there is one, and checks
// that both decode to the records of the TSV originals.
func TestCorpusJSONTwins(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(logscantest.Corpus(t, "zeek"), "*"))
	n := 0
	for _, dir := range dirs {
		conn := filepath.Join(dir, "conn.log")
		if _, err := os.Stat(conn); err != nil {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			paths := []string{conn}
			if _, err := os.Stat(filepath.Join(dir, "ssl.log")); err == nil {
				paths = append(paths, filepath.Join(dir, "ssl.log"))
			}
			want, wst, err := ReadFiles(paths...)
			if err != nil || wst.Bad != 0 {
				t.Fatalf("TSV: %v %v", err, wst)
			}
			for _, iso := range []bool{false, true} {
				tmp := t.TempDir()
				var jpaths []string
				for _, p := range paths {
					raw, err := os.ReadFile(p)
					if err != nil {
						t.Fatal(err)
					}
					jp := filepath.Join(tmp, strings.TrimSuffix(filepath.Base(p), ".log")+".json")
					if err := os.WriteFile(jp, zeekJSON(t, raw, iso), 0o644); err != nil {
						t.Fatal(err)
					}
					jpaths = append(jpaths, jp)
				}
				got, gst, err := ReadFiles(jpaths...)
				if err != nil || gst.Bad != 0 {
					t.Fatalf("JSON (iso %v): %v %v", iso, err, gst)
				}
				if gst.Conn != wst.Conn || gst.SSL != wst.SSL || gst.SNIAttached != wst.SNIAttached {
					t.Errorf("JSON (iso %v) stats %v, TSV %v", iso, gst, wst)
				}
				if !reflect.DeepEqual(stripProvenance(got), stripProvenance(want)) {
					for i := range min(len(got), len(want)) {
						g, w := stripProvenance(got[i : i+1])[0], stripProvenance(want[i : i+1])[0]
						if !reflect.DeepEqual(g, w) {
							t.Fatalf("JSON (iso %v) record %d:\n got %+v\nwant %+v", iso, i, g, w)
						}
					}
					t.Fatalf("JSON (iso %v): %d records, TSV %d", iso, len(got), len(want))
				}
			}
		})
	}
	if n < 17 {
		t.Errorf("%d conn.logs, want 17", n)
	}
}
