// Package llm is Aegis's optional reasoning pass: it gathers one source
// host's detections inside a correlation window into an evidence bundle,
// asks a local model through Ollama for the host's intent chain, ATT&CK
// techniques, a narrative and an opinion on the model routes, and
// publishes the answer as a verdict record (schemas.Verdict, kind
// "verdict").
//
// The stage is advisory and off the hot path:
//
//   - Submit never blocks on the model: it copies what it needs from a
//     published detection into the source's window and returns. Closed
//     windows wait in a bounded queue (the oldest is dropped, and counted,
//     when it is full) for a bounded number of workers.
//   - Requests have a timeout, transport failures are retried with
//     backoff, a circuit breaker stops asking a failing server, and a
//     bounded cache answers identical evidence without asking again.
//   - Detection records are never modified, and the model cannot lower a
//     severity, change a class or drop a detection: verdicts are records
//     of their own, published after the detections and independently of
//     them, and their chain always names every detection.
//   - Without a model (disabled, down, slow, missing, answering nonsense)
//     every verdict still carries a deterministic chain and ATT&CK
//     techniques from classes and rule hits (package chain), and says in
//     outcome and reason why the model's part is missing.
//   - Wire text (server names, user agents, banners, file names, rule
//     messages quoting them) is attacker-controlled: it reaches the model
//     only escaped and length-limited inside a nonce-delimited data block
//     (packages evidence and prompt).
//
// Windows are driven by record time (event.end), so a replay gives the same
// windows; a wall-clock cap (max_wait) closes windows on a quiet network.
package llm

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aegis-nsm/aegis/enrich"
	"github.com/aegis-nsm/aegis/enrich/attack"
	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/llm/chain"
	"github.com/aegis-nsm/aegis/llm/evidence"
	"github.com/aegis-nsm/aegis/llm/ollama"
	"github.com/aegis-nsm/aegis/llm/prompt"
	"github.com/aegis-nsm/aegis/schemas"
)

// Stage is the LLM reasoning stage. Submit, Flush and Stats are safe for
// concurrent use; Run is called once.
type Stage struct {
	cfg     Config
	log     *slog.Logger
	publish func(sink.Message)
	client  *ollama.Client // nil when disabled
	minSev  int
	lim     evidence.Limits
	now     func() time.Time // wall clock: breaker, window cap, latency
	tick    time.Duration    // how often Run looks for windows past their wall-clock cap
	breaker *breaker
	cache   *replyCache
	wake    chan struct{} // a job is waiting (capacity 1)

	mu      sync.Mutex // guards what follows
	running bool
	clock   int64 // record clock: the latest record time seen (ns)
	windows map[string]*window
	byEnd   windowHeap
	queue   []*job
	busy    int // jobs being processed
	waiters []chan struct{}
	in      inStats

	smu         sync.Mutex // guards the worker-side counters
	out         outStats
	lastOutcome schemas.VerdictOutcome
}

// inStats are the Submit-side counters (under mu).
type inStats struct {
	submitted, ignored, detections         int64
	windows, belowThreshold, full, evicted int64
	dropped, droppedDetections             int64
}

// outStats are the worker-side counters (under smu).
type outStats struct {
	requests, retries, invalid int64
	latency                    LatencyStats
	outcomes                   map[schemas.VerdictOutcome]int64
	cacheHits, cacheMisses     int64
	unvetted, verdicts         int64
}

// window is one source's open correlation window.
type window struct {
	source  string
	start   int64     // record time of the detection that opened it (ns)
	end     int64     // start + Window
	opened  time.Time // wall clock, for the cap
	dets    []evidence.Detection
	trigger bool // a detection at or above the threshold is in it
	index   int  // in byEnd
}

// job is a closed window waiting for a worker.
type job struct {
	source string
	start  int64
	dets   []evidence.Detection
}

