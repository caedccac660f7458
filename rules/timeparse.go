package rules

import (
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// parseTime reads an RFC 3339 timestamp into ns since the epoch. The form
// Aegis writes ("2026-01-02T03:04:05.123456789Z", UTC, any number of
// fraction digits) is parsed by hand without allocating; anything else
// (an offset instead of Z) goes through time.Parse.
func parseTime(s string) (int64, bool) {
	if ns, ok := parseUTC(s); ok {
		return ns, true
	}
	if s == "" {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	return t.UnixNano(), true
}

// parseUTC is the fast path for "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z".
func parseUTC(s string) (int64, bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for j := i; j < i+n; j++ {
			c := s[j] - '0'
			if c > 9 {
				return 0, false
			}
			v = v*10 + int(c)
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 2)
	d, ok3 := num(8, 2)
	h, ok4 := num(11, 2)
	mi, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	// Years outside 1900-2200 go the slow way: ns since 1970 overflow
	// int64 before 1678 and after 2262.
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || y < 1900 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59 {
		return 0, false
	}
	var frac int64
	rest := s[19 : len(s)-1]
	if rest != "" {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return 0, false
		}
		digits := rest[1:]
		for i := 0; i < 9; i++ {
			frac *= 10
			if i < len(digits) {
				c := digits[i] - '0'
				if c > 9 {
					return 0, false
				}
				frac += int64(c)
			}
		}
	}
	days := daysFromCivil(y, mo, d)
	return ((days*24+int64(h))*60+int64(mi))*60*1e9 + int64(sec)*1e9 + frac, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is Howard Hinnant's days-from-civil (proleptic Gregorian).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468)
}

// recordTimes returns the flow's start and end (ns): end from event.end
// (else @timestamp plus event.duration), start as end minus
// event.duration (else event.start, else end).
func recordTimes(rec *schemas.Record) (start, end int64, ok bool) {
	end, ok = parseTime(rec.Event.End)
	if !ok {
		if end, ok = parseTime(rec.Timestamp); !ok {
			return 0, 0, false
		}
		end += max(rec.Event.Duration, 0)
	}
	switch {
	case rec.Event.Duration > 0:
		start = end - rec.Event.Duration
	default:
		if st, ok := parseTime(rec.Event.Start); ok && st <= end {
			start = st
		} else {
			start = end
		}
	}
	return start, end, true
}
