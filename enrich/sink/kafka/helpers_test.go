package kafka

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// envBrokers names real brokers (comma-separated) to run the tests that
// do not need kfake's fault injection against, e.g. a local Kafka or
// Redpanda. Topics are created per test with unique names.
const envBrokers = "AEGIS_TEST_KAFKA_BROKERS"

var tmpRoot string // removed by TestMain

func TestMain(m *testing.M) {
	var err error
	tmpRoot, err = os.MkdirTemp("", "aegis-kafka-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmpRoot)
	os.Exit(code)
}

// testKafka is a cluster for one test: kfake in-process, or the real
// cluster of $AEGIS_TEST_KAFKA_BROKERS.
type testKafka struct {
	addrs   []string
	fake    *kfake.Cluster // nil on a real cluster
	topics  map[sink.Kind]string
	kgoOpts []kgo.Opt // security options for test clients
}

// topicNames returns unique topic names for t, one per record kind.
func topicNames(t testing.TB) map[sink.Kind]string {
	base := strings.ToLower(t.Name())
	base = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '.'
	}, base)
	if len(base) > 80 {
		base = base[:80]
	}
	suffix := fmt.Sprintf("%06x", rand.IntN(1<<24))
	m := make(map[sink.Kind]string, len(sink.Kinds))
	for _, k := range sink.Kinds {
		m[k] = "aegis-test." + base + "." + string(k) + "." + suffix
	}
	return m
}

func topicList(m map[sink.Kind]string) []string {
	var ts []string
	for _, k := range sink.Kinds {
		ts = append(ts, m[k])
	}
	return ts
}

// newKafka returns a cluster whose topics (one per kind, partitions
// each) exist: $AEGIS_TEST_KAFKA_BROKERS when set, else a one-broker
// kfake on a random 127.0.0.1 port.
func newKafka(t testing.TB, partitions int32) *testKafka {
	t.Helper()
	if s := os.Getenv(envBrokers); s != "" {
		k := &testKafka{addrs: strings.Split(s, ","), topics: topicNames(t)}
		createTopics(t, k, partitions)
		return k
	}
	return newFake(t, partitions)
}

// newFake always returns kfake (for tests that configure or break the
// broker). opts add to NumBrokers(1) and the seeded topics.
func newFake(t testing.TB, partitions int32, opts ...kfake.Opt) *testKafka {
	t.Helper()
	k := &testKafka{topics: topicNames(t)}
	all := append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topicList(k.topics)...)}, opts...)
	c, err := kfake.NewCluster(all...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	k.fake = c
	k.addrs = c.ListenAddrs()
	return k
}

