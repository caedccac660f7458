package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas"
	kafkago "github.com/segmentio/kafka-go"
)

// The record headers every record carries.
const (
	HeaderSchemaVersion = "aegis-schema-version" // schemas.SchemaVersion
	HeaderKind          = "aegis-kind"           // the sink.Kind
	HeaderSensor        = "aegis-sensor"         // Config.Sensor
)

// Sink publishes records to Kafka with acks=all. It implements sink.Sink.
//
// Write, Flush, Close, Check, Stats, Err and Name are safe for concurrent
// use. The Sink keeps a reference to each Message's Value until its Done
// has been called and never modifies it; Done is called exactly once per
// accepted message, from the Sink's goroutines (keep it short, and do not
// call Write from it).
type Sink struct {
	cfg       Config
	log       *slog.Logger
	conn      connSettings
	transport *kafkago.Transport
	client    *kafkago.Client
	codec     kafkago.Compression
	topicList []string                       // configured topics, sorted, deduplicated
	headers   map[sink.Kind][]kafkago.Header // per kind, shared by all records: read-only
	balancer  kafkago.Murmur2Balancer
	rep       reporter
	c         counters

	ctx       context.Context // ends workers, retries and the metadata loop (Close)
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	metaProbe saslProbe // SASL exchanges of the metadata refreshes

	mu            sync.Mutex // guards what follows
	inFlight      int64
	inFlightBytes int64
	peak          int64
	peakBytes     int64
	room          chan struct{} // closed when a record completes and roomWaiters > 0
	roomWaiters   int
	epoch         uint64         // current flush epoch
	epochs        map[uint64]int // records in flight per epoch
	flushed       chan struct{}  // closed when an epoch drains and flushWaiters > 0
	flushWaiters  int
	parts         map[string][]int // partitions per topic, from metadata
	unrouted      []*record        // accepted before their topic's partitions were known, in order
	unroutedBy    map[string]int   // unrouted records per topic
	workers       map[topicPartition]*worker
	closed        bool
	closedCh      chan struct{}
	fatal         *sink.PermanentError
	fatalCh       chan struct{}
	metaWake      chan struct{}
}

type topicPartition struct {
	topic     string
	partition int
}

// record is one accepted message on its way to Kafka.
type record struct {
	topic   string
	key     []byte
	value   []byte // the Message's Value: shared, never modified
	headers []kafkago.Header
	size    int64 // key + value, for in-flight accounting
	wire    int64 // estimate of its size in a record batch
	at      time.Time
	epoch   uint64
	id      string
	done    func(error)
}

// New validates cfg, reads the TLS and password files it names and
// returns a Sink. It does not connect: Check does, and Write does lazily.
// log receives rate-limited reports (never one per record); nil means
// slog.Default().
func New(cfg Config, log *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	conn, err := buildConn(cfg)
	if err != nil {
		return nil, err
	}
	codec, err := compression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	topicList := slices.Sorted(maps.Values(cfg.Topics))
	topicList = slices.Compact(topicList)

	ctx, cancel := context.WithCancel(context.Background())
	s := &Sink{
		cfg:        cfg,
		log:        log.With("stage", "sink", "sink", Name),
		conn:       conn,
		codec:      codec,
		topicList:  topicList,
		headers:    make(map[sink.Kind][]kafkago.Header, len(cfg.Topics)),
		ctx:        ctx,
		cancel:     cancel,
		room:       make(chan struct{}),
		epochs:     make(map[uint64]int),
		flushed:    make(chan struct{}),
		parts:      make(map[string][]int),
		unroutedBy: make(map[string]int),
		workers:    make(map[topicPartition]*worker),
		closedCh:   make(chan struct{}),
		fatalCh:    make(chan struct{}),
		metaWake:   make(chan struct{}, 1),
	}
	s.rep.log = s.log
	s.transport = conn.newTransport(withProbe(ctx, &s.metaProbe), topicList)
	// Client.Timeout must be set: kafka-go derives the produce request's
	// broker-side timeout (how long the leader waits for the in-sync
	// replicas) from it, as half of it, and ignores the context's deadline
	// when it is zero (falling back to 500ms).
	s.client = &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: s.transport, Timeout: cfg.WriteTimeout}
	for kind := range cfg.Topics {
		s.headers[kind] = []kafkago.Header{
			{Key: HeaderSchemaVersion, Value: []byte(schemas.SchemaVersion)},
			{Key: HeaderKind, Value: []byte(kind)},
			{Key: HeaderSensor, Value: []byte(cfg.Sensor)},
		}
	}
	s.wg.Add(1)
	go s.metadataLoop()
	s.log.Info("kafka sink configured", "brokers", cfg.Brokers, "topics", cfg.Topics, "key", cfg.Key,
		"compression", cfg.Compression, "tls", cfg.TLS.On(), "sasl", cfg.SASL.Mechanism, "sasl_user", cfg.SASL.Username,
		"sensor", cfg.Sensor, "max_in_flight", cfg.MaxInFlight)
	return s, nil
}

