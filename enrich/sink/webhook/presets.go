package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas"
)

// The body presets.
const (
	PresetJSON      = "json"
	PresetSlack     = "slack"
	PresetTeams     = "teams"
	PresetPagerDuty = "pagerduty"
)

// Presets lists the preset names.
func Presets() []string { return []string{PresetJSON, PresetSlack, PresetTeams, PresetPagerDuty} }

// presetContext is what a preset needs besides the message.
type presetContext struct {
	routingKey string // pagerduty
	source     string // pagerduty payload.source fallback
}

// buildBody encodes m as the preset's request body. Text taken from the
// wire (SNI, reasons quoting it) is escaped for the target's markup so it
// cannot mention, link or format.
func buildBody(preset string, m *sink.Message, pc presetContext) ([]byte, error) {
	native, err := nativeJSON(m)
	if err != nil {
		return nil, err
	}
	switch preset {
	case PresetJSON:
		return native, nil
	case PresetSlack:
		return marshal(slackBody(m))
	case PresetTeams:
		return marshal(teamsBody(m))
	case PresetPagerDuty:
		return marshal(pagerDutyBody(m, native, pc))
	}
	return nil, fmt.Errorf("webhook: unknown preset %q", preset)
}

// nativeJSON is m's native JSON on one line.
func nativeJSON(m *sink.Message) ([]byte, error) {
	v := m.Value
	if len(v) == 0 {
		if m.Record == nil {
			return nil, fmt.Errorf("webhook: %s message %s has neither Value nor Record", m.Kind, m.ID)
		}
		b, err := json.Marshal(m.Record)
		if err != nil {
			return nil, fmt.Errorf("webhook: encoding record %s: %w", m.ID, err)
		}
		return b, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return nil, fmt.Errorf("webhook: %s message %s: Value is not JSON: %w", m.Kind, m.ID, err)
	}
	return buf.Bytes(), nil
}

// marshal encodes v without HTML escaping (the bodies are not HTML).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("webhook: encoding body: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// fact is one labelled value of a card.
type fact struct{ title, value string }

// view is the human summary of a message the chat presets share.
type view struct {
	title   string   // "Aegis: agent_shell (high)"
	summary string   // one line
	facts   []fact   // label, value
	reasons []string // evidence lines
}

func hostPort(ip string, port uint16) string {
	if a, err := netip.ParseAddr(ip); err == nil {
		return netip.AddrPortFrom(a, port).String()
	}
	return ip + ":" + strconv.Itoa(int(port))
}

