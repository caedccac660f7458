package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// baseRecord is a confident LLM stream from 10.0.0.5 that ends at t0+at.
func baseRecord(at time.Duration) *schemas.Record {
	end := t0.Add(at)
	rec := &schemas.Record{
		Timestamp:   end.Add(-20 * time.Second).Format(time.RFC3339Nano),
		Event:       schemas.Event{Start: end.Add(-20 * time.Second).Format(time.RFC3339Nano), End: end.Format(time.RFC3339Nano), Duration: int64(20 * time.Second)},
		Source:      schemas.Endpoint{IP: "10.0.0.5", Port: 40000, Bytes: 4000, Packets: 40},
		Destination: schemas.Endpoint{IP: "203.0.113.9", Port: 443, Bytes: 90000, Packets: 300},
		Network:     schemas.Network{Transport: "tcp", IANANumber: "6", Protocol: "ssl,http"},
		TLS:         &schemas.TLS{Client: schemas.TLSClient{ServerName: "API.OpenAI.com"}},
	}
	rec.Aegis.Class = schemas.ClassLLMStream
	rec.Aegis.Confidence = 0.9
	rec.Aegis.Route = schemas.RouteMatch{Name: "openai/gpt-4o", Provider: "openai", Score: 0.8, SNI: "listed"}
	rec.Aegis.Cadence.DurationS = 20
	rec.Aegis.Cadence.Client = schemas.DirectionFeatures{Packets: 10, Bytes: 3000}
	rec.Aegis.Cadence.Server = schemas.DirectionFeatures{Packets: 250, Bytes: 80000, Regularity: 0.4, IAT: schemas.IATStats{N: 249, MeanMs: 41, MedianMs: 38, CV: 0.6, P90Ms: 70}}
	return rec
}

// hitIDsOf returns the ids of the hits.
func hitIDsOf(hits []schemas.RuleHit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.ID)
	}
	return out
}

// firesT reports whether the user rule "t" fires on rec.
func firesT(e *Engine, rec *schemas.Record) bool {
	return slices.Contains(hitIDsOf(e.Evaluate(rec)), "t")
}

