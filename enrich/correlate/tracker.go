package correlate

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aegis-nsm/aegis/enrich/attack"
	"github.com/aegis-nsm/aegis/rules"
	"github.com/aegis-nsm/aegis/schemas"
)

// Rules is what the tracker needs from a loaded rule set: the set and
// which of its rules are campaign rules. Build it once with NewRules; it
// is immutable and shared by every Tracker.
type Rules struct {
	set    *rules.Set
	ids    map[string]ruleMeta // campaign rules
	window int64               // W: the longest step window of the campaign rules (ns)
	state  [8]bool             // classes (by classIndex) whose records need Evaluate
	cfg    rules.Config        // engine configuration (sequence window, lists)
	// reconOnly: the steps refer to recon only, so a record can hit a
	// campaign rule only when its host has recon within W before it, and
	// evaluating it leaves no history (Tracker.needsEval).
	reconOnly bool
}

// ruleMeta is what a campaign lists about one of its rules.
type ruleMeta struct {
	sevRank    int
	severity   string
	techniques []string
}

// NewRules picks the campaign rules of set: the ids listed (each must be a
// loaded rule with preceded_by steps), or every rule with steps when ids
// is empty. cfg is the rules configuration the set was loaded with.
func NewRules(set *rules.Set, cfg rules.Config, ids []string) (*Rules, error) {
	if set == nil {
		return nil, errors.New("correlate: no rule set")
	}
	r := &Rules{set: set, ids: map[string]ruleMeta{}, cfg: cfg}
	infos := set.Rules()
	for _, ri := range infos {
		if len(ids) == 0 && ri.SequenceWindow <= 0 {
			continue
		}
		if len(ids) > 0 && !slices.Contains(ids, ri.ID) {
			continue
		}
		if ri.SequenceWindow <= 0 {
			return nil, fmt.Errorf("correlate: campaigns.rules: %q has no preceded_by steps: a campaign rule joins several records of a host", ri.ID)
		}
		r.ids[ri.ID] = ruleMeta{sevRank: rules.SeverityRank(ri.Severity), severity: ri.Severity, techniques: slices.Clone(ri.Techniques)}
		r.window = max(r.window, int64(ri.SequenceWindow))
	}
	for _, id := range ids {
		if _, ok := r.ids[id]; !ok {
			return nil, fmt.Errorf("correlate: campaigns.rules: %q is not a loaded rule (see 'aegis rules list')", id)
		}
	}
	if len(r.ids) == 0 {
		return nil, errors.New("correlate: no campaign rule: no loaded rule has preceded_by steps (the built-in aegis-agent-campaign is disabled?)")
	}
	for _, c := range set.StateClasses() {
		r.state[classIndex(c)] = true
	}
	recon, classes, refs := set.StepRefs()
	r.reconOnly = recon && len(classes) == 0 && len(refs) == 0
	return r, nil
}

// Window returns W, the campaign window: the longest preceded_by window of
// the campaign rules.
func (r *Rules) Window() time.Duration { return time.Duration(r.window) }

