package report

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aegis-nsm/aegis/schemas"
)

// Caps on what one detection shows, so that a page's size is bounded.
const (
	maxTextRunes   = 400 // one reason or IDS field
	maxNameRunes   = 200 // server names, route names
	maxIDRunes     = 64  // record and rule ids, rule names
	maxRuleText    = 200 // a rule message
	maxRuleList    = 100 // a rule's tags or techniques, joined
	maxReasons     = 16
	maxRules       = 12
	maxCandidates  = 8
	maxTechniques  = 16
	maxSummaryRule = 4 // rule ids in a summary row
)

// kv is one labelled value.
type kv struct {
	Key, Value string
	Hint       string // what the value means (a tooltip)
}

// ruleView is one rule hit.
type ruleView struct {
	ID, Name, Severity, Message, Techniques, Tags string
	SevTok                                        string
	Count                                         int
}

// candView is one route candidate.
type candView struct {
	Name  string
	Score string
	Width string // bar width of 100
	Best  bool
}

// techView is one ATT&CK technique.
type techView struct{ ID, Name string }

// dirRow is one row of the client/server feature table.
type dirRow struct{ Key, Client, Server string }

// detectionView is one detection, rendered to strings at Add time.
type detectionView struct {
	// Filled at WriteHTML time (depend on the final order).
	Anchor string
	Index  int

	ID          string
	Time        string // UTC, milliseconds
	TimeFull    string // RFC 3339 with nanoseconds
	End         string
	Duration    string
	Src, Dst    string
	SrcIP       string
	SNI         string
	Transport   string
	Protocol    string
	FlowKey     string
	CommunityID string

	Class          string
	ClassLabel     string
	ClassTok       string // safe as a CSS class
	SevTok         string
	Confidence     string
	ConfidenceBar  string // 0..100
	Severity       string
	SeverityScore  int
	Route          string
	RouteProvider  string
	RouteScore     string
	RouteSNI       string
	Candidates     []candView
	MoreCandidates int

	Reasons     []string
	MoreReasons int
	KeyFeatures []kv
	DirRows     []dirRow
	Exchange    []kv
	Session     []kv
	Handoff     string

	Rules     []ruleView
	MoreRules int
	RuleIDs   string

	IDS      []kv
	IDSNote  string
	Threat   []techView
	Capture  []kv
	Timeline timelineView
	Hist     histogramView
}

// clean makes attacker-influenced text safe to read: control and format
// characters (bidirectional overrides, zero-width joiners) become visible
// \uXXXX escapes, invalid UTF-8 becomes U+FFFD, and the text is cut to
// maxRunes with an ellipsis. HTML escaping is html/template's job.
func clean(s string, maxRunes int) string {
	var b strings.Builder
	n := 0
	for i, r := range s {
		if n >= maxRunes {
			b.WriteString("… (" + strconv.Itoa(len(s)-i) + " more bytes)")
			break
		}
		switch {
		case r == utf8.RuneError:
			b.WriteRune(unicode.ReplacementChar)
		case r == '\n' || r == '\t':
			b.WriteByte(' ')
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r):
			h := strings.ToUpper(strconv.FormatInt(int64(r), 16))
			b.WriteString(`\u` + strings.Repeat("0", max(4-len(h), 0)) + h)
		default:
			b.WriteRune(r)
		}
		n++
	}
	return b.String()
}

// fmtMs formats milliseconds with about three significant digits.
func fmtMs(ms float64) string {
	switch {
	case !finite(ms):
		return "–"
	case ms == 0:
		return "0 ms"
	case ms < 10:
		return trimZeros(strconv.FormatFloat(ms, 'f', 2, 64)) + " ms"
	case ms < 100:
		return trimZeros(strconv.FormatFloat(ms, 'f', 1, 64)) + " ms"
	case ms < 1000:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	}
	return fmtSeconds(ms / 1000)
}

// fmtSeconds formats seconds.
func fmtSeconds(s float64) string {
	switch {
	case !finite(s):
		return "–"
	case s < 1:
		return fmtMs(s * 1000)
	case s < 10:
		return trimZeros(strconv.FormatFloat(s, 'f', 2, 64)) + " s"
	case s < 600:
		return trimZeros(strconv.FormatFloat(s, 'f', 1, 64)) + " s"
	}
	return (time.Duration(s) * time.Second).String()
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// fmtBytes formats a byte count in SI units.
func fmtBytes(n int64) string {
	f := float64(n)
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10) + " B"
	case f < 1e6:
		return trimZeros(strconv.FormatFloat(f/1e3, 'f', 1, 64)) + " KB"
	case f < 1e9:
		return trimZeros(strconv.FormatFloat(f/1e6, 'f', 1, 64)) + " MB"
	}
	return trimZeros(strconv.FormatFloat(f/1e9, 'f', 1, 64)) + " GB"
}

