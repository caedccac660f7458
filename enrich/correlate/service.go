package correlate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/enrich/sink/kafka"
	"github.com/aegis-nsm/aegis/schemas"
)

// Explainer receives the detection records of campaigns as they are
// published, so that a reasoning stage can write a cross-sensor intent
// chain: *llm.Stage satisfies it. Submit must not block and must not keep
// rec (the service decodes a fresh copy per call).
type Explainer interface {
	Submit(rec *schemas.Record)
}

// Service is 'aegis correlate': one member of a Kafka consumer group over
// the detection topics of every sensor. Detections are keyed by source
// host, so each member owns the hosts of the partitions assigned to it,
// runs one Tracker per partition and publishes campaign records (sink
// kind campaign, keyed by host) through the sink it was given.
//
// # Rebalances, look-back and commits
//
// The group is driven with kafka-go's ConsumerGroup, generation by
// generation. When a generation assigns a partition, the member rebuilds
// its window state from scratch: it reads the record just before the
// committed offset C to learn its Kafka timestamp T, asks the broker for
// the first offset S whose timestamp is at or after T - Lookback
// (ListOffsets by time), and re-reads [S, C) into a fresh Tracker without
// publishing (those campaign versions were published, and acknowledged,
// before C was committed). From C on it publishes. Because a Tracker is a
// function of the records it sees, and a campaign's state reaches back at
// most Span + 2W + Lateness in record time, the rebuilt windows yield the
// same campaign ids, versions and bytes as the member that had the
// partition before.
//
// A partition's committable offset is the first offset whose campaign
// records are not all acknowledged (sink Done(nil)); it is committed every
// CommitInterval and, when the generation ends (a rebalance) or the
// service stops, after waiting up to DrainTimeout for the acknowledgements
// of everything already published. A member that dies without committing
// leaves its partitions at the last commit: the next owner re-reads from
// there and publishes again what was not committed (the same ids and
// versions: consumers drop duplicates by event.id).
//
// # Concurrency and ownership
//
// Run is called once. Stats, Ready and Partitions are safe for concurrent
// use. The sink is shared by the partitions and must be safe for
// concurrent use (every sink is); the Service does not close it.
type Service struct {
	cfg     Config
	rules   *Rules
	out     sink.Sink
	explain Explainer
	log     *slog.Logger
	dialer  *kafkago.Dialer

	abort atomic.Bool // tests: stop at once, no drain, no commit
	ready atomic.Bool
	fatal atomic.Pointer[error]
	stop  context.CancelFunc // ends Run's context (set by Run)
	c     counters
	mu    sync.Mutex
	parts map[partKey]*partition // assigned now
	kept  map[partKey]*kept      // windows of the last generation, for partitions that may come back
}

type partKey struct {
	topic string
	part  int
}

// kept is a partition's state at the end of a generation in which every
// record it processed was committed: when the next generation gives the
// partition back at that offset, the windows are still exact and need no
// rebuild.
type kept struct {
	tr      *Tracker
	next    int64 // the committed offset = the next record to process
	explain map[string]map[string]bool
}

// counters are the service-wide counters (atomics).
type counters struct {
	records, replayed, bad, ignored, published, failed atomic.Uint64
	rebuilds, commits, commitErrors, generations       atomic.Uint64
	tr                                                 trackerTotals
}

// trackerTotals sums the counters of the trackers of revoked partitions
// (live ones are read from their trackers).
type trackerTotals struct {
	mu sync.Mutex
	s  TrackerStats
}

// Option changes a Service built by New.
type Option func(*Service)

// WithExplainer sends the detection records of every published campaign
// version (each record once per campaign) to e.
func WithExplainer(e Explainer) Option { return func(s *Service) { s.explain = e } }

// withDialFunc replaces how connections to the brokers are made (tests:
// cutting an instance off as a crash would).
func withDialFunc(f func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(s *Service) { s.dialer.DialFunc = f }
}

// New validates cfg, reads the TLS and password files it names and
// returns a Service that publishes to out. r is the campaign rule set
// (NewRules). It does not connect: Run does. log nil means slog.Default().
func New(cfg Config, r *Rules, out sink.Sink, log *slog.Logger, opts ...Option) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if r == nil || out == nil {
		return nil, errors.New("correlate: New needs the campaign rules and a sink")
	}
	if log == nil {
		log = slog.Default()
	}
	d, err := newDialer(cfg.Input)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, rules: r, out: out, log: log.With("stage", "correlate"), dialer: d, parts: map[partKey]*partition{}, kept: map[partKey]*kept{}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// newDialer builds the kafka-go dialer with TLS and SASL.
