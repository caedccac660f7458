package logscan

// Allocation-free parsers for the scalar formats both Zeek and Suricata
// write: decimal counts and ports, decimal seconds ("1300475167.096535"),
// ISO 8601 timestamps with any of the zone forms the sensors use ("Z",
// "+0000", "+00:00") and IP addresses.

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"unicode/utf8"
)

// ParseUint parses a non-empty run of ASCII digits (no sign) as a
// non-negative int64. It reports false for anything else, including values
// above math.MaxInt64.
func ParseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// ParseUint64 parses a non-empty run of ASCII digits (no sign) as a uint64,
// exactly (no float64 on the way, so identifiers above 2^53 survive). It
// reports false for anything else, including values above math.MaxUint64.
func ParseUint64(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	if len(b) < 20 { // at most 19 digits: below 10^19, no overflow to check
		for _, c := range b {
			if c-'0' > 9 {
				return 0, false
			}
			n = n*10 + uint64(c-'0')
		}
		return n, true
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// ParsePort parses a decimal port number (0-65535).
func ParsePort(b []byte) (uint16, bool) {
	n, ok := ParseUint(b)
	if !ok || n > math.MaxUint16 {
		return 0, false
	}
	return uint16(n), true
}

// MaxWholeSeconds is the largest whole-second count whose nanosecond value
// (plus a fraction below one second) still fits an int64. ParseSecondsNanos
// and ParseISOTime refuse instants beyond it.
const MaxWholeSeconds = (math.MaxInt64 - 999_999_999) / 1_000_000_000

// ParseSecondsNanos parses decimal seconds ("1300475167.096535", "0.000435",
// "1.3004751670965e9", "-1.5" when allowNeg) into nanoseconds, exactly:
// the digits are shifted by the exponent, never rounded through float64.
// Digits beyond the ninth decimal are truncated. The grammar is a JSON
// number's, except that "5." is accepted. It reports false for anything
// else and for values whose nanoseconds overflow an int64.
func ParseSecondsNanos(b []byte, allowNeg bool) (int64, bool) {
	if ns, ok := secondsNanosPlain(b); ok {
		return ns, true
	}
	return secondsNanos(b, allowNeg)
}

// secondsNanosPlain is ParseSecondsNanos in one pass for the common form:
// up to 18 integer digits and an optional fraction, no sign and no
// exponent. It reports false for any other input (which secondsNanos then
// decides).
func secondsNanosPlain(b []byte) (int64, bool) {
	var sec, frac int64
	i := 0
	if len(b) >= 8 {
		// The first eight bytes as one word, when they are all digits.
		if x := binary.LittleEndian.Uint64(b); digits8(x) {
			sec, i = int64(digits8Value(x)), 8
		}
	}
	for i < len(b) && i < 18 && b[i]-'0' <= 9 {
		sec = sec*10 + int64(b[i]-'0')
		i++
	}
	if i == 0 || sec > MaxWholeSeconds {
		return 0, false
	}
	if i < len(b) {
		if b[i] != '.' {
			return 0, false
		}
		if k := len(b) - i - 1; k > 0 && k < 8 && len(b) >= 8 {
			// A fraction of one to seven digits: the last eight bytes
			// as one word, those before the fraction set to '0'.
			low := uint64(1)<<(8*(8-k)) - 1
			x := binary.LittleEndian.Uint64(b[len(b)-8:])&^low | 0x3030303030303030&low
			if !digits8(x) {
				return 0, false
			}
			return sec*1e9 + int64(digits8Value(x))*pow10[9-k], true
		}
		n := 0
		for i++; i < len(b) && b[i]-'0' <= 9; i++ {
			if n < 9 {
				frac = frac*10 + int64(b[i]-'0')
				n++
			}
		}
		if i != len(b) {
			return 0, false
		}
		for ; n < 9; n++ {
			frac *= 10
		}
	}
	return sec*1e9 + frac, true
}

// secondsNanos is ParseSecondsNanos for any input.
func secondsNanos(b []byte, allowNeg bool) (int64, bool) {
	i := 0
	neg := false
	if i < len(b) && b[i] == '-' {
		if !allowNeg {
			return 0, false
		}
		neg = true
		i++
	}
	// Mantissa: where its digits are, and how many precede the point.
	mantStart, intDigits := i, 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
		intDigits++
	}
	if intDigits == 0 {
		return 0, false
	}
	fracStart, fracEnd := i, i
	if i < len(b) && b[i] == '.' {
		i++
		fracStart = i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		fracEnd = i
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		expNeg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			expNeg = b[i] == '-'
			i++
		}
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if exp < 100 { // larger exponents overflow or underflow anyway
				exp = exp*10 + int(b[i]-'0')
			}
			i++
			n++
		}
		if n == 0 {
			return 0, false
		}
		if expNeg {
			exp = -exp
		}
	}
	if i != len(b) {
		return 0, false
	}
	if exp == 0 && intDigits <= 18 {
		// The common "1300475167.096535": the digits as they stand (18
		// cannot overflow an int64; a larger count is refused below as
		// the general loop refuses it).
		var sec, frac int64
		for _, c := range b[mantStart : mantStart+intDigits] {
			sec = sec*10 + int64(c-'0')
		}
		if sec > MaxWholeSeconds {
			return 0, false
		}
		n := 0
		for _, c := range b[fracStart:fracEnd] {
			if n == 9 {
				break
			}
			frac = frac*10 + int64(c-'0')
			n++
		}
		for ; n < 9; n++ {
			frac *= 10
		}
		ns := sec*1e9 + frac
		if neg {
			ns = -ns
		}
		return ns, true
	}
	// digit(k) is the k-th mantissa digit (integer digits, then fraction).
	nDigits := intDigits + (fracEnd - fracStart)
	digit := func(k int) int64 {
		if k < intDigits {
			return int64(b[mantStart+k] - '0')
		}
		return int64(b[fracStart+k-intDigits] - '0')
	}
	point := intDigits + exp // digits before the decimal point after the shift
	var sec, frac int64
	for k := 0; k < point; k++ {
		d := int64(0)
		if k < nDigits {
			d = digit(k)
		}
		if sec > (MaxWholeSeconds-d)/10 {
			return 0, false
		}
		sec = sec*10 + d
	}
	for k := point; k < point+9; k++ {
		d := int64(0)
		if k >= 0 && k < nDigits {
			d = digit(k)
		}
		frac = frac*10 + d
	}
	ns := sec*1e9 + frac
	if neg {
		ns = -ns
	}
	return ns, true
}

