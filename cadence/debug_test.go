package cadence

import (
	"fmt"
	"testing"
)

func TestDebugRoute(t *testing.T) {
	p, _ := LoadProfiles("")
	a, _ := NewAnalyzer(DefaultConfig(), p)
	pr, _ := p.Route("amazon-bedrock/nova-pro")
	f := genProfileStream(101, pr, 400).build()
	sc := new(scratch)
	c := a.direction(&f.Orig, 0, sc)
	s := a.direction(&f.Resp, 1, sc)
	_ = c; _ = s
	sc.merged = mergeFlushes(sc.flushes[0], sc.flushes[1], horizon(f), nil)
	run := a.longestRun(sc.merged)
	st := a.evalStream(f, sc.merged, run, sc)
	fmt.Println(st.shape.hist, st.shape.histN, st.shape.medFlushBytes, st.shape.packets, st.shape.ttfbMs)
	for _, r := range p.routes {
		sco, ev := scoreProfile(&st.shape, &r)
		fmt.Printf("%-32s kl=%.4f score=%.3f ev=%.2f bins0=%.3f\n", r.Name, gapDivergence(&st.shape.hist, st.shape.histN, &r), sco, ev, r.bins[0])
	}
}
