package correlate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/enrich/sink/kafka"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

const (
	testPartitions = 6
	testGroup      = "aegis-correlate-test"
)

// cluster is a three-broker kfake with the Aegis topics (six partitions
// each) on random 127.0.0.1 ports.
type cluster struct {
	fake   *kfake.Cluster
	addrs  []string
	topics map[sink.Kind]string
}

func newCluster(t testing.TB) *cluster {
	t.Helper()
	c := &cluster{topics: map[sink.Kind]string{}}
	var names []string
	for _, k := range sink.Kinds {
		c.topics[k] = "aegis-test." + string(k)
		names = append(names, c.topics[k])
	}
	f, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(testPartitions, names...), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(f.Close)
	c.fake, c.addrs = f, f.ListenAddrs()
	return c
}

// sinkConfig is a Kafka sink configuration for sensor with test timings.
func (c *cluster) sinkConfig(sensor string) kafka.Config {
	return kafka.Config{
		Brokers: c.addrs, Topics: c.topics, Sensor: sensor,
		BatchTimeout: 2 * time.Millisecond, RetryBackoffMin: 10 * time.Millisecond, RetryBackoffMax: 250 * time.Millisecond,
		DialTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second, CloseTimeout: 10 * time.Second, MetadataMaxAge: 500 * time.Millisecond,
	}
}