// Bounds of the years whose instants fit an int64 nanosecond count.
const (
	minISOYear = 1678
	maxISOYear = 2261
)

// ParseISOTime parses "2026-11-25T10:00:00.123456+0000" and its relatives:
// any number of fraction digits (beyond nine are truncated), and a zone of
// "Z", "+HHMM", "+HH:MM" or "+HH" (or '-'). A zone is required. It returns
// nanoseconds since the Unix epoch, and false for a malformed or invalid
// date or time, or one outside the int64 nanosecond range (years 1678 to
// 2261).
func ParseISOTime(b []byte) (int64, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	// "YYYY-MM-" and "DDTHH:MM" eight bytes at a time: the separators
	// (checked above) are set to '0', and then every byte must be a digit.
	const (
		seps1 = 0xff<<32 | 0xff<<56 // the '-'s of "YYYY-MM-"
		seps2 = 0xff<<16 | 0xff<<40 // the 'T' and ':' of "DDTHH:MM"
		zeros = 0x3030303030303030
	)
	w1 := binary.LittleEndian.Uint64(b[0:8])&^seps1 | zeros&seps1
	w2 := binary.LittleEndian.Uint64(b[8:16])&^seps2 | zeros&seps2
	if !digits8(w1) || !digits8(w2) || b[17]-'0' > 9 || b[18]-'0' > 9 {
		return 0, false
	}
	w1 -= zeros // the digits' values, one a byte
	w2 -= zeros
	year := int(w1&0xff)*1000 + int(w1>>8&0xff)*100 + int(w1>>16&0xff)*10 + int(w1>>24&0xff)
	month := int(w1>>40&0xff)*10 + int(w1>>48&0xff)
	day := int(w2&0xff)*10 + int(w2>>8&0xff)
	hour := int(w2>>24&0xff)*10 + int(w2>>32&0xff)
	minute := int(w2>>48&0xff)*10 + int(w2>>56)
	second := int(b[17]-'0')*10 + int(b[18]-'0')
	if year < minISOYear || year > maxISOYear || month < 1 || month > 12 ||
		day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || second > 59 {
		return 0, false
	}
	rest := b[19:]
	var frac int64
	if len(rest) >= 9 && rest[0] == '.' {
		// Up to seven fraction digits (Suricata writes six) from one
		// word: the digits moved to its top, '0's below them.
		x := binary.LittleEndian.Uint64(rest[1:9])
		if n := bits.TrailingZeros64(nonDigits(x)) >> 3; n > 0 && n < 8 {
			frac = int64(digits8Value(x<<(64-8*n)|0x3030303030303030>>(8*n))) * pow10[9-n]
			rest = rest[1+n:]
			goto zone
		}
	}
	if rest[0] == '.' {
		i, n := 1, 0
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			if n < 9 {
				frac = frac*10 + int64(rest[i]-'0')
			}
			n++
		}
		if n == 0 {
			return 0, false
		}
		for ; n < 9; n++ {
			frac *= 10
		}
		rest = rest[i:]
	}
