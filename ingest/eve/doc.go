// Package eve decodes Suricata EVE JSON into schemas.IDSFlow records.
//
// A Decoder is fed one line (one event) at a time. It validates the whole
// line with the allocation-free JSON scanner of ingest/logscan, then looks
// at event_type:
//
//   - flow events become schemas.IDSFlow: flow_id (exact uint64), src_ip,
//     src_port, dest_ip, dest_port (src is the client in a flow event),
//     proto as an IP protocol number ("TCP" 6, "UDP" 17, "ICMP" 1,
//     "IPv6-ICMP" 58, other names and numbers), app_proto as Service,
//     community_id, flow.start and flow.end as Start and End (Suricata's
//     "2026-11-25T10:00:00.123456+0000", any offset), flow.pkts_toserver
//     and pkts_toclient, flow.bytes_toserver and bytes_toclient (whole
//     frames, link layer included, unlike Zeek's payload bytes) and
//     flow.state as ConnState. OrigIPBytes and RespIPBytes are -1: EVE has
//     no IP-level byte counts. ICMP flows carry icmp_type/icmp_code instead
//     of ports; they become ports the way Zeek logs them (type as the source
//     port, the reply type or the code as the destination port). Fields a
//     flow event should have but lacks are filled where that is safe: no
//     flow.start takes the event timestamp, no flow.end makes End equal
//     Start, no proto with an icmp_type is ICMP or ICMPv6 by address
//     family, no ports are port 0 (ESP, GRE). src_ip and dest_ip are
//     required.
//   - community_id, when the event has none (Suricata's community-id
//     option is off by default), is computed from the 5-tuple with
//     schemas/communityid and Config.CommunityIDSeed when
//     Config.ComputeCommunityID is set.
//   - With Config.KeepRaw, the flow event's line is kept verbatim (a copy)
//     in IDSFlow.Raw for publishing the original event; off by default, as
//     it costs an allocation and a copy per flow event.
//   - tls, quic, ssh, http and alert events become ContextRecord (flow_id
//     plus SNI, TLS version, JA3/JA3S/JA4, SSH software banners, HTTP
//     host, user agent and URL, and an IDSAlert for an alert), so a caller
//     can attach them to the flow event with the same flow_id; ReadFiles
//     does that (ingest/flowctx): several alerts per flow are all kept.
//   - netflow events are recognised and skipped: each is one direction of a
//     flow, and Suricata also writes the bi-directional flow event that
//     carries both directions (flow and netflow output are both on when
//     netflow is on), so decoding both would count each flow twice.
//   - every other event type (anomaly, dns, fileinfo, stats, ...) is
//     recognised, counted in Stats.Events and skipped.
//   - a JSON object that is not an EVE event (no event_type; Zeek's _path
//     or uid instead) is rejected as wrong_format. Invalid UTF-8 in a kept
//     string is replaced by U+FFFD and counted in Stats.InvalidUTF8; the
//     event is kept.
//
// flow_id is read digit by digit into a uint64, never through float64, so
// every value up to 2^64-1 is kept exactly; Suricata's are 51 bits.
//
// Bad input never stops decoding: a malformed line returns a *LineError
// that names the file, line and field, is counted by Reason in Stats, and
// the next line decodes as if it had not been there.
//
// A Decoder is meant for one file and is not safe for concurrent use;
// ReadFile, ReadFiles and Read build their own Decoders and are safe to
// call from several goroutines. Decoding a flow event allocates only the
// community_id string (logged or computed), plus the Raw copy with
// KeepRaw; small repeated strings (event types, app_proto, flow.state,
// alert category and action) are interned per Decoder. The readers go
// further: they decode each flow event in place into the slice they
// return, and copy the strings they keep into shared 64 KiB blocks
// (logscan.Strings), so a whole file costs a handful of allocations, not
// one per record.
package eve
