package logscan

import (
	"math"
	"net/netip"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseUint(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"17", 17, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"9223372036854775808", 0, false},
		{"99999999999999999999", 0, false},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.0", 0, false},
		{"12a", 0, false},
		{" 1", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseUint([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseUint(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseUint64Exact(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1676750115612680", 1676750115612680, true},
		{"2251799813685247", 1<<51 - 1, true},
		{"9007199254740993", 1<<53 + 1, true}, // float64 would round this to 2^53
		{"18446744073709551615", math.MaxUint64, true},
		{"18446744073709551616", 0, false},
		{"1e3", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseUint64([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseUint64(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseSecondsNanos(t *testing.T) {
	tests := []struct {
		in       string
		allowNeg bool
		want     int64
		ok       bool
	}{
		{"1300475167.096535", false, 1300475167_096535000, true},
		{"0.000435", false, 435000, true},
		{"600.931043", false, 600_931043000, true},
		{"5", false, 5e9, true},
		{"5.", false, 5e9, true},
		{"0.123456789123", false, 123456789, true}, // digits past ns are truncated
		{"1.3004751670965e9", false, 1300475167_096500000, true},
		{"-1.5", true, -1_500000000, true},
		{"-1.5", false, 0, false},
		{"9223372035.854775807", false, 9223372035_854775807, true},
		{"9223372037.0", false, 0, false},
		{"1e300", false, 0, false},
		{"1e-300", false, 0, true},
		{"0e999", false, 0, true},
		{"13004751670965e-4", false, 1300475167_096500000, true},
		{"1.5E+1", false, 15e9, true},
		{"1e", false, 0, false},
		{".5", false, 0, false},
		{"inf", false, 0, false},
		{"NaN", false, 0, false},
		{"0x1p3", false, 0, false},
		{"1.2.3", false, 0, false},
		{"", false, 0, false},
		{"-", true, 0, false},
		{"XXXXXXXXXX.XXXXXX", false, 0, false},
		{"000000000000000005.25", false, 5_250000000, true},
		{"0000000000000000005.25", false, 5_250000000, true}, // 19 integer digits: the general path
		{"123456789012345678", false, 0, false},
		{"9223372036", false, 0, false},
		{"9223372035", false, 9223372035_000000000, true},
		{"1.5 ", false, 0, false},
		{"1.5e", false, 0, false},
		{"1.e5", false, 1e14, true},
		{"1\xff", false, 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseSecondsNanos([]byte(tt.in), tt.allowNeg)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseSecondsNanos(%q, %v) = %d, %v; want %d, %v", tt.in, tt.allowNeg, got, ok, tt.want, tt.ok)
		}
		if ref, rok := parseSecondsNanosRef([]byte(tt.in), tt.allowNeg); got != ref || ok != rok {
			t.Errorf("ParseSecondsNanos(%q, %v) = %d, %v; the reference says %d, %v", tt.in, tt.allowNeg, got, ok, ref, rok)
		}
	}
}

// referenceISOTime parses s with the time package: the layouts Suricata and
// Zeek write.
func referenceISOTime(s string) (int64, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z07"} {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm.UnixNano(), true
		}
	}
	return 0, false
}

func TestParseISOTime(t *testing.T) {
	base := time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC).UnixNano()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2026-11-25T10:00:00.123456+0000", base, true},
		{"2026-11-25T05:00:00.123456-0500", base, true},
		{"2026-11-25T15:30:00.123456+05:30", base, true},
		{"2026-11-25T10:00:00.123456Z", base, true},
		{"2026-11-25T11:00:00.123456+01", base, true},
		{"2026-11-25T10:00:00+0000", base - 123456000, true},
		{"2008-07-09T16:13:30.005432Z", time.Date(2008, 7, 9, 16, 13, 30, 5432000, time.UTC).UnixNano(), true},
		{"1969-12-31T16:04:21.000000-0800", 261 * 1e9, true},
		{"2024-02-29T00:00:00.000000+0000", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).UnixNano(), true},
		{"2023-02-29T00:00:00.000000+0000", 0, false},
		{"2026-11-25T10:00:00.123456", 0, false}, // no zone
		{"2026-11-25 10:00:00.123456+0000", 0, false},
		{"2026-13-25T10:00:00.123456+0000", 0, false},
		{"2026-11-25T24:00:00.123456+0000", 0, false},
		{"2026-11-25T10:00:60.123456+0000", 0, false},
		{"2026-11-25T10:00:00.+0000", 0, false},
		{"2026-11-25T10:00:00.123456+2500", 0, false},
		{"2026-11-25T10:00:00.123456+000", 0, false},
		{"2026-11-25T10:00:00.123456+0000 ", 0, false},
		{"1600-01-01T00:00:00.000000+0000", 0, false}, // outside int64 nanoseconds
		{"2026,11-25T10:00:00.123456+0000", 0, false},
		{"2026-11/25T10:00:00.123456+0000", 0, false},
		{"2026-11-25t10:00:00.123456+0000", 0, false},
		{"202:-11-25T10:00:00.123456+0000", 0, false},
		{"2026-1?-25T10:00:00.123456+0000", 0, false},
		{"2026-11-2/T10:00:00.123456+0000", 0, false},
		{"2026-11-25T1::00:00.123456+0000", 0, false},
		{"2026-11-25T10:0a:00.123456+0000", 0, false},
		{"2026-11-25T10:00:0\xff.123456+0000", 0, false},
		{"2026-11-25T10:00:/0.123456+0000", 0, false},
		{"2026-11-25T10:00:00.123456+0001", base - 60e9, true},
		{"2026-11-25T10:00:00.123456-0000", base, true},
		{"2026-11-25T10:00:00.1234567+0000", base + 700, true},
		{"2026-11-25T10:00:00.12345678+0000", base + 780, true},
		{"2026-11-25T10:00:00.1234567891+0000", base + 789, true},
		{"2026-11-25T10:00:00.1+0000", base - 23456000, true},
		{"2026-11-25T10:00:00.1Z", base - 23456000, true},
		{"2026-11-25T10:00:00.+000000", 0, false},
		{"2026-11-25T10:00:00.12345a+0000", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseISOTime([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseISOTime(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if ref, rok := parseISOTimeRef([]byte(tt.in)); ref != got || rok != ok {
			t.Errorf("ParseISOTime(%q) = %d, %v; the reference says %d, %v", tt.in, got, ok, ref, rok)
		}
		if ok {
			if ref, rok := referenceISOTime(tt.in); !rok || ref != got {
				t.Errorf("ParseISOTime(%q) = %d; time.Parse says %d, %v", tt.in, got, ref, rok)
			}
		}
	}
}

func TestParseAddr(t *testing.T) {
	tests := []string{
		"0.0.0.0", "255.255.255.255", "192.168.1.79", "1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "1..2.3", "1.2.3.",
		"::", "::1", "1::", "fe80::217:f2ff:fed7:cf65", "ff02::1:ff00:3", "2001:0:4137:9e50:8000:f12a:b9c8:2815",
		"2607:f8b0:400a:0800:0000:0000:0000:200e", "0000:0000:0000:0000:0000:0000:0000:0001",
		"::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::",
		"1:2:3:4:5:6:7::8", ":1", "1:", "1:::2", "1::2::3", "12345::", "::1.2.3.4", "1::1.2.3.4", "fe80::1%eth0",
		"", "x", "g::", "1:2:3:4:5:6:7:1.2.3.4", "::ffff:1.2.3",
	}
	for _, in := range tests {
		want, werr := netip.ParseAddr(in)
		got, ok := ParseAddr([]byte(in))
		if ok != (werr == nil) || (ok && got != want) {
			t.Errorf("ParseAddr(%q) = %v, %v; netip says %v, %v", in, got, ok, want, werr)
		}
	}
}

func TestParseAddrNoAlloc(t *testing.T) {
	v4, v6 := []byte("141.142.220.118"), []byte("fe80::3074:17d5:2052:c324")
	if n := testing.AllocsPerRun(100, func() {
		ParseAddr(v4)
		ParseAddr(v6)
	}); n != 0 {
		t.Errorf("ParseAddr allocates %.1f times per call pair", n)
	}
}

// FuzzLex checks the fast parsers against the standard library.
func FuzzLex(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "fe80::1", "::ffff:1.2.3.4", "2026-11-25T10:00:00.123456+0000", "2008-07-09T16:13:30.005432Z", "1300475167.096535", "18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		want, werr := netip.ParseAddr(s)
		if got, ok := ParseAddr(b); ok != (werr == nil) || (ok && got != want) {
			t.Errorf("ParseAddr(%q) = %v, %v; netip says %v, %v", s, got, ok, want, werr)
		}
		if got, ok := ParseISOTime(b); ok != (func() bool { _, ok := parseISOTimeRef(b); return ok })() {
			t.Errorf("ParseISOTime(%q) = %d, %v; the reference says %v", s, got, ok, !ok)
		} else if ref, _ := parseISOTimeRef(b); ref != got {
			t.Errorf("ParseISOTime(%q) = %d; the reference says %d", s, got, ref)
		} else if ok {
			if ref, rok := referenceISOTime(s); !rok || ref != got {
				t.Errorf("ParseISOTime(%q) = %d; time.Parse says %d, %v", s, got, ref, rok)
			}
		}
		if ValidUTF8(b) != utf8.Valid(b) {
			t.Errorf("ValidUTF8(%q) = %v", s, !utf8.Valid(b))
		}
		if got, ok := ParseUint64(b); ok {
			if ref, err := strconv.ParseUint(s, 10, 64); err != nil || ref != got {
				t.Errorf("ParseUint64(%q) = %d; strconv says %d, %v", s, got, ref, err)
			}
		}
		for _, neg := range []bool{false, true} {
			got, ok := ParseSecondsNanos(b, neg)
			if ref, rok := parseSecondsNanosRef(b, neg); got != ref || ok != rok {
				t.Errorf("ParseSecondsNanos(%q, %v) = %d, %v; the reference says %d, %v", s, neg, got, ok, ref, rok)
			}
		}
		if got, ok := ParseSecondsNanos(b, true); ok {
			ref, err := strconv.ParseFloat(s, 64)
			if err != nil || math.Abs(ref*1e9-float64(got)) > math.Max(1e3, math.Abs(ref)*1e9*1e-15) {
				t.Errorf("ParseSecondsNanos(%q) = %d; strconv says %v, %v", s, got, ref, err)
			}
		}
	})
}

func TestValidUTF8(t *testing.T) {
	for _, s := range []string{"", "a", "CHhAvVGS1DHFjwGM9", "1234567", "12345678", "123456789", "é", "1234567é", "é1234567",
		"12345678\xff", "\xff12345678", "1234567\xff", "0123456789abcdef\xc3", "0123456789abcdef\xc3\xa9", "\xed\xa0\x80abcdefgh"} {
		if got, want := ValidUTF8([]byte(s)), utf8.Valid([]byte(s)); got != want {
			t.Errorf("ValidUTF8(%q) = %v, want %v", s, got, want)
		}
	}
}