zone:
	offset, ok := parseZone(rest)
	if !ok {
		return 0, false
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+second) - offset
	if secs > MaxWholeSeconds || secs < -MaxWholeSeconds {
		return 0, false
	}
	return secs*1e9 + frac, true
}

// pow10 holds the powers of ten up to 10^9.
var pow10 = [10]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// digits8Value returns the value of the eight ASCII digits packed in x
// (little-endian: the first digit is the low byte), in three steps of
// pairs: digits, then pairs of them, then quads.
func digits8Value(x uint64) uint64 {
	x -= 0x3030303030303030
	x = (x*10 + x>>8) & 0x00ff00ff00ff00ff
	x = (x*100 + x>>16) & 0x0000ffff0000ffff
	return (x*10000 + x>>32) & 0xffffffff
}

// digits8 reports whether each of the eight bytes packed in x is an ASCII
// digit: its high nibble is 3 and its low nibble at most 9 (adding 6 to
// it does not carry into the high nibble; no sum leaves its byte).
func digits8(x uint64) bool {
	const (
		highs  = 0xf0f0f0f0f0f0f0f0
		threes = 0x3030303030303030
		sixes  = 0x0606060606060606
	)
	return x&highs == threes && (x+sixes)&highs == threes
}

// parseZone parses "Z", "+HHMM", "+HH:MM" or "+HH" (and '-') into an
// offset east of UTC in seconds.
func parseZone(b []byte) (int64, bool) {
	if len(b) == 5 && b[0] == '+' && b[1] == '0' && b[2] == '0' && b[3] == '0' && b[4] == '0' {
		return 0, true // Suricata's "+0000"
	}
	if len(b) == 1 && b[0] == 'Z' {
		return 0, true
	}
	if len(b) < 3 || (b[0] != '+' && b[0] != '-') {
		return 0, false
	}
	hh, ok := digits(b[1:3])
	if !ok || hh > 23 {
		return 0, false
	}
	mm := 0
	switch len(b) {
	case 3:
	case 5:
		mm, ok = digits(b[3:5])
	case 6:
		if b[3] != ':' {
			return 0, false
		}
		mm, ok = digits(b[4:6])
	default:
		return 0, false
	}
	if !ok || mm > 59 {
		return 0, false
	}
	off := int64(hh*3600 + mm*60)
	if b[0] == '-' {
		off = -off
	}
	return off, true
}

