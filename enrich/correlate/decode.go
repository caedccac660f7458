package correlate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// Input is one record read from a detection topic, reduced to what
// correlation needs: a detection Record (dataset aegis.detection) or a
// Recon (dataset aegis.recon). DecodeInput builds it without decoding the
// whole record; the tracker decodes the full Record only for the classes
// the campaign rules look at. An Input owns Raw (the caller must not
// change it afterwards).
type Input struct {
	// Kind is schemas.StepRecon or schemas.StepDetection.
	Kind string
	// ID is the record's event.id.
	ID string
	// Sensor names the sensor that published the record: the recon
	// record's aegis.sensor, else the Kafka header aegis-sensor.
	Sensor string
	// Source is the host (source.ip, in canonical form).
	Source string
	// Start and End are the record's times (ns since the epoch): end from
	// event.end (else @timestamp plus event.duration), start as end minus
	// event.duration (else event.start, else end), as the rules engine
	// reads them.
	Start, End int64
	// Class, Severity, Techniques and Destination ("ip:port") of a
	// detection; Severity and Techniques of a recon too.
	Class       schemas.Class
	Severity    string
	Techniques  []string
	Destination string
	// Targets and Probes of a recon.
	Targets, Probes int
	// Raw is the record's JSON.
	Raw []byte
}

// ErrNotEvidence is returned by DecodeInput for a well-formed record that
// is not correlation evidence: an analysed flow that is not a detection
// (event.kind "event" of a class Aegis does not alert on), or a dataset
// other than aegis.detection and aegis.recon.
var ErrNotEvidence = errors.New("correlate: not a detection or recon record")

// DecodeInput reads one record (its JSON) as it came from a detection
// topic; sensor is the record's aegis-sensor header ("" when absent). It
// returns ErrNotEvidence for records correlation ignores and a descriptive
// error for malformed ones. raw is kept in Input.Raw, not copied.
func DecodeInput(raw []byte, sensor string) (*Input, error) {
	var f inputFields
	if err := f.scan(raw); err != nil {
		return nil, err
	}
	in := &Input{ID: f.id, Sensor: sensor, Class: schemas.Class(f.class), Severity: f.severity, Techniques: f.techs, Raw: raw}
	switch f.dataset {
	case schemas.ReconDataset:
		in.Kind = schemas.StepRecon
		if f.sensor != "" {
			in.Sensor = f.sensor
		}
		in.Targets, in.Probes = int(f.targets), int(f.probes)
		in.Class = ""
	case "aegis.detection", "":
		in.Kind = schemas.StepDetection
		known := false
		for _, c := range schemas.Classes {
			known = known || c == in.Class
		}
		if !known || !(f.kind == "alert" || in.Class.IsDetection()) {
			return nil, ErrNotEvidence
		}
		if f.dstIP != "" {
			if a, err := netip.ParseAddr(f.dstIP); err == nil {
				in.Destination = netip.AddrPortFrom(a.WithZone(""), uint16(f.dstPort)).String()
			}
		}
	default:
		return nil, ErrNotEvidence
	}
	if !validID(in.ID) {
		return nil, fmt.Errorf("correlate: event.id %q is not 32 hex digits", in.ID)
	}
	a, err := netip.ParseAddr(f.srcIP)
	if err != nil {
		return nil, fmt.Errorf("correlate: source.ip %q: %v", f.srcIP, err)
	}
	in.Source = a.WithZone("").Unmap().String()
	if in.Sensor == "" {
		in.Sensor = "unknown"
	}
	switch in.Severity {
	case "none", "low", "medium", "high", "critical":
	default:
		in.Severity = "none"
	}
	end, ok := parseTime(f.end)
	if !ok {
		if end, ok = parseTime(f.timestamp); !ok {
			return nil, fmt.Errorf("correlate: record %s has no readable event.end or @timestamp", in.ID)
		}
		end += max(f.duration, 0)
	}
	start := end
	switch {
	case f.duration > 0:
		start = end - f.duration
	default:
		if st, ok := parseTime(f.start); ok && st <= end {
			start = st
		}
	}
	in.Start, in.End = start, end
	return in, nil
}

func parseTime(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	return t.UnixNano(), true
}

// validID reports whether id has the shape of a record's event.id.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// inputFields are the fields DecodeInput reads. Keys match exactly (the
// names Aegis writes); a key given twice keeps its last value, as
// encoding/json does.
type inputFields struct {
	timestamp                     string
	id, kind, dataset, start, end string
	duration                      int64
	srcIP, dstIP                  string
	dstPort                       int64
	class, severity, sensor       string
	targets, probes               int64
	techs                         []string
	seen                          uint16 // seen* bits
}

