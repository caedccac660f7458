package correlate

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

// TestDecodeInput reads detections and recon records as the sensors write
// them, and refuses what is not evidence or is malformed.
func TestDecodeInput(t *testing.T) {
	shell := detection("s", "10.1.2.3", schemas.ClassAgentShell, t0, t0.Add(time.Minute), "10.30.1.20", 22)
	if err := schemacheck.ValidateRecord(shell); err != nil {
		t.Fatalf("test detection is not schema-valid: %v", err)
	}
	in := input(t, shell, "sensor-b")
	if in.Kind != schemas.StepDetection || in.ID != shell.Event.ID || in.Source != "10.1.2.3" || in.Sensor != "sensor-b" ||
		in.Class != schemas.ClassAgentShell || in.Severity != "high" || in.Destination != "10.30.1.20:22" ||
		in.Start != t0.UnixNano() || in.End != t0.Add(time.Minute).UnixNano() || !slices.Equal(in.Techniques, []string{"T1059.004", "T1021.004"}) {
		t.Errorf("detection: %+v", in)
	}
	rc := recon(t, "sensor-a", "2001:db8::5", t0, 44)
	if err := schemacheck.ValidateRecon(rc); err != nil {
		t.Fatalf("recon record is not schema-valid: %v", err)
	}
	in = input(t, rc, "header-name")
	if in.Kind != schemas.StepRecon || in.Sensor != "sensor-a" || in.Source != "2001:db8::5" || in.Targets != 44 || in.Probes != 49 ||
		in.End != t0.UnixNano() || in.Start != t0.Add(-time.Minute).UnixNano() || in.Class != "" || in.Severity != "low" {
		t.Errorf("recon: %+v", in)
	}

	enc := func(mod func(r *schemas.Record)) []byte {
		r := detection("x", "10.1.2.3", schemas.ClassLLMStream, t0, t0.Add(time.Second), "203.0.113.9", 443)
		mod(r)
		b, _ := json.Marshal(r)
		return b
	}
	tests := []struct {
		name string
		raw  []byte
		want error // nil: any error
	}{
		{"analysed flow", enc(func(r *schemas.Record) { r.Event.Kind, r.Aegis.Class = "event", schemas.ClassOther }), ErrNotEvidence},
		{"unknown class", enc(func(r *schemas.Record) { r.Aegis.Class = "robot" }), ErrNotEvidence},
		{"verdict dataset", enc(func(r *schemas.Record) { r.Event.Dataset = "aegis.verdict" }), ErrNotEvidence},
		{"bad id", enc(func(r *schemas.Record) { r.Event.ID = "42" }), nil},
		{"bad source", enc(func(r *schemas.Record) { r.Source.IP = "host-1" }), nil},
		{"no time", enc(func(r *schemas.Record) { r.Event.End, r.Timestamp = "", "" }), nil},
		{"truncated", enc(func(*schemas.Record) {})[:200], nil},
		{"not an object", []byte(`[1,2]`), nil},
		{"trailing data", append(enc(func(*schemas.Record) {}), '}'), nil},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeInput(tt.raw, "s")
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || (tt.want == nil && errors.Is(err, ErrNotEvidence)) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// The fallbacks: @timestamp + duration when event.end is missing; an
	// escaped string; an offset instead of Z.
	r := detection("y", "10.1.2.3", schemas.ClassLLMStream, t0, t0.Add(time.Second), "203.0.113.9", 443)
	r.Event.End = ""
	b, _ := json.Marshal(r)
	b = []byte(strings.Replace(string(b), `"aegis.detection"`, `"aegis\u002edetection"`, 1))
	in, err := DecodeInput(b, "")
	if err != nil || in.End != t0.Add(time.Second).UnixNano() || in.Sensor != "unknown" {
		t.Errorf("fallbacks: %+v, %v", in, err)
	}
}

// FuzzDecodeInput: any bytes decode or fail without panicking, and what a
// detection record (with fuzzed fields) says decodes back unchanged.
func FuzzDecodeInput(f *testing.F) {
	shell, _ := json.Marshal(detection("s", "10.1.2.3", schemas.ClassAgentShell, t0, t0.Add(time.Minute), "10.30.1.20", 22))
	f.Add(shell, "10.1.2.3", "agent_shell", int64(60e9), "sensor-b")
	f.Add([]byte(`{"event":{"id":"x"}}`), "::1", "llm_stream", int64(0), "")
	f.Add([]byte(`{"a":[{"b":[1,2,{"c":"\u00e9"}]}],"event":null}`), "10.0.0.1", "", int64(-1), "s")
	f.Fuzz(func(t *testing.T, raw []byte, src, class string, dur int64, sensor string) {
		DecodeInput(raw, sensor) // must not panic
		r := detection("f", "10.1.2.3", schemas.ClassLLMStream, t0, t0.Add(time.Second), "203.0.113.9", 443)
		r.Source.IP, r.Aegis.Class, r.Event.Duration = src, schemas.Class(class), dur
		b, err := json.Marshal(r)
		if err != nil {
			return
		}
		var f inputFields
		if err := f.scan(b); err != nil {
			t.Fatalf("scan of encoding/json output: %v\n%s", err, b)
		}
		var back schemas.Record // what encoding/json reads (invalid UTF-8 became U+FFFD)
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if f.srcIP != back.Source.IP || f.class != string(back.Aegis.Class) || f.duration != dur || f.id != r.Event.ID || f.end != r.Event.End || f.dstPort != 443 {
			t.Fatalf("scan read %+v from %s", f, b)
		}
	})
}

func BenchmarkDecodeInput(b *testing.B) {
	raw, _ := json.Marshal(detection("s", "10.1.2.3", schemas.ClassAgentShell, t0, t0.Add(time.Minute), "10.30.1.20", 22))
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := DecodeInput(raw, "sensor-b"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeFullRecord(b *testing.B) {
	raw, _ := json.Marshal(detection("s", "10.1.2.3", schemas.ClassAgentShell, t0, t0.Add(time.Minute), "10.30.1.20", 22))
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		var r schemas.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			b.Fatal(err)
		}
	}
}
