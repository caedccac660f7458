package logscan

// The rejected-line error of the decoders.

import (
	"fmt"
	"strconv"
)

// Reason classifies why a line was rejected. The decoders define their
// reasons (bad_json, bad_port, ...) as constants of this type; the values
// are stable and safe to use as metric labels.
type Reason string

// ReasonLineTooLong: a line exceeds the reader's limit (FileReader's
// MaxLineBytes); the readers skip it up to the next newline.
const ReasonLineTooLong Reason = "line_too_long"

// MaxErrorValue bounds how much of an offending value a LineError quotes.
const MaxErrorValue = 64

// LineError reports one rejected line: where it was, which field, why.
// The decoder skips the line and goes on with the next one.
type LineError struct {
	File   string // file name as given to the decoder ("" when unnamed)
	Line   int64  // 1-based line number
	Field  string // field name ("id.orig_h", "flow.start"), "" for the whole line
	Reason Reason // why the line was rejected
	Value  string // the offending value, truncated to 64 bytes ("" if none)
	Err    error  // detail, may be nil
}

// NewLineError returns a LineError for line line of file, quoting at most
// MaxErrorValue bytes of val (val may alias the caller's buffer: it is
// copied).
func NewLineError(file string, line int64, field string, reason Reason, val []byte, err error) *LineError {
	if len(val) > MaxErrorValue {
		val = val[:MaxErrorValue]
	}
	return &LineError{File: file, Line: line, Field: field, Reason: reason, Value: string(val), Err: err}
}

// newLineTooLong returns the ReasonLineTooLong error for line line of
// file, a line of n bytes over the limit of max bytes.
func newLineTooLong(file string, line int64, n, max int) *LineError {
	return NewLineError(file, line, "", ReasonLineTooLong, nil, fmt.Errorf("%d bytes, limit %d", n, max))
}

// Error formats the error as `file:line: field f: reason: detail "value"`,
// leaving out the parts that are empty.
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
