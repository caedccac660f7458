package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/twmb/franz-go/pkg/kfake"
)

// benchValues returns n distinct record values derived from the replayed
// run: "record" keeps whole records (median 3.3 KB), "compact" drops the
// per-direction and session timing blocks (aegis.cadence.client, .server,
// .session), leaving about 1.5 KB of realistic JSON.
func benchValues(b *testing.B, kind string, n int) ([][]byte, []string) {
	_, recs := replayRecords(b)
	synth := synthRecords(b, recs, n, 256, "bench")
	vals := make([][]byte, n)
	keys := make([]string, n)
	for i, r := range synth {
		keys[i] = r.rec.Source.IP
		if kind == "record" {
			vals[i] = r.value
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(r.value, &m); err != nil {
			b.Fatal(err)
		}
		cad := m["aegis"].(map[string]any)["cadence"].(map[string]any)
		delete(cad, "client")
		delete(cad, "server")
		delete(cad, "session")
		v, err := json.Marshal(m)
		if err != nil {
			b.Fatal(err)
		}
		vals[i] = v
	}
	return vals, keys
}

// BenchmarkPublish measures records per second published into an
// in-process kfake broker (6 partitions, acks=all, default batching) by
// one writer, every record acknowledged (Done) before the clock stops.
// store=mem is kfake keeping the records in memory (its copying is part of
// the cost, in the same process); store=blackhole has kfake acknowledge
// without storing, which leaves the client side: the sink, kafka-go's
// encoding and the network stack.
func BenchmarkPublish(b *testing.B) {
	cases := []struct {
		value, codec string
		blackhole    bool
	}{
		{"compact", CompressionNone, false},
		{"compact", CompressionNone, true},
		{"compact", CompressionLz4, false},
		{"compact", CompressionZstd, false},
		{"record", CompressionNone, false},
	}
	for _, c := range cases {
		vals, keys := benchValues(b, c.value, 4096)
		avg := 0
		for _, v := range vals {
			avg += len(v)
		}
		avg /= len(vals)
		store, opts := "mem", []kfake.Opt(nil)
		if c.blackhole {
			store, opts = "blackhole", append(opts, kfake.BlackholeProduce())
		}
		b.Run(fmt.Sprintf("value=%s-%dB/codec=%s/store=%s", c.value, avg, c.codec, store), func(b *testing.B) {
			k := newFake(b, 6, opts...)
			cfg := k.config()
			cfg.BatchTimeout = DefaultBatchTimeout
			cfg.Compression = c.codec
			s, err := New(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var acked, failed atomic.Int64
			done := func(err error) {
				if err != nil {
					failed.Add(1)
					return
				}
				acked.Add(1)
			}
			ctx := context.Background()
			// Warm up: metadata, connections.
			if err := s.Write(ctx, sink.Message{Kind: sink.KindDetection, Value: vals[0], SourceIP: keys[0]}); err != nil {
				b.Fatal(err)
			}
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(avg))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				j := i % len(vals)
				if err := s.Write(ctx, sink.Message{Kind: sink.KindDetection, Value: vals[j], SourceIP: keys[j], Done: done}); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if acked.Load() != int64(b.N) || failed.Load() != 0 {
				b.Fatalf("acked %d failed %d of %d", acked.Load(), failed.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
			st := s.Stats()
			b.ReportMetric(float64(st.Latency.Mean().Microseconds())/1000, "ms/ack-latency")
			b.ReportMetric(float64(st.Sent)/float64(max(st.Requests, 1)), "records/request")
		})
	}
}
