package eve

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
)

// checkScanFast fails t unless scanFast reads line as scanSlow (the
// member-by-member walk) does: it accepts exactly the lines scanSlow
// accepts, into the same slots.
func checkScanFast(t *testing.T, d *Decoder, line []byte) {
	t.Helper()
	ok := d.scanFast(line)
	fast := d.ev
	err := d.scanSlow(line)
	if ok != (err == nil) {
		t.Fatalf("line %q: scanFast says %v, scanSlow %v", line, ok, err)
	}
	if !ok {
		return
	}
	if fast.set != d.ev.set {
		t.Fatalf("line %q: slots %b, scanSlow %b", line, fast.set, d.ev.set)
	}
	for sl := range fast.v {
		f, s := fast.v[sl], d.ev.v[sl]
		if f.Kind != s.Kind || f.Esc != s.Esc || !bytes.Equal(f.Raw, s.Raw) || (len(f.Raw) > 0 && &f.Raw[0] != &s.Raw[0]) {
			t.Fatalf("line %q: slot %s = %+v, scanSlow %+v", line, slotNames[sl], f, s)
		}
	}
}

var scanSeeds = []string{
	docFlow,
	flowWith(`"proto":"IPv6-ICMP","src_ip":"fe80::1","icmp_type":135,"icmp_code":0,"community_id":"1:x"`),
	`{"flow_id":43,"event_type":"quic","quic":{"sni":"a\u00e9\ud83d\ude00"}}`,
	`{"event_type":"tls","flow_id":"43","tls":{"sni":"x","ja3":{"hash":"h","string":"s"},"ja4":"j"}}`,
	`{"event_type":"flow","flow":1,"tls":[1],"ssh":{"client":{"software_version":"v"}},"http":{"hostname":"h","url":"/"}}`,
	`{"event_type":"flow","flow":{"start":"a","start":"b"},"flow":{"end":"c"},"src_ip":"1","src_ip":"2"}`,
	`{"event_type":"alert","alert":{"gid":1,"signature_id":2,"rev":3,"severity":1,"signature":"s","category":"c","action":"allowed"}}`,
	`{"ev\u0065nt_type":"flow","event_type":"x","flo\u0077":{"start":1}, "flow" : { "st\u0061rt" : 2 , "end" : 3 } }`,
	` { "event_type" : "flow" , "tunnel" : { "depth" : 1 } , "_path" : "conn" } `,
	"{ \"event_type\" :\t\"flow\" ,\n\"flow\" : { \"start\" : \"s\" , \"x\" : [ 1 , { } ] , \"end\":2 } ,\r\"tcp\":{ \"a\" : [ ] } }",
	`{}`, `{"a":1,}`, `{"flow":{"a":1,}}`, `{"flow":{`, `{"flow":{"start":}}`, `[1]`, `{"a":1} x`,
}

func TestScanFastAgreesWithScanSlow(t *testing.T) {
	d, _ := NewDecoder("t.json", Config{})
	lines := scanSeeds
	for _, p := range []string{"testdata/malformed-eve.json"} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for l := range bytes.SplitSeq(data, []byte("\n")) {
			lines = append(lines, string(l))
		}
	}
	for _, l := range lines {
		line := []byte(l)
		checkScanFast(t, d, line)
		for i := range line {
			checkScanFast(t, d, line[:i])
		}
	}
}

func TestScanFastAgreesOnCorpus(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(logscantest.CorpusRoot, "suricata-eve-reference", "*.jsonl"))
	more, _ := filepath.Glob(filepath.Join(logscantest.CorpusRoot, "suricata", "*", "expected", "eve.json"))
	paths = append(paths, more...)
	if len(paths) == 0 {
		t.Skip("corpus not available")
	}
	d, _ := NewDecoder("t.json", Config{})
	n := 0
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			checkScanFast(t, d, sc.Bytes())
			n++
		}
		f.Close()
	}
	t.Logf("%d lines", n)
}

// FuzzEVEScan checks scanFast against scanSlow on arbitrary lines.
func FuzzEVEScan(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		d, _ := NewDecoder("fuzz.json", Config{})
		checkScanFast(t, d, line)
	})
}