// fmtShare formats a 0..1 share as a percentage.
func fmtShare(x float64) string {
	if !finite(x) {
		return "–"
	}
	return strconv.FormatFloat(x*100, 'f', 0, 64) + "%"
}

// fmtNum formats a plain number with up to three decimals.
func fmtNum(x float64) string {
	if !finite(x) {
		return "–"
	}
	return trimZeros(strconv.FormatFloat(x, 'f', 3, 64))
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }

// endpoint formats ip:port ([ip]:port for IPv6).
func endpoint(ip string, port uint16) string {
	ip = clean(ip, 64)
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		return "[" + ip + "]:" + strconv.Itoa(int(port))
	}
	if port == 0 {
		return ip
	}
	return ip + ":" + strconv.Itoa(int(port))
}

// parseNs parses an RFC 3339 record time to ns (0 when it does not parse).
func parseNs(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0
	}
	return t.UnixNano()
}

func fmtTime(ns int64) string {
	if ns == 0 {
		return "–"
	}
	return time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05.000")
}

// classLabel is the human name of a class.
func classLabel(c string) string {
	switch schemas.Class(c) {
	case schemas.ClassLLMStream:
		return "LLM stream"
	case schemas.ClassAgentShell:
		return "agent shell"
	case schemas.ClassHandoff:
		return "handoff"
	case schemas.ClassAgentExfil:
		return "agent exfil"
	case schemas.ClassHumanInteractive:
		return "human interactive"
	case schemas.ClassOther:
		return "other"
	}
	return c
}

// classToken is a class name safe for a CSS class.
func classToken(c string) string {
	for _, k := range schemas.Classes {
		if string(k) == c {
			return c
		}
	}
	return "unknown"
}

// severityToken is a severity name safe for a CSS class.
func severityToken(s string) string {
	switch s {
	case "none", "low", "medium", "high", "critical":
		return s
	}
	return "unknown"
}

// iatRow formats a gap summary as "median (p25–p75)".
func iatSummary(s schemas.IATStats) string {
	if s.N == 0 {
		return "–"
	}
	return fmtMs(s.MedianMs) + " (" + fmtMs(s.P25Ms) + " – " + fmtMs(s.P75Ms) + ")"
}

// keyFeatures picks the features that decide rec's class.
func keyFeatures(rec *schemas.Record) []kv {
	c := &rec.Aegis.Cadence
	s := &c.Session
	x := &c.Exchange
	srv := &c.Server
	cli := &c.Client
	stream := []kv{
		{"longest server run", fmtSeconds(x.ServerRunS) + ", " + fmtInt(x.ServerRunFlushes) + " flushes, " + fmtInt(x.ServerRunPackets) + " packets", "the longest run of server writes with no client payload in between: a streamed answer"},
		{"time to first byte", fmtMs(x.TTFBMs), "from the request to the run's first packet (time to first token)"},
		{"request", fmtBytes(x.RequestBytes), "client payload of the turn that started the run"},
		{"server flush gap", iatSummary(srv.FlushIAT), "median (p25 – p75) gap between server writes; token flushes are 5-250 ms apart"},
		{"flush gap CV", fmtNum(srv.FlushIAT.CV), "coefficient of variation of the server flush gaps"},
		{"server flushes/s", fmtNum(srv.FlushesPerS), ""},
		{"server packet size", "median " + fmtBytes(int64(srv.SizeMedian)) + ", sub-ms gaps " + fmtShare(srv.SubMsShare), "small records, often split into back-to-back segments"},
		{"bytes server/client", fmtNum(x.BytesRatio), ""},
	}
	shell := []kv{
		{"command side", s.CommandSide, "which side sends the command lines"},
		{"commands", fmtInt(s.Commands) + ", answered " + fmtShare(s.AnsweredShare), "line-sized single writes after a think pause, and the share the other side answered promptly"},
		{"pause before commands", "median " + fmtMs(s.PauseMedianMs) + ", CV " + fmtNum(s.PauseCV), "model latency for an agent (0.5-10 s)"},
		{"fast commands", fmtShare(s.FastCommandShare), "commands sent sooner after the output than a person could type them"},
		{"keystrokes", fmtInt(s.Keystrokes) + ", echoed " + fmtShare(s.EchoShare), "keystroke-sized writes inside typing bursts"},
		{"fast tiny writes", fmtInt(s.FastTiny), "keystroke-sized writes closer than a person types"},
		{"client typing gap", iatSummary(cli.TinyIAT), "gaps between keystroke-sized client writes"},
	}
	upload := []kv{
		{"upload", fmtBytes(s.UploadBytes) + " in " + fmtInt(s.UploadChunks) + " chunks, from " + fmtSeconds(s.UploadOffsetS), "client bulk from its first large write"},
		{"chunk size CV", fmtNum(s.UploadSizeCV), "machine-regular chunking is low"},
		{"chunk gap CV", fmtNum(s.UploadGapCV), ""},
		{"bytes server/client", fmtNum(x.BytesRatio), "below 1: the client sends more than it receives"},
	}
	switch rec.Aegis.Class {
	case schemas.ClassLLMStream:
		return stream
	case schemas.ClassAgentShell, schemas.ClassHandoff:
		return shell
	case schemas.ClassAgentExfil:
		return append(upload, shell[:3]...)
	case schemas.ClassHumanInteractive:
		return []kv{shell[4], shell[6], shell[5], shell[1]}
	}
	return []kv{
		{"client", fmtInt(cli.Packets) + " packets, " + fmtBytes(cli.Bytes), ""},
		{"server", fmtInt(srv.Packets) + " packets, " + fmtBytes(srv.Bytes), ""},
		stream[0], stream[3], shell[1],
	}
}

