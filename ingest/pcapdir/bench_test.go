package pcapdir

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

// cpuTime returns the CPU time the process used so far: on a shared
// machine wall time also counts the time other processes held the CPU.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRate reports packets per wall second and CPU nanoseconds per
// packet since the timer was last reset.
func reportRate(b *testing.B, packets int) {
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(cpuTime()-benchCPU)/float64(packets), "cpu-ns/pkt")
}

var benchCPU time.Duration

// benchRing writes the synth traffic as a ring of 13 files of 2000 records
// (tcpdump -C style names) and returns the directory and the paths.
func benchRing(b *testing.B) (string, []string) {
	recs := synth(b)
	dir := b.TempDir()
	var paths []string
	for i := 0; i*2000 < len(recs); i++ {
		p := filepath.Join(dir, "ring.pcap"+strconv.Itoa(i))
		writeFile(b, p, recs[i*2000:min(len(recs), (i+1)*2000)])
		paths = append(paths, p)
	}
	return dir, paths
}

// BenchmarkRingSource reads the ring at rest through a Source
// (StopAtEnd): directory scan, ordering, the growing-file reader, the
// time merge, batches to a callback.
func BenchmarkRingSource(b *testing.B) {
	dir, _ := benchRing(b)
	want := len(decodeRecs(b, synth(b)))
	b.ReportAllocs()
	total := 0
	benchCPU = cpuTime()
	for b.Loop() {
		s, err := New(Config{Dir: dir, Pattern: "ring.pcap*", StopAtEnd: true}, nil)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := s.Run(context.Background(), func(batch []schemas.Packet) error { n += len(batch); return nil }); err != nil {
			b.Fatal(err)
		}
		if n != want {
			b.Fatalf("read %d packets, want %d", n, want)
		}
		total += n
	}
	reportRate(b, total)
}

// BenchmarkRingMerger reads the same files at rest with capture's Merger,
// the baseline for BenchmarkRingSource.
func BenchmarkRingMerger(b *testing.B) {
	_, paths := benchRing(b)
	want := len(decodeRecs(b, synth(b)))
	b.ReportAllocs()
	total := 0
	benchCPU = cpuTime()
	batch := make([]schemas.Packet, DefaultBatchSize)
	for b.Loop() {
		m := capture.OpenMerger(paths)
		n := 0
		for {
			k, err := m.ReadBatch(batch)
			if err != nil {
				break
			}
			n += k
		}
		m.Close()
		if n != want {
			b.Fatalf("read %d packets, want %d", n, want)
		}
		total += n
	}
	reportRate(b, total)
}

// BenchmarkRingFollowLive follows the ring while a writer goroutine writes
// it (whole records, as fast as it can, a new file every 2000 records):
// the throughput of following, bounded by the writer.
func BenchmarkRingFollowLive(b *testing.B) {
	recs := synth(b)
	want := len(decodeRecs(b, recs))
	b.ReportAllocs()
	total := 0
	benchCPU = cpuTime()
	for b.Loop() {
		dir := b.TempDir()
		cfg := testConfig(dir, "ring.pcap*")
		s, err := New(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &ringWriter{dir: dir, perFile: 2000, name: func(i int, _ rawRec) string { return "ring.pcap" + strconv.Itoa(i) }}
			if _, err := w.write(recs); err != nil {
				b.Error(err)
			}
		}()
		n := 0
		s.Run(ctx, func(batch []schemas.Packet) error {
			n += len(batch)
			if n >= want {
				cancel()
			}
			return nil
		})
		cancel()
		wg.Wait()
		total += n
	}
	reportRate(b, total)
}
