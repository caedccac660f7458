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
//     history, tunnel_parents (Tunnelled) and community_id when logged.
//     Columns are mapped by name, never by position.
//   - ssl records (Config.SSLPaths, default "ssl") become SSLRecord (uid and
//     server_name) so a caller can attach the SNI to the conn record with
//     the same uid; ReadFiles does that.
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
// the next line decodes as if it had not been there.
//
// A Decoder is meant for one file and is not safe for concurrent use;
// ReadFile, ReadFiles and Read build their own Decoders and are safe to
// call from several goroutines. The decoder does not allocate per line
// except for the strings it keeps (one allocation holding uid and
// community_id); small repeated strings (service, conn_state, history) are
// interned per Decoder.
package zeek
