package eve

import (
	"fmt"
	"maps"
	"strings"

	"github.com/aegis-nsm/aegis/ingest/logscan"
)

// Stats counts what a Decoder (or a reader) saw. Lines = Blank + Flows +
// SNI + Skipped + Bad. A Stats is a snapshot, owned by whoever asked for it.
type Stats struct {
	Lines int64 // lines fed to the decoder
	Blank int64 // empty lines
	Flows int64 // flow events decoded
	SNI   int64 // tls and quic events decoded for their server name
	// Skipped counts well-formed events of every other type (alert, dns,
	// http, fileinfo, anomaly, stats, netflow, ...), recognised and not
	// decoded.
	Skipped int64
	// Events counts every well-formed event by event_type, the decoded ones
	// included (at most 256 types; the rest under OtherEventTypes).
	Events logscan.Counts[string]
	// UnknownProto counts flow events whose proto name Aegis cannot number;
	// they are decoded with Proto 0.
	UnknownProto int64
	// Bad counts rejected lines; BadByReason splits it by Reason.
	Bad         int64
	BadByReason logscan.Counts[Reason] // Bad by Reason

	// The fields below are filled by the readers (ReadFile, ReadFiles,
	// Read), not by a Decoder.

	// Errors holds the first Config.MaxErrorSamples rejected lines.
	Errors []*LineError
	// SNIMatched counts tls/quic events whose flow_id matched a flow event;
	// SNIUnmatched those that matched none.
	SNIMatched, SNIUnmatched int64
	// SNIAttached counts flows that received a server name.
	SNIAttached int64
}

// String summarises s on one line, for logs and run summaries:
// "15 lines: 3 flow, 1 sni, 1 skipped, 9 bad (bad_json 3, ...)".
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d lines: %d flow, %d sni, %d skipped, %d bad", s.Lines, s.Flows, s.SNI, s.Skipped, s.Bad)
	s.BadByReason.WriteSorted(&b)
	if s.SNI > 0 {
		fmt.Fprintf(&b, "; sni matched %d, unmatched %d, attached %d", s.SNIMatched, s.SNIUnmatched, s.SNIAttached)
	}
	if s.UnknownProto > 0 {
		fmt.Fprintf(&b, "; %d with unknown proto", s.UnknownProto)
	}
	return b.String()
}

// Add adds o's counters to s (Errors are appended).
func (s *Stats) Add(o Stats) {
	s.Lines += o.Lines
	s.Blank += o.Blank
	s.Flows += o.Flows
	s.SNI += o.SNI
	s.Skipped += o.Skipped
	s.Events.Add(o.Events)
	s.UnknownProto += o.UnknownProto
	s.Bad += o.Bad
	s.BadByReason.Add(o.BadByReason)
	s.Errors = append(s.Errors, o.Errors...)
	s.SNIMatched += o.SNIMatched
	s.SNIUnmatched += o.SNIUnmatched
	s.SNIAttached += o.SNIAttached
}

// clone returns a copy of s that shares no maps or slices with it.
func (s Stats) clone() Stats {
	s.Events = maps.Clone(s.Events)
	s.BadByReason = maps.Clone(s.BadByReason)
	if s.Errors != nil {
		s.Errors = append([]*LineError(nil), s.Errors...)
	}
	return s
}

func (s *Stats) countBad(r Reason) {
	s.Bad++
	s.BadByReason.Inc(r)
}

// maxEventTypes bounds Stats.Events, so that garbled input cannot grow it
// without limit; further types are counted under OtherEventTypes.
const maxEventTypes = 256

// OtherEventTypes is the Stats.Events key that counts the event types seen
// after the first 256 distinct ones.
const OtherEventTypes = "(other)"

func (s *Stats) countEvent(t string) {
	s.Events.IncBounded(t, maxEventTypes, OtherEventTypes)
}
