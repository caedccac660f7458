package cadence

import "testing"

// BenchmarkAnalyze measures one Analyze call per flow: a 2,000-packet
// streamed completion and a 50-packet short flow. Run with
// go test -run '^$' -bench Analyze -benchmem ./cadence/
func BenchmarkAnalyze(b *testing.B) {
	a := newTestAnalyzer(b)
	cases := []struct {
		name string
		fb   *flowBuilder
	}{
		{"llm_stream_2000pkts", genStream(1, 1000, 20*ms, 0.7, 1800, 500*ms)},
		{"agent_shell", genAgentShell(2, 20)},
		{"short_50pkts", genPingPong(3, 25, 40*ms)},
	}
	for _, c := range cases {
		f := c.fb.build()
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = a.Analyze(f, FlowContext{SNI: "api.openai.com"})
			}
			b.ReportMetric(float64(f.Orig.PayloadPackets+f.Resp.PayloadPackets), "pkts/flow")
		})
	}
}

// BenchmarkAnalyzeParallel runs Analyze on every core at once, as the
// daemon does for finished flows.
func BenchmarkAnalyzeParallel(b *testing.B) {
	a := newTestAnalyzer(b)
	f := genStream(1, 1000, 20*ms, 0.7, 1800, 500*ms).build()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = a.Analyze(f, FlowContext{})
		}
	})
}
