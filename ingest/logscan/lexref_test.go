package logscan

// Reference versions of the parsers as they were before their fast paths:
// the fast ones must agree with them on every input.

// parseISOTimeRef is ParseISOTime without its fast path.
func parseISOTimeRef(b []byte) (int64, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	second, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, false
	}
	if year < minISOYear || year > maxISOYear || month < 1 || month > 12 ||
		day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || second > 59 {
		return 0, false
	}
	rest := b[19:]
	var frac int64
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
	offset, ok := parseZoneRef(rest)
	if !ok {
		return 0, false
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+second) - offset
	if secs > MaxWholeSeconds || secs < -MaxWholeSeconds {
		return 0, false
	}
	return secs*1e9 + frac, true
}

// parseZoneRef is parseZone without its fast path.
func parseZoneRef(b []byte) (int64, bool) {
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

// parseSecondsNanosRef is ParseSecondsNanos without its one-pass fast path.
func parseSecondsNanosRef(b []byte, allowNeg bool) (int64, bool) {
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
