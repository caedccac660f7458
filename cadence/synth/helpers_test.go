package synth

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/aegis-nsm/aegis/schemas"
)

// generated holds one generation's outputs in memory.
type generated struct {
	pcap, conn, ssl, truth []byte
	sum                    Summary
}

func generate(t testing.TB, cfg Config) *generated {
	t.Helper()
	var p, c, s, tr bytes.Buffer
	sum, err := Generate(cfg, Outputs{PCAP: &p, Conn: &c, SSL: &s, Truth: &tr})
	if err != nil {
		t.Fatal(err)
	}
	return &generated{pcap: p.Bytes(), conn: c.Bytes(), ssl: s.Bytes(), truth: tr.Bytes(), sum: sum}
}

var (
	testdataOnce sync.Once
	testdataGen  *generated
	testdataErr  error
)

// testdataSet is the TestdataConfig output, generated once per test binary.
func testdataSet(t testing.TB) *generated {
	t.Helper()
	testdataOnce.Do(func() {
		var p, c, s, tr bytes.Buffer
		sum, err := Generate(TestdataConfig(), Outputs{PCAP: &p, Conn: &c, SSL: &s, Truth: &tr})
		testdataErr = err
		testdataGen = &generated{pcap: p.Bytes(), conn: c.Bytes(), ssl: s.Bytes(), truth: tr.Bytes(), sum: sum}
	})
	if testdataErr != nil {
		t.Fatal(testdataErr)
	}
	return testdataGen
}

// capPkt is one decoded packet of a generated pcap.
type capPkt struct {
	ts       int64
	src, dst netip.AddrPort
	proto    uint8
	payload  int // transport payload from the headers
	ipLen    int
	flags    uint8
	seq, ack uint32
	vlan     uint16
}

// readPcap decodes every packet with gopacket and fails on any decoding
// error below the application layer.
func readPcap(t testing.TB, b []byte) []capPkt {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []capPkt
	for i := 0; ; i++ {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("packet %d: %v", i+1, err)
		}
		pk := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: false, NoCopy: true})
		var cp capPkt
		cp.ts = ci.Timestamp.UnixNano()
		if v, ok := pk.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); ok {
			cp.vlan = v.VLANIdentifier
		}
		var sip, dip netip.Addr
		var transportLen int
		switch ip := pk.NetworkLayer().(type) {
		case *layers.IPv4:
			sip, _ = netip.AddrFromSlice(ip.SrcIP.To4())
			dip, _ = netip.AddrFromSlice(ip.DstIP.To4())
			cp.ipLen = int(ip.Length)
			cp.proto = uint8(ip.Protocol)
			transportLen = int(ip.Length) - int(ip.IHL)*4
		case *layers.IPv6:
			sip, _ = netip.AddrFromSlice(ip.SrcIP)
			dip, _ = netip.AddrFromSlice(ip.DstIP)
			cp.ipLen = 40 + int(ip.Length)
			cp.proto = uint8(ip.NextHeader)
			transportLen = int(ip.Length)
		default:
			t.Fatalf("packet %d: no IP layer", i+1)
		}
		switch tl := pk.TransportLayer().(type) {
		case *layers.TCP:
			cp.src = netip.AddrPortFrom(sip, uint16(tl.SrcPort))
			cp.dst = netip.AddrPortFrom(dip, uint16(tl.DstPort))
			cp.payload = transportLen - int(tl.DataOffset)*4
			cp.seq, cp.ack = tl.Seq, tl.Ack
			var f uint8
			for _, x := range []struct {
				on  bool
				bit uint8
			}{{tl.FIN, schemas.TCPFin}, {tl.SYN, schemas.TCPSyn}, {tl.RST, schemas.TCPRst}, {tl.PSH, schemas.TCPPsh}, {tl.ACK, schemas.TCPAck}} {
				if x.on {
					f |= x.bit
				}
			}
			cp.flags = f
		case *layers.UDP:
			cp.src = netip.AddrPortFrom(sip, uint16(tl.SrcPort))
			cp.dst = netip.AddrPortFrom(dip, uint16(tl.DstPort))
			cp.payload = int(tl.Length) - 8
		default:
			t.Fatalf("packet %d: no transport layer", i+1)
		}
		if el := pk.ErrorLayer(); el != nil {
			switch el.LayerType() {
			case layers.LayerTypeEthernet, layers.LayerTypeDot1Q, layers.LayerTypeIPv4, layers.LayerTypeIPv6, layers.LayerTypeTCP, layers.LayerTypeUDP:
				t.Fatalf("packet %d: %v", i+1, el.Error())
			}
		}
		out = append(out, cp)
	}
	return out
}

