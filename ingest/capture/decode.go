package capture

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/gopacket/gopacket"

	"github.com/aegis-nsm/aegis/schemas"
)

// CaptureInfo is what the capture layer knows about a frame besides its
// bytes. The captured length is the length of the frame slice passed to
// Decode.
type CaptureInfo struct {
	// TS is the capture time in nanoseconds since the Unix epoch.
	TS int64
	// WireLen is the frame's original length on the wire. A value smaller
	// than the captured length (including 0) is taken to be the captured
	// length.
	WireLen uint32
}

// CaptureInfoOf converts the capture information gopacket's packet sources
// (afpacket, pcapgo) return.
func CaptureInfoOf(ci gopacket.CaptureInfo) CaptureInfo {
	var ts int64
	if !ci.Timestamp.IsZero() {
		ts = ci.Timestamp.UnixNano()
	}
	return CaptureInfo{TS: ts, WireLen: uint32(min(max(ci.Length, 0), math.MaxUint32))}
}

// Decoder decodes frames of one link type into schemas.Packet summaries.
// It is immutable: one Decoder may serve any number of goroutines.
type Decoder struct {
	link LinkType
}

// NewDecoder returns a Decoder for frames of link type link, or an error
// wrapping ErrUnknownLinkType if the link type is not supported.
func NewDecoder(link LinkType) (*Decoder, error) {
	if !link.Supported() {
		return nil, fmt.Errorf("link type %v: %w", link, ErrUnknownLinkType)
	}
	return &Decoder{link: link}, nil
}

// LinkType returns the link type the Decoder was made for.
func (d *Decoder) LinkType() LinkType { return d.link }

// Decode decodes frame (the captured bytes, from the link-layer header on)
// into *p, which it overwrites completely. It allocates nothing and keeps no
// reference to frame or p after it returns: both stay owned by the caller.
//
// On success p describes the outermost IP packet (tunnels are not
// entered; PPPoE sessions, VLAN tags and MPLS labels are walked through).
// On failure it returns exactly one of ErrTruncatedHeader, ErrNotIP,
// ErrBadHeader or ErrUnknownLinkType, unwrapped, and p holds no meaningful
// flow.
//
// Lengths come from the headers, not from the captured bytes: a packet cut
// by the snap length after its transport header still reports its full IP
// length and payload. Only the headers up to the fixed transport header
// (20 bytes of TCP, 8 of UDP, ICMP and ICMPv6) must have been captured.
func (d *Decoder) Decode(p *schemas.Packet, frame []byte, ci CaptureInfo) error {
	return decodeFrame(d.link, p, frame, ci)
}

// EtherTypes, PPP protocols and address families the link layers use.
const (
	etIPv4      = 0x0800
	etIPv6      = 0x86dd
	etVLAN      = 0x8100
	etQinQ      = 0x88a8
	etQinQOld1  = 0x9100
	etQinQOld2  = 0x9200
	etMPLS      = 0x8847
	etMPLSMulti = 0x8848
	etPPPoESess = 0x8864

	pppIPv4      = 0x0021
	pppIPv6      = 0x0057
	pppMPLS      = 0x0281
	pppMPLSMulti = 0x0283

	afInet         = 2
	afInet6Linux   = 10
	afInet6BSD     = 24 // NetBSD, OpenBSD, BSD/OS
	afInet6FreeBSD = 28
	afInet6Darwin  = 30
)

// maxEncap bounds nested encapsulations (VLAN tags, MPLS labels, pseudowire
// Ethernet, IPv6 extension headers) so that a crafted frame cannot make the
// decoder loop long.
const maxEncap = 16

// decodeFrame is Decode without the Decoder, for readers that learn the
// link type per packet (pcapng).
func decodeFrame(link LinkType, p *schemas.Packet, b []byte, ci CaptureInfo) error {
	wire := int(ci.WireLen)
	if wire < len(b) {
		wire = len(b)
	}
	*p = schemas.Packet{TS: ci.TS, WireLen: uint32(wire)}
	// extra is how many bytes of the frame the capture dropped; it tells a
	// snap length cut (ErrTruncatedHeader) from a malformed frame.
	extra := wire - len(b)
	if link == LinkEthernet {
		return decodeEthernet(p, b, extra, 0)
	}
	switch link {
	case LinkRaw, LinkRawDLT12, LinkRawDLT14:
		return decodeRawIP(p, b, extra)
	case LinkIPv4:
		return decodeIPv4(p, b, extra)
	case LinkIPv6:
		return decodeIPv6(p, b, extra)
	case LinkLinuxSLL:
		if len(b) < 16 {
			return short(extra)
		}
		return decodeEtherType(p, binary.BigEndian.Uint16(b[14:]), b[16:], extra, 0)
	case LinkLinuxSLL2:
		if len(b) < 20 {
			return short(extra)
		}
		return decodeEtherType(p, binary.BigEndian.Uint16(b), b[20:], extra, 0)
	case LinkNull, LinkLoop:
		return decodeNull(p, b, extra)
	case LinkPPP, LinkPPPHDLC:
		return decodePPP(p, b, extra, 0)
	case LinkPPPoE:
		return decodePPPoE(p, b, extra, 0)
	case LinkCiscoHDLC:
		if len(b) < 4 {
			return short(extra)
		}
		return decodeEtherType(p, binary.BigEndian.Uint16(b[2:]), b[4:], extra, 0)
	}
	return ErrUnknownLinkType
}

