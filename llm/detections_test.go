package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas"
)

// synthDetections makes n detection records from 16 hosts over a few hours
// of record time, in publication order, cycling through the classes.
func synthDetections(n int) []*schemas.Record {
	classes := []struct {
		c   schemas.Class
		sev string
	}{{schemas.ClassLLMStream, "low"}, {schemas.ClassAgentShell, "high"}, {schemas.ClassHandoff, "high"}, {schemas.ClassAgentExfil, "critical"}}
	out := make([]*schemas.Record, n)
	for i := range out {
		k := classes[i%len(classes)]
		at := time.Duration(i) * 7 * time.Second
		r := record(fmt.Sprintf("%032x", 0xd0000+i), fmt.Sprintf("10.3.0.%d", i%16+1), k.c, k.sev, at, at+3*time.Second,
			schemas.RuleHit{ID: "rule-" + string(k.c), Name: "r", Severity: k.sev, Techniques: []string{"T1059.004"},
				Message: fmt.Sprintf("detection %d from host with SNI evil-%d.example", i, i)})
		r.TLS = &schemas.TLS{Client: schemas.TLSClient{ServerName: fmt.Sprintf("evil-%d.example", i)}}
		out[i] = r
	}
	return out
}

// detectionPath is what the alert pipeline does per record, reduced to its
// essentials: encode, hand to the detection sink, then to the LLM stage
// (nil: no stage at all).
func detectionPath(recs []*schemas.Record, s *Stage, sinkOut *[][]byte) {
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			panic(err)
		}
		*sinkOut = append(*sinkOut, b)
		if s != nil {
			s.Submit(r)
		}
	}
}

// TestHangingLLMLeavesDetectionsUnchanged: with the stage enabled and the
// model hanging, the detections published (and the records handed to the
// stage) are byte for byte those of a run with the stage disabled and of a
// run without the stage; the verdicts that do come out say why the model
// is missing.
func TestHangingLLMLeavesDetectionsUnchanged(t *testing.T) {
	const n = 600
	var without, disabled, hanging [][]byte
	detectionPath(synthDetections(n), nil, &without)

	recs := synthDetections(n)
	colD := newCollector(t)
	sd, _ := startStage(t, DefaultConfig(), colD.publish)
	detectionPath(recs, sd, &disabled)
	flush(t, sd)

	f := newFakeOllama(t)
	f.setScript(f.hangs())
	cfg := testConfig(f.srv.URL)
	cfg.Timeout, cfg.Retries, cfg.BreakerFailures, cfg.QueueSize, cfg.Concurrency = 50*time.Millisecond, 0, 2, 8, 2
	colH := newCollector(t)
	sh, _ := startStage(t, cfg, colH.publish)
	recsH := synthDetections(n)
	detectionPath(recsH, sh, &hanging)

	if len(without) != n || len(disabled) != n || len(hanging) != n {
		t.Fatalf("published %d / %d / %d detections, want %d", len(without), len(disabled), len(hanging), n)
	}
	for i := range without {
		if !bytes.Equal(without[i], disabled[i]) || !bytes.Equal(without[i], hanging[i]) {
			t.Fatalf("detection %d differs between runs:\nwithout:  %s\ndisabled: %s\nhanging:  %s", i, without[i], disabled[i], hanging[i])
		}
	}
	flush(t, sh)
	// The records handed to the stage are unchanged after it processed them.
	var after [][]byte
	detectionPath(recsH, nil, &after)
	for i := range after {
		if !bytes.Equal(after[i], hanging[i]) {
			t.Fatalf("the stage changed detection %d", i)
		}
	}
	for _, v := range colD.verdicts() {
		if v.Aegis.Outcome != schemas.OutcomeDisabled {
			t.Errorf("disabled stage verdict outcome %s", v.Aegis.Outcome)
		}
	}
	st := sh.Stats()
	for _, v := range colH.verdicts() {
		switch v.Aegis.Outcome {
		case schemas.OutcomeTimeout, schemas.OutcomeBreakerOpen:
		default:
			t.Errorf("hanging model verdict outcome %s (%s)", v.Aegis.Outcome, v.Aegis.Reason)
		}
		if len(v.Aegis.Techniques) == 0 || len(v.Aegis.Chain) == 0 {
			t.Errorf("verdict without the deterministic mapping: %+v", v.Aegis)
		}
	}
	if int64(len(colH.verdicts()))+st.QueueDropped != st.Windows-st.BelowThreshold {
		t.Errorf("%d verdicts + %d dropped != %d triaged windows", len(colH.verdicts()), st.QueueDropped, st.Windows-st.BelowThreshold)
	}
	if st.Outcomes[schemas.OutcomeTimeout] < 2 || st.BreakerOpens < 1 {
		t.Errorf("stats %+v", st)
	}
}

