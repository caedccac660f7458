package coupling

import (
	"bytes"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/aegis-nsm/aegis/schemas"
)

// Detector keeps a bounded timeline per host (its recent model answers and
// its recent actions) and tests each host's actions for coupling to its
// answers.
//
// It is safe for concurrent use: ObserveStream and ObserveAction may be
// called from several goroutines; Findings and Evaluate copy the timelines
// they test under the lock and compute the statistics outside it. Findings
// keeps per-host report state, so call it from one goroutine (the
// pipeline's clock tick). Events may arrive out of order (an llm_stream
// record is written when its connection closes, long after the actions that
// followed its answers); they are kept sorted by time.
//
// Time is the record clock: the newest event time seen, never the wall
// clock, so a replay of the same inputs with the same Findings calls gives
// the same findings, byte for byte.
type Detector struct {
	cfg Config
	log *slog.Logger

	ignore map[string]bool // lower-case services that are not actions

	mu     sync.Mutex
	hosts  map[schemas.IP]*hostState
	lru    hostList // by last observation, least recent first
	events int      // streams + actions held over all hosts
	clock  int64    // newest event time seen (ns)
	dirty  []*hostState
	stats  Stats
}

// Stats counts what the detector did. Counters only grow, except Hosts and
// Events, which are the current sizes.
type Stats struct {
	Hosts  int // hosts held now
	Events int // streams + actions held now

	Streams, Actions int64 // observed
	// Ignored counts inputs that cannot be used (no host, an end before
	// the start, an unknown action kind).
	Ignored int64
	// Skipped counts connect actions of an ignored service (ignore_services).
	Skipped int64
	// Duplicates counts repeated inputs (the same event delivered twice
	// by an at-least-once pipeline), dropped.
	Duplicates int64
	// EventsDropped counts events dropped by the per-host bound or because
	// they were older than host_ttl before the clock.
	EventsDropped int64
	// HostsEvicted counts hosts forgotten early by max_hosts or max_events;
	// HostsExpired hosts forgotten after host_ttl without events.
	HostsEvicted, HostsExpired int64
	// Tests counts channel tests run (the null drawn); Untestable counts
	// channels with enough cycles whose span was too short to shift.
	Tests, Untestable int64
	// Findings counts findings Findings returned.
	Findings int64
}

// Option configures a Detector.
type Option func(*Detector)

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(d *Detector) {
		if l != nil {
			d.log = l
		}
	}
}

// New returns an empty Detector, or the error Validate gives for cfg.
func New(cfg Config, opts ...Option) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Detector{cfg: cfg, log: slog.Default(), hosts: make(map[schemas.IP]*hostState), ignore: map[string]bool{}}
	for _, s := range cfg.IgnoreServices {
		d.ignore[strings.ToLower(strings.TrimSpace(s))] = true
	}
	for _, o := range opts {
		o(d)
	}
	return d, nil
}

// Config returns the detector's configuration.
func (d *Detector) Config() Config { return d.cfg }

// meta is the identity of the flow an event belongs to. Events of one flow
// (the answers of one keep-alive LLM connection, the commands of one
// session) share one meta. A meta is immutable once created.
type meta struct {
	recordID, uid, communityID, flowKey string
	label                               string // route (streams) or service (actions)
	port                                uint16
	class                               uint8 // index+1 into schemas.Classes, 0: unknown
}

// streamEv is one model answer. key is the meta's identity hash, so that
// looking for a flow's earlier events does not touch every meta.
type streamEv struct {
	start, end int64
	m          *meta
	key        uint64
}

// actionEv is one action.
type actionEv struct {
	t    int64
	m    *meta
	key  uint64
	kind ActionKind
}

// identity hashes a meta's fields (FNV-1a).
func (m *meta) identity() uint64 {
	h := uint64(14695981039346656037)
	for _, s := range [...]string{m.recordID, m.uid, m.communityID, m.flowKey, m.label} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
		h ^= 0xff // separator
		h *= 1099511628211
	}
	h ^= uint64(m.port)<<8 | uint64(m.class)
	h *= 1099511628211
	return h
}

func classIndex(c schemas.Class) uint8 {
	for i, k := range schemas.Classes {
		if k == c {
			return uint8(i + 1)
		}
	}
	return 0
}

func (m *meta) className() schemas.Class {
	if m.class == 0 || int(m.class) > len(schemas.Classes) {
		return ""
	}
	return schemas.Classes[m.class-1]
}

