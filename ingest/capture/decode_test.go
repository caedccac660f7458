package capture

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/aegis-nsm/aegis/schemas"
)

const (
	tcpSynAck = schemas.TCPSyn | schemas.TCPAck
	tcpPshAck = schemas.TCPPsh | schemas.TCPAck
)

func TestDecode(t *testing.T) {
	tcp4 := ipv4(6, v4a, v4b, tcp(40000, 443, 1000, tcpSynAck, 0, 100), 0) // IPLen 140
	tcp4want := schemas.Packet{Tuple: tuple4(6, 40000, 443), IPLen: 140, Payload: 100, Seq: 1000, TCPFlags: tcpSynAck}
	udp4 := ipv4(17, v4a, v4b, udp(5353, 53, 30), 0) // IPLen 58
	udp4want := schemas.Packet{Tuple: tuple4(17, 5353, 53), IPLen: 58, Payload: 30}
	tcp6 := ipv6(6, v6a, v6b, tcp(50000, 22, 7, tcpPshAck, 12, 48)) // IPLen 120
	tcp6want := schemas.Packet{Tuple: tuple6(6, 50000, 22), IPLen: 120, Payload: 48, Seq: 7, TCPFlags: tcpPshAck}
	udp6 := ipv6(17, v6a, v6b, udp(1000, 2000, 10)) // IPLen 58
	udp6want := schemas.Packet{Tuple: tuple6(17, 1000, 2000), IPLen: 58, Payload: 10}

	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	sll := func(proto uint16, payload []byte) []byte {
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(h[4:], 6)
		binary.BigEndian.PutUint16(h[14:], proto)
		return cat(h, payload)
	}
	sll2 := func(proto uint16, payload []byte) []byte {
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h, proto)
		binary.BigEndian.PutUint32(h[4:], 3)
		binary.BigEndian.PutUint16(h[8:], 1)
		return cat(h, payload)
	}
	snap := func(et uint16, payload []byte) []byte {
		llc := cat([]byte{0xaa, 0xaa, 0x03, 0, 0, 0}, be16b(et), payload)
		return cat(dstMAC, srcMAC, be16b(uint16(len(llc))), llc)
	}
	with := func(p schemas.Packet, f func(*schemas.Packet)) schemas.Packet { f(&p); return p }

	tests := []struct {
		name    string
		link    LinkType
		frame   []byte
		wire    uint32 // 0: len(frame)
		want    schemas.Packet
		wantErr error
	}{
		// Ethernet and its encapsulations.
		{name: "ethernet ipv4 tcp", link: LinkEthernet, frame: eth(etIPv4, tcp4), want: tcp4want},
		{name: "ethernet ipv4 udp padded", link: LinkEthernet, frame: cat(eth(etIPv4, ipv4(17, v4a, v4b, udp(1, 2, 0), 0)), make([]byte, 18)),
			want: schemas.Packet{Tuple: tuple4(17, 1, 2), IPLen: 28}},
		{name: "ethernet ipv4 options", link: LinkEthernet, frame: eth(etIPv4, ipv4(6, v4a, v4b, tcp(1, 2, 3, schemas.TCPAck, 0, 5), 8)),
			want: schemas.Packet{Tuple: tuple4(6, 1, 2), IPLen: 28 + 20 + 5, Payload: 5, Seq: 3, TCPFlags: schemas.TCPAck}},
		{name: "ethernet ipv6 tcp options", link: LinkEthernet, frame: eth(etIPv6, tcp6), want: tcp6want},
		{name: "vlan", link: LinkEthernet, frame: eth(etVLAN, tag(etIPv4, udp4)), want: udp4want},
		{name: "qinq 88a8", link: LinkEthernet, frame: eth(etQinQ, tag(etVLAN, tag(etIPv6, tcp6))), want: tcp6want},
		{name: "qinq 9100", link: LinkEthernet, frame: eth(etQinQOld1, tag(etVLAN, tag(etIPv4, tcp4))), want: tcp4want},
		{name: "mpls two labels", link: LinkEthernet, frame: eth(etMPLS, mpls(100, false, mpls(200, true, udp4))), want: udp4want},
		{name: "mpls ipv6", link: LinkEthernet, frame: eth(etMPLS, mpls(100, true, udp6)), want: udp6want},
		{name: "vlan mpls", link: LinkEthernet, frame: eth(etVLAN, tag(etMPLS, mpls(1, true, tcp4))), want: tcp4want},
		{name: "mpls pseudowire ethernet", link: LinkEthernet, frame: eth(etMPLS, mpls(5, true, cat(make([]byte, 4), eth(etIPv4, tcp4)))), want: tcp4want},
		{name: "pppoe session ipv4", link: LinkEthernet, frame: eth(etPPPoESess, pppoe(pppIPv4, tcp4)), want: tcp4want},
		{name: "pppoe session ipv6", link: LinkEthernet, frame: eth(etPPPoESess, pppoe(pppIPv6, udp6)), want: udp6want},
		{name: "pppoe lcp", link: LinkEthernet, frame: eth(etPPPoESess, pppoe(0xc021, make([]byte, 10))), wantErr: ErrNotIP},
		{name: "pppoe discovery", link: LinkEthernet, frame: eth(0x8863, make([]byte, 20)), wantErr: ErrNotIP},
		{name: "arp", link: LinkEthernet, frame: eth(0x0806, make([]byte, 28)), wantErr: ErrNotIP},
		{name: "vlan arp", link: LinkEthernet, frame: eth(etVLAN, tag(0x0806, make([]byte, 28))), wantErr: ErrNotIP},
		{name: "802.3 snap ipv4", link: LinkEthernet, frame: snap(etIPv4, udp4), want: udp4want},
		{name: "802.3 stp", link: LinkEthernet, frame: cat(dstMAC, srcMAC, be16b(38), []byte{0x42, 0x42, 0x03}, make([]byte, 35)), wantErr: ErrNotIP},

		// Other link types.
		{name: "sll ipv4", link: LinkLinuxSLL, frame: sll(etIPv4, tcp4), want: tcp4want},
		{name: "sll vlan", link: LinkLinuxSLL, frame: sll(etVLAN, tag(etIPv6, udp6)), want: udp6want},
		{name: "sll arp", link: LinkLinuxSLL, frame: sll(0x0806, make([]byte, 28)), wantErr: ErrNotIP},
		{name: "sll2 ipv6", link: LinkLinuxSLL2, frame: sll2(etIPv6, tcp6), want: tcp6want},
		{name: "raw 101 ipv4", link: LinkRaw, frame: tcp4, want: tcp4want},
		{name: "raw 101 ipv6", link: LinkRaw, frame: udp6, want: udp6want},
		{name: "raw dlt 12", link: LinkRawDLT12, frame: udp4, want: udp4want},
		{name: "raw dlt 14", link: LinkRawDLT14, frame: tcp6, want: tcp6want},
		{name: "raw not ip", link: LinkRaw, frame: cat([]byte{0x50}, make([]byte, 30)), wantErr: ErrBadHeader},
		{name: "linktype ipv4", link: LinkIPv4, frame: udp4, want: udp4want},
		{name: "linktype ipv4 given ipv6", link: LinkIPv4, frame: udp6, wantErr: ErrBadHeader},
		{name: "linktype ipv6", link: LinkIPv6, frame: tcp6, want: tcp6want},
		{name: "null little endian inet", link: LinkNull, frame: cat(le32(2), tcp4), want: tcp4want},
		{name: "null big endian inet6 darwin", link: LinkNull, frame: cat(be32(30), udp6), want: udp6want},
		{name: "null inet6 freebsd", link: LinkNull, frame: cat(le32(28), udp6), want: udp6want},
		{name: "null inet6 linux", link: LinkNull, frame: cat(le32(10), udp6), want: udp6want},
		{name: "null other family", link: LinkNull, frame: cat(le32(7), make([]byte, 20)), wantErr: ErrNotIP},
		{name: "openbsd loop inet", link: LinkLoop, frame: cat(be32(2), udp4), want: udp4want},
		{name: "openbsd loop inet6", link: LinkLoop, frame: cat(be32(24), tcp6), want: tcp6want},
		{name: "ppp hdlc framing", link: LinkPPP, frame: cat([]byte{0xff, 0x03, 0x00, 0x21}, tcp4), want: tcp4want},
		{name: "ppp no address", link: LinkPPP, frame: cat([]byte{0x00, 0x57}, udp6), want: udp6want},
		{name: "ppp compressed protocol", link: LinkPPP, frame: cat([]byte{0x21}, udp4), want: udp4want},
		{name: "ppp lcp", link: LinkPPP, frame: cat([]byte{0xc0, 0x21}, make([]byte, 10)), wantErr: ErrNotIP},
		{name: "ppp_hdlc", link: LinkPPPHDLC, frame: cat([]byte{0xff, 0x03, 0x00, 0x21}, udp4), want: udp4want},
		{name: "ppp_ether", link: LinkPPPoE, frame: pppoe(pppIPv6, tcp6), want: tcp6want},
		{name: "cisco hdlc", link: LinkCiscoHDLC, frame: cat([]byte{0x0f, 0x00}, be16b(etIPv4), tcp4), want: tcp4want},
		{name: "unknown link type", link: 147, frame: tcp4, wantErr: ErrUnknownLinkType},

		// IPv6 extension headers.
		{name: "ipv6 hbh dstopts routing", link: LinkRaw,
			frame: ipv6(ipv6HopByHop, v6a, v6b, ext6(ipv6DestOpts, 1, ext6(ipv6Routing, 0, ext6(6, 0, tcp(1, 2, 9, schemas.TCPSyn, 0, 0))))),
			want:  schemas.Packet{Tuple: tuple6(6, 1, 2), IPLen: 40 + 16 + 8 + 8 + 20, Seq: 9, TCPFlags: schemas.TCPSyn}},
		{name: "ipv6 ah", link: LinkRaw, frame: ipv6(ipv6AH, v6a, v6b, ah6(17, 4, udp(7, 8, 3))),
			want: schemas.Packet{Tuple: tuple6(17, 7, 8), IPLen: 40 + 24 + 11, Payload: 3}},
		{name: "ipv6 first fragment keeps ports", link: LinkRaw, frame: ipv6(ipv6Fragment, v6a, v6b, frag6(17, 0, true, udp(7, 8, 100))),
			want: schemas.Packet{Tuple: tuple6(17, 7, 8), IPLen: 40 + 8 + 108, Payload: 100}},
		{name: "ipv6 later fragment", link: LinkRaw, frame: ipv6(ipv6HopByHop, v6a, v6b, ext6(ipv6Fragment, 0, frag6(17, 185, false, make([]byte, 64)))),
			want: schemas.Packet{Tuple: tuple6(17, 0, 0), IPLen: 40 + 8 + 8 + 64, Payload: 64, Fragment: true}},
		{name: "ipv6 esp stops", link: LinkRaw, frame: ipv6(50, v6a, v6b, make([]byte, 60)),
			want: schemas.Packet{Tuple: tuple6(50, 0, 0), IPLen: 100, Payload: 60}},
		{name: "ipv6 dstopts then esp", link: LinkRaw, frame: ipv6(ipv6DestOpts, v6a, v6b, ext6(50, 0, make([]byte, 40))),
			want: schemas.Packet{Tuple: tuple6(50, 0, 0), IPLen: 88, Payload: 40}},
		{name: "ipv6 no next header", link: LinkRaw, frame: ipv6(59, v6a, v6b, nil),
			want: schemas.Packet{Tuple: tuple6(59, 0, 0), IPLen: 40}},
		{name: "ipv6 ext header beyond payload", link: LinkRaw, frame: ipv6(ipv6HopByHop, v6a, v6b, []byte{6, 5, 0, 0, 0, 0, 0, 0}), wantErr: ErrBadHeader},
		{name: "ipv6 endless ext chain", link: LinkRaw, frame: ipv6(ipv6HopByHop, v6a, v6b, make([]byte, 8*20)), wantErr: ErrBadHeader},

		// IPv4 fragments.
		{name: "ipv4 first fragment keeps ports", link: LinkRaw, frame: setFrag(ipv4(17, v4a, v4b, udp(7, 8, 100), 0), 0, true),
			want: schemas.Packet{Tuple: tuple4(17, 7, 8), IPLen: 128, Payload: 100}},
		{name: "ipv4 later fragment", link: LinkRaw, frame: setFrag(ipv4(17, v4a, v4b, make([]byte, 80), 0), 185, false),
			want: schemas.Packet{Tuple: tuple4(17, 0, 0), IPLen: 100, Payload: 80, Fragment: true}},
		{name: "ipv4 df set is not a fragment", link: LinkRaw, frame: func() []byte { b := ipv4(17, v4a, v4b, udp(7, 8, 0), 0); b[6] = 0x40; return b }(),
			want: schemas.Packet{Tuple: tuple4(17, 7, 8), IPLen: 28}},

		// ICMP keyed the way Zeek keys it.
		{name: "icmp echo request", link: LinkRaw, frame: ipv4(1, v4a, v4b, icmp(8, 0, 56), 0),
			want: schemas.Packet{Tuple: tuple4(1, 8, 0), IPLen: 84, Payload: 56}},
		{name: "icmp echo reply", link: LinkRaw, frame: ipv4(1, v4a, v4b, icmp(0, 0, 56), 0),
			want: schemas.Packet{Tuple: tuple4(1, 0, 8), IPLen: 84, Payload: 56}},
		{name: "icmp timestamp", link: LinkRaw, frame: ipv4(1, v4a, v4b, icmp(13, 0, 12), 0),
			want: schemas.Packet{Tuple: tuple4(1, 13, 14), IPLen: 40, Payload: 12}},
		{name: "icmp unreachable is one way", link: LinkRaw, frame: ipv4(1, v4a, v4b, icmp(3, 1, 28), 0),
			want: schemas.Packet{Tuple: tuple4(1, 3, 1), IPLen: 56, Payload: 28}},
		{name: "icmpv6 echo request", link: LinkRaw, frame: ipv6(58, v6a, v6b, icmp(128, 0, 32)),
			want: schemas.Packet{Tuple: tuple6(58, 128, 129), IPLen: 80, Payload: 32}},
		{name: "icmpv6 echo reply", link: LinkRaw, frame: ipv6(58, v6a, v6b, icmp(129, 0, 32)),
			want: schemas.Packet{Tuple: tuple6(58, 129, 128), IPLen: 80, Payload: 32}},
		{name: "icmpv6 neighbor solicitation", link: LinkRaw, frame: ipv6(58, v6a, v6b, icmp(135, 0, 16)),
			want: schemas.Packet{Tuple: tuple6(58, 135, 136), IPLen: 64, Payload: 16}},
		{name: "icmpv6 unreachable", link: LinkRaw, frame: ipv6(58, v6a, v6b, icmp(1, 4, 48)),
			want: schemas.Packet{Tuple: tuple6(58, 1, 4), IPLen: 96, Payload: 48}},
		{name: "icmpv6 after hop-by-hop (MLD)", link: LinkRaw, frame: ipv6(ipv6HopByHop, v6a, v6b, ext6(58, 0, icmp(143, 0, 20))),
			want: schemas.Packet{Tuple: tuple6(58, 143, 0), IPLen: 76, Payload: 20}},

		// Protocols without ports.
		{name: "sctp", link: LinkRaw, frame: ipv4(132, v4a, v4b, make([]byte, 48), 0),
			want: schemas.Packet{Tuple: tuple4(132, 0, 0), IPLen: 68, Payload: 48}},
		{name: "gre reported as outer flow", link: LinkRaw, frame: ipv4(47, v4a, v4b, make([]byte, 4+40), 0),
			want: schemas.Packet{Tuple: tuple4(47, 0, 0), IPLen: 64, Payload: 44}},

		// Snap length cuts: lengths come from the headers.
		{name: "snaplen after tcp header", link: LinkEthernet, frame: eth(etIPv4, tcp4)[:54], wire: 154, want: tcp4want},
		{name: "snaplen after tcp fixed header", link: LinkEthernet, frame: eth(etIPv6, tcp6)[:14+40+20], wire: 14 + 120, want: tcp6want},
		{name: "snaplen inside tcp header", link: LinkEthernet, frame: eth(etIPv4, tcp4)[:40], wire: 154, wantErr: ErrTruncatedHeader},
		{name: "snaplen inside ipv4 header", link: LinkEthernet, frame: eth(etIPv4, tcp4)[:20], wire: 154, wantErr: ErrTruncatedHeader},
		{name: "snaplen inside ethernet header", link: LinkEthernet, frame: eth(etIPv4, tcp4)[:10], wire: 154, wantErr: ErrTruncatedHeader},
		{name: "snaplen inside vlan tag", link: LinkEthernet, frame: eth(etVLAN, tag(etIPv4, tcp4))[:16], wire: 158, wantErr: ErrTruncatedHeader},
		{name: "snaplen inside ipv6 ext header", link: LinkRaw, frame: ipv6(ipv6HopByHop, v6a, v6b, ext6(6, 2, tcp(1, 2, 3, 0, 0, 0)))[:50], wire: 40 + 24 + 20, wantErr: ErrTruncatedHeader},
		{name: "snaplen inside ipv4 options", link: LinkRaw, frame: ipv4(6, v4a, v4b, tcp(1, 2, 3, 0, 0, 0), 20)[:30], wire: 60, wantErr: ErrTruncatedHeader},
		{name: "snaplen inside udp header", link: LinkRaw, frame: udp4[:24], wire: 58, wantErr: ErrTruncatedHeader},

		// Malformed frames (captured whole).
		{name: "short ethernet frame", link: LinkEthernet, frame: make([]byte, 10), wantErr: ErrBadHeader},
		{name: "ipv4 header cut but frame whole", link: LinkEthernet, frame: eth(etIPv4, tcp4)[:20], wantErr: ErrBadHeader},
		{name: "ipv4 version 5", link: LinkRaw, frame: func() []byte { b := cat(udp4); b[0] = 0x45; b[0] = 0x55; return b }(), wantErr: ErrBadHeader},
		{name: "ipv4 ihl 4", link: LinkRaw, frame: func() []byte { b := cat(udp4); b[0] = 0x44; return b }(), wantErr: ErrBadHeader},
		{name: "ipv4 total length beyond frame", link: LinkRaw, frame: func() []byte { b := cat(udp4); b[3] += 10; return b }(), wantErr: ErrBadHeader},
		{name: "ipv4 total length below header", link: LinkRaw, frame: func() []byte { b := cat(udp4); b[2], b[3] = 0, 16; return b }(), wantErr: ErrBadHeader},
		{name: "ipv6 payload length beyond frame", link: LinkRaw, frame: func() []byte { b := cat(udp6); b[5] += 1; return b }(), wantErr: ErrBadHeader},
		{name: "tcp data offset 3", link: LinkRaw, frame: func() []byte { b := cat(tcp4); b[20+12] = 3 << 4; return b }(), wantErr: ErrBadHeader},
		{name: "tcp data offset beyond packet", link: LinkRaw, frame: ipv4(6, v4a, v4b, func() []byte { b := tcp(1, 2, 3, 0, 0, 4); b[12] = 15 << 4; return b }(), 0), wantErr: ErrBadHeader},
		{name: "udp shorter than its header", link: LinkRaw, frame: ipv4(17, v4a, v4b, []byte{0, 1, 0, 2}, 0), wantErr: ErrBadHeader},
		{name: "icmp shorter than its header", link: LinkRaw, frame: ipv4(1, v4a, v4b, []byte{8, 0, 0, 0}, 0), wantErr: ErrBadHeader},
		{name: "mpls label stack without bottom", link: LinkEthernet, frame: eth(etMPLS, mpls(1, false, mpls(2, false, nil))), wantErr: ErrBadHeader},
		{name: "endless vlan tags", link: LinkEthernet, frame: eth(etVLAN, func() []byte {
			var b []byte
			for range 20 {
				b = append(b, 0, 1, 0x81, 0x00)
			}
			return append(b, udp4...)
		}()), wantErr: ErrBadHeader},

		// Segmentation offload: zero IP length means "the frame".
		{name: "ipv4 total length zero (tso)", link: LinkEthernet, frame: func() []byte { b := eth(etIPv4, tcp4); b[14+2], b[14+3] = 0, 0; return b }(), want: tcp4want},
		{name: "ipv6 payload length zero (tso)", link: LinkEthernet, frame: func() []byte { b := eth(etIPv6, tcp6); b[14+4], b[14+5] = 0, 0; return b }(), want: tcp6want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Decoder{link: tt.link}
			// Start from a dirty packet: Decode must overwrite everything.
			p := schemas.Packet{TS: -1, Tuple: tuple6(99, 9, 9), WireLen: 1, IPLen: 1, Payload: 1, Seq: 1, TCPFlags: 0xff, Fragment: true}
			err := d.Decode(&p, tt.frame, CaptureInfo{TS: 1234567890123456789, WireLen: tt.wire})
			if err != tt.wantErr {
				t.Fatalf("Decode error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			want := with(tt.want, func(w *schemas.Packet) {
				w.TS = 1234567890123456789
				w.WireLen = max(tt.wire, uint32(len(tt.frame)))
			})
			if p != want {
				t.Errorf("Decode =\n  %+v\nwant\n  %+v", p, want)
			}
		})
	}
}