// benchmarkDetections measures the detection path's throughput with the
// given stage (nil: no stage).
func benchmarkDetections(b *testing.B, s *Stage) {
	recs := synthDetections(4096)
	sinkOut := make([][]byte, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if i > 0 && i%len(recs) == 0 {
			b.StopTimer()
			nextCycle(recs, i/len(recs))
			b.StartTimer()
		}
		r := recs[i%len(recs)]
		i++
		v, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		if len(sinkOut) == cap(sinkOut) {
			sinkOut = sinkOut[:0]
		}
		sinkOut = append(sinkOut, v)
		if s != nil {
			s.Submit(r)
		}
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "detections/s")
}

// nextCycle moves synthDetections' records on in record time for the
// cycle-th pass, as a live sensor's would be (a replay of old times would
// close every window at once).
func nextCycle(recs []*schemas.Record, cycle int) {
	shift := time.Duration(cycle*len(recs)) * 7 * time.Second
	for j, r := range recs {
		at := time.Duration(j)*7*time.Second + shift
		r.Timestamp, r.Event.Start, r.Event.End = ts(at), ts(at), ts(at+3*time.Second)
	}
}

func countingPublish() (func(sink.Message), *atomic.Int64) {
	var n atomic.Int64
	return func(sink.Message) { n.Add(1) }, &n
}

// BenchmarkDetectionsWithoutLLMStage is the baseline: no stage at all.
func BenchmarkDetectionsWithoutLLMStage(b *testing.B) {
	benchmarkDetections(b, nil)
}

// BenchmarkDetectionsWithLLMDisabled: the stage runs with the model off
// (deterministic verdicts only).
func BenchmarkDetectionsWithLLMDisabled(b *testing.B) {
	pub, _ := countingPublish()
	s, _ := startStage(b, DefaultConfig(), pub)
	benchmarkDetections(b, s)
}

// BenchmarkDetectionsWithHangingLLM: the stage is on and the model never
// answers (requests hang until a one-hour timeout): workers stay blocked,
// the queue overflows, and the detection path must not notice.
func BenchmarkDetectionsWithHangingLLM(b *testing.B) {
	f := newFakeOllama(b)
	f.setScript(f.hangs())
	cfg := testConfig(f.srv.URL)
	cfg.Timeout = time.Hour
	pub, _ := countingPublish()
	s, _ := startStage(b, cfg, pub)
	benchmarkDetections(b, s)
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(st.QueueDropped), "windows-dropped")
}

// BenchmarkSubmit measures Submit alone (stage running, model off).
func BenchmarkSubmit(b *testing.B) {
	pub, _ := countingPublish()
	s, _ := startStage(b, DefaultConfig(), pub)
	recs := synthDetections(1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i > 0 && i%len(recs) == 0 {
			b.StopTimer()
			nextCycle(recs, i/len(recs))
			b.StartTimer()
		}
		s.Submit(recs[i%len(recs)])
		i++
	}
}