// dirRows lays the per-direction features side by side.
func dirRows(c *schemas.Cadence) []dirRow {
	rows := []struct {
		key string
		f   func(d *schemas.DirectionFeatures) string
	}{
		{"payload packets", func(d *schemas.DirectionFeatures) string { return fmtInt(d.Packets) }},
		{"payload bytes", func(d *schemas.DirectionFeatures) string { return fmtBytes(d.Bytes) }},
		{"packet gap median (p25 – p75)", func(d *schemas.DirectionFeatures) string { return iatSummary(d.IAT) }},
		{"packet gap mean / CV", func(d *schemas.DirectionFeatures) string {
			if d.IAT.N == 0 {
				return "–"
			}
			return fmtMs(d.IAT.MeanMs) + " / " + fmtNum(d.IAT.CV)
		}},
		{"packet gap p10 / p90 / p99", func(d *schemas.DirectionFeatures) string {
			if d.IAT.N == 0 {
				return "–"
			}
			return fmtMs(d.IAT.P10Ms) + " / " + fmtMs(d.IAT.P90Ms) + " / " + fmtMs(d.IAT.P99Ms)
		}},
		{"regularity (1 − gap entropy)", func(d *schemas.DirectionFeatures) string { return fmtNum(d.Regularity) }},
		{"sub-ms gaps", func(d *schemas.DirectionFeatures) string { return fmtShare(d.SubMsShare) }},
		{"flushes (per s)", func(d *schemas.DirectionFeatures) string {
			return fmtInt(d.Flushes) + " (" + fmtNum(d.FlushesPerS) + ")"
		}},
		{"flush gap median (p25 – p75)", func(d *schemas.DirectionFeatures) string { return iatSummary(d.FlushIAT) }},
		{"flush gap CV", func(d *schemas.DirectionFeatures) string { return fmtNum(d.FlushIAT.CV) }},
		{"size mean / median", func(d *schemas.DirectionFeatures) string {
			return fmtBytes(int64(math.Round(d.SizeMean))) + " / " + fmtBytes(int64(math.Round(d.SizeMedian)))
		}},
		{"most common size share", func(d *schemas.DirectionFeatures) string { return fmtShare(d.SizeModeShare) }},
		{"keystroke-sized share", func(d *schemas.DirectionFeatures) string { return fmtShare(d.TinyShare) }},
		{"keystroke gap median", func(d *schemas.DirectionFeatures) string { return iatSummary(d.TinyIAT) }},
	}
	out := make([]dirRow, len(rows))
	for i, r := range rows {
		out[i] = dirRow{Key: r.key, Client: r.f(&c.Client), Server: r.f(&c.Server)}
	}
	return out
}

func exchangeKV(x *schemas.ExchangeFeatures) []kv {
	return []kv{
		{"turns", fmtInt(x.Turns), "changes of the sending side among writes"},
		{"time to first byte", fmtMs(x.TTFBMs), ""},
		{"longest server run", fmtSeconds(x.ServerRunS), ""},
		{"run packets / flushes", fmtInt(x.ServerRunPackets) + " / " + fmtInt(x.ServerRunFlushes), ""},
		{"request bytes", fmtBytes(x.RequestBytes), ""},
		{"bytes server/client", fmtNum(x.BytesRatio), ""},
	}
}

