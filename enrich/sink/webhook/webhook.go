// Package webhook is the sink that POSTs each record to an HTTP endpoint:
// a SOAR or a custom receiver (the native JSON record, HMAC-signed), Slack,
// Microsoft Teams or PagerDuty (body presets).
//
// # Delivery
//
// Write builds the request body at once (the sink keeps no reference to
// m.Record; it keeps m.Value until Done, for the dead-letter file) and
// queues it; Workers goroutines deliver. A delivery is retried on network
// errors, timeouts (Timeout per attempt), 5xx, 429 and 408, after a
// full-jitter exponential backoff or the Retry-After the answer asked for
// (capped by MaxRetryAfter), up to MaxAttempts attempts. Any other answer
// that is not 2xx (400, 401, 403, 404, 413, a redirect, ...) cannot be
// fixed by retrying: the message is dead-lettered at once. Done(nil) comes
// after a 2xx; after the last failure the message is appended to the
// DeadLetter file (fsynced) and Done gets a *DeliveryError.
//
// Each request carries X-Aegis-Record-Id and X-Aegis-Kind, and, when a
// secret is configured, the signature headers (see Sign and Verify).
//
// # Secrets
//
// The HMAC secret and the PagerDuty routing key are read once, at New, from
// a file or an environment variable. They never appear in logs, errors or
// the dead-letter file, and neither does the URL's path or query (Slack
// and Teams URLs hold a token): the sink names its endpoint by scheme and
// host only.
//
// # Concurrency
//
// A Sink is safe for concurrent use. Done callbacks run on the worker
// goroutines, possibly several at once; they must not block.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
)

// userAgent identifies Aegis to the receiver.
const userAgent = "aegis-webhook/1"

// DeliveryError is the error Done gets when the sink gave up on a message.
type DeliveryError struct {
	ID       string // record id
	Attempts int    // requests made
	// Status is the last HTTP status (0 when the last attempt got no
	// answer: network error or timeout).
	Status int
	// Retryable reports whether the last failure was of a retryable kind
	// (the attempts ran out) rather than an answer retrying cannot fix.
	Retryable bool
	// DeadLetter is the dead-letter file the message was appended to, ""
	// when none is configured or appending failed.
	DeadLetter string
	Err        error // the last failure
}

// Error says which record failed, after how many attempts, why, and where
// it was dead-lettered.
func (e *DeliveryError) Error() string {
	s := fmt.Sprintf("webhook: record %s not delivered after %d attempt(s): %v", e.ID, e.Attempts, e.Err)
	if e.DeadLetter != "" {
		s += " (dead-lettered to " + e.DeadLetter + ")"
	}
	return s
}

// Unwrap returns the last failure (a *sink.PermanentError for 401, 403,
// 404 and 410 answers).
func (e *DeliveryError) Unwrap() error { return e.Err }

// Stats are a sink's counters.
type Stats struct {
	Delivered    int64 // messages answered 2xx
	Attempts     int64 // requests made
	Retries      int64 // attempts after the first
	DeadLettered int64 // messages appended to the dead-letter file
	Failed       int64 // messages given up on (Done(err)), closed ones included
}

// Sink is the webhook sink. See the package comment.
type Sink struct {
	name   string
	cfg    Config
	log    *slog.Logger
	url    string // the full URL: never logged
	client *http.Client
	secret []byte
	pc     presetContext

	mu     sync.RWMutex // guards closed and sends on queue
	closed bool
	queue  chan *job
	// closing is closed first thing in Close, so that Writes blocked on a
	// full queue give up (ErrClosed) instead of holding Close up.
	closing chan struct{}

	ctx       context.Context // cancelled when Close gives up waiting
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	epochs epochs

	dlqMu sync.Mutex
	dlq   *os.File

	// Hooks for tests: the clock of signatures and dead letters, and the
	// wait between attempts.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	delivered, attempts, retries, deadLettered, failed atomic.Int64
}

// job is one queued message.
type job struct {
	kind     sink.Kind
	id       string
	value    []byte // m.Value, for the dead-letter file
	body     []byte
	buildErr error // the body could not be built: dead-letter at once
	done     func(error)
	ep       *epoch
}

