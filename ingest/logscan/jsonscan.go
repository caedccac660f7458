package logscan

// A small JSON scanner for one-object-per-line logs. It validates the whole
// line (RFC 8259 grammar), hands back members as raw byte slices of the
// input and never allocates; strings are unescaped only when a caller keeps
// them.

import (
	"encoding/binary"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// JSONKind is the type of a JSON value.
type JSONKind uint8

// The kinds of JSON value. JSONNone is the zero value: no value (a member
// that was not on the line).
const (
	JSONNone   JSONKind = iota // absent
	JSONString                 // a string; Raw is the text between the quotes
	JSONNumber                 // a number; Raw is the literal
	JSONTrue                   // true
	JSONFalse                  // false
	JSONNull                   // null
	JSONObject                 // an object; Raw is its whole text
	JSONArray                  // an array; Raw is its whole text
)

// JSONValue is one scanned value. Raw aliases the scanned line: for a
// string it is the text between the quotes (still escaped when Esc is set;
// AppendUnescaped decodes it), for a number the literal, for true, false
// and null the word, for an object or array the whole text.
type JSONValue struct {
	Kind JSONKind
	Esc  bool // Raw holds backslash escapes (strings only)
	Raw  []byte
}

// maxJSONDepth bounds nesting so hostile input cannot exhaust the stack.
const maxJSONDepth = 64

var (
	errJSONSyntax = errors.New("invalid JSON")
	errJSONDepth  = errors.New("JSON nested too deeply")
	errJSONEnd    = errors.New("unexpected end of JSON")
	errJSONTrail  = errors.New("data after the JSON object")
	errNotObject  = errors.New("not a JSON object")
	errNotArray   = errors.New("not a JSON array")
)

// JSONScanner walks one JSON text, validating it as it goes and never
// allocating. The zero value scans nothing; call Reset. A typical walk of a
// one-object line is
//
//	s.Reset(line)
//	if err := s.OpenObject(); err != nil { ... }
//	for first := true; ; first = false {
//		key, ok, err := s.Member(first)
//		if err != nil { ... }
//		if !ok {
//			break
//		}
//		v, err := s.Value(1)
//		if err != nil { ... }
//		...
//	}
//	if err := s.Finish(); err != nil { ... }
//
// A caller may descend into a member's object itself instead of calling
// Value: when Peek returns '{', OpenObject and Member walk the nested
// object the same way. Errors describe the JSON fault ("invalid JSON",
// "unexpected end of JSON", "JSON nested too deeply", ...) without
// position.
type JSONScanner struct {
	data []byte
	pos  int
}

// Reset starts a walk of data, forgetting any previous one.
func (s *JSONScanner) Reset(data []byte) {
	s.data = data
	s.pos = 0
}

func (s *JSONScanner) ws() {
	d, i := s.data, s.pos
	if i < len(d) && d[i] > ' ' { // the usual case: no white space
		return
	}
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	s.pos = i
}

// Peek returns the next non-space byte, or 0 at the end, consuming the
// white space before it.
func (s *JSONScanner) Peek() byte {
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// OpenObject consumes the '{' that starts an object; it is an error if the
// next non-space byte is anything else.
func (s *JSONScanner) OpenObject() error {
	if s.Peek() != '{' {
		if s.pos >= len(s.data) {
			return errJSONEnd
		}
		return errNotObject
	}
	s.pos++
	return nil
}

// Member reads the next member key of the object being walked, consuming
// the ':' after it; first must be true for the first call after OpenObject.
// It returns ok=false when the object's '}' has been consumed. After a
// member key the caller must consume its value (Value, or a nested walk)
// before calling Member again.
func (s *JSONScanner) Member(first bool) (key JSONValue, ok bool, err error) {
	c := s.Peek()
	if c == '}' {
		s.pos++
		return key, false, nil
	}
	if !first {
		if c != ',' {
			return key, false, s.syntaxOrEnd()
		}
		s.pos++
		c = s.Peek()
	}
	if c != '"' {
		return key, false, s.syntaxOrEnd()
	}
	key, err = s.str()
	if err != nil {
		return key, false, err
	}
	if s.Peek() != ':' {
		return key, false, s.syntaxOrEnd()
	}
	s.pos++
	return key, true, nil
}

// Members walks a whole object whose members are read as plain values:
// it opens the object that comes next, a value at depth depth (1 for a
// member of the top-level object), and calls fn with the key and value of
// each member in order (Value at depth+1), up to the object's '}'. The
// keys and values alias the scanned text, as Member's and Value's do.
func (s *JSONScanner) Members(depth int, fn func(key, val JSONValue)) error {
	if err := s.OpenObject(); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, ok, err := s.Member(first)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		v, err := s.Value(depth + 1)
		if err != nil {
			return err
		}
		fn(key, v)
	}
}

// OpenArray consumes the '[' that starts an array; it is an error if the
// next non-space byte is anything else.
func (s *JSONScanner) OpenArray() error {
	if s.Peek() != '[' {
		if s.pos >= len(s.data) {
			return errJSONEnd
		}
		return errNotArray
	}
	s.pos++
	return nil
}

// Element reports whether another element of the array being walked
// follows, consuming the ',' before it; first must be true for the first
// call after OpenArray. It returns ok=false when the array's ']' has been
// consumed. After ok=true the caller must consume the element (Value, or a
// nested walk) before calling Element again.
func (s *JSONScanner) Element(first bool) (ok bool, err error) {
	c := s.Peek()
	if c == ']' {
		s.pos++
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, s.syntaxOrEnd()
		}
		s.pos++
	}
	return true, nil
}