func createTopics(t testing.TB, k *testKafka, partitions int32) {
	t.Helper()
	cl := k.client(t)
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	for _, name := range topicList(k.topics) {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = name
		rt.NumPartitions = partitions
		rt.ReplicationFactor = -1
		req.Topics = append(req.Topics, rt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("create topics: %v", err)
	}
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 {
			t.Fatalf("create topic %s: error code %d", rt.Topic, rt.ErrorCode)
		}
	}
	// Wait until every broker's metadata has the topics with leaders.
	for {
		mreq := kmsg.NewPtrMetadataRequest()
		for _, name := range topicList(k.topics) {
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr(name)
			mreq.Topics = append(mreq.Topics, mt)
		}
		mresp, err := mreq.RequestWith(ctx, cl)
		ready := err == nil
		for _, mt := range mresp.Topics {
			if mt.ErrorCode != 0 || len(mt.Partitions) != int(partitions) {
				ready = false
			}
			for _, p := range mt.Partitions {
				if p.Leader < 0 {
					ready = false
				}
			}
		}
		if ready {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topics not ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// client returns a franz-go client (the consumer side of the tests).
func (k *testKafka) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	all := append([]kgo.Opt{kgo.SeedBrokers(k.addrs...), kgo.FetchMaxWait(100 * time.Millisecond)}, k.kgoOpts...)
	cl, err := kgo.NewClient(append(all, opts...)...)
	if err != nil {
		t.Fatalf("kgo: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// config returns a sink Config for k with test-friendly timings.
func (k *testKafka) config() Config {
	return Config{
		Brokers:         k.addrs,
		Topics:          k.topics,
		Sensor:          "sensor-test-1",
		BatchTimeout:    2 * time.Millisecond,
		RetryBackoffMin: 10 * time.Millisecond,
		RetryBackoffMax: 250 * time.Millisecond,
		DialTimeout:     3 * time.Second,
		WriteTimeout:    5 * time.Second,
		CloseTimeout:    10 * time.Second,
		MetadataMaxAge:  500 * time.Millisecond,
	}
}

// testLogger logs through t (visible with -v or on failure).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func newSink(t testing.TB, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// consumedRecord is one record read back from Kafka.
type consumedRecord struct {
	partition int32
	offset    int64
	key       string
	value     []byte
	headers   map[string]string
}

// topicSize sums the end offsets of topic's partitions.
func topicSize(ctx context.Context, t testing.TB, cl *kgo.Client, topic string) int64 {
	t.Helper()
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("metadata %s: %v", topic, err)
	}
	lreq := kmsg.NewPtrListOffsetsRequest()
	lreq.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, mt := range mresp.Topics {
		if mt.ErrorCode != 0 {
			t.Fatalf("metadata %s: error code %d", topic, mt.ErrorCode)
		}
		for _, p := range mt.Partitions {
			lp := kmsg.NewListOffsetsRequestTopicPartition()
			lp.Partition = p.Partition
			lp.Timestamp = -1 // latest
			lt.Partitions = append(lt.Partitions, lp)
		}
	}
	lreq.Topics = append(lreq.Topics, lt)
	lresp, err := lreq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("list offsets %s: %v", topic, err)
	}
	var n int64
	for _, rt := range lresp.Topics {
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("list offsets %s/%d: error code %d", topic, p.Partition, p.ErrorCode)
			}
			n += p.Offset
		}
	}
	return n
}

// consume reads every record of topic from the beginning (the topic's
// size is taken from its end offsets first).
func consume(t testing.TB, k *testKafka, topic string) []consumedRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl := k.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	size := topicSize(ctx, t, cl, topic)
	var out []consumedRecord
	for int64(len(out)) < size {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: %d of %d records before timeout", topic, len(out), size)
		}
		for _, e := range fs.Errors() {
			t.Fatalf("consume %s: %v", topic, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			h := make(map[string]string, len(r.Headers))
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			out = append(out, consumedRecord{partition: r.Partition, offset: r.Offset, key: string(r.Key), value: r.Value, headers: h})
		})
	}
	return out
}

// --- records -------------------------------------------------------------

var update = flag.Bool("update", false, "regenerate testdata/replay.jsonl.gz: build cmd/aegis and run 'aegis analyze --all' on testdata/synth")

const replayGolden = "testdata/replay.jsonl.gz"

// replay holds the records 'aegis analyze --all' writes for the bundled
// synthetic capture (testdata/synth), from the golden file.
var replay struct {
	once  sync.Once
	lines [][]byte
	recs  []schemas.Record
	err   error
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// regenerateReplay runs the real pipeline (cmd/aegis analyze) over
// testdata/synth and stores its output as the golden file.
func regenerateReplay() error {
	root, err := filepath.Abs("../../..")
	if err != nil {
		return err
	}
	bin := filepath.Join(tmpRoot, "aegis")
	build := exec.Command(goTool(), "build", "-o", bin, "./cmd/aegis")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/aegis: %v\n%s", err, out)
	}
	// Relative paths: records name their IDS source file, and the golden
	// must not depend on where the repository is.
	run := exec.Command(bin, "analyze", "--quiet", "--all",
		"--pcap", "testdata/synth/traffic.pcap",
		"--zeek", "testdata/synth/conn.log", "--zeek", "testdata/synth/ssl.log")
	run.Dir = root
	var stderr bytes.Buffer
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		return fmt.Errorf("aegis analyze: %v\n%s", err, stderr.Bytes())
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(out)
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(replayGolden, gz.Bytes(), 0o644)
}