// New validates cfg, reads the secrets, opens the dead-letter file and
// starts the workers. log may be nil.
func New(cfg Config, log *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	secret, err := readSecret("secret", cfg.SecretFile, cfg.SecretEnv)
	if err != nil {
		return nil, err
	}
	rk, err := readSecret("routing key", cfg.RoutingKeyFile, cfg.RoutingKeyEnv)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := "webhook:" + redactURL(cfg.URL)
	s := &Sink{
		name:    name,
		cfg:     cfg,
		log:     log.With("sink", name),
		url:     cfg.URL,
		secret:  secret,
		pc:      presetContext{routingKey: string(rk), source: cfg.Source},
		queue:   make(chan *job, cfg.QueueSize),
		closing: make(chan struct{}),
		now:     time.Now,
		sleep:   sleepCtx,
	}
	if s.pc.source == "" {
		s.pc.source, _ = os.Hostname()
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = cfg.Workers
	s.client = &http.Client{
		Transport: transport,
		// A redirected POST turns into a GET without the body: never
		// follow; the 3xx is reported so the operator fixes the URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if cfg.DeadLetter != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.DeadLetter), 0o750); err != nil {
			return nil, fmt.Errorf("webhook: dead_letter %s: %w", cfg.DeadLetter, unwrapPath(err))
		}
		f, err := os.OpenFile(cfg.DeadLetter, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, fmt.Errorf("webhook: dead_letter %s: %w", cfg.DeadLetter, unwrapPath(err))
		}
		s.dlq = f
	}
	s.epochs.init()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		s.wg.Go(s.worker)
	}
	return s, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Name returns "webhook:" and the endpoint's scheme and host ("/…" when it
// has a path): no token.
func (s *Sink) Name() string { return s.name }

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (s *Sink) Stats() Stats {
	return Stats{Delivered: s.delivered.Load(), Attempts: s.attempts.Load(), Retries: s.retries.Load(),
		DeadLettered: s.deadLettered.Load(), Failed: s.failed.Load()}
}

// Write builds m's body and queues it, blocking while the queue is full.
// It returns nil once m is accepted (Done reports the outcome; a message
// whose body cannot be built is dead-lettered with the reason), ctx.Err()
// when ctx ends first (Done not called) and sink.ErrClosed after Close.
func (s *Sink) Write(ctx context.Context, m sink.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &job{kind: m.Kind, id: m.ID, value: m.Value, done: m.Done}
	j.body, j.buildErr = buildBody(s.cfg.Preset, &m, s.pc)
	if len(j.value) == 0 && j.buildErr == nil && m.Record != nil {
		j.value, _ = json.Marshal(m.Record)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return sink.ErrClosed
	}
	j.ep = s.epochs.add()
	select {
	case s.queue <- j:
		return nil
	case <-ctx.Done():
		s.epochs.remove(j.ep)
		return ctx.Err()
	case <-s.closing:
		s.epochs.remove(j.ep)
		return sink.ErrClosed
	}
}

// Flush blocks until Done was called for every message accepted before it,
// or ctx ends. Messages being retried keep it waiting until they are
// delivered or dead-lettered.
func (s *Sink) Flush(ctx context.Context) error {
	wait := s.epochs.seal()
	for _, ch := range wait {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close stops accepting messages, lets the queued and retrying ones finish
// for up to CloseTimeout, then aborts the rest (Done(sink.ErrClosed), not
// dead-lettered: the pipeline reads them again after a restart), and
// closes the dead-letter file. Calling it again returns nil.
func (s *Sink) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closing)
		s.mu.Lock()
		s.closed = true
		close(s.queue)
		s.mu.Unlock()
		finished := make(chan struct{})
		go func() { s.wg.Wait(); close(finished) }()
		timer := time.NewTimer(s.cfg.CloseTimeout)
		select {
		case <-finished:
			timer.Stop()
		case <-timer.C:
			s.log.Warn("close timeout: aborting undelivered messages", "timeout", s.cfg.CloseTimeout)
			s.cancel()
			<-finished
		}
		s.cancel()
		s.client.CloseIdleConnections()
		if s.dlq != nil {
			s.dlqMu.Lock()
			err = s.dlq.Close()
			s.dlq = nil
			s.dlqMu.Unlock()
			if err != nil {
				err = fmt.Errorf("%s: closing dead-letter file: %w", s.name, err)
			}
		}
	})
	return err
}

