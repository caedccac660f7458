package cadence

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// TestClassify runs one flow of each kind and checks the class and that
// the reasons name the features that decided it.
func TestClassify(t *testing.T) {
	a := newTestAnalyzer(t)
	cases := []struct {
		name    string
		flow    *flowBuilder
		ctx     FlowContext
		want    schemas.Class
		reasons []string // substrings that must appear in the reasons
	}{
		{"llm stream", genStream(1, 300, 40*ms, 0.6, 300, 600*ms), FlowContext{}, schemas.ClassLLMStream,
			[]string{"server run", "small flushes", "token range", "client silent", "time to first byte 600 ms"}},
		{"llm stream over http2 with flow control", genStreamH2(2, 3, 120), FlowContext{}, schemas.ClassLLMStream,
			[]string{"control-sized records during the run"}},
		{"gemini-like bursts", genStream(3, 25, 180*ms, 0.7, 3000, 300*ms), FlowContext{}, schemas.ClassLLMStream,
			[]string{"sub-ms segment splits"}},
		{"agent shell", genAgentShell(4, 8), FlowContext{Service: "ssh"}, schemas.ClassAgentShell,
			[]string{"whole command lines", "think pause", "no typed keystrokes", "terminal echo", "service ssh"}},
		{"reverse shell", genReverseShell(5, 12), FlowContext{}, schemas.ClassAgentShell,
			[]string{"responder", "reverse shell"}},
		{"human typing", genHuman(6, 6), FlowContext{Service: "ssh"}, schemas.ClassHumanInteractive,
			[]string{"keystroke-sized client writes", "human typing rhythm", "echoed"}},
		{"human typing over a 120 ms path", genHumanRTT(7, 6, 120*ms), FlowContext{}, schemas.ClassHumanInteractive,
			[]string{"typing bursts"}},
		{"agent exfil", genExfil(8, 4, 16384, 2<<20, 200*ms, true), FlowContext{}, schemas.ClassAgentExfil,
			[]string{"uploaded", "agent-paced command lines", "machine-regular chunk sizes", "x the server's"}},

		// Negatives: none may be a detection.
		{"plain backup upload", genBulkUpload(9, 3<<20), FlowContext{}, schemas.ClassOther,
			[]string{"without an agent-like command phase"}},
		{"upload after typing", func() *flowBuilder {
			b := genHuman(10, 4)
			b.advance(2 * int64(time.Second))
			for range 64 {
				b.write(b.now, false, 16384)
				b.advance(200 * ms)
			}
			return b
		}(), FlowContext{}, schemas.ClassHumanInteractive, []string{"keystroke-sized"}},
		{"bulk download at 1 Mb/s", genBulkDownload(11, 2<<20, 1e6), FlowContext{}, schemas.ClassOther,
			[]string{"MSS-sized"}},
		{"bulk download at 100 Mb/s", genBulkDownload(12, 4<<20, 1e8), FlowContext{}, schemas.ClassOther,
			[]string{"longest server run has 1 flushes"}},
		{"request/response ping-pong", genPingPong(13, 200, 30*ms), FlowContext{}, schemas.ClassOther,
			[]string{"longest server run has 1 flushes"}},
		{"polling every ~2 s", genPingPong(14, 30, 2000*ms), FlowContext{Service: "http"}, schemas.ClassOther,
			[]string{"request/response service"}},
		{"push ticker every 1 s", genTicker(15, 60, 1000*ms, 5*ms), FlowContext{}, schemas.ClassOther,
			[]string{"above the token range"}},
		{"timer push every 100 ms", genTicker(16, 300, 100*ms, 1*ms), FlowContext{}, schemas.ClassOther,
			[]string{"timer-driven"}},
		{"video segments", genVideo(17, 8), FlowContext{}, schemas.ClassOther, nil},
		{"voip", genVoIP(18, 20), FlowContext{}, schemas.ClassOther, nil},
		{"beacon every 5 s", genBeacon(19, 30, 5000*ms, 0.3), FlowContext{}, schemas.ClassOther, nil},
		{"beacon every 60 s", genBeacon(20, 30, 60000*ms, 0.1), FlowContext{}, schemas.ClassOther, nil},
		{"token-paced output after Enter (command output)", func() *flowBuilder {
			b := newBuilder(21)
			b.c(t0, 36) // Enter
			for range 200 {
				b.s(b.advance(max(b.lognormal(40*ms, 0.6), 3*ms)), 100+b.rng.IntN(300))
			}
			return b
		}(), FlowContext{}, schemas.ClassOther, []string{"keystroke-sized client write"}},
		{"llm api name without stream cadence", genPingPong(22, 10, 500*ms), FlowContext{SNI: "api.openai.com"}, schemas.ClassOther,
			[]string{"a name alone is not evidence"}},
		{"too little payload", newBuilder(23).c(t0, 100).s(t0+ms, 100), FlowContext{}, schemas.ClassOther,
			[]string{"too little payload"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.Analyze(c.flow.build(), c.ctx)
			if r.Class != c.want {
				t.Fatalf("class %s (%.2f), want %s; reasons: %v", r.Class, r.Confidence, c.want, r.Reasons)
			}
			if r.Class.IsDetection() || r.Class == schemas.ClassHumanInteractive {
				if r.Confidence < a.cfg.MinConfidence {
					t.Errorf("confidence %.2f below the minimum", r.Confidence)
				}
			}
			all := strings.Join(r.Reasons, " | ")
			for _, want := range c.reasons {
				if !strings.Contains(all, want) {
					t.Errorf("reasons lack %q: %s", want, all)
				}
			}
			if (r.Class == schemas.ClassHandoff) != (r.Handoff != nil) {
				t.Errorf("handoff set = %v for class %s", r.Handoff != nil, r.Class)
			}
			if r.Class != schemas.ClassLLMStream && r.Route.Name != RouteUnknown {
				t.Errorf("route %q named for a %s", r.Route.Name, r.Class)
			}
		})
	}
}