func (c *cluster) newSink(t testing.TB, sensor string) *kafka.Sink {
	t.Helper()
	s, err := kafka.New(c.sinkConfig(sensor), quietLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// client is a franz-go client for reading back and inspecting.
func (c *cluster) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addrs...), kgo.FetchMaxWait(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// config is a correlate configuration with timings for tests.
func (c *cluster) config() Config {
	cfg := DefaultConfig()
	cfg.Input.Brokers = c.addrs
	cfg.Input.Topics = []string{c.topics[sink.KindDetection]}
	cfg.Input.GroupID = testGroup
	// Generous timeouts: a member that misses its session under CPU
	// starvation is evicted without committing, and its successor
	// publishes again what it did not commit (correct, but not "each
	// version once"). Tests that kill a member shorten its session.
	cfg.Input.SessionTimeout = 20 * time.Second
	cfg.Input.HeartbeatInterval = 250 * time.Millisecond
	cfg.Input.RebalanceTimeout = 40 * time.Second
	cfg.Input.DrainTimeout = 30 * time.Second
	cfg.Input.JoinBackoff = 250 * time.Millisecond
	cfg.Input.CommitInterval = 200 * time.Millisecond
	cfg.Input.MaxWait = 100 * time.Millisecond
	cfg.Input.DialTimeout = 10 * time.Second
	cfg.Input.Timeout = 15 * time.Second
	return cfg
}

// quietLogger logs warnings and errors through t, and nothing once the
// test is over (the group's goroutines may outlive a killed instance).
func quietLogger(t testing.TB) *slog.Logger {
	w := &guardedWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type guardedWriter struct {
	t    testing.TB
	done atomic.Bool
}

func (w *guardedWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// instance is one running 'aegis correlate'.
type instance struct {
	svc    *Service
	out    *kafka.Sink
	cancel context.CancelFunc
	done   chan error
	cut    *cutter
}

// cutter makes the connections of one instance, and can cut them all at
// once and refuse new ones: the network view of a crash.
type cutter struct {
	mu    sync.Mutex
	conns []net.Conn
	dead  bool
}

func (c *cutter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return nil, fmt.Errorf("dial %s: connection refused (instance killed)", addr)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dead = true
	for _, conn := range c.conns {
		conn.Close()
	}
}

func (c *cluster) start(t testing.TB, name string, cfg Config) *instance {
	t.Helper()
	out := c.newSink(t, name)
	cut := &cutter{}
	svc, err := New(cfg, testRules(t), out, quietLogger(t).With("instance", name), withDialFunc(cut.dial))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{svc: svc, out: out, cancel: cancel, done: make(chan error, 1), cut: cut}
	go func() { in.done <- svc.Run(ctx) }()
	t.Cleanup(func() { in.stop(t) })
	return in
}

// stop stops the instance gracefully (drain, commit, leave).
func (in *instance) stop(t testing.TB) {
	in.cancel()
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		in.done <- nil
	case <-time.After(30 * time.Second):
		t.Errorf("instance did not stop")
	}
}

// kill stops the instance as a crash would: no drain, no commit, no
// goodbye to the group; its connections die.
func (in *instance) kill(t testing.TB) {
	in.svc.abort.Store(true)
	in.cut.cut()
	in.cancel()
	select {
	case <-in.done:
		in.done <- nil
	case <-time.After(15 * time.Second):
		t.Fatalf("killed instance did not return")
	}
}

// sensorRecord is one record a simulated sensor publishes.
type sensorRecord struct {
	sensor   string
	host     string
	id       string
	value    []byte
	end      time.Time
	evidence bool // a detection or recon record (not an analysed flow)
}

// expectation is one campaign the test must see.
type expectation struct {
	host     string
	id       string
	version  int      // final version
	evidence []string // record ids of the final version, in step order
}

// fleet is the test's traffic: 50 hosts seen by three sensors. Every
// fifth host runs a campaign (recon at sensor-a, an agent shell at
// sensor-b, an LLM stream at sensor-c within the window, in one of three
// arrival orders); the others make noise: LLM streams only, shells without
// recon, recon without agent activity, recon and a shell too far apart.
// Every host also streams from sensor-c now and then.
type fleet struct {
	hosts  [][]sensorRecord // per host, in publishing order
	expect map[string]expectation
}

func newFleet(t testing.TB, n int) *fleet {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, 1))
	f := &fleet{expect: map[string]expectation{}}
	spanStart := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	enc := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i := range n {
		h := fmt.Sprintf("10.50.%d.%d", i/100, i%100+1)
		base := time.Duration(rng.IntN(20)) * time.Minute
		rec := func(sensor string, v any, id string) sensorRecord {
			r := sensorRecord{sensor: sensor, host: h, id: id, value: enc(v), evidence: true}
			switch v := v.(type) {
			case *schemas.Record:
				r.end, _ = time.Parse(time.RFC3339Nano, v.Event.End)
				r.evidence = v.Aegis.Class.IsDetection()
			case *schemas.Recon:
				r.end, _ = time.Parse(time.RFC3339Nano, v.Event.End)
			}
			return r
		}
		rc := recon(t, "sensor-a", h, t0.Add(base), 30+rng.IntN(50))
		shell := detection(h+"/shell", h, schemas.ClassAgentShell, t0.Add(base+2*time.Minute), t0.Add(base+4*time.Minute), "10.60.0.9", 22)
		stream := detection(h+"/stream", h, schemas.ClassLLMStream, t0.Add(base+5*time.Minute), t0.Add(base+5*time.Minute+40*time.Second), "203.0.113.9", 443)
		R, S, L := rec("sensor-a", rc, rc.Event.ID), rec("sensor-b", shell, shell.Event.ID), rec("sensor-c", stream, stream.Event.ID)
		var recs []sensorRecord
		switch i % 5 {
		case 0:
			orders := [][]sensorRecord{{R, S, L}, {S, R, L}, {L, R, S}}
			recs = orders[(i/5)%3]
		case 1:
			recs = []sensorRecord{L}
		case 2:
			recs = []sensorRecord{S, L}
		case 3:
			recs = []sensorRecord{R, L}
		case 4:
			late := detection(h+"/late-shell", h, schemas.ClassAgentShell, t0.Add(base+24*time.Minute), t0.Add(base+26*time.Minute), "10.60.0.9", 22)
			recs = []sensorRecord{R, rec("sensor-b", late, late.Event.ID)}
		}
		// Noise streams and analysed flows that are not detections.
		for k := range 4 {
			at := t0.Add(base + time.Duration(k*3)*time.Minute)
			var d *schemas.Record
			if k == 3 {
				d = detection(fmt.Sprint(h, "/flow", k), h, schemas.ClassOther, at, at.Add(time.Second), "10.60.0.53", 53)
			} else {
				d = detection(fmt.Sprint(h, "/noise", k), h, schemas.ClassLLMStream, at, at.Add(20*time.Second), "203.0.113.7", 443)
			}
			pos := rng.IntN(len(recs) + 1)
			recs = slices.Insert(recs, pos, rec("sensor-c", d, d.Event.ID))
		}
		f.hosts = append(f.hosts, recs)
		if i%5 == 0 {
			f.expect[h] = expect(h, spanStart, recs, R.id, S.id, shell)
		}
	}
	return f
}

// expect is the reference for one campaign host: the campaign opens when
// both the recon and the shell have arrived, gathers every evidence record
// from W (10m) before the shell's start, and each evidence record arriving
// after the opening makes a new version.
func expect(h string, spanStart time.Time, recs []sensorRecord, reconID, shellID string, shell *schemas.Record) expectation {
	start, _ := time.Parse(time.RFC3339Nano, shell.Event.Start)
	from := start.Add(-10 * time.Minute)
	opened := max(slices.IndexFunc(recs, func(r sensorRecord) bool { return r.id == reconID }),
		slices.IndexFunc(recs, func(r sensorRecord) bool { return r.id == shellID }))
	var ev []sensorRecord
	version := 1
	for i, r := range recs {
		if !r.evidence || r.end.Before(from) {
			continue
		}
		ev = append(ev, r)
		if i > opened {
			version++
		}
	}
	slices.SortFunc(ev, func(a, b sensorRecord) int {
		if c := a.end.Compare(b.end); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	e := expectation{host: h, id: CampaignID(h, spanStart), version: version}
	for _, r := range ev {
		e.evidence = append(e.evidence, r.id)
	}
	return e
}

// publish writes the fleet's records, hosts concurrently, each host's in
// its order (the next is written once the previous is acknowledged), from
// the sensor that saw it. part selects the records: those of index in
// [from, to) within each host's list.
func (f *fleet) publish(t testing.TB, sensors map[string]*kafka.Sink, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(f.hosts))
	for _, recs := range f.hosts {
		wg.Go(func() {
			for i := from; i < min(to, len(recs)); i++ {
				r := recs[i]
				done := make(chan error, 1)
				err := sensors[r.sensor].Write(ctx, sink.Message{Kind: sink.KindDetection, Value: r.value, SourceIP: r.host, ID: r.id, Done: func(err error) { done <- err }})
				if err == nil {
					err = <-done
				}
				if err != nil {
					errs <- fmt.Errorf("publish %s: %w", r.id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func (c *cluster) sensors(t testing.TB) map[string]*kafka.Sink {
	out := map[string]*kafka.Sink{}
	for _, name := range []string{"sensor-a", "sensor-b", "sensor-c"} {
		out[name] = c.newSink(t, name)
	}
	return out
}

// endOffsets returns the end offset of each partition of topic.
func endOffsets(ctx context.Context, t testing.TB, cl *kgo.Client, topic string) map[int32]int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range int32(testPartitions) {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	out := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("list offsets %s/%d: error %d", topic, p.Partition, p.ErrorCode)
			}
			out[p.Partition] = p.Offset
		}
	}
	return out
}

// committedOffsets returns the group's committed offsets of topic.
func committedOffsets(ctx context.Context, t testing.TB, cl *kgo.Client, topic string) map[int32]int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = testGroup
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := range int32(testPartitions) {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil
	}
	out := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			out[p.Partition] = p.Offset
		}
	}
	return out
}

// waitCaughtUp waits until the group has committed every record of the
// detection topic (so every campaign record is acknowledged).
func (c *cluster) waitCaughtUp(t testing.TB, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cl := c.client(t)
	topic := c.topics[sink.KindDetection]
	end := endOffsets(ctx, t, cl, topic)
	for {
		got := committedOffsets(ctx, t, cl, topic)
		if maps.Equal(got, end) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the group did not catch up: committed %v, end %v", got, end)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// campaignRecord is one record read back from the campaign topic.
type campaignRecord struct {
	key, value []byte
	partition  int32
	headers    map[string]string
	c          schemas.Campaign
}

// readCampaigns reads the whole campaign topic; every record must be a
// schema-valid campaign keyed by its host.
func (c *cluster) readCampaigns(t testing.TB) []campaignRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := c.topics[sink.KindCampaign]
	cl := c.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var size int64
	for _, n := range endOffsets(ctx, t, cl, topic) {
		size += n
	}
	var out []campaignRecord
	for int64(len(out)) < size {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d campaign records", len(out), size)
		}
		fs.EachRecord(func(r *kgo.Record) {
			cr := campaignRecord{key: r.Key, value: r.Value, partition: r.Partition, headers: map[string]string{}}
			for _, h := range r.Headers {
				cr.headers[h.Key] = string(h.Value)
			}
			if err := schemacheck.ValidateCampaignJSON(r.Value); err != nil {
				t.Errorf("campaign record fails the schema: %v\n%s", err, r.Value)
			}
			if err := json.Unmarshal(r.Value, &cr.c); err != nil {
				t.Fatal(err)
			}
			if string(r.Key) != cr.c.Source.IP || cr.headers[kafka.HeaderKind] != string(sink.KindCampaign) {
				t.Errorf("campaign %s: key %q, headers %v", cr.c.Aegis.CampaignID, r.Key, cr.headers)
			}
			out = append(out, cr)
		})
	}
	return out
}

// final reduces campaign records to (campaign id -> final version and its
// evidence), checking that duplicates of one version are byte-identical
// and (when exact) that each version 1..final appears exactly once.
func final(t testing.TB, recs []campaignRecord, exact bool) map[string]expectation {
	t.Helper()
	byVersion := map[string]map[int][][]byte{}
	out := map[string]expectation{}
	for _, r := range recs {
		a := r.c.Aegis
		if byVersion[a.CampaignID] == nil {
			byVersion[a.CampaignID] = map[int][][]byte{}
		}
		byVersion[a.CampaignID][a.Version] = append(byVersion[a.CampaignID][a.Version], r.value)
		if r.c.Event.ID != EventID(a.CampaignID, a.Version) {
			t.Errorf("campaign %s v%d: event.id %s", a.CampaignID, a.Version, r.c.Event.ID)
		}
		if e, ok := out[a.CampaignID]; !ok || a.Version > e.version {
			out[a.CampaignID] = expectation{host: r.c.Source.IP, id: a.CampaignID, version: a.Version, evidence: a.RecordIDs}
		}
	}
	for id, vs := range byVersion {
		for v := 1; v <= out[id].version; v++ {
			copies := vs[v]
			switch {
			case len(copies) == 0:
				t.Errorf("campaign %s: version %d missing (final %d)", id, v, out[id].version)
			case exact && len(copies) > 1:
				t.Errorf("campaign %s: version %d published %d times", id, v, len(copies))
			}
			for _, c := range copies[min(1, len(copies)):] {
				if !bytes.Equal(c, copies[0]) {
					t.Errorf("campaign %s v%d: duplicates differ:\n%s\n%s", id, v, copies[0], c)
				}
			}
		}
	}
	return out
}

// checkCampaigns compares the final campaigns with the fleet's.
func checkCampaigns(t testing.TB, f *fleet, got map[string]expectation) {
	t.Helper()
	want := map[string]expectation{}
	for _, e := range f.expect {
		want[e.id] = e
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("campaign of %s (%s) missing", w.host, id)
			continue
		}
		if g.host != w.host || g.version != w.version || !slices.Equal(g.evidence, w.evidence) {
			t.Errorf("campaign of %s: v%d evidence %v, want v%d evidence %v", w.host, g.version, g.evidence, w.version, w.evidence)
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("unexpected campaign %s of %s (v%d, %v)", id, g.host, g.version, g.evidence)
		}
	}
}

// TestCorrelateTwoInstances: three sensors publish detections of 50 hosts;
// two instances in one group (the second joins while the first works,
// moving half the partitions) publish exactly the expected campaigns, each
// version once, every record schema-valid.
func TestCorrelateTwoInstances(t *testing.T) {
	c := newCluster(t)
	f := newFleet(t, 50)
	sensors := c.sensors(t)
	a := c.start(t, "correlate-1", c.config())
	f.publish(t, sensors, 0, 4)
	waitIdle(t, a)
	b := c.start(t, "correlate-2", c.config())
	waitShared(t, a, b)
	f.publish(t, sensors, 4, 100)
	c.waitCaughtUp(t, 90*time.Second)
	for _, in := range []*instance{a, b} {
		if err := in.out.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	recs := c.readCampaigns(t)
	checkCampaigns(t, f, final(t, recs, true))
	sa, sb := a.svc.Stats(), b.svc.Stats()
	t.Logf("instance 1: %d records, %d replayed, %d published, %d generations; instance 2: %d records, %d replayed, %d published; %d campaign records",
		sa.Records, sa.Replayed, sa.Published, sa.Generations, sb.Records, sb.Replayed, sb.Published, len(recs))
	if len(sb.Partitions) == 0 || len(sa.Partitions) == 0 {
		t.Errorf("partitions not shared: %d and %d", len(sa.Partitions), len(sb.Partitions))
	}
	if sa.Published+sb.Published != uint64(len(recs)) {
		t.Errorf("published %d+%d, topic holds %d", sa.Published, sb.Published, len(recs))
	}
	if sb.Rebuilds == 0 || sb.Replayed == 0 {
		t.Errorf("instance 2 rebuilt nothing (%d rebuilds, %d replayed): the rebalance path was not exercised", sb.Rebuilds, sb.Replayed)
	}
	for _, ps := range append(sa.Partitions, sb.Partitions...) {
		if ps.Lag != 0 {
			t.Errorf("partition %d: lag %d", ps.Partition, ps.Lag)
		}
	}
}

// TestCorrelateKillInstance: one instance dies mid-stream (no drain, no
// commit, connections cut: the group notices after the session timeout);
// the other takes its partitions, rebuilds the windows from the look-back
// and the final campaigns are the same as without the kill. Versions the
// dead instance published but did not commit are published again,
// byte-identical.
func TestCorrelateKillInstance(t *testing.T) {
	c := newCluster(t)
	f := newFleet(t, 50)
	sensors := c.sensors(t)
	cfg1 := c.config()
	cfg1.Input.CommitInterval = time.Hour       // commits only at rebalances: dies with work uncommitted
	cfg1.Input.SessionTimeout = 3 * time.Second // the group notices its death after 3 s
	// Instance 1 works alone, commits when instance 2 joins (the
	// rebalance), works on without committing, and dies.
	a := c.start(t, "correlate-1", cfg1)
	f.publish(t, sensors, 0, 3)
	waitIdle(t, a)
	b := c.start(t, "correlate-2", c.config())
	waitShared(t, a, b)
	before := a.svc.Stats().Published
	f.publish(t, sensors, 3, 6)
	waitIdle(t, a)
	published := a.svc.Stats().Published
	a.kill(t)
	rebuilds := b.svc.Stats().Rebuilds
	f.publish(t, sensors, 6, 100)
	c.waitCaughtUp(t, 90*time.Second)
	if err := b.out.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := c.readCampaigns(t)
	checkCampaigns(t, f, final(t, recs, false))
	sb := b.svc.Stats()
	t.Logf("instance 1 published %d before it died; instance 2: %d records, %d replayed, %d rebuilds, %d published; %d campaign records",
		published, sb.Records, sb.Replayed, sb.Rebuilds, sb.Published, len(recs))
	if published == before {
		t.Error("instance 1 published nothing uncommitted before it died: the kill proves nothing")
	}
	if len(sb.Partitions) != testPartitions {
		t.Errorf("instance 2 owns %d partitions, want all %d", len(sb.Partitions), testPartitions)
	}
	if sb.Rebuilds <= rebuilds || sb.Replayed == 0 {
		t.Errorf("instance 2 did not rebuild the dead instance's partitions (%d rebuilds before the kill, %d after, %d replayed)", rebuilds, sb.Rebuilds, sb.Replayed)
	}
	if len(recs) <= len(final(t, recs, false)) {
		t.Logf("no version was published twice")
	}
}

// waitShared waits until both instances own partitions.
func waitShared(t testing.TB, a, b *instance) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		pa, pb := a.svc.Stats().Partitions, b.svc.Stats().Partitions
		if len(pa) > 0 && len(pb) > 0 && len(pa)+len(pb) == testPartitions {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the instances did not share the partitions")
}

// waitIdle waits until every partition of in is read to its end.
func waitIdle(t testing.TB, in *instance) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		st := in.svc.Stats()
		idle := len(st.Partitions) > 0
		for _, p := range st.Partitions {
			idle = idle && p.HighWater >= 0 && p.Lag == 0 && p.Position >= p.PublishFrom
		}
		if idle && in.out.Stats().InFlight == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("instance did not catch up")
}

// TestStartOffsets: where a taken partition starts and publishes from:
// the look-back by Kafka timestamp before the committed offset, the
// beginning for an earliest start, the look-back before now (publishing
// from the end) for a latest start.
func TestStartOffsets(t *testing.T) {
	c := newCluster(t)
	topic := c.topics[sink.KindDetection]
	cl := c.client(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	now := time.Now()
	// Ten records on partition 0, 30 minutes apart, the last one now.
	for i := range 10 {
		r := &kgo.Record{Partition: 0, Value: []byte(fmt.Sprint(i)), Timestamp: now.Add(time.Duration(i-9) * 30 * time.Minute)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cfg := c.config()
	svc, err := New(cfg, testRules(t), &countingSink{}, quietLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	tests := []struct {
		name            string
		start           string
		committed       int64
		wantS, wantLive int64
	}{
		{"committed 8: look-back 2h before record 7", StartEarliest, 8, 3, 8},
		{"committed 10: look-back 2h before record 9", StartEarliest, 10, 5, 10},
		{"committed 1", StartEarliest, 1, 0, 1},
		{"committed 0", StartEarliest, 0, 0, 0},
		{"no commit, earliest", StartEarliest, -2, 0, 0},
		{"no commit, latest", StartLatest, -2, 6, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc.cfg.Input.Start = tt.start
			s, live, err := svc.startOffsets(context.Background(), topic, 0, tt.committed)
			if err != nil || s != tt.wantS || live != tt.wantLive {
				t.Errorf("startOffsets = %d, %d, %v; want %d, %d", s, live, err, tt.wantS, tt.wantLive)
			}
		})
	}
	bad := cfg
	bad.Input.Topics = []string{"no-such-topic"}
	svc2, _ := New(bad, testRules(t), &countingSink{}, quietLogger(t))
	if err := svc2.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "no-such-topic does not exist") {
		t.Errorf("Check of a missing topic: %v", err)
	}
}
