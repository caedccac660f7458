// Package evidence builds the compact evidence bundle the LLM stage shows a
// model: one source host's detections inside a correlation window, reduced
// to what reasoning needs (classes, features, times, ports, volumes, rule
// hits, recon counts).
//
// Everything a record carries that came from the wire or from IDS logs (TLS
// server names, rule messages that quote them, IDS service names, file
// names) is attacker-controlled. The bundle holds such text only after
// Quote: valid UTF-8, invisible and control characters replaced, cut at a
// byte limit. Marshal then writes the bundle as compact, ASCII-only JSON
// with <, > and & escaped, so no value can contain a raw angle bracket, a
// newline or a look-alike character: a value can never close the prompt's
// delimited evidence block or start a line of its own.
//
// Capture copies what it needs out of a record (the record is only read,
// never kept or modified); Build sanitises and orders the captures. A
// Bundle is a plain value, owned by its builder; functions here are safe
// for concurrent use.
package evidence

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aegis-nsm/aegis/schemas"
)

// Truncated is appended to a value Quote cut.
const Truncated = "...[truncated]"

// Bundle is one source's evidence for one correlation window. Its JSON
// names are short on purpose: the bundle goes into a model's context.
type Bundle struct {
	Source string `json:"source"` // the host the window is about (source.ip)
	Start  string `json:"window_start"`
	End    string `json:"window_end"`
	// Detections are ordered by start time, then id.
	Detections []Detection `json:"detections"`
	// ReconTargets is the largest "probed about N targets" count the rule
	// hits reported (0: none).
	ReconTargets int `json:"recon_targets,omitempty"`
}

// Detection is the summary of one detection record.
type Detection struct {
	ID         string  `json:"id"`
	Start      string  `json:"start"`
	DurationS  float64 `json:"duration_s"`
	Class      string  `json:"class"`
	Confidence float64 `json:"confidence"`
	Severity   string  `json:"severity"`
	Score      int     `json:"score"` // event.severity
	Dst        string  `json:"dst"`   // destination ip:port
	Transport  string  `json:"transport,omitempty"`
	Service    string  `json:"service,omitempty"` // application protocol (attacker-influenced)
	SNI        string  `json:"sni,omitempty"`     // TLS server name (attacker-controlled)
	// Volumes: IP-level bytes and packets each way.
	BytesOut int64 `json:"bytes_out"`
	BytesIn  int64 `json:"bytes_in"`
	PktsOut  int64 `json:"pkts_out"`
	PktsIn   int64 `json:"pkts_in"`
	// Route is the model-route fingerprint of an LLM stream.
	Route    *Route      `json:"route,omitempty"`
	Features Features    `json:"features"`
	Handoff  *Handoff    `json:"handoff,omitempty"`
	Rules    []RuleHit   `json:"rules,omitempty"`
	Reasons  []string    `json:"reasons,omitempty"`
	IDS      *IDSContext `json:"ids,omitempty"`
	// ReconTargets is the recon count this record's rule hits reported.
	ReconTargets int `json:"recon_targets,omitempty"`

	// Fields for the stage, not shown to the model.
	At       int64  `json:"-"` // record time (event.end), ns
	StartNs  int64  `json:"-"`
	EndNs    int64  `json:"-"`
	DstPort  uint16 `json:"-"`
	SevRank  int    `json:"-"` // 0 none .. 4 critical
	Internal bool   `json:"-"` // destination is a private/loopback address
	Timed    bool   `json:"-"` // the record had a parseable time (else At is the clock given to Capture)
}

// Route is a stream's model-route match.
type Route struct {
	Name     string  `json:"name"`
	Provider string  `json:"provider,omitempty"`
	Score    float64 `json:"score"`
	SNI      string  `json:"sni,omitempty"` // listed, unlisted, none
}

// Features are the cadence features that tell the classes apart.
type Features struct {
	ClientIATMedianMs float64 `json:"client_iat_median_ms,omitempty"`
	ServerIATMedianMs float64 `json:"server_iat_median_ms,omitempty"`
	ServerIATCV       float64 `json:"server_iat_cv,omitempty"`
	ServerRegularity  float64 `json:"server_regularity,omitempty"`
	ServerRunS        float64 `json:"server_run_s,omitempty"`
	TTFBMs            float64 `json:"ttfb_ms,omitempty"`
	Commands          int64   `json:"commands,omitempty"`
	PauseMedianMs     float64 `json:"pause_median_ms,omitempty"`
	FastCommandShare  float64 `json:"fast_command_share,omitempty"`
	Keystrokes        int64   `json:"keystrokes,omitempty"`
	UploadBytes       int64   `json:"upload_bytes,omitempty"`
	UploadChunks      int64   `json:"upload_chunks,omitempty"`
}

