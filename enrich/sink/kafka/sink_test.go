package kafka

import (
	"context"
	"errors"
	"hash/fnv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// replaySet is the real analyze output (byte for byte) followed by n
// records derived from it.
func replaySet(t *testing.T, n int) []testRecord {
	lines, recs := replayRecords(t)
	sent := make([]testRecord, 0, len(lines)+n)
	for i := range lines {
		sent = append(sent, testRecord{value: lines[i], rec: recs[i]})
	}
	return append(sent, synthRecords(t, recs, n, 97, t.Name())...)
}

// TestReplayEveryRecordOnceKeyedOrdered publishes a replayed run (the real
// 'aegis analyze' output plus derived records) and reads it back with
// another client: every record arrives exactly once, unchanged, schema
// valid, keyed by source IP (or Community ID), on the murmur2 partition of
// its key, in write order per key, with the Aegis headers. The concurrent
// case has four writers, each owning a set of hosts.
func TestReplayEveryRecordOnceKeyedOrdered(t *testing.T) {
	const partitions = 6
	cases := []struct {
		key     KeyField
		writers int
	}{
		{KeySourceIP, 1},
		{KeyCommunityID, 1},
		{KeySourceIP, 4},
	}
	for _, c := range cases {
		name := string(c.key)
		if c.writers > 1 {
			name += "/concurrent"
		}
		t.Run(name, func(t *testing.T) {
			k := newKafka(t, partitions)
			cfg := k.config()
			cfg.Key = c.key
			s := newSink(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := s.Check(ctx); err != nil {
				t.Fatalf("Check: %v", err)
			}
			sent := replaySet(t, 1500)
			if c.writers == 1 {
				writeAll(t, s, sink.KindDetection, sent)
			} else {
				groups := make([][]testRecord, c.writers)
				for _, r := range sent {
					h := fnv.New32a()
					h.Write([]byte(r.rec.Source.IP))
					g := int(h.Sum32() % uint32(c.writers))
					groups[g] = append(groups[g], r)
				}
				var wg sync.WaitGroup
				for _, g := range groups {
					wg.Go(func() { writeAll(t, s, sink.KindDetection, g) })
				}
				wg.Wait()
			}
			verifyTopic(t, k, k.topics[sink.KindDetection], sink.KindDetection, c.key, sent, partitions)
			st := s.Stats()
			if st.Accepted != int64(len(sent)) || st.Acked != int64(len(sent)) || st.Failed != 0 || st.InFlight != 0 {
				t.Errorf("stats %+v, want %d accepted and acked, none failed or in flight", st, len(sent))
			}
			if st.Latency.Count != int64(len(sent)) {
				t.Errorf("latency observed %d times, want %d", st.Latency.Count, len(sent))
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// TestTopicPerKind routes each record kind to its own topic with its
// aegis-kind header.
func TestTopicPerKind(t *testing.T) {
	k := newKafka(t, 3)
	s := newSink(t, k.config())
	_, recs := replayRecords(t)
	for i, kind := range sink.Kinds {
		sent := synthRecords(t, recs, 40, 7, t.Name()+string(kind))
		_ = i
		writeAll(t, s, kind, sent)
		verifyTopic(t, k, k.topics[kind], kind, KeySourceIP, sent, 3)
	}
}

// TestCompressionCodecs writes with every codec, checks on the broker side
// that the produce batches carry that codec, and reads the records back.
func TestCompressionCodecs(t *testing.T) {
	codecs := map[string]int8{CompressionNone: 0, CompressionGzip: 1, CompressionSnappy: 2, CompressionLz4: 3, CompressionZstd: 4}
	_, recs := replayRecords(t)
	for _, name := range Compressions {
		t.Run(name, func(t *testing.T) {
			k := newKafka(t, 4)
			var mu sync.Mutex
			seen := map[int8]int{}
			if k.fake != nil {
				k.fake.ControlKey(kmsg.Produce.Int16(), func(kr kmsg.Request) (kmsg.Response, error, bool) {
					k.fake.KeepControl()
					for _, tp := range kr.(*kmsg.ProduceRequest).Topics {
						for _, p := range tp.Partitions {
							var b kmsg.RecordBatch
							if err := b.ReadFrom(p.Records); err == nil {
								mu.Lock()
								seen[int8(b.Attributes&7)]++
								mu.Unlock()
							}
						}
					}
					return nil, nil, false
				})
			}
			cfg := k.config()
			cfg.Compression = name
			s := newSink(t, cfg)
			sent := synthRecords(t, recs, 600, 31, t.Name())
			writeAll(t, s, sink.KindDetection, sent)
			verifyTopic(t, k, k.topics[sink.KindDetection], sink.KindDetection, KeySourceIP, sent, 4)
			if k.fake != nil {
				mu.Lock()
				defer mu.Unlock()
				if len(seen) != 1 || seen[codecs[name]] == 0 {
					t.Errorf("codecs on the wire (attribute: batches) %v, want only %d", seen, codecs[name])
				}
			}
		})
	}
}

// TestCheckMissingTopic: Check at start-up names the missing topic and
// says how to create it.
func TestCheckMissingTopic(t *testing.T) {
	k := newKafka(t, 1)
	cfg := k.config()
	missing := k.topics[sink.KindCampaign] + ".missing"
	cfg.Topics = map[sink.Kind]string{}
	for kind, topic := range k.topics {
		cfg.Topics[kind] = topic
	}
	cfg.Topics[sink.KindCampaign] = missing
	s := newSink(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.Check(ctx)
	var pe *sink.PermanentError
	if !errors.As(err, &pe) {
		t.Fatalf("Check = %v, want a *sink.PermanentError", err)
	}
	if !strings.Contains(pe.Error(), missing) || !strings.Contains(pe.Fix, "create the topic") || !strings.Contains(pe.Fix, missing) {
		t.Errorf("error %q does not name topic %s and the fix", pe.Error(), missing)
	}
	if !errors.Is(err, kafkago.UnknownTopicOrPartition) {
		t.Errorf("error does not wrap UNKNOWN_TOPIC_OR_PARTITION: %v", err)
	}
	if strings.Contains(pe.Error(), k.topics[sink.KindDetection]) {
		t.Errorf("error names an existing topic: %v", pe)
	}

	cfg.Topics[sink.KindCampaign] = k.topics[sink.KindCampaign]
	ok := newSink(t, cfg)
	if err := ok.Check(ctx); err != nil {
		t.Errorf("Check with every topic present: %v", err)
	}
}

// TestCheckNoBroker: nothing listens at the address; Check gives up when
// ctx ends with a PermanentError saying what to check.
func TestCheckNoBroker(t *testing.T) {
	k := newFake(t, 1)
	cfg := k.config()
	k.fake.Close() // nothing listens on its port any more
	s := newSink(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.Check(ctx)
	var pe *sink.PermanentError
	if !errors.As(err, &pe) || !strings.Contains(pe.Fix, "kafka.brokers") {
		t.Fatalf("Check = %v, want a PermanentError about kafka.brokers", err)
	}
}

// TestMissingTopicAtRuntime: without Check, the first record for a topic
// that does not exist fails with a PermanentError (after fresh metadata
// confirmed it), the sink stops, and Write says why.
func TestMissingTopicAtRuntime(t *testing.T) {
	k := newFake(t, 1)
	cfg := k.config()
	cfg.Topics = map[sink.Kind]string{sink.KindDetection: "aegis-test.nonexistent"}
	s := newSink(t, cfg)
	_, recs := replayRecords(t)
	sent := synthRecords(t, recs, 3, 3, t.Name())
	d := newDoneTracker(t, len(sent))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range sent {
		if err := s.Write(ctx, message(sink.KindDetection, &sent[i], d.fn(sent[i].rec.Event.ID))); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	d.wait(t, 30*time.Second)
	for id, err := range d.failures() {
		var pe *sink.PermanentError
		if !errors.As(err, &pe) || !strings.Contains(pe.Error(), "aegis-test.nonexistent") || !strings.Contains(pe.Fix, "create the topic") {
			t.Errorf("record %s: Done(%v), want PermanentError naming the topic", id, err)
		}
	}
	if n := len(d.failures()); n != len(sent) {
		t.Errorf("%d of %d records failed", n, len(sent))
	}
	var pe *sink.PermanentError
	if err := s.Write(ctx, message(sink.KindDetection, &sent[0], nil)); !errors.As(err, &pe) {
		t.Errorf("Write after the sink stopped = %v, want its PermanentError", err)
	}
	if s.Err() == nil {
		t.Error("Err() = nil after a permanent error")
	}
}

// TestRetriableBrokerErrors: the broker answers produce requests with
// retriable errors for a while; nothing fails, nothing is lost, retries
// are counted. REQUEST_TIMED_OUT is answered after the write happened, so
// it may duplicate records (at-least-once), but none may be missing.
func TestRetriableBrokerErrors(t *testing.T) {
	_, recs := replayRecords(t)
	cases := []struct {
		err   *kerr.Error
		dupOK bool
	}{
		{kerr.NotEnoughReplicas, false},
		{kerr.NotLeaderForPartition, false},
		{kerr.LeaderNotAvailable, false},
		{kerr.UnknownTopicOrPartition, false}, // the topic exists: a stale-leader answer, retried
		{kerr.NetworkException, false},
		{kerr.RequestTimedOut, true},
	}
	for _, c := range cases {
		t.Run(c.err.Message, func(t *testing.T) {
			k := newFake(t, 3)
			h := k.fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: c.err, Count: 8})
			s := newSink(t, k.config())
			sent := synthRecords(t, recs, 300, 11, t.Name())
			writeAll(t, s, sink.KindDetection, sent)
			if h.Hits() == 0 {
				t.Fatal("the fault never fired")
			}
			st := s.Stats()
			if st.Retries == 0 || st.Failed != 0 || st.Acked != int64(len(sent)) {
				t.Errorf("stats %+v: want retries, %d acked, none failed", st, len(sent))
			}
			if c.dupOK {
				got := consume(t, k, k.topics[sink.KindDetection])
				ids := map[string]bool{}
				for _, r := range got {
					ids[string(r.value)] = true
				}
				for _, r := range sent {
					if !ids[string(r.value)] {
						t.Errorf("record %s lost", r.rec.Event.ID)
					}
				}
				return
			}
			verifyTopic(t, k, k.topics[sink.KindDetection], sink.KindDetection, KeySourceIP, sent, 3)
		})
	}
}

// TestPermanentProduceErrors: errors no retry can fix stop the sink with
// a PermanentError whose Fix says what to change.
func TestPermanentProduceErrors(t *testing.T) {
	_, recs := replayRecords(t)
	cases := []struct {
		err *kerr.Error
		fix string
	}{
		{kerr.TopicAuthorizationFailed, "grant"},
		{kerr.ClusterAuthorizationFailed, "grant"},
		{kerr.UnsupportedCompressionType, "kafka.compression"},
	}
	for _, c := range cases {
		t.Run(c.err.Message, func(t *testing.T) {
			k := newFake(t, 1)
			k.fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: c.err, Count: -1})
			s := newSink(t, k.config())
			sent := synthRecords(t, recs, 5, 1, t.Name())
			d := newDoneTracker(t, len(sent))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for i := range sent {
				if err := s.Write(ctx, message(sink.KindDetection, &sent[i], d.fn(sent[i].rec.Event.ID))); err != nil {
					var pe *sink.PermanentError
					if !errors.As(err, &pe) {
						t.Fatalf("Write: %v", err)
					}
					d.fn(sent[i].rec.Event.ID)(err) // not accepted: count it here
				}
			}
			d.wait(t, 30*time.Second)
			for id, err := range d.failures() {
				var pe *sink.PermanentError
				if !errors.As(err, &pe) || !strings.Contains(pe.Fix, c.fix) {
					t.Errorf("record %s: %v, want a PermanentError with a fix about %q", id, err, c.fix)
				}
			}
			if len(d.failures()) != len(sent) {
				t.Errorf("%d of %d failed", len(d.failures()), len(sent))
			}
			if s.Err() == nil {
				t.Error("sink did not stop")
			}
		})
	}
}

// TestRecordTooLarge: batches over the broker's message.max.bytes are
// split until they fit; a record too large on its own fails alone and the
// sink goes on.
func TestRecordTooLarge(t *testing.T) {
	k := newFake(t, 1, kfake.BrokerConfigs(map[string]string{"message.max.bytes": "30000"}))
	s := newSink(t, k.config())
	_, recs := replayRecords(t)
	sent := synthRecords(t, recs, 200, 5, t.Name()) // ~3.3 KB each, batches of ~650 KB
	huge := synthRecords(t, recs, 1, 1, t.Name()+"huge")[0]
	huge.value = append([]byte(`{"pad":"`+strings.Repeat("x", 40000)+`",`), huge.value[1:]...)

	d := newDoneTracker(t, len(sent)+1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range sent {
		if i == 100 {
			if err := s.Write(ctx, message(sink.KindDetection, &huge, d.fn("huge"))); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Write(ctx, message(sink.KindDetection, &sent[i], d.fn(sent[i].rec.Event.ID))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	f := d.failures()
	var pe *sink.PermanentError
	if len(f) != 1 || !errors.As(f["huge"], &pe) || !errors.Is(f["huge"], kafkago.MessageSizeTooLarge) {
		t.Fatalf("failures %v, want only the huge record with MESSAGE_TOO_LARGE", f)
	}
	if s.Err() != nil {
		t.Errorf("sink stopped: %v", s.Err())
	}
	verifyTopic(t, k, k.topics[sink.KindDetection], sink.KindDetection, KeySourceIP, sent, 1)
}

// TestRecordOverBatchBytes: a record larger than batch_bytes is refused at
// Write time through Done, the sink goes on.
func TestRecordOverBatchBytes(t *testing.T) {
	k := newFake(t, 1)
	cfg := k.config()
	cfg.BatchBytes = 2000
	cfg.MaxInFlightBytes = 2000
	s := newSink(t, cfg)
	_, recs := replayRecords(t)
	r := synthRecords(t, recs, 1, 1, t.Name())[0]
	var got error
	if err := s.Write(context.Background(), message(sink.KindDetection, &r, func(err error) { got = err })); err != nil {
		t.Fatal(err)
	}
	var pe *sink.PermanentError
	if !errors.As(got, &pe) || !strings.Contains(pe.Fix, "batch_bytes") {
		t.Fatalf("Done(%v), want PermanentError about batch_bytes", got)
	}
	if s.Err() != nil {
		t.Errorf("sink stopped: %v", s.Err())
	}
}

// TestUnknownKind: a kind without a topic fails through Done.
func TestUnknownKind(t *testing.T) {
	k := newFake(t, 1)
	s := newSink(t, k.config())
	var got error
	if err := s.Write(context.Background(), sink.Message{Kind: "mystery", Value: []byte(`{}`), Done: func(err error) { got = err }}); err != nil {
		t.Fatal(err)
	}
	var pe *sink.PermanentError
	if !errors.As(got, &pe) || !strings.Contains(pe.Fix, "kafka.topics.mystery") {
		t.Fatalf("Done(%v), want a PermanentError naming kafka.topics.mystery", got)
	}
}

// TestBackPressure: while the broker refuses produce requests with a
// retriable error, Write accepts max_in_flight records and then blocks
// (returning only when ctx ends, without calling Done); no record fails;
// once the broker accepts again, everything arrives exactly once and the
// blocked writer goes on.
func TestBackPressure(t *testing.T) {
	const limit = 40
	k := newFake(t, 2)
	h := k.fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: -1})
	cfg := k.config()
	cfg.MaxInFlight = limit
	s := newSink(t, cfg)
	_, recs := replayRecords(t)
	sent := synthRecords(t, recs, 200, 9, t.Name())
	d := newDoneTracker(t, len(sent))

	ctx := context.Background()
	for i := range limit {
		if err := s.Write(ctx, message(sink.KindDetection, &sent[i], d.fn(sent[i].rec.Event.ID))); err != nil {
			t.Fatalf("Write #%d: %v", i, err)
		}
	}
	if err := h.Wait(ctx, 3); err != nil { // the broker has refused a few batches
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err := s.Write(short, message(sink.KindDetection, &sent[limit], d.fn(sent[limit].rec.Event.ID)))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write beyond max_in_flight = %v, want it to block until ctx ends", err)
	}
	st := s.Stats()
	if st.InFlight != limit || st.Acked != 0 || st.Failed != 0 || st.Retries == 0 {
		t.Fatalf("during refusal: %+v, want %d in flight, retries, nothing acked or failed", st, limit)
	}

	// A writer blocked right now is released when the broker recovers.
	released := make(chan error, 1)
	go func() {
		released <- s.Write(ctx, message(sink.KindDetection, &sent[limit], d.fn(sent[limit].rec.Event.ID)))
	}()
	h.Remove()
	if err := <-released; err != nil {
		t.Fatalf("blocked Write after recovery: %v", err)
	}
	for i := limit + 1; i < len(sent); i++ {
		if err := s.Write(ctx, message(sink.KindDetection, &sent[i], d.fn(sent[i].rec.Event.ID))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if f := d.failures(); len(f) != 0 {
		t.Fatalf("failures: %v", f)
	}
	st = s.Stats()
	if st.PeakInFlight > limit {
		t.Errorf("peak in flight %d > max_in_flight %d", st.PeakInFlight, limit)
	}
	verifyTopic(t, k, k.topics[sink.KindDetection], sink.KindDetection, KeySourceIP, sent, 2)
}

// TestMaxInFlightBytes bounds in-flight memory by bytes too.
func TestMaxInFlightBytes(t *testing.T) {
	k := newFake(t, 2)
	h := k.fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: -1})
	_, recs := replayRecords(t)
	sent := synthRecords(t, recs, 100, 9, t.Name())
	limit := int64(0)
	for _, r := range sent[:10] {
		limit += int64(len(r.value) + len(r.rec.Source.IP))
	}
	cfg := k.config()
	cfg.MaxInFlightBytes = limit
	cfg.BatchBytes = 8000
	s := newSink(t, cfg)
	d := newDoneTracker(t, len(sent))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range sent {
			if err := s.Write(context.Background(), message(sink.KindDetection, &sent[i], d.fn(sent[i].rec.Event.ID))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	if err := h.Wait(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	h.Remove()
	<-done
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.PeakInFlightBytes > limit || st.Acked != int64(len(sent)) {
		t.Errorf("stats %+v: want peak bytes <= %d and all %d acked", st, limit, len(sent))
	}
}

// TestCloseGivesUp: Close with the cluster refusing everything waits
// close_timeout, completes every pending record with sink.ErrClosed
// exactly once, releases a blocked Write, and refuses later Writes.
func TestCloseGivesUp(t *testing.T) {
	k := newFake(t, 1)
	k.fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: -1})
	cfg := k.config()
	cfg.MaxInFlight = 10
	cfg.CloseTimeout = 300 * time.Millisecond
	s, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	_, recs := replayRecords(t)
	sent := synthRecords(t, recs, 11, 3, t.Name())
	d := newDoneTracker(t, 10)
	for i := range 10 {
		if err := s.Write(context.Background(), message(sink.KindDetection, &sent[i], d.fn(sent[i].rec.Event.ID))); err != nil {
			t.Fatal(err)
		}
	}
	blocked := make(chan error, 1)
	go func() {
		blocked <- s.Write(context.Background(), message(sink.KindDetection, &sent[10], d.fn("never")))
	}()

	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "10 records") {
		t.Errorf("Close = %v, want an error about 10 records given up", err)
	}
	if err := <-blocked; !errors.Is(err, sink.ErrClosed) {
		t.Errorf("blocked Write = %v, want ErrClosed", err)
	}
	if n := d.count(); n != 10 {
		t.Fatalf("%d Done calls after Close, want 10", n)
	}
	for id, err := range d.failures() {
		if !errors.Is(err, sink.ErrClosed) {
			t.Errorf("record %s: Done(%v), want ErrClosed", id, err)
		}
	}
	if err := s.Write(context.Background(), message(sink.KindDetection, &sent[0], nil)); !errors.Is(err, sink.ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
}

// TestFlushEmpty: Flush with nothing in flight returns at once; Close of
// an idle sink is clean.
func TestFlushEmpty(t *testing.T) {
	k := newFake(t, 1)
	s := newSink(t, k.config())
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Name() != "kafka" {
		t.Errorf("Name = %q", s.Name())
	}
}
