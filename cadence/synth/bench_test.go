package synth

import (
	"io"
	"testing"
)

// BenchmarkGenerate measures benchmark-mode generation speed (packets/s)
// with the pcap and logs written to io.Discard.
func BenchmarkGenerate(b *testing.B) {
	const target = 500_000
	var pkts, bytes int64
	for b.Loop() {
		s, err := Generate(BenchmarkConfig(target), Outputs{PCAP: io.Discard, Conn: io.Discard, SSL: io.Discard, Truth: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		pkts += s.Packets
		bytes += s.PcapBytes
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/1e6, "MB/s")
}

// BenchmarkTestdata measures generating the checked-in set.
func BenchmarkTestdata(b *testing.B) {
	for b.Loop() {
		if _, err := Generate(TestdataConfig(), Outputs{PCAP: io.Discard}); err != nil {
			b.Fatal(err)
		}
	}
}
