package logscan

// The fast path of the JSON scanner: flat loops over a local index that
// validate exactly what JSONScanner validates, reporting only whether the
// text is valid. A caller that gets ok=false rescans with JSONScanner for
// the error (a rejected line is rare; its error is worth no speed).

import (
	"encoding/binary"
	"math/bits"
)

// specialMask returns, in the high bit of each of the eight bytes packed
// in x (little-endian), whether the byte may be '"', '\\' or a control
// character (below 0x20). Bytes above the lowest flagged one may be
// flagged wrongly (a borrow across bytes), but the lowest flagged byte is
// always exact, so bits.TrailingZeros64(mask)/8 is the index of the first
// such byte.
//
// The quote and the control characters are one test: flipping bit 1 maps
// them, and only them, below 0x21 ('"' to 0x20, 0x00-0x1f among
// themselves, ' ' and '!' up to 0x22 and 0x23).
func specialMask(x uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	y := x ^ (ones * 0x02)
	b := x ^ (ones * '\\')
	return ((y-ones*0x21)&^y | (b-ones)&^b) & highs
}

// SkipJSONSpace returns the index of the first byte at or after i in data
// that is not JSON white space (len(data) when there is none).
func SkipJSONSpace(data []byte, i int) int {
	if i < len(data) && data[i] > ' ' { // the usual case: no white space
		return i
	}
	return skipJSONSpace(data, i)
}

func skipJSONSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// ScanJSONString scans the text of a string whose opening quote is at
// data[i-1]: it returns the index of the closing quote and whether the
// text holds backslash escapes. ok is false when the string is not valid
// JSON (a control character, a bad escape) or has no closing quote. Invalid
// UTF-8 passes, as in JSONScanner.
func ScanJSONString(data []byte, i int) (end int, esc, ok bool) {
	// Eight bytes at a time: the first byte that needs attention is found
	// from the mask, with no byte-by-byte tail. Most strings end there.
	for i+8 <= len(data) {
		x := binary.LittleEndian.Uint64(data[i:])
		if m := specialMask(x); m != 0 {
			at := bits.TrailingZeros64(m) &^ 7 // the bit offset of the byte
			i += at >> 3
			if byte(x>>at) == '"' { // the byte from the word: no load
				return i, false, true
			}
			break
		}
		i += 8
	}
	return scanStringRest(data, i, false)
}

