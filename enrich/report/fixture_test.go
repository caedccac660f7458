package report

import (
	"math"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// rng is a tiny deterministic generator (xorshift64*), so fixtures do not
// depend on math/rand's algorithms.
type rng uint64

func (r *rng) next() uint64 {
	x := uint64(*r)
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*r = rng(x)
	return x * 2685821657736338717
}

// float returns a value in (0, 1).
func (r *rng) float() float64 { return (float64(r.next()>>11) + 0.5) / (1 << 53) }

// normal is a standard normal draw (Box-Muller).
func (r *rng) normal() float64 {
	return math.Sqrt(-2*math.Log(r.float())) * math.Cos(2*math.Pi*r.float())
}

// fixtureT0 is the fixtures' packet clock origin: 2026-03-02 09:00:00 UTC.
var fixtureT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).UnixNano()

func ts(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// streamDetail is one request then a token stream with log-normal flush
// gaps (mu, sigma of ln ms), each flush split into 1-2 segments.
func streamDetail(seed uint64, start int64, flushes int, mu, sigma float64) Detail {
	r := rng(seed)
	d := Detail{First: start}
	t := start + 2_000_000
	d.Client.Times = append(d.Client.Times, t)
	d.Client.Sizes = append(d.Client.Sizes, 1380)
	t += 600_000
	d.Client.Times = append(d.Client.Times, t)
	d.Client.Sizes = append(d.Client.Sizes, 420)
	t += int64(350e6) // time to first token
	for range flushes {
		size := uint32(90 + r.next()%260)
		d.Server.Times = append(d.Server.Times, t)
		d.Server.Sizes = append(d.Server.Sizes, size)
		if r.next()%3 == 0 {
			d.Server.Times = append(d.Server.Times, t+80_000)
			d.Server.Sizes = append(d.Server.Sizes, 31)
		}
		gap := math.Exp(mu + sigma*r.normal())
		t += int64(gap * 1e6)
	}
	d.Last = t + 40_000_000
	d.Client.Times = append(d.Client.Times, t+30_000_000)
	d.Client.Sizes = append(d.Client.Sizes, 24)
	return d
}

// shellDetail is an interactive session: keystrokes, then command lines
// after model-latency pauses, each answered by output.
func shellDetail(seed uint64, start int64, keys, commands int) Detail {
	r := rng(seed)
	d := Detail{First: start}
	t := start + 5_000_000
	add := func(p *Packets, t int64, s uint32) {
		p.Times = append(p.Times, t)
		p.Sizes = append(p.Sizes, s)
	}
	add(&d.Server, t, 41) // banner
	t += 900_000_000
	for range keys {
		add(&d.Client, t, 36)
		add(&d.Server, t+12_000_000, 36)
		t += int64((120 + r.float()*230) * 1e6)
	}
	for range commands {
		t += int64((900 + r.float()*4000) * 1e6)
		add(&d.Client, t, uint32(60+r.next()%180))
		out := 1 + int(r.next()%6)
		u := t + 20_000_000
		for range out {
			add(&d.Server, u, uint32(100+r.next()%1300))
			u += int64(r.float() * 3e6)
		}
		t = u
	}
	d.Last = t + 100_000_000
	return d
}

// uploadDetail is a command phase then a machine-regular upload.
func uploadDetail(start int64, chunks int) Detail {
	d := shellDetail(7, start, 0, 4)
	t := d.Last
	for i := range chunks {
		d.Client.Times = append(d.Client.Times, t)
		d.Client.Sizes = append(d.Client.Sizes, 1448)
		if i%8 == 7 {
			d.Server.Times = append(d.Server.Times, t+300_000)
			d.Server.Sizes = append(d.Server.Sizes, 12)
		}
		t += 2_500_000
	}
	d.Last = t + 50_000_000
	return d
}

// fixture is a small fixed input: an LLM stream with IDS context and a
// matched route, an agent shell with rule hits, a handoff, and an agent
// exfiltration without an IDS record. Add order is not flow-start order.
func fixture() []struct {
	rec    schemas.Record
	detail Detail
} {
	s1 := fixtureT0 + 1_250_000_000
	llm := schemas.Record{
		Timestamp: ts(s1),
		Event: schemas.Event{ID: "4f1d2a9c0b7e6d5a4f1d2a9c0b7e6d5a", Kind: "alert", Category: []string{"network"}, Type: []string{"connection"},
			Dataset: "aegis.detection", Start: ts(s1), End: ts(s1 + 4_100_000_000), Duration: 4_100_000_000, Severity: 21},
		Source:      schemas.Endpoint{IP: "10.20.0.62", Port: 63125, Bytes: 5120, Packets: 90},
		Destination: schemas.Endpoint{IP: "52.94.133.131", Port: 443, Bytes: 48211, Packets: 160},
		Network:     schemas.Network{Transport: "tcp", IANANumber: "6", CommunityID: "1:Xk0W8w3d3kCwq3y8ZQyv1Uq0b5U=", Protocol: "ssl", Bytes: 53331, Packets: 250},
		TLS:         &schemas.TLS{Client: schemas.TLSClient{ServerName: "api.anthropic.com"}},
		Aegis: schemas.AegisSection{
			SchemaVersion: schemas.SchemaVersion, FlowKey: "tcp 10.20.0.62:63125 52.94.133.131:443",
			IDS: &schemas.IDSInfo{Sensor: "zeek", UID: "ClNdVOi6hz5dh0mDbN", Service: "ssl", ConnState: "SF", History: "ShADadFf",
				OrigPkts: 90, RespPkts: 160, OrigBytes: 1824, RespBytes: 41250, JoinedBy: "community_id", Source: "conn.log:42"},
			Class: schemas.ClassLLMStream, Confidence: 0.93, Severity: "low",
			Reasons: []string{
				"server streamed 120 flushes over 3.4 s after a 1.8 KB request (median flush gap 118 ms, p25-p75 86-160 ms)",
				"cadence fits route anthropic/claude-3.5-haiku (score 0.81; next google/gemini-2.0-flash 0.22, log-likelihood ratio 14.2)",
				`server name "api.anthropic.com" is listed for anthropic/claude-3.5-haiku (corroborates)`,
			},
			Route: schemas.RouteMatch{Name: "anthropic/claude-3.5-haiku", Provider: "anthropic", Score: 0.81, SNI: "listed",
				Candidates: []schemas.RouteCandidate{{Name: "anthropic/claude-3.5-haiku", Score: 0.81}, {Name: "google/gemini-2.0-flash", Score: 0.22}, {Name: "azure-openai/gpt-4o", Score: 0.05}}},
			Cadence: schemas.Cadence{DurationS: 4.1,
				Client: schemas.DirectionFeatures{Packets: 3, Bytes: 1824, SizeMean: 608, SizeMedian: 420},
				Server: schemas.DirectionFeatures{Packets: 160, Bytes: 41250, Flushes: 120, FlushesPerS: 35.3, SizeMean: 257, SizeMedian: 231, SubMsShare: 0.25,
					IAT:      schemas.IATStats{N: 159, MeanMs: 21.4, StdMs: 40.2, CV: 1.88, MedianMs: 0.08, P25Ms: 0.08, P75Ms: 101, P10Ms: 0.08, P90Ms: 150, P99Ms: 240, MaxMs: 260},
					FlushIAT: schemas.IATStats{N: 119, MeanMs: 124, StdMs: 55, CV: 0.44, MedianMs: 118, P25Ms: 86, P75Ms: 160}},
				Exchange: schemas.ExchangeFeatures{Turns: 2, TTFBMs: 350, ServerRunS: 3.4, ServerRunPackets: 160, ServerRunFlushes: 120, RequestBytes: 1800, BytesRatio: 22.6},
				Session:  schemas.SessionFeatures{CommandSide: "none"}},
			Capture: schemas.CaptureInfo{Packets: 250},
		},
	}
	s2 := fixtureT0 + 3_000_000_000
	shell := schemas.Record{
		Timestamp: ts(s2),
		Event: schemas.Event{ID: "9a8b7c6d5e4f3a2b1c0d9a8b7c6d5e4f", Kind: "alert", Category: []string{"network"}, Type: []string{"connection"},
			Dataset: "aegis.detection", Start: ts(s2), End: ts(s2 + 26_000_000_000), Duration: 26_000_000_000, Severity: 73},
		Source:      schemas.Endpoint{IP: "2001:db8::17", Port: 53714, Bytes: 9000, Packets: 80},
		Destination: schemas.Endpoint{IP: "2001:db8:0:30::35", Port: 22, Bytes: 31000, Packets: 90},
		Network:     schemas.Network{Transport: "tcp", IANANumber: "6", CommunityID: "1:Q9mO2N2b3o2x1cK7b9I3yF6tPzA=", Protocol: "ssh", Bytes: 40000, Packets: 170},
		Threat:      &schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{ID: []string{"T1059.004", "T1021.004"}, Name: []string{"Unix Shell", "SSH"}}},
		Aegis: schemas.AegisSection{
			SchemaVersion: schemas.SchemaVersion, FlowKey: "tcp [2001:db8::17]:53714 [2001:db8:0:30::35]:22",
			IDS:   &schemas.IDSInfo{Sensor: "suricata", FlowID: 1234567890123, Service: "ssh", OrigPkts: 80, RespPkts: 90, JoinedBy: "5tuple_time", Source: "eve.json:7"},
			Class: schemas.ClassAgentShell, Confidence: 0.88, Severity: "high",
			Rules: []schemas.RuleHit{
				{ID: "AEG-002", Name: "agent_shell_after_llm", Severity: "high", Message: "shell commands follow LLM streams of 10.20.0.62 within 400 ms (3 times)", Techniques: []string{"T1059.004"}, Tags: []string{"agent", "coupling"}},
				{ID: "AEG-005", Name: "agent_on_ssh", Severity: "medium", Message: "agent-paced commands on SSH", Count: 3},
			},
			Reasons: []string{
				"6 command lines after pauses of 0.9-4.9 s (median 2.7 s, CV 0.45), 100% answered: model latency, not typing",
				"no keystroke bursts: whole lines in single writes",
			},
			Route: schemas.RouteMatch{Name: "unknown", Score: 0, SNI: "none"},
			Cadence: schemas.Cadence{DurationS: 26,
				Client:  schemas.DirectionFeatures{Packets: 6, Bytes: 900},
				Server:  schemas.DirectionFeatures{Packets: 20, Bytes: 14000},
				Session: schemas.SessionFeatures{CommandSide: "client", Commands: 6, AnsweredShare: 1, PauseMedianMs: 2700, PauseCV: 0.45, FastCommandShare: 0.5}},
			Capture: schemas.CaptureInfo{Packets: 170, Retransmits: 2},
		},
	}
	s3 := fixtureT0 + 40_000_000_000
	handoff := shell
	handoff.Timestamp = ts(s3)
	handoff.Event.ID = "0c1d2e3f405162738495a6b7c8d9eaf0"
	handoff.Event.Start, handoff.Event.End = ts(s3), ts(s3+30_000_000_000)
	handoff.Event.Duration = 30_000_000_000
	handoff.Source = schemas.Endpoint{IP: "10.20.8.32", Port: 40022, Packets: 120}
	handoff.Destination = schemas.Endpoint{IP: "10.30.1.35", Port: 22, Packets: 130}
	handoff.Aegis.FlowKey = "tcp 10.20.8.32:40022 10.30.1.35:22"
	handoff.Aegis.Class = schemas.ClassHandoff
	handoff.Aegis.Rules = nil
	handoff.Aegis.IDS = nil
	handoff.Aegis.Handoff = &schemas.Handoff{Direction: "human_to_agent", At: ts(s3 + 5_600_000_000), AtOffsetS: 5.6}
	handoff.Aegis.Reasons = []string{"the client typed 14 keystrokes at human rhythm, then sent 5 command lines after model-latency pauses"}
	s4 := fixtureT0 + 90_000_000_000
	exfil := schemas.Record{
		Timestamp: ts(s4),
		Event: schemas.Event{ID: "77aa66bb55cc44dd33ee22ff11009988", Kind: "alert", Dataset: "aegis.detection", Start: ts(s4), End: ts(s4 + 20_000_000_000),
			Duration: 20_000_000_000, Severity: 99},
		Source:      schemas.Endpoint{IP: "10.20.8.32", Port: 40100},
		Destination: schemas.Endpoint{IP: "198.51.100.7", Port: 8443},
		Network:     schemas.Network{Transport: "tcp", IANANumber: "6"},
		Aegis: schemas.AegisSection{
			SchemaVersion: schemas.SchemaVersion, FlowKey: "tcp 10.20.8.32:40100 198.51.100.7:8443",
			Class: schemas.ClassAgentExfil, Confidence: 0.71, Severity: "critical",
			Reasons: []string{"client uploaded 289.6 KB in 200 chunks of 1448 B (size CV 0.00, gap CV 0.02) after 4 agent-paced commands"},
			Route:   schemas.RouteMatch{Name: "unknown", SNI: "none"},
			Cadence: schemas.Cadence{Session: schemas.SessionFeatures{CommandSide: "client", Commands: 4, UploadBytes: 289600, UploadChunks: 200, UploadGapCV: 0.02, UploadOffsetS: 14.2},
				Exchange: schemas.ExchangeFeatures{BytesRatio: 0.03}},
			Capture: schemas.CaptureInfo{Packets: 260, DetailTrimmed: true},
		},
	}
	llmD := streamDetail(1, s1, 120, math.Log(110), 0.35)
	llmD.Expected = Expected{Route: "anthropic/claude-3.5-haiku", Provider: "anthropic", Matched: true, LogMu: math.Log(116) - 0.32, LogSigma: 0.8,
		QuantumMs: 45, FlushBytesMin: 90, FlushBytesMax: 800, TTFTMaxMs: 2500, Source: "fixture"}
	exD := uploadDetail(s4, 200)
	exD.Client.Total = int64(len(exD.Client.Times)) + 150
	return []struct {
		rec    schemas.Record
		detail Detail
	}{
		{exfil, exD},
		{shell, shellDetail(2, s2, 0, 6)},
		{llm, llmD},
		{handoff, shellDetail(3, s3, 14, 5)},
	}
}