func sessionKV(s *schemas.SessionFeatures) []kv {
	return []kv{
		{"command side", clean(s.CommandSide, 16), ""},
		{"keystrokes / echoed", fmtInt(s.Keystrokes) + " / " + fmtShare(s.EchoShare), ""},
		{"fast tiny writes", fmtInt(s.FastTiny), ""},
		{"commands / answered", fmtInt(s.Commands) + " / " + fmtShare(s.AnsweredShare), ""},
		{"pause median / CV", fmtMs(s.PauseMedianMs) + " / " + fmtNum(s.PauseCV), ""},
		{"fast commands", fmtShare(s.FastCommandShare), ""},
		{"upload", fmtBytes(s.UploadBytes) + " in " + fmtInt(s.UploadChunks) + " chunks", ""},
		{"upload size CV / gap CV", fmtNum(s.UploadSizeCV) + " / " + fmtNum(s.UploadGapCV), ""},
		{"upload starts at", fmtSeconds(s.UploadOffsetS), ""},
	}
}

func idsKV(r *schemas.Record) ([]kv, string) {
	var out []kv
	add := func(k, v string) {
		if v != "" {
			out = append(out, kv{Key: k, Value: v})
		}
	}
	if r.TLS != nil {
		add("TLS server name", clean(r.TLS.Client.ServerName, maxNameRunes))
	}
	add("application protocol", clean(r.Network.Protocol, maxNameRunes))
	add("community id", clean(r.Network.CommunityID, maxNameRunes))
	ids := r.Aegis.IDS
	if ids == nil {
		return out, "No IDS record was joined to this flow: the context below comes from the packets alone."
	}
	add("sensor", clean(string(ids.Sensor), maxNameRunes))
	add("uid", clean(ids.UID, maxNameRunes))
	if ids.FlowID != 0 {
		add("flow id", strconv.FormatUint(ids.FlowID, 10))
	}
	add("service", clean(ids.Service, maxNameRunes))
	add("connection state", clean(ids.ConnState, maxNameRunes))
	add("history", clean(ids.History, maxNameRunes))
	add("originator", fmtInt(ids.OrigPkts)+" packets, "+fmtBytes(ids.OrigBytes))
	add("responder", fmtInt(ids.RespPkts)+" packets, "+fmtBytes(ids.RespBytes))
	add("joined by", clean(ids.JoinedBy, maxNameRunes))
	add("IDS record", clean(ids.Source, maxTextRunes))
	return out, ""
}

func captureKV(r *schemas.Record, tl *timelineView) []kv {
	c := &r.Aegis.Capture
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	out := []kv{
		{"packets seen", fmtInt(c.Packets), ""},
		{"retransmissions left out", fmtInt(c.Retransmits), ""},
		{"timing detail trimmed", yes(c.DetailTrimmed || tl.Trimmed), "the flow table kept per-packet timing for the first packets only; features over all packets come from running statistics"},
		{"ended early by memory budget", yes(c.Evicted), ""},
		{"timeline packets (client / server)", fmtInt(int64(tl.ClientShown)) + " of " + fmtInt(tl.ClientPackets) + " / " + fmtInt(int64(tl.ServerShown)) + " of " + fmtInt(tl.ServerPackets), ""},
	}
	return out
}

