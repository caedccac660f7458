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

// icmpCounterpart returns the type of the reply to an ICMP or ICMPv6
// message type that has one (echo, timestamp, information, router and
// address-mask request/reply pairs; MLD query/report, node information),
// the pairs Zeek and Community ID v1 use.
func icmpCounterpart(proto uint8, typ uint16) (uint16, bool) {
	if proto == protoICMP {
		switch typ {
		case 8:
			return 0, true
		case 0:
			return 8, true
		case 13:
			return 14, true
		case 14:
			return 13, true
		case 15:
			return 16, true
		case 16:
			return 15, true
		case 10:
			return 9, true
		case 9:
			return 10, true
		case 17:
			return 18, true
		case 18:
			return 17, true
		}
		return 0, false
	}
	switch typ {
	case 128:
		return 129, true
	case 129:
		return 128, true
	case 133:
		return 134, true
	case 134:
		return 133, true
	case 135:
		return 136, true
	case 136:
		return 135, true
	case 130:
		return 131, true
	case 131:
		return 130, true
	case 139:
		return 140, true
	case 140:
		return 139, true
	case 144:
		return 145, true
	case 145:
		return 144, true
	}
	return 0, false
}
