package kafka

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats are a Sink's counters since New. All counts are records unless
// named otherwise.
type Stats struct {
	Accepted int64 // records Write accepted
	Sent     int64 // records put in produce requests, re-sends included
	Acked    int64 // records Kafka acknowledged (Done(nil))
	Failed   int64 // records given up on (Done(err): permanent error or Close)
	Retries  int64 // produce requests repeated after a retriable error
	Requests int64 // produce requests sent (Sent/Requests is the mean batch)

	InFlight          int64 // accepted, Done not yet called
	InFlightBytes     int64 // key+value bytes of those
	PeakInFlight      int64 // highest InFlight seen (never above MaxInFlight)
	PeakInFlightBytes int64 // highest InFlightBytes seen

	// Latency is the time from Write accepting a record to Kafka
	// acknowledging it.
	Latency Latency
}

// LatencyBounds are the upper bounds of the Latency buckets (Prometheus
// style, "le"); a last implicit bucket holds the rest.
var LatencyBounds = []time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second,
	10 * time.Second, 30 * time.Second, time.Minute,
}

// Latency is a histogram of acknowledgement latencies.
type Latency struct {
	// Counts[i] is the number of latencies <= LatencyBounds[i] and above
	// the previous bound; Counts[len(LatencyBounds)] counts the rest.
	// (Not cumulative; sum a prefix for Prometheus' "le" buckets.)
	Counts []int64
	Count  int64
	Sum    time.Duration
	Max    time.Duration
}

// Mean returns the mean latency, 0 when nothing was acknowledged.
func (l Latency) Mean() time.Duration {
	if l.Count == 0 {
		return 0
	}
	return l.Sum / time.Duration(l.Count)
}

// counters are the live counters behind Stats; safe for concurrent use.
type counters struct {
	accepted, sent, acked, failed, retries, requests atomic.Int64

	lmu  sync.Mutex
	lat  [16]int64 // len(LatencyBounds)+1
	lcnt int64
	lsum time.Duration
	lmax time.Duration
}

// observe records the latencies of n records acknowledged together.
func (c *counters) observe(ds []time.Duration) {
	c.lmu.Lock()
	for _, d := range ds {
		i := 0
		for i < len(LatencyBounds) && d > LatencyBounds[i] {
			i++
		}
		c.lat[i]++
		c.lcnt++
		c.lsum += d
		c.lmax = max(c.lmax, d)
	}
	c.lmu.Unlock()
}

func (c *counters) latency() Latency {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	return Latency{Counts: append([]int64(nil), c.lat[:len(LatencyBounds)+1]...), Count: c.lcnt, Sum: c.lsum, Max: c.lmax}
}
