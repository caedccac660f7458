package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

// Interface check.
var _ sink.Sink = (*Sink)(nil)

const testSecret = "s3cr3t-hmac-key"

// TestRetryThenDeliver: an endpoint that fails the first attempts of every
// record gets each record exactly once, every attempt validly signed, from
// several writers at once.
func TestRetryThenDeliver(t *testing.T) {
	rc := newReceiver(t, testSecret)
	rc.failFirst = 2
	rc.retryAfter = "0"
	srv := rc.start()
	cfg := fastConfig(t, srv.URL+"/hook")
	cfg.SecretFile = secretFile(t, testSecret)
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 10
	tr := newTracker()
	msgs := messages(t, writers*each, tr.done)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for _, m := range msgs[w*each : (w+1)*each] {
				if err := s.Write(context.Background(), m); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.check(t, writers*each, false) // Flush returned: every Done was called
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	attempts, delivered := rc.snapshot()
	for i, m := range msgs {
		id := idOf(i)
		if attempts[id] != 3 || delivered[id] != 1 {
			t.Errorf("record %s: %d attempts, delivered %d times; want 3 and 1", id, attempts[id], delivered[id])
		}
		if !bytes.Equal(rc.bodies[id], m.Value) {
			t.Errorf("record %s: body is not the native record", id)
		}
		if rc.headers[id].Get(HeaderKind) != "detection" || rc.headers[id].Get("User-Agent") != userAgent {
			t.Errorf("record %s: headers %v", id, rc.headers[id])
		}
	}
	if rc.badSigs != 0 {
		t.Errorf("%d requests with a bad signature", rc.badSigs)
	}
	st := s.Stats()
	if st.Delivered != writers*each || st.Retries != 2*writers*each || st.Attempts != 3*writers*each || st.DeadLettered != 0 {
		t.Errorf("stats %+v", st)
	}
	if len(dlqLines(t, cfg.DeadLetter)) != 0 {
		t.Error("dead-letter file is not empty")
	}
}

// TestAlwaysFails: after max_attempts the record is dead-lettered (the
// file says what, when, how often and why) and Done gets the error, once.
func TestAlwaysFails(t *testing.T) {
	rc := newReceiver(t, "")
	rc.failFirst, rc.status = -1, http.StatusInternalServerError
	srv := rc.start()
	cfg := fastConfig(t, srv.URL)
	cfg.MaxAttempts = 3
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker()
	msgs := messages(t, 3, tr.done)
	before := time.Now()
	writeAll(t, s, msgs)
	tr.check(t, 3, true)
	for i := range msgs {
		var de *DeliveryError
		err := tr.errs[idOf(i)]
		if !errors.As(err, &de) || de.Attempts != 3 || de.Status != 500 || !de.Retryable || de.DeadLetter != cfg.DeadLetter {
			t.Errorf("Done error %#v", err)
		}
		if !strings.Contains(err.Error(), "500") {
			t.Errorf("error %q does not give the status", err)
		}
	}
	attempts, delivered := rc.snapshot()
	dl := dlqLines(t, cfg.DeadLetter)
	if len(dl) != 3 {
		t.Fatalf("%d dead letters, want 3", len(dl))
	}
	byID := map[string]sink.Message{}
	for _, m := range msgs {
		byID[m.ID] = m
	}
	for _, d := range dl { // in completion order: the workers run in parallel
		m := byID[d.ID]
		if attempts[m.ID] != 3 || delivered[m.ID] != 0 {
			t.Errorf("record %s: %d attempts, %d deliveries", m.ID, attempts[m.ID], delivered[m.ID])
		}
		ts, err := time.Parse(time.RFC3339Nano, d.Time)
		if d.ID != m.ID || d.Kind != sink.KindDetection || d.Attempts != 3 || d.Status != 500 ||
			!strings.Contains(d.Error, "500 Internal Server Error") || !strings.Contains(d.Error, "failing attempt 3") ||
			err != nil || ts.Before(before.Add(-time.Second)) || d.Preset != "json" || d.Sink != s.Name() {
			t.Errorf("dead letter %+v", d)
		}
		if !bytes.Equal(d.Message, m.Value) {
			t.Errorf("dead letter %s does not hold the native record", m.ID)
		}
		if err := schemacheck.ValidateJSON(d.Message); err != nil {
			t.Errorf("dead-lettered record: %v", err)
		}
	}
	if st := s.Stats(); st.DeadLettered != 3 || st.Failed != 3 || st.Attempts != 9 {
		t.Errorf("stats %+v", st)
	}
	if fi, _ := os.Stat(cfg.DeadLetter); fi.Mode().Perm() != 0o640 {
		t.Errorf("dead-letter file mode %v", fi.Mode().Perm())
	}
}

// TestStatusClasses: which answers are retried and which dead-letter at
// once.
func TestStatusClasses(t *testing.T) {
	for _, c := range []struct {
		status    int
		attempts  int
		permanent bool
	}{
		{400, 1, false}, {401, 1, true}, {403, 1, true}, {404, 1, true}, {413, 1, false}, {422, 1, false},
		{302, 1, false}, {408, 3, false}, {429, 3, false}, {500, 3, false}, {502, 3, false}, {503, 3, false},
	} {
		t.Run(http.StatusText(c.status), func(t *testing.T) {
			rc := newReceiver(t, "")
			rc.failFirst, rc.status = -1, c.status
			srv := rc.start()
			cfg := fastConfig(t, srv.URL)
			cfg.MaxAttempts = 3
			s, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			tr := newTracker()
			writeAll(t, s, messages(t, 1, tr.done))
			tr.check(t, 1, true)
			attempts, _ := rc.snapshot()
			if attempts[idOf(0)] != c.attempts {
				t.Errorf("%d attempts, want %d", attempts[idOf(0)], c.attempts)
			}
			var pe *sink.PermanentError
			if errors.As(tr.errs[idOf(0)], &pe) != c.permanent {
				t.Errorf("error %v: permanent=%v, want %v", tr.errs[idOf(0)], !c.permanent, c.permanent)
			}
			if c.status == 302 && (!strings.Contains(tr.errs[idOf(0)].Error(), "configure the final URL") ||
				strings.Contains(tr.errs[idOf(0)].Error(), "secret-path")) {
				t.Errorf("redirect error %q", tr.errs[idOf(0)])
			}
			if dl := dlqLines(t, cfg.DeadLetter); len(dl) != 1 || dl[0].Attempts != c.attempts {
				t.Errorf("dead letters %+v", dl)
			}
		})
	}
}

// TestWaits checks the waits between attempts without sleeping: Retry-After
// (seconds and HTTP date) is honoured up to max_retry_after, and without it
// the backoff is full jitter under min(backoff_max, base*2^(n-1)).
func TestWaits(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name       string
		retryAfter string
		maxRA      time.Duration
		check      func(n int, d time.Duration) bool
	}{
		{"seconds", "7", time.Minute, func(_ int, d time.Duration) bool { return d == 7*time.Second }},
		{"http date", now.Add(30 * time.Second).Format(http.TimeFormat), time.Minute, func(_ int, d time.Duration) bool { return d == 30*time.Second }},
		{"capped", "3600", time.Minute, func(_ int, d time.Duration) bool { return d == time.Minute }},
		{"past date", now.Add(-time.Hour).Format(http.TimeFormat), time.Minute, func(_ int, d time.Duration) bool { return d == 0 }},
		{"jitter", "", time.Minute, func(n int, d time.Duration) bool {
			return d >= 0 && d <= min(time.Second, 100*time.Millisecond<<(n-1))
		}},
		{"garbage header: jitter", "soon", time.Minute, func(n int, d time.Duration) bool {
			return d >= 0 && d <= min(time.Second, 100*time.Millisecond<<(n-1))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := newReceiver(t, "")
			rc.failFirst, rc.status, rc.retryAfter = -1, http.StatusTooManyRequests, c.retryAfter
			srv := rc.start()
			cfg := fastConfig(t, srv.URL)
			cfg.MaxAttempts, cfg.MaxRetryAfter = 8, c.maxRA
			cfg.BackoffBase, cfg.BackoffMax = 100*time.Millisecond, time.Second
			s, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var waits []time.Duration
			s.now = func() time.Time { return now }
			s.sleep = func(ctx context.Context, d time.Duration) error {
				mu.Lock()
				waits = append(waits, d)
				mu.Unlock()
				return ctx.Err()
			}
			writeAll(t, s, messages(t, 1, nil))
			if len(waits) != 7 {
				t.Fatalf("%d waits, want 7", len(waits))
			}
			for i, d := range waits {
				if !c.check(i+1, d) {
					t.Errorf("wait %d: %v", i+1, d)
				}
			}
		})
	}
}

