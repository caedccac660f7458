package correlate

import (
	"slices"
	"strings"
	"time"
)

// Stats are the service's counters since Run started.
type Stats struct {
	Records     uint64 // records read from the detection topics
	Replayed    uint64 // records re-read below the committed offset to rebuild windows
	Ignored     uint64 // records that are neither detections nor recon (analysed flows, other datasets)
	Bad         uint64 // records that could not be decoded (skipped, counted, logged with their offset)
	Published   uint64 // campaign records handed to the sink
	Failed      uint64 // campaign records the sink gave up on for good
	Rebuilds    uint64 // partitions taken with a window to rebuild
	Generations uint64 // consumer group generations joined
	Commits     uint64 // successful offset commits
	CommitErrs  uint64 // failed offset commits
	// Tracker sums the trackers' counters (current partitions and those
	// given away).
	Tracker TrackerStats
	// Partitions describes the partitions assigned now, by topic and
	// partition.
	Partitions []PartitionStats
}

// PartitionStats is the progress of one assigned partition.
type PartitionStats struct {
	Topic     string
	Partition int
	// Committed is the last committed offset (negative: none yet).
	Committed int64
	// ReplayFrom is where the rebuild started, PublishFrom the committed
	// offset it publishes from (both -1 until the partition started).
	ReplayFrom, PublishFrom int64
	// Position is the next offset to process; HighWater the partition's
	// end at the last fetch; Lag the records between them.
	Position, HighWater, Lag int64
	// Rebuilding is true while the records below PublishFrom are re-read.
	Rebuilding bool
	// Clock is the partition clock (latest record end seen).
	Clock time.Time
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (s *Service) Stats() Stats {
	st := Stats{
		Records: s.c.records.Load(), Replayed: s.c.replayed.Load(), Ignored: s.c.ignored.Load(), Bad: s.c.bad.Load(),
		Published: s.c.published.Load(), Failed: s.c.failed.Load(), Rebuilds: s.c.rebuilds.Load(),
		Generations: s.c.generations.Load(), Commits: s.c.commits.Load(), CommitErrs: s.c.commitErrors.Load(),
	}
	s.c.tr.mu.Lock()
	st.Tracker = s.c.tr.s
	s.c.tr.mu.Unlock()
	s.mu.Lock()
	parts := make([]*partition, 0, len(s.parts))
	for _, p := range s.parts {
		parts = append(parts, p)
	}
	s.mu.Unlock()
	for _, p := range parts {
		ps := PartitionStats{
			Topic: p.topic, Partition: p.part, Committed: p.committed.Load(),
			ReplayFrom: p.replayFrom.Load(), PublishFrom: p.liveFrom.Load(),
			Position: p.position.Load(), HighWater: p.highWater.Load(), Rebuilding: p.rebuilding.Load(),
		}
		if ps.HighWater >= 0 && ps.Position >= 0 {
			ps.Lag = max(ps.HighWater-ps.Position, 0)
		}
		if ts, ok := p.trackerStats(); ok {
			st.Tracker = addStats(st.Tracker, ts)
			p.mu.Lock()
			ps.Clock = time.Unix(0, p.tr.Clock()).UTC()
			p.mu.Unlock()
		}
		st.Partitions = append(st.Partitions, ps)
	}
	slices.SortFunc(st.Partitions, func(a, b PartitionStats) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return a.Partition - b.Partition
	})
	return st
}

// addStats sums tracker counters (Hosts and OpenCampaigns are gauges of
// the live trackers: only b's count).
func addStats(a, b TrackerStats) TrackerStats {
	return TrackerStats{
		Records: a.Records + b.Records, Evaluated: a.Evaluated + b.Evaluated, OutOfOrder: a.OutOfOrder + b.OutOfOrder,
		Duplicates: a.Duplicates + b.Duplicates, Late: a.Late + b.Late, Undecodable: a.Undecodable + b.Undecodable,
		Trimmed: a.Trimmed + b.Trimmed, HostsEvicted: a.HostsEvicted + b.HostsEvicted, HostsExpired: a.HostsExpired + b.HostsExpired,
		Opened: a.Opened + b.Opened, Updates: a.Updates + b.Updates, SpansClosed: a.SpansClosed + b.SpansClosed,
		Hosts: a.Hosts + b.Hosts, OpenCampaigns: a.OpenCampaigns + b.OpenCampaigns,
	}
}

// Ready says whether the service is a member of the group with its
// partitions assigned ("" when it is), for /readyz.
func (s *Service) Ready() string {
	if !s.ready.Load() {
		return "not a member of the consumer group yet (joining or rebalancing)"
	}
	if err := s.fatalErr(); err != nil {
		return err.Error()
	}
	return ""
}
