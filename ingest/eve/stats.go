package eve

import (
	"fmt"
	"maps"
	"slices"
	"strings"
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
	Events map[string]int64
	// UnknownProto counts flow events whose proto name Aegis cannot number;
	// they are decoded with Proto 0.
	UnknownProto int64
	// Bad counts rejected lines; BadByReason splits it by Reason.
	Bad         int64
	BadByReason map[Reason]int64 // Bad by Reason

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
	writeCounts(&b, s.BadByReason)
	if s.SNI > 0 {
		fmt.Fprintf(&b, "; sni matched %d, unmatched %d, attached %d", s.SNIMatched, s.SNIUnmatched, s.SNIAttached)
	}
	if s.UnknownProto > 0 {
		fmt.Fprintf(&b, "; %d with unknown proto", s.UnknownProto)
	}
	return b.String()
}

// writeCounts appends " (k1 n1, k2 n2)" in key order.
func writeCounts[K ~string](b *strings.Builder, m map[K]int64) {
	if len(m) == 0 {
		return
	}
	b.WriteString(" (")
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%s %d", k, m[k])
	}
	b.WriteString(")")
}

// Add adds o's counters to s (Errors are appended).
func (s *Stats) Add(o Stats) {
	s.Lines += o.Lines
	s.Blank += o.Blank
	s.Flows += o.Flows
	s.SNI += o.SNI
	s.Skipped += o.Skipped
	for k, v := range o.Events {
		if s.Events == nil {
			s.Events = make(map[string]int64)
		}
		s.Events[k] += v
	}
	s.UnknownProto += o.UnknownProto
	s.Bad += o.Bad
	for k, v := range o.BadByReason {
		if s.BadByReason == nil {
			s.BadByReason = make(map[Reason]int64)
		}
		s.BadByReason[k] += v
	}
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
	if s.BadByReason == nil {
		s.BadByReason = make(map[Reason]int64)
	}
	s.BadByReason[r]++
}

// maxEventTypes bounds Stats.Events, so that garbled input cannot grow it
// without limit; further types are counted under OtherEventTypes.
const maxEventTypes = 256

// OtherEventTypes is the Stats.Events key that counts the event types seen
// after the first 256 distinct ones.
const OtherEventTypes = "(other)"

func (s *Stats) countEvent(t string) {
	if s.Events == nil {
		s.Events = make(map[string]int64)
	}
	if _, ok := s.Events[t]; !ok && len(s.Events) >= maxEventTypes {
		t = OtherEventTypes
	}
	s.Events[t]++
}
