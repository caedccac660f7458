package eve

import (
	"fmt"
	"maps"
	"strings"

	"github.com/aegis-nsm/aegis/ingest/logscan"
)

// Stats counts what a Decoder (or a reader) saw. Lines = Blank + Flows +
// Context + Skipped + Bad. A Stats is a snapshot, owned by whoever asked
// for it.
type Stats struct {
	Lines int64 // lines fed to the decoder
	Blank int64 // empty lines
	Flows int64 // flow events decoded
	// Context counts tls, quic, ssh, http and alert events decoded for the
	// context they add to their flow; Alerts counts the alerts among them.
	Context int64
	Alerts  int64
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
	// CommunityIDComputed counts flow events whose community_id the
	// decoder computed (the event had none).
	CommunityIDComputed int64
	// InvalidUTF8 counts events kept with invalid UTF-8 in a string field
	// replaced by U+FFFD.
	InvalidUTF8 int64
	// Bad counts rejected lines; BadByReason splits it by Reason.
	Bad         int64
	BadByReason logscan.Counts[Reason] // Bad by Reason

	// The fields below are filled by the readers (ReadFile, ReadFiles,
	// Read), not by a Decoder.

	// Errors holds the first Config.MaxErrorSamples rejected lines.
	Errors []*LineError
	// ContextMatched counts context events whose flow_id matched a flow
	// event; ContextUnmatched those that matched none (their flow event
	// is not in the input, or is not written yet).
	ContextMatched, ContextUnmatched int64
	// SNIAttached counts flows that received a server name;
	// AlertsAttached the alerts attached to flows.
	SNIAttached, AlertsAttached int64
}

// String summarises s on one line, for logs and run summaries:
// "15 lines: 3 flow, 1 context, 1 skipped, 9 bad (bad_json 3, ...)".
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d lines: %d flow, %d context, %d skipped, %d bad", s.Lines, s.Flows, s.Context, s.Skipped, s.Bad)
	s.BadByReason.WriteSorted(&b)
	if s.Context > 0 {
		fmt.Fprintf(&b, "; context matched %d, unmatched %d; sni attached %d, alerts attached %d",
			s.ContextMatched, s.ContextUnmatched, s.SNIAttached, s.AlertsAttached)
	}
	if s.InvalidUTF8 > 0 {
		fmt.Fprintf(&b, "; %d with invalid UTF-8 repaired", s.InvalidUTF8)
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
	s.Context += o.Context
	s.Alerts += o.Alerts
	s.CommunityIDComputed += o.CommunityIDComputed
	s.InvalidUTF8 += o.InvalidUTF8
	s.Skipped += o.Skipped
	s.Events.Add(o.Events)
	s.UnknownProto += o.UnknownProto
	s.Bad += o.Bad
	s.BadByReason.Add(o.BadByReason)
	s.Errors = append(s.Errors, o.Errors...)
	s.ContextMatched += o.ContextMatched
	s.ContextUnmatched += o.ContextUnmatched
	s.SNIAttached += o.SNIAttached
	s.AlertsAttached += o.AlertsAttached
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

// countEvent counts one event of type t and returns the key it counted it
// under (t, or OtherEventTypes).
func (s *Stats) countEvent(t string) string {
	if _, ok := s.Events[t]; !ok && len(s.Events) >= maxEventTypes {
		t = OtherEventTypes
	}
	s.Events.Inc(t)
	return t
}