// New builds a stage. publish receives every verdict; it is called from
// the stage's workers, possibly concurrently, must be safe for that, and
// may block (back-pressure delays verdicts, never detections). The stage
// does not contact Ollama until a window closes.
func New(cfg Config, publish func(sink.Message), log *slog.Logger) (*Stage, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if publish == nil {
		return nil, errors.New("llm: no publish callback")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sev, _ := enrich.ParseSeverity(cfg.MinSeverity)
	s := &Stage{
		cfg: cfg, log: log, publish: publish, minSev: int(sev),
		lim:     evidence.Limits{MaxFieldBytes: cfg.MaxFieldBytes, MaxReasons: 8},
		now:     time.Now,
		cache:   newReplyCache(cfg.CacheSize),
		wake:    make(chan struct{}, 1),
		windows: map[string]*window{},
		out:     outStats{outcomes: map[schemas.VerdictOutcome]int64{}},
	}
	s.tick = min(max(cfg.maxWait()/8, 50*time.Millisecond), time.Second)
	s.breaker = newBreaker(cfg.BreakerFailures, cfg.BreakerCooldown, func() time.Time { return s.now() })
	if cfg.Enabled {
		c, err := ollama.New(ollama.Options{URL: cfg.URL, Model: cfg.Model, KeepAlive: cfg.KeepAlive,
			NumCtx: cfg.NumCtx, Temperature: cfg.Temperature, Stream: cfg.Stream})
		if err != nil {
			return nil, fmt.Errorf("llm: %w", err)
		}
		s.client = c
	}
	return s, nil
}

// Submit hands the stage one published record. It never blocks on the
// model or on publishing: it reads rec (which it treats as read-only and
// does not keep: the caller may reuse or change rec once Submit returns),
// copies the detection's summary into the source's window and closes
// windows whose record time has passed. Records that are not detections
// (event.kind "event" of a class Aegis does not alert on) or lack a valid
// id or source address are counted and ignored.
func (s *Stage) Submit(rec *schemas.Record) {
	if rec == nil {
		return
	}
	isDet := rec.Event.Kind == "alert" || rec.Aegis.Class.IsDetection()
	addr, ipErr := netip.ParseAddr(rec.Source.IP)
	if !isDet || ipErr != nil || !validRecordID(rec.Event.ID) {
		s.mu.Lock()
		s.in.submitted++
		s.in.ignored++
		s.mu.Unlock()
		return
	}
	d := evidence.Capture(rec, 0)
	trigger := d.SevRank >= s.minSev && d.Score >= s.cfg.MinScore
	wall := s.now()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.in.submitted++
	s.in.detections++
	if !d.Timed {
		d.At, d.StartNs, d.EndNs = s.clock, s.clock, s.clock
	}
	s.clock = max(s.clock, d.At)
	s.expireLocked()
	src := addr.String() // canonical form: one window per host however it is written
	w := s.windows[src]
	if w != nil && d.At >= w.end {
		s.closeLocked(w, false)
		w = nil
	}
	if w == nil {
		if len(s.windows) >= s.cfg.MaxWindows {
			s.in.evicted++
			s.closeLocked(s.byEnd[0], false)
		}
		w = &window{source: src, start: d.At, end: d.At + s.cfg.Window.Nanoseconds(), opened: wall}
		s.windows[src] = w
		heap.Push(&s.byEnd, w)
	}
	w.dets = append(w.dets, d)
	w.trigger = w.trigger || trigger
	if len(w.dets) >= s.cfg.MaxWindowRecords {
		s.in.full++
		s.closeLocked(w, false)
	}
}

// validRecordID reports whether id has the shape of a record's event.id.
func validRecordID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// expireLocked closes the windows the record clock has passed.
func (s *Stage) expireLocked() {
	for len(s.byEnd) > 0 && s.byEnd[0].end <= s.clock {
		s.closeLocked(s.byEnd[0], false)
	}
}

// closeLocked removes w and queues its job when it holds a detection at or
// above the threshold. force queues even past queue_size (Flush and
// shutdown: the windows are in memory already).
func (s *Stage) closeLocked(w *window, force bool) {
	heap.Remove(&s.byEnd, w.index)
	delete(s.windows, w.source)
	s.in.windows++
	if !w.trigger {
		s.in.belowThreshold++
		return
	}
	if !force && len(s.queue) >= s.cfg.QueueSize {
		old := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.in.dropped++
		s.in.droppedDetections += int64(len(old.dets))
		if s.in.dropped == 1 || s.in.dropped%1000 == 0 { // the count is in Stats; the log only marks the trend
			s.log.Warn("llm: queue full, dropping the oldest windows", "source", old.source,
				"detections", len(old.dets), "queue_size", s.cfg.QueueSize, "dropped_total", s.in.dropped)
		}
	}
	s.queue = append(s.queue, &job{source: w.source, start: w.start, dets: w.dets})
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// closeStale closes windows open longer than the wall-clock cap.
func (s *Stage) closeStale(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var stale []*window
	for _, w := range s.windows {
		if now.Sub(w.opened) >= s.cfg.maxWait() {
			stale = append(stale, w)
		}
	}
	sortWindows(stale)
	for _, w := range stale {
		s.closeLocked(w, false)
	}
}

// closeAllLocked closes every open window (oldest first).
func (s *Stage) closeAllLocked() {
	all := make([]*window, 0, len(s.windows))
	for _, w := range s.windows {
		all = append(all, w)
	}
	sortWindows(all)
	for _, w := range all {
		s.closeLocked(w, true)
	}
}

func sortWindows(ws []*window) {
	sort.Slice(ws, func(i, j int) bool {
		if ws[i].end != ws[j].end {
			return ws[i].end < ws[j].end
		}
		return ws[i].source < ws[j].source
	})
}

// next takes the oldest job, nil when there is none.
func (s *Stage) next() *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil
	}
	j := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	s.busy++
	if len(s.queue) > 0 {
		select { // let another idle worker pick up the rest
		case s.wake <- struct{}{}:
		default:
		}
	}
	return j
}

