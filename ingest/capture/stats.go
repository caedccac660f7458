package capture

import (
	"errors"
	"fmt"
	"strings"
)

// Stats counts what a FileReader or Merger did with the records it read.
// Every packet record counts once in Records and once in exactly one of
// Decoded and the skip counters, so Records == Decoded + Skipped().
type Stats struct {
	// Records is the number of packet records met, whole or not.
	Records uint64
	// Decoded is the number of records handed out as packets.
	Decoded uint64

	// TruncatedHeader counts records whose capture (snap length) ended
	// inside the link, IP or transport headers (ErrTruncatedHeader).
	TruncatedHeader uint64
	// NotIP counts frames that carry no IP (ARP, LLDP, PPP control, ...).
	NotIP uint64
	// BadHeader counts frames with a malformed header (ErrBadHeader).
	BadHeader uint64
	// UnknownLinkType counts records of a pcapng interface whose link type
	// the Decoder does not support (ErrUnknownLinkType).
	UnknownLinkType uint64
	// TruncatedRecord counts records cut by the end of the file
	// (ErrTruncatedRecord): at most one per file, the last.
	TruncatedRecord uint64
	// BadRecord counts unreadable records (ErrBadRecord), after which the
	// rest of the file is lost: at most one per file.
	BadRecord uint64

	// Files is the number of files read (or being read).
	Files uint64
	// FilesSkipped is the number of files that could not be read at all:
	// missing, unreadable, not a capture, or of an unsupported link type.
	FilesSkipped uint64
}

// Skipped returns the number of records not handed out as packets.
func (s Stats) Skipped() uint64 {
	return s.TruncatedHeader + s.NotIP + s.BadHeader + s.UnknownLinkType + s.TruncatedRecord + s.BadRecord
}

// Add adds o's counters to s.
func (s *Stats) Add(o Stats) {
	s.Records += o.Records
	s.Decoded += o.Decoded
	s.TruncatedHeader += o.TruncatedHeader
	s.NotIP += o.NotIP
	s.BadHeader += o.BadHeader
	s.UnknownLinkType += o.UnknownLinkType
	s.TruncatedRecord += o.TruncatedRecord
	s.BadRecord += o.BadRecord
	s.Files += o.Files
	s.FilesSkipped += o.FilesSkipped
}

// String formats the non-zero counters, for a log line.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "records=%d decoded=%d", s.Records, s.Decoded)
	for _, c := range []struct {
		name string
		n    uint64
	}{
		{"truncated_header", s.TruncatedHeader},
		{"not_ip", s.NotIP},
		{"bad_header", s.BadHeader},
		{"unknown_link_type", s.UnknownLinkType},
		{"truncated_record", s.TruncatedRecord},
		{"bad_record", s.BadRecord},
		{"files", s.Files},
		{"files_skipped", s.FilesSkipped},
	} {
		if c.n != 0 {
			fmt.Fprintf(&b, " %s=%d", c.name, c.n)
		}
	}
	return b.String()
}

// reason indexes the skip counters.
type reason uint8

const (
	reasonTruncatedHeader reason = iota
	reasonNotIP
	reasonBadHeader
	reasonUnknownLinkType
	reasonTruncatedRecord
	reasonBadRecord
	numReasons
)

// reasonOf maps a Decode error to its counter.
func reasonOf(err error) reason {
	switch err {
	case ErrTruncatedHeader:
		return reasonTruncatedHeader
	case ErrNotIP:
		return reasonNotIP
	case ErrUnknownLinkType:
		return reasonUnknownLinkType
	}
	switch {
	case errors.Is(err, ErrTruncatedRecord):
		return reasonTruncatedRecord
	case errors.Is(err, ErrBadRecord):
		return reasonBadRecord
	case errors.Is(err, ErrUnknownLinkType):
		return reasonUnknownLinkType
	case errors.Is(err, ErrTruncatedHeader):
		return reasonTruncatedHeader
	case errors.Is(err, ErrNotIP):
		return reasonNotIP
	}
	return reasonBadHeader
}

// count adds one to the counter of reason r.
func (s *Stats) count(r reason) {
	switch r {
	case reasonTruncatedHeader:
		s.TruncatedHeader++
	case reasonNotIP:
		s.NotIP++
	case reasonBadHeader:
		s.BadHeader++
	case reasonUnknownLinkType:
		s.UnknownLinkType++
	case reasonTruncatedRecord:
		s.TruncatedRecord++
	case reasonBadRecord:
		s.BadRecord++
	}
}