// digits parses a short fixed-width run of ASCII digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn returns the number of days in month m of year y.
func daysIn(m, y int) int {
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

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := m + 9
	if m > 2 {
		mp = m - 3
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// ParseAddr parses an IPv4 or IPv6 address without allocating in the common
// cases; anything the fast paths reject (zones, odd forms) is handed to
// netip.ParseAddr, which decides. It accepts exactly what netip.ParseAddr
// accepts.
func ParseAddr(b []byte) (netip.Addr, bool) {
	// A dotted quad first: parseIPv4 refuses anything with a ':', so this
	// only spares IPv4 the search for one.
	if v4, ok := parseIPv4(b); ok {
		return netip.AddrFrom4(v4), true
	}
	for _, c := range b {
		if c == ':' {
			if a, ok := parseIPv6(b); ok {
				return a, true
			}
			return parseAddrSlow(b)
		}
	}
	return parseAddrSlow(b)
}

func parseAddrSlow(b []byte) (netip.Addr, bool) {
	if len(b) == 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(string(b))
	return a, err == nil
}

// parseIPv4 parses a dotted quad with netip's rules (no leading zeros):
// four octets of one to three digits, each at most 255. The octets are
// read digit by digit, unrolled, and gathered in a register, not stored
// byte by byte into the array returned: reading that array back whole
// stalled the CPU.
func parseIPv4(b []byte) ([4]byte, bool) {
	var acc uint32
	i := 0
	for k := 0; k < 4; k++ {
		if k > 0 {
			if i >= len(b) || b[i] != '.' {
				return [4]byte{}, false
			}
			i++
		}
		if i >= len(b) || b[i]-'0' > 9 {
			return [4]byte{}, false
		}
		v := uint32(b[i] - '0')
		i++
		if i < len(b) && b[i]-'0' <= 9 {
			if v == 0 { // a leading zero
				return [4]byte{}, false
			}
			v = v*10 + uint32(b[i]-'0')
			i++
			if i < len(b) && b[i]-'0' <= 9 {
				v = v*10 + uint32(b[i]-'0')
				i++
				if v > 255 {
					return [4]byte{}, false
				}
			}
		}
		acc = acc<<8 | v
	}
	if i != len(b) {
		return [4]byte{}, false
	}
	return [4]byte{byte(acc >> 24), byte(acc >> 16), byte(acc >> 8), byte(acc)}, true
}

// parseIPv6 parses the RFC 4291 text forms without a zone.
func parseIPv6(b []byte) (netip.Addr, bool) {
	var ip [16]byte
	ellipsis := -1
	i := 0
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = 0
		b = b[2:]
		if len(b) == 0 {
			return netip.AddrFrom16(ip), true
		}
	}
	for i < 16 {
		off, acc := 0, 0
		for off < 4 && off < len(b) {
			v, ok := HexDigit(b[off])
			if !ok {
				break
			}
			acc = acc<<4 | int(v)
			off++
		}
		if off == 0 {
			return netip.Addr{}, false
		}
		if off < len(b) && b[off] == '.' {
			if (ellipsis < 0 && i != 12) || i+4 > 16 {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(b)
			if !ok {
				return netip.Addr{}, false
			}
			copy(ip[i:], v4[:])
			i += 4
			b = b[len(b):]
			break
		}
		ip[i] = byte(acc >> 8)
		ip[i+1] = byte(acc)
		i += 2
		b = b[off:]
		if len(b) == 0 {
			break
		}
		if b[0] != ':' || len(b) == 1 {
			return netip.Addr{}, false
		}
		b = b[1:]
		if b[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis = i
			b = b[1:]
			if len(b) == 0 {
				break
			}
		}
	}
	if len(b) != 0 {
		return netip.Addr{}, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false
		}
		n := 16 - i
		for j := i - 1; j >= ellipsis; j-- {
			ip[j+n] = ip[j]
		}
		for j := ellipsis + n - 1; j >= ellipsis; j-- {
			ip[j] = 0
		}
	} else if ellipsis >= 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(ip), true
}

// HexDigit returns the value of the hexadecimal digit c (0-9, a-f, A-F),
// and false when c is not one.
func HexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ValidUTF8 is utf8.Valid with a fast path for the short ASCII strings of
// log fields (eight bytes at a time, no call).
func ValidUTF8(b []byte) bool {
	var acc uint64
	if len(b) >= 8 {
		i := 0
		for ; i+8 <= len(b); i += 8 {
			acc |= binary.LittleEndian.Uint64(b[i:])
		}
		acc |= binary.LittleEndian.Uint64(b[len(b)-8:]) // the tail, overlapping
	} else {
		for _, c := range b {
			acc |= uint64(c)
		}
	}
	if acc&0x8080808080808080 == 0 {
		return true
	}
	return utf8.Valid(b)
}
