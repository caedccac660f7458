package schemas

import (
	_ "embed"
)

// CouplingSchemaVersion is the version of the published Coupling record. A
// change of a JSON name or of its meaning bumps the major number.
const CouplingSchemaVersion = "1.0"

// CouplingSchemaJSON is the JSON Schema (draft 2020-12) of Coupling.
//
//go:embed coupling.schema.json
var CouplingSchemaJSON []byte

// CouplingDataset is the ECS event.dataset of a Coupling record.
const CouplingDataset = "aegis.coupling"

// Coupling is one tool-call coupling finding: one host's actions (commands
// in an interactive session, or starts of new connections of one service)
// followed the ends of the same host's LLM streams within a short lag far
// more often than time-shifted copies of the same actions do. It is its own
// record kind (sink.KindCoupling), published next to the per-flow detection
// Records it links by id.
//
// ECS names where ECS has them (event, source, threat); Aegis's own fields
// live under "aegis". A Coupling is a plain value: encoding/json marshals it
// to the shape CouplingSchemaJSON describes.
type Coupling struct {
	// Timestamp is the time the finding became true on the packet clock:
	// the last listed action (event.end), RFC 3339 with nanoseconds, UTC.
	Timestamp string         `json:"@timestamp"`
	Event     Event          `json:"event"` // dataset "aegis.coupling", kind "alert"
	Source    CouplingSource `json:"source"`
	Threat    Threat         `json:"threat"`
	Aegis     CouplingAegis  `json:"aegis"`
}

// CouplingSource is the ECS source block of a Coupling: the host whose LLM
// streams and actions are coupled.
type CouplingSource struct {
	IP string `json:"ip"`
}

// CouplingAegis holds the statistics and the evidence of a Coupling.
type CouplingAegis struct {
	SchemaVersion string `json:"schema_version"`
	// Severity is "high", or "critical" when the coupled actions execute
	// commands (a shell session, SSH or another remote-execution service).
	Severity string `json:"severity"`
	// Reasons explain the finding in words, for the analyst.
	Reasons []string `json:"reasons"`
	// Channel is the set of actions that was tested: the commands of one
	// interactive session, or the starts of new connections of one service.
	Channel CouplingChannel `json:"channel"`
	// Cycles is the number of stream ends followed, within the lag window
	// and before the next stream end, by at least one action of the
	// channel (each stream end counted once).
	Cycles int `json:"cycles"`
	// LagMedianMs and LagP90Ms summarise, over the cycles, the lag from a
	// stream's end to the first action after it.
	LagMedianMs float64 `json:"lag_median_ms"`
	LagP90Ms    float64 `json:"lag_p90_ms"`
	// ClosenessMs is the test statistic: the sum over the cycles of the
	// lag window left when the action came (window - lag), in ms. An agent
	// acts early in every window; chance lands anywhere in some of them.
	ClosenessMs float64 `json:"closeness_ms"`
	// Score is how many null standard deviations the closeness lies above
	// the null mean: (closeness - null.expected_closeness_ms) /
	// max(null.sd_closeness_ms, window.lag_ms / 2).
	Score float64 `json:"score"`
	// PValue is the Monte Carlo p-value of the closeness under the null
	// (see Null); PAdjusted multiplies it by the channels tested on this
	// host (Bonferroni) and is what was compared with Alpha.
	PValue    float64        `json:"p_value"`
	PAdjusted float64        `json:"p_adjusted"`
	Alpha     float64        `json:"alpha"`
	Null      CouplingNull   `json:"null"`
	Window    CouplingWindow `json:"window"`
	// StreamsSeen and ActionsSeen count the stream ends and the channel's
	// actions the test used.
	StreamsSeen int `json:"streams_seen"`
	ActionsSeen int `json:"actions_seen"`
	// Streams and Actions are the evidence: cycle i is Streams[i] followed
	// by Actions[i] (the first action after that stream's end), oldest
	// first. At most the detector's max_evidence most recent cycles are
	// listed; EvidenceOmitted counts the older ones left out.
	Streams         []CouplingStream `json:"streams"`
	Actions         []CouplingAction `json:"actions"`
	EvidenceOmitted int              `json:"evidence_omitted"`
}

// CouplingChannel identifies the tested actions.
type CouplingChannel struct {
	// Kind is "command" (command writes inside one interactive session)
	// or "connect" (starts of new connections).
	Kind string `json:"kind"`
	// Service is the IDS service of the session or of the connections
	// ("ssh", "http", ...), empty when the IDS named none.
	Service string `json:"service,omitempty"`
	// Port is the responder port (for "connect" channels without a
	// service, the port is the channel).
	Port uint16 `json:"port,omitempty"`
	// FlowKey and RecordID identify the session of a "command" channel.
	FlowKey  string `json:"flow_key,omitempty"`
	RecordID string `json:"record_id,omitempty"`
}

// CouplingNull describes the null distribution the cycles were compared
// with.
type CouplingNull struct {
	// Method is "circular_shift": the channel's action times, all shifted
	// by one common random offset (wrapping around the analysed span),
	// keep their own rhythm (bursts, timers, typing) but lose any tie to
	// the stream ends.
	Method string `json:"method"`
	// Permutations is the number of shifted copies drawn.
	Permutations int `json:"permutations"`
	// MinShiftMs and MaxShiftMs bound the offsets (either sign).
	MinShiftMs float64 `json:"min_shift_ms"`
	MaxShiftMs float64 `json:"max_shift_ms"`
	// ExpectedCycles is the mean number of cycles over the shifted
	// copies, and ExpectedClosenessMs and SDClosenessMs the mean and
	// standard deviation of their closeness: what chance alone gives.
	ExpectedCycles      float64 `json:"expected_cycles"`
	ExpectedClosenessMs float64 `json:"expected_closeness_ms"`
	SDClosenessMs       float64 `json:"sd_closeness_ms"`
	// ChannelsTested is the number of channels of this host that had
	// enough actions to be tested (the Bonferroni factor).
	ChannelsTested int `json:"channels_tested"`
}

// CouplingWindow is the lag window and the analysed span.
type CouplingWindow struct {
	LagMs float64 `json:"lag_ms"`
	Start string  `json:"start"`
	End   string  `json:"end"`
}

// CouplingStream is one model answer of the evidence.
type CouplingStream struct {
	RecordID    string `json:"record_id,omitempty"` // the llm_stream detection record
	UID         string `json:"uid,omitempty"`       // Zeek uid of the LLM connection
	CommunityID string `json:"community_id,omitempty"`
	Route       string `json:"route,omitempty"` // model route, when fingerprinted
	Start       string `json:"start"`           // the answer's request (or the flow's start)
	End         string `json:"end"`             // the answer's last server payload packet
}

// CouplingAction is one action of the evidence.
type CouplingAction struct {
	RecordID    string `json:"record_id,omitempty"` // detection record of the session or connection
	UID         string `json:"uid,omitempty"`
	CommunityID string `json:"community_id,omitempty"`
	FlowKey     string `json:"flow_key,omitempty"`
	// Class is the cadence class of the record the action came from
	// (agent_shell, handoff, human_interactive, ...), empty when unknown.
	Class   string  `json:"class,omitempty"`
	Kind    string  `json:"kind"` // "command" or "connect"
	Time    string  `json:"time"`
	LagMs   float64 `json:"lag_ms"` // since the end of the stream before it
	Service string  `json:"service,omitempty"`
	Port    uint16  `json:"port,omitempty"`
}
