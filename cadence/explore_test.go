package cadence

import (
	"fmt"
	"testing"
)

func TestExplore(t *testing.T) {
	p, err := LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAnalyzer(DefaultConfig(), p)
	if err != nil {
		t.Fatal(err)
	}
	ho, at := genHandoff(5, 8, 6, false)
	ho2, at2 := genHandoff(6, 8, 6, true)
	cases := map[string]*flowBuilder{
		"stream":     genStream(1, 300, 40*ms, 0.6, 300, 600*ms),
		"agent":      genAgentShell(2, 8),
		"human":      genHuman(3, 6),
		"h2a":        ho,
		"a2h":        ho2,
		"exfil":      genExfil(7, 4, 16384, 2<<20, 200*ms, true),
		"backup":     genBulkUpload(8, 3<<20),
		"bulk":       genBulkDownload(9, 2<<20, 1e6),
		"pingpong":   genPingPong(10, 200, 30*ms),
		"ticker":     genTicker(11, 60, 1000*ms, 5*ms),
		"fastticker": genTicker(12, 300, 100*ms, 1*ms),
		"video":      genVideo(13, 10),
		"voip":       genVoIP(14, 20),
		"beacon":     genBeacon(15, 30, 5000*ms, 0.2),
	}
	_ = at
	_ = at2
	for _, name := range []string{"stream", "agent", "human", "h2a", "a2h", "exfil", "backup", "bulk", "pingpong", "ticker", "fastticker", "video", "voip", "beacon"} {
		r := a.Analyze(cases[name].build(), FlowContext{})
		fmt.Printf("%-10s %-18s %.2f %v %+v\n", name, r.Class, r.Confidence, r.Reasons, r.Route.Name)
		if r.Handoff != nil {
			fmt.Println("   handoff", *r.Handoff, "expected", float64(at-t0)/1e9, float64(at2-t0)/1e9)
		}
	}
	for i, pr := range p.Routes() {
		r := a.Analyze(genProfileStream(uint64(100+i), pr, 400).build(), FlowContext{})
		fmt.Printf("%-32s %-12s %.2f route=%s %.2f %v\n", pr.Name, r.Class, r.Confidence, r.Route.Name, r.Route.Score, r.Route.Candidates)
		if r.Class != "llm_stream" {
			fmt.Println("    ", r.Reasons)
		}
	}
}
