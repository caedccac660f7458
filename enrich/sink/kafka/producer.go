package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// worker sends the records of one topic partition, one produce request at
// a time, in the order they were accepted. A batch that fails with a
// retriable error is sent again (after a backoff) before anything behind
// it, so retries never reorder a partition.
type worker struct {
	s  *Sink
	tp topicPartition

	mu     sync.Mutex
	q      []*record // accepted, not yet in a produce request
	qBytes int64     // wire estimate of q
	now    bool      // send without waiting for BatchTimeout (Flush)
	wake   chan struct{}
	limit  int64 // batch bytes limit; below BatchBytes after the broker refused a batch as too large

	probe saslProbe // SASL exchanges of this worker's connection attempts
}

func newWorker(s *Sink, tp topicPartition) *worker {
	return &worker{s: s, tp: tp, wake: make(chan struct{}, 1), limit: s.cfg.BatchBytes}
}

func (w *worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// push appends r to the queue.
func (w *worker) push(r *record) {
	w.mu.Lock()
	w.q = append(w.q, r)
	w.qBytes += r.wire
	n, b := len(w.q), w.qBytes
	w.mu.Unlock()
	if n == 1 || n == w.s.cfg.BatchSize || (b >= w.s.cfg.BatchBytes && b-r.wire < w.s.cfg.BatchBytes) {
		w.signal()
	}
}

// flushNow makes the worker send what it holds without lingering.
func (w *worker) flushNow() {
	w.mu.Lock()
	w.now = len(w.q) > 0
	w.mu.Unlock()
	w.signal()
}

// takeAll empties the queue (shutdown).
func (w *worker) takeAll() []*record {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.q
	w.q, w.qBytes = nil, 0
	return q
}

func (w *worker) run() {
	defer w.s.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch := w.next(timer)
		if batch == nil {
			return
		}
		w.deliver(batch)
	}
}

// next returns the next batch: up to BatchSize records and BatchBytes,
// once the batch is full, its oldest record has waited BatchTimeout, or a
// Flush asks. It returns nil when the sink shuts down.
func (w *worker) next(timer *time.Timer) []*record {
	cfg := &w.s.cfg
	for {
		w.mu.Lock()
		if len(w.q) > 0 {
			wait := time.Until(w.q[0].at.Add(cfg.BatchTimeout))
			if w.now || wait <= 0 || len(w.q) >= cfg.BatchSize || w.qBytes >= w.limit {
				b := w.take()
				w.mu.Unlock()
				return b
			}
			w.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-w.wake:
				timer.Stop()
			case <-timer.C:
			case <-w.s.ctx.Done():
				timer.Stop()
				return nil
			}
			continue
		}
		w.mu.Unlock()
		select {
		case <-w.wake:
		case <-w.s.ctx.Done():
			return nil
		}
	}
}

// take removes the next batch from the queue. w.mu is held.
func (w *worker) take() []*record {
	cfg := &w.s.cfg
	n, bytes := 0, int64(0)
	for n < len(w.q) && n < cfg.BatchSize {
		if n > 0 && bytes+w.q[n].wire > w.limit {
			break
		}
		bytes += w.q[n].wire
		n++
	}
	batch := make([]*record, n)
	copy(batch, w.q)
	rest := copy(w.q, w.q[n:])
	clear(w.q[rest:])
	w.q = w.q[:rest]
	w.qBytes -= bytes
	if len(w.q) == 0 {
		w.now = false
	}
	return batch
}

