package main

import (
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
