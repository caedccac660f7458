package capture

import (
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/communityid"
)

// gopacketDecoder is the alternative the hand-written Decoder was measured
// against: gopacket's DecodingLayerParser with preallocated layers, reused
// across packets (the fastest way gopacket offers). It covers Ethernet,
// 802.1Q, IPv4, IPv6, TCP, UDP, ICMP and ICMPv6 only; benchmarks and the
// differential test use it.
type gopacketDecoder struct {
	parser  *gopacket.DecodingLayerParser
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	decoded []gopacket.LayerType
}

func newGopacketDecoder() *gopacketDecoder {
	d := &gopacketDecoder{decoded: make([]gopacket.LayerType, 0, 8)}
	d.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet,
		&d.eth, &d.dot1q, &d.ip4, &d.ip6, &d.tcp, &d.udp, &d.icmp4, &d.icmp6)
	d.parser.IgnoreUnsupported = true
	return d
}

var errGopacketNoIP = errors.New("gopacket: no IP layer")

func (d *gopacketDecoder) decode(p *schemas.Packet, data []byte, ci CaptureInfo) error {
	*p = schemas.Packet{TS: ci.TS, WireLen: max(ci.WireLen, uint32(len(data)))}
	if err := d.parser.DecodeLayers(data, &d.decoded); err != nil {
		return err
	}
	ipPayload := 0
	seenIP := false
	for _, lt := range d.decoded {
		switch lt {
		case layers.LayerTypeIPv4:
			seenIP = true
			p.Tuple.SrcIP = schemas.IPFrom4(d.ip4.SrcIP.To4())
			p.Tuple.DstIP = schemas.IPFrom4(d.ip4.DstIP.To4())
			p.Tuple.Proto = uint8(d.ip4.Protocol)
			p.IPLen = uint32(d.ip4.Length)
			ipPayload = int(d.ip4.Length) - int(d.ip4.IHL)*4
			if d.ip4.FragOffset != 0 {
				p.Fragment = true
				p.Payload = uint32(ipPayload)
			}
		case layers.LayerTypeIPv6:
			seenIP = true
			p.Tuple.SrcIP = schemas.IPFrom16(d.ip6.SrcIP)
			p.Tuple.DstIP = schemas.IPFrom16(d.ip6.DstIP)
			p.Tuple.Proto = uint8(d.ip6.NextHeader)
			p.IPLen = 40 + uint32(d.ip6.Length)
			ipPayload = int(d.ip6.Length)
		case layers.LayerTypeTCP:
			p.Tuple.SrcPort, p.Tuple.DstPort = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			p.Seq = d.tcp.Seq
			p.TCPFlags = uint8(d.tcp.Contents[13])
			p.Payload = uint32(ipPayload - int(d.tcp.DataOffset)*4)
		case layers.LayerTypeUDP:
			p.Tuple.SrcPort, p.Tuple.DstPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			p.Payload = uint32(ipPayload - 8)
		case layers.LayerTypeICMPv4:
			typ, code := d.icmp4.TypeCode.Type(), d.icmp4.TypeCode.Code()
			p.Tuple.SrcPort, p.Tuple.DstPort = communityid.ICMPPorts(schemas.ProtoICMP, typ, code)
			p.Payload = uint32(ipPayload - 8)
		case layers.LayerTypeICMPv6:
			typ, code := d.icmp6.TypeCode.Type(), d.icmp6.TypeCode.Code()
			p.Tuple.SrcPort, p.Tuple.DstPort = communityid.ICMPPorts(schemas.ProtoICMPv6, typ, code)
			p.Payload = uint32(ipPayload - 8)
		}
	}
	if !seenIP {
		return errGopacketNoIP
	}
	return nil
}
