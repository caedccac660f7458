package synth

import (
	"sort"
	"testing"
)

func TestSizeReport(t *testing.T) {
	g := testdataSet(t)
	flows := join(t, g)
	type agg struct{ pkts, bytes, flows int }
	m := map[string]*agg{}
	for _, f := range flows {
		a := m[f.tr.Scenario]
		if a == nil {
			a = &agg{}
			m[f.tr.Scenario] = a
		}
		a.flows++
		a.pkts += len(f.pkts)
		for _, p := range f.pkts {
			a.bytes += 14 + p.ipLen + 16
		}
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return m[ks[i]].bytes > m[ks[j]].bytes })
	for _, k := range ks {
		t.Logf("%-24s flows %3d pkts %6d bytes %8d", k, m[k].flows, m[k].pkts, m[k].bytes)
	}
	t.Logf("total %d packets, %d bytes", g.sum.Packets, g.sum.PcapBytes)
}

func TestWriteTmp(t *testing.T) {
	if _, err := WriteDir(TestdataConfig(), "/tmp/synthsmoke/out"); err != nil {
		t.Fatal(err)
	}
}

func TestLLMReport(t *testing.T) {
	g := testdataSet(t)
	for _, f := range join(t, g) {
		if f.tr.Class != "llm_stream" {
			continue
		}
		var cb, sb, cp, sp int
		for _, p := range f.pkts {
			if f.fromOrig(p) {
				cb += p.payload
				cp++
			} else {
				sb += p.payload
				sp++
			}
		}
		t.Logf("%-16s %-30s %-40s c %4d pkts %7d B  s %4d pkts %7d B  dur %.1fs", f.tr.Scenario, f.tr.Route, f.tr.SNI, cp, cb, sp, sb, float64(f.tr.EndNS-f.tr.StartNS)/1e9)
	}
}