// worker delivers queued jobs until the queue is closed and drained.
func (s *Sink) worker() {
	for j := range s.queue {
		err := s.deliver(j)
		if err != nil {
			s.failed.Add(1)
		} else {
			s.delivered.Add(1)
		}
		if j.done != nil {
			j.done(err)
		}
		s.epochs.remove(j.ep)
	}
}

// attemptError is the outcome of one failed attempt.
type attemptError struct {
	status     int
	retryable  bool
	retryAfter time.Duration // from the answer; -1 when none
	err        error
}

// deliver runs the attempts of one job and returns nil or the error Done
// gets.
func (s *Sink) deliver(j *job) error {
	if j.buildErr != nil {
		s.log.Error("record cannot be sent", "id", j.id, "kind", j.kind, "err", j.buildErr)
		return s.giveUp(j, 0, &attemptError{err: j.buildErr})
	}
	var last *attemptError
	for attempt := 1; ; attempt++ {
		if s.ctx.Err() != nil {
			return sink.ErrClosed
		}
		if attempt > 1 {
			s.retries.Add(1)
		}
		s.attempts.Add(1)
		last = s.post(j)
		if last == nil {
			return nil
		}
		if s.ctx.Err() != nil { // aborted by Close, not the endpoint's fault
			return sink.ErrClosed
		}
		if !last.retryable || attempt >= s.cfg.MaxAttempts {
			return s.giveUp(j, attempt, last)
		}
		wait := s.backoff(attempt)
		if last.retryAfter >= 0 {
			wait = min(last.retryAfter, s.cfg.MaxRetryAfter)
		}
		s.log.Warn("delivery failed; will retry", "id", j.id, "attempt", attempt, "status", last.status,
			"retry_in", wait, "err", last.err)
		if err := s.sleep(s.ctx, wait); err != nil {
			return sink.ErrClosed
		}
	}
}

// backoff is the full-jitter wait before retry n (after attempt n).
func (s *Sink) backoff(n int) time.Duration {
	ceil := s.cfg.BackoffMax
	if n-1 < 62 {
		if d := s.cfg.BackoffBase << (n - 1); d > 0 && d < ceil {
			ceil = d
		}
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// post makes one attempt.
func (s *Sink) post(j *job) *attemptError {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(j.body))
	if err != nil {
		return &attemptError{err: s.redact(err), retryAfter: -1}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderRecordID, j.id)
	req.Header.Set(HeaderKind, string(j.kind))
	if len(s.secret) > 0 {
		ts, sig := Sign(s.secret, s.now(), j.body)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, sig)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded && s.ctx.Err() == nil {
			err = fmt.Errorf("no answer within the timeout of %v", s.cfg.Timeout)
		} else {
			err = s.redact(err)
		}
		return &attemptError{retryable: true, retryAfter: -1, err: err}
	}
	// Read a little of the answer (for the error) and drain the rest, so
	// the connection is reused.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	ae := &attemptError{status: code, retryAfter: -1}
	ae.retryable = code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500
	if ae.retryable {
		ae.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), s.now())
	}
	msg := fmt.Sprintf("%s answered %s", redactURL(s.url), resp.Status)
	if loc := resp.Header.Get("Location"); code >= 300 && code < 400 && loc != "" {
		msg += " redirecting to " + redactURL(loc) + ": configure the final URL"
	}
	if t := printable(head); t != "" {
		msg += ": " + t
	}
	ae.err = errors.New(msg)
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone:
		ae.err = &sink.PermanentError{Sink: s.name, Err: ae.err, Fix: "check the webhook url, secret and routing key"}
	}
	return ae
}

// parseRetryAfter reads a Retry-After value (seconds, or an HTTP date);
// -1 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		if n > 1<<31 {
			n = 1 << 31
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// printable is an answer's first bytes, reduced to one line of printable
// text.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return truncate(strings.TrimSpace(s), 200)
}

