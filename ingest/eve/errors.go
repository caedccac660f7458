package eve

import (
	"fmt"

	"github.com/aegis-nsm/aegis/ingest/logscan"
)

// Reason classifies why a line was rejected. Stats counts rejected lines by
// Reason; the values are stable and safe to use as metric labels.
type Reason = logscan.Reason

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
	// ReasonWrongFormat: the line is a JSON object but not a Suricata
	// event: no event_type, and Zeek's "_path" or "uid" instead (a Zeek
	// JSON log given as EVE).
	ReasonWrongFormat Reason = "wrong_format"
	// ReasonLineTooLong: a line exceeds Config.MaxLineBytes; the readers
	// skip it up to the next newline.
	ReasonLineTooLong = logscan.ReasonLineTooLong
)

// LineError reports one rejected line: where it was, which field (a
// dotted EVE name, "flow.start"), why. The decoder skips the line and goes
// on with the next one. Its Error method formats it as
// `file:line: field f: reason: detail "value"`.
type LineError = logscan.LineError

// lineError builds a LineError for the current line, copying at most
// logscan.MaxErrorValue bytes of val (val may alias the caller's buffer).
func (d *Decoder) lineError(field string, reason Reason, val []byte, err error) *LineError {
	return logscan.NewLineError(d.file, d.line, field, reason, val, err)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