// finished marks a job done and wakes Flush when nothing is left.
func (s *Stage) finished() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy--
	s.notifyIdleLocked()
}

func (s *Stage) notifyIdleLocked() {
	if len(s.queue) > 0 || s.busy > 0 {
		return
	}
	for _, ch := range s.waiters {
		close(ch)
	}
	s.waiters = nil
}

// Run starts the workers and the window-cap ticker and blocks until ctx
// ends. Then it stops the workers (a request in flight is canceled and its
// verdict says so), closes the open windows and publishes a deterministic
// verdict (outcome "unavailable") for every window still queued, so no
// triaged window goes without a verdict. Call Flush before canceling ctx
// for a drain in which the model still answers. Run returns an error only
// when it is called a second time.
func (s *Stage) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("llm: Run called twice")
	}
	s.running = true
	s.mu.Unlock()
	s.log.Info("llm: stage running", "enabled", s.cfg.Enabled, "url", s.cfg.URL, "model", s.cfg.Model,
		"concurrency", s.cfg.Concurrency, "window", s.cfg.Window, "min_severity", s.cfg.MinSeverity)

	var wg sync.WaitGroup
	for range s.cfg.Concurrency {
		wg.Go(func() { s.worker(ctx) })
	}
	t := time.NewTicker(s.tick)
	defer t.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
			s.closeStale(s.now())
		}
	}
	wg.Wait()
	// Drain: what is left gets its deterministic verdict.
	s.mu.Lock()
	s.closeAllLocked()
	left := s.queue
	s.queue = nil
	s.busy += len(left)
	s.mu.Unlock()
	stopped := &result{outcome: schemas.OutcomeUnavailable, reason: "aegis stopped before the model was asked"}
	if !s.cfg.Enabled {
		stopped = nil // disabled: the usual deterministic verdict
	}
	for _, j := range left {
		s.process(ctx, j, stopped)
		s.finished()
	}
	s.mu.Lock()
	s.notifyIdleLocked()
	s.mu.Unlock()
	return nil
}

func (s *Stage) worker(ctx context.Context) {
	for {
		j := s.next()
		if j == nil {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
				continue
			}
		}
		if ctx.Err() != nil { // stopping: leave it to Run's drain
			s.mu.Lock()
			s.queue = append([]*job{j}, s.queue...)
			s.busy--
			s.mu.Unlock()
			return
		}
		s.process(ctx, j, nil)
		s.finished()
	}
}

// Flush closes every open window and waits until every queued window has
// its verdict published, or ctx ends. It needs Run to be running (or to
// have returned).
func (s *Stage) Flush(ctx context.Context) error {
	s.mu.Lock()
	s.closeAllLocked()
	if len(s.queue) == 0 && s.busy == 0 {
		s.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	s.waiters = append(s.waiters, ch)
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("llm: flush: %w", ctx.Err())
	}
}

// result is what the model part of a verdict came to.
type result struct {
	outcome  schemas.VerdictOutcome
	reason   string
	reply    *prompt.Reply
	attempts int
	cached   bool
}

// process builds, asks about and publishes one window's verdict. A non-nil
// fixed result skips the model.
func (s *Stage) process(ctx context.Context, j *job, fixed *result) {
	b := evidence.Build(j.source, j.dets, s.lim)
	m := chain.Deterministic(b)
	res := fixed
	if res == nil {
		res = s.reason(ctx, b, m)
	}
	v := s.verdict(j, b, m, res)
	value, err := json.Marshal(v)
	if err != nil { // cannot happen with these types; never lose the verdict silently
		s.log.Error("llm: encoding verdict", "source", j.source, "err", err)
		return
	}
	s.smu.Lock()
	s.out.outcomes[res.outcome]++
	s.out.verdicts++
	changed := res.outcome != s.lastOutcome
	s.lastOutcome = res.outcome
	s.smu.Unlock()
	if changed && res.outcome != schemas.OutcomeOK && res.outcome != schemas.OutcomeDisabled {
		s.log.Warn("llm: verdicts without the model", "outcome", res.outcome, "reason", res.reason)
	} else if changed {
		s.log.Info("llm: verdict outcome", "outcome", res.outcome)
	}
	s.publish(sink.Message{Kind: sink.KindVerdict, Value: value, SourceIP: v.Source.IP,
		Severity: v.Aegis.Severity, ID: v.Event.ID})
}

