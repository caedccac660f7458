package correlate

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/enrich/sink/kafka"
)

// benchRecord is one record as it sits on the detection topic.
type benchRecord struct {
	host, sensor string
	value        []byte
}

// benchTraffic is the detection topic of a busy site: hosts over six
// hours; a quarter run campaigns (recon, agent shell, LLM stream from three
// sensors), the rest make noise (LLM streams, shells without recon, recon
// alone), in publishing order.
func benchTraffic(b testing.TB, hosts int) []benchRecord {
	st := noisyStream(b, hosts, 3)
	out := make([]benchRecord, len(st))
	for i, s := range st {
		out[i] = benchRecord{host: s.in.Source, sensor: s.in.Sensor, value: s.in.Raw}
	}
	return out
}

// cpuTime is the CPU time (user and system) the process has used: on a
// shared machine, records per CPU second say more than records per
// wall-clock second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCorrelateCore measures the correlation core without Kafka:
// decode each record, track it, and build and encode every campaign
// version it produces.
func BenchmarkCorrelateCore(b *testing.B) {
	r := testRules(b)
	recs := benchTraffic(b, 2000)
	b.ReportAllocs()
	n, updates := 0, 0
	cpu0 := cpuTime()
	for b.Loop() {
		tr := NewTracker(r, DefaultConfig().Campaigns, false)
		for _, rec := range recs {
			in, err := DecodeInput(rec.value, rec.sensor)
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range tr.Add(in) {
				if _, err := json.Marshal(c.Record(r)); err != nil {
					b.Fatal(err)
				}
				updates++
			}
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(n)/(cpuTime()-cpu0).Seconds(), "records/cpu-s")
	b.ReportMetric(float64(updates)/float64(n), "campaigns/record")
}

// countingSink acknowledges every message at once.
type countingSink struct{ n atomic.Int64 }

func (s *countingSink) Name() string { return "count" }
func (s *countingSink) Write(_ context.Context, m sink.Message) error {
	s.n.Add(1)
	m.Finish(nil)
	return nil
}
func (s *countingSink) Flush(context.Context) error { return nil }
func (s *countingSink) Close() error                { return nil }

// benchKafkaRecords is the size of the detection topic of
// BenchmarkCorrelateKafka.
const benchKafkaRecords = 60_000

// BenchmarkCorrelateKafka measures one instance end to end against an
// in-process kfake broker: the detection topic (6 partitions) holds 60,000
// records of benchTraffic (12,000 hosts); the instance joins
// its group, reads every partition, correlates, publishes the campaigns
// to the campaign topic through the Kafka sink (acks=all) and commits.
// The clock runs from Run to the last commit.
func BenchmarkCorrelateKafka(b *testing.B) {
	recs := benchTraffic(b, benchKafkaRecords/5)
	recs = recs[:min(len(recs), benchKafkaRecords)]
	b.ReportAllocs()
	total := 0
	var elapsed, cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		c := &cluster{topics: map[sink.Kind]string{}}
		var names []string
		for _, k := range sink.Kinds {
			c.topics[k] = "aegis-bench." + string(k)
			names = append(names, c.topics[k])
		}
		f, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, names...), kfake.GroupMinSessionTimeout(100*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		c.fake, c.addrs = f, f.ListenAddrs()
		prod := c.client(b, kgo.DefaultProduceTopic(c.topics[sink.KindDetection]), kgo.ProducerLinger(5*time.Millisecond),
			kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
		ctx := context.Background()
		for i := 0; i < len(recs); i += 5000 {
			var batch []*kgo.Record
			for _, r := range recs[i:min(i+5000, len(recs))] {
				batch = append(batch, &kgo.Record{Key: []byte(r.host), Value: r.value, Headers: []kgo.RecordHeader{{Key: kafka.HeaderSensor, Value: []byte(r.sensor)}}})
			}
			if err := prod.ProduceSync(ctx, batch...).FirstErr(); err != nil {
				b.Fatal(err)
			}
		}
		out, err := kafka.New(c.sinkConfig("correlate-bench"), quietLogger(b))
		if err != nil {
			b.Fatal(err)
		}
		cfg := c.config()
		cfg.Input.GroupID = "bench"
		cfg.Input.CommitInterval = 100 * time.Millisecond
		svc, err := New(cfg, testRules(b), out, quietLogger(b))
		if err != nil {
			b.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()
		start, cpuStart := time.Now(), cpuTime()
		go func() { done <- svc.Run(rctx) }()
		deadline := time.Now().Add(5 * time.Minute)
		for {
			st := svc.Stats()
			committed := int64(0)
			for _, p := range st.Partitions {
				committed += max(p.Committed, 0)
			}
			if int(committed) == len(recs) && len(st.Partitions) == testPartitions {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("not done after 5 minutes: committed %d of %d; %+v", committed, len(recs), st)
			}
			time.Sleep(5 * time.Millisecond)
		}
		elapsed += time.Since(start)
		cpu += cpuTime() - cpuStart
		b.StopTimer()
		cancel()
		<-done
		out.Close()
		f.Close()
		total += len(recs)
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(total)/cpu.Seconds(), "records/cpu-s") // the in-process broker's CPU included
}