// IDs returns the campaign rule ids, sorted.
func (r *Rules) IDs() []string {
	out := make([]string, 0, len(r.ids))
	for id := range r.ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func classIndex(c schemas.Class) int {
	if i := slices.Index(schemas.Classes, c); i >= 0 {
		return i
	}
	return len(schemas.Classes)
}

// Tracker is the correlation core of one partition: the per-host windows
// of evidence from every sensor, a rules engine fed in record-time order
// per host, and the campaigns open in the current spans. Add takes the
// partition's records in offset order and returns the campaigns each one
// changed. Everything it does is a function of the records it was given
// (record time, never the wall clock), so re-reading a partition yields
// the same campaigns, ids and versions.
//
// A Tracker is not safe for concurrent use: one goroutine (the
// partition's) owns it. Campaigns returned by Add stay owned by the
// Tracker and change with later calls: build their records (Record)
// before calling Add again.
type Tracker struct {
	r      *Rules
	eng    *rules.Engine
	span   int64
	w      int64
	late   int64
	maxH   int
	maxRec int
	maxEv  int
	keep   bool // keep Raw of evidence (for the LLM stage)

	hosts       map[string]*host
	head, tail  *host // LRU: head most recently changed
	clock       int64 // partition clock: the latest record end seen
	closedBelow int64 // spans with index below it are closed
	started     bool
	stats       TrackerStats
	changed     []*Campaign
}

// TrackerStats are a Tracker's counters.
type TrackerStats struct {
	Records       uint64 // records given to Add
	Evaluated     uint64 // detections run through the rules engine
	OutOfOrder    uint64 // records older than the host's newest one (the host was re-evaluated)
	Duplicates    uint64 // records whose event.id the host already had
	Late          uint64 // records older than every open span (dropped)
	Undecodable   uint64 // detections whose full record could not be decoded (kept as evidence, not evaluated)
	Trimmed       uint64 // records dropped from a host's window by max_host_records
	HostsEvicted  uint64 // hosts dropped by max_hosts
	HostsExpired  uint64 // idle hosts dropped when their spans closed
	Opened        uint64 // campaigns opened
	Updates       uint64 // campaign versions produced (openings included)
	SpansClosed   uint64 // spans closed by the partition clock
	Hosts         int    // hosts tracked now
	OpenCampaigns int    // campaigns open now
}

// host is one source's window.
type host struct {
	ip         string
	recs       []*evidence // sorted by (end, id)
	trimmedEnd int64       // latest end of a record trimmed by max_host_records
	camps      []*Campaign // open campaigns, by span ascending
	prev, next *host
}

// evidence is one retained record of a host.
type evidence struct {
	in    *Input
	full  *schemas.Record // decoded for Evaluate (state classes only)
	bad   bool            // the full record could not be decoded
	hits  []string        // campaign rules that fired on it, sorted
	sevRk int             // highest rank of those rules
}

func (e *evidence) before(o *evidence) bool {
	if e.in.End != o.in.End {
		return e.in.End < o.in.End
	}
	return e.in.ID < o.in.ID
}

// Campaign is the state of one open campaign: the host, its span and the
// evidence so far. Record builds the published record of its current
// version. Owned by the Tracker (see Tracker).
type Campaign struct {
	Host    string
	ID      string // campaign id
	Version int
	span    int64 // span index
	ev      []*evidence
	capped  bool
	spanLen int64
}

// Evidence returns the Inputs of the campaign's evidence, oldest first.
// The slice is the caller's; the Inputs are shared and read-only.
func (c *Campaign) Evidence() []*Input {
	out := make([]*Input, len(c.ev))
	for i, e := range c.ev {
		out[i] = e.in
	}
	return out
}

// NewTracker returns an empty tracker for one partition. keepRaw keeps the
// records' JSON of the evidence (Input.Raw) for callers that pass it on
// (the LLM stage); otherwise it is dropped once the record is processed.
func NewTracker(r *Rules, cfg CampaignConfig, keepRaw bool) *Tracker {
	ecfg := r.cfg
	ecfg.MaxSources = 2*cfg.MaxHosts + 1024
	// The horizon after which the engine drops an idle source is the
	// longest step window plus two recon windows: make it longer than any
	// span the tracker keeps, so that only the tracker drops hosts
	// (Forget) and results never depend on other hosts' traffic.
	ecfg.Recon.Window = 24 * time.Hour
	ecfg.Recon.MinTargets = max(ecfg.Recon.MinTargets, 2)
	ecfg.Recon.MaxProbeDuration = max(ecfg.Recon.MaxProbeDuration, time.Minute)
	return &Tracker{
		r:      r,
		eng:    rules.NewEngine(r.set, ecfg),
		span:   int64(cfg.Span),
		w:      r.window,
		late:   int64(cfg.Lateness),
		maxH:   cfg.MaxHosts,
		maxRec: cfg.MaxHostRecords,
		maxEv:  cfg.MaxEvidence,
		keep:   keepRaw,
		hosts:  map[string]*host{},
	}
}

// Stats returns the counters.
func (t *Tracker) Stats() TrackerStats {
	s := t.stats
	s.Hosts = len(t.hosts)
	for _, h := range t.hosts {
		s.OpenCampaigns += len(h.camps)
	}
	return s
}

// Clock returns the partition clock: the latest record end seen (ns).
func (t *Tracker) Clock() int64 { return t.clock }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Add takes the partition's next record and returns the campaigns it
// opened or updated (each at its new Version), nil when none. Add keeps
// in (it becomes evidence) and drops in.Raw once processed unless the
// tracker keeps raw records: the caller must not reuse in. See Tracker for
// the ownership of the campaigns.
func (t *Tracker) Add(in *Input) []*Campaign {
	t.stats.Records++
	t.changed = t.changed[:0]
	switch {
	case !t.started:
		// The first record sets the clock; spans before its own are
		// closed from the start.
		t.started = true
		t.clock = in.End
		t.closedBelow = floorDiv(t.clock-t.w-t.late, t.span)
	case in.End > t.clock:
		t.clock = in.End
		t.advance()
	}
	if floorDiv(in.End+t.w, t.span) < t.closedBelow {
		t.stats.Late++
		return nil
	}
	h := t.host(in.Source)
	e := &evidence{in: in}
	pos, dup := slices.BinarySearchFunc(h.recs, e, func(a, b *evidence) int {
		if c := cmp.Compare(a.in.End, b.in.End); c != 0 {
			return c
		}
		return cmp.Compare(a.in.ID, b.in.ID)
	})
	if dup {
		t.stats.Duplicates++
		return nil
	}
	inOrder := pos == len(h.recs)
	h.recs = slices.Insert(h.recs, pos, e)
	if !inOrder {
		t.stats.OutOfOrder++
	}
	t.trim(h)
	if inOrder {
		t.feed(h, len(h.recs)-1)
		t.step(h, e)
	} else {
		t.eng.Forget(h.ip)
		for i := range h.recs {
			t.feed(h, i)
		}
		t.recompute(h)
	}
	if !t.keep && (e.full != nil || e.bad || in.Kind == schemas.StepRecon || !t.r.state[classIndex(in.Class)]) {
		// Drop the JSON unless a later re-feed may still need to decode it.
		in.Raw = nil
	}
	if len(t.changed) == 0 {
		return nil
	}
	t.stats.Updates += uint64(len(t.changed))
	return t.changed
}

// advance closes the spans the partition clock has passed and drops the
// hosts left with nothing.
func (t *Tracker) advance() {
	cb := floorDiv(t.clock-t.w-t.late, t.span)
	if cb <= t.closedBelow {
		return
	}
	t.stats.SpansClosed += uint64(cb - t.closedBelow)
	t.closedBelow = cb
	for ip, h := range t.hosts {
		t.expire(h)
		if len(h.recs) == 0 && len(h.camps) == 0 {
			t.unlink(h)
			delete(t.hosts, ip)
			t.eng.Forget(ip)
			t.stats.HostsExpired++
		}
	}
}

// retainFrom is the earliest record end a host keeps.
func (t *Tracker) retainFrom() int64 { return t.closedBelow*t.span - 2*t.w }

// expire drops h's closed campaigns and records too old to matter.
func (t *Tracker) expire(h *host) {
	n := 0
	for _, c := range h.camps {
		if c.span >= t.closedBelow {
			h.camps[n] = c
			n++
		}
	}
	clear(h.camps[n:])
	h.camps = h.camps[:n]
	from := t.retainFrom()
	i := 0
	for i < len(h.recs) && h.recs[i].in.End < from {
		i++
	}
	if i > 0 {
		h.recs = slices.Delete(h.recs, 0, i)
	}
}

// trim applies max_host_records and the retention to h.
func (t *Tracker) trim(h *host) {
	t.expire(h)
	if over := len(h.recs) - t.maxRec; over > 0 {
		t.stats.Trimmed += uint64(over)
		h.trimmedEnd = max(h.trimmedEnd, h.recs[over-1].in.End)
		h.recs = slices.Delete(h.recs, 0, over)
	}
}

// host returns ip's window, creating it (and evicting the least recently
// changed host when max_hosts is reached), and marks it most recent.
func (t *Tracker) host(ip string) *host {
	h := t.hosts[ip]
	if h == nil {
		if len(t.hosts) >= t.maxH && t.tail != nil {
			old := t.tail
			t.unlink(old)
			delete(t.hosts, old.ip)
			t.eng.Forget(old.ip)
			t.stats.HostsEvicted++
		}
		h = &host{ip: ip}
		t.hosts[ip] = h
	} else {
		t.unlink(h)
	}
	h.next = t.head
	if t.head != nil {
		t.head.prev = h
	}
	t.head = h
	if t.tail == nil {
		t.tail = h
	}
	return h
}

func (t *Tracker) unlink(h *host) {
	if h.prev != nil {
		h.prev.next = h.next
	} else if t.head == h {
		t.head = h.next
	}
	if h.next != nil {
		h.next.prev = h.prev
	} else if t.tail == h {
		t.tail = h.prev
	}
	h.prev, h.next = nil, nil
}

// feed gives h.recs[i] to the engine (records are fed in record-time
// order per host) and notes the campaign rules it hit.
func (t *Tracker) feed(h *host, i int) {
	e := h.recs[i]
	in := e.in
	if in.Kind == schemas.StepRecon {
		t.eng.MarkRecon(h.ip, time.Unix(0, in.End))
		return
	}
	if !t.r.state[classIndex(in.Class)] {
		return
	}
	if !t.needsEval(h, i) {
		e.hits, e.sevRk = e.hits[:0], 0
		return
	}
	if e.bad {
		return
	}
	if e.full == nil {
		var rec schemas.Record
		if len(in.Raw) == 0 || json.Unmarshal(in.Raw, &rec) != nil {
			t.stats.Undecodable++
			e.bad = true
			return
		}
		e.full = &rec
	}
	t.stats.Evaluated++
	e.hits, e.sevRk = e.hits[:0], 0
	for _, hit := range t.eng.Evaluate(e.full) {
		if m, ok := t.r.ids[hit.ID]; ok {
			e.hits = append(e.hits, hit.ID)
			e.sevRk = max(e.sevRk, m.sevRank)
		}
	}
	slices.Sort(e.hits)
}

// needsEval reports whether h.recs[i] (a record of a class the campaign
// rules read) must be run through the engine. When the steps refer to
// recon only, a rule can fire only if a recon record of the host fed
// before it ended within W before its start (or while it ran), and a record
// evaluated leaves no history: without such recon the outcome is known (no
// hit) and the full decode is saved. The answer is exact: recon the engine
// may remember from records no longer in the window is too old to count,
// unless the record reaches back past the window (a long flow) or past
// records trimmed by max_host_records, and then it is evaluated.
func (t *Tracker) needsEval(h *host, i int) bool {
	if !t.r.reconOnly {
		return true
	}
	e := h.recs[i]
	from := e.in.Start - t.w
	if from < t.retainFrom() || from <= h.trimmedEnd {
		return true
	}
	for j := i - 1; j >= 0 && h.recs[j].in.End >= from; j-- {
		if h.recs[j].in.Kind == schemas.StepRecon {
			return true
		}
	}
	return false
}

// spansOf returns the open span indexes whose campaigns a record ending
// at end may belong to: [floor((end-W)/B), floor((end+W)/B)].
func (t *Tracker) spansOf(end int64) (lo, hi int64) {
	lo = max(floorDiv(end-t.w, t.span), t.closedBelow)
	hi = floorDiv(end+t.w, t.span)
	return lo, hi
}

// campaign returns h's open campaign of span k, or nil.
func (h *host) campaign(k int64) *Campaign {
	for _, c := range h.camps {
		if c.span == k {
			return c
		}
	}
	return nil
}

// step applies one in-order record e (h's newest) to h's campaigns.
func (t *Tracker) step(h *host, e *evidence) {
	lo, hi := t.spansOf(e.in.End)
	for k := lo; k <= hi; k++ {
		c := h.campaign(k)
		if c == nil {
			if len(e.hits) == 0 || floorDiv(e.in.End, t.span) != k {
				continue
			}
			c = &Campaign{Host: h.ip, ID: CampaignID(h.ip, time.Unix(0, k*t.span)), span: k, spanLen: t.span}
			c.ev, c.capped = t.gather(h.recs, e.in.Start-t.w, (k+1)*t.span+t.w, e)
			c.Version = 1
			h.camps = append(h.camps, c)
			slices.SortFunc(h.camps, func(a, b *Campaign) int { return cmp.Compare(a.span, b.span) })
			t.stats.Opened++
			t.changed = append(t.changed, c)
			continue
		}
		if e.in.End >= (k+1)*t.span+t.w {
			continue
		}
		if len(c.ev) >= t.maxEv {
			if !c.capped {
				c.capped = true
				c.Version++
				t.changed = append(t.changed, c)
			}
			continue
		}
		c.ev = append(c.ev, e)
		c.Version++
		t.changed = append(t.changed, c)
	}
}

// gather returns the records of recs (sorted) with end in [from, to), at
// most max_evidence of them: the earliest, always including trigger (the
// record that opened the campaign); capped reports that some were left
// out.
func (t *Tracker) gather(recs []*evidence, from, to int64, trigger *evidence) (out []*evidence, capped bool) {
	i, _ := slices.BinarySearchFunc(recs, from, func(e *evidence, v int64) int { return cmp.Compare(e.in.End, v) })
	for ; i < len(recs) && recs[i].in.End < to; i++ {
		if len(out) == t.maxEv {
			capped = true
			break
		}
		out = append(out, recs[i])
	}
	if capped && !slices.Contains(out, trigger) {
		out[len(out)-1] = trigger
	}
	return out, capped
}

// recompute rebuilds h's campaigns of every open span from its window,
// after a record arrived out of order (and the engine was re-fed): a span
// opens at its first rule hit and gathers from W before that hit's start
// to W past the span's end. A campaign whose evidence changed gets the
// next version; one that no longer fires (it cannot: rule steps only see
// more when a record is added) is left as it is.
func (t *Tracker) recompute(h *host) {
	seen := map[int64]bool{}
	for _, e := range h.recs {
		if len(e.hits) == 0 {
			continue
		}
		k := floorDiv(e.in.End, t.span)
		if k < t.closedBelow || seen[k] {
			continue
		}
		seen[k] = true
		ev, capped := t.gather(h.recs, e.in.Start-t.w, (k+1)*t.span+t.w, e)
		c := h.campaign(k)
		if c == nil {
			c = &Campaign{Host: h.ip, ID: CampaignID(h.ip, time.Unix(0, k*t.span)), span: k, spanLen: t.span, ev: ev, capped: capped, Version: 1}
			h.camps = append(h.camps, c)
			slices.SortFunc(h.camps, func(a, b *Campaign) int { return cmp.Compare(a.span, b.span) })
			t.stats.Opened++
			t.changed = append(t.changed, c)
			continue
		}
		if capped == c.capped && slices.Equal(ev, c.ev) {
			continue
		}
		c.ev, c.capped = ev, capped
		c.Version++
		t.changed = append(t.changed, c)
	}
}

// Record builds the published record of c's current version. The record
// is a function of the evidence only (no wall clock, no instance name), so
// any instance that rebuilds the same window publishes the same bytes.
func (c *Campaign) Record(r *Rules) *schemas.Campaign {
	var (
		sensors, ruleIDs, techs []string
		ids                     = make([]string, 0, len(c.ev))
		steps                   = make([]schemas.CampaignStep, 0, len(c.ev))
		first, last             int64
		sevRk                   int
	)
	for i, e := range c.ev {
		in := e.in
		if i == 0 || in.Start < first {
			first = in.Start
		}
		last = max(last, in.End)
		if !slices.Contains(sensors, in.Sensor) {
			sensors = append(sensors, in.Sensor)
		}
		for _, id := range e.hits {
			if !slices.Contains(ruleIDs, id) {
				ruleIDs = append(ruleIDs, id)
			}
		}
		sevRk = max(sevRk, e.sevRk, rules.SeverityRank(in.Severity))
		techs = append(techs, in.Techniques...)
		if in.Kind == schemas.StepRecon {
			techs = append(techs, techNetworkServiceDiscovery)
		}
		ids = append(ids, in.ID)
		st := schemas.CampaignStep{
			Kind: in.Kind, Sensor: in.Sensor, RecordID: in.ID, Start: rfc3339(in.Start), Time: rfc3339(in.End),
			Severity: in.Severity, Rules: slices.Clone(e.hits), Destination: in.Destination,
		}
		if in.Kind == schemas.StepRecon {
			st.Targets, st.Probes = in.Targets, in.Probes
		} else {
			st.Class = in.Class
		}
		steps = append(steps, st)
	}
	slices.Sort(sensors)
	slices.Sort(ruleIDs)
	for _, id := range ruleIDs {
		techs = append(techs, r.ids[id].techniques...)
	}
	vetted := techs[:0:0]
	for _, id := range techs {
		if _, ok := attack.Lookup(id); ok && !slices.Contains(vetted, id) {
			vetted = append(vetted, id)
		}
	}
	slices.Sort(vetted)
	sev := severityNames[max(sevRk, 0)]
	spanStart := time.Unix(0, c.span*c.spanLen).UTC()
	out := &schemas.Campaign{
		Timestamp: rfc3339(last),
		Event: schemas.Event{
			ID: EventID(c.ID, c.Version), Kind: "alert", Category: []string{"network", "intrusion_detection"}, Type: []string{"info"},
			Dataset: schemas.CampaignDataset, Start: rfc3339(first), End: rfc3339(last), Duration: max(last-first, 0),
			Severity: severityScores[max(sevRk, 0)],
		},
		Source: schemas.HostRef{IP: c.Host},
		Aegis: schemas.CampaignSection{
			SchemaVersion: schemas.CampaignSchemaVersion, CampaignID: c.ID, Version: c.Version, Severity: sev,
			Rules: ruleIDs, Message: message(c.Host, steps, sensors), Sensors: sensors, RecordIDs: ids, Steps: steps,
			FirstSeen: rfc3339(first), LastSeen: rfc3339(last),
			Span:           schemas.CampaignSpan{Start: spanStart.Format(time.RFC3339Nano), End: spanStart.Add(time.Duration(c.spanLen)).Format(time.RFC3339Nano)},
			EvidenceCapped: c.capped,
		},
	}
	if len(vetted) > 0 {
		out.Threat = &schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{ID: vetted, Name: attack.Names(vetted)}}
	}
	return out
}

// techNetworkServiceDiscovery is the ATT&CK technique of a scan.
const techNetworkServiceDiscovery = "T1046"

var (
	severityNames  = []string{"none", "low", "medium", "high", "critical"}
	severityScores = []int{0, 21, 47, 73, 99} // ECS event.severity, as enrich.Severity.Score
)

func rfc3339(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// message summarises the campaign in one line: the distinct kinds of
// evidence in order, with where they were seen.
func message(hostIP string, steps []schemas.CampaignStep, sensors []string) string {
	var parts []string
	seen := map[string]bool{}
	for _, s := range steps {
		what := string(s.Class)
		if s.Kind == schemas.StepRecon {
			what = fmt.Sprintf("recon (about %d targets)", s.Targets)
		}
		key := what + "@" + s.Sensor
		if seen[key] {
			continue
		}
		seen[key] = true
		if len(parts) == 6 {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, what+" at "+s.Sensor)
	}
	n := "1 sensor"
	if len(sensors) != 1 {
		n = fmt.Sprintf("%d sensors", len(sensors))
	}
	msg := fmt.Sprintf("Campaign of %s across %s: ", hostIP, n)
	for i, p := range parts {
		if i > 0 {
			msg += ", then "
		}
		msg += p
	}
	return msg
}