// Handoff is the moment a session changed hands.
type Handoff struct {
	Direction string  `json:"direction"`
	AtOffsetS float64 `json:"at_offset_s"`
}

// RuleHit is one rule that fired on the record.
type RuleHit struct {
	ID         string   `json:"id"`
	Severity   string   `json:"severity"`
	Techniques []string `json:"techniques,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Message    string   `json:"message,omitempty"` // quotes wire data: attacker-controlled
	Count      int      `json:"count,omitempty"`
}

// IDSContext is what the IDS said about the flow.
type IDSContext struct {
	Sensor    string `json:"sensor"`
	ConnState string `json:"conn_state,omitempty"`
	History   string `json:"history,omitempty"`
	Source    string `json:"source,omitempty"` // log file:line (file names are attacker-influenced)
}

// severityRank orders severity names; unknown names rank as "none".
func severityRank(s string) int {
	switch s {
	case "low":
		return 1
	case "medium":
		return 2
	case "high":
		return 3
	case "critical":
		return 4
	}
	return 0
}

// SeverityName is the inverse of the rank Detection.SevRank holds.
func SeverityName(rank int) string {
	return [...]string{"none", "low", "medium", "high", "critical"}[max(0, min(rank, 4))]
}

// RecordTime is a record's clock: event.end, else event.start, else
// @timestamp, in ns since the epoch; ok is false when none parses.
func RecordTime(rec *schemas.Record) (ns int64, ok bool) {
	for _, s := range [...]string{rec.Event.End, rec.Event.Start, rec.Timestamp} {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UnixNano(), true
		}
	}
	return 0, false
}

// Capture copies what a Detection needs from rec, without sanitising (Build
// does that, off the caller's path). rec is only read; the result shares
// no memory with it that rec's owner could change (strings are immutable,
// slices are copied). clock stands in for a record without a time.
func Capture(rec *schemas.Record, clock int64) Detection {
	d := Detection{
		ID:         rec.Event.ID,
		Class:      string(rec.Aegis.Class),
		Confidence: rec.Aegis.Confidence,
		Severity:   rec.Aegis.Severity,
		Score:      rec.Event.Severity,
		Transport:  rec.Network.Transport,
		Service:    rec.Network.Protocol,
		BytesOut:   rec.Source.Bytes,
		BytesIn:    rec.Destination.Bytes,
		PktsOut:    rec.Source.Packets,
		PktsIn:     rec.Destination.Packets,
		DstPort:    rec.Destination.Port,
		SevRank:    severityRank(rec.Aegis.Severity),
		DurationS:  float64(rec.Event.Duration) / 1e9,
	}
	at, ok := RecordTime(rec)
	if !ok {
		at = clock
	}
	d.Timed = ok
	d.At, d.EndNs, d.StartNs = at, at, at
	if t, err := time.Parse(time.RFC3339Nano, rec.Event.Start); err == nil {
		d.StartNs = t.UnixNano()
	} else if rec.Event.Duration > 0 {
		d.StartNs = at - rec.Event.Duration
	}
	d.StartNs = min(d.StartNs, d.EndNs)
	if a, err := netip.ParseAddr(rec.Destination.IP); err == nil {
		d.Dst = netip.AddrPortFrom(a, rec.Destination.Port).String()
		d.Internal = a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast()
	} else {
		d.Dst = rec.Destination.IP + ":" + strconv.Itoa(int(rec.Destination.Port))
	}
	if rec.TLS != nil {
		d.SNI = rec.TLS.Client.ServerName
	}
	if r := rec.Aegis.Route; r.Name != "" && r.Name != "unknown" || rec.Aegis.Class == schemas.ClassLLMStream {
		d.Route = &Route{Name: r.Name, Provider: r.Provider, Score: r.Score, SNI: r.SNI}
	}
	c := &rec.Aegis.Cadence
	d.Features = Features{
		ClientIATMedianMs: c.Client.IAT.MedianMs,
		ServerIATMedianMs: c.Server.IAT.MedianMs,
		ServerIATCV:       c.Server.IAT.CV,
		ServerRegularity:  c.Server.Regularity,
		ServerRunS:        c.Exchange.ServerRunS,
		TTFBMs:            c.Exchange.TTFBMs,
		Commands:          c.Session.Commands,
		PauseMedianMs:     c.Session.PauseMedianMs,
		FastCommandShare:  c.Session.FastCommandShare,
		Keystrokes:        c.Session.Keystrokes,
		UploadBytes:       c.Session.UploadBytes,
		UploadChunks:      c.Session.UploadChunks,
	}
	if h := rec.Aegis.Handoff; h != nil {
		d.Handoff = &Handoff{Direction: h.Direction, AtOffsetS: h.AtOffsetS}
	}
	if len(rec.Aegis.Rules) > 0 {
		d.Rules = make([]RuleHit, len(rec.Aegis.Rules))
		for i, h := range rec.Aegis.Rules {
			d.Rules[i] = RuleHit{ID: h.ID, Severity: h.Severity, Techniques: slices.Clone(h.Techniques),
				Tags: slices.Clone(h.Tags), Message: h.Message, Count: h.Count}
			d.ReconTargets = max(d.ReconTargets, reconTargets(h))
		}
	}
	d.Reasons = slices.Clone(rec.Aegis.Reasons)
	if ids := rec.Aegis.IDS; ids != nil {
		d.IDS = &IDSContext{Sensor: string(ids.Sensor), ConnState: ids.ConnState, History: ids.History, Source: ids.Source}
		if d.Service == "" {
			d.Service = ids.Service
		}
	}
	return d
}

// reconCount reads the recon estimate the built-in campaign rule writes
// into its message ("probed about 30 targets").
var reconCount = regexp.MustCompile(`probed about ([0-9]{1,9}) targets`)

// reconTargets returns the recon count a hit reports, 0 when none.
func reconTargets(h schemas.RuleHit) int {
	if !IsRecon(h.Tags) {
		return 0
	}
	m := reconCount.FindStringSubmatch(h.Message)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// IsRecon reports whether a rule's tags mark it as a reconnaissance rule.
func IsRecon(tags []string) bool {
	for _, t := range tags {
		if strings.EqualFold(t, "recon") || strings.EqualFold(t, "scan") || strings.EqualFold(t, "reconnaissance") {
			return true
		}
	}
	return false
}

// Limits bound the text of a bundle.
type Limits struct {
	// MaxFieldBytes bounds every free-text value (before the truncation
	// marker).
	MaxFieldBytes int
	// MaxReasons bounds the reasons kept per detection.
	MaxReasons int
}

// Build sanitises dets (captured with Capture) and returns the bundle for
// source. dets is not modified; the bundle owns fresh copies.
func Build(source string, dets []Detection, lim Limits) *Bundle {
	b := &Bundle{Source: Quote(source, lim.MaxFieldBytes), Detections: make([]Detection, len(dets))}
	for i, d := range dets {
		b.Detections[i] = sanitize(d, lim)
	}
	slices.SortStableFunc(b.Detections, func(x, y Detection) int {
		return cmp.Or(cmp.Compare(x.StartNs, y.StartNs), cmp.Compare(x.ID, y.ID))
	})
	var lo, hi int64
	for i, d := range b.Detections {
		if i == 0 || d.StartNs < lo {
			lo = d.StartNs
		}
		if i == 0 || d.EndNs > hi {
			hi = d.EndNs
		}
		b.ReconTargets = max(b.ReconTargets, d.ReconTargets)
	}
	b.Start, b.End = FormatTime(lo), FormatTime(hi)
	return b
}

// FormatTime writes ns as RFC 3339 with nanoseconds, UTC.
func FormatTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

func sanitize(d Detection, lim Limits) Detection {
	q := func(s string) string { return Quote(s, lim.MaxFieldBytes) }
	d.ID = q(d.ID)
	d.Start = FormatTime(d.StartNs)
	d.Class, d.Severity, d.Dst = q(d.Class), q(d.Severity), q(d.Dst)
	d.Transport, d.Service, d.SNI = q(d.Transport), q(d.Service), q(d.SNI)
	if d.Route != nil {
		r := *d.Route
		r.Name, r.Provider, r.SNI = q(r.Name), q(r.Provider), q(r.SNI)
		d.Route = &r
	}
	if d.Handoff != nil {
		h := *d.Handoff
		h.Direction = q(h.Direction)
		d.Handoff = &h
	}
	if d.IDS != nil {
		c := *d.IDS
		c.Sensor, c.ConnState, c.History, c.Source = q(c.Sensor), q(c.ConnState), q(c.History), q(c.Source)
		d.IDS = &c
	}
	rules := make([]RuleHit, len(d.Rules))
	for i, h := range d.Rules {
		h.ID, h.Severity, h.Message = q(h.ID), q(h.Severity), q(h.Message)
		h.Techniques = quoteAll(h.Techniques, lim.MaxFieldBytes)
		h.Tags = quoteAll(h.Tags, lim.MaxFieldBytes)
		rules[i] = h
	}
	if len(rules) == 0 {
		rules = nil
	}
	d.Rules = rules
	reasons := d.Reasons
	if lim.MaxReasons > 0 && len(reasons) > lim.MaxReasons {
		reasons = reasons[:lim.MaxReasons]
	}
	d.Reasons = quoteAll(reasons, lim.MaxFieldBytes)
	return d
}

func quoteAll(ss []string, limit int) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Quote(s, limit)
	}
	return out
}

// Quote makes s safe to show a model as data: invalid UTF-8, control
// characters (newlines included), format characters (bidirectional
// overrides, zero-width joiners) and private-use characters become U+FFFD,
// and the result is cut, at a character boundary, to at most limit bytes
// followed by Truncated. limit <= 0 means no cut. Marshal escapes what is
// left that could still matter (quotes, backslashes, angle brackets,
// non-ASCII).
func Quote(s string, limit int) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean && (limit <= 0 || len(s) <= limit) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), max(limit, 0)+len(Truncated)) + 8)
	cut := false
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		if r == utf8.RuneError || unsafeRune(r) {
			r = unicode.ReplacementChar
		}
		if limit > 0 && b.Len()+utf8.RuneLen(r) > limit {
			cut = true
			break
		}
		b.WriteRune(r)
	}
	if cut {
		b.WriteString(Truncated)
	}
	return b.String()
}

// unsafeRune reports characters that can hide or fake structure.
func unsafeRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r) ||
		r == '\u2028' || r == '\u2029'
}

// Marshal writes b as compact JSON in which every byte is printable ASCII:
// json.Marshal's escaping of quotes, backslashes, control characters, <, >
// and &, plus \uXXXX for every non-ASCII character. The output has no
// newline and no raw angle bracket, whatever the values hold.
func Marshal(b *Bundle) ([]byte, error) {
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("evidence: marshal bundle: %w", err)
	}
	return ASCII(raw), nil
}

// ASCII rewrites valid JSON so that every non-ASCII character is a \uXXXX
// escape (surrogate pairs above the BMP). Non-ASCII bytes only occur inside
// JSON strings, where the escape means the same character.
func ASCII(js []byte) []byte {
	n := 0
	for _, c := range js {
		if c >= utf8.RuneSelf {
			n++
		}
	}
	if n == 0 {
		return js
	}
	out := make([]byte, 0, len(js)+n*6)
	const hexd = "0123456789abcdef"
	esc := func(r rune) {
		out = append(out, '\\', 'u', hexd[r>>12&15], hexd[r>>8&15], hexd[r>>4&15], hexd[r&15])
	}
	for i := 0; i < len(js); {
		c := js[i]
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(js[i:])
		i += size
		if r >= 0x10000 {
			r -= 0x10000
			esc(0xD800 + (r>>10)&0x3FF)
			esc(0xDC00 + r&0x3FF)
			continue
		}
		esc(r)
	}
	return out
}

// Hash is the cache key of a bundle: the hex SHA-256 of its Marshal output.
func Hash(js []byte) string {
	sum := sha256.Sum256(js)
	return hex.EncodeToString(sum[:])
}

// IDs returns the detection ids of b in bundle order.
func (b *Bundle) IDs() []string {
	ids := make([]string, len(b.Detections))
	for i, d := range b.Detections {
		ids[i] = d.ID
	}
	return ids
}
