package format

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas"
)

// EVETimeLayout is Suricata's EVE timestamp layout
// ("2026-03-02T09:00:03.299809+0000": microseconds, offset without colon).
const EVETimeLayout = "2006-01-02T15:04:05.000000-0700"

// EVEEventType is the event_type of detection records in the eve format;
// other kinds are "aegis_" + kind ("aegis_verdict", ...).
const EVEEventType = "aegis"

// eveEncoder writes Suricata EVE-style events.
type eveEncoder struct{ opts Options }

func (eveEncoder) Name() string           { return EVE }
func (eveEncoder) Accepts(sink.Kind) bool { return true }
func (eveEncoder) Header() []byte         { return nil }
func (eveEncoder) Footer() []byte         { return nil }

// Append appends one EVE event line. A detection becomes
//
//	{"timestamp":"...+0000","flow_id":N,"event_type":"aegis",
//	 "src_ip":..,"src_port":..,"dest_ip":..,"dest_port":..,"proto":"TCP",
//	 "community_id":..,"app_proto":..,"tls":{"sni":..},
//	 "flow":{"pkts_toserver":..,"pkts_toclient":..,"bytes_toserver":..,
//	         "bytes_toclient":..,"start":..,"end":..},
//	 "aegis":{"id":..,"event_kind":..,"severity_score":.., <the native
//	          aegis section's members>, "threat":{..}}}
//
// with timestamp the flow start (@timestamp) in UTC; flow_id only when the
// IDS is Suricata (Record.Aegis.IDS.FlowID), community_id, app_proto and
// tls only when known; flow bytes are IP-level (Suricata counts whole
// frames). ICMP keeps the Zeek-style ports (type, counterpart type or
// code) as src_port/dest_port.
//
// Another kind (Record nil) becomes {"timestamp":..,"event_type":
// "aegis_<kind>","src_ip":..,"community_id":..,"aegis":<Value>}, its
// timestamp taken from the Value's "@timestamp" (or "timestamp") member,
// else the encoder's clock.
func (e eveEncoder) Append(dst []byte, m *sink.Message) ([]byte, error) {
	r := m.Record
	if r == nil {
		return e.appendOther(dst, m)
	}
	ts, err := time.Parse(time.RFC3339Nano, r.Timestamp)
	if err != nil {
		return dst, fmt.Errorf("format: eve: record %s: @timestamp: %w", m.ID, err)
	}
	aegis, err := json.Marshal(&r.Aegis)
	if err != nil {
		return dst, fmt.Errorf("format: eve: record %s: %w", m.ID, err)
	}
	var threat []byte
	if r.Threat != nil {
		if threat, err = json.Marshal(r.Threat); err != nil {
			return dst, fmt.Errorf("format: eve: record %s: %w", m.ID, err)
		}
	}

	dst = append(dst, `{"timestamp":"`...)
	dst = ts.UTC().AppendFormat(dst, EVETimeLayout)
	dst = append(dst, '"')
	if ids := r.Aegis.IDS; ids != nil && ids.FlowID != 0 {
		dst = append(dst, `,"flow_id":`...)
		dst = strconv.AppendUint(dst, ids.FlowID, 10)
	}
	dst = append(dst, `,"event_type":"`+EVEEventType+`","src_ip":`...)
	dst = appendJSONString(dst, r.Source.IP)
	dst = append(dst, `,"src_port":`...)
	dst = strconv.AppendUint(dst, uint64(r.Source.Port), 10)
	dst = append(dst, `,"dest_ip":`...)
	dst = appendJSONString(dst, r.Destination.IP)
	dst = append(dst, `,"dest_port":`...)
	dst = strconv.AppendUint(dst, uint64(r.Destination.Port), 10)
	dst = append(dst, `,"proto":`...)
	dst = appendJSONString(dst, eveProto(&r.Network))
	if r.Network.CommunityID != "" {
		dst = append(dst, `,"community_id":`...)
		dst = appendJSONString(dst, r.Network.CommunityID)
	}
	if r.Network.Protocol != "" {
		dst = append(dst, `,"app_proto":`...)
		dst = appendJSONString(dst, r.Network.Protocol)
	}
	if r.TLS != nil && r.TLS.Client.ServerName != "" {
		dst = append(dst, `,"tls":{"sni":`...)
		dst = appendJSONString(dst, r.TLS.Client.ServerName)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"flow":{"pkts_toserver":`...)
	dst = strconv.AppendInt(dst, r.Source.Packets, 10)
	dst = append(dst, `,"pkts_toclient":`...)
	dst = strconv.AppendInt(dst, r.Destination.Packets, 10)
	dst = append(dst, `,"bytes_toserver":`...)
	dst = strconv.AppendInt(dst, r.Source.Bytes, 10)
	dst = append(dst, `,"bytes_toclient":`...)
	dst = strconv.AppendInt(dst, r.Destination.Bytes, 10)
	for _, t := range [...]struct{ key, val string }{{"start", r.Event.Start}, {"end", r.Event.End}} {
		if v, err := time.Parse(time.RFC3339Nano, t.val); err == nil {
			dst = append(dst, `,"`+t.key+`":"`...)
			dst = v.UTC().AppendFormat(dst, EVETimeLayout)
			dst = append(dst, '"')
		}
	}
	dst = append(dst, `},"aegis":{"id":`...)
	dst = appendJSONString(dst, r.Event.ID)
	dst = append(dst, `,"event_kind":`...)
	dst = appendJSONString(dst, r.Event.Kind)
	dst = append(dst, `,"severity_score":`...)
	dst = strconv.AppendInt(dst, int64(r.Event.Severity), 10)
	if len(aegis) > 2 { // the section's members, without its braces
		dst = append(dst, ',')
		dst = append(dst, aegis[1:len(aegis)-1]...)
	}
	if threat != nil {
		dst = append(dst, `,"threat":`...)
		dst = append(dst, threat...)
	}
	return append(dst, "}}\n"...), nil
}

