package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

// TestKcatReadsWhatAegisWrote: a third-party client (kcat, librdkafka)
// reads what the sink wrote, with every codec: the keys, the Aegis
// headers and schema-valid JSON values, every record exactly once.
func TestKcatReadsWhatAegisWrote(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not on PATH (Debian/Ubuntu: apt-get install kcat); this test checks that a third-party client reads what Aegis writes")
	}
	lines, recs := replayRecords(t)
	for _, codec := range Compressions {
		t.Run(codec, func(t *testing.T) {
			k := newKafka(t, 3)
			cfg := k.config()
			cfg.Compression = codec
			s := newSink(t, cfg)
			sent := make([]testRecord, 0, len(lines)+200)
			for i := range lines {
				sent = append(sent, testRecord{value: lines[i], rec: recs[i]})
			}
			sent = append(sent, synthRecords(t, recs, 200, 17, t.Name())...)
			writeAll(t, s, sink.KindDetection, sent)

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, kcat, "-C", "-b", strings.Join(k.addrs, ","), "-t", k.topics[sink.KindDetection],
				"-o", "beginning", "-e", "-q", "-f", `%k\t%h\t%s\n`)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("kcat: %v\n%s", err, stderr.Bytes())
			}
			want := make(map[string]*testRecord, len(sent))
			for i := range sent {
				want[sent[i].rec.Event.ID] = &sent[i]
			}
			wantHeaders := map[string]string{HeaderSchemaVersion: schemas.SchemaVersion, HeaderKind: "detection", HeaderSensor: "sensor-test-1"}
			seen := map[string]bool{}
			n := 0
			for line := range strings.SplitSeq(strings.TrimSuffix(string(out), "\n"), "\n") {
				n++
				parts := strings.SplitN(line, "\t", 3)
				if len(parts) != 3 {
					t.Fatalf("kcat line %d: %q: want key, headers and value", n, line)
				}
				key, headers, value := parts[0], parts[1], parts[2]
				var v struct {
					Event struct {
						ID string `json:"id"`
					} `json:"event"`
				}
				if err := json.Unmarshal([]byte(value), &v); err != nil {
					t.Fatalf("kcat line %d: value is not JSON: %v", n, err)
				}
				if err := schemacheck.ValidateJSON([]byte(value)); err != nil {
					t.Errorf("record %s read by kcat fails the schema: %v", v.Event.ID, err)
				}
				r, ok := want[v.Event.ID]
				if !ok {
					t.Errorf("kcat read unknown record %s", v.Event.ID)
					continue
				}
				if seen[v.Event.ID] {
					t.Errorf("kcat read record %s twice", v.Event.ID)
				}
				seen[v.Event.ID] = true
				if value != string(r.value) {
					t.Errorf("record %s: kcat read another value", v.Event.ID)
				}
				if key != r.rec.Source.IP {
					t.Errorf("record %s: key %q, want %q", v.Event.ID, key, r.rec.Source.IP)
				}
				got := map[string]string{}
				for h := range strings.SplitSeq(headers, ",") {
					name, val, _ := strings.Cut(h, "=")
					got[name] = val
				}
				for name, val := range wantHeaders {
					if got[name] != val {
						t.Errorf("record %s: header %s = %q, want %q (kcat %%h: %q)", v.Event.ID, name, got[name], val, headers)
					}
				}
			}
			if len(seen) != len(sent) || n != len(sent) {
				t.Errorf("kcat read %d lines, %d distinct records; %d were written", n, len(seen), len(sent))
			}
		})
	}
}