func compression(name string) (kafkago.Compression, error) {
	switch name {
	case CompressionNone:
		return 0, nil
	case CompressionGzip:
		return kafkago.Gzip, nil
	case CompressionSnappy:
		return kafkago.Snappy, nil
	case CompressionLz4:
		return kafkago.Lz4, nil
	case CompressionZstd:
		return kafkago.Zstd, nil
	}
	return 0, fmt.Errorf("kafka: compression %q: must be one of %s", name, strings.Join(Compressions, ", "))
}

// Name returns "kafka".
func (s *Sink) Name() string { return Name }

// Config returns the configuration in use, defaults filled in.
func (s *Sink) Config() Config { return s.cfg }

// Err returns the permanent error the sink stopped on, or nil.
func (s *Sink) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fatal == nil {
		return nil
	}
	return s.fatal
}

// Stats returns a snapshot of the counters.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	st := Stats{InFlight: s.inFlight, InFlightBytes: s.inFlightBytes, PeakInFlight: s.peak, PeakInFlightBytes: s.peakBytes}
	s.mu.Unlock()
	st.Accepted = s.c.accepted.Load()
	st.Sent = s.c.sent.Load()
	st.Acked = s.c.acked.Load()
	st.Failed = s.c.failed.Load()
	st.Retries = s.c.retries.Load()
	st.Requests = s.c.requests.Load()
	st.Latency = s.c.latency()
	return st
}

// key returns the record key of m under the configured key field; nil
// when the message names no source (such records are spread randomly).
func (s *Sink) key(m *sink.Message) []byte {
	k := m.SourceIP
	if s.cfg.Key == KeyCommunityID && m.CommunityID != "" {
		k = m.CommunityID
	}
	if k == "" {
		return nil
	}
	return []byte(k)
}

// recordOverhead estimates the per-record framing in a v2 record batch
// (length, attributes, timestamp and offset deltas, key/value/header
// lengths) generously.
const recordOverhead = 32