// TestScenarioRates draws many flows per scenario and checks the share
// classified as intended: the physics must hold across random draws, not
// for one lucky seed. Negatives must never be a detection.
func TestScenarioRates(t *testing.T) {
	a := newTestAnalyzer(t)
	const n = 40
	cases := []struct {
		name string
		want schemas.Class
		min  float64 // least share classified as want
		gen  func(s uint64) *flowBuilder
	}{
		{"fast stream", schemas.ClassLLMStream, 1, func(s uint64) *flowBuilder { return genStream(s, 200, 12*ms, 0.8, 200, 400*ms) }},
		{"mid stream", schemas.ClassLLMStream, 1, func(s uint64) *flowBuilder { return genStream(s, 150, 40*ms, 0.6, 400, 600*ms) }},
		{"slow bursty stream", schemas.ClassLLMStream, 1, func(s uint64) *flowBuilder { return genStream(s, 25, 180*ms, 0.7, 3000, 300*ms) }},
		{"short stream", schemas.ClassLLMStream, 1, func(s uint64) *flowBuilder { return genStream(s, 20, 50*ms, 0.6, 300, 300*ms) }},
		{"h2 keep-alive streams", schemas.ClassLLMStream, 1, func(s uint64) *flowBuilder { return genStreamH2(s, 3, 120) }},
		{"trimmed long stream", schemas.ClassLLMStream, 1, func(s uint64) *flowBuilder {
			b := genStream(s, 3000, 10*ms, 0.8, 200, 400*ms)
			b.detail = 1000
			return b
		}},
		{"agent shell", schemas.ClassAgentShell, 0.95, func(s uint64) *flowBuilder { return genAgentShell(s, 4+int(s%8)) }},
		{"reverse shell", schemas.ClassAgentShell, 0.75, func(s uint64) *flowBuilder { return genReverseShell(s, 10+int(s%6)) }},
		{"human", schemas.ClassHumanInteractive, 1, func(s uint64) *flowBuilder { return genHuman(s, 1+int(s%8)) }},
		{"human on a slow path", schemas.ClassHumanInteractive, 1, func(s uint64) *flowBuilder { return genHumanRTT(s, 1+int(s%8), 120*ms) }},
		{"human then agent", schemas.ClassHandoff, 0.9, func(s uint64) *flowBuilder {
			b, _ := genHandoff(s, 2+int(s%5), 5+int(s%5), false)
			return b
		}},
		{"agent then human", schemas.ClassHandoff, 0.9, func(s uint64) *flowBuilder {
			b, _ := genHandoff(s, 2+int(s%5), 5+int(s%5), true)
			return b
		}},
		{"agent exfil", schemas.ClassAgentExfil, 1, func(s uint64) *flowBuilder { return genExfil(s, 2+int(s%4), 16384, 1<<20, 200*ms, true) }},
		{"human, obfuscated keystroke timing", schemas.ClassHumanInteractive, 0.9, func(s uint64) *flowBuilder {
			b := genHuman(s, 2+int(s%6))
			b.obfuscate(t0+1500*ms, s%2 == 0)
			return b
		}},
		{"agent, obfuscated keystroke timing", schemas.ClassAgentShell, 0.9, func(s uint64) *flowBuilder {
			b := genAgentShell(s, 5+int(s%6))
			b.obfuscate(t0+1500*ms, s%2 == 0)
			return b
		}},
		{"backup", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genBulkUpload(s, 2<<20) }},
		{"chunked upload, no agent", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genExfil(s, 0, 16384, 1<<20, 50*ms, false) }},
		{"rate-limited upload, no agent", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genExfil(s, 0, 32768, 1<<20, 125*ms, false) }},
		{"bulk 1 Mb/s", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genBulkDownload(s, 1<<20, 1e6) }},
		{"bulk 100 Mb/s", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genBulkDownload(s, 4<<20, 1e8) }},
		{"rpc ping-pong", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genPingPong(s, 100, 30*ms) }},
		{"polling ~2 s", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genPingPong(s, 30, 2000*ms) }},
		{"ticker 1 s", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genTicker(s, 60, 1000*ms, 5*ms) }},
		{"ticker 100 ms", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genTicker(s, 300, 100*ms, 1*ms) }},
		{"video", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genVideo(s, 8) }},
		{"voip", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genVoIP(s, 10) }},
		{"beacon 5 s", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genBeacon(s, 30, 5000*ms, 0.3) }},
		{"beacon 60 s", schemas.ClassOther, 1, func(s uint64) *flowBuilder { return genBeacon(s, 30, 60000*ms, 0.1) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hits := 0
			var misses []string
			for s := uint64(1); s <= n; s++ {
				r := a.Analyze(c.gen(s).build(), FlowContext{})
				if r.Class == c.want {
					hits++
				} else if len(misses) < 3 {
					misses = append(misses, fmt.Sprintf("seed %d: %s %v", s, r.Class, r.Reasons))
				}
				if c.want == schemas.ClassOther && r.Class.IsDetection() {
					t.Errorf("seed %d: negative called %s: %v", s, r.Class, r.Reasons)
				}
			}
			if share := float64(hits) / n; share < c.min {
				t.Errorf("%.0f%% classified %s, want >= %.0f%%; e.g. %v", 100*share, c.want, 100*c.min, misses)
			}
		})
	}
}