// TestConditions checks each condition on the same record, holding and
// not holding.
func TestConditions(t *testing.T) {
	lists := map[string][]string{"llm_clients": {"10.0.0.0/24"}, "big": bigList(), "empty": {}}
	tests := []struct {
		when string
		mod  func(*schemas.Record)
		want bool
	}{
		{"class: llm_stream", nil, true},
		{"class: [agent_shell, handoff]", nil, false},
		{"confidence: {min: 0.9}", nil, true},
		{"confidence: {min: 0.91}", nil, false},
		{"confidence: {max: 0.5}", nil, false},
		{"duration_s: {min: 10, max: 30}", nil, true},
		{"duration_s: {min: 21}", nil, false},
		{"handoff: human_to_agent", nil, false},
		{"handoff: human_to_agent", func(r *schemas.Record) { r.Aegis.Handoff = &schemas.Handoff{Direction: "human_to_agent"} }, true},
		{"transport: TCP", nil, true},
		{"transport: [udp]", nil, false},
		{"service: http", nil, true}, // one of Zeek's "ssl,http"
		{"service: ssh", nil, false},
		{"service: ssh", func(r *schemas.Record) { r.Network.Protocol = ""; r.Aegis.IDS = &schemas.IDSInfo{Service: "ssh"} }, true},
		{"destination_port: [22, \"440-450\"]", nil, true},
		{"destination_port: 22", nil, false},
		{"source_port: \"40000-40000\"", nil, true},
		{"sni: \"*.openai.com\"", nil, true},
		{"sni: \"*.anthropic.com\"", nil, false},
		{"sni: \"api.?penai.*\"", nil, true},
		{"sni: \"*\"", func(r *schemas.Record) { r.TLS = nil }, false},
		{"not_sni: \"*.openai.com\"", nil, false},
		{"not_sni: \"*.openai.com\"", func(r *schemas.Record) { r.TLS = nil }, true},
		{"route: {name: \"openai/*\", score: {min: 0.75}}", nil, true},
		{"route: {name: \"openai/*\", score: {min: 0.85}}", nil, false},
		{"route: {not_name: [unknown]}", nil, true},
		{"route: {provider: OpenAI}", nil, true},
		{"route: {sni: [unlisted, none]}", nil, false},
		{"source: {cidr: [10.0.0.0/8]}", nil, true},
		{"source: {cidr: [\"::ffff:10.0.0.0/104\"]}", nil, true},
		{"source: {cidr: [10.0.0.6]}", nil, false},
		{"source: {not_cidr: [10.0.0.0/8]}", nil, false},
		{"source: {lists: [llm_clients]}", nil, true},
		{"source: {not_lists: [llm_clients]}", nil, false},
		{"source: {not_lists: [llm_clients]}", func(r *schemas.Record) { r.Source.IP = "10.0.1.5" }, true},
		{"source: {not_lists: [empty]}", func(r *schemas.Record) { r.Source.IP = "10.0.1.5" }, false},
		{"source: {not_lists: [llm_clients]}", func(r *schemas.Record) { r.Source.IP = "garbage" }, false},
		{"source: {lists: [big]}", func(r *schemas.Record) { r.Source.IP = "172.16.7.200" }, true},
		{"source: {lists: [big]}", func(r *schemas.Record) { r.Source.IP = "172.32.0.1" }, false},
		{"source: {lists: [big]}", func(r *schemas.Record) { r.Source.IP = "2001:db8:0:12::1" }, true},
		{"destination: {cidr: [203.0.113.0/24], not_cidr: [203.0.113.9]}", nil, false},
		{"destination: {cidr: [203.0.113.0/24]}", nil, true},
		{"destination: {cidr: [\"2001:db8::/32\"]}", func(r *schemas.Record) { r.Destination.IP = "2001:db8::7" }, true},
		{"client: {bytes: {min: 3000}, packets: {max: 10}}", nil, true},
		{"client: {bytes: {min: 3001}}", nil, false},
		{"server: {iat: {mean_ms: {min: 40, max: 42}, p90_ms: {max: 80}}}", nil, true},
		{"server: {iat.median_ms: {max: 30}}", nil, false},
		{"server: {iat.cv: {max: 0.7}, regularity: {min: 0.3}}", nil, true},
		{"fields: {aegis.cadence.server.iat.n: {min: 200}, destination.bytes: {min: 1}}", nil, true},
		{"fields: {aegis.ids.resp_bytes: {min: 0}}", nil, false}, // no ids block
		{"fields: {aegis.ids.resp_bytes: {min: 0}}", func(r *schemas.Record) { r.Aegis.IDS = &schemas.IDSInfo{} }, true},
	}
	for _, tt := range tests {
		name := tt.when
		if tt.mod != nil {
			name += " (modified)"
		}
		t.Run(name, func(t *testing.T) {
			set := loadOne(t, yamlRule(tt.when), lists)
			e := NewEngine(set, testConfig("", lists))
			rec := baseRecord(0)
			if tt.mod != nil {
				tt.mod(rec)
			}
			if got := firesT(e, rec); got != tt.want {
				t.Errorf("fires = %v, want %v", got, tt.want)
			}
		})
	}
}

// bigList is large enough to use the hashed prefix lookup.
func bigList() []string {
	var out []string
	for i := range 20 {
		out = append(out, fmt.Sprintf("192.168.%d.0/24", i))
	}
	return append(out, "172.16.0.0/12", "2001:db8::/48", "10.9.9.9")
}