// reason asks the model (or the cache) about a bundle.
func (s *Stage) reason(ctx context.Context, b *evidence.Bundle, m chain.Mapping) *result {
	if !s.cfg.Enabled {
		return &result{outcome: schemas.OutcomeDisabled, reason: "the LLM stage is disabled (llm.enabled: false): deterministic mapping only"}
	}
	js, err := evidence.Marshal(b)
	if err != nil {
		return &result{outcome: schemas.OutcomeUnavailable, reason: err.Error()}
	}
	key := evidence.Hash(js)
	if r, ok := s.cache.get(key); ok {
		s.smu.Lock()
		s.out.cacheHits++
		s.smu.Unlock()
		return &result{outcome: schemas.OutcomeOK, reply: r, cached: true}
	}
	s.smu.Lock()
	s.out.cacheMisses++
	s.smu.Unlock()
	res := s.ask(ctx, b, js, m)
	if res.outcome == schemas.OutcomeOK {
		s.cache.put(key, res.reply)
	}
	return res
}

// ask runs the request loop: transport retries with backoff, one retry
// after an invalid reply, the breaker checked before every request.
func (s *Stage) ask(ctx context.Context, b *evidence.Bundle, js []byte, m chain.Mapping) *result {
	val, err := prompt.NewValidator(b.IDs())
	if err != nil {
		return &result{outcome: schemas.OutcomeUnavailable, reason: err.Error()}
	}
	var (
		attempts, transportRetries int
		lastErr                    error
		lastKind                   ollama.Kind
		prevReply                  string
		prevProblem                error
	)
	for {
		if ctx.Err() != nil {
			return &result{outcome: schemas.OutcomeUnavailable, attempts: attempts, reason: "aegis stopping: " + ctx.Err().Error()}
		}
		if !s.breaker.allow() {
			_, streak, _ := s.breaker.snapshot()
			reason := fmt.Sprintf("circuit breaker open after %d consecutive failed requests; the model is not asked until a probe succeeds", max(streak, s.cfg.BreakerFailures))
			if lastErr != nil {
				return &result{outcome: outcomeOf(lastKind), attempts: attempts, reason: lastErr.Error() + "; then " + reason}
			}
			return &result{outcome: schemas.OutcomeBreakerOpen, attempts: attempts, reason: reason}
		}
		nonce := prompt.NewNonce()
		pm, err := prompt.Render(nonce, js, m)
		if err != nil {
			s.breaker.release()
			return &result{outcome: schemas.OutcomeUnavailable, attempts: attempts, reason: err.Error()}
		}
		msgs := []ollama.Message{{Role: "system", Content: pm.System}, {Role: "user", Content: pm.User}}
		if prevProblem != nil {
			msgs = append(msgs, ollama.Message{Role: "assistant", Content: evidence.Quote(prevReply, 4096)},
				ollama.Message{Role: "user", Content: prompt.Correction(prevProblem)})
		}
		attempts++
		rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		t0 := s.now()
		resp, err := s.client.Chat(rctx, ollama.Request{Messages: msgs, Format: val.Schema()})
		lat := s.now().Sub(t0)
		cancel()
		s.smu.Lock()
		s.out.requests++
		s.out.latency.observe(lat)
		s.smu.Unlock()
		if err != nil {
			kind := ollama.KindOf(err)
			if kind == ollama.KindCanceled || ctx.Err() != nil {
				s.breaker.release()
				return &result{outcome: schemas.OutcomeUnavailable, attempts: attempts, reason: "aegis stopping: " + err.Error()}
			}
			s.breaker.failure()
			lastErr, lastKind = err, kind
			if kind.Retryable() && transportRetries < s.cfg.Retries {
				transportRetries++
				s.smu.Lock()
				s.out.retries++
				s.smu.Unlock()
				sleep(ctx, s.cfg.Backoff<<(transportRetries-1)) // a stop is reported at the loop head
				continue
			}
			reason := err.Error()
			if attempts > 1 {
				reason += fmt.Sprintf(" (after %d requests)", attempts)
			}
			if kind == ollama.KindModelMissing {
				reason += fmt.Sprintf("; pull it with: ollama pull %s", s.cfg.Model)
			}
			return &result{outcome: outcomeOf(kind), attempts: attempts, reason: reason}
		}
		s.breaker.success()
		reply, perr := val.Parse(resp.Content)
		if perr != nil {
			s.smu.Lock()
			s.out.invalid++
			s.smu.Unlock()
			if prevProblem == nil {
				prevReply, prevProblem = resp.Content, perr
				continue
			}
			return &result{outcome: schemas.OutcomeInvalidReply, attempts: attempts,
				reason: fmt.Sprintf("%d replies did not fit the reply schema; last: %v", attempts-transportRetries, perr)}
		}
		return &result{outcome: schemas.OutcomeOK, attempts: attempts, reply: reply}
	}
}