func newDialer(in InputConfig) (*kafkago.Dialer, error) {
	d := &kafkago.Dialer{Timeout: in.DialTimeout, ClientID: in.ClientID, DualStack: true}
	if in.TLS.On() {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: in.TLS.ServerName, InsecureSkipVerify: in.TLS.InsecureSkipVerify} //nolint:gosec // explicit, documented as test-only
		if in.TLS.CAFile != "" {
			pem, err := os.ReadFile(in.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("correlate: input.tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("correlate: input.tls.ca_file %s: no PEM certificate found", in.TLS.CAFile)
			}
			tc.RootCAs = pool
		}
		if in.TLS.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(in.TLS.CertFile, in.TLS.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("correlate: input.tls.cert_file/key_file: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		d.TLS = tc
	}
	if mech := strings.ToUpper(in.SASL.Mechanism); mech != "" {
		pw, err := password(in.SASL)
		if err != nil {
			return nil, err
		}
		var m sasl.Mechanism
		switch mech {
		case kafka.SASLPlain:
			m = plain.Mechanism{Username: in.SASL.Username, Password: pw}
		case kafka.SASLScramSHA256, kafka.SASLScramSHA512:
			algo := scram.SHA256
			if mech == kafka.SASLScramSHA512 {
				algo = scram.SHA512
			}
			if m, err = scram.Mechanism(algo, in.SASL.Username, pw); err != nil {
				return nil, fmt.Errorf("correlate: input.sasl: %s credentials rejected by SASLprep (invalid characters in username or password)", mech)
			}
		}
		d.SASLMechanism = m
	}
	return d, nil
}

// password reads the SASL password; the error never contains it.
func password(c kafka.SASLConfig) (string, error) {
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("correlate: input.sasl.password_file: %w", err)
		}
		pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if pw == "" {
			return "", fmt.Errorf("correlate: input.sasl.password_file %s is empty", c.PasswordFile)
		}
		return pw, nil
	}
	pw, ok := os.LookupEnv(c.PasswordEnv)
	if !ok || pw == "" {
		return "", fmt.Errorf("correlate: input.sasl.password_env: environment variable %s is not set or empty", c.PasswordEnv)
	}
	return pw, nil
}

// Check verifies that the brokers answer and every input topic exists,
// with the fix in the error. Run does not need it; it makes a wrong topic
// name fail at start-up instead of leaving the instance idle.
func (s *Service) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Input.DialTimeout+s.cfg.Input.Timeout)
	defer cancel()
	var errs []error
	for _, topic := range s.cfg.Input.Topics {
		var err error
		for _, b := range s.cfg.Input.Brokers {
			var parts []kafkago.Partition
			if parts, err = s.dialer.LookupPartitions(ctx, "tcp", b, topic); err == nil {
				if len(parts) == 0 {
					err = kafkago.UnknownTopicOrPartition
				}
				break
			}
			if errors.Is(err, kafkago.UnknownTopicOrPartition) {
				break
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, kafkago.UnknownTopicOrPartition):
			errs = append(errs, fmt.Errorf("correlate: input.topics: topic %s does not exist (name the sensors' detection topic, see their kafka.topics.detection)", topic))
		default:
			errs = append(errs, fmt.Errorf("correlate: input: cannot describe topic %s on %s: %w (check input.brokers, tls and sasl)", topic, strings.Join(s.cfg.Input.Brokers, ","), err))
		}
	}
	return errors.Join(errs...)
}

