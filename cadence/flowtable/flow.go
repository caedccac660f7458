package flowtable

import (
	"github.com/aegis-nsm/aegis/schemas"
)

// Key is the canonical bidirectional flow key: the endpoint that sorts
// lower (address, then port) is A. Both directions of a flow map to the same
// Key. It is comparable and pointer-free.
type Key struct {
	AIP, BIP     schemas.IP
	APort, BPort uint16
	Proto        uint8
}

// CanonicalKey returns the Key of t and whether t's sender is the key's A side.
func CanonicalKey(t schemas.Tuple) (Key, bool) {
	var k Key
	a := canonicalKeyInto(&t, &k)
	return k, a
}

// canonicalKeyInto is CanonicalKey writing into k, without copying the
// tuple (the hot path).
func canonicalKeyInto(t *schemas.Tuple, k *Key) bool {
	k.Proto = t.Proto
	if t.SrcFirst() {
		k.AIP, k.BIP, k.APort, k.BPort = t.SrcIP, t.DstIP, t.SrcPort, t.DstPort
		return true
	}
	k.AIP, k.BIP, k.APort, k.BPort = t.DstIP, t.SrcIP, t.DstPort, t.SrcPort
	return false
}

// Direction is what one side of a flow sent.
type Direction struct {
	// Totals over every packet of this direction, payload or not.
	Packets   int64
	IPBytes   int64 // sum of IP lengths (Zeek *_ip_bytes)
	WireBytes int64 // sum of frame lengths (Suricata flow.bytes_*)
	Flags     uint8 // OR of the TCP flags seen

	// Payload-bearing packets, retransmissions excluded.
	PayloadPackets int64
	PayloadBytes   int64
	// Retransmits counts TCP payload packets that carried no new sequence
	// space; they are left out of the timing.
	Retransmits int64

	// Times and Sizes hold the timestamp (ns, packet clock) and payload
	// length of the first payload packets, up to the table's detail limit,
	// in arrival order. When PayloadPackets > len(Times) the detail was
	// trimmed; Gaps still covers every payload packet.
	Times []int64
	Sizes []uint32

	// Gaps summarises every gap between consecutive payload packets of this
	// direction (ns), trimmed detail or not.
	Gaps Running

	FirstPayload, LastPayload int64 // ns; meaningful once PayloadPackets > 0
	LastSeen                  int64 // ns of the last packet of any kind

	// nextSeq is the highest TCP sequence number + payload seen so far.
	nextSeq    uint32
	seqStarted bool
}

// Flow is one bidirectional flow as the table saw it. Orig is the side Zeek
// would call the originator: the SYN sender, else the first packet's sender.
// A Flow handed out by the table (on expiry, eviction or Flush) is owned by
// the receiver; the table keeps no reference to it.
type Flow struct {
	Key Key
	// Orig and Resp are directional identities: OrigTuple's sender is the
	// originator.
	OrigTuple schemas.Tuple
	// First and Last are the first and last packet times (ns, packet clock).
	First, Last int64
	Orig, Resp  Direction
	// Evicted is set when the memory budget ended the flow early.
	Evicted bool
	// Ended says why the flow left the table.
	Ended EndReason

	// table bookkeeping
	origIsA    bool
	closed     uint8 // FIN/RST progress
	doneAt     int64 // ns after which the closed flow is over; 0 while open
	ended      bool
	prev, next *Flow
	mem        int64
}

// EndReason says why a flow left the table.
type EndReason uint8

// Reasons a flow leaves the table.
const (
	EndFlush   EndReason = iota // end of input
	EndIdle                     // idle timeout on the packet clock
	EndClosed                   // FIN/RST then a new connection on the same key
	EndEvicted                  // memory budget
)

// String names the reason.
func (r EndReason) String() string {
	switch r {
	case EndIdle:
		return "idle"
	case EndClosed:
		return "closed"
	case EndEvicted:
		return "evicted"
	}
	return "flush"
}

// Running keeps count, mean, variance (Welford), min and max of a stream of
// values without storing them.
type Running struct {
	N        int64
	Mean, M2 float64
	Min, Max float64
}

// Add adds one value.
func (r *Running) Add(x float64) {
	r.N++
	if r.N == 1 {
		r.Min, r.Max = x, x
	} else {
		if x < r.Min {
			r.Min = x
		}
		if x > r.Max {
			r.Max = x
		}
	}
	d := x - r.Mean
	r.Mean += d / float64(r.N)
	r.M2 += d * (x - r.Mean)
}

// Variance returns the population variance (0 for fewer than 2 values).
func (r *Running) Variance() float64 {
	if r.N < 2 {
		return 0
	}
	return r.M2 / float64(r.N)
}