// outcomeOf maps a request failure to a verdict outcome.
func outcomeOf(k ollama.Kind) schemas.VerdictOutcome {
	switch k {
	case ollama.KindTimeout:
		return schemas.OutcomeTimeout
	case ollama.KindModelMissing:
		return schemas.OutcomeModelMissing
	}
	return schemas.OutcomeUnavailable
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// verdict assembles the record.
func (s *Stage) verdict(j *job, b *evidence.Bundle, m chain.Mapping, res *result) *schemas.Verdict {
	ids := b.IDs()
	sev, score := 0, 0
	for _, d := range b.Detections {
		sev = max(sev, d.SevRank)
		score = max(score, d.Score)
	}
	detVetted, detUnvetted := chain.Split(m.Techniques)
	var modelVetted, modelUnvetted []string
	var steps []chain.Step
	narrative, route := chain.Narrative(b, m), chain.RouteOpinion(b)
	if res.reply != nil {
		modelVetted, modelUnvetted = chain.Split(res.reply.Techniques)
		steps = res.reply.Steps()
		narrative = res.reply.Narrative
		if res.reply.RouteOpinion != "" {
			route = res.reply.RouteOpinion
		}
		s.smu.Lock()
		s.out.unvetted += int64(len(modelUnvetted))
		s.smu.Unlock()
	}
	unvetted := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(detUnvetted), modelUnvetted...))))
	if unvetted == nil {
		unvetted = []string{}
	}
	techs := chain.Techniques(detVetted, modelVetted)
	v := &schemas.Verdict{
		Timestamp: b.End,
		Event: schemas.VerdictEvent{
			ID: verdictID(j.source, j.start, ids), Kind: "enrichment",
			Category: []string{"intrusion_detection"}, Type: []string{"info"}, Dataset: "aegis.verdict",
			Start: b.Start, End: b.End, Severity: score,
		},
		Source: schemas.HostRef{IP: j.source},
		Aegis: schemas.VerdictSection{
			SchemaVersion:      schemas.VerdictSchemaVersion,
			Sensor:             s.cfg.Sensor,
			Severity:           evidence.SeverityName(sev),
			Detections:         ids,
			Chain:              chain.Merge(steps, m.Chain),
			Techniques:         techs,
			UnvettedTechniques: unvetted,
			Narrative:          narrative,
			RouteOpinion:       route,
			Outcome:            res.outcome,
			Attempts:           res.attempts,
			Cached:             res.cached,
		},
	}
	if s.cfg.Enabled {
		v.Aegis.Model = s.cfg.Model
	}
	if res.outcome != schemas.OutcomeOK {
		v.Aegis.Reason = evidence.Quote(strings.Join(strings.Fields(res.reason), " "), 1024)
		if v.Aegis.Reason == "" {
			v.Aegis.Reason = string(res.outcome)
		}
	}
	if len(techs) > 0 {
		tids := make([]string, len(techs))
		for i, t := range techs {
			tids[i] = t.ID
		}
		v.Threat = &schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{ID: tids, Name: attack.Names(tids)}}
	}
	return v
}

// verdictID is the deterministic event.id of a verdict: the first 128 bits
// of SHA-256 over the source, the window start and the detection ids.
func verdictID(source string, start int64, ids []string) string {
	sorted := slices.Sorted(slices.Values(ids))
	h := sha256.New()
	h.Write([]byte("aegis.verdict\x00" + source + "\x00" + strconv.FormatInt(start, 10) + "\x00" + strings.Join(sorted, ",")))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// windowHeap orders open windows by end (record time).
type windowHeap []*window

func (h windowHeap) Len() int { return len(h) }
func (h windowHeap) Less(i, j int) bool {
	if h[i].end != h[j].end {
		return h[i].end < h[j].end
	}
	return h[i].source < h[j].source
}
func (h windowHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *windowHeap) Push(x any) {
	w := x.(*window)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *windowHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	w.index = -1
	return w
}
