package eve

import "github.com/aegis-nsm/aegis/ingest/logscan"

// IP protocol numbers the ICMP handling needs.
const (
	protoICMP   = 1
	protoICMPv6 = 58
)

// protoNumber maps Suricata's proto field to an IP protocol number. Suricata
// writes the protocol's name ("TCP", "UDP", "ICMP", "IPv6-ICMP", "SCTP",
// "GRE", "ESP", ...) and, for protocols without a name, the number
// (zero-padded, "047"). Names are matched case-insensitively.
func protoNumber(name []byte) (uint8, bool) {
	if n, ok := logscan.ParseUint(name); ok {
		if n > 255 {
			return 0, false
		}
		return uint8(n), true
	}
	var lower [16]byte
	if len(name) > len(lower) {
		return 0, false
	}
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower[:len(name)]) {
	case "hopopt":
		return 0, true
	case "icmp":
		return protoICMP, true
	case "igmp":
		return 2, true
	case "ipip", "ipv4", "ip-in-ip":
		return 4, true
	case "tcp":
		return 6, true
	case "udp":
		return 17, true
	case "ipv6":
		return 41, true
	case "ipv6-route":
		return 43, true
	case "ipv6-frag":
		return 44, true
	case "rsvp":
		return 46, true
	case "gre":
		return 47, true
	case "esp":
		return 50, true
	case "ah":
		return 51, true
	case "ipv6-icmp", "icmpv6", "icmp6":
		return protoICMPv6, true
	case "ipv6-nonxt":
		return 59, true
	case "ipv6-opts":
		return 60, true
	case "eigrp":
		return 88, true
	case "ospf", "ospfigp":
		return 89, true
	case "pim":
		return 103, true
	case "vrrp":
		return 112, true
	case "l2tp":
		return 115, true
	case "sctp":
		return 132, true
	case "udplite", "udp-lite":
		return 136, true
	case "mpls-in-ip":
		return 137, true
	}
	return 0, false
}
