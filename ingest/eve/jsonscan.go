package eve

// A small JSON scanner for one-object-per-line logs. It validates the whole
// line (RFC 8259 grammar), hands back members as raw byte slices of the
// input and never allocates; strings are unescaped only when a caller keeps
// them.
//
// This file is kept identical in ingest/zeek and ingest/eve apart from the
// package clause; sibling_test.go checks that.

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonKind is the type of a JSON value.
type jsonKind uint8

const (
	jsonNone jsonKind = iota // absent
	jsonString
	jsonNumber
	jsonTrue
	jsonFalse
	jsonNull
	jsonObject
	jsonArray
)

// jsonValue is one scanned value. raw aliases the scanned line: for a
// string it is the text between the quotes (still escaped when esc is set),
// for a number the literal, for an object or array the whole text.
type jsonValue struct {
	kind jsonKind
	esc  bool
	raw  []byte
}

// maxJSONDepth bounds nesting so hostile input cannot exhaust the stack.
const maxJSONDepth = 64

var (
	errJSONSyntax = errors.New("invalid JSON")
	errJSONDepth  = errors.New("JSON nested too deeply")
	errJSONEnd    = errors.New("unexpected end of JSON")
	errJSONTrail  = errors.New("data after the JSON object")
	errNotObject  = errors.New("not a JSON object")
)

// jsonScanner walks one JSON text. The zero value scans nothing; call reset.
type jsonScanner struct {
	data []byte
	pos  int
}

func (s *jsonScanner) reset(data []byte) {
	s.data = data
	s.pos = 0
}

func (s *jsonScanner) ws() {
	d, i := s.data, s.pos
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	s.pos = i
}

// peek returns the next non-space byte, or 0 at the end.
func (s *jsonScanner) peek() byte {
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// openObject consumes the '{' that starts an object.
func (s *jsonScanner) openObject() error {
	if s.peek() != '{' {
		if s.pos >= len(s.data) {
			return errJSONEnd
		}
		return errNotObject
	}
	s.pos++
	return nil
}

// member reads the next member key of the object being walked, consuming
// the ':' after it; first must be true for the first call after openObject.
// It returns ok=false when the object's '}' has been consumed.
func (s *jsonScanner) member(first bool) (key jsonValue, ok bool, err error) {
	c := s.peek()
	if c == '}' {
		s.pos++
		return key, false, nil
	}
	if !first {
		if c != ',' {
			return key, false, s.syntaxOrEnd()
		}
		s.pos++
		c = s.peek()
	}
	if c != '"' {
		return key, false, s.syntaxOrEnd()
	}
	key, err = s.str()
	if err != nil {
		return key, false, err
	}
	if s.peek() != ':' {
		return key, false, s.syntaxOrEnd()
	}
	s.pos++
	return key, true, nil
}

// finish checks that only white space follows the top-level value.
func (s *jsonScanner) finish() error {
	s.ws()
	if s.pos != len(s.data) {
		return errJSONTrail
	}
	return nil
}

func (s *jsonScanner) syntaxOrEnd() error {
	if s.pos >= len(s.data) {
		return errJSONEnd
	}
	return errJSONSyntax
}

// value scans any value; depth counts the enclosing containers.
func (s *jsonScanner) value(depth int) (jsonValue, error) {
	c := s.peek()
	start := s.pos
	switch {
	case c == '"':
		return s.str()
	case c == '{':
		if depth >= maxJSONDepth {
			return jsonValue{}, errJSONDepth
		}
		s.pos++
		for first := true; ; first = false {
			_, ok, err := s.member(first)
			if err != nil {
				return jsonValue{}, err
			}
			if !ok {
				break
			}
			if _, err := s.value(depth + 1); err != nil {
				return jsonValue{}, err
			}
		}
		return jsonValue{kind: jsonObject, raw: s.data[start:s.pos]}, nil
	case c == '[':
		if depth >= maxJSONDepth {
			return jsonValue{}, errJSONDepth
		}
		s.pos++
		if s.peek() == ']' {
			s.pos++
			return jsonValue{kind: jsonArray, raw: s.data[start:s.pos]}, nil
		}
		for {
			if _, err := s.value(depth + 1); err != nil {
				return jsonValue{}, err
			}
			switch s.peek() {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return jsonValue{kind: jsonArray, raw: s.data[start:s.pos]}, nil
			default:
				return jsonValue{}, s.syntaxOrEnd()
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true", jsonTrue)
	case c == 'f':
		return s.literal("false", jsonFalse)
	case c == 'n':
		return s.literal("null", jsonNull)
	}
	return jsonValue{}, s.syntaxOrEnd()
}

func (s *jsonScanner) literal(word string, kind jsonKind) (jsonValue, error) {
	end := s.pos + len(word)
	if end > len(s.data) {
		if string(s.data[s.pos:]) == word[:len(s.data)-s.pos] {
			return jsonValue{}, errJSONEnd
		}
		return jsonValue{}, errJSONSyntax
	}
	if string(s.data[s.pos:end]) != word {
		return jsonValue{}, errJSONSyntax
	}
	v := jsonValue{kind: kind, raw: s.data[s.pos:end]}
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

// str scans a string starting at its opening quote.
func (s *jsonScanner) str() (jsonValue, error) {
	d := s.data
	start := s.pos + 1 // after the opening quote
	i := start
	esc := false
	for {
		for i < len(d) && strPlain[d[i]] {
			i++
		}
		if i >= len(d) {
			s.pos = i
			return jsonValue{}, errJSONEnd
		}
		switch d[i] {
		case '"':
			s.pos = i + 1
			return jsonValue{kind: jsonString, esc: esc, raw: d[start:i]}, nil
		case '\\':
			esc = true
			if i+1 >= len(d) {
				s.pos = i
				return jsonValue{}, errJSONEnd
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) {
					s.pos = i
					return jsonValue{}, errJSONEnd
				}
				for _, h := range d[i+2 : i+6] {
					if _, ok := hexVal(h); !ok {
						s.pos = i
						return jsonValue{}, errJSONSyntax
					}
				}
				i += 6
			default:
				s.pos = i
				return jsonValue{}, errJSONSyntax
			}
		default: // a control character
			s.pos = i
			return jsonValue{}, errJSONSyntax
		}
	}
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) number() (jsonValue, error) {
	d := s.data
	start, i := s.pos, s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d):
		return jsonValue{}, errJSONEnd
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return jsonValue{}, errJSONSyntax
	}
	if i < len(d) && d[i] == '.' {
		i++
		n := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == n {
			s.pos = i
			return jsonValue{}, s.syntaxOrEnd()
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
			return jsonValue{}, s.syntaxOrEnd()
		}
	}
	s.pos = i
	return jsonValue{kind: jsonNumber, raw: d[start:i]}, nil
}

// appendUnescaped appends the decoded text of a scanned JSON string.
// Invalid \u surrogates become U+FFFD, as encoding/json does; other bytes,
// including invalid UTF-8, are kept as they are.
func appendUnescaped(dst, raw []byte) []byte {
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
		v, ok := hexVal(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}