func TestPrefixSet(t *testing.T) {
	for _, n := range []int{3, 40} {
		var ps []netip.Prefix
		for i := range n {
			ps = append(ps, netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", i)))
		}
		ps = append(ps, netip.MustParsePrefix("2001:db8:1::/48"), netip.MustParsePrefix("192.0.2.1/32"))
		s := buildPrefixSet(ps)
		for _, tt := range []struct {
			a    string
			want bool
		}{
			{"10.0.200.1", true}, {fmt.Sprintf("10.%d.1.1", n-1), true}, {fmt.Sprintf("10.%d.1.1", n), false},
			{"192.0.2.1", true}, {"192.0.2.2", false}, {"2001:db8:1:ffff::1", true}, {"2001:db8:2::1", false},
		} {
			if got := s.contains(netip.MustParseAddr(tt.a)); got != tt.want {
				t.Errorf("n=%d %s: got %v", n, tt.a, got)
			}
		}
	}
	var nilSet *prefixSet
	if nilSet.contains(netip.MustParseAddr("10.0.0.1")) || !nilSet.empty() {
		t.Error("nil set")
	}
	for _, bad := range []string{"10.0.0.0/33", "10.0.0", "fe80::1%eth0", "", "1.2.3.4/-1"} {
		if _, err := parsePrefix(bad); err == nil {
			t.Errorf("parsePrefix(%q) accepted", bad)
		}
	}
	if p, _ := parsePrefix("10.1.2.3/8"); p.String() != "10.0.0.0/8" {
		t.Errorf("not masked: %v", p)
	}
}

// probes sends n refused connections from src to distinct ports of dst,
// ending at t0+at.
func probes(e *Engine, src, dst string, n int, at time.Duration, state string) {
	for i := range n {
		f := &schemas.IDSFlow{
			Sensor: schemas.SensorZeek, Proto: schemas.ProtoTCP, ConnState: state,
			Orig: netip.MustParseAddrPort(src + ":40000"),
			Resp: netip.AddrPortFrom(netip.MustParseAddr(dst), uint16(1+i)),
		}
		f.Start = t0.Add(at).UnixNano() + int64(i)
		f.End = f.Start + int64(time.Millisecond)
		e.ObserveIDS(f)
	}
}

func TestRecon(t *testing.T) {
	zeek := func(state string, origB, respB, respPkts int64) *schemas.IDSFlow {
		return &schemas.IDSFlow{Sensor: schemas.SensorZeek, Proto: schemas.ProtoTCP, ConnState: state, OrigBytes: origB, RespBytes: respB, RespPkts: respPkts, OrigPkts: 1}
	}
	suri := func(state string, proto uint8, origPkts, respPkts int64) *schemas.IDSFlow {
		return &schemas.IDSFlow{Sensor: schemas.SensorSuricata, Proto: proto, ConnState: state, OrigPkts: origPkts, RespPkts: respPkts}
	}
	tests := []struct {
		name string
		f    *schemas.IDSFlow
		want probeKind
	}{
		{"S0", zeek("S0", 0, 0, 0), probeConn},
		{"REJ", zeek("REJ", 0, 0, 1), probeConn},
		{"RSTOS0", zeek("RSTOS0", 0, 0, 0), probeConn},
		{"SH", zeek("SH", 0, 0, 0), probeConn},
		{"RSTO empty", zeek("RSTO", 0, 0, 1), probeConn},
		{"RSTR empty", zeek("RSTR", 0, 0, 2), probeConn},
		{"RSTR with data", zeek("RSTR", 10, 200, 3), probeNone},
		{"OTH no reply", zeek("OTH", 0, 0, 0), probeConn},
		{"OTH reply", zeek("OTH", 0, 0, 3), probeNone},
		{"SF", zeek("SF", 100, 100, 3), probeNone},
		{"S1", zeek("S1", 0, 0, 3), probeNone},
		{"RSTRH", zeek("RSTRH", 0, 0, 1), probeNone},
		{"SHR", zeek("SHR", 0, 0, 1), probeNone},
		{"unknown zeek state", zeek("XX", 0, 0, 0), probeNone},
		{"suricata new, no reply", suri("new", schemas.ProtoTCP, 1, 0), probeConn},
		{"suricata closed, RST", suri("closed", schemas.ProtoTCP, 1, 1), probeConn},
		{"suricata half-open", suri("closed", schemas.ProtoTCP, 2, 1), probeConn},
		{"suricata established", suri("established", schemas.ProtoTCP, 5, 4), probeNone},
		{"suricata udp unanswered", suri("new", schemas.ProtoUDP, 1, 0), probeConn},
		{"suricata udp answered", suri("established", schemas.ProtoUDP, 1, 1), probeNone},
		{"suricata bypassed", suri("bypassed", schemas.ProtoTCP, 1, 0), probeNone},
	}
	r := compileRecon(DefaultConfig().Recon)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Orig = netip.MustParseAddrPort("10.0.0.5:40000")
			tt.f.Resp = netip.MustParseAddrPort("10.0.0.9:22")
			tt.f.Start = t0.UnixNano()
			tt.f.End = tt.f.Start + int64(time.Second)
			if got := r.classify(tt.f); got != tt.want {
				t.Errorf("classify = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("not probes", func(t *testing.T) {
		for _, mod := range []func(*schemas.IDSFlow){
			func(f *schemas.IDSFlow) { f.Resp = netip.MustParseAddrPort("224.0.0.251:5353") },
			func(f *schemas.IDSFlow) { f.Resp = netip.MustParseAddrPort("[ff02::fb]:5353") },
			func(f *schemas.IDSFlow) { f.Resp = netip.MustParseAddrPort("255.255.255.255:67") },
			func(f *schemas.IDSFlow) { f.Resp = netip.MustParseAddrPort("0.0.0.0:67") },
			func(f *schemas.IDSFlow) { f.End = f.Start + int64(2*time.Minute) },
			func(f *schemas.IDSFlow) { f.Interim = true },
		} {
			f := zeek("S0", 0, 0, 0)
			f.Orig = netip.MustParseAddrPort("10.0.0.5:40000")
			f.Resp = netip.MustParseAddrPort("10.0.0.9:22")
			f.Start = t0.UnixNano()
			f.End = f.Start
			mod(f)
			if got := r.classify(f); got != probeNone {
				t.Errorf("%+v: classify = %v", f, got)
			}
		}
	})
	t.Run("excluded sources", func(t *testing.T) {
		c := DefaultConfig().Recon
		c.Exclude = []string{"10.0.0.0/29"}
		rx := compileRecon(c)
		f := zeek("S0", 0, 0, 0)
		f.Orig = netip.MustParseAddrPort("10.0.0.5:40000")
		f.Resp = netip.MustParseAddrPort("10.0.0.9:22")
		f.Context = &schemas.FlowContext{Alerts: []schemas.IDSAlert{{Signature: "ET SCAN x"}}}
		if got := rx.classify(f); got != probeNone {
			t.Errorf("excluded source: classify = %v", got)
		}
		f.Orig = netip.MustParseAddrPort("10.0.0.8:40000")
		if got := rx.classify(f); got != probeAlert {
			t.Errorf("other source: classify = %v", got)
		}
	})
	t.Run("scan alerts", func(t *testing.T) {
		f := zeek("SF", 100, 100, 3)
		f.Context = &schemas.FlowContext{Alerts: []schemas.IDSAlert{{Signature: "ET POLICY curl UA"}, {Signature: "x", Category: "Detection of a Network Scan"}}}
		if got := r.classify(f); got != probeAlert {
			t.Errorf("classify = %v", got)
		}
		f.Context = &schemas.FlowContext{Alerts: []schemas.IDSAlert{{Signature: "ET POLICY curl UA", Category: "Potential Corporate Privacy Violation"}}}
		if got := r.classify(f); got != probeNone {
			t.Errorf("classify = %v", got)
		}
	})
}

func TestReconThreshold(t *testing.T) {
	set := mustLoad(t, testConfig("", nil))
	e := NewEngine(set, testConfig("", nil))
	probes(e, "10.0.0.5", "10.0.0.9", 15, -time.Minute, "REJ")
	if s := e.Stats(); s.ReconSources != 0 || s.Probes != 15 || s.SourcesTracked != 1 {
		t.Fatalf("after 15 probes: %+v", s)
	}
	shell := baseRecord(0)
	shell.Aegis.Class = schemas.ClassAgentShell
	if slices.Contains(hitIDsOf(e.Evaluate(shell)), "aegis-agent-campaign") {
		t.Fatal("campaign fired below the threshold")
	}
	probes(e, "10.0.0.5", "10.0.0.10", 10, -time.Minute, "S0")
	s := e.Stats()
	if s.ReconSources != 1 || s.ReconDetections != 1 || s.Probes != 25 {
		t.Fatalf("after 25 probes: %+v", s)
	}
	hits := e.Evaluate(shell)
	i := slices.IndexFunc(hits, func(h schemas.RuleHit) bool { return h.ID == "aegis-agent-campaign" })
	if i < 0 {
		t.Fatalf("campaign did not fire: %v", hitIDsOf(hits))
	}
	if !strings.Contains(hits[i].Message, "probed about 2") { // 25 targets, estimated

		t.Errorf("message = %q", hits[i].Message)
	}
}

// TestReconWindows: probes spread thinner than the window never add up;
// the same number inside it does.
func TestReconWindows(t *testing.T) {
	cfg := testConfig("", nil)
	cfg.Recon.Window = time.Minute
	e := NewEngine(mustLoad(t, cfg), cfg)
	for i := range 60 { // one probe every 30 s: at most 4 in two windows
		probes(e, "10.0.0.5", fmt.Sprintf("10.1.%d.1", i), 1, time.Duration(i)*30*time.Second, "S0")
	}
	if s := e.Stats(); s.ReconSources != 0 {
		t.Fatalf("slow probes made a scanner: %+v", s)
	}
	for i := range 20 { // 20 in 20 s
		probes(e, "10.0.0.6", fmt.Sprintf("10.2.%d.1", i), 1, time.Duration(i)*time.Second, "S0")
	}
	if s := e.Stats(); s.ReconSources != 1 {
		t.Fatalf("fast probes did not: %+v", s)
	}
}

// TestSequenceSteps covers class and rule steps and their windows.
func TestSequenceSteps(t *testing.T) {
	body := `rules:
  - id: stream
    name: s
    severity: low
    when: {class: llm_stream, confidence: {min: 0.8}}
  - id: t
    name: shell right after a stream
    severity: high
    message: "${source.ip} acted after ${rule.id}"
    when:
      class: agent_shell
      preceded_by:
        - {rule: stream, within: 2m}
        - {class: llm_stream, within: 5m}
`
	set := loadOne(t, body, nil)
	shell := func(at time.Duration, src string) *schemas.Record {
		r := baseRecord(at)
		r.Aegis.Class = schemas.ClassAgentShell
		r.Event.Duration = 0
		r.Source.IP = src
		return r
	}
	stream := func(at time.Duration, conf float64) *schemas.Record {
		r := baseRecord(at)
		r.Aegis.Confidence = conf
		return r
	}
	tests := []struct {
		name  string
		prior []*schemas.Record
		rec   *schemas.Record
		want  bool
	}{
		{"stream then shell", []*schemas.Record{stream(0, 0.9)}, shell(time.Minute, "10.0.0.5"), true},
		{"no stream", nil, shell(time.Minute, "10.0.0.5"), false},
		{"stream too long ago for the rule step", []*schemas.Record{stream(0, 0.9)}, shell(3*time.Minute, "10.0.0.5"), false},
		{"weak stream: class step holds, rule step not", []*schemas.Record{stream(0, 0.5)}, shell(time.Minute, "10.0.0.5"), false},
		{"stream from another source", []*schemas.Record{stream(0, 0.9)}, shell(time.Minute, "10.0.0.6"), false},
		{"stream after the shell ended", []*schemas.Record{stream(2*time.Minute, 0.9)}, shell(time.Minute, "10.0.0.5"), false},
		{"record without time", []*schemas.Record{stream(0, 0.9)}, func() *schemas.Record {
			r := shell(time.Minute, "10.0.0.5")
			r.Event.End, r.Timestamp = "", ""
			return r
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(set, testConfig("", nil))
			for _, p := range tt.prior {
				e.Evaluate(p)
			}
			hits := e.Evaluate(tt.rec)
			got := slices.Contains(hitIDsOf(hits), "t")
			if got != tt.want {
				t.Fatalf("fires = %v, want %v (hits %v)", got, tt.want, hitIDsOf(hits))
			}
			if got && hits[len(hits)-1].Message != "10.0.0.5 acted after t" {
				t.Errorf("message = %q", hits[len(hits)-1].Message)
			}
		})
	}
}

// TestEviction: the source budget holds, the least recently seen source
// goes first, and evictions are counted.
func TestEviction(t *testing.T) {
	cfg := testConfig("", nil)
	cfg.MaxSources = 3
	e := NewEngine(mustLoad(t, cfg), cfg)
	for i, src := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		probes(e, src, "10.9.0.1", 25, time.Duration(i)*time.Second, "REJ")
	}
	probes(e, "10.0.0.1", "10.9.0.2", 1, 5*time.Second, "REJ") // 10.0.0.1 is now the most recent
	probes(e, "10.0.0.4", "10.9.0.1", 1, 6*time.Second, "REJ") // evicts 10.0.0.2
	s := e.Stats()
	if s.SourcesTracked != 3 || s.SourcesEvicted != 1 || s.ReconSources != 2 || s.ReconDetections != 3 {
		t.Fatalf("stats = %+v", s)
	}
	shell := func(src string) bool {
		r := baseRecord(10 * time.Second)
		r.Aegis.Class, r.Source.IP = schemas.ClassAgentShell, src
		return slices.Contains(hitIDsOf(e.Evaluate(r)), "aegis-agent-campaign")
	}
	if !shell("10.0.0.1") || shell("10.0.0.2") || !shell("10.0.0.3") {
		t.Error("wrong source evicted")
	}
}

