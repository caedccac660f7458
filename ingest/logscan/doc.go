// Package logscan provides fast, allocation-free scanning of IDS log lines:
// a bounded line reader, a JSON object scanner, and parsers for the
// addresses, ports, numbers and timestamps Zeek and Suricata write, plus a
// per-file string interner; and the reading layer the decoders share
// around it: the file-reading loop, the rejected-line error and the
// per-key counters of their Stats.
//
// It is the shared lexical layer of the ingest/zeek and ingest/eve
// decoders. Everything works on byte slices of the line being decoded and
// hands back slices of it or plain values, so decoding a line does not
// allocate unless the caller keeps a string:
//
//   - LineReader splits a (possibly gzip-compressed) stream into lines,
//     reporting the length of lines over a limit instead of returning them.
//   - JSONScanner validates one JSON text (RFC 8259) while walking its
//     objects and arrays; JSONValue holds a member's raw text and
//     AppendUnescaped decodes a string's escapes. ScanJSONValue,
//     SkipJSONValue, ScanJSONString, JSONStringStop and SkipJSONSpace are
//     its fast path as plain functions over an index (flat loops, eight
//     bytes at a time in strings): they validate exactly what JSONScanner
//     validates and only report whether the text is valid, so a decoder
//     walks a line with them and rescans a rejected line with JSONScanner
//     for its error.
//   - ParseUint, ParseUint64, ParsePort, ParseSecondsNanos, ParseISOTime,
//     ParseAddr and HexDigit parse the scalar formats of the two sensors
//     exactly (no float64 on the way); what they accept reads as it would
//     with strconv, time or net/netip.
//   - ValidUTF8 is utf8.Valid with a fast path for short ASCII fields.
//   - Interner keeps one copy of the small strings a log repeats; Strings
//     copies the strings whole-file readers keep into shared blocks (one
//     allocation per block, not per record); Chunks collects the records,
//     in place (Spare, Commit) in a reserved slice.
//   - FileReader opens files and feeds their lines to a LineDecoder
//     (ReadFiles, ReadLines), skipping overlong lines and keeping the
//     first rejected lines; TrimLine strips a line's ending and BOM.
//   - LineError (with Reason) reports a rejected line; NewLineError builds
//     one.
//   - Counts counts lines by key (reason, event type, log path), bounded
//     on request.
//
// None of the types is safe for concurrent use; use one of each per file
// (one FileReader per ReadFiles call). Package logscantest holds the test
// helpers of the decoders.
package logscan
