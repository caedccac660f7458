package rules

import (
	"path/filepath"
	"testing"

	"github.com/aegis-nsm/aegis/ingest/zeek"
)

// TestCorpusNoRecon feeds the real Zeek conn.logs of the shared corpus
// (mDNS, LLMNR and NBNS chatter, DHCP broadcasts, half-seen and reset
// connections: 19 S0, 14 OTH, 5 SHR, 3 RSTRH ...) to the recon counters:
// none of it is a scan.
func TestCorpusNoRecon(t *testing.T) {
	paths, _ := filepath.Glob("../../shared/corpus/zeek/*/conn.log")
	if len(paths) == 0 {
		t.Skip("corpus not available: ../../shared/corpus/zeek/*/conn.log")
	}
	cfg := testConfig("", nil)
	cfg.Recon.MinTargets = 5 // far more sensitive than the default
	e := NewEngine(mustLoad(t, cfg), cfg)
	n := 0
	for _, p := range paths {
		flows, _, err := zeek.ReadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for i := range flows {
			e.ObserveIDS(&flows[i])
			n++
		}
	}
	s := e.Stats()
	t.Logf("%d conn.log rows from %d files: %d probes, %d sources", n, len(paths), s.Probes, s.SourcesTracked)
	if s.IDSRecords != uint64(n) || n < 100 {
		t.Fatalf("observed %d of %d", s.IDSRecords, n)
	}
	if s.ReconSources != 0 {
		t.Errorf("%d sources called scanners in benign traffic", s.ReconSources)
	}
	if s.Probes == 0 {
		t.Error("no probe counted: the S0 rows should count")
	}
}