// TestTimeout: an endpoint that never answers costs one timeout per
// attempt, then the record is dead-lettered with the reason.
func TestTimeout(t *testing.T) {
	rc := newReceiver(t, "")
	rc.block = true
	srv := rc.start()
	cfg := fastConfig(t, srv.URL)
	cfg.Timeout, cfg.MaxAttempts = 30*time.Millisecond, 2
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker()
	writeAll(t, s, messages(t, 1, tr.done))
	tr.check(t, 1, true)
	err = tr.errs[idOf(0)]
	var de *DeliveryError
	if !errors.As(err, &de) || de.Attempts != 2 || de.Status != 0 || !strings.Contains(err.Error(), "no answer within the timeout of 30ms") {
		t.Errorf("Done error %v", err)
	}
	if attempts, _ := rc.snapshot(); attempts[idOf(0)] != 2 {
		t.Errorf("%d attempts reached the endpoint, want 2", attempts[idOf(0)])
	}
	if dl := dlqLines(t, cfg.DeadLetter); len(dl) != 1 || !strings.Contains(dl[0].Error, "timeout") {
		t.Errorf("dead letters %+v", dl)
	}
}

// TestSecretsNeverShown: the URL token, the HMAC secret and the routing key
// appear in no log line, error, name or dead letter, also for network
// errors.
func TestSecretsNeverShown(t *testing.T) {
	rc := newReceiver(t, "")
	srv := rc.start()
	deadURL := srv.URL + "/services/T000/B000/URLTOKEN123?sig=QUERYTOKEN"
	srv.Close() // connection refused from now on
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Setenv("AEGIS_TEST_RK", "ROUTINGKEY456")
	for _, preset := range Presets() {
		cfg := fastConfig(t, deadURL)
		cfg.Preset, cfg.MaxAttempts = preset, 2
		cfg.SecretFile = secretFile(t, "HMACSECRET789")
		cfg.RoutingKeyEnv = "AEGIS_TEST_RK"
		s, err := New(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		tr := newTracker()
		writeAll(t, s, messages(t, 1, tr.done))
		tr.check(t, 1, true)
		dlq, _ := os.ReadFile(cfg.DeadLetter)
		for what, text := range map[string]string{"logs": logs.String(), "error": tr.errs[idOf(0)].Error(), "name": s.Name(), "dead letter": string(dlq)} {
			for _, secret := range []string{"URLTOKEN123", "QUERYTOKEN", "HMACSECRET789", "ROUTINGKEY456", "/services"} {
				if strings.Contains(text, secret) {
					t.Errorf("%s: %s shows %q:\n%s", preset, what, secret, text)
				}
			}
		}
		if !strings.Contains(tr.errs[idOf(0)].Error(), "connection refused") {
			t.Errorf("error %q does not say what went wrong", tr.errs[idOf(0)])
		}
	}
	if !strings.Contains(logs.String(), "giving up") {
		t.Error("no log of the failure")
	}
}

// TestBadValue: a message whose Value is not JSON cannot be sent; it is
// dead-lettered at once, as text.
func TestBadValue(t *testing.T) {
	rc := newReceiver(t, "")
	srv := rc.start()
	cfg := fastConfig(t, srv.URL)
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker()
	writeAll(t, s, []sink.Message{{Kind: sink.KindVerdict, Value: []byte("{broken"), ID: idOf(0), Done: tr.done(idOf(0))}})
	tr.check(t, 1, true)
	if attempts, _ := rc.snapshot(); len(attempts) != 0 {
		t.Errorf("sent %v", attempts)
	}
	if dl := dlqLines(t, cfg.DeadLetter); len(dl) != 1 || dl[0].MessageText != "{broken" || dl[0].Attempts != 0 {
		t.Errorf("dead letters %+v", dl)
	}
}

// TestCloseAborts: Close does not wait forever for a failing endpoint: the
// messages still retrying get Done(sink.ErrClosed), once, and are not
// dead-lettered (they will be read again after a restart).
func TestCloseAborts(t *testing.T) {
	rc := newReceiver(t, "")
	rc.failFirst = -1
	srv := rc.start()
	cfg := fastConfig(t, srv.URL)
	cfg.BackoffBase, cfg.BackoffMax, cfg.MaxRetryAfter = time.Hour, time.Hour, time.Hour
	cfg.MaxAttempts, cfg.CloseTimeout = 100, 20*time.Millisecond
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker()
	msgs := messages(t, 3, tr.done)
	writeAll(t, s, msgs)
	tr.check(t, 3, true)
	for id, err := range tr.errs {
		if !errors.Is(err, sink.ErrClosed) {
			t.Errorf("%s: %v, want sink.ErrClosed", id, err)
		}
	}
	if dl := dlqLines(t, cfg.DeadLetter); len(dl) != 0 {
		t.Errorf("closed messages were dead-lettered: %+v", dl)
	}
	if err := s.Write(context.Background(), msgs[0]); !errors.Is(err, sink.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if tr.count() != 3 {
		t.Errorf("%d Done calls after Close, want 3", tr.count())
	}
}

// TestBackPressure: with the endpoint stuck, Write blocks once the workers
// and the queue are full and returns ctx's error; that message gets no
// Done.
func TestBackPressure(t *testing.T) {
	rc := newReceiver(t, "")
	rc.block = true
	srv := rc.start()
	cfg := fastConfig(t, srv.URL)
	cfg.Workers, cfg.QueueSize = 1, 1
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker()
	accepted := 0
	refused := 0
	for _, m := range messages(t, 8, tr.done) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := s.Write(ctx, m)
		cancel()
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, context.DeadlineExceeded):
			refused++
		default:
			t.Fatal(err)
		}
	}
	if accepted > 2 || refused == 0 {
		t.Errorf("accepted %d of 8 with one stuck worker and queue_size 1", accepted)
	}
	fctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if err := s.Flush(fctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with a stuck endpoint: %v", err)
	}
	cancel()
	close(rc.release)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if tr.count() != accepted {
		t.Errorf("%d Done calls, want %d", tr.count(), accepted)
	}
}