// TestDecodeGopacketFrames decodes frames built by gopacket's serializer,
// an encoder independent of the test's own builders.
func TestDecodeGopacketFrames(t *testing.T) {
	d, err := NewDecoder(LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	var p schemas.Packet
	if err := d.Decode(&p, serializeTCP4(t, 300), CaptureInfo{TS: 5}); err != nil {
		t.Fatal(err)
	}
	want := schemas.Packet{TS: 5, Tuple: tuple4(6, 40000, 443), WireLen: 14 + 340, IPLen: 340, Payload: 300, Seq: 123456789, TCPFlags: tcpPshAck}
	if p != want {
		t.Errorf("tcp4: got %+v, want %+v", p, want)
	}
	if err := d.Decode(&p, serializeUDP6VLAN(t, 20), CaptureInfo{TS: 6}); err != nil {
		t.Fatal(err)
	}
	want = schemas.Packet{TS: 6, Tuple: tuple6(17, 5353, 53), WireLen: 18 + 68, IPLen: 68, Payload: 20}
	if p != want {
		t.Errorf("udp6 vlan: got %+v, want %+v", p, want)
	}
}

// TestICMPEchoSharesFlow checks the point of Zeek's ICMP keying: a ping and
// its reply are one bidirectional flow.
func TestICMPEchoSharesFlow(t *testing.T) {
	for _, tc := range []struct {
		name       string
		req, reply []byte
	}{
		{"icmp", ipv4(1, v4a, v4b, icmp(8, 0, 8), 0), ipv4(1, v4b, v4a, icmp(0, 0, 8), 0)},
		{"icmpv6", ipv6(58, v6a, v6b, icmp(128, 0, 8)), ipv6(58, v6b, v6a, icmp(129, 0, 8))},
	} {
		var req, reply schemas.Packet
		if err := decodeFrame(LinkRaw, &req, tc.req, CaptureInfo{}); err != nil {
			t.Fatal(err)
		}
		if err := decodeFrame(LinkRaw, &reply, tc.reply, CaptureInfo{}); err != nil {
			t.Fatal(err)
		}
		if req.Tuple != reply.Tuple.Reverse() {
			t.Errorf("%s: request %+v and reply %+v are not one flow", tc.name, req.Tuple, reply.Tuple)
		}
	}
}

func TestNewDecoder(t *testing.T) {
	for _, link := range []LinkType{LinkNull, LinkEthernet, LinkPPP, LinkRawDLT12, LinkRawDLT14, LinkPPPHDLC, LinkPPPoE,
		LinkRaw, LinkCiscoHDLC, LinkLoop, LinkLinuxSLL, LinkIPv4, LinkIPv6, LinkLinuxSLL2} {
		d, err := NewDecoder(link)
		if err != nil || d.LinkType() != link || !link.Supported() {
			t.Errorf("NewDecoder(%v) = %v, %v", link, d, err)
		}
		if err := decodeFrame(link, &schemas.Packet{}, nil, CaptureInfo{}); err == ErrUnknownLinkType {
			t.Errorf("link type %v is Supported but Decode does not know it", link)
		}
	}
	for _, link := range []LinkType{105, 127, 147, 65535} {
		if _, err := NewDecoder(link); !errors.Is(err, ErrUnknownLinkType) {
			t.Errorf("NewDecoder(%v) error = %v, want ErrUnknownLinkType", link, err)
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	frame := serializeTCP4(t, 100)
	d, _ := NewDecoder(LinkEthernet)
	var p schemas.Packet
	bad := frame[:20]
	if n := testing.AllocsPerRun(1000, func() {
		_ = d.Decode(&p, frame, CaptureInfo{TS: 1})
		_ = d.Decode(&p, bad, CaptureInfo{TS: 1, WireLen: 200})
	}); n != 0 {
		t.Errorf("Decode allocates %v times per call", n)
	}
}

func TestCaptureInfoOf(t *testing.T) {
	ts := time.Date(2026, 8, 21, 10, 0, 0, 123456789, time.UTC)
	got := CaptureInfoOf(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: 60, Length: 1514})
	if want := (CaptureInfo{TS: ts.UnixNano(), WireLen: 1514}); got != want {
		t.Errorf("CaptureInfoOf = %+v, want %+v", got, want)
	}
	if got := CaptureInfoOf(gopacket.CaptureInfo{Length: -1}); got != (CaptureInfo{}) {
		t.Errorf("CaptureInfoOf(zero) = %+v", got)
	}
}
