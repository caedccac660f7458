package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/aegis-nsm/aegis/enrich/sink/sinktest"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// fixtureRecords are the shared fixture records (sinktest).
func fixtureRecords(t testing.TB) []*schemas.Record { return sinktest.Records(t) }

func idOf(i int) string { return fmt.Sprintf("%032x", i) }

func messageOf(t testing.TB, r *schemas.Record) sink.Message {
	v, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return sink.Message{Kind: sink.KindDetection, Value: v, Record: r, SourceIP: r.Source.IP,
		CommunityID: r.Network.CommunityID, Severity: r.Aegis.Severity, ID: r.Event.ID}
}

// messages returns n detection messages with ids idOf(0..n-1); done (may be
// nil) makes each message's Done.
func messages(t testing.TB, n int, done func(id string) func(error)) []sink.Message {
	t.Helper()
	recs := fixtureRecords(t)
	out := make([]sink.Message, n)
	for i := range out {
		r := *recs[i%len(recs)]
		r.Event.ID = idOf(i)
		out[i] = messageOf(t, &r)
		if done != nil {
			out[i].Done = done(r.Event.ID)
		}
	}
	return out
}

// tracker counts Done calls per message id.
type tracker struct {
	mu    sync.Mutex
	calls map[string]int
	errs  map[string]error
}

func newTracker() *tracker { return &tracker{calls: map[string]int{}, errs: map[string]error{}} }

func (tr *tracker) done(id string) func(error) {
	return func(err error) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.calls[id]++
		if err != nil {
			tr.errs[id] = err
		}
	}
}

func (tr *tracker) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, c := range tr.calls {
		n += c
	}
	return n
}

// check asserts each of ids 0..n-1 got exactly one Done, an error iff
// wantErr.
func (tr *tracker) check(t *testing.T, n int, wantErr bool) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i := range n {
		id := idOf(i)
		if c := tr.calls[id]; c != 1 {
			t.Errorf("message %s: Done called %d times, want exactly once", id, c)
		}
		if err := tr.errs[id]; (err != nil) != wantErr {
			t.Errorf("message %s: Done(%v), want error=%v", id, err, wantErr)
		}
	}
	if len(tr.calls) != n {
		t.Errorf("Done called for %d ids, want %d", len(tr.calls), n)
	}
}

// receiver is a webhook endpoint: it verifies every request's signature,
// counts attempts and deliveries per record id, and fails as told.
type receiver struct {
	t      *testing.T
	secret []byte

	// failFirst makes the first failFirst attempts of each record fail
	// with status (and Retry-After when set); failFirst < 0 fails all.
	failFirst  int
	status     int
	retryAfter string
	// block makes every request wait until the client gives up (its
	// context ends) or release is closed.
	block   bool
	release chan struct{}

	mu        sync.Mutex
	attempts  map[string]int
	delivered map[string]int
	bodies    map[string][]byte
	headers   map[string]http.Header
	badSigs   int
}

func newReceiver(t *testing.T, secret string) *receiver {
	return &receiver{t: t, secret: []byte(secret), status: http.StatusServiceUnavailable, release: make(chan struct{}),
		attempts: map[string]int{}, delivered: map[string]int{}, bodies: map[string][]byte{}, headers: map[string]http.Header{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	id := r.Header.Get(HeaderRecordID)
	rc.mu.Lock()
	rc.attempts[id]++
	n := rc.attempts[id]
	rc.headers[id] = r.Header.Clone()
	if len(rc.secret) > 0 {
		if err := VerifyAt(rc.secret, body, r.Header, time.Now(), 5*time.Minute); err != nil {
			rc.badSigs++
			rc.t.Errorf("record %s attempt %d: %v", id, n, err)
		}
	}
	rc.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		rc.t.Errorf("%s with content type %q", r.Method, r.Header.Get("Content-Type"))
	}
	if rc.block {
		select {
		case <-r.Context().Done():
		case <-rc.release:
		}
		return
	}
	if rc.failFirst < 0 || n <= rc.failFirst {
		if rc.retryAfter != "" {
			w.Header().Set("Retry-After", rc.retryAfter)
		}
		if rc.status >= 300 && rc.status < 400 {
			w.Header().Set("Location", "https://elsewhere.example/secret-path")
		}
		w.WriteHeader(rc.status)
		fmt.Fprintf(w, "failing attempt %d\n", n)
		return
	}
	rc.mu.Lock()
	rc.delivered[id]++
	rc.bodies[id] = body
	rc.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (rc *receiver) snapshot() (attempts, delivered map[string]int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	attempts, delivered = map[string]int{}, map[string]int{}
	for k, v := range rc.attempts {
		attempts[k] = v
	}
	for k, v := range rc.delivered {
		delivered[k] = v
	}
	return attempts, delivered
}

// start runs rc as an httptest server, closed at the end of the test.
func (rc *receiver) start() *httptest.Server {
	srv := httptest.NewServer(rc)
	rc.t.Cleanup(func() {
		select {
		case <-rc.release:
		default:
			close(rc.release)
		}
		srv.Close()
	})
	return srv
}

// secretFile writes secret (with a trailing newline, as editors do) to a
// file in a temporary directory.
func secretFile(t *testing.T, secret string) string {
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fastConfig is a config with tiny backoffs for url.
func fastConfig(t *testing.T, url string) Config {
	return Config{
		URL: url, Timeout: 5 * time.Second, MaxAttempts: 4,
		BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond, MaxRetryAfter: time.Millisecond,
		DeadLetter: filepath.Join(t.TempDir(), "dlq", "webhook.dlq.jsonl"), CloseTimeout: 10 * time.Second,
	}
}

// dlqLines reads the dead-letter file.
func dlqLines(t *testing.T, path string) []DeadLetterRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []DeadLetterRecord
	for l := range bytes.Lines(b) {
		var d DeadLetterRecord
		if err := json.Unmarshal(l, &d); err != nil {
			t.Fatalf("dead-letter line %q: %v", l, err)
		}
		out = append(out, d)
	}
	return out
}

// writeAll writes msgs and closes s.
func writeAll(t *testing.T, s *Sink, msgs []sink.Message) {
	t.Helper()
	for _, m := range msgs {
		if err := s.Write(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// presetMessages are the preset test inputs: the fixtures, one of them
// with a hostile server name and reason, and a verdict.
func presetMessages(t *testing.T) []sink.Message {
	recs := fixtureRecords(t)
	var msgs []sink.Message
	for _, r := range recs {
		msgs = append(msgs, messageOf(t, r))
	}
	h := *recs[0]
	h.Event.ID = "0123456789abcdef0123456789abcdef"
	h.TLS = &schemas.TLS{Client: schemas.TLSClient{ServerName: "<!channel> [click](http://evil.example) <http://evil|x> & *b* _i_ `c`\\ ~s~"}}
	h.Aegis.Reasons = append([]string{"server name \"<!here>\" quoted from the wire"}, h.Aegis.Reasons...)
	h.Aegis.Severity = "critical"
	msgs = append(msgs, messageOf(t, &h))
	msgs = append(msgs, sink.Message{
		Kind:     sink.KindVerdict,
		Value:    []byte(`{"@timestamp":"2026-03-02T09:06:00Z","host":"10.20.0.62","intent":"data staging"}`),
		SourceIP: "10.20.0.62", Severity: "high", ID: "f00dfeedf00dfeedf00dfeedf00dfeed",
	})
	return msgs
}

// golden compares got with testdata/golden/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after a deliberate change and review the diff)\ngot:\n%s", path, got)
	}
}