// appendOther encodes a message without a Record.
func (e eveEncoder) appendOther(dst []byte, m *sink.Message) ([]byte, error) {
	var head struct {
		AtTimestamp string `json:"@timestamp"`
		Timestamp   string `json:"timestamp"`
	}
	if len(m.Value) == 0 {
		return dst, fmt.Errorf("format: eve: %s message %s has neither Value nor Record", m.Kind, m.ID)
	}
	if err := json.Unmarshal(m.Value, &head); err != nil {
		// Not an object with string timestamps: still fine if it is JSON.
		if !json.Valid(m.Value) {
			return dst, fmt.Errorf("format: eve: %s message %s: Value is not JSON: %w", m.Kind, m.ID, err)
		}
	}
	ts := e.opts.Now()
	for _, s := range []string{head.AtTimestamp, head.Timestamp} {
		if t, err := parseAnyTime(s); err == nil {
			ts = t
			break
		}
	}
	dst = append(dst, `{"timestamp":"`...)
	dst = ts.UTC().AppendFormat(dst, EVETimeLayout)
	dst = append(dst, `","event_type":`...)
	dst = appendJSONString(dst, EVEEventType+"_"+string(m.Kind))
	if m.SourceIP != "" {
		dst = append(dst, `,"src_ip":`...)
		dst = appendJSONString(dst, m.SourceIP)
	}
	if m.CommunityID != "" {
		dst = append(dst, `,"community_id":`...)
		dst = appendJSONString(dst, m.CommunityID)
	}
	dst = append(dst, `,"aegis":`...)
	dst, err := appendNative(dst, m, false)
	if err != nil {
		return dst, err
	}
	return append(dst, "}\n"...), nil
}

// parseAnyTime parses RFC 3339 or Suricata's EVE timestamp.
func parseAnyTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05.999999999-0700", s)
}

// eveProto is Suricata's proto name for an ECS network block.
func eveProto(n *schemas.Network) string {
	switch n.Transport {
	case "tcp":
		return "TCP"
	case "udp":
		return "UDP"
	case "icmp":
		return "ICMP"
	case "ipv6-icmp":
		return "IPv6-ICMP"
	case "sctp":
		return "SCTP"
	}
	if n.IANANumber != "" {
		return n.IANANumber
	}
	return n.Transport
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD and U+2028/U+2029 are escaped, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
