package synth

import (
	"math"
	"slices"
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

// Physics tests: each class's packets show the timing the scenario claims,
// measured from the pcap (not from the generator's internals).

const flushGap = 2 * ms

// turns splits an LLM flow's server payload into responses: the flushes
// after each client request.
func llmResponses(f *flowPkts) [][]int64 {
	cl := payloadPkts(f, true)
	sv := payloadPkts(f, false)
	ct, _ := flushes(cl, 5*ms)
	st, _ := flushes(sv, flushGap)
	var out [][]int64
	for i, c := range ct {
		end := int64(math.MaxInt64)
		if i+1 < len(ct) {
			end = ct[i+1]
		}
		var r []int64
		for _, s := range st {
			// A NewSessionTicket may arrive just after the first request;
			// the response's headers come at least 100 ms later.
			if s > c+90*ms && s < end {
				r = append(r, s)
			}
		}
		if len(r) >= 6 {
			out = append(out, r)
		}
	}
	return out
}

func isGateway(sni string) bool { return slices.Contains(gateways, sni) }

// TestLLMRouteCadence measures each route's mean flush gap on a larger
// LLM-only set: the gaps are heavy-tailed, so a mean needs thousands.
func TestLLMRouteCadence(t *testing.T) {
	cfg := TestdataConfig()
	cfg.Scenarios = []string{"llm_chat"}
	cfg.EpisodesPerScenario = 8
	cfg.Scale = 0.5
	if testing.Short() {
		cfg.EpisodesPerScenario = 3
	}
	g := generate(t, cfg)
	gaps := map[string][]float64{}
	for _, f := range join(t, g) {
		if f.tr.Class != schemas.ClassLLMStream || isGateway(f.tr.SNI) {
			continue
		}
		for _, r := range llmResponses(f) {
			// Skip the response headers (flush 0) and the closing events.
			for i := 2; i < len(r)-1; i++ {
				gaps[f.tr.Route] = append(gaps[f.tr.Route], float64(r[i]-r[i-1])/float64(ms))
			}
		}
	}
	for _, rt := range routes {
		gs := gaps[rt.name]
		if len(gs) < 40 {
			t.Errorf("%s: only %d flush gaps", rt.name, len(gs))
			continue
		}
		m := mean(gs)
		lo, hi := 0.7*rt.gapMs, 1.35*rt.gapMs
		if rt.gapRange[1] > 0 {
			lo, hi = 0.7*rt.gapRange[0], 1.3*rt.gapRange[1]
		}
		if m < lo || m > hi {
			t.Errorf("%s: mean flush gap %.1f ms, want %.1f..%.1f", rt.name, m, lo, hi)
		}
		t.Logf("%-30s %5d gaps mean %6.1f ms median %6.1f ms (published %.1f)", rt.name, len(gs), m, median(gs), rt.gapMs)
	}
}

func TestClaudeGapsNearMultiplesOf45ms(t *testing.T) {
	g := testdataSet(t)
	var near, all int
	for _, f := range join(t, g) {
		if f.tr.Route != "anthropic/claude-3.5-haiku" || isGateway(f.tr.SNI) {
			continue
		}
		for _, r := range llmResponses(f) {
			for i := 2; i < len(r)-1; i++ {
				gap := float64(r[i]-r[i-1]) / float64(ms)
				if gap > 290 {
					continue
				}
				all++
				k := math.Round(gap / 45)
				if k >= 1 && math.Abs(gap-45*k) < 10 {
					near++
				}
			}
		}
	}
	if all < 20 || float64(near) < 0.7*float64(all) {
		t.Errorf("%d of %d Claude gaps within 10 ms of a multiple of 45 ms", near, all)
	}
}

// TestLLMStreamShape: a long server-only run follows each request; the
// client sends nothing but ACKs during it.
func TestLLMStreamShape(t *testing.T) {
	g := testdataSet(t)
	for _, f := range join(t, g) {
		if f.tr.Class != schemas.ClassLLMStream {
			continue
		}
		rs := llmResponses(f)
		if len(rs) == 0 {
			t.Errorf("%s: no streamed response", describe(f))
			continue
		}
		longest, most := int64(0), 0
		for _, r := range rs {
			longest = max(longest, r[len(r)-1]-r[1])
			most = max(most, len(r))
		}
		// A chat answer streams for about a second or more; an agent's
		// tool call may be a short burst of a few flushes.
		if f.tr.Scenario == "llm_chat" && longest < 500*ms {
			t.Errorf("%s: longest stream %.2f s", describe(f), float64(longest)/1e9)
		}
		if minFlushes := map[bool]int{true: 8, false: 4}[f.tr.Scenario == "llm_chat"]; most < minFlushes {
			t.Errorf("%s: longest response %d flushes", describe(f), most)
		}
		// The server sends more payload than the client.
		var cb, sb int
		for _, p := range f.pkts {
			if f.fromOrig(p) {
				cb += p.payload
			} else {
				sb += p.payload
			}
		}
		if f.tr.Scenario == "llm_chat" && sb < cb {
			t.Errorf("%s: client sent %d B, server %d B", describe(f), cb, sb)
		}
	}
}

// keystrokeSized reports whether a client payload of n bytes is no larger
// than one typed key: for SSH the flow's smallest client packet (a key, a
// chaff PING and a channel close pad to the same size), for plaintext
// shells a few bytes.
func keystrokeSized(f *flowPkts, n int) bool {
	if f.tr.Service == "ssh" {
		if f.keySize == 0 {
			f.keySize = math.MaxInt
			cl := payloadPkts(f, true)
			after := loginEnd(cl)
			for _, p := range cl {
				if p.ts > after {
					f.keySize = min(f.keySize, p.payload)
				}
			}
		}
		return n <= f.keySize
	}
	return n <= 3
}

// loginEnd is the time of the first pause of >= 500 ms in the input side's
// payload: logins by programs and the SSH handshake are faster than that.
func loginEnd(ps []capPkt) int64 {
	for i := 1; i < len(ps); i++ {
		if ps[i].ts-ps[i-1].ts >= 500*ms {
			return ps[i-1].ts
		}
	}
	return math.MaxInt64
}

func TestHumanKeystrokeRhythm(t *testing.T) {
	g := testdataSet(t)
	for _, f := range join(t, g) {
		if f.tr.Scenario != "ssh_human_shell" && f.tr.Scenario != "telnet_human" {
			continue
		}
		cl := payloadPkts(f, true)
		after := loginEnd(cl)
		var gaps []float64
		var keys, all int
		var prev int64
		for _, p := range cl {
			if p.ts <= after {
				continue
			}
			all++
			if !keystrokeSized(f, p.payload) {
				prev = 0
				continue
			}
			keys++
			if prev != 0 && p.ts-prev < 1500*ms {
				gaps = append(gaps, float64(p.ts-prev)/float64(ms))
			}
			prev = p.ts
		}
		if all == 0 || float64(keys) < 0.6*float64(all) {
			t.Errorf("%s: %d of %d client packets keystroke-sized", describe(f), keys, all)
		}
		if m := median(gaps); len(gaps) < 10 || m < 80 || m > 400 {
			t.Errorf("%s: median inter-key gap %.0f ms over %d gaps, want 80..400", describe(f), m, len(gaps))
		}
	}
}

func TestObscuredKeystrokesOn20msGrid(t *testing.T) {
	g := testdataSet(t)
	n := 0
	for _, f := range join(t, g) {
		if f.tr.Scenario != "ssh_human_obscured" {
			continue
		}
		n++
		cl := payloadPkts(f, true)
		var gaps []float64
		for i := 1; i < len(cl); i++ {
			if d := cl[i].ts - cl[i-1].ts; d < 100*ms {
				gaps = append(gaps, float64(d)/float64(ms))
			}
		}
		if m := median(gaps); m < 17 || m > 23 {
			t.Errorf("%s: median client gap %.1f ms, want ~20 (chaff grid)", describe(f), m)
		}
	}
	if n == 0 {
		t.Fatal("no obscured sessions")
	}
}

// commandWrites returns the input side's writes (packets within 5 ms
// grouped) after an SSH or telnet login, without the SSH channel close that
// follows the logout.
func commandWrites(f *flowPkts, inputIsOrig bool) (times []int64, sizes []int) {
	in := payloadPkts(f, inputIsOrig)
	login := f.tr.Service == "ssh" || f.tr.RespP == 23
	var ps []capPkt
	after := int64(math.MinInt64)
	if login {
		after = loginEnd(in)
	}
	for _, p := range in {
		if p.ts > after {
			ps = append(ps, p)
		}
	}
	times, sizes = flushes(ps, 5*ms)
	if f.tr.Service == "ssh" && len(times) > 1 {
		times, sizes = times[:len(times)-1], sizes[:len(sizes)-1]
	}
	return
}

func TestAgentSendsLinesAfterModelPauses(t *testing.T) {
	g := testdataSet(t)
	checked := 0
	for _, f := range join(t, g) {
		switch f.tr.Scenario {
		case "agent_ssh", "agent_bindshell", "agent_revshell", "agent_telnet":
		default:
			continue
		}
		checked++
		inputIsOrig := f.tr.Scenario != "agent_revshell"
		times, sizes := commandWrites(f, inputIsOrig)
		if len(times) < 3 {
			t.Errorf("%s: only %d command writes", describe(f), len(times))
			continue
		}
		lines := 0
		for i, ts := range times {
			if i > 0 && ts-times[i-1] < 500*ms {
				t.Errorf("%s: command write %.3f s after the previous one", describe(f), float64(ts-times[i-1])/1e9)
			}
			if !keystrokeSized(f, sizes[i]) {
				lines++
			}
		}
		if float64(lines) < 0.7*float64(len(times)) {
			t.Errorf("%s: %d of %d command writes are line-sized", describe(f), lines, len(times))
		}
	}
	if checked < 8 {
		t.Errorf("checked %d agent sessions", checked)
	}
}

// TestAgentCommandsFollowLLMStreams: when an agent's LLM connection is seen,
// each command leaves shortly after one of that host's streams ended.
func TestAgentCommandsFollowLLMStreams(t *testing.T) {
	g := testdataSet(t)
	flows := join(t, g)
	byEp := map[int][]*flowPkts{}
	for _, f := range flows {
		byEp[f.tr.Episode] = append(byEp[f.tr.Episode], f)
	}
	checked := 0
	for _, fs := range byEp {
		var shell *flowPkts
		var ends []int64
		for _, f := range fs {
			if f.tr.Scenario == "agent_ssh" && f.tr.Class == schemas.ClassAgentShell {
				shell = f
			}
			if f.tr.Class == schemas.ClassLLMStream {
				for _, r := range llmResponses(f) {
					ends = append(ends, r[len(r)-1])
				}
			}
		}
		if shell == nil || len(ends) == 0 {
			continue
		}
		slices.Sort(ends)
		times, _ := commandWrites(shell, true)
		good := 0
		for _, ts := range times {
			i, _ := slices.BinarySearch(ends, ts)
			if i > 0 && ts-ends[i-1] >= 15*ms && ts-ends[i-1] <= 1500*ms {
				good++
			}
		}
		checked++
		if float64(good) < 0.9*float64(len(times)) {
			t.Errorf("%s: %d of %d commands within 15-1500 ms after an LLM stream ended", describe(shell), good, len(times))
		}
	}
	if checked == 0 {
		t.Fatal("no agent session with its LLM connection")
	}
}

func TestHandoffChangesRhythm(t *testing.T) {
	g := testdataSet(t)
	for _, f := range join(t, g) {
		if f.tr.Class != schemas.ClassHandoff {
			continue
		}
		times, sizes := commandWrites(f, true)
		var keysBefore, before, linesAfter, after int
		var prev int64
		for i, ts := range times {
			key := keystrokeSized(f, sizes[i])
			if ts < f.tr.HandoffAtNS {
				before++
				if key {
					keysBefore++
				}
			} else {
				after++
				if !key && (prev == 0 || ts-prev >= 500*ms) {
					linesAfter++
				}
			}
			prev = ts
		}
		if before == 0 || after == 0 {
			t.Errorf("%s: %d writes before the handoff, %d after", describe(f), before, after)
			continue
		}
		human, agent := float64(keysBefore)/float64(before), float64(linesAfter)/float64(after)
		if f.tr.HandoffDirection == "agent_to_human" {
			// Before: lines after pauses; after: keystrokes.
			var keysAfter, linesBefore int
			for i, ts := range times {
				key := keystrokeSized(f, sizes[i])
				if ts >= f.tr.HandoffAtNS && key {
					keysAfter++
				}
				if ts < f.tr.HandoffAtNS && !key {
					linesBefore++
				}
			}
			human, agent = float64(keysAfter)/float64(after), float64(linesBefore)/float64(before)
		}
		if human < 0.6 || agent < 0.6 {
			t.Errorf("%s (%s): keystroke share on the human side %.2f, line share on the agent side %.2f", describe(f), f.tr.HandoffDirection, human, agent)
		}
	}
}

func TestExfilIsRegularUploadNearAgent(t *testing.T) {
	g := testdataSet(t)
	flows := join(t, g)
	byEp := map[int][]*flowPkts{}
	for _, f := range flows {
		byEp[f.tr.Episode] = append(byEp[f.tr.Episode], f)
	}
	for _, f := range flows {
		if f.tr.Class != schemas.ClassAgentExfil {
			continue
		}
		var cb, sb int
		for _, p := range f.pkts {
			if f.fromOrig(p) {
				cb += p.payload
			} else {
				sb += p.payload
			}
		}
		if cb < 3*sb {
			t.Errorf("%s: originator sent %d B, responder %d B", describe(f), cb, sb)
		}
		// Inside or right after an agent session of the episode.
		if f.tr.Scenario == "exfil_https_chunked" || f.tr.Scenario == "exfil_https_multiconn" || f.tr.Scenario == "exfil_scp" {
			near := false
			for _, o := range byEp[f.tr.Episode] {
				if o.tr.Class == schemas.ClassAgentShell && f.tr.StartNS-o.tr.EndNS < 30*sec {
					near = true
				}
			}
			if !near {
				t.Errorf("%s: no agent session of the episode ended within 30 s before it", describe(f))
			}
		}
		if f.tr.Scenario == "exfil_https_chunked" {
			// Chunk starts are machine-regular.
			st, _ := flushes(payloadPkts(f, true), 20*ms)
			var iv []float64
			for i := 4; i+1 < len(st); i += 2 { // requests alternate with nothing else; skip the handshake
				iv = append(iv, float64(st[i+1]-st[i]))
			}
			if len(iv) >= 3 {
				m := mean(iv)
				var v float64
				for _, x := range iv {
					v += (x - m) * (x - m)
				}
				if cv := math.Sqrt(v/float64(len(iv))) / m; cv > 0.5 {
					t.Errorf("%s: chunk interval CV %.2f", describe(f), cv)
				}
			}
		}
	}
}

func TestNegativesPhysics(t *testing.T) {
	g := testdataSet(t)
	flows := join(t, g)
	beaconStarts := map[int][]int64{}
	for _, f := range flows {
		switch f.tr.Scenario {
		case "voip_rtp":
			if f.tr.Service != "" || f.tr.RespP%2 != 0 {
				continue // SIP and RTCP
			}
			for _, orig := range []bool{true, false} {
				ps := payloadPkts(f, orig)
				var gaps []float64
				for i := 1; i < len(ps); i++ {
					gaps = append(gaps, float64(ps[i].ts-ps[i-1].ts)/float64(ms))
				}
				if m := median(gaps); m < 17 || m > 23 {
					t.Errorf("%s: RTP median gap %.1f ms", describe(f), m)
				}
			}
		case "beacon_short":
			beaconStarts[f.tr.Episode] = append(beaconStarts[f.tr.Episode], f.tr.StartNS)
		case "ftp_scripted":
			if f.tr.Service != "ftp" {
				continue
			}
			cl, _ := flushes(payloadPkts(f, true), ms)
			sv, _ := flushes(payloadPkts(f, false), ms)
			var gaps []float64
			for _, c := range cl {
				i, _ := slices.BinarySearch(sv, c)
				if i > 0 {
					gaps = append(gaps, float64(c-sv[i-1])/float64(ms))
				}
			}
			if m := median(gaps); m < 120 || m > 220 {
				t.Errorf("%s: scripted FTP command %.0f ms after the reply", describe(f), m)
			}
		}
	}
	if len(beaconStarts) == 0 {
		t.Fatal("no beacons")
	}
	for ep, st := range beaconStarts {
		slices.Sort(st)
		for i := 1; i < len(st); i++ {
			if d := float64(st[i]-st[i-1]) / 1e9; d < 20 || d > 80 {
				t.Errorf("beacon episode %d: %.1f s between connections", ep, d)
			}
		}
	}
}
