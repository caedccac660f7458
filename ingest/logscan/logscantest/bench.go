package logscantest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchLines is the number of lines of the generated benchmark files.
const BenchLines = 1_000_000

// BenchFile returns the path of a generated benchmark input named name,
// writing it with gen (which writes BenchLines records, plus any header)
// the first time. The file is cached in the system temporary directory
// (os.TempDir()/aegis-bench/name) so repeated benchmark runs skip the
// generation; change name when the generator changes.
func BenchFile(b *testing.B, name string, gen func(w *bufio.Writer)) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "aegis-bench")
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	tmp, err := os.CreateTemp(dir, name+".*")
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(tmp, 1<<20)
	gen(w)
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchReadFile runs read (a whole-file reader such as zeek.ReadFile) on
// path once per iteration and reports lines/s and allocs/line, lines being
// the records read returns per call (checked against want).
func BenchReadFile(b *testing.B, path string, want int, read func(string) (int, error)) {
	b.Helper()
	if st, err := os.Stat(path); err == nil {
		b.SetBytes(st.Size())
	}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	cpu := StartCPU()
	n := 0
	for b.Loop() {
		got, err := read(path)
		if err != nil {
			b.Fatal(err)
		}
		if got != want {
			b.Fatalf("read %d records, want %d", got, want)
		}
		n += got
	}
	cpu.Report(b, n)
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(n), "allocs/line")
}

// BenchWc runs `wc -l path` once per iteration, the yardstick the readers'
// benchmarks are compared with, and reports lines/s. It skips when wc is
// not installed.
func BenchWc(b *testing.B, path string, lines int) {
	b.Helper()
	if _, err := exec.LookPath("wc"); err != nil {
		b.Skip("wc not installed")
	}
	for b.Loop() {
		out, err := exec.Command("wc", "-l", path).Output()
		if err != nil {
			b.Fatal(err)
		}
		var n int
		if _, err := fmt.Sscan(string(out), &n); err != nil || n < lines {
			b.Fatalf("wc -l: %q (%v)", out, err)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// CPU measures the CPU time of a benchmark, for machines shared with
// other work, where wall-clock time mostly measures the wait for a core.
type CPU struct {
	start time.Duration
	ok    bool
}

// StartCPU starts measuring: call it just before the benchmark loop.
func StartCPU() CPU {
	t, ok := cpuTime()
	return CPU{start: t, ok: ok}
}

// Report reports the process's CPU time (all threads: the garbage
// collector's and the kernel's page faults included) since StartCPU per
// line, and lines per CPU second, lines being the lines processed in all
// iterations. It reports nothing where CPU time cannot be read.
func (c CPU) Report(b *testing.B, lines int) {
	t, ok := cpuTime()
	if !c.ok || !ok || lines <= 0 {
		return
	}
	d := t - c.start
	b.ReportMetric(float64(d.Nanoseconds())/float64(lines), "cpu-ns/line")
	if d > 0 {
		b.ReportMetric(float64(lines)/d.Seconds(), "lines/cpu-s")
	}
}
