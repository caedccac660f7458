package capture

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/aegis-nsm/aegis/schemas"
)

// Hand-written frame builders for the tests: each returns a fresh slice
// with the header in front of payload.

var (
	srcMAC = []byte{0x02, 0, 0, 0, 0, 1}
	dstMAC = []byte{0x02, 0, 0, 0, 0, 2}
	v4a    = [4]byte{10, 0, 0, 1}
	v4b    = [4]byte{192, 168, 1, 2}
	v6a    = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	v6b    = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}
)

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func be16b(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func eth(et uint16, payload []byte) []byte {
	return cat(dstMAC, srcMAC, be16b(et), payload)
}

// tag is an 802.1Q/QinQ tag (TCI 100) announcing et.
func tag(et uint16, payload []byte) []byte {
	return cat(be16b(100), be16b(et), payload)
}

// mpls is one label stack entry.
func mpls(label uint32, bottom bool, payload []byte) []byte {
	v := label<<12 | 64
	if bottom {
		v |= 1 << 8
	}
	return cat(binary.BigEndian.AppendUint32(nil, v), payload)
}

func pppoe(proto uint16, payload []byte) []byte {
	h := []byte{0x11, 0x00, 0x12, 0x34}
	h = binary.BigEndian.AppendUint16(h, uint16(len(payload)+2))
	return cat(h, be16b(proto), payload)
}

// ipv4 builds an IPv4 header for l4 (total length computed); opts bytes of
// options (a multiple of 4) are appended to the header.
func ipv4(proto uint8, src, dst [4]byte, l4 []byte, opts int) []byte {
	hl := 20 + opts
	h := make([]byte, hl)
	h[0] = 0x40 | byte(hl/4)
	binary.BigEndian.PutUint16(h[2:], uint16(hl+len(l4)))
	h[8] = 64
	h[9] = proto
	copy(h[12:], src[:])
	copy(h[16:], dst[:])
	return cat(h, l4)
}

// setFrag sets the IPv4 fragment field (offset in 8-byte units, MF).
func setFrag(ip []byte, offset uint16, more bool) []byte {
	v := offset
	if more {
		v |= 0x2000
	}
	binary.BigEndian.PutUint16(ip[6:], v)
	return ip
}

func ipv6(nh uint8, src, dst [16]byte, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6] = nh
	h[7] = 64
	copy(h[8:], src[:])
	copy(h[24:], dst[:])
	return cat(h, payload)
}

// ext6 is an IPv6 options-style extension header (hop-by-hop, routing,
// destination options) of 8*(units+1) bytes.
func ext6(nh uint8, units int, payload []byte) []byte {
	h := make([]byte, 8*(units+1))
	h[0] = nh
	h[1] = byte(units)
	return cat(h, payload)
}

// ah6 is an authentication header with 4*(words+2) bytes.
func ah6(nh uint8, words int, payload []byte) []byte {
	h := make([]byte, 4*(words+2))
	h[0] = nh
	h[1] = byte(words)
	return cat(h, payload)
}

func frag6(nh uint8, offset uint16, more bool, payload []byte) []byte {
	h := make([]byte, 8)
	h[0] = nh
	v := offset << 3
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(h[2:], v)
	return cat(h, payload)
}

func tcp(sport, dport uint16, seq uint32, flags uint8, opts, payload int) []byte {
	h := make([]byte, 20+opts)
	binary.BigEndian.PutUint16(h, sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], seq)
	h[12] = byte((20+opts)/4) << 4
	h[13] = flags
	return cat(h, make([]byte, payload))
}

func udp(sport, dport uint16, payload int) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h, sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+payload))
	return cat(h, make([]byte, payload))
}

func icmp(typ, code uint8, payload int) []byte {
	return cat([]byte{typ, code, 0, 0, 0, 1, 0, 1}, make([]byte, payload))
}

// tuple4 and tuple6 build expected tuples.
func tuple4(proto uint8, sport, dport uint16) schemas.Tuple {
	return schemas.Tuple{SrcIP: schemas.IPFrom4(v4a[:]), DstIP: schemas.IPFrom4(v4b[:]), SrcPort: sport, DstPort: dport, Proto: proto}
}

func tuple6(proto uint8, sport, dport uint16) schemas.Tuple {
	return schemas.Tuple{SrcIP: schemas.IP(v6a), DstIP: schemas.IP(v6b), SrcPort: sport, DstPort: dport, Proto: proto}
}

// serializeTCP4 builds an Ethernet/IPv4/TCP frame with gopacket's
// serializer, as an independent check of the hand-written builders.
func serializeTCP4(t testing.TB, payload int) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: net.IP(v4a[:]), DstIP: net.IP(v4b[:])}
	tc := &layers.TCP{SrcPort: 40000, DstPort: 443, Seq: 123456789, ACK: true, PSH: true, Window: 512}
	if err := tc.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4},
		ip, tc, gopacket.Payload(make([]byte, payload)))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// serializeUDP6VLAN builds Ethernet/802.1Q/IPv6/UDP with gopacket.
func serializeUDP6VLAN(t testing.TB, payload int) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
		SrcIP: net.IP(v6a[:]), DstIP: net.IP(v6b[:])}
	u := &layers.UDP{SrcPort: 5353, DstPort: 53}
	if err := u.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv6},
		ip, u, gopacket.Payload(make([]byte, payload)))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