// TestHandoffMoment checks the direction and that the reported moment is
// the first act of the new phase.
func TestHandoffMoment(t *testing.T) {
	a := newTestAnalyzer(t)
	for _, agentFirst := range []bool{false, true} {
		for seed := uint64(1); seed <= 10; seed++ {
			b, at := genHandoff(seed, 5, 6, agentFirst)
			r := a.Analyze(b.build(), FlowContext{})
			if r.Class != schemas.ClassHandoff {
				t.Errorf("seed %d agentFirst=%v: class %s %v", seed, agentFirst, r.Class, r.Reasons)
				continue
			}
			wantDir := HumanToAgent
			if agentFirst {
				wantDir = AgentToHuman
			}
			if r.Handoff.Direction != wantDir {
				t.Errorf("seed %d: direction %s, want %s", seed, r.Handoff.Direction, wantDir)
			}
			wantOffset := float64(at-t0) / 1e9
			if d := r.Handoff.AtOffsetS - wantOffset; d < -0.5 || d > 0.5 {
				t.Errorf("seed %d %s: at +%.3f s, want +%.3f s", seed, wantDir, r.Handoff.AtOffsetS, wantOffset)
			}
			ts, err := time.Parse(time.RFC3339Nano, r.Handoff.At)
			if err != nil || !strings.HasSuffix(r.Handoff.At, "Z") || absDiff(ts.UnixNano(), t0+int64(r.Handoff.AtOffsetS*1e9)) > 1000 {
				t.Errorf("seed %d: at %q does not match offset %v (%v)", seed, r.Handoff.At, r.Handoff.AtOffsetS, err)
			}
		}
	}
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}
