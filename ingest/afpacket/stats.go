package afpacket

import (
	"fmt"
	"strings"
)

// WorkerStats counts what one worker's socket and ring did. Kernel
// counters come from PACKET_STATISTICS (struct tpacket_stats_v3) and
// cover the socket's whole life; they are read when Stats is called.
//
// Once the ring is drained, Packets == Drops + Frames, and
// Frames == Decoded + NotIP + TruncatedHeader + BadHeader.
type WorkerStats struct {
	// Worker is the worker's index, as passed to the Run callback.
	Worker int

	// Packets is the kernel's count of packets that passed the filter
	// and were meant for this socket's ring, the dropped ones included
	// (tp_packets).
	Packets uint64
	// Drops is the kernel's count of packets lost because the ring was
	// full (tp_drops). Nonzero means the worker or its callback is too
	// slow for the traffic, or the ring too small.
	Drops uint64
	// Freezes is how many times the ring filled up and the kernel froze
	// the queue until a block was handed back (tp_freeze_q_cnt).
	Freezes uint64

	// Frames is the number of frames read from the ring.
	Frames uint64
	// Decoded is the number of frames handed to the callback as packets.
	Decoded uint64
	// NotIP counts frames that carry no IP (ARP, LLDP, ...): skipped.
	NotIP uint64
	// TruncatedHeader counts frames whose headers SnapLen cut: skipped.
	TruncatedHeader uint64
	// BadHeader counts frames with a malformed header: skipped.
	BadHeader uint64
	// Batches is the number of callback calls.
	Batches uint64
	// Reordered counts packets whose kernel timestamp was a little (at
	// most 10 ms) behind the worker's previous packet and was raised to
	// it, so that the worker's packet clock never goes back. The kernel
	// stamps a packet just after queueing it, so packets handled at the
	// same moment on different CPUs can swap by nanoseconds to
	// microseconds.
	Reordered uint64
	// ClockSteps counts packets whose timestamp was more than 10 ms behind
	// the worker's previous packet: the system clock was stepped back (or
	// a CPU stalled). They keep their timestamp, and the worker's clock
	// goes back with them.
	ClockSteps uint64
}

// Stats is a snapshot of a Source's counters.
type Stats struct {
	// Workers holds one entry per worker, in worker order.
	Workers []WorkerStats
}

// Total sums the workers' counters (Worker is -1).
func (s Stats) Total() WorkerStats {
	t := WorkerStats{Worker: -1}
	for _, w := range s.Workers {
		t.Packets += w.Packets
		t.Drops += w.Drops
		t.Freezes += w.Freezes
		t.Frames += w.Frames
		t.Decoded += w.Decoded
		t.NotIP += w.NotIP
		t.TruncatedHeader += w.TruncatedHeader
		t.BadHeader += w.BadHeader
		t.Batches += w.Batches
		t.Reordered += w.Reordered
		t.ClockSteps += w.ClockSteps
	}
	return t
}

// String formats the counters for a log line.
func (w WorkerStats) String() string {
	var b strings.Builder
	if w.Worker >= 0 {
		fmt.Fprintf(&b, "worker=%d ", w.Worker)
	}
	fmt.Fprintf(&b, "packets=%d drops=%d freezes=%d frames=%d decoded=%d",
		w.Packets, w.Drops, w.Freezes, w.Frames, w.Decoded)
	if w.NotIP != 0 {
		fmt.Fprintf(&b, " not_ip=%d", w.NotIP)
	}
	if w.TruncatedHeader != 0 {
		fmt.Fprintf(&b, " truncated_header=%d", w.TruncatedHeader)
	}
	if w.BadHeader != 0 {
		fmt.Fprintf(&b, " bad_header=%d", w.BadHeader)
	}
	if w.Reordered != 0 {
		fmt.Fprintf(&b, " reordered=%d", w.Reordered)
	}
	if w.ClockSteps != 0 {
		fmt.Fprintf(&b, " clock_steps=%d", w.ClockSteps)
	}
	return b.String()
}