func TestSecrets(t *testing.T) {
	t.Setenv("AEGIS_TEST_SECRET", "  from-env \n")
	t.Setenv("AEGIS_TEST_EMPTY", "")
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for _, c := range []struct {
		name       string
		file, env  string
		want       string
		wantErr    string
		notInError string
	}{
		{"file, trimmed", secretFile(t, "from-file"), "", "from-file", "", ""},
		{"env, trimmed", "", "AEGIS_TEST_SECRET", "from-env", "", ""},
		{"none", "", "", "", "", ""},
		{"unset env", "", "AEGIS_TEST_UNSET_VAR", "", "AEGIS_TEST_UNSET_VAR", ""},
		{"empty env", "", "AEGIS_TEST_EMPTY", "", "AEGIS_TEST_EMPTY", ""},
		{"missing file", "/nonexistent/secret", "", "", "/nonexistent/secret", ""},
		{"empty file", empty, "", "", "is empty", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := readSecret("secret", c.file, c.env)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one naming %q", err, c.wantErr)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Fatalf("%q, %v; want %q", got, err, c.want)
			}
		})
	}
	// New fails on a missing secret, naming where it looked.
	_, err := New(Config{URL: "https://example.com/h", SecretEnv: "AEGIS_TEST_UNSET_VAR"}, nil)
	if err == nil || !strings.Contains(err.Error(), "AEGIS_TEST_UNSET_VAR") {
		t.Errorf("New with an unset secret variable: %v", err)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"a":1}`)
	ts := time.Unix(1772442003, 0)
	h := http.Header{}
	tsv, sig := Sign([]byte("k"), ts, body)
	h.Set(HeaderTimestamp, tsv)
	h.Set(HeaderSignature, sig)
	if tsv != "1772442003" || !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Fatalf("headers %q %q", tsv, sig)
	}
	with := func(k, v string) http.Header {
		c := h.Clone()
		if v == "" {
			c.Del(k)
		} else {
			c.Set(k, v)
		}
		return c
	}
	for _, c := range []struct {
		name   string
		secret string
		body   string
		h      http.Header
		now    time.Time
		tol    time.Duration
		want   error
	}{
		{"good", "k", `{"a":1}`, h, time.Time{}, 0, nil},
		{"good within tolerance", "k", `{"a":1}`, h, ts.Add(4 * time.Minute), 5 * time.Minute, nil},
		{"stale", "k", `{"a":1}`, h, ts.Add(10 * time.Minute), 5 * time.Minute, ErrStale},
		{"from the future", "k", `{"a":1}`, h, ts.Add(-10 * time.Minute), 5 * time.Minute, ErrStale},
		{"tampered body", "k", `{"a":2}`, h, time.Time{}, 0, ErrBadSignature},
		{"wrong secret", "K", `{"a":1}`, h, time.Time{}, 0, ErrBadSignature},
		{"replayed with a new timestamp", "k", `{"a":1}`, with(HeaderTimestamp, "1772442999"), time.Time{}, 0, ErrBadSignature},
		{"other scheme", "k", `{"a":1}`, with(HeaderSignature, "sha1="+sig[7:]), time.Time{}, 0, ErrBadSignature},
		{"not hex", "k", `{"a":1}`, with(HeaderSignature, "sha256=zz"), time.Time{}, 0, ErrBadSignature},
		{"no signature", "k", `{"a":1}`, with(HeaderSignature, ""), time.Time{}, 0, ErrNoSignature},
		{"no timestamp", "k", `{"a":1}`, with(HeaderTimestamp, ""), time.Time{}, 0, ErrNoSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := VerifyAt([]byte(c.secret), []byte(c.body), c.h, c.now, c.tol)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Errorf("VerifyAt = %v, want %v", err, c.want)
			}
		})
	}
	if err := Verify([]byte("k"), body, h); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.URL = "https://hooks.example.com/x"
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	pd := Config{Preset: PresetPagerDuty, RoutingKeyEnv: "X"}
	if err := pd.Validate(); err != nil {
		t.Errorf("pagerduty without url: %v", err)
	}
	if pd.withDefaults().URL != PagerDutyEventsURL {
		t.Errorf("pagerduty default url %q", pd.withDefaults().URL)
	}
	for _, c := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no url", func(c *Config) { c.URL = "" }, "url is empty"},
		{"bad scheme", func(c *Config) { c.URL = "ftp://x/y" }, "scheme"},
		{"no host", func(c *Config) { c.URL = "https:///path" }, "no host"},
		{"bad url keeps its token", func(c *Config) { c.URL = "https://x/%zzTOKEN" }, "not a valid URL"},
		{"preset", func(c *Config) { c.Preset = "discord" }, `preset "discord"`},
		{"two secrets", func(c *Config) { c.SecretEnv, c.SecretFile = "A", "/b" }, "secret_file and secret_env"},
		{"two keys", func(c *Config) { c.RoutingKeyEnv, c.RoutingKeyFile = "A", "/b" }, "routing_key_file and routing_key_env"},
		{"pagerduty without key", func(c *Config) { c.Preset = PresetPagerDuty }, "routing_key"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout"},
		{"base above max", func(c *Config) { c.BackoffBase, c.BackoffMax = time.Minute, time.Second }, "backoff_base"},
		{"attempts", func(c *Config) { c.MaxAttempts = -1 }, "max_attempts"},
		{"workers", func(c *Config) { c.Workers = -2 }, "workers"},
		{"queue", func(c *Config) { c.QueueSize = -2 }, "queue_size"},
		{"dead letter dir", func(c *Config) { c.DeadLetter = "/var/lib/aegis/" }, "dead_letter"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate() = %v, want an error about %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "TOKEN") {
				t.Errorf("error shows the URL's token: %v", err)
			}
		})
	}
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		if typ.Field(i).Tag.Get("yaml") == "" {
			t.Errorf("Config.%s has no yaml tag", typ.Field(i).Name)
		}
	}
	if got := redactURL("https://user:pw@hooks.slack.com/services/T/B/X?y=1"); got != "https://hooks.slack.com/…" {
		t.Errorf("redactURL = %q", got)
	}
}

// TestPresetBodies checks each preset's body against a golden file and for
// the fields its consumer requires, for detections (hostile SNI included)
// and for a verdict.
func TestPresetBodies(t *testing.T) {
	msgs := presetMessages(t)
	pc := presetContext{routingKey: "test-routing-key", source: "sensor-1"}
	for _, preset := range Presets() {
		t.Run(preset, func(t *testing.T) {
			var all bytes.Buffer
			for i := range msgs {
				m := &msgs[i]
				body, err := buildBody(preset, m, pc)
				if err != nil {
					t.Fatal(err)
				}
				if !json.Valid(body) || bytes.ContainsAny(body, "\n") {
					t.Fatalf("body is not one line of JSON: %s", body)
				}
				checkPreset(t, preset, m, body)
				json.Indent(&all, body, "", "  ")
				all.WriteByte('\n')
			}
			golden(t, preset+".json", all.Bytes())
		})
	}
}

// checkPreset asserts the fields the preset's consumer requires.
func checkPreset(t *testing.T, preset string, m *sink.Message, body []byte) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	str := func(v any) string { s, _ := v.(string); return s }
	obj := func(v any) map[string]any { o, _ := v.(map[string]any); return o }
	arr := func(v any) []any { a, _ := v.([]any); return a }
	switch preset {
	case PresetJSON:
		if !bytes.Equal(body, m.Value) {
			t.Error("json body is not the native Value")
		}
		if m.Record != nil {
			if err := schemacheck.ValidateJSON(body); err != nil {
				t.Error(err)
			}
		}
	case PresetSlack:
		if str(doc["text"]) == "" {
			t.Error("slack: no fallback text")
		}
		blocks := arr(doc["blocks"])
		if len(blocks) == 0 || len(blocks) > 50 {
			t.Fatalf("slack: %d blocks", len(blocks))
		}
		for _, b := range blocks {
			switch typ := str(obj(b)["type"]); typ {
			case "header":
				txt := obj(obj(b)["text"])
				if str(txt["type"]) != "plain_text" || len([]rune(str(txt["text"]))) > 150 || str(txt["text"]) == "" {
					t.Errorf("slack header %v", b)
				}
			case "section":
				if obj(b)["text"] == nil && len(arr(obj(b)["fields"])) == 0 || len(arr(obj(b)["fields"])) > 10 {
					t.Errorf("slack section %v", b)
				}
			case "context":
				if len(arr(obj(b)["elements"])) == 0 {
					t.Errorf("slack context %v", b)
				}
			default:
				t.Errorf("slack block type %q", typ)
			}
		}
		// Wire text cannot mention or link.
		if strings.Contains(string(body), "<!channel>") || strings.Contains(string(body), "<http") {
			t.Errorf("slack body lets wire text through unescaped: %s", body)
		}
	case PresetTeams:
		att := arr(doc["attachments"])
		if str(doc["type"]) != "message" || len(att) != 1 {
			t.Fatalf("teams: %s", body)
		}
		a := obj(att[0])
		card := obj(a["content"])
		if str(a["contentType"]) != "application/vnd.microsoft.card.adaptive" || str(card["type"]) != "AdaptiveCard" ||
			str(card["version"]) == "" || str(card["$schema"]) == "" || len(arr(card["body"])) < 3 {
			t.Errorf("teams card: %s", body)
		}
		if _, ok := a["contentUrl"]; !ok {
			t.Error("teams: no contentUrl member")
		}
		if regexp.MustCompile(`(^|[^\\])\]\(`).Match(body) {
			t.Errorf("teams body lets a wire link through: %s", body)
		}
	case PresetPagerDuty:
		p := obj(doc["payload"])
		if str(doc["routing_key"]) != "test-routing-key" || str(doc["event_action"]) != "trigger" || str(doc["dedup_key"]) != m.ID {
			t.Errorf("pagerduty envelope: %s", body)
		}
		sev := str(p["severity"])
		if sev != "critical" && sev != "error" && sev != "warning" && sev != "info" {
			t.Errorf("pagerduty severity %q", sev)
		}
		if s := str(p["summary"]); s == "" || len([]rune(s)) > 1024 || str(p["source"]) == "" || str(p["class"]) == "" {
			t.Errorf("pagerduty payload %v", p)
		}
		if m.Record != nil {
			if _, err := time.Parse(time.RFC3339Nano, str(p["timestamp"])); err != nil || str(p["component"]) == "" {
				t.Errorf("pagerduty timestamp/component %v", p)
			}
			if sev != PagerDutySeverity(m.Record.Aegis.Severity) {
				t.Errorf("pagerduty severity %q for %q", sev, m.Record.Aegis.Severity)
			}
		}
		details, _ := json.Marshal(p["custom_details"])
		var want any
		json.Unmarshal(m.Value, &want)
		wantJSON, _ := json.Marshal(want)
		if !bytes.Equal(details, wantJSON) {
			t.Error("pagerduty custom_details is not the native record")
		}
	}
}

func TestPagerDutySeverity(t *testing.T) {
	for in, want := range map[string]string{"critical": "critical", "high": "error", "medium": "warning", "low": "info", "none": "info", "": "info"} {
		if got := PagerDutySeverity(in); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

// TestEndToEndPresets sends each preset through the sink to a receiver and
// checks what arrived is the body the preset builds.
func TestEndToEndPresets(t *testing.T) {
	t.Setenv("AEGIS_TEST_RK", "rk")
	for _, preset := range Presets() {
		rc := newReceiver(t, testSecret)
		srv := rc.start()
		cfg := fastConfig(t, srv.URL)
		cfg.Preset, cfg.RoutingKeyEnv, cfg.SecretEnv = preset, "AEGIS_TEST_RK", "AEGIS_TEST_SECRET_E2E"
		t.Setenv("AEGIS_TEST_SECRET_E2E", testSecret)
		s, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		msgs := messages(t, 2, nil)
		writeAll(t, s, msgs)
		for _, m := range msgs {
			want, _ := buildBody(preset, &m, s.pc)
			if !bytes.Equal(rc.bodies[m.ID], want) {
				t.Errorf("%s: record %s: received %s", preset, m.ID, rc.bodies[m.ID])
			}
		}
	}
}

// TestCloseReleasesBlockedWrite: with the endpoint hung and the queue full,
// a blocked Write returns sink.ErrClosed when Close starts, and Close ends
// after close_timeout with Done(sink.ErrClosed) for the accepted messages.
func TestCloseReleasesBlockedWrite(t *testing.T) {
	rc := newReceiver(t, "")
	rc.block = true
	srv := rc.start()
	cfg := fastConfig(t, srv.URL)
	cfg.Workers, cfg.QueueSize, cfg.CloseTimeout = 1, 1, 20*time.Millisecond
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker()
	msgs := messages(t, 8, tr.done)
	next := 0
	for ; next < len(msgs); next++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := s.Write(ctx, msgs[next])
		cancel()
		if err != nil {
			break
		}
	}
	blocked := make(chan error, 1)
	go func() { blocked <- s.Write(context.Background(), msgs[next]) }()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-blocked:
		if !errors.Is(err, sink.ErrClosed) {
			t.Errorf("blocked Write: %v, want sink.ErrClosed", err)
		}
	case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("Close did not release a blocked Write")
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if tr.count() != next || tr.calls[msgs[next].ID] != 0 {
		t.Errorf("Done calls %v, want one for each of the %d accepted messages", tr.calls, next)
	}
	for id, err := range tr.errs {
		if !errors.Is(err, sink.ErrClosed) {
			t.Errorf("%s: %v", id, err)
		}
	}
}