// chanKey identifies a channel of a host's actions.
type chanKey struct {
	kind ActionKind
	key  string // the session (command) or the service or port (connect)
}

// reportMark remembers the last stream end a finding of a channel reported.
type reportMark struct {
	ch  chanKey
	end int64
}

// hostState is one host's timeline.
type hostState struct {
	ip         schemas.IP
	streams    []streamEv // by end
	actions    []actionEv // by time
	last       int64      // newest event time of this host
	dirty      bool
	gone       bool
	marks      []reportMark
	prev, next *hostState
}

// hostList is an intrusive doubly linked list of hosts.
type hostList struct{ head, tail *hostState }

func (l *hostList) pushBack(h *hostState) {
	h.prev, h.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = h
	} else {
		l.head = h
	}
	l.tail = h
}

func (l *hostList) remove(h *hostState) {
	if h.prev != nil {
		h.prev.next = h.next
	} else {
		l.head = h.next
	}
	if h.next != nil {
		h.next.prev = h.prev
	} else {
		l.tail = h.prev
	}
	h.prev, h.next = nil, nil
}

func (l *hostList) moveToBack(h *hostState) {
	if l.tail == h {
		return
	}
	l.remove(h)
	l.pushBack(h)
}

// ObserveStream adds one model answer of s.Host. Strings in s are kept (not
// copied); s itself is not retained.
func (d *Detector) ObserveStream(s Stream) {
	if !s.Host.IsValid() || s.End < s.Start {
		d.mu.Lock()
		d.stats.Ignored++
		d.mu.Unlock()
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats.Streams++
	d.advance(s.End)
	if s.End < d.horizon() {
		d.stats.EventsDropped++
		return
	}
	h := d.host(schemas.IPFromAddr(s.Host))
	m := meta{recordID: s.RecordID, uid: s.UID, communityID: s.CommunityID, flowKey: s.FlowKey, label: s.Route}
	ev := streamEv{start: s.Start, end: s.End, key: m.identity()}
	d.pruneOld(h)
	// Find the insertion point, a duplicate, and a meta to share.
	i := len(h.streams)
	for i > 0 && h.streams[i-1].end > s.End {
		i--
	}
	for k := i - 1; k >= 0 && h.streams[k].end == s.End; k-- {
		if o := &h.streams[k]; o.key == ev.key && o.start == s.Start && *o.m == m {
			d.stats.Duplicates++
			return
		}
	}
	for k := len(h.streams) - 1; k >= 0; k-- {
		if o := &h.streams[k]; o.key == ev.key && *o.m == m {
			ev.m = o.m
			break
		}
	}
	if ev.m == nil {
		ev.m = new(meta)
		*ev.m = m
	}
	if len(h.streams) >= d.cfg.MaxEventsPerHost {
		if i == 0 {
			d.stats.EventsDropped++ // older than everything kept
			return
		}
		h.streams = slices.Delete(h.streams, 0, 1)
		d.events--
		d.stats.EventsDropped++
		i--
	}
	h.streams = slices.Insert(h.streams, i, ev)
	d.added(h, s.End)
}

// ObserveAction adds one action of a.Host. Strings in a are kept (not
// copied); a itself is not retained.
func (d *Detector) ObserveAction(a Action) {
	if !a.Host.IsValid() || (a.Kind != ActionCommand && a.Kind != ActionConnect) {
		d.mu.Lock()
		d.stats.Ignored++
		d.mu.Unlock()
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats.Actions++
	if a.Kind == ActionConnect && len(d.ignore) > 0 && a.Service != "" && d.ignore[strings.ToLower(a.Service)] {
		d.stats.Skipped++
		return
	}
	d.advance(a.Time)
	if a.Time < d.horizon() {
		d.stats.EventsDropped++
		return
	}
	h := d.host(schemas.IPFromAddr(a.Host))
	m := meta{recordID: a.RecordID, uid: a.UID, communityID: a.CommunityID, flowKey: a.FlowKey, label: a.Service, port: a.DstPort, class: classIndex(a.Class)}
	ev := actionEv{t: a.Time, kind: a.Kind, key: m.identity()}
	d.pruneOld(h)
	i := len(h.actions)
	for i > 0 && h.actions[i-1].t > a.Time {
		i--
	}
	for k := i - 1; k >= 0 && h.actions[k].t == a.Time; k-- {
		if o := &h.actions[k]; o.key == ev.key && o.kind == a.Kind && *o.m == m {
			d.stats.Duplicates++
			return
		}
	}
	for k := len(h.actions) - 1; k >= 0; k-- {
		if o := &h.actions[k]; o.key == ev.key && *o.m == m {
			ev.m = o.m
			break
		}
	}
	if ev.m == nil {
		ev.m = new(meta)
		*ev.m = m
	}
	if len(h.actions) >= d.cfg.MaxEventsPerHost {
		if i == 0 {
			d.stats.EventsDropped++
			return
		}
		h.actions = slices.Delete(h.actions, 0, 1)
		d.events--
		d.stats.EventsDropped++
		i--
	}
	h.actions = slices.Insert(h.actions, i, ev)
	d.added(h, a.Time)
}

// advance moves the record clock forward to t. Called with d.mu held.
func (d *Detector) advance(t int64) {
	if t > d.clock {
		d.clock = t
	}
	// Amortised expiry: look at the least recently observed hosts.
	for k := 0; k < 2 && d.lru.head != nil && d.lru.head.last < d.horizon(); k++ {
		d.drop(d.lru.head)
		d.stats.HostsExpired++
	}
}

// horizon is the oldest event time still kept.
func (d *Detector) horizon() int64 { return d.clock - int64(d.cfg.HostTTL) }

// host returns the state of ip, creating it (and evicting the least
// recently active host when full). Called with d.mu held.
func (d *Detector) host(ip schemas.IP) *hostState {
	if h, ok := d.hosts[ip]; ok {
		d.lru.moveToBack(h)
		return h
	}
	for len(d.hosts) >= d.cfg.MaxHosts && d.lru.head != nil {
		d.evict(d.lru.head)
	}
	h := &hostState{ip: ip}
	d.hosts[ip] = h
	d.lru.pushBack(h)
	return h
}

// added accounts for one event added to h at time t.
func (d *Detector) added(h *hostState, t int64) {
	d.events++
	if t > h.last {
		h.last = t
	}
	if !h.dirty {
		h.dirty = true
		d.dirty = append(d.dirty, h)
	}
	for d.events > d.cfg.MaxEvents && d.lru.head != nil && d.lru.head != h {
		d.evict(d.lru.head)
	}
}

// pruneOld drops h's events older than the horizon.
func (d *Detector) pruneOld(h *hostState) {
	hz := d.horizon()
	n := 0
	for n < len(h.streams) && h.streams[n].end < hz {
		n++
	}
	if n > 0 {
		h.streams = slices.Delete(h.streams, 0, n)
		d.events -= n
		d.stats.EventsDropped += int64(n)
	}
	n = 0
	for n < len(h.actions) && h.actions[n].t < hz {
		n++
	}
	if n > 0 {
		h.actions = slices.Delete(h.actions, 0, n)
		d.events -= n
		d.stats.EventsDropped += int64(n)
	}
}

func (d *Detector) evict(h *hostState) {
	d.drop(h)
	d.stats.HostsEvicted++
	if d.stats.HostsEvicted&(d.stats.HostsEvicted-1) == 0 { // 1, 2, 4, 8 ...: not once per host
		d.log.Debug("coupling: host state evicted by the memory bound", "evicted", d.stats.HostsEvicted,
			"max_hosts", d.cfg.MaxHosts, "max_events", d.cfg.MaxEvents)
	}
}

// drop forgets h.
func (d *Detector) drop(h *hostState) {
	d.lru.remove(h)
	delete(d.hosts, h.ip)
	d.events -= len(h.streams) + len(h.actions)
	h.streams, h.actions, h.marks = nil, nil, nil
	h.gone = true
}

// Clock returns the record clock: the newest event time observed (ns).
func (d *Detector) Clock() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.clock
}

// Stats returns the counters.
func (d *Detector) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.Hosts = len(d.hosts)
	s.Events = d.events
	return s
}