// Bits of inputFields.seen: the blocks and aegis fields read so far.
const (
	seenEvent uint16 = 1 << iota
	seenSource
	seenDestination
	seenThreat
	seenTimestamp
	seenClass
	seenSeverity
	seenSensor
	seenTargets
	seenProbes
)

var seenBlocks = map[string]uint16{"event": seenEvent, "source": seenSource, "destination": seenDestination, "threat": seenThreat, "@timestamp": seenTimestamp}

// errComplete stops the scan once every field correlation reads is known.
var errComplete = errors.New("complete")

// complete reports whether the scan, now inside the aegis block, has read
// everything it needs, so that the long rest of the block (the cadence
// features) can be left unread. Aegis writes every other block before
// aegis (Go field order), so once @timestamp, event and source were read
// the optional threat block was too, if the record has one. A record with
// its keys in another order (aegis first, as sorted keys put it) is read
// to its end; one that puts threat alone after aegis would lose its
// techniques, which only the campaign's technique list reads.
func (f *inputFields) complete() bool {
	const blocks = seenEvent | seenSource | seenTimestamp
	if f.seen&blocks != blocks {
		return false
	}
	if f.dataset == schemas.ReconDataset {
		const need = seenSeverity | seenSensor | seenTargets | seenProbes
		return f.seen&need == need
	}
	const need = seenClass | seenSeverity | seenDestination
	return f.seen&need == need
}

// maxDepth bounds nesting in skipped values.
const maxDepth = 64

// scan reads the record's top-level object, descending only into the
// blocks that hold the fields above and skipping everything else.
func (f *inputFields) scan(b []byte) error {
	s := scanner{b: b}
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "@timestamp":
			f.timestamp = s.str()
		case "event":
			return s.object(func(key []byte) error {
				switch string(key) {
				case "id":
					f.id = s.str()
				case "kind":
					f.kind = s.known("alert", "event")
				case "dataset":
					f.dataset = s.known("aegis.detection", schemas.ReconDataset)
				case "start":
					f.start = s.str()
				case "end":
					f.end = s.str()
				case "duration":
					f.duration = s.int()
				default:
					s.skip()
				}
				return s.err
			})
		case "source":
			return s.object(func(key []byte) error {
				if string(key) == "ip" {
					f.srcIP = s.str()
				} else {
					s.skip()
				}
				return s.err
			})
		case "destination":
			return s.object(func(key []byte) error {
				switch string(key) {
				case "ip":
					f.dstIP = s.str()
				case "port":
					f.dstPort = s.int()
				default:
					s.skip()
				}
				return s.err
			})
		case "threat":
			return s.object(func(key []byte) error {
				if string(key) != "technique" {
					s.skip()
					return s.err
				}
				return s.object(func(key []byte) error {
					if string(key) == "id" {
						f.techs = s.strs()
					} else {
						s.skip()
					}
					return s.err
				})
			})
		case "aegis":
			return s.object(func(key []byte) error {
				switch string(key) {
				case "class":
					f.class = s.known("llm_stream", "agent_shell", "handoff", "agent_exfil", "human_interactive", "other")
					f.seen |= seenClass
				case "severity":
					f.severity = s.known("none", "low", "medium", "high", "critical")
					f.seen |= seenSeverity
				case "sensor":
					f.sensor = s.str()
					f.seen |= seenSensor
				case "targets":
					f.targets = s.int()
					f.seen |= seenTargets
				case "probes":
					f.probes = s.int()
					f.seen |= seenProbes
				default:
					s.skip()
				}
				if s.err == nil && f.complete() {
					return errComplete
				}
				return s.err
			})
		default:
			s.skip()
		}
		if s.err == nil {
			f.seen |= seenBlocks[string(key)]
		}
		return s.err
	})
	if err == errComplete {
		// Everything was read before the long rest of the aegis block
		// (cadence features), which is left unread.
		return nil
	}
	if err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return s.fail("data after the record")
	}
	return nil
}

// scanner is a small JSON reader over one document. The first error
// sticks in err; later calls do nothing.
type scanner struct {
	b   []byte
	i   int
	err error
}

func (s *scanner) fail(what string) error {
	if s.err == nil {
		s.err = fmt.Errorf("correlate: malformed JSON at byte %d: %s", s.i, what)
	}
	return s.err
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object reads an object, calling fn for each key with the scanner at the
// key's value; fn must consume the value. A JSON null is an empty object.
func (s *scanner) object(fn func(key []byte) error) error {
	if s.err != nil {
		return s.err
	}
	s.ws()
	if s.lit("null") {
		return nil
	}
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.fail("want an object")
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		key, esc := s.rawStr()
		if s.err != nil {
			return s.err
		}
		if esc {
			key = []byte(unescape(s, key))
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.fail("want ':'")
		}
		s.i++
		s.ws()
		if err := fn(key); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.fail("unterminated object")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.fail("want ',' or '}'")
		}
	}
}