// flowPkts is a truth flow with its packets, split by side.
type flowPkts struct {
	tr      Truth
	keySize int // cached by keystrokeSized
	orig    netip.AddrPort
	resp    netip.AddrPort
	pkts    []capPkt // in capture order
}

func (f *flowPkts) fromOrig(p capPkt) bool { return p.src == f.orig }

// join assigns every packet to its truth flow by 5-tuple and time.
func join(t testing.TB, g *generated) []*flowPkts {
	t.Helper()
	truth, err := ReadTruth(bytes.NewReader(g.truth))
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		a, b  netip.AddrPort
		proto string
	}
	byKey := map[key][]*flowPkts{}
	var flows []*flowPkts
	for _, tr := range truth {
		f := &flowPkts{tr: tr,
			orig: netip.AddrPortFrom(netip.MustParseAddr(tr.OrigH), tr.OrigP),
			resp: netip.AddrPortFrom(netip.MustParseAddr(tr.RespH), tr.RespP)}
		flows = append(flows, f)
		k := key{f.orig, f.resp, tr.Proto}
		byKey[k] = append(byKey[k], f)
	}
	for _, p := range readPcap(t, g.pcap) {
		pn := protoName(p.proto)
		cands := byKey[key{p.src, p.dst, pn}]
		if len(cands) == 0 {
			cands = byKey[key{p.dst, p.src, pn}]
		}
		var hit *flowPkts
		for _, c := range cands {
			if p.ts >= c.tr.StartNS && p.ts <= c.tr.EndNS {
				hit = c
				break
			}
		}
		if hit == nil {
			t.Fatalf("packet at %d %v->%v matches no truth flow", p.ts, p.src, p.dst)
		}
		hit.pkts = append(hit.pkts, p)
	}
	return flows
}

// connRow is a parsed conn.log row.
type connLogRow map[string]string

func parseZeek(t testing.TB, b []byte) []connLogRow {
	t.Helper()
	var fields []string
	var rows []connLogRow
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#fields\t") {
			fields = strings.Split(line, "\t")[1:]
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		vals := strings.Split(line, "\t")
		if len(vals) != len(fields) {
			t.Fatalf("row has %d columns, header %d: %q", len(vals), len(fields), line)
		}
		row := connLogRow{}
		for i, f := range fields {
			row[f] = vals[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func atoi(t testing.TB, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return v
}

// stats helpers.
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	c := append([]float64(nil), xs...)
	sort.Float64s(c)
	return c[len(c)/2]
}

// payloadPkts returns the payload-bearing packets of one side, dropping
// retransmissions (a sequence range already seen).
func payloadPkts(f *flowPkts, orig bool) []capPkt {
	var out []capPkt
	var maxEnd uint32
	started := false
	for _, p := range f.pkts {
		if f.fromOrig(p) != orig || p.payload == 0 {
			continue
		}
		if p.proto == schemas.ProtoTCP {
			end := p.seq + uint32(p.payload)
			if started && int32(end-maxEnd) <= 0 {
				continue
			}
			started = true
			maxEnd = end
		}
		out = append(out, p)
	}
	return out
}

// flushes groups packets closer than gap into flushes and returns each
// flush's first packet time and total payload.
func flushes(ps []capPkt, gap int64) (times []int64, sizes []int) {
	for i, p := range ps {
		if i == 0 || p.ts-ps[i-1].ts >= gap {
			times = append(times, p.ts)
			sizes = append(sizes, p.payload)
			continue
		}
		sizes[len(sizes)-1] += p.payload
	}
	return
}

func describe(f *flowPkts) string {
	return fmt.Sprintf("%s %s %s/%s %s:%d", f.tr.UID, f.tr.Class, f.tr.Scenario, f.tr.Route, f.tr.RespH, f.tr.RespP)
}
