package pcapdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckSuricataConfig(t *testing.T) {
	dir := filepath.Join("testdata", "suricata")
	type want struct {
		file    string
		line    int
		setting string
		says    string // part of the message
	}
	for _, tc := range []struct {
		file string
		want []want
	}{
		{"ok.yaml", nil},
		{"bad.yaml", []want{
			{"bad.yaml", 10, "outputs.pcap-log.max-files", "the ring holds 50 MiB per thread"},
			{"bad.yaml", 11, "outputs.pcap-log.compression", "lz4"},
			{"bad.yaml", 12, "outputs.pcap-log.mode", `"log.pcap.*"`},
			{"bad.yaml", 13, "outputs.pcap-log.use-stream-depth", "stream.reassembly.depth (1mb)"},
			{"bad.yaml", 14, "outputs.pcap-log.honor-pass-rules", "pass rule"},
			{"bad.yaml", 15, "outputs.pcap-log.conditional", "only flows with alerts"},
			{"bad.yaml", 18, "stream.bypass", "bypassed"},
			{"bad.yaml", 25, "app-layer.protocols.tls.encryption-handling", "encrypted sessions are bypassed"},
			{"bad.yaml", 27, "app-layer.protocols.ssh.encryption-handling", "encrypted sessions are bypassed"},
			{"bad.yaml", 29, "include", "missing-extra.yaml"},
		}},
		{"sguil.yaml", []want{{"sguil.yaml", 7, "outputs.pcap-log.mode", `"*/snort.log.*"`}}},
		{"disabled.yaml", []want{{"disabled.yaml", 5, "outputs.pcap-log.enabled", "not enabled"}}},
		{"include-main.yaml", []want{{"include-pcap.yaml", 6, "outputs.pcap-log.use-stream-depth", "(4mb)"}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ws, err := CheckSuricataConfig(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range ws {
				t.Logf("warning %d: %s", i, w)
			}
			if len(ws) != len(tc.want) {
				t.Fatalf("%d warnings, want %d", len(ws), len(tc.want))
			}
			for i, w := range tc.want {
				got := ws[i]
				if filepath.Base(got.File) != w.file || got.Line != w.line || got.Setting != w.setting || !strings.Contains(got.String(), w.says) {
					t.Errorf("warning %d: %s\nwant %s:%d %s ...%s...", i, got, w.file, w.line, w.setting, w.says)
				}
				if !strings.Contains(got.String(), got.Setting) || !strings.Contains(got.String(), filepath.Base(got.File)) {
					t.Errorf("String() %q lacks the setting or the file", got.String())
				}
			}
		})
	}
}

func TestCheckSuricataConfigErrors(t *testing.T) {
	_, err := CheckSuricataConfig(filepath.Join("testdata", "suricata", "broken.yaml"))
	if err == nil || !strings.Contains(err.Error(), "broken.yaml") || !strings.Contains(err.Error(), "line") {
		t.Errorf("broken YAML: %v, want an error naming the file and line", err)
	}
	_, err = CheckSuricataConfig(filepath.Join("testdata", "suricata", "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// TestCheckSuricataConfigRetention: the ring is judged against the join
// delay and rate given.
func TestCheckSuricataConfigRetention(t *testing.T) {
	path := filepath.Join("testdata", "suricata", "ok.yaml")
	// 1000 MiB × 2000 at 125 MB/s is about 4.7 hours.
	for _, tc := range []struct {
		o    CheckOptions
		warn bool
	}{
		{CheckOptions{}, false},
		{CheckOptions{JoinDelay: 5 * time.Hour}, true},
		{CheckOptions{BytesPerSecond: 10e9}, true},
	} {
		ws, err := tc.o.Check(path)
		if err != nil {
			t.Fatal(err)
		}
		if (len(ws) == 1 && ws[0].Setting == "outputs.pcap-log.max-files") != tc.warn || (!tc.warn && len(ws) != 0) {
			t.Errorf("%+v: warnings %v", tc.o, ws)
		}
	}
	for _, tc := range []struct {
		in   string
		want uint64
	}{{"1000mb", 1000 << 20}, {"100 MiB", 100 << 20}, {"4gb", 4 << 30}, {"32768", 32768}, {"1.5kb", 1536}} {
		if got, err := parseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseSize("10 parsecs"); err == nil {
		t.Error("parseSize accepted an unknown unit")
	}
}

// TestCheckSuricataCorpus reads the suricata.yaml files of the shared
// corpus (suricata-verify overlays, none with pcap-log): they parse, and
// each is told it has no pcap-log output.
func TestCheckSuricataCorpus(t *testing.T) {
	paths, _ := filepath.Glob("../../../shared/corpus/suricata/*/suricata.yaml")
	if len(paths) == 0 {
		if _, err := os.Stat("../../../shared/corpus"); err != nil {
			t.Skip("no shared corpus here (../shared/corpus): skipping the real suricata.yaml files")
		}
		t.Fatal("corpus present but holds no suricata.yaml")
	}
	for _, p := range paths {
		ws, err := CheckSuricataConfig(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		found := false
		for _, w := range ws {
			if w.Setting == "outputs.pcap-log" && w.File == p {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no warning about the missing pcap-log output: %v", p, ws)
		}
	}
}