// TestExpiry: a source idle for longer than any window can use is dropped
// before a live one is evicted.
func TestExpiry(t *testing.T) {
	cfg := testConfig("", nil)
	cfg.MaxSources = 2
	e := NewEngine(mustLoad(t, cfg), cfg)
	probes(e, "10.0.0.1", "10.9.0.1", 1, 0, "REJ")
	probes(e, "10.0.0.2", "10.9.0.1", 1, 24*time.Hour, "REJ")
	probes(e, "10.0.0.3", "10.9.0.1", 1, 24*time.Hour+time.Second, "REJ")
	if s := e.Stats(); s.SourcesExpired != 1 || s.SourcesEvicted != 0 || s.SourcesTracked != 2 {
		t.Fatalf("stats = %+v", s)
	}
}

// TestSwapKeepsState: reloading the rules keeps recon state and the
// history of rules that still exist, and hit counters by id.
func TestSwapKeepsState(t *testing.T) {
	body := `rules:
  - id: stream
    name: s
    severity: low
    when: {class: llm_stream}
  - id: t
    name: after stream
    severity: high
    when: {class: agent_shell, preceded_by: [{rule: stream}]}
`
	set1 := loadOne(t, body, nil)
	e := NewEngine(set1, testConfig("", nil))
	e.Evaluate(baseRecord(0))
	probes(e, "10.0.0.5", "10.9.0.1", 30, 0, "REJ")

	// The new set adds a rule before the referenced one: slots move.
	set2 := loadOne(t, strings.Replace(body, "rules:\n", "rules:\n  - id: extra\n    name: e\n    severity: low\n    when: {class: other}\n    message: x\n  - id: z\n    name: z\n    severity: low\n    when: {class: handoff, preceded_by: [{rule: extra}]}\n", 1), nil)
	e.Swap(set2)
	if e.Set() != set2 {
		t.Fatal("Set() is not the swapped set")
	}
	shell := baseRecord(time.Minute)
	shell.Aegis.Class = schemas.ClassAgentShell
	got := hitIDsOf(e.Evaluate(shell))
	if !slices.Contains(got, "t") || !slices.Contains(got, "aegis-agent-campaign") {
		t.Fatalf("after swap: hits %v", got)
	}
	if h := e.Stats().Hits; h["stream"] != 1 || h["t"] != 1 || h["extra"] != 0 {
		t.Errorf("hit counters = %v", h)
	}
	e.Swap(nil)
	if e.Evaluate(shell) != nil {
		t.Error("an empty set fired")
	}
}