// Run joins the group and correlates until ctx ends, then drains (waits
// up to DrainTimeout for the campaign records in flight, commits) and
// leaves the group. It returns nil after a clean stop, or the error that
// stopped it (the sink gave up for good).
func (s *Service) Run(ctx context.Context) error {
	ctx, s.stop = context.WithCancel(ctx)
	defer s.stop()
	in := s.cfg.Input
	cg, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID:                in.GroupID,
		Brokers:           in.Brokers,
		Dialer:            s.dialer,
		Topics:            in.Topics,
		HeartbeatInterval: in.HeartbeatInterval,
		SessionTimeout:    in.SessionTimeout,
		RebalanceTimeout:  in.RebalanceTimeout,
		JoinGroupBackoff:  in.JoinBackoff,
		Timeout:           in.Timeout,
		StartOffset:       kafkago.FirstOffset,
		ErrorLogger:       kafkago.LoggerFunc(func(f string, a ...any) { s.log.Debug("kafka-go: " + fmt.Sprintf(f, a...)) }),
	})
	if err != nil {
		return fmt.Errorf("correlate: consumer group: %w", err)
	}
	s.log.Info("correlate starting", "brokers", in.Brokers, "topics", in.Topics, "group", in.GroupID,
		"campaign_rules", s.rules.IDs(), "window", s.rules.Window(), "span", s.cfg.Campaigns.Span, "lookback", s.cfg.Campaigns.Lookback)
	var rep reporter
	for ctx.Err() == nil && s.fatalErr() == nil {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if fix := permanentJoinError(err); fix != "" {
				s.setFatal(fmt.Errorf("correlate: cannot join consumer group %s: %w (%s)", in.GroupID, err, fix))
				break
			}
			rep.report(s.log, "join", "correlate: cannot join the consumer group; retrying", "group", in.GroupID, "err", err)
			continue
		}
		s.runGeneration(ctx, gen)
	}
	s.ready.Store(false)
	if s.abort.Load() {
		go cg.Close() // a crash does not wait for the group
		return nil
	}
	cg.Close()
	if err := s.fatalErr(); err != nil {
		return err
	}
	s.log.Info("correlate stopped", "published", s.c.published.Load(), "records", s.c.records.Load())
	return nil
}

// permanentJoinError returns the fix for a group error that retrying
// cannot cure, "" for others.
func permanentJoinError(err error) string {
	switch {
	case errors.Is(err, kafkago.InvalidSessionTimeout):
		return "set input.session_timeout within the brokers' group.min.session.timeout.ms and group.max.session.timeout.ms (6s..30m by default)"
	case errors.Is(err, kafkago.GroupAuthorizationFailed):
		return "grant this principal READ on the consumer group (input.group_id)"
	case errors.Is(err, kafkago.TopicAuthorizationFailed):
		return "grant this principal READ and DESCRIBE on the detection topics (input.topics)"
	case errors.Is(err, kafkago.SASLAuthenticationFailed):
		return "check input.sasl (mechanism, username, password)"
	case errors.Is(err, kafkago.InvalidGroupId):
		return "set input.group_id to a valid group name"
	}
	return ""
}

func (s *Service) fatalErr() error {
	if p := s.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// setFatal records the error that stops the service and stops it.
func (s *Service) setFatal(err error) {
	s.fatal.CompareAndSwap(nil, &err)
	if s.stop != nil {
		s.stop()
	}
}

// runGeneration runs one generation: a goroutine per assigned partition
// and a committer. It returns when the generation ends (a rebalance, or
// the coordinator is lost) or, after the drain, when ctx ends.
func (s *Service) runGeneration(ctx context.Context, gen *kafkago.Generation) {
	s.c.generations.Add(1)
	var parts []*partition
	for topic, as := range gen.Assignments {
		for _, a := range as {
			parts = append(parts, newPartition(s, topic, a.ID, a.Offset))
		}
	}
	slices.SortFunc(parts, func(a, b *partition) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return a.part - b.part
	})
	s.mu.Lock()
	clear(s.parts)
	for _, p := range parts {
		key := partKey{p.topic, p.part}
		s.parts[key] = p
		if k := s.kept[key]; k != nil && k.next == p.start && p.start >= 0 {
			p.resume = k
		}
	}
	clear(s.kept)
	s.mu.Unlock()
	s.ready.Store(true)
	s.log.Info("partitions assigned", "generation", gen.ID, "member", gen.MemberID, "partitions", describe(parts))

	var drained sync.WaitGroup
	ended := make(chan struct{})
	committed := make(chan struct{}) // closed after the final commit
	// stop ends when the generation ends or the service stops: the
	// partitions stop reading then.
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	gen.Start(func(gctx context.Context) {
		select {
		case <-gctx.Done():
		case <-ctx.Done():
		}
		stop()
		<-gctx.Done()
		close(ended)
	})
	for _, p := range parts {
		drained.Add(1)
		gen.Start(func(gctx context.Context) {
			p.run(stopCtx)
			drained.Done()
			<-gctx.Done() // keep the generation until it ends or the group closes
		})
	}
	gen.Start(func(gctx context.Context) {
		t := time.NewTicker(s.cfg.Input.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.commit(gen, parts)
				continue
			case <-stopCtx.Done():
			}
			break
		}
		drained.Wait()
		if !s.abort.Load() {
			s.commit(gen, parts)
		}
		close(committed)
		<-gctx.Done()
	})
	// Wait for the partitions to drain and the final commit; then, when
	// the service is stopping, return so that Run closes the group (which
	// ends the generation); otherwise wait for the generation to end.
	select {
	case <-ended:
		<-committed // the partitions drained and the final commit is done
	case <-ctx.Done():
		select {
		case <-committed:
		case <-time.After(s.cfg.Input.DrainTimeout + s.cfg.Input.Timeout):
			s.log.Warn("drain: gave up waiting for the final commit")
		}
	}
	s.retire(parts)
}

