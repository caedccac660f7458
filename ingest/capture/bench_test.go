package capture

import (
	"bufio"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/aegis-nsm/aegis/schemas"
)

// genRecs generates n small TCP packets of a few hundred flows, the shape of
// a busy sensor's traffic, deterministically from seed.
func genRecs(n int, seed uint64) []rec {
	rng := rand.New(rand.NewPCG(seed, seed))
	recs := make([]rec, n)
	ts := int64(1_700_000_000) * 1e9
	for i := range recs {
		flow := rng.IntN(500)
		src := [4]byte{10, 0, byte(flow >> 8), byte(flow)}
		payload := rng.IntN(40)
		ts += int64(1 + rng.IntN(2000))
		recs[i] = rec{ts: ts, frame: eth(etIPv4, ipv4(6, src, v4b, tcp(uint16(30000+flow), 443, uint32(i), tcpPshAck, 0, payload), 0))}
	}
	return recs
}

func BenchmarkDecodeEthernetIPv4TCP(b *testing.B) {
	frame := serializeTCP4(b, 100)
	d, _ := NewDecoder(LinkEthernet)
	var p schemas.Packet
	ci := CaptureInfo{TS: 1, WireLen: uint32(len(frame))}
	decodeBench(b, func() error { return d.Decode(&p, frame, ci) })
}

// BenchmarkDecodeGopacketParser is the same frame through gopacket's
// DecodingLayerParser, for comparison.
func BenchmarkDecodeGopacketParser(b *testing.B) {
	frame := serializeTCP4(b, 100)
	d := newGopacketDecoder()
	var p schemas.Packet
	ci := CaptureInfo{TS: 1, WireLen: uint32(len(frame))}
	decodeBench(b, func() error { return d.decode(&p, frame, ci) })
}

func BenchmarkDecodeIPv6VLANUDP(b *testing.B) {
	frame := serializeUDP6VLAN(b, 100)
	d, _ := NewDecoder(LinkEthernet)
	var p schemas.Packet
	decodeBench(b, func() error { return d.Decode(&p, frame, CaptureInfo{}) })
}

// cpuTime returns the CPU time the process used so far. The benchmarks
// report it beside wall time: on a shared machine the wall clock also
// counts the time other processes held the CPU.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// decodeBench runs decode b.N times and reports CPU time per packet too.
func decodeBench(b *testing.B, decode func() error) {
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if err := decode(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

const benchPackets = 1 << 20

var benchFile struct {
	once sync.Once
	path string
	size int64
}

// benchPcap writes, once per test binary run, a classic pcap of about a
// million small TCP packets.
func benchPcap(b *testing.B) string {
	benchFile.once.Do(func() {
		dir, err := os.MkdirTemp("", "capture-bench")
		if err != nil {
			b.Fatal(err)
		}
		benchFile.path = filepath.Join(dir, "bench.pcap")
		data := pcapBytes(LinkEthernet, false, false, 65535, genRecs(benchPackets, 42))
		if err := os.WriteFile(benchFile.path, data, 0o644); err != nil {
			b.Fatal(err)
		}
		benchFile.size = int64(len(data))
	})
	if benchFile.path == "" {
		b.Fatal("no benchmark file")
	}
	return benchFile.path
}

// runReadBench reads the benchmark file b.N times with read, which returns
// the number of packets it decoded, and reports packets per second.
func runReadBench(b *testing.B, read func(path string) int) {
	path := benchPcap(b)
	b.SetBytes(benchFile.size)
	b.ReportAllocs()
	total := 0
	start, cpu := time.Now(), cpuTime()
	for b.Loop() {
		if n := read(path); n != benchPackets {
			b.Fatalf("read %d packets, want %d", n, benchPackets)
		}
		total += benchPackets
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "pkts/s")
	b.ReportMetric(float64(total)/(cpuTime()-cpu).Seconds(), "cpu-pkts/s")
}

// BenchmarkReadFile measures the whole read and decode loop over a
// temporary pcap of a million small TCP packets: the package's fast path
// (ReadBatch and Next) and, for comparison, pcapgo.Reader with the same
// hand decoder and with gopacket's DecodingLayerParser.
func BenchmarkReadFile(b *testing.B) {
	b.Run("ReadBatch", func(b *testing.B) {
		runReadBench(b, func(path string) int {
			r, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			buf := make([]schemas.Packet, 1024)
			n := 0
			for {
				k, err := r.ReadBatch(buf)
				n += k
				if err == io.EOF {
					return n
				}
			}
		})
	})
	b.Run("Next", func(b *testing.B) {
		runReadBench(b, func(path string) int {
			r, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			var p schemas.Packet
			n := 0
			for r.Next(&p) == nil {
				n++
			}
			return n
		})
	})
	pcapgoLoop := func(decode func(*schemas.Packet, []byte, CaptureInfo) error) func(string) int {
		return func(path string) int {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			r, err := pcapgo.NewReader(bufio.NewReaderSize(f, DefaultReadBufferSize))
			if err != nil {
				b.Fatal(err)
			}
			var p schemas.Packet
			n := 0
			for {
				data, ci, err := r.ZeroCopyReadPacketData()
				if err != nil {
					return n
				}
				if decode(&p, data, CaptureInfoOf(ci)) == nil {
					n++
				}
			}
		}
	}
	b.Run("pcapgo+Decoder", func(b *testing.B) {
		d, _ := NewDecoder(LinkEthernet)
		runReadBench(b, pcapgoLoop(d.Decode))
	})
	b.Run("pcapgo+DecodingLayerParser", func(b *testing.B) {
		runReadBench(b, pcapgoLoop(newGopacketDecoder().decode))
	})
}

// BenchmarkMerger reads the benchmark packets split over 4 overlapping
// files through a Merger.
func BenchmarkMerger(b *testing.B) {
	recs := genRecs(benchPackets/4, 7)
	dir := b.TempDir()
	var paths []string
	var size int64
	for i, part := range splitRecs(recs, 4, 0, 1) {
		path := filepath.Join(dir, "part"+string(rune('a'+i)))
		data := pcapBytes(LinkEthernet, false, false, 65535, part)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
		size += int64(len(data))
		paths = append(paths, path)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	total := 0
	start, cpu := time.Now(), cpuTime()
	buf := make([]schemas.Packet, 1024)
	for b.Loop() {
		m := OpenMerger(paths)
		for {
			n, err := m.ReadBatch(buf)
			total += n
			if err == io.EOF {
				break
			}
		}
		m.Close()
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "pkts/s")
	b.ReportMetric(float64(total)/(cpuTime()-cpu).Seconds(), "cpu-pkts/s")
}
