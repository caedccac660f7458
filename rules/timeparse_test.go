package rules

import (
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

func TestParseTime(t *testing.T) {
	for _, s := range []string{
		"2026-01-02T03:04:05Z", "2026-01-02T03:04:05.1Z", "2026-01-02T03:04:05.123456789Z",
		"2024-02-29T23:59:59.999999999Z", "1970-01-01T00:00:00Z", "2000-03-01T00:00:00Z", "2100-12-31T12:00:00.5Z",
		"2026-01-02T03:04:05+02:00", "2026-01-02T03:04:05.25-07:30",
	} {
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseTime(s)
		if !ok || got != want.UnixNano() {
			t.Errorf("%s: got %d %v, want %d", s, got, ok, want.UnixNano())
		}
	}
	for _, s := range []string{"", "yesterday", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-01-02T24:00:00Z", "2026-01-02T03:04:05.Z", "2026-01-02 03:04:05Z"} {
		if _, ok := parseTime(s); ok {
			t.Errorf("%q parsed", s)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	f.Add("2026-01-02T03:04:05.123456789Z")
	f.Add("2024-02-29T23:59:59Z")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUTC(s)
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("%q: fast path accepted what time.Parse rejects: %v", s, err)
		}
		if got != want.UnixNano() {
			t.Fatalf("%q: %d, want %d", s, got, want.UnixNano())
		}
	})
}

func TestRecordTimes(t *testing.T) {
	end := "2026-01-01T00:01:00Z"
	endNs := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC).UnixNano()
	for _, tt := range []struct {
		name       string
		ev         schemas.Event
		ts         string
		start, end int64
		ok         bool
	}{
		{"end and duration", schemas.Event{End: end, Duration: int64(time.Minute)}, "", endNs - int64(time.Minute), endNs, true},
		{"end and start", schemas.Event{End: end, Start: "2026-01-01T00:00:30Z"}, "", endNs - int64(30*time.Second), endNs, true},
		{"end only", schemas.Event{End: end}, "", endNs, endNs, true},
		{"timestamp and duration", schemas.Event{Duration: int64(time.Minute)}, "2026-01-01T00:00:00Z", endNs - int64(time.Minute), endNs, true},
		{"nothing", schemas.Event{}, "", 0, 0, false},
	} {
		rec := &schemas.Record{Event: tt.ev, Timestamp: tt.ts}
		s, e, ok := recordTimes(rec)
		if s != tt.start || e != tt.end || ok != tt.ok {
			t.Errorf("%s: %d %d %v", tt.name, s, e, ok)
		}
	}
}
