package zeek

import "net/netip"

// IP protocol numbers.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// protoNumber maps Zeek's transport enum (conn.log proto) to an IP protocol
// number. icmp is 1 for IPv4 and 58 for IPv6 originators (Zeek logs both as
// "icmp"); unknown_transport, and anything else, takes ipProto when the log
// has the ip_proto column (ipProto >= 0), else 0 and known=false.
func protoNumber(name []byte, orig netip.Addr, ipProto int) (p uint8, known bool) {
	switch string(name) {
	case "tcp":
		return protoTCP, true
	case "udp":
		return protoUDP, true
	case "icmp":
		if orig.Is6() && !orig.Is4In6() {
			return protoICMPv6, true
		}
		return protoICMP, true
	}
	if ipProto >= 0 {
		return uint8(ipProto), true
	}
	return 0, false
}