// retire folds the trackers of revoked partitions into the totals.
func (s *Service) retire(parts []*partition) {
	s.c.tr.mu.Lock()
	for _, p := range parts {
		if st, ok := p.trackerStats(); ok {
			st.Hosts, st.OpenCampaigns = 0, 0 // gauges: the partition is gone
			s.c.tr.s = addStats(s.c.tr.s, st)
		}
	}
	s.c.tr.mu.Unlock()
	s.mu.Lock()
	for _, p := range parts {
		key := partKey{p.topic, p.part}
		if s.parts[key] == p {
			delete(s.parts, key)
		}
		if s.abort.Load() {
			continue
		}
		p.mu.Lock()
		tr, explain := p.tr, p.explain
		p.mu.Unlock()
		if next, ok := p.acks.committable(); ok && tr != nil && p.finished.Load() && next == p.committed.Load() && next == p.position.Load() {
			s.kept[key] = &kept{tr: tr, next: next, explain: explain}
		}
	}
	s.mu.Unlock()
}

// commit commits every partition's committable offset that moved.
func (s *Service) commit(gen *kafkago.Generation, parts []*partition) {
	offs := map[string]map[int]int64{}
	var moved []*partition
	for _, p := range parts {
		off, ok := p.acks.committable()
		if !ok || off <= p.committed.Load() {
			continue
		}
		if offs[p.topic] == nil {
			offs[p.topic] = map[int]int64{}
		}
		offs[p.topic][p.part] = off
		moved = append(moved, p)
	}
	if len(moved) == 0 {
		return
	}
	if err := gen.CommitOffsets(offs); err != nil {
		s.c.commitErrors.Add(1)
		s.log.Warn("commit failed; the offsets will be committed later or re-read by the next owner", "generation", gen.ID, "err", err)
		return
	}
	s.c.commits.Add(1)
	for _, p := range moved {
		p.committed.Store(offs[p.topic][p.part])
	}
}

func describe(parts []*partition) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s/%d@%d", p.topic, p.part, p.start)
	}
	return b.String()
}

// partition is one assigned partition of one generation.
type partition struct {
	s         *Service
	topic     string
	part      int
	start     int64 // committed offset at assignment (negative: none)
	acks      *acks
	committed atomic.Int64 // last offset committed (-1 none)

	// Progress, readable by Stats (atomics).
	replayFrom, liveFrom atomic.Int64
	position             atomic.Int64 // next offset to process
	highWater            atomic.Int64 // from the last fetch
	rebuilding           atomic.Bool

	resume   *kept       // windows kept from the last generation (nil: rebuild)
	finished atomic.Bool // run returned after a complete drain

	mu      sync.Mutex // guards tr for Stats
	tr      *Tracker
	explain map[string]map[string]bool // campaign id -> record ids submitted
}

func newPartition(s *Service, topic string, part int, committed int64) *partition {
	p := &partition{s: s, topic: topic, part: part, start: committed, acks: newAcks()}
	p.committed.Store(committed)
	p.liveFrom.Store(-1)
	p.replayFrom.Store(-1)
	p.position.Store(-1)
	p.highWater.Store(-1)
	return p
}

func (p *partition) trackerStats() (TrackerStats, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tr == nil {
		return TrackerStats{}, false
	}
	return p.tr.Stats(), true
}

