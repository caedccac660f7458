package llm

import (
	"sync"
	"time"
)

// Breaker states, as Stats reports them.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half_open"
)

// breaker is a circuit breaker over model requests: it opens after
// failures consecutive failures, lets one probe through after cooldown
// (half-open) and closes when a request succeeds. Time comes from now (the
// wall clock; tests inject a fake). Safe for concurrent use.
type breaker struct {
	failures int
	cooldown time.Duration
	now      func() time.Time

	mu       sync.Mutex
	state    string
	streak   int       // consecutive failures
	openedAt time.Time // when the breaker last opened
	probing  bool      // a half-open probe is in flight
	opens    int64     // times the breaker opened
}

func newBreaker(failures int, cooldown time.Duration, now func() time.Time) *breaker {
	return &breaker{failures: failures, cooldown: cooldown, now: now, state: BreakerClosed}
}

// allow reports whether a request may go out now. In the half-open state
// only one probe is allowed at a time; its outcome (success or failure)
// must be reported.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return true
	case BreakerOpen:
		if b.now().Sub(b.openedAt) < b.cooldown {
			return false
		}
		b.state = BreakerHalfOpen
		b.probing = true
		return true
	default: // half-open
		if b.probing {
			return false
		}
		b.probing = true
		return true
	}
}

// success reports a request the server answered: the breaker closes.
func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state, b.streak, b.probing = BreakerClosed, 0, false
}

// failure reports a failed request: a failed probe reopens the breaker, and
// failures consecutive failures open it.
func (b *breaker) failure() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.streak++
	if b.state == BreakerHalfOpen || (b.state == BreakerClosed && b.streak >= b.failures) {
		b.state, b.openedAt, b.probing = BreakerOpen, b.now(), false
		b.opens++
	}
}

// release gives back a half-open probe slot that was not used for a
// request whose outcome says anything about the server (the caller was
// canceled).
func (b *breaker) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

// snapshot returns the state, the consecutive failures and the opens.
func (b *breaker) snapshot() (state string, streak int, opens int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	state = b.state
	if state == BreakerOpen && b.now().Sub(b.openedAt) >= b.cooldown {
		state = BreakerHalfOpen // the next request will probe
	}
	return state, b.streak, b.opens
}