// snapshot is a copy of one host's timeline, safe to read without the lock
// (events point to immutable metas).
type snapshot struct {
	ip      schemas.IP
	streams []streamEv
	actions []actionEv
	marks   []reportMark
}

func (h *hostState) snapshot() *snapshot {
	return &snapshot{ip: h.ip, streams: slices.Clone(h.streams), actions: slices.Clone(h.actions), marks: slices.Clone(h.marks)}
}

// Findings tests every host whose timeline changed since the last call (or
// that still has an answer younger than the lag window) at time now (ns,
// record clock: pass the clock the pipeline runs on; at the end of the
// input, Clock() plus the lag window, or math.MaxInt64) and returns the
// new findings, ordered by host and channel. Afterwards the record clock
// moves to now and hosts quiet for host_ttl before it are forgotten.
//
// A channel is reported when it is coupled and has at least min_cycles
// cycles after the last cycle a previous finding of the same channel
// reported; the record lists all its cycles still in the timeline. Each
// finding has its own deterministic event.id.
func (d *Detector) Findings(now int64) []*schemas.Coupling {
	w := int64(d.cfg.LagWindow)
	d.mu.Lock()
	var snaps []*snapshot
	keep := d.dirty[:0]
	for _, h := range d.dirty {
		if h.gone {
			continue
		}
		snaps = append(snaps, h.snapshot())
		// An answer whose lag window is still open, or an event after
		// now, is judged later.
		if n := len(h.streams); h.last > now || (n > 0 && h.streams[n-1].end+w > now) {
			keep = append(keep, h)
			continue
		}
		h.dirty = false
	}
	clear(d.dirty[len(keep):])
	d.dirty = keep
	// Then move the clock and forget the hosts quiet for host_ttl (after
	// the snapshot, so that a last call at the end of the input still
	// tests them).
	d.advance(now)
	for d.lru.head != nil && d.lru.head.last < d.horizon() {
		d.drop(d.lru.head)
		d.stats.HostsExpired++
	}
	d.mu.Unlock()

	slices.SortFunc(snaps, func(a, b *snapshot) int { return bytes.Compare(a.ip[:], b.ip[:]) })
	var out []*schemas.Coupling
	var marks []hostMark
	var tests, untestable int64
	for _, s := range snaps {
		res := d.evaluate(s, now, true)
		tests += res.tests
		untestable += res.untestable
		if len(res.findings) == 0 {
			continue
		}
		out = append(out, res.findings...)
		marks = append(marks, res.marks...)
	}

	d.mu.Lock()
	d.stats.Tests += tests
	d.stats.Untestable += untestable
	d.stats.Findings += int64(len(out))
	for _, m := range marks {
		if h, ok := d.hosts[m.ip]; ok {
			h.setMark(m.mark)
		}
	}
	d.mu.Unlock()
	return out
}

