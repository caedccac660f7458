// Package communityid computes Community ID v1 flow hashes
// (https://github.com/corelight/community-id-spec), the key Zeek, Suricata
// and Aegis share for one flow. It owns nothing and is safe for concurrent
// use.
//
// It lives under schemas so that every stage can import it: ingest/zeek and
// ingest/eve compute the ID for records whose sensor did not log one, and
// enrich keys its join with it.
package communityid

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/netip"

	"github.com/aegis-nsm/aegis/schemas"
)

// Counterpart returns the type of the reply to (or the request of) an ICMP
// or ICMPv6 message type that comes in pairs: echo, timestamp, information,
// router and address-mask for ICMP; echo, router and neighbor discovery,
// multicast listener, node information and home-agent discovery for
// ICMPv6. These are the pairs Zeek (ICMP4_counterpart/ICMP6_counterpart)
// and Community ID v1 key as one bidirectional flow.
func Counterpart(proto uint8, typ uint16) (uint16, bool) {
	if proto == schemas.ProtoICMPv6 {
		switch typ {
		case 128, 133, 135, 130, 139, 144: // requests
			return typ + 1, true
		case 129, 134, 136, 131, 140, 145: // replies
			return typ - 1, true
		}
		return 0, false
	}
	switch typ {
	case 8:
		return 0, true
	case 0:
		return 8, true
	case 13, 15, 17: // timestamp, information, address mask requests
		return typ + 1, true
	case 14, 16, 18:
		return typ - 1, true
	case 10: // router solicitation
		return 9, true
	case 9:
		return 10, true
	}
	return 0, false
}

// hasPorts reports whether the protocol's hash includes ports.
func hasPorts(proto uint8) bool {
	switch proto {
	case schemas.ProtoTCP, schemas.ProtoUDP, schemas.ProtoSCTP, schemas.ProtoICMP, schemas.ProtoICMPv6:
		return true
	}
	return false
}

// twoWayICMP reports whether an ICMP tuple whose ports already carry
// (type, counterpart-or-code) is a request/reply pair, which is ordered like
// any bidirectional flow; other ICMP messages are one-way and keep their
// direction.
func twoWayICMP(proto uint8, sport, dport uint16) bool {
	c, ok := Counterpart(proto, sport)
	return ok && c == dport
}

// ICMPPorts maps a raw ICMP type and code to the port pair Community ID and
// Zeek use: (type, counterpart type) for request/reply messages, else
// (type, code).
func ICMPPorts(proto, icmpType, code uint8) (sport, dport uint16) {
	if c, ok := Counterpart(proto, uint16(icmpType)); ok {
		return uint16(icmpType), c
	}
	return uint16(icmpType), uint16(code)
}

// Hasher computes Community IDs with one seed. The zero value uses seed 0.
type Hasher struct {
	Seed uint16
}

// Sum returns the 20-byte digest for a tuple whose ports are already mapped
// (for ICMP: see ICMPPorts).
func (h Hasher) Sum(t schemas.Tuple) [20]byte {
	ordered := true
	if t.Proto == schemas.ProtoICMP || t.Proto == schemas.ProtoICMPv6 {
		ordered = twoWayICMP(t.Proto, t.SrcPort, t.DstPort) || twoWayICMP(t.Proto, t.DstPort, t.SrcPort)
	}
	src, dst, sp, dp := t.SrcIP, t.DstIP, t.SrcPort, t.DstPort
	if ordered && !t.SrcFirst() {
		src, dst, sp, dp = dst, src, dp, sp
	}
	var buf [40]byte
	n := 0
	binary.BigEndian.PutUint16(buf[0:], h.Seed)
	n = 2
	if src.Is4() && dst.Is4() {
		n += copy(buf[n:], src[12:])
		n += copy(buf[n:], dst[12:])
	} else {
		n += copy(buf[n:], src[:])
		n += copy(buf[n:], dst[:])
	}
	buf[n] = t.Proto
	buf[n+1] = 0
	n += 2
	if hasPorts(t.Proto) {
		binary.BigEndian.PutUint16(buf[n:], sp)
		binary.BigEndian.PutUint16(buf[n+2:], dp)
		n += 4
	}
	return sha1.Sum(buf[:n])
}

// ID returns the base64 Community ID string "1:...".
func (h Hasher) ID(t schemas.Tuple) string {
	d := h.Sum(t)
	return "1:" + base64.StdEncoding.EncodeToString(d[:])
}

// AppendID appends the base64 Community ID "1:..." of t to dst and returns
// the extended slice; it allocates only when dst has no room (28 + 2
// bytes).
func (h Hasher) AppendID(dst []byte, t schemas.Tuple) []byte {
	d := h.Sum(t)
	dst = append(dst, '1', ':')
	return base64.StdEncoding.AppendEncode(dst, d[:])
}

// TupleOf returns the tuple of a flow logged with originator orig and
// responder resp (ports as Zeek's conn_id and Suricata's flow events give
// them; for ICMP, see ICMPPorts).
func TupleOf(orig, resp netip.AddrPort, proto uint8) schemas.Tuple {
	return schemas.Tuple{
		SrcIP: schemas.IPFromAddr(orig.Addr()), DstIP: schemas.IPFromAddr(resp.Addr()),
		SrcPort: orig.Port(), DstPort: resp.Port(), Proto: proto,
	}
}

// HexID returns the Community ID with a hex digest instead of base64.
func (h Hasher) HexID(t schemas.Tuple) string {
	d := h.Sum(t)
	return "1:" + hex.EncodeToString(d[:])
}
