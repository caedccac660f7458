package eve

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
	"github.com/aegis-nsm/aegis/schemas"
)

// testdata/malformed-eve.json: good events around bad ones of every kind.
func TestMalformedEVEFile(t *testing.T) {
	const path = "testdata/malformed-eve.json"
	flows, st, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range flows {
		got = append(got, f.Orig.String()+"@"+strconv.FormatInt(f.Line, 10)+"/"+f.SNI)
	}
	want := "10.0.0.1:1001@2/api.openai.com 10.0.0.1:1004@7/ 10.0.0.1:1009@14/"
	if strings.Join(got, " ") != want {
		t.Errorf("flows %s\nwant  %s", strings.Join(got, " "), want)
	}
	wantErrs := []struct {
		line   int64
		field  string
		reason Reason
	}{
		{3, "", ReasonBadJSON},                      // truncated
		{4, "", ReasonBadJSON},                      // garbage
		{5, "flow_id", ReasonBadNumber},             // negative
		{6, "src_port", ReasonBadPort},              // out of range
		{8, "flow.start", ReasonBadTimestamp},       // no zone
		{9, "flow.bytes_toserver", ReasonBadNumber}, // float
		{10, "event_type", ReasonMissingField},      // no event_type
		{12, "dest_ip", ReasonBadAddress},           // bad address
		{15, "", ReasonBadJSON},                     // partial last line
	}
	if len(st.Errors) != len(wantErrs) {
		t.Fatalf("%d errors, want %d: %v", len(st.Errors), len(wantErrs), st.Errors)
	}
	for i, w := range wantErrs {
		e := st.Errors[i]
		if e.File != path || e.Line != w.line || e.Field != w.field || e.Reason != w.reason {
			t.Errorf("error %d = %v, want line %d field %q reason %s", i, e, w.line, w.field, w.reason)
		}
	}
	if st.Lines != 15 || st.Bad != 9 || st.Blank != 1 || st.Flows != 3 || st.Context != 2 || st.Skipped != 0 || st.ContextUnmatched != 1 ||
		st.ContextMatched != 1 || st.SNIAttached != 1 || st.BadByReason[ReasonBadJSON] != 3 {
		t.Errorf("stats %+v", st)
	}
	if s := st.Errors[3].Error(); s != `testdata/malformed-eve.json:6: field src_port: bad_port "70000"` {
		t.Errorf("error text %q", s)
	}
}

func TestReadFilesThreaded(t *testing.T) {
	// threaded: yes writes one file per thread; the tls event of a flow
	// may be in another file than its flow event.
	dir := t.TempDir()
	tls := `{"timestamp":"2026-11-25T10:00:00.100000+0000","flow_id":77,"event_type":"tls","tls":{"sni":"api.anthropic.com"}}`
	a, b := filepath.Join(dir, "eve.1.json"), filepath.Join(dir, "eve.2.json")
	os.WriteFile(a, []byte(tls+"\n"), 0o644)
	os.WriteFile(b, []byte(flowWith(`"flow_id":77`)+"\n"+flowWith(`"flow_id":78`)+"\n"), 0o644)
	flows, st, err := ReadFiles(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 2 || flows[0].SNI != "api.anthropic.com" || flows[1].SNI != "" || flows[0].File != b || st.SNIAttached != 1 {
		t.Errorf("flows %+v, stats %+v", flows, st)
	}
}

func TestReadGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(docFlow + "\n"))
	zw.Close()
	p := filepath.Join(t.TempDir(), "eve.json.1.gz")
	os.WriteFile(p, buf.Bytes(), 0o644)
	flows, st, err := ReadFile(p)
	if err != nil || len(flows) != 1 || flows[0].FlowID != 1676750115612680 || st.Bad != 0 {
		t.Errorf("%v, %+v, %+v", err, flows, st)
	}
}

func TestReadLineTooLong(t *testing.T) {
	long := flowWith(`"pad":"` + strings.Repeat("x", 4000) + `"`)
	input := flowWith() + "\n" + long + "\n" + flowWith(`"src_port":7`) + "\n"
	flows, st, err := Read(strings.NewReader(input), "eve.json", Config{MaxLineBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 2 || flows[1].Line != 3 || st.BadByReason[ReasonLineTooLong] != 1 || st.Errors[0].Line != 2 {
		t.Errorf("flows %+v, stats %+v", flows, st)
	}
}

func TestReadUnreadableFile(t *testing.T) {
	_, _, err := ReadFile(filepath.Join(t.TempDir(), "missing.json"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "eve: ") {
		t.Errorf("err = %v", err)
	}
	if _, _, err := ReadFile(t.TempDir()); err == nil {
		t.Error("reading a directory: no error")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	for _, c := range []Config{{MaxLineBytes: -1}, {MaxErrorSamples: -2}} {
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
	path := logscantest.Corpus(t, "suricata-eve-reference/eve-doc-examples.jsonl")
	logscantest.CheckConcurrentReads(t, 8, func() ([]schemas.IDSFlow, error) {
		flows, _, err := ReadFile(path)
		return flows, err
	})
}

func TestStatsString(t *testing.T) {
	_, st, err := ReadFile("testdata/malformed-eve.json")
	if err != nil {
		t.Fatal(err)
	}
	want := "15 lines: 3 flow, 2 context, 0 skipped, 9 bad (bad_address 1, bad_json 3, bad_number 2, bad_port 1, bad_timestamp 1, missing_field 1); context matched 1, unmatched 1; sni attached 1, alerts attached 0"
	if got := st.String(); got != want {
		t.Errorf("String() = %q\nwant        %q", got, want)
	}
}
