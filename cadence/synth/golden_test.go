package synth

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/synth from TestdataConfig")

// goldenDir is the checked-in set, relative to this package.
const goldenDir = "../../testdata/synth"

// TestGolden regenerates the checked-in set in a temporary directory and
// requires it to be byte-identical to testdata/synth, so the generator and
// the data never drift. Run with -update to rewrite the files after an
// intended change:
//
//	go test ./cadence/synth -run TestGolden -update
func TestGolden(t *testing.T) {
	if *update {
		s, err := WriteDir(TestdataConfig(), goldenDir)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %d flows, %d packets, %d bytes of pcap", goldenDir, s.Flows, s.Packets, s.PcapBytes)
	}
	dir := t.TempDir()
	if _, err := WriteDir(TestdataConfig(), dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{PcapFile, ConnFile, SSLFile, TruthFile} {
		want, err := os.ReadFile(filepath.Join(goldenDir, name))
		if err != nil {
			t.Fatalf("%v (regenerate with: go test ./cadence/synth -run TestGolden -update)", err)
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from testdata/synth/%s (%d vs %d bytes); if the change is intended, run: go test ./cadence/synth -run TestGolden -update", name, name, len(got), len(want))
		}
	}
}