// Evaluate tests host at time now and returns its most significant coupled
// channel (the smallest adjusted p-value, then the most cycles), whether or
// not it was reported before. It changes no state besides the counters.
func (d *Detector) Evaluate(host netip.Addr, now int64) (*schemas.Coupling, bool) {
	d.mu.Lock()
	h, ok := d.hosts[schemas.IPFromAddr(host)]
	var s *snapshot
	if ok {
		s = h.snapshot()
		s.marks = nil
	}
	d.mu.Unlock()
	if !ok {
		return nil, false
	}
	res := d.evaluate(s, now, false)
	d.mu.Lock()
	d.stats.Tests += res.tests
	d.stats.Untestable += res.untestable
	d.mu.Unlock()
	if len(res.findings) == 0 {
		return nil, false
	}
	best := res.findings[0]
	for _, f := range res.findings[1:] {
		if f.Aegis.PAdjusted < best.Aegis.PAdjusted || (f.Aegis.PAdjusted == best.Aegis.PAdjusted && f.Aegis.Cycles > best.Aegis.Cycles) {
			best = f
		}
	}
	return best, true
}

// hostMark is a report mark with the host it belongs to.
type hostMark struct {
	ip   schemas.IP
	mark reportMark
}

func (h *hostState) setMark(m reportMark) {
	for i := range h.marks {
		if h.marks[i].ch == m.ch {
			h.marks[i].end = max(h.marks[i].end, m.end)
			return
		}
	}
	h.marks = append(h.marks, m)
}

// evalResult is the outcome of testing one host.
type evalResult struct {
	findings          []*schemas.Coupling
	marks             []hostMark
	tests, untestable int64
}

// channel is one channel's actions during an evaluation.
type channel struct {
	key   chanKey
	times []int64
	evs   []actionEv
}

// channelKey returns the channel of an action.
func channelKey(ev actionEv) chanKey {
	m := ev.m
	if ev.kind == ActionCommand {
		for _, k := range []string{m.flowKey, m.uid, m.recordID, m.communityID} {
			if k != "" {
				return chanKey{ActionCommand, k}
			}
		}
		return chanKey{ActionCommand, ""}
	}
	if m.label != "" {
		return chanKey{ActionConnect, m.label}
	}
	return chanKey{ActionConnect, "port/" + itoa(int(m.port))}
}