// Finish checks that only white space follows the top-level value.
func (s *JSONScanner) Finish() error {
	s.ws()
	if s.pos != len(s.data) {
		return errJSONTrail
	}
	return nil
}

func (s *JSONScanner) syntaxOrEnd() error {
	if s.pos >= len(s.data) {
		return errJSONEnd
	}
	return errJSONSyntax
}

// Value scans any value and returns it; depth counts the containers that
// enclose it (1 for a member of the top-level object). Nesting deeper than
// 64 containers is an error, so hostile input cannot exhaust the stack.
func (s *JSONScanner) Value(depth int) (JSONValue, error) {
	c := s.Peek()
	start := s.pos
	switch {
	case c == '"':
		return s.str()
	case c == '{' || c == '[':
		// The flat fast path; the walk below only runs to find the
		// error of a value it rejects.
		if end, ok := SkipJSONValue(s.data, start, depth); ok {
			s.pos = end
			if c == '{' {
				return JSONValue{Kind: JSONObject, Raw: s.data[start:end]}, nil
			}
			return JSONValue{Kind: JSONArray, Raw: s.data[start:end]}, nil
		}
		return s.valueSlow(depth)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true", JSONTrue)
	case c == 'f':
		return s.literal("false", JSONFalse)
	case c == 'n':
		return s.literal("null", JSONNull)
	}
	return JSONValue{}, s.syntaxOrEnd()
}

// valueSlow is Value without the fast path, walking objects and arrays
// member by member, recursively: the path that finds the error of a value
// SkipJSONValue rejected (it never retries the fast path, so a bad line
// costs one more pass, not one per level of nesting).
func (s *JSONScanner) valueSlow(depth int) (JSONValue, error) {
	c := s.Peek()
	start := s.pos
	switch c {
	case '{':
		if depth >= maxJSONDepth {
			return JSONValue{}, errJSONDepth
		}
		s.pos++
		for first := true; ; first = false {
			_, ok, err := s.Member(first)
			if err != nil {
				return JSONValue{}, err
			}
			if !ok {
				break
			}
			if _, err := s.valueSlow(depth + 1); err != nil {
				return JSONValue{}, err
			}
		}
		return JSONValue{Kind: JSONObject, Raw: s.data[start:s.pos]}, nil
	case '[':
		if depth >= maxJSONDepth {
			return JSONValue{}, errJSONDepth
		}
		s.pos++
		// The walk Element does, inline: an array's elements are the
		// hot path of a line, and Element is too big to be inlined.
		if s.Peek() == ']' {
			s.pos++
			return JSONValue{Kind: JSONArray, Raw: s.data[start:s.pos]}, nil
		}
		for {
			if _, err := s.valueSlow(depth + 1); err != nil {
				return JSONValue{}, err
			}
			switch s.Peek() {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return JSONValue{Kind: JSONArray, Raw: s.data[start:s.pos]}, nil
			default:
				return JSONValue{}, s.syntaxOrEnd()
			}
		}
	}
	return s.Value(depth) // a scalar
}