// Write hands m to Kafka. It blocks while MaxInFlight records (or
// MaxInFlightBytes) are accepted and not yet acknowledged, whatever the
// reason (a slow or unreachable cluster): that is the back-pressure. It
// returns nil once m is accepted; m.Done then reports the outcome: nil
// when Kafka acknowledged the record (acks=all), a *sink.PermanentError
// when it cannot be written (no topic for its kind, larger than
// batch_bytes, or the sink stopped on a permanent error), sink.ErrClosed
// when Close gave up on it. Retriable failures are retried for ever and
// never reach Done.
//
// Write returns ctx.Err() if ctx ends first, sink.ErrClosed after Close,
// and the sink's *sink.PermanentError once it has stopped on one; in these
// cases m was not accepted and Done is not called.
//
// Records of one key (source IP or Community ID) written in order by one
// goroutine reach their partition in that order, retries included.
func (s *Sink) Write(ctx context.Context, m sink.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	topic, ok := s.cfg.Topics[m.Kind]
	if !ok {
		if err := s.stopped(); err != nil {
			return err
		}
		s.c.accepted.Add(1)
		s.c.failed.Add(1)
		m.Finish(s.permanent(fmt.Errorf("record %s: no topic for kind %q", m.ID, m.Kind),
			fmt.Sprintf("add kafka.topics.%s, or do not route %s records to the kafka sink", m.Kind, m.Kind)))
		return nil
	}
	r := &record{topic: topic, key: s.key(&m), value: m.Value, headers: s.headers[m.Kind], id: m.ID, done: m.Done}
	r.size = int64(len(r.key) + len(r.value))
	r.wire = r.size + recordOverhead
	for _, h := range r.headers {
		r.wire += int64(len(h.Key) + len(h.Value))
	}
	if r.wire > s.cfg.BatchBytes {
		if err := s.stopped(); err != nil {
			return err
		}
		s.c.accepted.Add(1)
		s.c.failed.Add(1)
		m.Finish(s.permanent(fmt.Errorf("record %s: %d bytes, more than batch_bytes %d: %w", m.ID, r.wire, s.cfg.BatchBytes, kafkago.MessageSizeTooLarge),
			"raise kafka.batch_bytes and the topic's max.message.bytes, or find why the record is so large"))
		return nil
	}

	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return sink.ErrClosed
		}
		if s.fatal != nil {
			err := s.fatal
			s.mu.Unlock()
			return err
		}
		if s.inFlight < int64(s.cfg.MaxInFlight) && (s.inFlight == 0 || s.inFlightBytes+r.size <= s.cfg.MaxInFlightBytes) {
			break
		}
		room := s.room
		s.roomWaiters++
		s.mu.Unlock()
		var err error
		select {
		case <-room:
		case <-ctx.Done():
			err = ctx.Err()
		case <-s.closedCh:
		case <-s.fatalCh:
		}
		s.mu.Lock()
		s.roomWaiters--
		if err != nil {
			s.mu.Unlock()
			return err
		}
	}
	r.at = time.Now()
	r.epoch = s.epoch
	s.epochs[r.epoch]++
	s.inFlight++
	s.inFlightBytes += r.size
	s.peak = max(s.peak, s.inFlight)
	s.peakBytes = max(s.peakBytes, s.inFlightBytes)
	s.c.accepted.Add(1)
	if parts := s.parts[topic]; len(parts) > 0 && s.unroutedBy[topic] == 0 {
		s.route(r, parts)
	} else {
		s.unrouted = append(s.unrouted, r)
		s.unroutedBy[topic]++
		s.wakeMetadata()
	}
	s.mu.Unlock()
	return nil
}

// stopped returns why Write must refuse messages, or nil.
func (s *Sink) stopped() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return sink.ErrClosed
	}
	if s.fatal != nil {
		return s.fatal
	}
	return nil
}

// route hands r to the worker of its partition. s.mu is held.
func (s *Sink) route(r *record, parts []int) {
	p := s.balancer.Balance(kafkago.Message{Key: r.key}, parts...)
	tp := topicPartition{r.topic, p}
	w := s.workers[tp]
	if w == nil {
		w = newWorker(s, tp)
		s.workers[tp] = w
		s.wg.Add(1)
		go w.run()
	}
	w.push(r)
}

func (s *Sink) wakeMetadata() {
	select {
	case s.metaWake <- struct{}{}:
	default:
	}
}

// complete calls Done of each record with err (nil: acknowledged) and
// then releases their in-flight room, so that Flush returns only after
// the callbacks ran.
func (s *Sink) complete(recs []*record, err error) {
	if len(recs) == 0 {
		return
	}
	if err == nil {
		now := time.Now()
		lat := make([]time.Duration, len(recs))
		for i, r := range recs {
			lat[i] = now.Sub(r.at)
		}
		s.c.observe(lat)
		s.c.acked.Add(int64(len(recs)))
	} else {
		s.c.failed.Add(int64(len(recs)))
	}
	for _, r := range recs {
		if r.done != nil {
			r.done(err)
		}
	}
	s.mu.Lock()
	drained := false
	for _, r := range recs {
		s.inFlight--
		s.inFlightBytes -= r.size
		if s.epochs[r.epoch]--; s.epochs[r.epoch] == 0 {
			delete(s.epochs, r.epoch)
			drained = true
		}
	}
	if s.roomWaiters > 0 {
		close(s.room)
		s.room = make(chan struct{})
	}
	if drained && s.flushWaiters > 0 {
		close(s.flushed)
		s.flushed = make(chan struct{})
	}
	s.mu.Unlock()
}