func itoa(n int) string {
	var b [8]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// evaluate tests every channel of one host. With useMarks, a channel is
// reported only when it has min_cycles cycles after its report mark.
func (d *Detector) evaluate(s *snapshot, now int64, useMarks bool) evalResult {
	cfg := &d.cfg
	w := int64(cfg.LagWindow)
	var res evalResult
	// Judged answers: their lag window has closed.
	var ends []int64
	var endIdx []int // index into s.streams of each distinct end
	for i, st := range s.streams {
		if st.end+w > now {
			break
		}
		if n := len(ends); n > 0 && ends[n-1] == st.end {
			continue
		}
		ends = append(ends, st.end)
		endIdx = append(endIdx, i)
	}
	if len(ends) < cfg.MinCycles {
		return res
	}
	// An LLM connection is not its own action.
	var own []*meta
	for _, st := range s.streams {
		if len(own) == 0 || own[len(own)-1] != st.m {
			own = append(own, st.m)
		}
	}
	isOwn := func(m *meta) bool {
		for _, o := range own {
			if (m.uid != "" && m.uid == o.uid) || (m.flowKey != "" && m.flowKey == o.flowKey) ||
				(m.communityID != "" && m.communityID == o.communityID) || (m.recordID != "" && m.recordID == o.recordID) {
				return true
			}
		}
		return false
	}
	var chans []*channel
	idx := map[chanKey]int{}
	var lastMeta *meta
	lastOwn := false
	for _, a := range s.actions {
		if a.t > now {
			break
		}
		if a.m != lastMeta {
			lastMeta, lastOwn = a.m, isOwn(a.m)
		}
		if lastOwn {
			continue
		}
		k := channelKey(a)
		ci, ok := idx[k]
		if !ok {
			ci = len(chans)
			idx[k] = ci
			chans = append(chans, &channel{key: k})
		}
		c := chans[ci]
		c.times = append(c.times, a.t)
		c.evs = append(c.evs, a)
	}
	m := 0
	for _, c := range chans {
		if len(c.times) >= cfg.MinCycles {
			m++
		}
	}
	if m == 0 {
		return res
	}
	perms := permutationsFor(cfg.Permutations, m, cfg.Alpha)
	cut := cfg.Alpha / float64(m)
	var buf []int64
	for _, c := range chans {
		if len(c.times) < cfg.MinCycles {
			continue
		}
		// Actions at the same instant are one action for the statistic.
		times := dedupSorted(slices.Clone(c.times))
		obs, closeness := cycles(ends, times, w)
		if obs < cfg.MinCycles {
			continue
		}
		if cap(buf) < len(times) {
			buf = make([]int64, len(times))
		}
		rng := d.rngFor(s.ip, c.key)
		nr, ok := shiftNull(ends, times, w, int64(cfg.minShift()), int64(cfg.MaxShift), closeness, perms, cut, rng, buf)
		if !ok {
			res.untestable++
			continue
		}
		res.tests++
		padj := min(1, nr.p*float64(m))
		if !nr.complete || padj > cfg.Alpha {
			continue
		}
		ps := pairsOf(ends, c.times, w, nil)
		if useMarks {
			mark := int64(-1 << 63)
			for _, mk := range s.marks {
				if mk.ch == c.key {
					mark = mk.end
				}
			}
			fresh := 0
			for _, p := range ps {
				if ends[p.end] > mark {
					fresh++
				}
			}
			if fresh < cfg.MinCycles {
				continue
			}
		}
		f := d.record(s, c, ends, endIdx, ps, nr, obs, closeness, m)
		res.findings = append(res.findings, f)
		res.marks = append(res.marks, hostMark{ip: s.ip, mark: reportMark{ch: c.key, end: ends[ps[len(ps)-1].end]}})
	}
	return res
}

// rngFor returns the generator of one host's channel: seeded by the
// configured seed, the host and the channel, so a channel's p-value does
// not depend on which other hosts or channels were tested before it.
func (d *Detector) rngFor(ip schemas.IP, k chanKey) *rand.Rand {
	h := fnv.New64a()
	h.Write(ip[:])
	h.Write([]byte{byte(k.kind)})
	h.Write([]byte(k.key))
	s := h.Sum64()
	return rand.New(rand.NewPCG(uint64(d.cfg.Seed), s))
}