// scanStringRest is ScanJSONString from data[i] on, esc telling whether
// the text before i holds escapes.
func scanStringRest(data []byte, i int, esc bool) (end int, _, ok bool) {
	for {
		for i+8 <= len(data) {
			if m := specialMask(binary.LittleEndian.Uint64(data[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto special
			}
			i += 8
		}
		for i < len(data) && strPlain[data[i]] {
			i++
		}
		if i >= len(data) {
			return i, esc, false
		}
	special:
		switch data[i] {
		case '"':
			return i, esc, true
		case '\\':
		default: // a control character
			return i, esc, false
		}
		esc = true
		if i+1 >= len(data) {
			return i, esc, false
		}
		switch data[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(data) {
				return i, esc, false
			}
			for _, h := range data[i+2 : i+6] {
				if _, ok := HexDigit(h); !ok {
					return i, esc, false
				}
			}
			i += 6
		default:
			return i, esc, false
		}
	}
}

// numberEnd returns the end of the number literal that starts at data[i]
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?), and false when there
// is none.
func numberEnd(data []byte, i int) (int, bool) {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return i, false
	case data[i] == '0':
		i++
	case data[i] >= '1' && data[i] <= '9':
		i++
		i = digitsEnd(data, i)
	default:
		return i, false
	}
	if i < len(data) && data[i] == '.' {
		i++
		n := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == n {
			return i, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		n := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == n {
			return i, false
		}
	}
	return i, true
}

// digitsEnd returns the index of the first byte at or after i that is not
// an ASCII digit, eight bytes at a time.
func digitsEnd(data []byte, i int) int {
	for i+8 <= len(data) {
		if m := nonDigits(binary.LittleEndian.Uint64(data[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}

// nonDigits returns a word whose byte k is non-zero when byte k of the
// eight packed in x (little-endian) is not an ASCII digit, or may be so
// after the first such byte (a carry); the lowest non-zero byte is always
// exact. A digit has the high nibble 3 and a low nibble that takes 6
// without carrying.
func nonDigits(x uint64) uint64 {
	const (
		highs  = 0xf0f0f0f0f0f0f0f0
		threes = 0x3030303030303030
		sixes  = 0x0606060606060606
	)
	return (x&highs ^ threes) | ((x+sixes)&highs ^ threes)
}

// literalEnd returns the end of word (true, false or null) at data[i], and
// false when the bytes there are not word.
func literalEnd(data []byte, i int, word string) (int, bool) {
	end := i + len(word)
	if end > len(data) || string(data[i:end]) != word {
		return i, false
	}
	return end, true
}

// ScanJSONValue scans the value that starts at data[i] (no white space
// before it), nested in depth containers (1 for a member of the top-level
// object), and returns it as JSONScanner.Value would, with the index just
// after it. ok is false when the value is not valid JSON, is cut short or
// nests more than 64 containers deep; JSONScanner.Value then tells which.
func ScanJSONValue(data []byte, i, depth int) (v JSONValue, end int, ok bool) {
	if i >= len(data) {
		return v, i, false
	}
	switch c := data[i]; c {
	case '"':
		e, esc := JSONStringStop(data, i+1), false
		if e < 0 || data[e] != '"' {
			if e < 0 {
				e = -1 - e
			}
			if e, esc, ok = ScanJSONString(data, e); !ok {
				return v, e, false
			}
		}
		return JSONValue{Kind: JSONString, Esc: esc, Raw: data[i+1 : e]}, e + 1, true
	case '{', '[':
		e, ok := SkipJSONValue(data, i, depth)
		if !ok {
			return v, e, false
		}
		k := JSONObject
		if c == '[' {
			k = JSONArray
		}
		return JSONValue{Kind: k, Raw: data[i:e]}, e, true
	case 't':
		e, ok := literalEnd(data, i, "true")
		return JSONValue{Kind: JSONTrue, Raw: data[i:e]}, e, ok
	case 'f':
		e, ok := literalEnd(data, i, "false")
		return JSONValue{Kind: JSONFalse, Raw: data[i:e]}, e, ok
	case 'n':
		e, ok := literalEnd(data, i, "null")
		return JSONValue{Kind: JSONNull, Raw: data[i:e]}, e, ok
	}
	e, ok := numberEnd(data, i)
	return JSONValue{Kind: JSONNumber, Raw: data[i:e]}, e, ok
}

// SkipJSONValue validates the value that starts at data[i] (no white
// space before it), nested in depth containers, and returns the index just
// after it; ok as for ScanJSONValue. Objects and arrays are walked with a
// loop and a bit stack, not recursion.
func SkipJSONValue(data []byte, i, depth int) (end int, ok bool) {
	var (
		stack uint64 // one bit per open container: 1 an object, 0 an array
		open  int    // containers open
	)
	// White space is skipped where it is found (at a value, a key, after
	// a value) rather than looked for before each: most lines have none.
value:
	if i >= len(data) {
		return i, false
	}
	switch data[i] {
	case '"':
		e := JSONStringStop(data, i+1)
		if e < 0 || data[e] != '"' {
			if e < 0 {
				e = -1 - e
			}
			if e, _, ok = ScanJSONString(data, e); !ok {
				return e, false
			}
		}
		i = e + 1
	case '{':
		if depth+open >= maxJSONDepth {
			return i, false
		}
		open++
		stack = stack<<1 | 1
		i = SkipJSONSpace(data, i+1)
		if i < len(data) && data[i] == '}' {
			i++
			open--
			stack >>= 1
			goto after
		}
		goto key
	case '[':
		if depth+open >= maxJSONDepth {
			return i, false
		}
		open++
		stack <<= 1
		i = SkipJSONSpace(data, i+1)
		if i < len(data) && data[i] == ']' {
			i++
			open--
			stack >>= 1
			goto after
		}
		goto value
	case 't':
		if i, ok = literalEnd(data, i, "true"); !ok {
			return i, false
		}
	case 'f':
		if i, ok = literalEnd(data, i, "false"); !ok {
			return i, false
		}
	case 'n':
		if i, ok = literalEnd(data, i, "null"); !ok {
			return i, false
		}
	case ' ', '\t', '\n', '\r':
		if open == 0 { // the value itself must start at i
			return i, false
		}
		i = skipJSONSpace(data, i)
		goto value
	default:
		if i, ok = numberEnd(data, i); !ok {
			return i, false
		}
	}
after:
	if open == 0 {
		return i, true
	}
	if i >= len(data) {
		return i, false
	}
	switch c := data[i]; {
	case c == ',':
		i++
		if stack&1 == 0 {
			goto value
		}
		goto key
	case c == '}' && stack&1 == 1, c == ']' && stack&1 == 0:
		i++
		open--
		stack >>= 1
		goto after
	case c == ' ', c == '\t', c == '\n', c == '\r':
		i = skipJSONSpace(data, i)
		goto after
	}
	return i, false
key:
	if i >= len(data) || data[i] != '"' {
		if i = SkipJSONSpace(data, i); i >= len(data) || data[i] != '"' {
			return i, false
		}
	}
	{
		e := JSONStringStop(data, i+1)
		if e < 0 || data[e] != '"' {
			if e < 0 {
				e = -1 - e
			}
			if e, _, ok = ScanJSONString(data, e); !ok {
				return e, false
			}
		}
		if e+1 < len(data) && data[e+1] == ':' {
			i = e + 2
			goto value
		}
		i = SkipJSONSpace(data, e+1)
	}
	if i >= len(data) || data[i] != ':' {
		return i, false
	}
	i++
	goto value
}

// JSONStringStop returns the index of the first byte at or after i that
// ends or interrupts the plain text of a JSON string ('"', '\\' or a
// control character), looking eight bytes at a time; or, when fewer than
// eight bytes remain before one, -1-j, j being where the search stopped.
// A caller at the text of a string (data[i-1] its opening quote) that
// finds a '"' there has the string's end and knows it has no escapes;
// otherwise ScanJSONString(data, j) decides, from the stop j (or -1-j).
// It is small enough to be inlined.
func JSONStringStop(data []byte, i int) int {
	for i+8 <= len(data) {
		if m := specialMask(binary.LittleEndian.Uint64(data[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	return -1 - i
}
