package tail

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkFollow1M measures lines delivered and acknowledged per second
// from a 1,000,000-line file (one op = the whole file).
func BenchmarkFollow1M(b *testing.B) {
	const lines = 1_000_000
	path := filepath.Join(b.TempDir(), "conn.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	row := []byte("1700000000.123456\tCabcdefghijkl\t10.0.0.1\t50000\t192.0.2.1\t443\ttcp\tssl\t1.5\t100\t2000\tSF\n")
	for range lines {
		w.Write(row)
	}
	w.Flush()
	f.Close()
	b.SetBytes(int64(lines * len(row)))
	b.ResetTimer()
	for b.Loop() {
		cfg := fastConfig(path)
		cfg.MaxInFlight = DefaultMaxInFlight
		cfg.Start = StartBeginning
		r := start(b, cfg)
		for range lines {
			l, ok := <-r.Lines()
			if !ok {
				b.Fatal("Lines closed early")
			}
			r.Ack(l)
		}
		r.cancel()
		r.Close()
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
}
