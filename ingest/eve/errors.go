package eve

import (
	"fmt"
	"strconv"
)

// Reason classifies why a line was rejected. Stats counts rejected lines by
// Reason; the values are stable and safe to use as metric labels.
type Reason string

// The reasons a line is rejected.
const (
	// ReasonBadJSON: the line is not one valid JSON object (truncated,
	// garbage, or text after the object).
	ReasonBadJSON Reason = "bad_json"
	// ReasonMissingField: a field the record needs (event_type, src_ip,
	// dest_ip, a flow event's flow.start and timestamp) is absent.
	ReasonMissingField Reason = "missing_field"
	// ReasonBadNumber: a counter, port-like number or flow_id is not a
	// non-negative integer in range.
	ReasonBadNumber Reason = "bad_number"
	// ReasonBadTimestamp: a timestamp is not Suricata's
	// "2006-01-02T15:04:05.999999-0700" (or another ISO 8601 form with a zone).
	ReasonBadTimestamp Reason = "bad_timestamp"
	// ReasonBadAddress: src_ip or dest_ip is not an IP address.
	ReasonBadAddress Reason = "bad_address"
	// ReasonBadPort: src_port or dest_port is not a number from 0 to 65535.
	ReasonBadPort Reason = "bad_port"
	// ReasonBadValue: a field has the wrong JSON type, or proto is neither a
	// protocol name nor a number up to 255.
	ReasonBadValue Reason = "bad_value"
	// ReasonLineTooLong: a line exceeds Config.MaxLineBytes; the readers
	// skip it up to the next newline.
	ReasonLineTooLong Reason = "line_too_long"
)

// maxErrorValue bounds how much of an offending value a LineError quotes.
const maxErrorValue = 64

// LineError reports one rejected line: where it was, which field, why.
// The decoder skips the line and goes on with the next one.
type LineError struct {
	File   string // file name as given to the decoder ("" when unnamed)
	Line   int64  // 1-based line number
	Field  string // dotted field name ("flow.start"), "" for the whole line
	Reason Reason // why the line was rejected
	Value  string // the offending value, truncated to 64 bytes ("" if none)
	Err    error  // detail, may be nil
}

// Error formats the error as "file:line: field f: reason: detail "value"".
func (e *LineError) Error() string {
	b := make([]byte, 0, 96)
	if e.File != "" {
		b = append(b, e.File...)
		b = append(b, ':')
	}
	b = strconv.AppendInt(b, e.Line, 10)
	b = append(b, ": "...)
	if e.Field != "" {
		b = append(b, "field "...)
		b = append(b, e.Field...)
		b = append(b, ": "...)
	}
	b = append(b, e.Reason...)
	if e.Err != nil {
		b = append(b, ": "...)
		b = append(b, e.Err.Error()...)
	}
	if e.Value != "" {
		b = append(b, ' ')
		b = strconv.AppendQuote(b, e.Value)
	}
	return string(b)
}

// Unwrap returns the detail error.
func (e *LineError) Unwrap() error { return e.Err }

// lineError builds a LineError for the current line, copying at most
// maxErrorValue bytes of val (val may alias the caller's buffer).
func (d *Decoder) lineError(field string, reason Reason, val []byte, err error) *LineError {
	if len(val) > maxErrorValue {
		val = val[:maxErrorValue]
	}
	return &LineError{File: d.file, Line: d.line, Field: field, Reason: reason, Value: string(val), Err: err}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
