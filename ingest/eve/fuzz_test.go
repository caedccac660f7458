package eve

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
)

// FuzzEVEDecode feeds arbitrary input, split into lines, to one Decoder and
// checks that it never panics, that every error is a *LineError for the
// current line, and that the counters add up.
func FuzzEVEDecode(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(logscantest.CorpusRoot, "suricata-eve-reference", "*.jsonl"))
	seeds = append(seeds, filepath.Join(logscantest.CorpusRoot, "suricata", "output-eve-fileinfo", "expected", "eve.json"))
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(docFlow))
	f.Add([]byte(flowWith(`"proto":"IPv6-ICMP","src_ip":"fe80::1","icmp_type":135,"icmp_code":0,"community_id":"1:x"`)))
	f.Add([]byte(`{"flow_id":43,"event_type":"quic","quic":{"sni":"a\u00e9\ud83d\ude00"}}` + "\n" + `{"event_type":"tls","flow_id":"43","tls":{"sni":"x"}}`))
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
			switch res.Kind {
			case KindFlow:
				fl := res.Flow
				if fl.Line != d.Line() || fl.File != "fuzz.json" || !fl.Orig.Addr().IsValid() || !fl.Resp.Addr().IsValid() ||
					fl.OrigIPBytes != -1 || fl.OrigPkts < 0 || fl.RespBytes < 0 || res.EventType != "flow" {
					t.Fatalf("bad flow %+v at line %d", fl, d.Line())
				}
			case KindContext:
				if res.Context.Line != d.Line() {
					t.Fatalf("sni record line %d at line %d", res.Context.Line, d.Line())
				}
			case KindSkipped:
				if res.EventType == "" || res.EventType == "flow" {
					t.Fatalf("skipped event type %q", res.EventType)
				}
			}
		}
		st := d.Stats()
		if st.Lines != st.Blank+st.Flows+st.Context+st.Skipped+st.Bad {
			t.Fatalf("stats do not add up: %+v", st)
		}
		var events int64
		for _, n := range st.Events {
			events += n
		}
		if events != st.Flows+st.Context+st.Skipped {
			t.Fatalf("Events sum to %d, decoded %d", events, st.Flows+st.Context+st.Skipped)
		}
	})
}
