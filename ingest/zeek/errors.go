package zeek

import (
	"fmt"

	"github.com/aegis-nsm/aegis/ingest/logscan"
)

// Reason classifies why a line was rejected. Stats counts rejected lines by
// Reason; the values are stable and safe to use as metric labels.
type Reason = logscan.Reason

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
	// ReasonWrongFormat: a JSON line is not a Zeek record at all (it has
	// Suricata's "event_type" and no "_path"): an EVE file given as a Zeek
	// log, or two outputs writing to one file.
	ReasonWrongFormat Reason = "wrong_format"
	// ReasonLineTooLong: a line exceeds Config.MaxLineBytes; the readers
	// skip it up to the next newline.
	ReasonLineTooLong = logscan.ReasonLineTooLong
)

// LineError reports one rejected line: where it was, which field (a Zeek
// field name, "id.orig_h"), why. The decoder skips the line and goes on
// with the next one. Its Error method formats it as
// `file:line: field f: reason: detail "value"`.
type LineError = logscan.LineError

// lineError builds a LineError for the current line, copying at most
// logscan.MaxErrorValue bytes of val (val may alias the caller's buffer).
func (d *Decoder) lineError(field string, reason Reason, val []byte, err error) *LineError {
	return logscan.NewLineError(d.file, d.line, field, reason, val, err)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
