package schemas

import "net/netip"

// Sensor names the IDS that wrote a log record.
type Sensor string

// The sensors Aegis reads.
const (
	SensorZeek     Sensor = "zeek"
	SensorSuricata Sensor = "suricata"
)

// IDSFlow is one connection as an IDS logged it: a Zeek conn.log (or
// conn_long) row or a Suricata EVE flow event, with the flow context the
// sensor logged apart from it (TLS, SSH and HTTP details, alerts) folded in
// by the readers when they saw it. Orig is the side the IDS calls the
// originator (Zeek id.orig_h, Suricata src_ip of a flow event, which is
// the client).
//
// An IDSFlow is a plain value. Its strings, Raw and Context are owned by
// the record: the decoders never reuse or alias them.
type IDSFlow struct {
	Sensor Sensor
	// Where the record came from, for error messages and provenance.
	File string
	Line int64

	// Start is the first packet's time and End the last one's, in
	// nanoseconds since the Unix epoch. End is Start when the IDS did not
	// give a duration.
	Start, End int64

	UID    string // Zeek uid
	FlowID uint64 // Suricata flow_id (51-bit), 0 when unknown
	// CommunityID is the Community ID v1 ("1:..."): as the IDS logged it,
	// else computed by the reader from the 5-tuple (see
	// schemas/communityid) unless its Config turns that off.
	CommunityID string

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

	// Interim is set for a snapshot of a flow that was still open when the
	// IDS logged it (Zeek conn_long from corelight/zeek-long-connections):
	// counters are cumulative so far, End is the time of the snapshot's
	// duration, and the final record of the flow comes later.
	Interim bool

	// Context is the flow context the sensor logged apart from the flow
	// record (TLS, SSH and HTTP details, alerts), attached by the readers;
	// nil when none attached. Copies of an IDSFlow share it: treat it as
	// read-only, and replace it (copy, then change) rather than change it.
	// It is a pointer so that the many flows without context stay small.
	Context *FlowContext

	// Raw is the original flow event line, byte for byte (without its line
	// ending), when the reader was asked to keep it (eve.Config.KeepRaw);
	// nil otherwise. It is a copy owned by the record.
	Raw []byte
}

// FlowContext is what an IDS logged about a flow apart from its flow record.
type FlowContext struct {
	// TLS, from Zeek's ssl.log (version, ja3, ja3s, ja4 columns when
	// loaded) or Suricata's tls and quic events. TLSVersion is as the
	// sensor spells it ("TLSv13" in Zeek, "TLS 1.3" in Suricata). JA3 and
	// JA3S are MD5 hex digests, JA4 the JA4 (client) string.
	TLSVersion     string
	JA3, JA3S, JA4 string

	// SSH software banners (Suricata ssh event client/server
	// software_version, e.g. "OpenSSH_9.6p1").
	SSHClient, SSHServer string

	// HTTP request details (Suricata http event: hostname,
	// http_user_agent, url) of the first request that had them.
	HTTPHost, HTTPUserAgent, HTTPURL string

	// Alerts are the IDS alerts raised on this flow (Suricata alert events
	// with its flow_id), in file order; nil when none.
	Alerts []IDSAlert
}

// Ctx returns f's flow context, the zero FlowContext when it has none.
func (f *IDSFlow) Ctx() FlowContext {
	if f.Context == nil {
		return FlowContext{}
	}
	return *f.Context
}

// IDSAlert is one alert an IDS raised on a flow (a Suricata alert event).
type IDSAlert struct {
	// Time is the alert's timestamp in nanoseconds since the Unix epoch.
	Time        int64
	GID         int64  // generator id (1 for rules)
	SignatureID int64  // rule sid
	Rev         int64  // rule revision
	Signature   string // rule message
	Category    string // classtype description
	Severity    int    // 1 is the highest; 0 when not logged
	Action      string // "allowed" or "blocked"
}