// replayRecords returns the replayed run's records, raw (as analyze wrote
// them) and decoded.
func replayRecords(t testing.TB) ([][]byte, []schemas.Record) {
	t.Helper()
	replay.once.Do(func() {
		if *update {
			if replay.err = regenerateReplay(); replay.err != nil {
				return
			}
		}
		f, err := os.Open(replayGolden)
		if err != nil {
			replay.err = err
			return
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			replay.err = err
			return
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := bytes.Clone(sc.Bytes())
			var r schemas.Record
			if err := json.Unmarshal(line, &r); err != nil {
				replay.err = fmt.Errorf("%s: %v", replayGolden, err)
				return
			}
			replay.lines = append(replay.lines, line)
			replay.recs = append(replay.recs, r)
		}
		if replay.err = sc.Err(); replay.err == nil && len(replay.lines) == 0 {
			replay.err = fmt.Errorf("%s holds no records", replayGolden)
		}
	})
	if replay.err != nil {
		t.Fatalf("replay records: %v (regenerate with go test -run TestReplay -update)", replay.err)
	}
	return replay.lines, replay.recs
}

// testRecord is one record to send and what to expect of it.
type testRecord struct {
	value []byte
	rec   schemas.Record
	noCID bool // the message carries no Community ID (key falls back to the source IP)
}

// communityID is the Community ID the record's message carries.
func (tr *testRecord) communityID() string {
	if tr.noCID {
		return ""
	}
	return tr.rec.Network.CommunityID
}

// id returns a deterministic 32-hex-digit record id for (seed, i).
func id(seed string, i int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", seed, i))
	return hex.EncodeToString(h[:16])
}

// synthRecords derives n schema-valid records from the replayed ones:
// new ids, sources spread over hosts source hosts (some IPv6), and every
// seventh message without its Community ID (to exercise the key
// fallback).
func synthRecords(t testing.TB, base []schemas.Record, n, hosts int, seed string) []testRecord {
	t.Helper()
	out := make([]testRecord, 0, n)
	for i := range n {
		r := base[i%len(base)]
		r.Event.ID = id(seed, i)
		if h := i % hosts; h%5 == 4 {
			r.Source.IP = fmt.Sprintf("2001:db8:aa::%x", h)
		} else {
			r.Source.IP = fmt.Sprintf("10.77.%d.%d", h/250, h%250+1)
		}
		b, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, testRecord{value: b, rec: r, noCID: i%7 == 3})
	}
	return out
}

// message builds the sink message of a test record.
func message(kind sink.Kind, tr *testRecord, done func(error)) sink.Message {
	return sink.Message{
		Kind: kind, Value: tr.value, Record: &tr.rec,
		SourceIP: tr.rec.Source.IP, CommunityID: tr.communityID(),
		Severity: tr.rec.Aegis.Severity, ID: tr.rec.Event.ID, Done: done,
	}
}

// doneTracker records every Done call and fails the test on a second
// call for one id.
type doneTracker struct {
	t    testing.TB
	mu   sync.Mutex
	errs map[string]error
	n    int
	ch   chan struct{} // closed when n reaches want
	want int
}

func newDoneTracker(t testing.TB, want int) *doneTracker {
	return &doneTracker{t: t, errs: make(map[string]error), ch: make(chan struct{}), want: want}
}

func (d *doneTracker) fn(id string) func(error) {
	return func(err error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if _, dup := d.errs[id]; dup {
			d.t.Errorf("Done called twice for %s", id)
			return
		}
		d.errs[id] = err
		d.n++
		if d.n == d.want {
			close(d.ch)
		}
	}
}

func (d *doneTracker) wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-d.ch:
	case <-time.After(timeout):
		d.mu.Lock()
		defer d.mu.Unlock()
		t.Fatalf("only %d of %d Done calls within %v", d.n, d.want, timeout)
	}
}

func (d *doneTracker) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// failures returns the ids whose Done got an error.
func (d *doneTracker) failures() map[string]error {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := make(map[string]error)
	for id, err := range d.errs {
		if err != nil {
			f[id] = err
		}
	}
	return f
}

