package zeek

import (
	"bufio"
	"fmt"
	"github.com/aegis-nsm/aegis/ingest/logscan/logscantest"
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
	cpu := logscantest.StartCPU()
	for b.Loop() {
		res, err := d.Decode(line)
		if err != nil || res.Kind != KindConn {
			b.Fatal(res.Kind, err)
		}
	}
	cpu.Report(b, b.N)
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

// genConnLog writes a conn.log (current 22-column header) of
// logscantest.BenchLines varied records: distinct uids, addresses, ports,
// services and states, about 180 bytes a line like a real sensor's.
func genConnLog(w *bufio.Writer) {
	for _, h := range connHeader {
		w.WriteString(h)
		w.WriteByte('\n')
	}
	services := []string{"ssl", "dns", "http", "-", "ssh", "quic,ssl"}
	states := []string{"SF", "S0", "RSTO", "S1", "OTH", "REJ"}
	histories := []string{"ShADadfF", "S", "ShADadR", "Dd", "ShAdDaFf", "Sr"}
	for i := range logscantest.BenchLines {
		proto := "tcp"
		if i%5 == 1 {
			proto = "udp"
		}
		fmt.Fprintf(w, "%d.%06d\tC%017x\t10.%d.%d.%d\t%d\t%d.%d.%d.%d\t%d\t%s\t%s\t%d.%06d\t%d\t%d\t%s\tT\tF\t0\t%s\t%d\t%d\t%d\t%d\t-\t%d\n",
			1_700_000_000+i/100, i%1_000_000, uint64(i)*0x9e3779b97f4a7c15>>4,
			i>>16&255, i>>8&255, i&255, 1024+i%60000,
			1+i%223, i>>8&255, i>>3&255, i&255, []int{443, 53, 80, 22}[i%4],
			proto, services[i%len(services)], i%90, i%1_000_000,
			i%100_000, i%3_000_000, states[i%len(states)], histories[i%len(histories)],
			1+i%300, 40+i%120_000, i%500, i%4_000_000, map[string]int{"tcp": 6, "udp": 17}[proto])
	}
}

// BenchmarkReadFileConnTSV reads a generated 1-million-line conn.log
// through ReadFile (file, line splitting, decoding, the flow slice):
// lines/s and allocs/line.
func BenchmarkReadFileConnTSV(b *testing.B) {
	path := logscantest.BenchFile(b, "conn-v1.log", genConnLog)
	logscantest.BenchReadFile(b, path, logscantest.BenchLines, func(p string) (int, error) {
		flows, st, err := ReadFile(p)
		if st.Bad != 0 {
			b.Fatal(st)
		}
		return len(flows), err
	})
}

// BenchmarkWcConnLog is `wc -l` on the same file, the yardstick.
func BenchmarkWcConnLog(b *testing.B) {
	path := logscantest.BenchFile(b, "conn-v1.log", genConnLog)
	logscantest.BenchWc(b, path, logscantest.BenchLines)
}

// BenchmarkReadFileConnTSVCommunityID is BenchmarkReadFileConnTSV with the
// Community ID computed for every record (still one allocation a line).
func BenchmarkReadFileConnTSVCommunityID(b *testing.B) {
	path := logscantest.BenchFile(b, "conn-v1.log", genConnLog)
	logscantest.BenchReadFile(b, path, logscantest.BenchLines, func(p string) (int, error) {
		flows, st, err := ReadFilesConfig(Config{ComputeCommunityID: true}, p)
		if st.Bad != 0 || st.CommunityIDComputed != int64(len(flows)) {
			b.Fatal(st)
		}
		return len(flows), err
	})
}
