package schemas

import "net/netip"

// Sensor names the IDS that wrote a log record.
type Sensor string

// The sensors Aegis reads.
const (
	SensorZeek     Sensor = "zeek"
	SensorSuricata Sensor = "suricata"
)

// IDSFlow is one connection as an IDS logged it: a Zeek conn.log row or a
// Suricata EVE flow event, with SNI and service folded in when the decoder
// knows them. Orig is the side the IDS calls the originator (Zeek id.orig_h,
// Suricata src_ip of a flow event, which is the client).
type IDSFlow struct {
	Sensor Sensor
	// Where the record came from, for error messages and provenance.
	File string
	Line int64

	// Start is the first packet's time and End the last one's, in
	// nanoseconds since the Unix epoch. End is Start when the IDS did not
	// give a duration.
	Start, End int64

	UID         string // Zeek uid
	FlowID      uint64 // Suricata flow_id (51-bit), 0 when unknown
	CommunityID string // "1:..." when the IDS logged it

	Orig, Resp         netip.AddrPort
	Proto              uint8
	Service            string // Zeek service / Suricata app_proto
	SNI                string // TLS server name when known
	ConnState          string // Zeek conn_state / Suricata flow.state
	History            string // Zeek history
	OrigPkts, RespPkts int64
	// OrigBytes and RespBytes are payload bytes (Zeek orig_bytes) or, for
	// Suricata, whole-frame bytes (flow.bytes_toserver).
	OrigBytes, RespBytes     int64
	OrigIPBytes, RespIPBytes int64 // Zeek orig_ip_bytes; -1 when not logged
	// Tunnelled is set when the IDS reports this flow inside a tunnel
	// (Zeek tunnel_parents).
	Tunnelled bool
}