// run reads the partition from its look-back start until ctx ends, then
// drains (unless aborted).
func (p *partition) run(ctx context.Context) {
	s := p.s
	log := s.log.With("topic", p.topic, "partition", p.part)
	var start, live int64
	var tr *Tracker
	if k := p.resume; k != nil {
		// This member had the partition in the last generation and
		// committed everything it processed: its windows are exact.
		start, live, tr = k.next, k.next, k.tr
		p.explain = k.explain
		log.Info("partition kept: windows carried over", "committed", p.start)
	} else {
		for attempt := 0; ; attempt++ {
			var err error
			start, live, err = s.startOffsets(ctx, p.topic, p.part, p.start)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			log.Warn("cannot find the look-back offset; retrying", "err", err)
			if !sleepCtx(ctx, min(time.Duration(attempt+1)*500*time.Millisecond, 5*time.Second)) {
				return
			}
		}
		if start < live {
			s.c.rebuilds.Add(1)
		}
		log.Info("partition taken: rebuilding the windows", "committed", p.start, "replay_from", start, "publish_from", live)
		tr = NewTracker(s.rules, s.cfg.Campaigns, s.explain != nil)
	}
	p.replayFrom.Store(start)
	p.liveFrom.Store(live)
	p.position.Store(start)
	p.acks.reset(start)
	p.rebuilding.Store(start < live)
	p.mu.Lock()
	p.tr = tr
	p.mu.Unlock()

	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: s.cfg.Input.Brokers, Topic: p.topic, Partition: p.part, Dialer: s.dialer,
		MinBytes: 1, MaxBytes: s.cfg.Input.MaxBytes, MaxWait: s.cfg.Input.MaxWait,
		ReadBackoffMin: 100 * time.Millisecond, ReadBackoffMax: time.Second,
		ErrorLogger: kafkago.LoggerFunc(func(f string, a ...any) { log.Debug("kafka-go reader: " + fmt.Sprintf(f, a...)) }),
	})
	defer r.Close()
	if err := r.SetOffset(start); err != nil {
		log.Error("cannot seek", "offset", start, "err", err)
		return
	}
	var rep reporter
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			rep.report(log, "fetch", "fetch failed; retrying", "err", err)
			if !sleepCtx(ctx, 200*time.Millisecond) {
				break
			}
			continue
		}
		if !p.handle(ctx, tr, &m, live, log, &rep) {
			break
		}
	}
	if s.abort.Load() {
		return
	}
	// Drain: wait for the acknowledgements of what was published, so the
	// final commit covers it.
	dctx, cancel := context.WithTimeout(context.Background(), s.cfg.Input.DrainTimeout)
	defer cancel()
	if err := s.out.Flush(dctx); err != nil {
		log.Warn("drain: the sink did not flush; what it holds is published again by the next owner", "err", err)
		return
	}
	p.finished.Store(true)
}

// handle processes one message; false stops the partition.
func (p *partition) handle(ctx context.Context, tr *Tracker, m *kafkago.Message, live int64, log *slog.Logger, rep *reporter) bool {
	s := p.s
	s.c.records.Add(1)
	p.highWater.Store(m.HighWaterMark)
	p.position.Store(m.Offset + 1)
	if m.Offset >= live && p.rebuilding.Load() {
		p.rebuilding.Store(false)
		log.Info("windows rebuilt; publishing", "offset", m.Offset, "replayed", m.Offset-p.replayFrom.Load())
	}
	var sensor string
	for _, h := range m.Headers {
		if h.Key == kafka.HeaderSensor {
			sensor = string(h.Value)
		}
	}
	in, err := DecodeInput(m.Value, sensor)
	if err != nil {
		if errors.Is(err, ErrNotEvidence) {
			s.c.ignored.Add(1)
		} else {
			s.c.bad.Add(1)
			rep.report(log, "bad", "skipping a record that is not a detection or recon record", "offset", m.Offset, "err", err)
		}
		p.acks.processed(m.Offset)
		return true
	}
	p.mu.Lock()
	changed := tr.Add(in)
	p.mu.Unlock()
	if m.Offset < live {
		s.c.replayed.Add(1)
		p.acks.processed(m.Offset)
		return true
	}
	for _, c := range changed {
		rec := c.Record(s.rules)
		b, err := json.Marshal(rec)
		if err != nil { // cannot happen: plain values
			s.setFatal(fmt.Errorf("correlate: encode campaign %s: %w", c.ID, err))
			return false
		}
		p.acks.add(m.Offset)
		msg := sink.Message{Kind: sink.KindCampaign, Value: b, SourceIP: c.Host, Severity: rec.Aegis.Severity, ID: rec.Event.ID,
			Done: p.acks.doneFunc(m.Offset, s, log)}
		if err := s.out.Write(ctx, msg); err != nil {
			p.acks.cancel(m.Offset)
			if ctx.Err() == nil {
				s.setFatal(fmt.Errorf("correlate: publish campaign %s: %w", c.ID, err))
				log.Error("the sink refused a campaign record; stopping", "err", err)
			}
			return false
		}
		s.c.published.Add(1)
		if s.explain != nil {
			p.submit(c)
		}
	}
	p.acks.processed(m.Offset)
	return true
}

