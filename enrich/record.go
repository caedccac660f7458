package enrich

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/aegis-nsm/aegis/enrich/attack"
	"strconv"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// FlowSummary is what the packets said about one flow, independent of the
// flow table's own types.
type FlowSummary struct {
	Tuple                    schemas.Tuple // originator as sender
	First, Last              int64         // ns, packet clock
	OrigPackets, RespPackets int64
	OrigIPBytes, RespIPBytes int64
	CommunityID              string
	Capture                  schemas.CaptureInfo
}

// Verdict is what the cadence analysis said about the flow.
type Verdict struct {
	Cadence    schemas.Cadence
	Class      schemas.Class
	Confidence float64
	Reasons    []string
	Handoff    *schemas.Handoff
	Route      schemas.RouteMatch
}

// transportName is the ECS network.transport for an IP protocol.
func transportName(p uint8) string {
	switch p {
	case schemas.ProtoTCP:
		return "tcp"
	case schemas.ProtoUDP:
		return "udp"
	case schemas.ProtoICMP:
		return "icmp"
	case schemas.ProtoICMPv6:
		return "ipv6-icmp"
	case schemas.ProtoSCTP:
		return "sctp"
	}
	return strconv.Itoa(int(p))
}

// FlowKeyString is the canonical, direction-free text form of a tuple:
// "tcp LOW:port HIGH:port" with the lower endpoint first.
func FlowKeyString(t schemas.Tuple) string {
	k := keyOf(t)
	return fmt.Sprintf("%s %s %s", transportName(k.proto), endpoint(k.a, k.ap), endpoint(k.b, k.bp))
}

func endpoint(ip schemas.IP, port uint16) string {
	if ip.Is4() {
		return ip.String() + ":" + strconv.Itoa(int(port))
	}
	return "[" + ip.String() + "]:" + strconv.Itoa(int(port))
}

// Timestamp formats ns since the epoch as RFC 3339 with nanoseconds, UTC.
func Timestamp(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// RecordID is the deterministic record id: the same flow (key, first
// packet, IDS identity) always gets the same id, so consumers can drop the
// duplicates an at-least-once pipeline may deliver.
func RecordID(kind string, s FlowSummary, ids *schemas.IDSFlow) string {
	h := sha256.New()
	fmt.Fprintf(h, "aegis/%s\x00%s\x00%s\x00%d", schemas.SchemaVersion, kind, FlowKeyString(s.Tuple), s.First)
	if ids != nil {
		fmt.Fprintf(h, "\x00%s\x00%s\x00%d", ids.Sensor, ids.UID, ids.FlowID)
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

// Assemble builds the published record of one flow. ids may be nil (no IDS
// record joined); method says how it was joined.
func Assemble(s FlowSummary, v Verdict, ids *schemas.IDSFlow, method JoinMethod) schemas.Record {
	sev := BaseSeverity(v.Class, v.Confidence)
	kind := "event"
	if v.Class.IsDetection() {
		kind = "alert"
	}
	reasons := v.Reasons
	if reasons == nil {
		reasons = []string{}
	}
	r := schemas.Record{
		Timestamp: Timestamp(s.First),
		Event: schemas.Event{
			ID:       RecordID("detection", s, ids),
			Kind:     kind,
			Category: []string{"network"},
			Type:     []string{"connection"},
			Dataset:  "aegis.detection",
			Start:    Timestamp(s.First),
			End:      Timestamp(s.Last),
			Duration: s.Last - s.First,
			Severity: sev.Score(),
		},
		Source:      schemas.Endpoint{IP: s.Tuple.SrcIP.String(), Port: s.Tuple.SrcPort, Bytes: s.OrigIPBytes, Packets: s.OrigPackets},
		Destination: schemas.Endpoint{IP: s.Tuple.DstIP.String(), Port: s.Tuple.DstPort, Bytes: s.RespIPBytes, Packets: s.RespPackets},
		Network: schemas.Network{
			Transport:   transportName(s.Tuple.Proto),
			IANANumber:  strconv.Itoa(int(s.Tuple.Proto)),
			CommunityID: s.CommunityID,
			Bytes:       s.OrigIPBytes + s.RespIPBytes,
			Packets:     s.OrigPackets + s.RespPackets,
		},
		Aegis: schemas.AegisSection{
			SchemaVersion: schemas.SchemaVersion,
			FlowKey:       FlowKeyString(s.Tuple),
			Class:         v.Class,
			Confidence:    v.Confidence,
			Reasons:       reasons,
			Handoff:       v.Handoff,
			Route:         v.Route,
			Cadence:       v.Cadence,
			Severity:      sev.String(),
			Capture:       s.Capture,
		},
	}
	if ids != nil {
		r.Network.Protocol = ids.Service
		if ids.SNI != "" {
			r.TLS = &schemas.TLS{Client: schemas.TLSClient{ServerName: ids.SNI}}
		}
		r.Aegis.IDS = &schemas.IDSInfo{
			Sensor: ids.Sensor, UID: ids.UID, FlowID: ids.FlowID, Service: ids.Service,
			ConnState: ids.ConnState, History: ids.History,
			OrigPkts: ids.OrigPkts, RespPkts: ids.RespPkts, OrigBytes: ids.OrigBytes, RespBytes: ids.RespBytes,
			JoinedBy: string(method), Source: fmt.Sprintf("%s:%d", ids.File, ids.Line),
		}
	}
	if techs := Techniques(v.Class, s.Tuple, ids); len(techs) > 0 {
		r.Threat = &schemas.Threat{Framework: "MITRE ATT&CK",
			Technique: schemas.ThreatTechnique{ID: techs, Name: attack.Names(techs)}}
	}
	return r
}