// Flush blocks until Done has been called for every message accepted
// before it, or ctx ends (ctx.Err()). It returns the sink's permanent
// error if it stopped on one.
func (s *Sink) Flush(ctx context.Context) error {
	s.mu.Lock()
	target := s.epoch
	s.epoch++
	s.flushWaiters++
	defer func() {
		s.mu.Lock()
		s.flushWaiters--
		s.mu.Unlock()
	}()
	for {
		pending := false
		for e := range s.epochs {
			if e <= target {
				pending = true
				break
			}
		}
		if !pending {
			s.mu.Unlock()
			return s.Err()
		}
		ch := s.flushed
		s.mu.Unlock()
		// Partitions lingering for more records send at once.
		s.nudgeWorkers()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
		s.mu.Lock()
	}
}

func (s *Sink) nudgeWorkers() {
	s.mu.Lock()
	ws := slices.Collect(maps.Values(s.workers))
	s.mu.Unlock()
	for _, w := range ws {
		w.flushNow()
	}
}

// Close stops accepting messages (Write returns sink.ErrClosed), waits up
// to CloseTimeout for the records in flight to be acknowledged, then gives
// up on the rest (their Done gets sink.ErrClosed; they may still have
// reached Kafka, which at-least-once delivery allows) and releases the
// connections. It returns an error naming how many records were given up
// on. Calling it again returns the same result.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.closedCh)
		s.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseTimeout)
		ferr := s.Flush(ctx)
		cancel()
		left := s.Stats().InFlight

		s.cancel()
		s.wg.Wait()
		s.failQueued(sink.ErrClosed)
		s.transport.CloseIdleConnections()
		if ferr != nil && left > 0 {
			s.closeErr = fmt.Errorf("kafka: close: %d records not acknowledged within close_timeout %v were given up (Done(sink.ErrClosed)); they will be read again from the logs", left, s.cfg.CloseTimeout)
			s.log.Warn("kafka sink closed with records in flight", "records", left, "close_timeout", s.cfg.CloseTimeout)
			return
		}
		st := s.Stats()
		s.log.Info("kafka sink closed", "acked", st.Acked, "failed", st.Failed, "retries", st.Retries)
	})
	return s.closeErr
}

// stop makes perm the sink's permanent error: Write refuses new messages
// with it and every queued record gets it.
func (s *Sink) stop(perm *sink.PermanentError) {
	s.mu.Lock()
	if s.fatal != nil {
		s.mu.Unlock()
		return
	}
	s.fatal = perm
	close(s.fatalCh)
	s.mu.Unlock()
	s.log.Error("kafka sink stopped on a permanent error", "err", perm.Err, "fix", perm.Fix)
	s.failQueued(perm)
}

// failQueued completes every record not yet in a produce request with
// err.
func (s *Sink) failQueued(err error) {
	s.mu.Lock()
	recs := s.unrouted
	s.unrouted = nil
	clear(s.unroutedBy)
	ws := slices.Collect(maps.Values(s.workers))
	s.mu.Unlock()
	for _, w := range ws {
		recs = append(recs, w.takeAll()...)
	}
	s.complete(recs, err)
}

// haltErr returns the error to complete a batch with when the sink has
// stopped or is shutting down, or nil to go on.
func (s *Sink) haltErr() error {
	if err := s.Err(); err != nil {
		return err
	}
	if s.ctx.Err() != nil {
		return sink.ErrClosed
	}
	return nil
}

