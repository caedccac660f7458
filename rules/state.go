package rules

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/aegis-nsm/aegis/schemas"
)

// srcState is what the engine remembers about one source address: its
// reconnaissance counters and, for sequence rules, when it last showed each
// class. It holds no pointer, so a shard's slab costs the garbage collector
// nothing to scan. Times are ns since the epoch (record time); 0 is "never".
type srcState struct {
	ip         schemas.IP
	prev, next int32 // LRU links (slot indexes, -1 for none); head is the most recent
	seen       int64 // latest record time that touched the source

	// Reconnaissance: probes and distinct targets in the current and the
	// previous counting window (targets as bits of a 256-bit map).
	winStart   int64
	probes     uint32
	prevProbes uint32
	cur, prevW [4]uint64
	targets    int32 // distinct-target estimate after the last probe
	reconAt    int64 // last time the source was over the recon threshold
	// reconReported is the record time of the last ReconFinding queued.
	reconReported int64

	classAt [nClassSlots]int64 // last record end per class (only classes a step refers to)
}

// shard is one lock's worth of sources. Sources are spread over shards by
// a hash of their address, so evaluations of different sources rarely
// contend. Everything below mu is guarded by it; the atomics are not.
type shard struct {
	mu    sync.Mutex
	idx   map[schemas.IP]int32
	slots []srcState
	free  []int32
	head  int32
	tail  int32
	limit int   // most sources this shard keeps
	now   int64 // latest record time seen

	// refs holds, per slot, the last hit time of each rule a step refers
	// to (stride len(refIDs)), for the rule set with generation refGen.
	refs   []int64
	refIDs []string
	refGen uint64

	evicted, expired uint64
	reconSources     int
	reconDetections  uint64
	probes           uint64
	scanAlerts       uint64

	evals  atomic.Uint64
	ids    atomic.Uint64
	noTime atomic.Uint64
	_      [64]byte // keep the next shard's lock off this cache line
}

func newShard(limit int) *shard {
	return &shard{idx: map[schemas.IP]int32{}, head: -1, tail: -1, limit: max(limit, 1)}
}

// shardHash spreads addresses over shards.
func shardHash(ip *schemas.IP) uint64 {
	a := binary.LittleEndian.Uint64(ip[:8])
	b := binary.LittleEndian.Uint64(ip[8:])
	h := (a ^ bits.RotateLeft64(b, 31)) * 0x9e3779b97f4a7c15
	return h ^ h>>32
}

// row returns slot i's rule-hit times.
func (s *shard) row(i int32) []int64 {
	n := len(s.refIDs)
	return s.refs[int(i)*n : int(i)*n+n]
}

// sync adapts the per-slot rule-hit columns to set a (after a Swap):
// columns of rule ids present in both sets are kept, others start empty.
func (s *shard) sync(a *active) {
	if s.refGen == a.set.gen {
		return
	}
	newIDs := a.set.refIDs
	if !slices.Equal(newIDs, s.refIDs) {
		n, o := len(newIDs), len(s.refIDs)
		refs := make([]int64, len(s.slots)*n)
		for j, id := range newIDs {
			if k := slices.Index(s.refIDs, id); k >= 0 {
				for i := range s.slots {
					refs[i*n+j] = s.refs[i*o+k]
				}
			}
		}
		s.refs, s.refIDs = refs, slices.Clone(newIDs)
	}
	s.refGen = a.set.gen
}

// lookup returns the slot of ip, or -1.
func (s *shard) lookup(ip schemas.IP) int32 {
	if i, ok := s.idx[ip]; ok {
		return i
	}
	return -1
}

// getOrInsert returns ip's slot, creating it (and evicting the least
// recently seen source when the shard is full) when needed, and marks it
// seen at t. horizon is how long an idle source can still matter: older
// ones are dropped first (counted as expired).
func (s *shard) getOrInsert(ip schemas.IP, t, horizon int64) int32 {
	s.now = max(s.now, t)
	if i, ok := s.idx[ip]; ok {
		s.touch(i, t)
		return i
	}
	for n := 0; n < 2 && s.tail >= 0 && s.slots[s.tail].seen < s.now-horizon; n++ {
		s.remove(s.tail)
		s.expired++
	}
	if len(s.idx) >= s.limit {
		s.remove(s.tail)
		s.evicted++
	}
	var i int32
	if n := len(s.free); n > 0 {
		i = s.free[n-1]
		s.free = s.free[:n-1]
		s.slots[i] = srcState{}
		clear(s.row(i))
	} else {
		i = int32(len(s.slots))
		s.slots = append(s.slots, srcState{})
		s.refs = append(s.refs, make([]int64, len(s.refIDs))...)
	}
	st := &s.slots[i]
	st.ip, st.seen, st.prev, st.next = ip, t, -1, s.head
	if s.head >= 0 {
		s.slots[s.head].prev = i
	}
	s.head = i
	if s.tail < 0 {
		s.tail = i
	}
	s.idx[ip] = i
	return i
}

// touch marks slot i seen at t and moves it to the head.
func (s *shard) touch(i int32, t int64) {
	st := &s.slots[i]
	st.seen = max(st.seen, t)
	if s.head == i {
		return
	}
	s.unlink(i)
	st.prev, st.next = -1, s.head
	if s.head >= 0 {
		s.slots[s.head].prev = i
	}
	s.head = i
	if s.tail < 0 {
		s.tail = i
	}
}

func (s *shard) unlink(i int32) {
	st := &s.slots[i]
	if st.prev >= 0 {
		s.slots[st.prev].next = st.next
	} else {
		s.head = st.next
	}
	if st.next >= 0 {
		s.slots[st.next].prev = st.prev
	} else {
		s.tail = st.prev
	}
	st.prev, st.next = -1, -1
}

// remove frees slot i.
func (s *shard) remove(i int32) {
	if i < 0 {
		return
	}
	st := &s.slots[i]
	if st.reconAt != 0 {
		s.reconSources--
	}
	s.unlink(i)
	delete(s.idx, st.ip)
	s.free = append(s.free, i)
}
