package coupling

import (
	"net/netip"

	"github.com/aegis-nsm/aegis/schemas"
)

// Stream is one model answer of a host's LLM traffic: one request/response
// turn of a flow the cadence analysis called llm_stream. A keep-alive
// connection that carries several turns gives several Streams (see
// ExtractConfig.Answers); all of them share the flow's identity fields.
//
// End is the time of the answer's last server payload packet: the last
// token flush and the closing event (SSE "[DONE]", the final NDJSON line),
// not the flow's last packet (event.end), which for a keep-alive
// connection is the FIN or RST that the client pool or the server's idle
// timer sends a minute or more later. An agent acts when the answer is
// complete, so the last payload packet is the moment to measure the lag
// from. When the flow carried one answer and the per-packet detail is gone,
// the flow table's last server payload time (flowtable.Direction
// LastPayload) is that moment too; event.end is not.
type Stream struct {
	// Host is the client of the LLM flow (the record's source.ip).
	Host netip.Addr
	// Start is the time of the answer's request (or the flow's first
	// packet); End as above. Both in ns since the Unix epoch, packet clock.
	Start, End int64
	// Identity of the flow, copied into the evidence: the llm_stream
	// detection record's event.id (32 hex digits, or empty), the Zeek uid,
	// the Community ID and Aegis's canonical flow key.
	RecordID, UID, CommunityID, FlowKey string
	// Route is the model route the record names ("" or "unknown" when
	// not fingerprinted).
	Route string
}

// ActionKind says what kind of action an Action is.
type ActionKind uint8

// Action kinds.
const (
	// ActionConnect is the start of a new connection from the host (any
	// flow an IDS logged: SSH exec, HTTP, a database, SMB, DNS ...): Time
	// is the flow's first packet (Zeek ts, Suricata flow start).
	ActionConnect ActionKind = iota + 1
	// ActionCommand is a command write inside an interactive session
	// (agent_shell, handoff or human_interactive): a write of the
	// commanding side after a silence of both sides (see
	// ExtractConfig.Commands).
	ActionCommand
)

// String returns "connect", "command" or "unknown".
func (k ActionKind) String() string {
	switch k {
	case ActionConnect:
		return "connect"
	case ActionCommand:
		return "command"
	}
	return "unknown"
}

// Action is one thing a host did that an agent's tool call could have
// caused.
type Action struct {
	// Host is the acting host: the originator of a new connection, or the
	// commanding side of a session (the client; for a reverse shell the
	// responder, which sends the commands).
	Host netip.Addr
	// Time is when the action passed the sensor, ns since the Unix epoch.
	Time int64
	Kind ActionKind
	// Identity of the flow the action belongs to (the session for a
	// command, the new connection for a connect): Aegis's canonical flow
	// key, the detection record's event.id (32 hex digits, or empty when
	// Aegis published no record for the flow), the Zeek uid and the
	// Community ID. Actions of the flow of a Stream of the same host are
	// ignored (an LLM connection is not its own action).
	FlowKey, RecordID, UID, CommunityID string
	// Service is the IDS service (Zeek service, Suricata app_proto) and
	// DstPort the responder port; a connect channel is keyed by the
	// service, or by the port when the IDS named no service.
	Service string
	DstPort uint16
	// Class is the cadence class of the record the action came from
	// (agent_shell, handoff, human_interactive, ...), empty when unknown.
	// Links uses it to name the detections a finding supports.
	Class schemas.Class
}
