package report

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/aegis-nsm/aegis/cadence"
	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/enrich"
	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/ingest/zeek"
	"github.com/aegis-nsm/aegis/rules"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/communityid"
)

// detection is one analysed flow the report shows.
type detection struct {
	rec    schemas.Record
	detail Detail
}

// synthDir is the project's bundled labelled capture.
var synthDir = filepath.Join("..", "..", "testdata", "synth")

// analyseCapture runs the offline analysis in-process, as 'aegis analyze'
// does (flow table, cadence analysis, join with the Zeek logs, record
// assembly), plus the built-in rules, and returns the detections with
// their packet detail and route profile. It skips when the capture is
// absent.
func analyseCapture(t testing.TB) []detection {
	t.Helper()
	pcap := filepath.Join(synthDir, "traffic.pcap")
	if _, err := os.Stat(pcap); err != nil {
		t.Skipf("bundled capture absent: %v", err)
	}
	profiles, err := cadence.LoadProfiles("")
	if err != nil {
		t.Fatal(err)
	}
	an, err := cadence.NewAnalyzer(cadence.DefaultConfig(), profiles)
	if err != nil {
		t.Fatal(err)
	}
	idsFlows, _, err := zeek.ReadFiles(filepath.Join(synthDir, "conn.log"), filepath.Join(synthDir, "ssl.log"))
	if err != nil {
		t.Fatal(err)
	}
	ix := enrich.NewIndex(idsFlows)
	set, err := rules.Load(rules.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ruleEngine := rules.NewEngine(set, rules.DefaultConfig())
	hasher := communityid.Hasher{}
	ordinals := map[flowtable.Key]int{}

	var out []detection
	finish := func(f *flowtable.Flow) {
		ord := ordinals[f.Key]
		ordinals[f.Key] = ord + 1
		cid := hasher.ID(f.OrigTuple)
		i, method := ix.Match(enrich.Query{Tuple: f.OrigTuple, CommunityID: cid, First: f.First, Last: f.Last, Ordinal: ord})
		var ids *schemas.IDSFlow
		fctx := cadence.FlowContext{}
		if i >= 0 {
			ids = ix.Flow(i)
			fctx.SNI, fctx.Service = ids.SNI, ids.Service
		}
		res := an.Analyze(f, fctx)
		if !res.Class.IsDetection() {
			return
		}
		sum := enrich.FlowSummary{
			Tuple: f.OrigTuple, First: f.First, Last: f.Last,
			OrigPackets: f.Orig.Packets, RespPackets: f.Resp.Packets,
			OrigIPBytes: f.Orig.IPBytes, RespIPBytes: f.Resp.IPBytes,
			CommunityID: cid,
			Capture: schemas.CaptureInfo{Packets: f.Orig.Packets + f.Resp.Packets, Retransmits: f.Orig.Retransmits + f.Resp.Retransmits,
				DetailTrimmed: f.Orig.PayloadPackets > int64(len(f.Orig.Times)) || f.Resp.PayloadPackets > int64(len(f.Resp.Times)),
				Evicted:       f.Evicted},
		}
		rec := enrich.Assemble(sum, enrich.Verdict{Cadence: res.Features, Class: res.Class, Confidence: res.Confidence,
			Reasons: res.Reasons, Handoff: res.Handoff, Route: res.Route}, ids, method)
		rec.Aegis.Rules = ruleEngine.Evaluate(&rec)
		d := DetailFromFlow(f, 0)
		d.Expected, _ = ExpectedFor(profiles, rec.Aegis.Route)
		out = append(out, detection{rec: rec, detail: d})
	}
	table, err := flowtable.New(flowtable.DefaultConfig(), finish)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.Open(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	buf := make([]schemas.Packet, 512)
	for {
		n, err := src.ReadBatch(buf)
		for i := range n {
			table.Add(&buf[i])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	table.Flush()
	if len(out) == 0 {
		t.Fatal("the bundled capture gave no detections")
	}
	return out
}

// TestRealCapture renders the bundled capture's detections and checks the
// page against what the analysis found.
func TestRealCapture(t *testing.T) {
	dets := analyseCapture(t)
	r := New("testdata/synth", Options{})
	classes := map[schemas.Class]int{}
	matched := 0
	for i := range dets {
		r.Add(&dets[i].rec, dets[i].detail)
		classes[dets[i].rec.Aegis.Class]++
		if dets[i].detail.Expected.Matched {
			matched++
		}
	}
	page := render(t, r)
	t.Logf("%d detections %v, %d with a matched route profile; page %d bytes (%.1f KB per detection)",
		len(dets), classes, matched, len(page), float64(len(page))/float64(len(dets))/1024)
	if matched == 0 {
		t.Error("no detection matched a route profile: expected curves untested")
	}
	for _, c := range []schemas.Class{schemas.ClassLLMStream, schemas.ClassAgentShell} {
		if classes[c] == 0 {
			t.Errorf("no %s detection in the bundled capture", c)
		}
	}
}