// short is the error for headers that do not fit in the captured bytes:
// a snap length cut if the capture dropped bytes, else a malformed frame.
func short(extra int) error {
	if extra > 0 {
		return ErrTruncatedHeader
	}
	return ErrBadHeader
}

func decodeEthernet(p *schemas.Packet, b []byte, extra, depth int) error {
	if len(b) < 14 {
		return short(extra)
	}
	et := binary.BigEndian.Uint16(b[12:])
	if et == etIPv4 {
		return decodeIPv4(p, b[14:], extra)
	}
	return decodeEtherType(p, et, b[14:], extra, depth)
}

// decodeEtherType decodes b, the payload of a header whose EtherType (or
// 802.3 length) is et.
func decodeEtherType(p *schemas.Packet, et uint16, b []byte, extra, depth int) error {
	for ; depth < maxEncap; depth++ {
		switch et {
		case etIPv4:
			return decodeIPv4(p, b, extra)
		case etIPv6:
			return decodeIPv6(p, b, extra)
		case etVLAN, etQinQ, etQinQOld1, etQinQOld2:
			if len(b) < 4 {
				return short(extra)
			}
			et = binary.BigEndian.Uint16(b[2:])
			b = b[4:]
		case etMPLS, etMPLSMulti:
			return decodeMPLS(p, b, extra, depth+1)
		case etPPPoESess:
			return decodePPPoE(p, b, extra, depth+1)
		default:
			// An 802.3 length field: only LLC/SNAP can carry IP.
			if et > 1500 {
				return ErrNotIP
			}
			if len(b) < 8 {
				if len(b) >= 3 && !(b[0] == 0xaa && b[1] == 0xaa && b[2] == 0x03) {
					return ErrNotIP
				}
				return short(extra)
			}
			if b[0] != 0xaa || b[1] != 0xaa || b[2] != 0x03 {
				return ErrNotIP
			}
			et = binary.BigEndian.Uint16(b[6:])
			b = b[8:]
			if et <= 1500 {
				return ErrNotIP
			}
		}
	}
	return ErrBadHeader
}

// decodeMPLS walks an MPLS label stack. What follows the bottom label is
// not announced; like Zeek and Wireshark, take the first nibble: 4 or 6 is
// IP, 0 is a pseudowire control word followed by Ethernet.
func decodeMPLS(p *schemas.Packet, b []byte, extra, depth int) error {
	for {
		if len(b) < 4 {
			return short(extra)
		}
		bottom := b[2]&1 == 1
		b = b[4:]
		if bottom {
			break
		}
		if depth++; depth >= maxEncap {
			return ErrBadHeader
		}
	}
	if len(b) < 1 {
		return short(extra)
	}
	switch b[0] >> 4 {
	case 4:
		return decodeIPv4(p, b, extra)
	case 6:
		return decodeIPv6(p, b, extra)
	case 0:
		if len(b) < 4 {
			return short(extra)
		}
		return decodeEthernet(p, b[4:], extra, depth+1)
	}
	return ErrNotIP
}

// decodePPPoE decodes a PPPoE session header (6 bytes) and the PPP
// protocol after it.
func decodePPPoE(p *schemas.Packet, b []byte, extra, depth int) error {
	if len(b) < 8 {
		return short(extra)
	}
	return decodePPPProto(p, binary.BigEndian.Uint16(b[6:]), b[8:], extra, depth)
}

// decodePPP decodes PPP with optional address/control bytes and a
// possibly compressed (1-byte) protocol field.
func decodePPP(p *schemas.Packet, b []byte, extra, depth int) error {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	if len(b) < 1 {
		return short(extra)
	}
	if b[0]&1 == 1 {
		return decodePPPProto(p, uint16(b[0]), b[1:], extra, depth)
	}
	if len(b) < 2 {
		return short(extra)
	}
	return decodePPPProto(p, binary.BigEndian.Uint16(b), b[2:], extra, depth)
}

func decodePPPProto(p *schemas.Packet, proto uint16, b []byte, extra, depth int) error {
	switch proto {
	case pppIPv4:
		return decodeIPv4(p, b, extra)
	case pppIPv6:
		return decodeIPv6(p, b, extra)
	case pppMPLS, pppMPLSMulti:
		return decodeMPLS(p, b, extra, depth+1)
	}
	return ErrNotIP
}

// decodeNull decodes BSD loopback (host byte order) and OpenBSD loop
// (network byte order) headers: the family values are small, so the byte
// order shows.
func decodeNull(p *schemas.Packet, b []byte, extra int) error {
	if len(b) < 4 {
		return short(extra)
	}
	af := binary.LittleEndian.Uint32(b)
	if af&0xffff0000 != 0 {
		af = binary.BigEndian.Uint32(b)
	}
	switch af {
	case afInet:
		return decodeIPv4(p, b[4:], extra)
	case afInet6Linux, afInet6BSD, afInet6FreeBSD, afInet6Darwin:
		return decodeIPv6(p, b[4:], extra)
	}
	return ErrNotIP
}

func decodeRawIP(p *schemas.Packet, b []byte, extra int) error {
	if len(b) < 1 {
		return short(extra)
	}
	switch b[0] >> 4 {
	case 4:
		return decodeIPv4(p, b, extra)
	case 6:
		return decodeIPv6(p, b, extra)
	}
	return ErrBadHeader
}