// redact removes the URL (which may hold a token) from a transport error.
func (s *Sink) redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, redactURL(s.url), ue.Err)
	}
	return err
}

// DeadLetterRecord is one line of the dead-letter file (JSON lines): when
// and where the sink gave up on a message, after how many attempts, the
// last HTTP status (0: no answer) and error, and the message's native
// record (Message), or its Value as text (MessageText) when that was not
// JSON. The request body is not kept: it may hold the PagerDuty routing
// key. Replaying a dead letter means writing Message again.
type DeadLetterRecord struct {
	Time     string          `json:"time"`
	Sink     string          `json:"sink"`
	Preset   string          `json:"preset"`
	Kind     sink.Kind       `json:"kind"`
	ID       string          `json:"id"`
	Attempts int             `json:"attempts"`
	Status   int             `json:"status,omitempty"`
	Error    string          `json:"error"`
	Message  json.RawMessage `json:"message,omitempty"`
	// MessageText holds a Value that is not JSON, as a string.
	MessageText string `json:"message_text,omitempty"`
}

// giveUp dead-letters j and returns the error Done gets.
func (s *Sink) giveUp(j *job, attempts int, last *attemptError) error {
	de := &DeliveryError{ID: j.id, Attempts: attempts, Status: last.status, Retryable: last.retryable, Err: last.err}
	s.log.Error("giving up on record", "id", j.id, "kind", j.kind, "attempts", attempts, "status", last.status, "err", last.err)
	if s.cfg.DeadLetter == "" {
		return de
	}
	dl := DeadLetterRecord{
		Time: s.now().UTC().Format(time.RFC3339Nano), Sink: s.name, Preset: s.cfg.Preset,
		Kind: j.kind, ID: j.id, Attempts: attempts, Status: last.status, Error: last.err.Error(),
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, j.value); err == nil {
		dl.Message = compact.Bytes()
	} else {
		dl.MessageText = string(j.value)
	}
	line, err := json.Marshal(dl)
	if err == nil {
		line = append(line, '\n')
		s.dlqMu.Lock()
		switch {
		case s.dlq == nil:
			err = errors.New("dead-letter file closed")
		default:
			if _, err = s.dlq.Write(line); err == nil {
				err = s.dlq.Sync()
			}
		}
		s.dlqMu.Unlock()
	}
	if err != nil {
		s.log.Error("dead-letter write failed; record lost to this sink", "id", j.id, "path", s.cfg.DeadLetter, "err", err)
		return errors.Join(de, fmt.Errorf("%s: writing dead-letter file %s: %w", s.name, s.cfg.DeadLetter, err))
	}
	s.deadLettered.Add(1)
	de.DeadLetter = s.cfg.DeadLetter
	return de
}

// epochs tracks accepted messages for Flush: a Flush seals the current
// epoch and waits for it and every earlier unfinished one to empty.
type epochs struct {
	mu   sync.Mutex
	cur  *epoch
	open []*epoch // sealed, not yet empty
}

type epoch struct {
	n      int
	sealed bool
	done   chan struct{}
}

func (e *epochs) init() { e.cur = &epoch{done: make(chan struct{})} }

// add counts a message in the current epoch.
func (e *epochs) add() *epoch {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cur.n++
	return e.cur
}

// remove uncounts a finished (or refused) message.
func (e *epochs) remove(ep *epoch) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep.n--
	if ep.n == 0 && ep.sealed {
		close(ep.done)
		for i, o := range e.open {
			if o == ep {
				e.open = append(e.open[:i], e.open[i+1:]...)
				break
			}
		}
	}
}

// seal starts a new epoch and returns the channels to wait on.
func (e *epochs) seal() []chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.cur
	ep.sealed = true
	e.cur = &epoch{done: make(chan struct{})}
	if ep.n == 0 {
		close(ep.done)
	} else {
		e.open = append(e.open, ep)
	}
	wait := make([]chan struct{}, 0, len(e.open))
	for _, o := range e.open {
		wait = append(wait, o.done)
	}
	return wait
}
