package zeek

import (
	"fmt"
	"strconv"
)

// Reason classifies why a line was rejected. Stats counts rejected lines by
// Reason; the values are stable and safe to use as metric labels.
type Reason string

// The reasons a line is rejected.
const (
	// ReasonNoHeader: a TSV data line came before any #fields header.
	ReasonNoHeader Reason = "no_header"
	// ReasonBadHeader: a header line is malformed (an empty #separator or
	// #fields, or #types not matching #fields). The header is still used.
	ReasonBadHeader Reason = "bad_header"
	// ReasonFieldCount: a TSV line has more or fewer fields than #fields
	// (typically a line truncated by a crash or a partial write).
	ReasonFieldCount Reason = "field_count"
	// ReasonMissingField: a field the record needs (ts, id.orig_h, ...) is
	// not in the header or the JSON object, or is unset.
	ReasonMissingField Reason = "missing_field"
	// ReasonBadNumber: a count, interval or ip_proto field is not a number
	// in range.
	ReasonBadNumber Reason = "bad_number"
	// ReasonBadTimestamp: ts is not a time Aegis can read.
	ReasonBadTimestamp Reason = "bad_timestamp"
	// ReasonBadAddress: an address field is not an IPv4 or IPv6 address.
	ReasonBadAddress Reason = "bad_address"
	// ReasonBadPort: a port field is not a number from 0 to 65535.
	ReasonBadPort Reason = "bad_port"
	// ReasonBadValue: a field has the wrong JSON type (an object where a
	// string belongs, for example).
	ReasonBadValue Reason = "bad_value"
	// ReasonBadJSON: a line starting with '{' is not one valid JSON object.
	ReasonBadJSON Reason = "bad_json"
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
	Field  string // field name, "" when the line as a whole is bad
	Reason Reason // why the line was rejected
	Value  string // the offending value, truncated to 64 bytes ("" if none)
	Err    error  // detail, may be nil
}

// Error formats the error as "file:line: field: reason: detail (value)".
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
