package capture

import (
	"encoding/binary"

	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/communityid"
)

// IPv6 extension headers the decoder walks.
const (
	ipv6HopByHop = 0
	ipv6Routing  = 43
	ipv6Fragment = 44
	ipv6AH       = 51
	ipv6DestOpts = 60
)

// decodeIPv4 decodes b, which starts at an IPv4 header; extra is the number
// of frame bytes the capture dropped.
func decodeIPv4(p *schemas.Packet, b []byte, extra int) error {
	if len(b) < 20 {
		return short(extra)
	}
	vihl := b[0]
	if vihl>>4 != 4 {
		return ErrBadHeader
	}
	hl := int(vihl&0x0f) << 2
	total := int(binary.BigEndian.Uint16(b[2:]))
	onWire := len(b) + extra
	if total == 0 {
		// Segmentation offload on the capturing host leaves the length
		// zero; the frame is the packet (Zeek and Wireshark do the same).
		total = onWire
	}
	if hl < 20 || hl > total || total > onWire {
		return ErrBadHeader
	}
	if len(b) < hl {
		return ErrTruncatedHeader // total <= onWire, so the capture was cut
	}
	p.IPLen = uint32(total)
	t := &p.Tuple
	t.SrcIP[10], t.SrcIP[11] = 0xff, 0xff
	copy(t.SrcIP[12:], b[12:16])
	t.DstIP[10], t.DstIP[11] = 0xff, 0xff
	copy(t.DstIP[12:], b[16:20])
	proto := b[9]
	t.Proto = proto
	if binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
		// A fragment other than the first: no transport header.
		p.Fragment = true
		p.Payload = uint32(total - hl)
		return nil
	}
	return decodeTransport(p, proto, b[hl:], total-hl)
}

// decodeIPv6 decodes b, which starts at an IPv6 header, walking the
// extension headers up to the transport header.
func decodeIPv6(p *schemas.Packet, b []byte, extra int) error {
	if len(b) < 40 {
		return short(extra)
	}
	if b[0]>>4 != 6 {
		return ErrBadHeader
	}
	plen := int(binary.BigEndian.Uint16(b[4:]))
	onWire := len(b) + extra
	if plen == 0 {
		// A jumbogram or a segmentation-offloaded packet: the frame is
		// the packet.
		plen = onWire - 40
	}
	if 40+plen > onWire {
		return ErrBadHeader
	}
	p.IPLen = uint32(40 + plen)
	t := &p.Tuple
	copy(t.SrcIP[:], b[8:24])
	copy(t.DstIP[:], b[24:40])
	nh := b[6]
	b = b[40:]
	for range maxEncap {
		var hl int
		switch nh {
		case ipv6HopByHop, ipv6Routing, ipv6DestOpts:
			if err := need(b, plen, 2); err != nil {
				return err
			}
			hl = (int(b[1]) + 1) << 3
		case ipv6AH:
			if err := need(b, plen, 2); err != nil {
				return err
			}
			hl = (int(b[1]) + 2) << 2
		case ipv6Fragment:
			if err := need(b, plen, 8); err != nil {
				return err
			}
			if binary.BigEndian.Uint16(b[2:])&0xfff8 != 0 {
				// A fragment other than the first: no transport header.
				t.Proto = b[0]
				p.Fragment = true
				p.Payload = uint32(plen - 8)
				return nil
			}
			hl = 8
		default:
			t.Proto = nh
			return decodeTransport(p, nh, b, plen)
		}
		if hl > plen {
			return ErrBadHeader
		}
		if hl > len(b) {
			return ErrTruncatedHeader
		}
		nh = b[0]
		b = b[hl:]
		plen -= hl
	}
	return ErrBadHeader
}

// need checks that n header bytes exist in an IP payload of plen bytes of
// which b was captured.
func need(b []byte, plen, n int) error {
	if n > plen {
		return ErrBadHeader
	}
	if n > len(b) {
		return ErrTruncatedHeader
	}
	return nil
}

// decodeTransport decodes the transport header at b; plen is the length
// of the IP payload from the IP header (b may be shorter when the capture
// was cut, or longer with link-layer padding).
func decodeTransport(p *schemas.Packet, proto uint8, b []byte, plen int) error {
	t := &p.Tuple
	switch proto {
	case schemas.ProtoTCP:
		if err := need(b, plen, 20); err != nil {
			return err
		}
		off := int(b[12]>>4) << 2
		if off < 20 || off > plen {
			return ErrBadHeader
		}
		t.SrcPort = binary.BigEndian.Uint16(b)
		t.DstPort = binary.BigEndian.Uint16(b[2:])
		p.Seq = binary.BigEndian.Uint32(b[4:])
		p.TCPFlags = b[13]
		p.Payload = uint32(plen - off)
		return nil
	case schemas.ProtoUDP:
		if err := need(b, plen, 8); err != nil {
			return err
		}
		t.SrcPort = binary.BigEndian.Uint16(b)
		t.DstPort = binary.BigEndian.Uint16(b[2:])
		p.Payload = uint32(plen - 8)
		return nil
	case schemas.ProtoICMP, schemas.ProtoICMPv6:
		if err := need(b, plen, 8); err != nil {
			return err
		}
		t.SrcPort, t.DstPort = communityid.ICMPPorts(proto, b[0], b[1])
		p.Payload = uint32(plen - 8)
		return nil
	}
	// SCTP, ESP, GRE, IP-in-IP and the rest: no ports (as Zeek keys them),
	// the payload is the whole IP payload.
	p.Payload = uint32(plen)
	return nil
}