// buildView renders one record and its detail.
func buildView(rec *schemas.Record, d *Detail, start int64, opts *Options) *detectionView {
	a := &rec.Aegis
	v := &detectionView{
		ID:          clean(rec.Event.ID, maxIDRunes),
		Time:        fmtTime(start),
		TimeFull:    clean(rec.Timestamp, 64),
		End:         clean(rec.Event.End, 64),
		Duration:    fmtSeconds(float64(rec.Event.Duration) / 1e9),
		Src:         endpoint(rec.Source.IP, rec.Source.Port),
		Dst:         endpoint(rec.Destination.IP, rec.Destination.Port),
		SrcIP:       clean(rec.Source.IP, 64),
		Transport:   clean(rec.Network.Transport, 16),
		Protocol:    clean(rec.Network.Protocol, 32),
		FlowKey:     clean(a.FlowKey, maxNameRunes),
		CommunityID: clean(rec.Network.CommunityID, 64),
		Class:       clean(string(a.Class), 32),
		Confidence:  strconv.FormatFloat(clampUnit(a.Confidence), 'f', 2, 64),
		Severity:    clean(a.Severity, 16),
		Route:       clean(a.Route.Name, maxNameRunes),
		RouteScore:  strconv.FormatFloat(clampUnit(a.Route.Score), 'f', 2, 64),
		RouteSNI:    clean(a.Route.SNI, 16),
	}
	v.ClassLabel, v.ClassTok, v.SevTok = classLabel(v.Class), classToken(string(a.Class)), severityToken(a.Severity)
	v.ConfidenceBar = num(clampUnit(a.Confidence) * 100)
	v.SeverityScore = rec.Event.Severity
	v.RouteProvider = clean(a.Route.Provider, maxNameRunes)
	if rec.TLS != nil {
		v.SNI = clean(rec.TLS.Client.ServerName, maxNameRunes)
	}
	if rec.Event.Duration == 0 && a.Cadence.DurationS > 0 {
		v.Duration = fmtSeconds(a.Cadence.DurationS)
	}
	for i, c := range a.Route.Candidates {
		if i == maxCandidates {
			v.MoreCandidates = len(a.Route.Candidates) - i
			break
		}
		s := clampUnit(c.Score)
		v.Candidates = append(v.Candidates, candView{Name: clean(c.Name, maxNameRunes), Score: strconv.FormatFloat(s, 'f', 2, 64),
			Width: num(s * 100), Best: c.Name == a.Route.Name})
	}
	for i, r := range a.Reasons {
		if i == maxReasons {
			v.MoreReasons = len(a.Reasons) - i
			break
		}
		v.Reasons = append(v.Reasons, clean(r, maxTextRunes))
	}
	v.KeyFeatures = keyFeatures(rec)
	v.DirRows = dirRows(&a.Cadence)
	v.Exchange = exchangeKV(&a.Cadence.Exchange)
	v.Session = sessionKV(&a.Cadence.Session)
	handoffS, hasHandoff := 0.0, false
	if h := a.Handoff; h != nil {
		dir := strings.ReplaceAll(clean(h.Direction, 32), "_", " ")
		v.Handoff = dir + " at " + fmtSeconds(h.AtOffsetS) + " (" + clean(h.At, 64) + ")"
		handoffS, hasHandoff = h.AtOffsetS, true
	}
	var ids []string
	for i, h := range a.Rules {
		if i == maxRules {
			v.MoreRules = len(a.Rules) - i
			break
		}
		rv := ruleView{ID: clean(h.ID, maxIDRunes), Name: clean(h.Name, maxIDRunes), Severity: clean(h.Severity, 16),
			Message: clean(h.Message, maxRuleText), Count: h.Count, SevTok: severityToken(h.Severity),
			Techniques: clean(strings.Join(capList(h.Techniques, maxTechniques), ", "), maxRuleList),
			Tags:       clean(strings.Join(capList(h.Tags, maxTechniques), ", "), maxRuleList)}
		v.Rules = append(v.Rules, rv)
		if i < maxSummaryRule {
			ids = append(ids, rv.ID)
		}
	}
	v.RuleIDs = strings.Join(ids, ", ")
	if len(a.Rules) > maxSummaryRule {
		v.RuleIDs += " +" + strconv.Itoa(len(a.Rules)-maxSummaryRule)
	}
	v.IDS, v.IDSNote = idsKV(rec)
	if t := rec.Threat; t != nil {
		for i, id := range capList(t.Technique.ID, maxTechniques) {
			tv := techView{ID: clean(id, 32)}
			if i < len(t.Technique.Name) {
				tv.Name = clean(t.Technique.Name[i], maxNameRunes)
			}
			v.Threat = append(v.Threat, tv)
		}
	}
	v.Timeline = buildTimeline(d, opts.TimelinePoints, handoffS, hasHandoff)
	session := false
	switch a.Class {
	case schemas.ClassAgentShell, schemas.ClassHandoff, schemas.ClassAgentExfil, schemas.ClassHumanInteractive:
		session = true
	}
	v.Hist = buildHistogram(d, int64(opts.FlushGap), session)
	v.Capture = captureKV(rec, &v.Timeline)
	return v
}

func capList(xs []string, n int) []string {
	if len(xs) > n {
		return append(xs[:n:n], "+"+strconv.Itoa(len(xs)-n)+" more")
	}
	return xs
}

func clampUnit(x float64) float64 {
	if !finite(x) {
		return 0
	}
	return min(max(x, 0), 1)
}
