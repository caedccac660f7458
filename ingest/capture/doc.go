// Package capture turns captured frames into schemas.Packet summaries: the
// per-packet input of the cadence flow table.
//
// It has three layers:
//
//   - Decoder decodes one frame of a given link type (Ethernet with 802.1Q,
//     QinQ, MPLS and PPPoE; Linux cooked SLL and SLL2; raw IP; BSD
//     loopback; PPP; Cisco HDLC) through IPv4 or IPv6 (extension headers
//     walked) to TCP, UDP, ICMP and ICMPv6. It is hand written for the hot
//     path: it allocates nothing and reads only the headers it needs.
//   - FileReader reads one classic pcap (microsecond or nanosecond, either
//     byte order) or pcapng file (several interfaces, each with its own
//     link type and timestamp resolution), gzip-compressed or not, and hands
//     out decoded packets one at a time (Next) or in batches (ReadBatch).
//     Classic pcap is parsed straight out of a large read buffer; pcapng
//     goes through github.com/gopacket/gopacket/pcapgo.
//   - Merger reads several files as one capture in timestamp order, as a
//     rolling capture ring that splits flows across files needs.
//
// # Bad input
//
// A packet that cannot be decoded is skipped and counted by reason (Stats),
// and the first error of each reason is kept with the file name and record
// number (SkipErrors). A truncated last record, which a file still being
// written always has, ends the file: Next returns io.EOF, the record is
// counted, and Err names the file and the record. Nothing here logs, panics
// or exits; the caller decides what to report.
//
// # Buffers and concurrency
//
// A schemas.Packet holds no pointer into a capture buffer: Decode writes
// into a caller-owned Packet and keeps no reference to the frame, so the
// caller may reuse both right away. A Decoder is immutable and safe for
// concurrent use. FileReader and Merger are not safe for concurrent use;
// give each goroutine its own.
package capture
