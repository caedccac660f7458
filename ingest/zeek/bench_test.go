package zeek

import (
	"testing"
)

func benchLines(b *testing.B, header []string, line []byte) {
	d, err := NewDecoder("bench.log", Config{})
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range header {
		if _, err := d.Decode([]byte(h)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(line) + 1))
	b.ReportAllocs()
	for b.Loop() {
		res, err := d.Decode(line)
		if err != nil || res.Kind != KindConn {
			b.Fatal(res.Kind, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkDecodeConnTSV measures a conn.log data line in Zeek's ASCII
// format (current 22 columns).
func BenchmarkDecodeConnTSV(b *testing.B) {
	benchLines(b, connHeader, []byte(connRow))
}

// BenchmarkDecodeConnTSVCommunityID adds a community_id column (two kept
// strings, still one allocation).
func BenchmarkDecodeConnTSVCommunityID(b *testing.B) {
	h := append([]string(nil), connHeader...)
	h[6] += "\tcommunity_id"
	h[7] += "\tstring"
	benchLines(b, h, []byte(connRow+"\t1:d/FP5EW3wiY1vCndhwleRRKHowQ="))
}

// BenchmarkDecodeConnJSON measures a conn record in Zeek's JSON format.
func BenchmarkDecodeConnJSON(b *testing.B) {
	benchLines(b, nil, []byte(jsonConn))
}

// BenchmarkDecodeSkippedTSV measures a line of a log Aegis does not decode.
func BenchmarkDecodeSkippedTSV(b *testing.B) {
	d, _ := NewDecoder("bench.log", Config{})
	for _, h := range []string{`#separator \x09`, "#path\tdns", "#fields\tts\tuid\tquery"} {
		d.Decode([]byte(h))
	}
	line := []byte("1300475167.096535\tCHhAvVGS1DHFjwGM9\texample.com")
	b.ReportAllocs()
	for b.Loop() {
		d.Decode(line)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