// TestConcurrent hammers one engine from several goroutines (run with
// -race) while the set is swapped, and checks the counters add up.
func TestConcurrent(t *testing.T) {
	cfg := testConfig("", nil)
	cfg.MaxSources = 512
	set := mustLoad(t, cfg)
	e := NewEngine(set, cfg)
	recs := benchRecords(2000)
	flows := benchIDS(2000)
	const workers = 4
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range recs {
				if i%workers == w {
					e.ObserveIDS(&flows[i])
					e.Evaluate(&recs[i])
				}
				if w == 0 && i%500 == 0 {
					e.Swap(set)
				}
			}
		}()
	}
	wg.Wait()
	s := e.Stats()
	if s.Evaluations != uint64(len(recs)) || s.IDSRecords != uint64(len(flows)) || s.SourcesTracked > 512 {
		t.Fatalf("stats = %+v", s)
	}
}

// TestEvaluateDeterministic: the same inputs give the same hits (record
// time only, no wall clock), and the scanner of benchIDS makes its agent
// flows campaign hits.
func TestEvaluateDeterministic(t *testing.T) {
	run := func(maxSources int) string {
		cfg := testConfig("", map[string][]string{"llm_clients": {"10.0.0.0/16"}})
		cfg.MaxSources = maxSources
		e := NewEngine(mustLoad(t, cfg), cfg)
		var b strings.Builder
		flows := benchIDS(5 * 3000)
		for i, rec := range benchRecords(3000) {
			for j := range 5 {
				e.ObserveIDS(&flows[5*i+j])
			}
			if rec.Source.IP == benchScanner && i < 600 {
				rec.Aegis.Class, rec.Aegis.Confidence = schemas.ClassAgentShell, 0.9
			}
			for _, h := range e.Evaluate(&rec) {
				fmt.Fprintf(&b, "%d %s %s\n", i, h.ID, h.Message)
			}
		}
		return b.String()
	}
	a, b := run(100000), run(100000)
	if a != b || a == "" {
		t.Fatal("two runs differ (or nothing fired)")
	}
	if !strings.Contains(a, "aegis-agent-campaign") {
		t.Error("the scanner in benchIDS never triggered the campaign rule")
	}
}

