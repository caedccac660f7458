package llm

import (
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// Stats are the stage's counters and gauges, a snapshot. Counters only
// grow; gauges (QueueDepth, InFlight, OpenWindows, CacheEntries, Breaker)
// are the state at the call.
type Stats struct {
	// Intake.
	Submitted      int64 // records handed to Submit
	Ignored        int64 // not detections, or without a valid id or source address
	Detections     int64 // detections put into windows
	OpenWindows    int   // sources with an open window
	Windows        int64 // windows closed
	BelowThreshold int64 // closed windows with no detection at min_severity/min_score: no verdict
	FullWindows    int64 // windows closed early at max_window_records
	EvictedWindows int64 // windows closed early at max_windows

	// Queue and workers.
	QueueDepth        int   // closed windows waiting for a worker
	QueueDropped      int64 // windows dropped from a full queue (oldest first): no verdict
	DroppedDetections int64 // detections in the dropped windows
	InFlight          int   // windows being processed

	// Model requests.
	Requests       int64        // chat requests sent
	Retries        int64        // transport retries (timeouts, unavailable)
	InvalidReplies int64        // replies that failed validation (each one)
	Latency        LatencyStats // of chat requests, failed ones included

	// Results.
	Verdicts     int64                            // verdicts published
	Outcomes     map[schemas.VerdictOutcome]int64 // verdicts by outcome; every outcome is present
	CacheHits    int64
	CacheMisses  int64
	CacheEntries int
	// Breaker is "closed", "open" or "half_open" (open, cool-down over:
	// the next request probes).
	Breaker         string
	BreakerStreak   int   // consecutive failed requests
	BreakerOpens    int64 // times the breaker opened
	UnvettedFromLLM int64 // model technique ids not in Aegis's ATT&CK table
}

// LatencyStats summarise request durations (wall clock).
type LatencyStats struct {
	Count int64
	Sum   time.Duration
	Max   time.Duration
	Last  time.Duration
	// Buckets counts requests at or under each of LatencyBounds; the last
	// element counts the slower ones (a Prometheus-style histogram, not
	// cumulative).
	Buckets [len(LatencyBounds) + 1]int64
}

// LatencyBounds are the upper bounds of LatencyStats.Buckets.
var LatencyBounds = [...]time.Duration{100 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute}

func (l *LatencyStats) observe(d time.Duration) {
	l.Count++
	l.Sum += d
	l.Max = max(l.Max, d)
	l.Last = d
	for i, b := range LatencyBounds {
		if d <= b {
			l.Buckets[i]++
			return
		}
	}
	l.Buckets[len(LatencyBounds)]++
}

// Stats returns a snapshot of the counters.
func (s *Stage) Stats() Stats {
	var st Stats
	s.mu.Lock()
	st.Submitted, st.Ignored, st.Detections = s.in.submitted, s.in.ignored, s.in.detections
	st.OpenWindows = len(s.windows)
	st.Windows, st.BelowThreshold, st.FullWindows, st.EvictedWindows = s.in.windows, s.in.belowThreshold, s.in.full, s.in.evicted
	st.QueueDepth, st.QueueDropped, st.DroppedDetections = len(s.queue), s.in.dropped, s.in.droppedDetections
	st.InFlight = s.busy
	s.mu.Unlock()
	s.smu.Lock()
	st.Requests, st.Retries, st.InvalidReplies = s.out.requests, s.out.retries, s.out.invalid
	st.Latency = s.out.latency
	st.Verdicts = s.out.verdicts
	st.Outcomes = make(map[schemas.VerdictOutcome]int64, len(schemas.VerdictOutcomes))
	for _, o := range schemas.VerdictOutcomes {
		st.Outcomes[o] = s.out.outcomes[o]
	}
	st.CacheHits, st.CacheMisses = s.out.cacheHits, s.out.cacheMisses
	st.UnvettedFromLLM = s.out.unvetted
	s.smu.Unlock()
	st.CacheEntries = s.cache.len()
	st.Breaker, st.BreakerStreak, st.BreakerOpens = s.breaker.snapshot()
	return st
}