// verifyTopic checks what Kafka holds in topic against sent (in the order
// written): every record exactly once, unchanged and schema-valid, keyed
// by the expected key, on the partition Kafka's murmur2 partitioner (as
// implemented by franz-go, independently of kafka-go) picks for that key,
// in write order per key, with the Aegis headers.
func verifyTopic(t testing.TB, k *testKafka, topic string, kind sink.Kind, key KeyField, sent []testRecord, partitions int) {
	t.Helper()
	got := consume(t, k, topic)
	if len(got) != len(sent) {
		t.Errorf("topic %s holds %d records, want %d", topic, len(got), len(sent))
	}
	wantKey := func(r *testRecord) string {
		if key == KeyCommunityID && r.communityID() != "" {
			return r.communityID()
		}
		return r.rec.Source.IP
	}
	order := make(map[string]int, len(sent)) // id -> index in sent
	for i := range sent {
		order[sent[i].rec.Event.ID] = i
	}
	part := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	seen := make(map[string]bool, len(got))
	lastByKey := make(map[string]int)
	partByKey := make(map[string]int32)
	bad := 0
	for _, c := range got {
		if bad > 10 {
			t.Fatal("too many errors")
		}
		var r struct {
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
		}
		if err := json.Unmarshal(c.value, &r); err != nil {
			t.Errorf("offset %d/%d: value is not JSON: %v", c.partition, c.offset, err)
			bad++
			continue
		}
		if err := schemacheck.ValidateJSON(c.value); err != nil {
			t.Errorf("record %s fails the schema: %v", r.Event.ID, err)
			bad++
		}
		i, ok := order[r.Event.ID]
		if !ok {
			t.Errorf("record %s was never sent", r.Event.ID)
			bad++
			continue
		}
		if seen[r.Event.ID] {
			t.Errorf("record %s arrived twice", r.Event.ID)
			bad++
		}
		seen[r.Event.ID] = true
		s := &sent[i]
		if !bytes.Equal(c.value, s.value) {
			t.Errorf("record %s: value changed on the way", r.Event.ID)
			bad++
		}
		if want := wantKey(s); c.key != want {
			t.Errorf("record %s: key %q, want %q", r.Event.ID, c.key, want)
			bad++
		}
		if p := part.Partition(&kgo.Record{Key: []byte(c.key)}, partitions); int32(p) != c.partition {
			t.Errorf("record %s (key %s) on partition %d; murmur2 says %d", r.Event.ID, c.key, c.partition, p)
			bad++
		}
		if p, ok := partByKey[c.key]; ok && p != c.partition {
			t.Errorf("key %s on partitions %d and %d", c.key, p, c.partition)
		}
		partByKey[c.key] = c.partition
		if last, ok := lastByKey[c.key]; ok && last > i {
			t.Errorf("key %s: record %d (%s) after record %d", c.key, i, r.Event.ID, last)
			bad++
		}
		lastByKey[c.key] = i
		for h, want := range map[string]string{HeaderSchemaVersion: schemas.SchemaVersion, HeaderKind: string(kind), HeaderSensor: "sensor-test-1"} {
			if c.headers[h] != want {
				t.Errorf("record %s: header %s = %q, want %q", r.Event.ID, h, c.headers[h], want)
				bad++
			}
		}
	}
	for i := range sent {
		if !seen[sent[i].rec.Event.ID] {
			t.Errorf("record %s (#%d) never arrived", sent[i].rec.Event.ID, i)
			if bad++; bad > 10 {
				t.Fatal("too many errors")
			}
		}
	}
}

// writeAll writes records in order and waits until each one's Done was
// called; it fails the test on any Done error.
func writeAll(t testing.TB, s *Sink, kind sink.Kind, recs []testRecord) {
	t.Helper()
	d := newDoneTracker(t, len(recs))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range recs {
		if err := s.Write(ctx, message(kind, &recs[i], d.fn(recs[i].rec.Event.ID))); err != nil {
			t.Fatalf("Write #%d: %v", i, err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	// Flush returned: every Done has run.
	if n := d.count(); n != len(recs) {
		t.Fatalf("after Flush, %d of %d Done calls", n, len(recs))
	}
	for id, err := range d.failures() {
		t.Errorf("record %s: Done(%v)", id, err)
	}
}