func fmtScore(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// viewOf summarises m.
func viewOf(m *sink.Message) view {
	r := m.Record
	if r == nil {
		v := view{title: fmt.Sprintf("Aegis: %s (%s)", m.Kind, orNone(m.Severity))}
		v.summary = fmt.Sprintf("Aegis %s", m.Kind)
		if m.SourceIP != "" {
			v.summary += " about " + m.SourceIP
		}
		v.summary += ", severity " + orNone(m.Severity)
		v.facts = append(v.facts, fact{"Kind", string(m.Kind)}, fact{"Severity", orNone(m.Severity)})
		if m.SourceIP != "" {
			v.facts = append(v.facts, fact{"Host", m.SourceIP})
		}
		if m.CommunityID != "" {
			v.facts = append(v.facts, fact{"Community ID", m.CommunityID})
		}
		v.facts = append(v.facts, fact{"Record id", m.ID})
		return v
	}
	src, dst := hostPort(r.Source.IP, r.Source.Port), hostPort(r.Destination.IP, r.Destination.Port)
	sni := ""
	if r.TLS != nil {
		sni = r.TLS.Client.ServerName
	}
	v := view{title: fmt.Sprintf("Aegis: %s (%s)", r.Aegis.Class, r.Aegis.Severity), reasons: r.Aegis.Reasons}
	v.summary = fmt.Sprintf("%s from %s to %s", r.Aegis.Class, src, dst)
	if sni != "" {
		v.summary += " (" + sni + ")"
	}
	v.summary += fmt.Sprintf(", confidence %s", fmtScore(r.Aegis.Confidence))
	if r.Aegis.Route.Name != "" && r.Aegis.Route.Name != "unknown" {
		v.summary += fmt.Sprintf(", route %s (%s)", r.Aegis.Route.Name, fmtScore(r.Aegis.Route.Score))
	}
	v.summary += ", severity " + r.Aegis.Severity
	v.facts = append(v.facts, fact{"Source", src}, fact{"Destination", dst})
	if sni != "" {
		v.facts = append(v.facts, fact{"Server name", sni})
	}
	v.facts = append(v.facts,
		fact{"Class", fmt.Sprintf("%s (confidence %s)", r.Aegis.Class, fmtScore(r.Aegis.Confidence))},
		fact{"Severity", r.Aegis.Severity})
	if r.Aegis.Route.Name != "" {
		v.facts = append(v.facts, fact{"Route", fmt.Sprintf("%s (%s, SNI %s)", r.Aegis.Route.Name, fmtScore(r.Aegis.Route.Score), orNone(r.Aegis.Route.SNI))})
	}
	if t := techniqueIDs(r); len(t) > 0 {
		v.facts = append(v.facts, fact{"ATT&CK", strings.Join(t, ", ")})
	}
	if len(r.Aegis.Rules) > 0 {
		ids := make([]string, 0, len(r.Aegis.Rules))
		for _, h := range r.Aegis.Rules {
			ids = append(ids, h.ID)
		}
		v.facts = append(v.facts, fact{"Rules", strings.Join(ids, ", ")})
	}
	if ids := r.Aegis.IDS; ids != nil {
		switch {
		case ids.UID != "":
			v.facts = append(v.facts, fact{"IDS", fmt.Sprintf("%s uid %s", ids.Sensor, ids.UID)})
		case ids.FlowID != 0:
			v.facts = append(v.facts, fact{"IDS", fmt.Sprintf("%s flow_id %d", ids.Sensor, ids.FlowID)})
		}
	}
	if r.Network.CommunityID != "" {
		v.facts = append(v.facts, fact{"Community ID", r.Network.CommunityID})
	}
	v.facts = append(v.facts, fact{"Record id", r.Event.ID})
	return v
}

// techniqueIDs are r's ATT&CK technique ids, sorted and unique.
func techniqueIDs(r *schemas.Record) []string {
	var ids []string
	if r.Threat != nil {
		ids = append(ids, r.Threat.Technique.ID...)
	}
	for _, h := range r.Aegis.Rules {
		ids = append(ids, h.Techniques...)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// truncate cuts s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// maxReasons bounds the evidence lines a chat message shows.
const maxReasons = 10

// --- Slack ---------------------------------------------------------------

// slackEscape escapes Slack's control characters (&, <, >), so text from
// the wire cannot mention (<!channel>) or link (<url|text>).
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

type slackText struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Emoji    *bool  `json:"emoji,omitempty"`
	Verbatim bool   `json:"verbatim,omitempty"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// mrkdwn is a verbatim mrkdwn text object: Slack does not turn URLs or
// names in it into links or mentions.
func mrkdwn(s string) slackText { return slackText{Type: "mrkdwn", Text: s, Verbatim: true} }

// slackBody is an incoming-webhook message: a plain fallback text
// (notifications) and blocks: a header, the summary, up to ten fields,
// the evidence and a context line.
func slackBody(m *sink.Message) slackMessage {
	v := viewOf(m)
	no := false
	msg := slackMessage{
		Text: truncate(slackEscape(v.title+": "+v.summary), 3000),
		Blocks: []slackBlock{
			{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(v.title, 150), Emoji: &no}},
			{Type: "section", Text: ptr(mrkdwn(truncate(slackEscape(v.summary), 3000)))},
		},
	}
	var fields []slackText
	for _, f := range v.facts {
		if len(fields) == 10 { // Slack's limit per section
			break
		}
		fields = append(fields, mrkdwn(truncate("*"+f.title+"*\n"+slackEscape(f.value), 2000)))
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Fields: fields})
	if len(v.reasons) > 0 {
		var b strings.Builder
		b.WriteString("*Evidence*")
		for i, r := range v.reasons {
			if i == maxReasons {
				fmt.Fprintf(&b, "\n• … %d more", len(v.reasons)-maxReasons)
				break
			}
			b.WriteString("\n• " + slackEscape(r))
		}
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Text: ptr(mrkdwn(truncate(b.String(), 3000)))})
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackText{
		mrkdwn(truncate(slackEscape(fmt.Sprintf("Aegis %s · id %s", m.Kind, m.ID)), 2000)),
	}})
	return msg
}

func ptr[T any](v T) *T { return &v }

// --- Teams ---------------------------------------------------------------

// teamsEscape backslash-escapes the Markdown Adaptive Cards render for
// links, autolinks, emphasis with '*' and code, so text from the wire
// cannot form a link. The underscore is left alone: inside a word (class
// names such as llm_stream) it is not markup, and at worst a wire string
// could italicise itself.
var teamsEscape = strings.NewReplacer(
	`\`, `\\`, "[", `\[`, "]", `\]`, "*", `\*`, "`", "\\`", "<", `\<`, ">", `\>`, "~", `\~`,
).Replace

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type teamsElement struct {
	Type   string      `json:"type"`
	Text   string      `json:"text,omitempty"`
	Weight string      `json:"weight,omitempty"`
	Size   string      `json:"size,omitempty"`
	Color  string      `json:"color,omitempty"`
	Wrap   bool        `json:"wrap,omitempty"`
	Facts  []teamsFact `json:"facts,omitempty"`
}

type teamsCard struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Body    []teamsElement `json:"body"`
	MSTeams map[string]any `json:"msteams,omitempty"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	ContentURL  *string   `json:"contentUrl"`
	Content     teamsCard `json:"content"`
}

type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

// teamsColor is the title colour of a severity.
func teamsColor(sev string) string {
	switch sev {
	case "critical", "high":
		return "Attention"
	case "medium":
		return "Warning"
	}
	return "Default"
}

// teamsBody is a message with one Adaptive Card (version 1.4), the form
// Teams incoming webhooks and Workflows ("Post to a channel when a
// webhook request is received") accept.
func teamsBody(m *sink.Message) teamsMessage {
	v := viewOf(m)
	sev := m.Severity
	if m.Record != nil {
		sev = m.Record.Aegis.Severity
	}
	card := teamsCard{
		Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
		Type:    "AdaptiveCard",
		Version: "1.4",
		Body: []teamsElement{
			{Type: "TextBlock", Text: teamsEscape(v.title), Weight: "Bolder", Size: "Medium", Color: teamsColor(sev), Wrap: true},
			{Type: "TextBlock", Text: teamsEscape(v.summary), Wrap: true},
		},
		MSTeams: map[string]any{"width": "Full"},
	}
	facts := make([]teamsFact, 0, len(v.facts))
	for _, f := range v.facts {
		facts = append(facts, teamsFact{Title: f.title, Value: truncate(teamsEscape(f.value), 2000)})
	}
	card.Body = append(card.Body, teamsElement{Type: "FactSet", Facts: facts})
	if len(v.reasons) > 0 {
		var b strings.Builder
		for i, r := range v.reasons {
			if i == maxReasons {
				fmt.Fprintf(&b, "- … %d more\n", len(v.reasons)-maxReasons)
				break
			}
			b.WriteString("- " + teamsEscape(r) + "\n")
		}
		card.Body = append(card.Body,
			teamsElement{Type: "TextBlock", Text: "Evidence", Weight: "Bolder", Wrap: true},
			teamsElement{Type: "TextBlock", Text: strings.TrimSuffix(b.String(), "\n"), Wrap: true})
	}
	return teamsMessage{Type: "message", Attachments: []teamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive", Content: card,
	}}}
}

