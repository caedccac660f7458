package schemas

import "encoding/binary"

// IP protocol numbers Aegis names.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
	ProtoSCTP   uint8 = 132
)

// TCP flag bits as they appear in the TCP header's flags byte.
const (
	TCPFin uint8 = 0x01
	TCPSyn uint8 = 0x02
	TCPRst uint8 = 0x04
	TCPPsh uint8 = 0x08
	TCPAck uint8 = 0x10
	TCPUrg uint8 = 0x20
	TCPEce uint8 = 0x40
	TCPCwr uint8 = 0x80
)

// Tuple is a directional 5-tuple: the sender of a packet is Src. For ICMP,
// SrcPort and DstPort carry the type and code the way Zeek keys ICMP
// "connections" (see the packet decoder); for protocols without ports both are 0.
type Tuple struct {
	SrcIP, DstIP     IP
	SrcPort, DstPort uint16
	Proto            uint8
}

// SrcFirst reports whether the sender's endpoint sorts at or before the
// receiver's (address bytes, then port): the order canonical flow keys and
// Community ID put a flow's two ends in.
func (t *Tuple) SrcFirst() bool {
	// Big-endian 64-bit halves compare like the bytes do.
	if a, b := binary.BigEndian.Uint64(t.SrcIP[:8]), binary.BigEndian.Uint64(t.DstIP[:8]); a != b {
		return a < b
	}
	if a, b := binary.BigEndian.Uint64(t.SrcIP[8:]), binary.BigEndian.Uint64(t.DstIP[8:]); a != b {
		return a < b
	}
	return t.SrcPort <= t.DstPort
}

// Reverse returns the tuple seen from the other side.
func (t Tuple) Reverse() Tuple {
	return Tuple{SrcIP: t.DstIP, DstIP: t.SrcIP, SrcPort: t.DstPort, DstPort: t.SrcPort, Proto: t.Proto}
}

// Packet is the summary of one captured packet: all the flow table and the
// cadence analysis need, and nothing that points into the capture buffer.
// Decoders fill a caller-owned Packet; it is a plain value, safe to copy.
type Packet struct {
	// TS is the capture timestamp in nanoseconds since the Unix epoch (the
	// packet clock).
	TS int64
	// Tuple identifies the flow, from the sender's side. For tunnelled
	// traffic it is the outermost IP flow.
	Tuple Tuple
	// WireLen is the frame's original length on the wire, link header
	// included (what Suricata's flow.bytes_* count).
	WireLen uint32
	// IPLen is the IP packet's length from its header: IPv4 total length or
	// 40 + IPv6 payload length (what Zeek's *_ip_bytes count).
	IPLen uint32
	// Payload is the transport payload length derived from the headers (not
	// from the captured length), so snaplen-cut packets still count in full.
	Payload uint32
	// Seq is the TCP sequence number (0 for other protocols).
	Seq uint32
	// TCPFlags is the TCP flags byte (0 for other protocols).
	TCPFlags uint8
	// Fragment is set for an IP fragment other than the first; its ports are
	// unknown and zero.
	Fragment bool
}
