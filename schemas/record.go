package schemas

import (
	_ "embed"
)

// SchemaVersion is the version of the published Record. A change of a JSON
// name or of its meaning bumps the major number.
const SchemaVersion = "1.0"

// RecordSchemaJSON is the JSON Schema (draft 2020-12) of Record.
//
//go:embed record.schema.json
var RecordSchemaJSON []byte

// Class is what the cadence analysis says a flow is.
type Class string

// The detection classes (see DESIGN.md).
const (
	ClassLLMStream        Class = "llm_stream"
	ClassAgentShell       Class = "agent_shell"
	ClassHandoff          Class = "handoff"
	ClassAgentExfil       Class = "agent_exfil"
	ClassHumanInteractive Class = "human_interactive"
	ClassOther            Class = "other"
)

// Classes lists every class in a fixed order (for reports and tables).
var Classes = []Class{ClassLLMStream, ClassAgentShell, ClassHandoff, ClassAgentExfil, ClassHumanInteractive, ClassOther}

// IsDetection reports whether c is one of the classes Aegis alerts on.
func (c Class) IsDetection() bool {
	switch c {
	case ClassLLMStream, ClassAgentShell, ClassHandoff, ClassAgentExfil:
		return true
	}
	return false
}

// Record is one published Aegis record: a detection (event.kind "alert") or,
// with analyze --all, an analysed flow (event.kind "event"). Field names
// follow ECS where ECS has one; Aegis's own fields live under "aegis".
type Record struct {
	Timestamp   string       `json:"@timestamp"` // flow start, RFC 3339 with nanoseconds, UTC
	Event       Event        `json:"event"`
	Source      Endpoint     `json:"source"`
	Destination Endpoint     `json:"destination"`
	Network     Network      `json:"network"`
	TLS         *TLS         `json:"tls,omitempty"`
	Threat      *Threat      `json:"threat,omitempty"`
	Aegis       AegisSection `json:"aegis"`
}

// Event is the ECS event block.
type Event struct {
	ID       string   `json:"id"`   // deterministic record id (hex)
	Kind     string   `json:"kind"` // "alert" for detections, "event" otherwise
	Category []string `json:"category"`
	Type     []string `json:"type"`
	Dataset  string   `json:"dataset"` // "aegis.detection"
	Start    string   `json:"start"`
	End      string   `json:"end"`
	Duration int64    `json:"duration"` // nanoseconds, as ECS
	Severity int      `json:"severity"` // numeric severity (ECS), see Severity
}

// Endpoint is the ECS source or destination block. Source is the flow's
// originator (client), Destination its responder.
type Endpoint struct {
	IP      string `json:"ip"`
	Port    uint16 `json:"port"`
	Bytes   int64  `json:"bytes"`   // IP-level bytes sent by this side
	Packets int64  `json:"packets"` // packets sent by this side
}

// Network is the ECS network block.
type Network struct {
	Transport   string `json:"transport"`   // "tcp", "udp", "icmp", ...
	IANANumber  string `json:"iana_number"` // IP protocol number as a string (ECS)
	CommunityID string `json:"community_id"`
	Protocol    string `json:"protocol,omitempty"` // application protocol from the IDS (Zeek service / EVE app_proto)
	Bytes       int64  `json:"bytes"`
	Packets     int64  `json:"packets"`
}

// TLS is the ECS tls block; only the SNI is filled.
type TLS struct {
	Client TLSClient `json:"client"`
}

// TLSClient is ECS tls.client.
type TLSClient struct {
	ServerName string `json:"server_name"`
}

// Threat is the ECS threat block: ATT&CK techniques the record maps to.
type Threat struct {
	Framework string          `json:"framework"` // "MITRE ATT&CK"
	Technique ThreatTechnique `json:"technique"`
}

// ThreatTechnique is ECS threat.technique (arrays of ids and names).
type ThreatTechnique struct {
	ID   []string `json:"id"`
	Name []string `json:"name,omitempty"`
}