// --- PagerDuty -----------------------------------------------------------

type pagerDutyPayload struct {
	Summary       string          `json:"summary"`
	Source        string          `json:"source"`
	Severity      string          `json:"severity"`
	Timestamp     string          `json:"timestamp,omitempty"`
	Component     string          `json:"component,omitempty"`
	Group         string          `json:"group,omitempty"`
	Class         string          `json:"class,omitempty"`
	CustomDetails json.RawMessage `json:"custom_details"`
}

type pagerDutyEvent struct {
	RoutingKey  string           `json:"routing_key"`
	EventAction string           `json:"event_action"`
	DedupKey    string           `json:"dedup_key,omitempty"`
	Client      string           `json:"client,omitempty"`
	Payload     pagerDutyPayload `json:"payload"`
}

// PagerDutySeverity maps an Aegis severity to the Events API's: critical
// stays critical, high is error, medium warning, low and none info.
func PagerDutySeverity(sev string) string {
	switch sev {
	case "critical":
		return "critical"
	case "high":
		return "error"
	case "medium":
		return "warning"
	}
	return "info"
}

// pagerDutyBody is an Events API v2 trigger. dedup_key is the record id,
// so a redelivery (or a suppression update of the same alert) updates the
// open incident instead of opening another. source is the host the record
// is about (the flow's originator), component the remote end (server name,
// else address:port), class the detection class, custom_details the
// native record.
func pagerDutyBody(m *sink.Message, native []byte, pc presetContext) pagerDutyEvent {
	v := viewOf(m)
	p := pagerDutyPayload{
		Summary:       truncate(v.summary, 1024),
		Source:        m.SourceIP,
		Severity:      PagerDutySeverity(m.Severity),
		Class:         string(m.Kind),
		Group:         "aegis",
		CustomDetails: native,
	}
	if r := m.Record; r != nil {
		p.Severity = PagerDutySeverity(r.Aegis.Severity)
		p.Timestamp = r.Timestamp
		p.Class = string(r.Aegis.Class)
		p.Component = hostPort(r.Destination.IP, r.Destination.Port)
		if r.TLS != nil && r.TLS.Client.ServerName != "" {
			p.Component = truncate(r.TLS.Client.ServerName, 255)
		}
		if p.Source == "" {
			p.Source = r.Source.IP
		}
	}
	if p.Source == "" {
		p.Source = pc.source
	}
	return pagerDutyEvent{
		RoutingKey:  pc.routingKey,
		EventAction: "trigger",
		DedupKey:    m.ID,
		Client:      "Aegis",
		Payload:     p,
	}
}
