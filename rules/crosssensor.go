package rules

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// This file holds what cross-sensor correlation ('aegis correlate') needs
// from the engine: scanning sources reported as findings a sensor can
// publish (TakeReconFindings), recon seen at another sensor fed back in
// (MarkRecon), per-source state dropped on demand (Forget) and the shape of
// the rule set (StateClasses, RuleInfo.SequenceWindow).

// ReconFinding says that a source was scanning, as the engine's
// reconnaissance counters saw it in the IDS records (Engine.ObserveIDS).
// A source yields a finding when it first crosses the threshold (or an IDS
// scan alert names it), and again for every further Recon.Window of record
// time in which it is still scanning, so a consumer that forgets old
// findings still learns of a long scan. A ReconFinding is a plain value.
type ReconFinding struct {
	// Source is the scanning address (IPv4 dotted, or IPv6 without zone).
	Source string
	// Start is the record time of the earliest probe still counted, At the
	// record time of the probe (or alert) that produced the finding.
	Start, At time.Time
	// Targets is the estimated number of distinct targets (address and
	// port) probed within the counting windows; Probes the number of
	// probes counted there.
	Targets, Probes int
	// Alert is true when an IDS alert matching Recon.AlertPatterns
	// produced the finding rather than the probe count.
	Alert bool
}

// maxPendingFindings bounds the findings waiting for TakeReconFindings; more
// are dropped and counted (Stats.ReconFindingsDropped), so an engine whose
// owner never takes them stays small.
const maxPendingFindings = 4096

// reconFindings is the engine's queue of findings. mu is taken while a
// shard lock is held (shard.mu, then mu), never the other way round.
type reconFindings struct {
	pending atomic.Int64 // len(list), readable without mu
	dropped atomic.Uint64
	mu      sync.Mutex
	list    []ReconFinding
}

// noteRecon queues a finding for the source in slot st when it is
// scanning and has not been reported within the last window. The caller
// holds the source's shard lock; t is the record time of the observation.
func (e *Engine) noteRecon(st *srcState, t int64, alert bool) {
	if !alert && int(st.targets) < e.recon.minTargets {
		return
	}
	if st.reconReported != 0 && t >= st.reconReported && t-st.reconReported < e.recon.window {
		return
	}
	st.reconReported = t
	start := st.winStart
	if st.prevProbes > 0 {
		start -= e.recon.window
	}
	if start <= 0 || start > t {
		start = t
	}
	f := ReconFinding{
		Source:  st.ip.Addr().String(),
		Start:   time.Unix(0, start).UTC(),
		At:      time.Unix(0, t).UTC(),
		Targets: int(st.targets),
		Probes:  int(st.probes + st.prevProbes),
		Alert:   alert,
	}
	q := &e.finds
	q.mu.Lock()
	if len(q.list) >= maxPendingFindings {
		q.mu.Unlock()
		q.dropped.Add(1)
		return
	}
	q.list = append(q.list, f)
	q.pending.Store(int64(len(q.list)))
	q.mu.Unlock()
}

// TakeReconFindings returns the findings produced since the last call,
// ordered by record time (then source), and forgets them; nil when there
// are none. It costs one atomic load when nothing is pending, so callers
// may call it after every ObserveIDS. Safe for concurrent use; the slice
// is the caller's.
func (e *Engine) TakeReconFindings() []ReconFinding {
	q := &e.finds
	if q.pending.Load() == 0 {
		return nil
	}
	q.mu.Lock()
	out := q.list
	q.list = nil
	q.pending.Store(0)
	q.mu.Unlock()
	slices.SortStableFunc(out, func(a, b ReconFinding) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmp.Compare(a.Source, b.Source)
	})
	return out
}

// MarkRecon records that source was scanning at time at (record time),
// as if the engine's own counters had seen it: preceded_by {recon: true}
// steps of later records of source within the step's window hold. It is
// how recon reported by another sensor reaches this engine. It returns
// false, and changes nothing, when source is not an IP address or at is
// the zero time. Feed MarkRecon and Evaluate in record-time order per
// source: the state keeps the latest time only. Safe for concurrent use.
func (e *Engine) MarkRecon(source string, at time.Time) bool {
	ip, _, ok := parseIP(source)
	if !ok || at.IsZero() {
		return false
	}
	t := at.UnixNano()
	if t <= 0 {
		return false
	}
	a := e.cur.Load()
	sh := e.shardFor(&ip)
	sh.mu.Lock()
	sh.sync(a)
	i := sh.getOrInsert(ip, t, a.horizon)
	if sh.slots[i].markRecon(t) {
		sh.reconSources++
		sh.reconDetections++
	}
	sh.mu.Unlock()
	return true
}

// Forget drops everything the engine remembers about source (recon
// counters, class and rule history) and reports whether there was
// anything. A caller that must re-feed a source's records in a different
// order (a late record) forgets it first. Safe for concurrent use.
func (e *Engine) Forget(source string) bool {
	ip, _, ok := parseIP(source)
	if !ok {
		return false
	}
	sh := e.shardFor(&ip)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := sh.lookup(ip)
	if i < 0 {
		return false
	}
	sh.remove(i)
	return true
}

// StateClasses lists the classes whose records read or write per-source
// state in this set: the classes of sequence rules (rules with preceded_by
// steps, or whose message reads recon.*), of rules a step refers to, and
// the classes a class step refers to. A record of any other class never
// hits a sequence rule and leaves no history, so a caller may skip
// Evaluate for it when only sequence rules matter. The empty class stands
// for records with an unknown class. The slice is the caller's.
func (s *Set) StateClasses() []schemas.Class {
	var out []schemas.Class
	for _, c := range schemas.Classes {
		if s.lockClasses&(1<<classSlot(c)) != 0 {
			out = append(out, c)
		}
	}
	if s.lockClasses&(1<<classSlot("")) != 0 {
		out = append(out, "")
	}
	return out
}

// sequenceWindow is the longest preceded_by window of r, 0 without steps.
func (r *rule) sequenceWindow() time.Duration {
	var w int64
	for i := range r.conds {
		switch r.conds[i].op {
		case opRecon, opClassBefore, opRuleBefore:
			w = max(w, r.conds[i].within)
		}
	}
	return time.Duration(w)
}

// StepRefs says what the preceded_by steps of the set refer to: recon
// (a recon step exists), the classes of class steps and the rule ids of
// rule steps (both slices are the caller's). A caller that sees only recon
// steps knows that a sequence rule can fire only on a record of a source
// with recon in the step's window, and that evaluating a record leaves no
// history, so it may skip Evaluate for records of sources without recon.
func (s *Set) StepRefs() (recon bool, classes []schemas.Class, ruleIDs []string) {
	for _, r := range s.rules {
		for i := range r.conds {
			recon = recon || r.conds[i].op == opRecon
		}
	}
	for _, c := range schemas.Classes {
		if s.recordClasses&(1<<classSlot(c)) != 0 {
			classes = append(classes, c)
		}
	}
	return recon, classes, slices.Clone(s.refIDs)
}