// Check verifies that the brokers answer (TLS and SASL included) and that
// every configured topic exists and may be described, with fresh metadata
// (not the cache Write uses). It returns a *sink.PermanentError naming
// what is wrong and the fix. Unreachable brokers are retried until ctx
// ends; without a deadline on ctx, Check waits at most DialTimeout +
// WriteTimeout.
func (s *Sink) Check(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.DialTimeout+s.cfg.WriteTimeout)
		defer cancel()
	}
	var md *kafkago.MetadataResponse
	probe := &saslProbe{}
	for attempt := 1; ; attempt++ {
		var err error
		md, err = s.freshMetadata(ctx, s.topicList, probe)
		if err == nil {
			break
		}
		if cls, perm := s.classify(err, "", probe); cls == fatal {
			return perm
		}
		if ctx.Err() != nil || !sleepCtx(ctx, s.backoff(attempt)) {
			return s.permanent(fmt.Errorf("no broker of %s answered: %w", strings.Join(s.cfg.Brokers, ","), err),
				"check kafka.brokers (host:port of a listener the brokers advertise), that the brokers run and are reachable from this host, and whether that listener needs kafka.tls or kafka.sasl")
		}
	}
	var missing, denied []string
	var other []error
	for _, name := range s.topicList {
		t, ok := findTopic(md, name)
		switch {
		case !ok || errors.Is(t.Error, kafkago.UnknownTopicOrPartition):
			missing = append(missing, name)
		case errors.Is(t.Error, kafkago.TopicAuthorizationFailed):
			denied = append(denied, name)
		case t.Error != nil:
			other = append(other, fmt.Errorf("topic %s: %w", name, t.Error))
		case len(t.Partitions) == 0:
			missing = append(missing, name)
		}
	}
	if len(denied) > 0 {
		return s.permanent(fmt.Errorf("not authorised to describe topic(s) %s: %w", strings.Join(denied, ", "), kafkago.TopicAuthorizationFailed),
			fmt.Sprintf("grant %s WRITE and DESCRIBE on %s", s.principal(), strings.Join(denied, ", ")))
	}
	if len(missing) > 0 {
		return s.permanent(fmt.Errorf("topic(s) %s do not exist: %w", strings.Join(missing, ", "), kafkago.UnknownTopicOrPartition),
			s.missingTopicFix(missing))
	}
	if len(other) > 0 {
		return s.permanent(errors.Join(other...), "the brokers report the topics unusable: check them with kafka-topics.sh --describe")
	}
	return nil
}

func findTopic(md *kafkago.MetadataResponse, name string) (kafkago.Topic, bool) {
	for _, t := range md.Topics {
		if t.Name == name {
			return t, true
		}
	}
	return kafkago.Topic{}, false
}

// freshMetadata asks the brokers for topics' metadata on a transport of
// its own, bypassing the cached metadata of s.transport. probe (may be
// nil) follows its SASL exchange.
func (s *Sink) freshMetadata(ctx context.Context, topics []string, probe *saslProbe) (*kafkago.MetadataResponse, error) {
	tctx, cancel := context.WithCancel(s.ctx)
	if probe != nil {
		tctx = withProbe(tctx, probe)
	}
	defer cancel()
	tr := s.conn.newTransport(tctx, topics)
	defer tr.CloseIdleConnections()
	cl := &kafkago.Client{Addr: kafkago.TCP(s.cfg.Brokers...), Transport: tr}
	return cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: topics})
}

// topicMissing confirms with fresh metadata that topic does not exist.
func (s *Sink) topicMissing(topic string) (bool, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DialTimeout+s.cfg.WriteTimeout)
	defer cancel()
	md, err := s.freshMetadata(ctx, []string{topic}, nil)
	if err != nil {
		return false, err
	}
	t, ok := findTopic(md, topic)
	return !ok || errors.Is(t.Error, kafkago.UnknownTopicOrPartition), nil
}

