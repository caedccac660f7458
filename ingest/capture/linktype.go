package capture

import "strconv"

// LinkType is a pcap/pcapng link-layer header type (LINKTYPE_* in
// https://www.tcpdump.org/linktypes.html). Values 0-99 other than 12 and
// 14 are also the matching DLT_* values.
type LinkType uint32

// Link types the Decoder understands.
const (
	// LinkNull is BSD loopback: a 4-byte address family in the capturing
	// host's byte order.
	LinkNull LinkType = 0
	// LinkEthernet is Ethernet II / 802.3, with 802.1Q, QinQ, MPLS, PPPoE
	// session and LLC/SNAP encapsulations walked.
	LinkEthernet LinkType = 1
	// LinkPPP is PPP, with or without the HDLC-like address and control
	// bytes, protocol field compressed or not.
	LinkPPP LinkType = 9
	// LinkRawDLT12 is DLT_RAW as most systems number it, found in some
	// files instead of LinkRaw.
	LinkRawDLT12 LinkType = 12
	// LinkRawDLT14 is DLT_RAW as OpenBSD numbers it.
	LinkRawDLT14 LinkType = 14
	// LinkPPPHDLC is PPP in HDLC-like framing (RFC 1662).
	LinkPPPHDLC LinkType = 50
	// LinkPPPoE is a PPPoE session header then PPP (no Ethernet header).
	LinkPPPoE LinkType = 51
	// LinkRaw is raw IP: the frame starts with an IPv4 or IPv6 header.
	LinkRaw LinkType = 101
	// LinkCiscoHDLC is Cisco HDLC: address, control, then an EtherType.
	LinkCiscoHDLC LinkType = 104
	// LinkLoop is OpenBSD loopback: a 4-byte address family in network
	// byte order.
	LinkLoop LinkType = 108
	// LinkLinuxSLL is Linux cooked capture v1 (16-byte header).
	LinkLinuxSLL LinkType = 113
	// LinkIPv4 is raw IPv4 only.
	LinkIPv4 LinkType = 228
	// LinkIPv6 is raw IPv6 only.
	LinkIPv6 LinkType = 229
	// LinkLinuxSLL2 is Linux cooked capture v2 (20-byte header).
	LinkLinuxSLL2 LinkType = 276
)

// Supported reports whether the Decoder understands link type l.
func (l LinkType) Supported() bool {
	switch l {
	case LinkNull, LinkEthernet, LinkPPP, LinkRawDLT12, LinkRawDLT14, LinkPPPHDLC,
		LinkPPPoE, LinkRaw, LinkCiscoHDLC, LinkLoop, LinkLinuxSLL, LinkIPv4, LinkIPv6,
		LinkLinuxSLL2:
		return true
	}
	return false
}

// String returns the LINKTYPE_ name without its prefix (for example
// "ETHERNET"), or the number for link types the Decoder does not know.
func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "NULL"
	case LinkEthernet:
		return "ETHERNET"
	case LinkPPP:
		return "PPP"
	case LinkRawDLT12, LinkRawDLT14, LinkRaw:
		return "RAW"
	case LinkPPPHDLC:
		return "PPP_HDLC"
	case LinkPPPoE:
		return "PPP_ETHER"
	case LinkCiscoHDLC:
		return "C_HDLC"
	case LinkLoop:
		return "LOOP"
	case LinkLinuxSLL:
		return "LINUX_SLL"
	case LinkIPv4:
		return "IPV4"
	case LinkIPv6:
		return "IPV6"
	case LinkLinuxSLL2:
		return "LINUX_SLL2"
	}
	return strconv.FormatUint(uint64(l), 10)
}
