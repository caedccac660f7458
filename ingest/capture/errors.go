package capture

import (
	"errors"
	"fmt"
)

// Reasons a frame is not decoded. Decode returns exactly these values (never
// wrapped), so a caller on the hot path may compare with == and count;
// FileReader and Merger wrap them in a *RecordError that names the file and
// the record.
var (
	// ErrUnknownLinkType: the Decoder does not understand the link type.
	ErrUnknownLinkType = errors.New("capture: unsupported link type")
	// ErrTruncatedHeader: the capture was cut (snap length) inside the
	// link, IP or transport headers, so the flow is unknown.
	ErrTruncatedHeader = errors.New("capture: headers cut by the snap length")
	// ErrNotIP: the frame carries something other than IPv4 or IPv6 (ARP,
	// LLDP, PPP control, ...).
	ErrNotIP = errors.New("capture: not an IP packet")
	// ErrBadHeader: a header is malformed (wrong IP version, a length
	// field that contradicts the frame, a frame shorter than its headers
	// although it was captured whole, ...).
	ErrBadHeader = errors.New("capture: malformed header")
)

// Reasons a file ends before its last byte. FileReader.Err returns them
// wrapped in a *RecordError.
var (
	// ErrTruncatedRecord: the file ends inside a record (a file still
	// being written, or cut). The partial record is counted, not decoded.
	ErrTruncatedRecord = errors.New("capture: truncated at end of file")
	// ErrBadRecord: a record header is unreadable (a length beyond any
	// snap length, a pcapng block that does not parse), so the records
	// after it cannot be found.
	ErrBadRecord = errors.New("capture: corrupt record")
	// ErrNotCapture: the file is neither pcap nor pcapng.
	ErrNotCapture = errors.New("capture: not a pcap or pcapng file")
)

// RecordError is a problem with one record of one capture file (or with the
// whole file, when Record is 0).
type RecordError struct {
	// File is the file name as given to Open (or NewReader).
	File string
	// Record is the 1-based number of the packet record in the file, 0
	// when the error concerns the file as a whole.
	Record uint64
	// Err is the reason: one of the Err* values of this package, possibly
	// wrapped with detail, or an I/O error.
	Err error
}

// Error formats the error as "file NAME: record N: reason".
func (e *RecordError) Error() string {
	if e.Record == 0 {
		return fmt.Sprintf("file %s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("file %s: record %d: %v", e.File, e.Record, e.Err)
}

// Unwrap returns the reason, so errors.Is(err, ErrTruncatedRecord) works.
func (e *RecordError) Unwrap() error { return e.Err }
