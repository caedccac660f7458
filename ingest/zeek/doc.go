// Package zeek decodes Zeek logs into schemas.IDSFlow records.
//
// A Decoder is fed one line at a time and keeps the state a Zeek log file
// carries: the header block of the ASCII (TSV) format (#separator,
// #set_separator, #empty_field, #unset_field, #path, #fields, #types, and
// #close), which it re-reads whenever Zeek starts a new block in the same
// file (after a restart or an in-place rotation), and the line number. Zeek
// JSON lines (LogAscii::use_json, json-streaming-logs) are decoded too:
// flattened ("id.orig_h") or nested ("id":{"orig_h":...}) keys, unset
// fields omitted or null, sets as arrays, and ts as epoch seconds
// (JSON::TS_EPOCH), epoch milliseconds (JSON::TS_MILLIS, an integer of
// 1e11 or more) or an ISO 8601 string (JSON::TS_ISO8601). The log path of
// a JSON line comes from "_path", else Config.Path, else its keys.
//
// What is decoded:
//
//   - conn records (paths in Config.ConnPaths, default "conn") become
//     schemas.IDSFlow: ts, uid, the id.* 4-tuple, proto as an IP protocol
//     number (icmp is 58 for IPv6 originators; unknown_transport takes the
//     ip_proto column), service, duration (Start/End in ns), orig/resp
//     bytes and packets, orig/resp_ip_bytes (-1 when unset), conn_state,
//     history, tunnel_parents (Tunnelled) and community_id. Columns (and
//     JSON keys) are mapped by name, never by position, so columns added
//     by Zeek versions or site scripts (vlan, ja4l, local additions) and
//     any column order just work.
//   - conn records of the paths in Config.InterimPaths (default
//     "conn_long", written by corelight/zeek-long-connections for flows
//     still open, with conn's columns) decode the same way with
//     IDSFlow.Interim set. ReadFiles keeps the final conn row of a uid over
//     its snapshots, or the latest snapshot when there is no final row.
//   - community_id: with Config.ComputeCommunityID, a record that has none
//     (the column is not loaded, or unset) gets the Community ID v1
//     computed from the 4-tuple and proto with schemas/communityid and
//     Config.CommunityIDSeed, inside the one allocation the record's
//     strings already take. Records with an unknown transport (Proto 0)
//     get none.
//   - ssl records (Config.SSLPaths, default "ssl") become SSLRecord (uid,
//     server_name, version, and the ja3, ja3s and ja4 columns when the
//     fingerprinting packages add them) so a caller can attach them to the
//     conn record with the same uid; ReadFiles does that (ingest/flowctx).
//   - plain and gzip files (rotated *.log.gz archives) are read alike.
//   - records of any other path are recognised, counted in
//     Stats.SkippedByPath and not decoded.
//
// Zeek's unset ("-") and empty ("(empty)") markers are honoured per field
// (unset counts are 0, unset orig_ip_bytes is -1, an unset duration makes
// End equal Start), and \xHH escapes in strings are decoded. The btest
// baselines of Zeek's test suite mask the first timestamp of each line as
// "XXXXXXXXXX.XXXXXX"; exactly that value decodes as time 0 (counted in
// Stats.UnknownTime), any other non-number is a bad timestamp.
//
// Bad input never stops decoding: a malformed line returns a *LineError
// that names the file, line and field, is counted by Reason in Stats, and
// the next line decodes as if it had not been there. That covers a line
// that does not parse (bad_json, field_count, bad_number, ...), a line
// longer than Config.MaxLineBytes (line_too_long, skipped by the readers
// up to its newline), a header that does not parse (bad_header), data
// before any header (no_header) and a Suricata EVE object in a Zeek log
// (wrong_format). Invalid UTF-8 is not an error: the record is kept with
// each invalid sequence of a kept string replaced by U+FFFD, and counted
// in Stats.InvalidUTF8 (Zeek escapes raw bytes as \xHH, so only such an
// escape or a garbled file produces it; dropping a whole flow for one odd
// byte in a server name would lose the flow).
//
// A Decoder is meant for one file and is not safe for concurrent use;
// ReadFile, ReadFiles and Read build their own Decoders and are safe to
// call from several goroutines. The decoder does not allocate per line
// except for the strings it keeps (one allocation holding uid and
// community_id, logged or computed); small repeated strings (service, conn_state, history) are
// interned per Decoder. The readers go further: they decode each conn
// record in place into the slice they return, and copy the kept strings
// into shared 64 KiB blocks (logscan.Strings), so a whole file costs a
// handful of allocations, not one per record.
package zeek