// deliver sends batch until Kafka acknowledges it, retrying retriable
// errors for ever with backoff, splitting it when the broker finds it too
// large, and completing it with the error when the error is permanent or
// the sink shuts down.
func (w *worker) deliver(batch []*record) {
	s := w.s
	topic, partition := w.tp.topic, w.tp.partition
	for attempt := 0; ; attempt++ {
		if err := s.haltErr(); err != nil {
			s.complete(batch, err)
			return
		}
		if attempt > 0 {
			s.c.retries.Add(1)
			if !sleepCtx(s.ctx, s.backoff(attempt)) {
				s.complete(batch, s.haltErr())
				return
			}
		}
		s.c.sent.Add(int64(len(batch)))
		s.c.requests.Add(1)
		err := w.produce(batch)
		if err == nil {
			if attempt > 0 {
				s.log.Info("kafka: delivery resumed", "topic", topic, "partition", partition, "attempts", attempt+1)
			}
			s.complete(batch, nil)
			return
		}
		if halt := s.haltErr(); halt != nil {
			s.complete(batch, halt)
			return
		}
		cls, perm := s.classify(err, topic, &w.probe)
		switch cls {
		case fatal:
			s.stop(perm)
			s.complete(batch, perm)
			return
		case tooLarge, recordFatal:
			var pe *produceError
			if errors.As(err, &pe) && len(pe.records) > 0 && len(pe.records) < len(batch) {
				// The broker named the bad records: fail them, send the
				// rest again.
				bad, good := pe.split(batch)
				s.complete(bad, s.recordError(err, cls))
				batch = good
				continue
			}
			if len(batch) > 1 {
				w.shrink(batch)
				h := len(batch) / 2
				w.deliver(batch[:h])
				w.deliver(batch[h:])
				return
			}
			s.complete(batch, s.recordError(err, cls))
			return
		case unknownTopic:
			missing, ferr := s.topicMissing(topic)
			if ferr == nil && missing {
				perm := s.permanent(fmt.Errorf("topic %s does not exist: %w", topic, kafkago.UnknownTopicOrPartition), s.missingTopicFix([]string{topic}))
				s.stop(perm)
				s.complete(batch, perm)
				return
			}
		}
		s.rep.report("produce", "kafka: produce failed, retrying (records are kept; Write blocks when max_in_flight is reached)",
			"topic", topic, "partition", partition, "records", len(batch), "attempt", attempt+1, "err", err)
	}
}

// shrink lowers the worker's batch limit below the size of batch, which
// the broker refused as too large (its max.message.bytes is below
// batch_bytes), so that later batches fit at the first attempt.
func (w *worker) shrink(batch []*record) {
	var b int64
	for _, r := range batch {
		b += r.wire
	}
	w.mu.Lock()
	if half := b / 2; half > 0 && half < w.limit {
		w.limit = half
	}
	limit := w.limit
	w.mu.Unlock()
	w.s.rep.report("shrink", "kafka: the broker refused a batch as too large (topic max.message.bytes below kafka.batch_bytes); sending smaller batches",
		"topic", w.tp.topic, "partition", w.tp.partition, "batch_bytes", limit)
}

// recordError is the error a record that cannot be written completes
// with.
func (s *Sink) recordError(err error, cls class) error {
	if cls == tooLarge {
		return s.permanent(err, "the record is larger than the topic's max.message.bytes: raise it (and kafka.batch_bytes), or find why the record is so large")
	}
	return s.permanent(err, "the broker refuses this record (invalid record or timestamp); check the topic's message.timestamp.* and compaction settings")
}

// produceError is a produce response's error, with the batch indexes of
// the records the broker blamed (Kafka 2.4+).
type produceError struct {
	err     error
	records map[int]error
}

func (e *produceError) Error() string { return e.err.Error() }
func (e *produceError) Unwrap() error { return e.err }

func (e *produceError) split(batch []*record) (bad, good []*record) {
	for i, r := range batch {
		if _, ok := e.records[i]; ok {
			bad = append(bad, r)
		} else {
			good = append(good, r)
		}
	}
	return bad, good
}

// produce sends one produce request (acks=all) for batch.
func (w *worker) produce(batch []*record) error {
	s := w.s
	ctx, cancel := context.WithTimeout(withProbe(s.ctx, &w.probe), s.cfg.WriteTimeout)
	defer cancel()
	res, err := s.client.Produce(ctx, &kafkago.ProduceRequest{
		Topic:        w.tp.topic,
		Partition:    w.tp.partition,
		RequiredAcks: kafkago.RequireAll,
		Compression:  s.codec,
		Records:      &recordReader{batch: batch},
	})
	if err != nil {
		return err
	}
	if res == nil {
		return errors.New("kafka: produce: empty response")
	}
	if res.Error != nil {
		return &produceError{err: res.Error, records: res.RecordErrors}
	}
	return nil
}

// recordReader presents a batch to kafka-go's encoder. It is consumed
// once per attempt.
type recordReader struct {
	batch []*record
	i     int
	rec   kafkago.Record
	k, v  bytesReadCloser
}

func (r *recordReader) ReadRecord() (*kafkago.Record, error) {
	if r.i >= len(r.batch) {
		return nil, io.EOF
	}
	m := r.batch[r.i]
	r.i++
	r.rec = kafkago.Record{Time: m.at, Headers: m.headers}
	if m.key != nil {
		r.k.Reset(m.key)
		r.rec.Key = &r.k
	}
	if m.value != nil {
		r.v.Reset(m.value)
		r.rec.Value = &r.v
	}
	return &r.rec, nil
}

type bytesReadCloser struct{ bytes.Reader }

func (*bytesReadCloser) Close() error { return nil }
