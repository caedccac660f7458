package logscan

import "encoding/binary"

// refScanner is JSONScanner as it was before its fast paths (flat skipping
// of objects and arrays, masks for strings): the fast paths must agree with
// it on every input, errors included.

// refScanner walks one JSON text, validating it as it goes and never
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
type refScanner struct {
	data []byte
	pos  int
}

// Reset starts a walk of data, forgetting any previous one.
func (s *refScanner) Reset(data []byte) {
	s.data = data
	s.pos = 0
}

func (s *refScanner) ws() {
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
func (s *refScanner) Peek() byte {
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// OpenObject consumes the '{' that starts an object; it is an error if the
// next non-space byte is anything else.
func (s *refScanner) OpenObject() error {
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
func (s *refScanner) Member(first bool) (key JSONValue, ok bool, err error) {
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
func (s *refScanner) Members(depth int, fn func(key, val JSONValue)) error {
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
func (s *refScanner) OpenArray() error {
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
func (s *refScanner) Element(first bool) (ok bool, err error) {
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
func (s *refScanner) Finish() error {
	s.ws()
	if s.pos != len(s.data) {
		return errJSONTrail
	}
	return nil
}

func (s *refScanner) syntaxOrEnd() error {
	if s.pos >= len(s.data) {
		return errJSONEnd
	}
	return errJSONSyntax
}

// Value scans any value and returns it; depth counts the containers that
// enclose it (1 for a member of the top-level object). Nesting deeper than
// 64 containers is an error, so hostile input cannot exhaust the stack.
func (s *refScanner) Value(depth int) (JSONValue, error) {
	c := s.Peek()
	start := s.pos
	switch {
	case c == '"':
		return s.str()
	case c == '{':
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
			if _, err := s.Value(depth + 1); err != nil {
				return JSONValue{}, err
			}
		}
		return JSONValue{Kind: JSONObject, Raw: s.data[start:s.pos]}, nil
	case c == '[':
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
			if _, err := s.Value(depth + 1); err != nil {
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

func (s *refScanner) literal(word string, kind JSONKind) (JSONValue, error) {
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

// str scans a string starting at its opening quote.
func (s *refScanner) str() (JSONValue, error) {
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
func (s *refScanner) number() (JSONValue, error) {
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