// submit hands the campaign's detection records the explainer has not had
// for this campaign yet.
func (p *partition) submit(c *Campaign) {
	if p.explain == nil {
		p.explain = map[string]map[string]bool{}
	}
	sent := p.explain[c.ID]
	if sent == nil {
		sent = map[string]bool{}
		p.explain[c.ID] = sent
		if len(p.explain) > 4*p.s.cfg.Campaigns.MaxHosts { // bounded memory: forget the oldest at random
			for id := range p.explain {
				if id != c.ID {
					delete(p.explain, id)
					break
				}
			}
		}
	}
	for _, in := range c.Evidence() {
		if in.Kind != schemas.StepDetection || sent[in.ID] || len(in.Raw) == 0 {
			continue
		}
		var rec schemas.Record
		if json.Unmarshal(in.Raw, &rec) != nil {
			continue
		}
		sent[in.ID] = true
		p.s.explain.Submit(&rec)
	}
}

// startOffsets finds where to start reading a partition whose committed
// offset is committed (negative: none) and from which offset to publish.
func (s *Service) startOffsets(ctx context.Context, topic string, part int, committed int64) (start, live int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Input.Timeout)
	defer cancel()
	var conn *kafkago.Conn
	for _, b := range s.cfg.Input.Brokers {
		if conn, err = s.dialer.DialLeader(ctx, "tcp", b, topic, part); err == nil {
			break
		}
	}
	if err != nil {
		return 0, 0, fmt.Errorf("dial the leader of %s/%d: %w", topic, part, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return 0, 0, fmt.Errorf("offsets of %s/%d: %w", topic, part, err)
	}
	lookback := s.cfg.Campaigns.Lookback
	switch {
	case committed < 0 && s.cfg.Input.Start == StartEarliest:
		return first, first, nil
	case committed < 0: // latest: rebuild from the look-back before now, publish what comes
		off, err := conn.ReadOffset(time.Now().Add(-lookback))
		if err != nil {
			return 0, 0, fmt.Errorf("offset by time of %s/%d: %w", topic, part, err)
		}
		if off < 0 || off > last {
			off = last
		}
		return max(off, first), last, nil
	case committed <= first:
		return first, committed, nil
	}
	// The Kafka timestamp of the last committed record, then the first
	// offset within the look-back before it.
	if _, err := conn.Seek(committed-1, kafkago.SeekAbsolute); err != nil {
		return 0, 0, fmt.Errorf("seek %s/%d: %w", topic, part, err)
	}
	m, err := conn.ReadMessage(s.cfg.Input.MaxBytes)
	if err != nil {
		return 0, 0, fmt.Errorf("read %s/%d@%d: %w", topic, part, committed-1, err)
	}
	off, err := conn.ReadOffset(m.Time.Add(-lookback))
	if err != nil {
		return 0, 0, fmt.Errorf("offset by time of %s/%d: %w", topic, part, err)
	}
	if off < 0 || off > committed {
		off = committed
	}
	return max(off, first), committed, nil
}

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
	mu   sync.Mutex
	last map[string]time.Time
}

func (r *reporter) report(log *slog.Logger, key, msg string, args ...any) {
	r.mu.Lock()
	if r.last == nil {
		r.last = map[string]time.Time{}
	}
	now := time.Now()
	if t, ok := r.last[key]; ok && now.Sub(t) < 10*time.Second {
		r.mu.Unlock()
		return
	}
	r.last[key] = now
	r.mu.Unlock()
	log.Warn(msg, args...)
}