// AegisSection holds what Aegis adds: identity, verdict and evidence.
type AegisSection struct {
	SchemaVersion string   `json:"schema_version"`
	FlowKey       string   `json:"flow_key"` // canonical bidirectional key, e.g. "tcp 10.0.0.1:443 10.0.0.2:51000"
	IDS           *IDSInfo `json:"ids,omitempty"`
	Class         Class    `json:"class"`
	Confidence    float64  `json:"confidence"` // 0..1
	// Severity and Rules come before the long cadence block so that
	// consumers that extract only a record's first kilobytes (Splunk's
	// spath extraction_cutoff) still see them.
	Severity string     `json:"severity"` // "none", "low", "medium", "high", "critical"
	Rules    []RuleHit  `json:"rules,omitempty"`
	Reasons  []string   `json:"reasons"`
	Handoff  *Handoff   `json:"handoff,omitempty"`
	Route    RouteMatch `json:"route"`
	Cadence  Cadence    `json:"cadence"`
	// Capture notes what the flow table saw (packets lost to eviction,
	// retransmissions skipped, truncated timing detail).
	Capture CaptureInfo `json:"capture"`
}

// IDSInfo is the identity and context the IDS gave the flow.
type IDSInfo struct {
	Sensor    Sensor `json:"sensor"`
	UID       string `json:"uid,omitempty"`
	FlowID    uint64 `json:"flow_id,omitempty"`
	Service   string `json:"service,omitempty"`
	ConnState string `json:"conn_state,omitempty"`
	History   string `json:"history,omitempty"`
	OrigPkts  int64  `json:"orig_pkts"`
	RespPkts  int64  `json:"resp_pkts"`
	OrigBytes int64  `json:"orig_bytes"`
	RespBytes int64  `json:"resp_bytes"`
	JoinedBy  string `json:"joined_by"` // "community_id" or "5tuple_time"
	Source    string `json:"source"`    // file:line of the IDS record
}

// Handoff is the moment a session changed hands.
type Handoff struct {
	Direction string  `json:"direction"` // "human_to_agent" or "agent_to_human"
	At        string  `json:"at"`        // RFC 3339 time of the change
	AtOffsetS float64 `json:"at_offset_s"`
}

// RouteMatch is the model-route fingerprint.
type RouteMatch struct {
	Name     string  `json:"name"`               // profile name, or "unknown"
	Provider string  `json:"provider,omitempty"` // e.g. "openai"
	Score    float64 `json:"score"`              // 0..1 similarity of the best profile
	// SNI says how the TLS server name relates to the route: "listed"
	// (a server name the profile names), "unlisted" (LLM cadence to a name
	// no profile lists: possibly self-hosted or proxied), or "none".
	SNI        string           `json:"sni"`
	Candidates []RouteCandidate `json:"candidates,omitempty"`
}

// RouteCandidate is one profile's score.
type RouteCandidate struct {
	Name  string  `json:"name"`
	Score float64 `json:"score"`
}

// RuleHit is one rule that fired on the record.
type RuleHit struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Severity string   `json:"severity"`
	Message  string   `json:"message,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	// Techniques are the ATT&CK technique ids the rule maps the flow to.
	Techniques []string `json:"techniques,omitempty"`
	// Count is how many alerts of this rule for the same source the
	// suppression window folded into this one (0 or 1: just this one).
	Count int `json:"count,omitempty"`
}

// CaptureInfo describes the packet evidence behind the cadence features.
type CaptureInfo struct {
	Packets       int64 `json:"packets"`        // packets the flow table saw
	Retransmits   int64 `json:"retransmits"`    // TCP payload retransmissions left out of the timing
	DetailTrimmed bool  `json:"detail_trimmed"` // timing detail kept for the first packets only
	Evicted       bool  `json:"evicted"`        // the flow was ended early by the memory budget
}