// lit consumes the literal word when it is next.
func (s *scanner) lit(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// str reads a string (null reads as "").
func (s *scanner) str() string {
	b, esc := s.rawStr()
	if esc {
		return unescape(s, b)
	}
	return string(b)
}

// known reads a string that is usually one of vals, returning the
// constant (no allocation) when it is.
func (s *scanner) known(vals ...string) string {
	b, esc := s.rawStr()
	if !esc {
		for _, v := range vals {
			if string(b) == v {
				return v
			}
		}
		return string(b)
	}
	return unescape(s, b)
}

// unescape decodes the JSON string literal q (with its quotes).
func unescape(s *scanner, q []byte) string {
	var out string
	if err := json.Unmarshal(q, &out); err != nil {
		s.fail("bad string escape")
		return ""
	}
	return out
}

// rawStr reads a string without decoding it: the bytes between the
// quotes, or, when it holds escapes, the whole literal with its quotes
// (esc true). null reads as empty. The bytes alias the document.
func (s *scanner) rawStr() (b []byte, esc bool) {
	if s.err != nil {
		return nil, false
	}
	s.ws()
	if s.lit("null") {
		return nil, false
	}
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		s.fail("want a string")
		return nil, false
	}
	start := s.i
	s.i++
	for {
		j := bytes.IndexByte(s.b[s.i:], '"')
		if j < 0 {
			s.i = len(s.b)
			s.fail("unterminated string")
			return nil, false
		}
		seg := s.b[s.i : s.i+j]
		s.i += j + 1
		if bytes.IndexByte(seg, '\\') < 0 {
			if !esc {
				return s.b[start+1 : s.i-1], false
			}
			return s.b[start:s.i], true
		}
		esc = true
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for k := len(seg) - 1; k >= 0 && seg[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return s.b[start:s.i], true
		}
	}
}

// strs reads an array of strings (null reads as nil).
func (s *scanner) strs() []string {
	if s.err != nil {
		return nil
	}
	s.ws()
	if s.lit("null") {
		return nil
	}
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		s.fail("want an array")
		return nil
	}
	s.i++
	var out []string
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return out
	}
	for s.err == nil {
		out = append(out, s.str())
		s.ws()
		if s.i >= len(s.b) {
			s.fail("unterminated array")
			return nil
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return out
		default:
			s.fail("want ',' or ']'")
		}
	}
	return nil
}

// int reads an integer (null reads as 0; a number with a fraction or
// exponent is truncated).
func (s *scanner) int() int64 {
	if s.err != nil {
		return 0
	}
	s.ws()
	if s.lit("null") {
		return 0
	}
	start := s.i
	s.number()
	if s.err != nil {
		return 0
	}
	tok := string(s.b[start:s.i])
	if v, err := strconv.ParseInt(tok, 10, 64); err == nil {
		return v
	}
	v, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		s.fail("bad number")
		return 0
	}
	return int64(v)
}

// number consumes a JSON number.
func (s *scanner) number() {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if digits() == 0 {
		s.i = start
		s.fail("want a number")
		return
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			s.fail("bad number")
			return
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			s.fail("bad number")
		}
	}
}

// skipContainer consumes an object or array by matching brackets outside
// strings, without checking what is inside (the fields correlation reads
// are checked where they are read; encoding/json checks the rest of the
// records it decodes in full).
func (s *scanner) skipContainer() {
	depth := 0
	b := s.b
	for i := s.i; i < len(b); i++ {
		switch b[i] {
		case '"':
			// Skip the string: find its closing quote.
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			if depth++; depth > maxDepth {
				s.i = i
				s.fail("nested too deeply")
				return
			}
		case '}', ']':
			if depth--; depth == 0 {
				s.i = i + 1
				return
			}
		}
	}
	s.i = len(b)
	s.fail("unterminated object or array")
}

// skip consumes any value.
func (s *scanner) skip() {
	if s.err != nil {
		return
	}
	s.ws()
	if s.i >= len(s.b) {
		s.fail("want a value")
		return
	}
	switch c := s.b[s.i]; c {
	case '"':
		s.rawStr()
	case '{', '[':
		s.skipContainer()
	case 't':
		if !s.lit("true") {
			s.fail("bad literal")
		}
	case 'f':
		if !s.lit("false") {
			s.fail("bad literal")
		}
	case 'n':
		if !s.lit("null") {
			s.fail("bad literal")
		}
	default:
		s.number()
	}
}
