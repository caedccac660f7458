package capture

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

// fuzzLinks are the link types FuzzDecode picks from (by index).
var fuzzLinks = []LinkType{LinkEthernet, LinkRaw, LinkLinuxSLL, LinkLinuxSLL2, LinkNull, LinkLoop,
	LinkPPP, LinkPPPoE, LinkCiscoHDLC, LinkIPv4, LinkIPv6, 147}

func FuzzDecode(f *testing.F) {
	tcp4 := ipv4(6, v4a, v4b, tcp(1, 2, 3, schemas.TCPAck, 4, 10), 0)
	udp6 := ipv6(17, v6a, v6b, udp(5, 6, 7))
	for _, seed := range []struct {
		link  uint8
		extra uint16
		frame []byte
	}{
		{0, 0, eth(etIPv4, tcp4)},
		{0, 100, eth(etIPv4, tcp4)[:40]},
		{0, 0, eth(etVLAN, tag(etQinQ, tag(etIPv6, udp6)))},
		{0, 0, eth(etMPLS, mpls(1, false, mpls(2, true, tcp4)))},
		{0, 0, eth(etMPLS, mpls(1, true, cat(make([]byte, 4), eth(etIPv4, tcp4))))},
		{0, 0, eth(etPPPoESess, pppoe(pppIPv6, udp6))},
		{0, 0, cat(dstMAC, srcMAC, be16b(50), []byte{0xaa, 0xaa, 3, 0, 0, 0, 8, 0}, tcp4)},
		{1, 0, ipv6(ipv6HopByHop, v6a, v6b, ext6(ipv6Fragment, 0, frag6(17, 0, true, udp(1, 2, 3))))},
		{1, 0, ipv6(ipv6AH, v6a, v6b, ah6(ipv6DestOpts, 1, ext6(58, 0, icmp(128, 0, 4))))},
		{1, 0, setFrag(ipv4(1, v4a, v4b, icmp(8, 0, 20), 0), 3, false)},
		{2, 0, cat(make([]byte, 14), be16b(etIPv4), tcp4)},
		{3, 0, cat(be16b(etIPv6), make([]byte, 18), udp6)},
		{4, 0, cat([]byte{2, 0, 0, 0}, tcp4)},
		{5, 0, cat([]byte{0, 0, 0, 24}, udp6)},
		{6, 0, cat([]byte{0xff, 0x03, 0x00, 0x21}, tcp4)},
		{7, 0, pppoe(pppIPv4, tcp4)},
		{8, 0, cat([]byte{0x0f, 0}, be16b(etIPv6), udp6)},
	} {
		f.Add(seed.link, seed.extra, seed.frame)
	}
	f.Fuzz(func(t *testing.T, link uint8, extra uint16, frame []byte) {
		d := Decoder{link: fuzzLinks[int(link)%len(fuzzLinks)]}
		ci := CaptureInfo{TS: 42, WireLen: uint32(len(frame)) + uint32(extra)}
		var p schemas.Packet
		err := d.Decode(&p, frame, ci)
		var again schemas.Packet
		if err2 := d.Decode(&again, frame, ci); err2 != err || again != p {
			t.Fatalf("not deterministic: %v %+v, then %v %+v", err, p, err2, again)
		}
		switch err {
		case nil:
		case ErrTruncatedHeader:
			if extra == 0 {
				t.Fatal("ErrTruncatedHeader for a frame captured whole")
			}
			return
		case ErrNotIP, ErrBadHeader, ErrUnknownLinkType:
			return
		default:
			t.Fatalf("unexpected error %v", err)
		}
		if p.TS != 42 || p.WireLen != ci.WireLen {
			t.Errorf("TS %d WireLen %d, want 42 and %d", p.TS, p.WireLen, ci.WireLen)
		}
		if p.IPLen > p.WireLen || p.Payload > p.IPLen {
			t.Errorf("lengths out of order: wire %d ip %d payload %d", p.WireLen, p.IPLen, p.Payload)
		}
		if p.IPLen < 20 {
			t.Errorf("IP length %d below any IP header", p.IPLen)
		}
		if !p.Tuple.SrcIP.Is4() && p.IPLen < 40 {
			t.Errorf("IPv6 length %d below its header", p.IPLen)
		}
		if p.Fragment && (p.Tuple.SrcPort != 0 || p.Tuple.DstPort != 0) {
			t.Errorf("fragment with ports %+v", p.Tuple)
		}
		if p.Tuple.Proto != schemas.ProtoTCP && (p.Seq != 0 || p.TCPFlags != 0) {
			t.Errorf("TCP fields set for protocol %d", p.Tuple.Proto)
		}
	})
}

// fuzzFileSeeds are small capture files covering each format.
func fuzzFileSeeds(t testing.TB) [][]byte {
	recs := sampleRecs()
	full := pcapBytes(LinkEthernet, false, false, 65535, recs)
	seeds := [][]byte{
		full,
		pcapBytes(LinkEthernet, true, true, 64, recs),
		pcapBytes(LinkRaw, false, false, 65535, []rec{{ts: 1, frame: ipv4(17, v4a, v4b, udp(1, 2, 3), 0)}}),
		full[:len(full)-9],
		gzipBytes(t, full),
		pcapngBytes(false, []ngIface{{link: LinkEthernet}, {link: LinkRaw, tsresol: 9}, {link: 147}}, []ngRec{
			{0, recs[0]}, {1, rec{ts: 5, frame: ipv6(17, v6a, v6b, udp(1, 2, 3))}}, {2, rec{ts: 6, frame: []byte{1, 2, 3}}}}),
		pcapngBytes(true, []ngIface{{link: LinkLinuxSLL}}, nil),
	}
	for _, name := range []string{"communityid/community-id-spec/pcaps/udp.pcap", "communityid/community-id-spec/pcaps/icmp.pcap",
		"suricata/eve-flow-esp/input.pcap", "suricata/bug-6733-syn-packet-flow-output/input.pcap"} {
		if b, err := os.ReadFile(corpusDir + "/" + name); err == nil {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

func FuzzReadFile(f *testing.F) {
	for _, seed := range fuzzFileSeeds(f) {
		f.Add(seed)
	}
	cfg := Config{ReadBufferSize: MinReadBufferSize}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := cfg.NewReader(bytes.NewReader(data), "fuzz")
		if err != nil {
			if _, ok := err.(*RecordError); !ok {
				t.Fatalf("NewReader error %T is not a *RecordError: %v", err, err)
			}
			return
		}
		defer r.Close()
		var p schemas.Packet
		batch := make([]schemas.Packet, 3)
		for i := 0; ; i++ {
			var err error
			if i%2 == 0 {
				err = r.Next(&p)
			} else {
				var n int
				n, err = r.ReadBatch(batch)
				if err == nil && n == 0 {
					t.Fatal("ReadBatch returned 0 packets without io.EOF")
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if i > len(data) {
				t.Fatalf("more packets than input bytes")
			}
		}
		s := r.Stats()
		if s.Records != s.Decoded+s.Skipped() {
			t.Fatalf("stats %v do not add up", s)
		}
		if s.TruncatedRecord+s.BadRecord > 0 && r.Err() == nil {
			t.Fatalf("stats %v but no Err", s)
		}
		if r.Next(&p) != io.EOF {
			t.Fatal("Next after the end is not io.EOF")
		}
	})
}