func TestHitFields(t *testing.T) {
	e := NewEngine(mustLoad(t, testConfig("", nil)), testConfig("", nil))
	hits := e.Evaluate(baseRecord(0))
	if len(hits) != 1 {
		t.Fatalf("hits = %v", hits)
	}
	h := hits[0]
	if h.ID != "aegis-llm-stream" || h.Name != "LLM streaming cadence" || h.Severity != "low" || h.Count != 0 ||
		!slices.Equal(h.Tags, []string{"llm", "ai-usage"}) || !slices.Equal(h.Techniques, []string{"T1071.001"}) {
		t.Errorf("hit = %+v", h)
	}
	// Appending to the shared slices must not write into the rule.
	_ = append(h.Tags, "x")
	if h2 := e.Evaluate(baseRecord(0))[0]; len(h2.Tags) != 2 {
		t.Errorf("tags changed: %v", h2.Tags)
	}
	other := baseRecord(0)
	other.Aegis.Class = schemas.ClassOther
	if hits := e.Evaluate(other); hits != nil {
		t.Errorf("other: %v", hits)
	}
	if s := e.Stats(); s.Evaluations != 3 || s.Hits["aegis-llm-stream"] != 2 || len(s.Hits) != 7 {
		t.Errorf("stats = %+v", s)
	}
}

func TestSeverityRank(t *testing.T) {
	for name, want := range map[string]int{"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4, "": -1, "High": -1} {
		if got := SeverityRank(name); got != want {
			t.Errorf("SeverityRank(%q) = %d, want %d", name, got, want)
		}
	}
}
