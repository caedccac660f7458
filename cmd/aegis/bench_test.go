package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aegis-nsm/aegis/cadence"
	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/cadence/synth"
	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// bigPcap names a large capture for BenchmarkAnalyzeFile (make one with
// 'aegis synth --out DIR --packets 2000000').
var bigPcap = flag.String("aegis.bigpcap", "", "pcap for BenchmarkAnalyzeFile")

var (
	benchOnce sync.Once
	benchPcap []byte
)

// benchCapture is a 300,000-packet synthetic capture held in memory.
func benchCapture(b *testing.B) []byte {
	benchOnce.Do(func() {
		var pcap bytes.Buffer
		cfg := synth.BenchmarkConfig(300_000)
		if _, err := synth.Generate(cfg, synth.Outputs{PCAP: &pcap, Conn: io.Discard, SSL: io.Discard, Truth: io.Discard}); err != nil {
			b.Fatal(err)
		}
		benchPcap = pcap.Bytes()
	})
	return benchPcap
}

// BenchmarkDecodeAndTrack is the packet hot path on one core: read a pcap
// from memory, decode every packet and update the flow table.
func BenchmarkDecodeAndTrack(b *testing.B) {
	data := benchCapture(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var pkts int64
	for b.Loop() {
		r, err := capture.NewReader(bytes.NewReader(data), "bench.pcap")
		if err != nil {
			b.Fatal(err)
		}
		tab, _ := flowtable.New(flowtable.DefaultConfig(), func(*flowtable.Flow) {})
		batch := make([]schemas.Packet, 512)
		for {
			n, err := r.ReadBatch(batch)
			for i := range n {
				tab.Add(&batch[i])
			}
			pkts += int64(n)
			if err != nil {
				break
			}
		}
		tab.Flush()
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkAnalyzeFile runs the whole of 'aegis analyze --all' (every core)
// on -aegis.bigpcap.
func BenchmarkAnalyzeFile(b *testing.B) {
	if *bigPcap == "" {
		b.Skip("set -aegis.bigpcap FILE (aegis synth --out DIR --packets 2000000)")
	}
	st, err := os.Stat(*bigPcap)
	if err != nil {
		b.Fatal(err)
	}
	profiles, _ := cadence.LoadProfiles("")
	an, _ := cadence.NewAnalyzer(cadence.DefaultConfig(), profiles)
	b.SetBytes(st.Size())
	var pkts int64
	for b.Loop() {
		src := capture.OpenMerger([]string{filepath.Clean(*bigPcap)})
		eng, err := newEngine(engineConfig{Table: flowtable.DefaultConfig(), All: true, Analyzer: an})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := eng.run(context.Background(), src); err != nil {
			b.Fatal(err)
		}
		pkts += eng.tableStats().Packets
		src.Close()
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkBaselineGopacketLoop is the plain approach the issue measures
// against: pcapgo, a reused gopacket DecodingLayerParser and a Go map of
// per-flow counters, on -aegis.bigpcap, one core.
func BenchmarkBaselineGopacketLoop(b *testing.B) {
	if *bigPcap == "" {
		b.Skip("set -aegis.bigpcap FILE (aegis synth --out DIR --packets 2000000)")
	}
	type key struct {
		a, b   [16]byte
		ap, bp uint16
	}
	var pkts int64
	for b.Loop() {
		f, err := os.Open(*bigPcap)
		if err != nil {
			b.Fatal(err)
		}
		r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			b.Fatal(err)
		}
		var (
			eth     layers.Ethernet
			dot1q   layers.Dot1Q
			ip4     layers.IPv4
			ip6     layers.IPv6
			tcp     layers.TCP
			udp     layers.UDP
			payload gopacket.Payload
		)
		parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1q, &ip4, &ip6, &tcp, &udp, &payload)
		parser.IgnoreUnsupported = true
		decoded := make([]gopacket.LayerType, 0, 8)
		flows := map[key][2]int64{}
		for {
			data, _, err := r.ZeroCopyReadPacketData()
			if err != nil {
				break
			}
			pkts++
			_ = parser.DecodeLayers(data, &decoded)
			var k key
			for _, lt := range decoded {
				switch lt {
				case layers.LayerTypeIPv4:
					copy(k.a[12:], ip4.SrcIP)
					copy(k.b[12:], ip4.DstIP)
				case layers.LayerTypeIPv6:
					copy(k.a[:], ip6.SrcIP)
					copy(k.b[:], ip6.DstIP)
				case layers.LayerTypeTCP:
					k.ap, k.bp = uint16(tcp.SrcPort), uint16(tcp.DstPort)
				case layers.LayerTypeUDP:
					k.ap, k.bp = uint16(udp.SrcPort), uint16(udp.DstPort)
				}
			}
			c := flows[k]
			c[0]++
			c[1] += int64(len(data))
			flows[k] = c
		}
		f.Close()
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
}
