package rules

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// benchRecords builds n records shaped like enrich.Assemble's output: a
// realistic class mix in which most records hit no rule (other and
// human_interactive traffic, weak verdicts), from 2,000 source hosts, one
// second apart.
func benchRecords(n int) []schemas.Record {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	out := make([]schemas.Record, n)
	for i := range out {
		rec := &out[i]
		end := base.Add(time.Duration(i) * time.Second)
		dur := time.Duration(r.IntN(60_000)) * time.Millisecond
		rec.Timestamp = end.Add(-dur).Format(time.RFC3339Nano)
		rec.Event = schemas.Event{
			ID: fmt.Sprintf("%032x", i), Kind: "event", Category: []string{"network"}, Type: []string{"connection"},
			Dataset: "aegis.detection", Start: rec.Timestamp, End: end.Format(time.RFC3339Nano), Duration: int64(dur),
		}
		rec.Source = schemas.Endpoint{IP: fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(20), 1+r.IntN(100)), Port: uint16(30000 + r.IntN(30000)), Bytes: int64(r.IntN(1 << 20)), Packets: int64(r.IntN(1000))}
		if i%50 == 0 {
			rec.Source.IP = benchScanner // the scanner of benchIDS also has flows
		}
		rec.Destination = schemas.Endpoint{IP: fmt.Sprintf("203.0.113.%d", r.IntN(250)), Port: 443, Bytes: int64(r.IntN(1 << 22)), Packets: int64(r.IntN(3000))}
		rec.Network = schemas.Network{Transport: "tcp", IANANumber: "6", CommunityID: "1:abcdefghijklmnopqrstuvwxyz0=", Protocol: "ssl"}
		rec.Aegis.SchemaVersion = schemas.SchemaVersion
		rec.Aegis.Confidence = r.Float64()
		rec.Aegis.Route = schemas.RouteMatch{Name: "unknown", SNI: "none"}
		rec.Aegis.Cadence.DurationS = dur.Seconds()
		rec.Aegis.Cadence.Client.Bytes = int64(r.IntN(1 << 20))
		rec.Aegis.Cadence.Server.Bytes = int64(r.IntN(1 << 22))
		rec.Aegis.Cadence.Server.IAT = schemas.IATStats{N: 200, MeanMs: 40, MedianMs: 38, CV: 0.4, P90Ms: 70}
		switch x := r.IntN(100); {
		case x < 70:
			rec.Aegis.Class = schemas.ClassOther
		case x < 80:
			rec.Aegis.Class = schemas.ClassHumanInteractive
			rec.Destination.Port = 22
			rec.Network.Protocol = "ssh"
		case x < 90:
			rec.Aegis.Class = schemas.ClassLLMStream
			rec.TLS = &schemas.TLS{Client: schemas.TLSClient{ServerName: "api.openai.com"}}
			rec.Aegis.Route = schemas.RouteMatch{Name: "openai/gpt-4o", Provider: "openai", Score: 0.8, SNI: "listed"}
		case x < 95:
			rec.Aegis.Class = schemas.ClassAgentShell
			rec.Destination.Port = 22
			rec.Network.Protocol = "ssh"
		case x < 98:
			rec.Aegis.Class = schemas.ClassHandoff
			rec.Aegis.Handoff = &schemas.Handoff{Direction: "human_to_agent", At: rec.Event.End}
			if r.IntN(2) == 0 {
				rec.Aegis.Handoff.Direction = "agent_to_human"
			}
		default:
			rec.Aegis.Class = schemas.ClassAgentExfil
			rec.Aegis.Cadence.Client.Bytes = int64(r.IntN(40 << 20))
		}
		if rec.Aegis.Class.IsDetection() {
			rec.Event.Kind = "alert"
		}
	}
	return out
}

// benchScanner is the source that scans in benchIDS.
const benchScanner = "10.0.0.1"

// benchIDS builds IDS records: mostly answered connections, a few
// unanswered ones, and one scanner.
func benchIDS(n int) []schemas.IDSFlow {
	r := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	out := make([]schemas.IDSFlow, n)
	for i := range out {
		f := &out[i]
		f.Sensor = schemas.SensorZeek
		f.Proto = schemas.ProtoTCP
		f.Start = base + int64(i)*int64(time.Millisecond)
		f.End = f.Start + int64(r.IntN(5000))*int64(time.Millisecond)
		f.Orig = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(20)), byte(1 + r.IntN(100))}), uint16(30000+r.IntN(30000)))
		f.Resp = netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(r.IntN(250))}), 443)
		switch x := r.IntN(100); {
		case x < 90:
			f.ConnState, f.OrigBytes, f.RespBytes = "SF", 500, 9000
		case x < 97:
			f.ConnState = "S0"
		default:
			f.ConnState = "REJ"
			f.Orig = netip.AddrPortFrom(netip.MustParseAddr(benchScanner), 40000)
			f.Resp = netip.AddrPortFrom(f.Resp.Addr(), uint16(r.IntN(1024)))
		}
	}
	return out
}

func benchEngine(b *testing.B) *Engine {
	b.Helper()
	cfg := DefaultConfig()
	cfg.Dir = ""
	cfg.Lists = map[string][]string{"llm_clients": {"10.0.0.0/16", "10.1.0.0/16"}}
	set, err := Load(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return NewEngine(set, cfg)
}

// BenchmarkEvaluate is one record through the seven built-in rules, over
// the realistic mix of benchRecords (about one record in six hits).
func BenchmarkEvaluate(b *testing.B) {
	e := benchEngine(b)
	recs := benchRecords(1 << 14)
	hits := 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		hits += len(e.Evaluate(&recs[i&(len(recs)-1)]))
		i++
	}
	b.ReportMetric(float64(hits)/float64(i), "hits/op")
}

// BenchmarkEvaluateNoHit is the common case: a record no rule fires on.
func BenchmarkEvaluateNoHit(b *testing.B) {
	e := benchEngine(b)
	var recs []schemas.Record
	for _, rec := range benchRecords(1 << 14) {
		if len(e.Evaluate(&rec)) == 0 {
			recs = append(recs, rec)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if len(e.Evaluate(&recs[i%len(recs)])) != 0 {
			b.Fatal("hit")
		}
		i++
	}
}

// BenchmarkEvaluateHit is a record that fires one rule (message rendered).
func BenchmarkEvaluateHit(b *testing.B) {
	e := benchEngine(b)
	rec := benchRecords(1)[0]
	rec.Aegis.Class = schemas.ClassAgentShell
	rec.Aegis.Confidence = 0.9
	b.ReportAllocs()
	for b.Loop() {
		if len(e.Evaluate(&rec)) != 1 {
			b.Fatal("no hit")
		}
	}
}

// BenchmarkEvaluateParallel is BenchmarkEvaluate on every core at once
// (shard locks under contention).
func BenchmarkEvaluateParallel(b *testing.B) {
	e := benchEngine(b)
	recs := benchRecords(1 << 14)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(recs))
		for pb.Next() {
			e.Evaluate(&recs[i&(len(recs)-1)])
			i++
		}
	})
}

// BenchmarkObserveIDS is one IDS record through the recon counters (90%
// answered, 10% probes).
func BenchmarkObserveIDS(b *testing.B) {
	e := benchEngine(b)
	flows := benchIDS(1 << 14)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.ObserveIDS(&flows[i&(len(flows)-1)])
		i++
	}
}
