package main

import (
	"bytes"
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aegis-nsm/aegis/cadence/synth"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
)

var (
	synthOnce sync.Once
	synthDir  string
	synthErr  error
)

// labelled writes the small labelled set once per test binary.
func labelled(t *testing.T) string {
	t.Helper()
	synthOnce.Do(func() {
		synthDir, synthErr = os.MkdirTemp("", "aegis-cmd-test-")
		if synthErr == nil {
			_, synthErr = synth.WriteDir(synth.TestdataConfig(), synthDir)
		}
	})
	if synthErr != nil {
		t.Fatal(synthErr)
	}
	return synthDir
}

func TestMain(m *testing.M) {
	// The test binary doubles as the aegis command for tests that need a
	// real process to kill (see startChildRun).
	if args := os.Getenv("AEGIS_TEST_RUN_ARGS"); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, strings.Split(args, "\x1f"), os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	code := m.Run()
	if synthDir != "" {
		os.RemoveAll(synthDir)
	}
	os.Exit(code)
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAnalyzeWritesValidDetections(t *testing.T) {
	d := labelled(t)
	code, out, errs := runCmd(t, "analyze", "--pcap", filepath.Join(d, "traffic.pcap"),
		"--zeek", filepath.Join(d, "conn.log"), "--zeek", filepath.Join(d, "ssl.log"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	n, err := schemacheck.ValidateLines([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no detections on a set with LLM streams and agent shells")
	}
	if strings.Contains(out, `"kind":"event"`) {
		t.Fatal("without --all only detections (event.kind alert) are written")
	}
	if !strings.Contains(out, `"joined_by":"5tuple_time"`) {
		t.Fatal("records were not joined with conn.log")
	}
	for _, want := range []string{"flows:", "classes:", "join:", "records written:"} {
		if !strings.Contains(errs, want) {
			t.Errorf("summary lacks %q:\n%s", want, errs)
		}
	}
}

// TestAnalyzeIsDeterministic: the same inputs give the same bytes, whatever
// the number of shards.
func TestAnalyzeIsDeterministic(t *testing.T) {
	d := labelled(t)
	args := []string{"analyze", "--all", "--quiet", "--pcap", filepath.Join(d, "traffic.pcap"), "--zeek", filepath.Join(d, "conn.log")}
	_, one, _ := runCmd(t, append(args, "--workers", "1")...)
	_, four, _ := runCmd(t, append(args, "--workers", "4")...)
	_, again, _ := runCmd(t, append(args, "--workers", "4")...)
	if one == "" || one != four || four != again {
		t.Fatalf("output differs between runs or shard counts (%d, %d, %d bytes)", len(one), len(four), len(again))
	}
	if n, err := schemacheck.ValidateLines([]byte(one)); err != nil || n < 50 {
		t.Fatalf("--all wrote %d valid records: %v", n, err)
	}
}

// TestSplitCaptureReadsAsOne splits the capture in two files at a point in
// time (as a rolling ring does) and checks the result is the same as from
// the whole file.
func TestSplitCaptureReadsAsOne(t *testing.T) {
	d := labelled(t)
	whole := filepath.Join(d, "traffic.pcap")
	f, err := os.Open(whole)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	parts := []string{filepath.Join(tmp, "ring-0.pcap"), filepath.Join(tmp, "ring-1.pcap")}
	var ws []*pcapgo.Writer
	for _, p := range parts {
		pf, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		w := pcapgo.NewWriterNanos(pf)
		if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	type pkt struct {
		ci   gopacket.CaptureInfo
		data []byte
	}
	var all []pkt
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		all = append(all, pkt{ci, data})
	}
	// The first 40% of packets (in time) go to ring-0, the rest to ring-1.
	cut := len(all) * 2 / 5
	for i, p := range all {
		w := ws[0]
		if i >= cut {
			w = ws[1]
		}
		if err := w.WritePacket(p.ci, p.data); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"analyze", "--all", "--quiet", "--zeek", filepath.Join(d, "conn.log")}
	_, fromWhole, _ := runCmd(t, append(args, "--pcap", whole)...)
	// Given newest first: the reader orders by packet time, not by name.
	_, fromParts, _ := runCmd(t, append(args, "--pcap", parts[1], "--pcap", parts[0])...)
	if fromWhole == "" || fromWhole != fromParts {
		t.Fatalf("split capture gives different records (%d vs %d bytes)", len(fromWhole), len(fromParts))
	}
}

func TestAnalyzeExitCodes(t *testing.T) {
	d := labelled(t)
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"no capture", []string{"analyze"}, exitUsage},
		{"unknown flag", []string{"analyze", "--bogus"}, exitUsage},
		{"bad semantics", []string{"analyze", "--flow-semantics", "x", "--pcap", "a"}, exitUsage},
		{"missing capture", []string{"analyze", "--pcap", filepath.Join(d, "nope.pcap")}, exitInput},
		{"one capture missing, one fine", []string{"analyze", "--quiet", "--pcap", filepath.Join(d, "nope.pcap"), "--pcap", filepath.Join(d, "traffic.pcap")}, exitInput},
		{"missing log", []string{"analyze", "--quiet", "--pcap", filepath.Join(d, "traffic.pcap"), "--zeek", filepath.Join(d, "nope.log")}, exitInput},
		{"bad profiles", []string{"analyze", "--pcap", filepath.Join(d, "traffic.pcap"), "--profiles", filepath.Join(d, "conn.log")}, exitUsage},
		{"unknown command", []string{"frobnicate"}, exitUsage},
		{"version", []string{"version"}, exitOK},
		{"help", []string{"--help"}, exitOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := runCmd(t, c.args...)
			if code != c.want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, c.want, errs)
			}
		})
	}
}

func TestAnalyzeOutFile(t *testing.T) {
	d := labelled(t)
	out := filepath.Join(t.TempDir(), "records.jsonl")
	code, stdout, errs := runCmd(t, "analyze", "--quiet", "--pcap", filepath.Join(d, "traffic.pcap"), "--out", out)
	if code != exitOK || stdout != "" {
		t.Fatalf("exit %d, stdout %d bytes: %s", code, len(stdout), errs)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := schemacheck.ValidateLines(b); err != nil || n == 0 {
		t.Fatalf("%d records: %v", n, err)
	}
}

// TestAnalyzeReport: --report writes one self-contained page with a
// timeline and a gap histogram per detection.
func TestAnalyzeReport(t *testing.T) {
	d := labelled(t)
	out := filepath.Join(t.TempDir(), "report.html")
	code, stdout, errs := runCmd(t, "analyze", "--quiet", "--pcap", filepath.Join(d, "traffic.pcap"),
		"--zeek", filepath.Join(d, "conn.log"), "--zeek", filepath.Join(d, "ssl.log"), "--report", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	detections := strings.Count(stdout, "\n")
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if detections == 0 {
		t.Fatal("no detections to report")
	}
	for _, chart := range []string{`class="chart timeline`, `class="chart histogram`} {
		if n := strings.Count(string(page), chart); n != detections {
			t.Errorf("%d %q charts for %d detections", n, chart, detections)
		}
	}
	for _, remote := range []string{"http://", "https://", "<script"} {
		if strings.Contains(string(page), remote) {
			t.Errorf("the page contains %q: it must be self-contained", remote)
		}
	}
}
