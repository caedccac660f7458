package zeek

import (
	"fmt"
	"maps"
	"strings"

	"github.com/aegis-nsm/aegis/ingest/logscan"
)

// Stats counts what a Decoder (or a reader) saw. Lines = Meta + Conn + SSL
// + Skipped + Bad. The counters are plain values: a Stats is a snapshot,
// owned by whoever asked for it.
type Stats struct {
	Lines        int64 // lines fed to the decoder
	Meta         int64 // header (#...), btest comment and blank lines
	HeaderBlocks int64 // #separator lines: above 1 means Zeek restarted or the file was rotated in place
	Conn         int64 // conn records decoded (Interim ones included)
	// Interim counts the conn records of interim paths (conn_long):
	// snapshots of flows still open.
	Interim int64
	// CommunityIDComputed counts conn records whose community_id the
	// decoder computed (the log had none).
	CommunityIDComputed int64
	// InvalidUTF8 counts records kept with invalid UTF-8 in a string field
	// replaced by U+FFFD.
	InvalidUTF8 int64
	SSL         int64 // ssl records decoded
	// Skipped counts well-formed records of other log paths (dns, http,
	// x509, ...), which are recognised and not decoded; SkippedByPath
	// splits it by path ("unknown" when a JSON line's path could not be
	// told; at most 256 paths, the rest under OtherPaths).
	Skipped       int64
	SkippedByPath logscan.Counts[string] // Skipped by log path
	// UnknownTime counts conn records whose ts was btest's canonical
	// "XXXXXXXXXX.XXXXXX"; they are decoded with Start 0.
	UnknownTime int64
	// UnknownProto counts conn records whose transport could not be
	// numbered (unknown_transport without ip_proto); they have Proto 0.
	UnknownProto int64
	// Bad counts rejected lines; BadByReason splits it by Reason.
	Bad         int64
	BadByReason logscan.Counts[Reason] // Bad by Reason

	// The fields below are filled by the readers (ReadFile, ReadFiles,
	// Read), not by a Decoder.

	// Errors holds the first Config.MaxErrorSamples rejected lines.
	Errors []*LineError
	// SSLMatched counts ssl records whose uid matched a conn record;
	// SSLUnmatched those that matched none (their conn record was not in
	// the input, or is not written yet).
	SSLMatched, SSLUnmatched int64
	// SNIAttached counts conn records that received a server name.
	SNIAttached int64
	// InterimSuperseded counts interim records ReadFiles dropped because
	// a final conn record or a later snapshot of the same uid replaced
	// them.
	InterimSuperseded int64
}

// String summarises s on one line, for logs and run summaries:
// "31 lines: 5 conn, 0 ssl, 0 skipped, 9 bad (bad_json 1, field_count 4)".
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d lines: %d conn, %d ssl, %d skipped, %d bad", s.Lines, s.Conn, s.SSL, s.Skipped, s.Bad)
	s.BadByReason.WriteSorted(&b)
	if s.SSL > 0 {
		fmt.Fprintf(&b, "; ssl matched %d, unmatched %d, sni attached %d", s.SSLMatched, s.SSLUnmatched, s.SNIAttached)
	}
	if s.Interim > 0 {
		fmt.Fprintf(&b, "; %d interim (%d superseded)", s.Interim, s.InterimSuperseded)
	}
	if s.InvalidUTF8 > 0 {
		fmt.Fprintf(&b, "; %d with invalid UTF-8 repaired", s.InvalidUTF8)
	}
	if s.UnknownTime > 0 {
		fmt.Fprintf(&b, "; %d with masked ts", s.UnknownTime)
	}
	if s.HeaderBlocks > 1 {
		fmt.Fprintf(&b, "; %d header blocks", s.HeaderBlocks)
	}
	return b.String()
}

// Add adds o's counters to s (Errors are appended).
func (s *Stats) Add(o Stats) {
	s.Lines += o.Lines
	s.Meta += o.Meta
	s.HeaderBlocks += o.HeaderBlocks
	s.Conn += o.Conn
	s.SSL += o.SSL
	s.Skipped += o.Skipped
	s.SkippedByPath.Add(o.SkippedByPath)
	s.UnknownTime += o.UnknownTime
	s.UnknownProto += o.UnknownProto
	s.Bad += o.Bad
	s.BadByReason.Add(o.BadByReason)
	s.Errors = append(s.Errors, o.Errors...)
	s.SSLMatched += o.SSLMatched
	s.SSLUnmatched += o.SSLUnmatched
	s.SNIAttached += o.SNIAttached
	s.Interim += o.Interim
	s.CommunityIDComputed += o.CommunityIDComputed
	s.InvalidUTF8 += o.InvalidUTF8
	s.InterimSuperseded += o.InterimSuperseded
}

// clone returns a copy of s that shares no maps or slices with it.
func (s Stats) clone() Stats {
	s.SkippedByPath = maps.Clone(s.SkippedByPath)
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

// maxSkippedPaths bounds Stats.SkippedByPath, so that garbled input cannot
// grow it without limit; further paths are counted under OtherPaths.
const maxSkippedPaths = 256

// OtherPaths is the Stats.SkippedByPath key that counts the log paths seen
// after the first 256 distinct ones.
const OtherPaths = "(other)"

func (s *Stats) countSkipped(path string) {
	s.Skipped++
	s.SkippedByPath.IncBounded(path, maxSkippedPaths, OtherPaths)
}