func (s *JSONScanner) literal(word string, kind JSONKind) (JSONValue, error) {
	end := s.pos + len(word)
	if end > len(s.data) {
		if string(s.data[s.pos:]) == word[:len(s.data)-s.pos] {
			return JSONValue{}, errJSONEnd
		}
		return JSONValue{}, errJSONSyntax
	}
	if string(s.data[s.pos:end]) != word {
		return JSONValue{}, errJSONSyntax
	}
	v := JSONValue{Kind: kind, Raw: s.data[s.pos:end]}
	s.pos = end
	return v, nil
}

// strPlain marks the bytes that need no attention inside a JSON string:
// everything but '"', '\\' and control characters.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// specialIn8 reports whether any of the eight bytes packed in x may be '"',
// '\\' or a control character (below 0x20). It may report true for a word
// without one (a borrow across bytes) but never false for a word with one,
// so a caller that then checks byte by byte stays exact.
func specialIn8(x uint64) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	quote := x ^ (ones * '"')
	bslash := x ^ (ones * '\\')
	// (y - ones) &^ y & highs is non-zero when a byte of y is zero;
	// (x - ones*0x20) &^ x & highs when a byte of x is below 0x20.
	return ((quote-ones)&^quote|(bslash-ones)&^bslash|(x-ones*0x20)&^x)&highs != 0
}

// str scans a string starting at its opening quote.
func (s *JSONScanner) str() (JSONValue, error) {
	if e, esc, ok := ScanJSONString(s.data, s.pos+1); ok {
		v := JSONValue{Kind: JSONString, Esc: esc, Raw: s.data[s.pos+1 : e]}
		s.pos = e + 1
		return v, nil
	}
	return s.strSlow()
}

// strSlow is str for a string that ScanJSONString rejected: it finds the
// fault and returns its error.
func (s *JSONScanner) strSlow() (JSONValue, error) {
	d := s.data
	start := s.pos + 1 // after the opening quote
	i := start
	esc := false
	for {
		// Eight bytes at a time while none of them needs attention, then
		// byte by byte.
		for i+8 <= len(d) && !specialIn8(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		for i < len(d) && strPlain[d[i]] {
			i++
		}
		if i >= len(d) {
			s.pos = i
			return JSONValue{}, errJSONEnd
		}
		switch d[i] {
		case '"':
			s.pos = i + 1
			return JSONValue{Kind: JSONString, Esc: esc, Raw: d[start:i]}, nil
		case '\\':
			esc = true
			if i+1 >= len(d) {
				s.pos = i
				return JSONValue{}, errJSONEnd
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) {
					s.pos = i
					return JSONValue{}, errJSONEnd
				}
				for _, h := range d[i+2 : i+6] {
					if _, ok := HexDigit(h); !ok {
						s.pos = i
						return JSONValue{}, errJSONSyntax
					}
				}
				i += 6
			default:
				s.pos = i
				return JSONValue{}, errJSONSyntax
			}
		default: // a control character
			s.pos = i
			return JSONValue{}, errJSONSyntax
		}
	}
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *JSONScanner) number() (JSONValue, error) {
	d := s.data
	start, i := s.pos, s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d):
		return JSONValue{}, errJSONEnd
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return JSONValue{}, errJSONSyntax
	}
	if i < len(d) && d[i] == '.' {
		i++
		n := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == n {
			s.pos = i
			return JSONValue{}, s.syntaxOrEnd()
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		n := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == n {
			s.pos = i
			return JSONValue{}, s.syntaxOrEnd()
		}
	}
	s.pos = i
	return JSONValue{Kind: JSONNumber, Raw: d[start:i]}, nil
}

// AppendUnescaped appends the decoded text of a scanned JSON string (the
// Raw of a JSONValue with Esc set) to dst and returns the extended slice.
// Invalid \u surrogates become U+FFFD, as encoding/json does; other bytes,
// including invalid UTF-8, are kept as they are.
func AppendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(raw[i+1:])
			if !ok {
				dst = append(dst, '\\', 'u')
				continue
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if v, ok := hex4(raw[i+3:]); ok {
						r2 = v
					}
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					i += 6
					r = d
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, raw[i])
		}
	}
	return dst
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		v, ok := HexDigit(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}
