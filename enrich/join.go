package enrich

import (
	"github.com/aegis-nsm/aegis/schemas"
)

// JoinMethod says how a packet flow found its IDS record.
type JoinMethod string

// Join methods, as published in aegis.ids.joined_by.
const (
	JoinNone        JoinMethod = ""
	JoinCommunityID JoinMethod = "community_id"
	JoinTupleTime   JoinMethod = "5tuple_time"
)

// joinKey is a canonical, direction-free 5-tuple.
type joinKey struct {
	a, b   schemas.IP
	ap, bp uint16
	proto  uint8
}

func keyOf(t schemas.Tuple) joinKey {
	if t.SrcFirst() {
		return joinKey{t.SrcIP, t.DstIP, t.SrcPort, t.DstPort, t.Proto}
	}
	return joinKey{t.DstIP, t.SrcIP, t.DstPort, t.SrcPort, t.Proto}
}

// IDSTuple returns the directional tuple (originator as sender) of an IDS
// flow.
func IDSTuple(r *schemas.IDSFlow) schemas.Tuple {
	return schemas.Tuple{
		SrcIP: schemas.IPFromAddr(r.Orig.Addr()), DstIP: schemas.IPFromAddr(r.Resp.Addr()),
		SrcPort: r.Orig.Port(), DstPort: r.Resp.Port(), Proto: r.Proto,
	}
}

// JoinSlack is how far outside an IDS record's [start, end] a packet flow may
// start or end and still overlap it: it absorbs timestamp rounding (EVE
// writes microseconds, Zeek's duration is rounded) and packets the IDS
// counted into a neighbouring connection.
const JoinSlack = int64(2e9)

// Index answers "which IDS record is this packet flow?" for a fixed set of
// IDS records (offline analysis). It is read-only after NewIndex and safe
// for concurrent use.
type Index struct {
	flows []schemas.IDSFlow
	byCID map[string][]int
	byKey map[joinKey][]int
}

// NewIndex indexes flows; the slice is kept, not copied.
func NewIndex(flows []schemas.IDSFlow) *Index {
	ix := &Index{flows: flows, byCID: make(map[string][]int), byKey: make(map[joinKey][]int)}
	for i := range flows {
		f := &flows[i]
		if f.CommunityID != "" {
			ix.byCID[f.CommunityID] = append(ix.byCID[f.CommunityID], i)
		}
		k := keyOf(IDSTuple(f))
		ix.byKey[k] = append(ix.byKey[k], i)
	}
	return ix
}

// Len is the number of indexed records.
func (ix *Index) Len() int { return len(ix.flows) }

// Flow returns record i.
func (ix *Index) Flow(i int) *schemas.IDSFlow { return &ix.flows[i] }

// Query describes one packet flow to join.
type Query struct {
	Tuple       schemas.Tuple // originator as sender
	CommunityID string
	First, Last int64 // ns
	// Ordinal is how many earlier flows with the same 5-tuple the packets
	// held (0 for the first). It decides among IDS records that carry no
	// usable time (btest-canonicalised logs).
	Ordinal int
}

// Match returns the index of the IDS record for q and how it was found, or
// -1. Candidates sharing q's Community ID are tried first, then those
// sharing its 5-tuple; among them the one whose time span overlaps q's most
// (with JoinSlack) wins, ties going to the closest start, then the lowest
// index. Records without a time are matched by Ordinal.
func (ix *Index) Match(q Query) (int, JoinMethod) {
	if q.CommunityID != "" {
		if i := ix.best(ix.byCID[q.CommunityID], q); i >= 0 {
			return i, JoinCommunityID
		}
	}
	if i := ix.best(ix.byKey[keyOf(q.Tuple)], q); i >= 0 {
		return i, JoinTupleTime
	}
	return -1, JoinNone
}

func (ix *Index) best(cands []int, q Query) int {
	best, bestOverlap, bestDist := -1, int64(-1), int64(0)
	var untimed []int
	for _, i := range cands {
		f := &ix.flows[i]
		if f.Proto != q.Tuple.Proto {
			continue
		}
		if f.Start == 0 {
			untimed = append(untimed, i)
			continue
		}
		lo, hi := max(f.Start-JoinSlack, q.First), min(f.End+JoinSlack, q.Last)
		if hi < lo {
			continue
		}
		overlap := hi - lo
		dist := abs(f.Start - q.First)
		if overlap > bestOverlap || (overlap == bestOverlap && dist < bestDist) {
			best, bestOverlap, bestDist = i, overlap, dist
		}
	}
	if best < 0 && q.Ordinal < len(untimed) {
		return untimed[q.Ordinal]
	}
	return best
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