// metadataLoop keeps the partition lists of the topics current (from the
// transport's cache, which kafka-go refreshes every MetadataMaxAge) and
// routes the records accepted before their topic's partitions were known.
func (s *Sink) metadataLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	attempt := 0
	var retry <-chan time.Time
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		case <-s.metaWake:
		case <-retry:
		}
		retry = nil
		if s.refreshPartitions() {
			attempt = 0
			continue
		}
		attempt++
		retry = time.After(s.backoff(attempt))
	}
}

// refreshPartitions updates s.parts and routes what can be routed. It
// returns false when records are still waiting for metadata.
func (s *Sink) refreshPartitions() bool {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DialTimeout+s.cfg.WriteTimeout)
	md, err := s.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: s.topicList})
	cancel()
	if s.ctx.Err() != nil {
		return true
	}
	s.mu.Lock()
	waiting := maps.Clone(s.unroutedBy)
	s.mu.Unlock()
	if err != nil {
		cls, perm := s.classify(err, "", &s.metaProbe)
		if cls == fatal {
			s.stop(perm)
			return true
		}
		if len(waiting) > 0 {
			s.rep.report("metadata", "kafka: cannot reach the brokers for metadata; records wait and Write blocks when max_in_flight is reached",
				"err", err, "waiting", len(waiting))
		}
		return len(waiting) == 0
	}
	fresh := make(map[string][]int, len(md.Topics))
	for _, t := range md.Topics {
		if t.Error == nil && len(t.Partitions) > 0 {
			fresh[t.Name] = partitionIDs(t.Partitions)
			continue
		}
		if waiting[t.Name] == 0 {
			continue
		}
		// Records wait for this topic: find out whether it will ever
		// accept them.
		switch cls, perm := s.classify(t.Error, t.Name, nil); {
		case cls == fatal:
			s.stop(perm)
			return true
		case cls == unknownTopic:
			missing, ferr := s.topicMissing(t.Name)
			if ferr == nil && missing {
				s.stop(s.permanent(fmt.Errorf("topic %s does not exist: %w", t.Name, kafkago.UnknownTopicOrPartition), s.missingTopicFix([]string{t.Name})))
				return true
			}
		}
	}
	s.mu.Lock()
	for topic, ids := range fresh {
		if !slices.Equal(s.parts[topic], ids) {
			s.parts[topic] = ids
		}
	}
	if len(s.unrouted) > 0 {
		kept := s.unrouted[:0]
		for _, r := range s.unrouted {
			if parts := s.parts[r.topic]; len(parts) > 0 {
				s.route(r, parts)
				s.unroutedBy[r.topic]--
			} else {
				kept = append(kept, r)
			}
		}
		clear(s.unrouted[len(kept):])
		s.unrouted = kept
		for t, n := range s.unroutedBy {
			if n == 0 {
				delete(s.unroutedBy, t)
			}
		}
	}
	done := len(s.unrouted) == 0
	s.mu.Unlock()
	return done
}

func partitionIDs(ps []kafkago.Partition) []int {
	ids := make([]int, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	slices.Sort(ids)
	return ids
}

// backoff returns the delay before attempt n (1-based): exponential from
// RetryBackoffMin to RetryBackoffMax, with up to 20% jitter off.
func (s *Sink) backoff(n int) time.Duration {
	d := s.cfg.RetryBackoffMin
	for i := 1; i < n && d < s.cfg.RetryBackoffMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.RetryBackoffMax)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// sleepCtx sleeps d or until ctx ends; it reports whether it slept d.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// reporter logs a problem at most once per key and interval.
type reporter struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]time.Time
}

const reportEvery = 10 * time.Second

func (r *reporter) report(key, msg string, args ...any) {
	r.mu.Lock()
	if r.last == nil {
		r.last = make(map[string]time.Time)
	}
	now := time.Now()
	if t, ok := r.last[key]; ok && now.Sub(t) < reportEvery {
		r.mu.Unlock()
		return
	}
	r.last[key] = now
	r.mu.Unlock()
	r.log.Warn(msg, args...)
}

var _ sink.Sink = (*Sink)(nil)
