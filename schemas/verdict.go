package schemas

import (
	_ "embed"
)

// VerdictSchemaVersion is the version of the published Verdict. A change of
// a JSON name or of its meaning bumps the major number.
const VerdictSchemaVersion = "1.0"

// VerdictSchemaJSON is the JSON Schema (draft 2020-12) of Verdict.
//
//go:embed verdict.schema.json
var VerdictSchemaJSON []byte

// VerdictOutcome says whether the model contributed to a verdict and, when
// it did not, why.
type VerdictOutcome string

// The verdict outcomes. Every outcome but OutcomeOK means the verdict
// carries only Aegis's deterministic mapping (rule- and class-based chain
// and techniques); Reason then says what happened.
const (
	OutcomeOK           VerdictOutcome = "ok"            // the model answered with a valid reply (or the cache had one)
	OutcomeInvalidReply VerdictOutcome = "invalid_reply" // the model's replies did not fit the reply schema, twice
	OutcomeTimeout      VerdictOutcome = "timeout"       // the model did not answer within the request timeout
	OutcomeUnavailable  VerdictOutcome = "unavailable"   // Ollama unreachable, 5xx, refused, or Aegis stopping
	OutcomeBreakerOpen  VerdictOutcome = "breaker_open"  // the circuit breaker is open after repeated failures
	OutcomeDisabled     VerdictOutcome = "disabled"      // the LLM stage is turned off (llm.enabled: false)
	OutcomeModelMissing VerdictOutcome = "model_missing" // Ollama does not have the configured model
)

// VerdictOutcomes lists every outcome in a fixed order (for metrics).
var VerdictOutcomes = []VerdictOutcome{OutcomeOK, OutcomeInvalidReply, OutcomeTimeout, OutcomeUnavailable,
	OutcomeBreakerOpen, OutcomeDisabled, OutcomeModelMissing}

// Verdict is the record (kind "verdict") the LLM stage publishes about one
// source host: the intent chain that links its detections inside one
// correlation window, the ATT&CK techniques they map to and a narrative.
// It explains detections and never replaces them: the detection records it
// names are published on their own, unchanged, and its severity is the
// highest of theirs, copied. Field names follow ECS where ECS has one;
// Aegis's own fields live under "aegis".
//
// A Verdict is a plain value; nothing in it is shared.
type Verdict struct {
	Timestamp string       `json:"@timestamp"` // end of the latest detection, RFC 3339 with nanoseconds, UTC
	Event     VerdictEvent `json:"event"`
	Source    HostRef      `json:"source"`
	// Threat lists the vetted ATT&CK techniques (ECS threat.*); nil when
	// there are none.
	Threat *Threat        `json:"threat,omitempty"`
	Aegis  VerdictSection `json:"aegis"`
}

// VerdictEvent is the ECS event block of a verdict.
type VerdictEvent struct {
	// ID is deterministic: a hash of the source, the window start and the
	// detection ids, so a replay or a crash re-read gives the same id.
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`     // "enrichment"
	Category []string `json:"category"` // ["intrusion_detection"]
	Type     []string `json:"type"`     // ["info"]
	Dataset  string   `json:"dataset"`  // "aegis.verdict"
	Start    string   `json:"start"`    // start of the earliest detection
	End      string   `json:"end"`      // end of the latest detection
	// Severity is the highest event.severity of the detections, copied:
	// a verdict never raises or lowers it.
	Severity int `json:"severity"`
}

// HostRef is an ECS source (or destination) block naming only a host.
type HostRef struct {
	IP string `json:"ip"`
}

// VerdictSection holds what Aegis adds to a verdict.
type VerdictSection struct {
	SchemaVersion string `json:"schema_version"`
	// Sensor names the Aegis instance that wrote the verdict, when known.
	Sensor string `json:"sensor,omitempty"`
	// Severity is the highest severity name of the detections, copied.
	Severity string `json:"severity"`
	// Detections are the ids (event.id) of every detection record the
	// verdict covers, oldest first. The model cannot drop any.
	Detections []string `json:"detections"`
	// Chain is the intent chain, in order. Every detection is named by at
	// least one step.
	Chain []ChainStep `json:"chain"`
	// Techniques are the vetted ATT&CK techniques (in Aegis's table),
	// sorted by id: the union of the deterministic mapping and the model's.
	Techniques []VerdictTechnique `json:"techniques"`
	// UnvettedTechniques are well-formed technique ids that are not in
	// Aegis's table (from the model or from custom rules), sorted. They
	// are shown for analysts and never drive severity.
	UnvettedTechniques []string `json:"unvetted_techniques"`
	// Narrative is one paragraph for an analyst: the model's when Outcome
	// is "ok", else Aegis's deterministic one.
	Narrative string `json:"narrative"`
	// RouteOpinion comments on the model-route fingerprints of the LLM
	// streams in the window (the model's or a deterministic summary).
	RouteOpinion string `json:"route_opinion"`
	// Model is the Ollama model asked; absent when the stage is disabled.
	Model   string         `json:"model,omitempty"`
	Outcome VerdictOutcome `json:"outcome"`
	// Reason says why the model did not contribute (Outcome not "ok").
	Reason string `json:"reason,omitempty"`
	// Attempts is the number of model requests made for this verdict.
	Attempts int `json:"attempts"`
	// Cached is set when the model's reply came from the cache of
	// identical evidence bundles.
	Cached bool `json:"cached"`
}

// ChainStep is one step of an intent chain.
type ChainStep struct {
	Step int `json:"step"` // 1-based position in the chain
	// Tactic is an ATT&CK Enterprise tactic short name
	// ("reconnaissance", "execution", "lateral-movement",
	// "command-and-control", "exfiltration", ...).
	Tactic    string   `json:"tactic"`
	RecordIDs []string `json:"record_ids"` // detections that support the step
	Summary   string   `json:"summary"`
	// Origin is "model" for a step the model wrote, "rules" for one from
	// the deterministic mapping.
	Origin string `json:"origin"`
}

// VerdictTechnique is one vetted ATT&CK technique of a verdict.
type VerdictTechnique struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Tactics []string `json:"tactics"`
	// Origin is "rules" (deterministic mapping), "model", or "both".
	Origin string `json:"origin"`
}
