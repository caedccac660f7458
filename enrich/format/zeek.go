package format

import (
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/schemas"
)

// The Zeek ASCII writer's markers (Log::separator and friends), which the
// zeek format always uses.
const (
	zeekSep    = '\t'
	zeekSetSep = ','
	zeekEmpty  = "(empty)"
	zeekUnset  = "-"
)

// zeekOpenLayout is the #open/#close time layout (Zeek's
// "%Y-%m-%d-%H-%M-%S", in the clock's zone as Zeek uses local time).
const zeekOpenLayout = "2006-01-02-15-04-05"

// zeekColumn is one column of aegis.log.
type zeekColumn struct {
	name, typ string
	// appendValue appends the column's value, escaped, to dst.
	appendValue func(dst []byte, r *schemas.Record) []byte
}

// ZeekColumns returns the column names and Zeek types of aegis.log, in
// order. The first seven are conn.log's (ts, uid, id.*, proto) so the log
// joins with conn.log on uid (or on community_id).
func ZeekColumns() (names, types []string) {
	for _, c := range zeekColumns {
		names = append(names, c.name)
		types = append(types, c.typ)
	}
	return names, types
}

var zeekColumns = []zeekColumn{
	{"ts", "time", nil}, // written by Append (it can fail)
	{"uid", "string", func(d []byte, r *schemas.Record) []byte {
		if r.Aegis.IDS == nil {
			return append(d, zeekUnset...)
		}
		return appendZeekString(d, r.Aegis.IDS.UID, false, true)
	}},
	{"id.orig_h", "addr", func(d []byte, r *schemas.Record) []byte { return appendZeekString(d, r.Source.IP, false, true) }},
	{"id.orig_p", "port", func(d []byte, r *schemas.Record) []byte { return strconv.AppendUint(d, uint64(r.Source.Port), 10) }},
	{"id.resp_h", "addr", func(d []byte, r *schemas.Record) []byte { return appendZeekString(d, r.Destination.IP, false, true) }},
	{"id.resp_p", "port", func(d []byte, r *schemas.Record) []byte {
		return strconv.AppendUint(d, uint64(r.Destination.Port), 10)
	}},
	{"proto", "enum", func(d []byte, r *schemas.Record) []byte { return append(d, zeekProto(r.Network.Transport)...) }},
	{"service", "string", func(d []byte, r *schemas.Record) []byte {
		return appendZeekString(d, r.Network.Protocol, false, true)
	}},
	{"duration", "interval", func(d []byte, r *schemas.Record) []byte {
		if r.Event.Duration < 0 {
			return append(d, zeekUnset...)
		}
		return appendZeekNanos(d, r.Event.Duration)
	}},
	{"community_id", "string", func(d []byte, r *schemas.Record) []byte {
		return appendZeekString(d, r.Network.CommunityID, false, true)
	}},
	{"flow_id", "count", func(d []byte, r *schemas.Record) []byte {
		if r.Aegis.IDS == nil || r.Aegis.IDS.FlowID == 0 {
			return append(d, zeekUnset...)
		}
		return strconv.AppendUint(d, r.Aegis.IDS.FlowID, 10)
	}},
	{"sensor", "enum", func(d []byte, r *schemas.Record) []byte {
		if r.Aegis.IDS == nil {
			return append(d, zeekUnset...)
		}
		return appendZeekString(d, string(r.Aegis.IDS.Sensor), false, true)
	}},
	{"record_id", "string", func(d []byte, r *schemas.Record) []byte { return appendZeekString(d, r.Event.ID, false, true) }},
	{"event_kind", "enum", func(d []byte, r *schemas.Record) []byte { return appendZeekString(d, r.Event.Kind, false, true) }},
	{"class", "enum", func(d []byte, r *schemas.Record) []byte {
		return appendZeekString(d, string(r.Aegis.Class), false, true)
	}},
	{"confidence", "double", func(d []byte, r *schemas.Record) []byte { return appendZeekDouble(d, r.Aegis.Confidence) }},
	{"severity", "enum", func(d []byte, r *schemas.Record) []byte { return appendZeekString(d, r.Aegis.Severity, false, true) }},
	{"severity_score", "count", func(d []byte, r *schemas.Record) []byte {
		return strconv.AppendInt(d, int64(r.Event.Severity), 10)
	}},
	{"route", "string", func(d []byte, r *schemas.Record) []byte { return appendZeekString(d, r.Aegis.Route.Name, false, true) }},
	{"route_provider", "string", func(d []byte, r *schemas.Record) []byte {
		return appendZeekString(d, r.Aegis.Route.Provider, false, true)
	}},
	{"route_score", "double", func(d []byte, r *schemas.Record) []byte { return appendZeekDouble(d, r.Aegis.Route.Score) }},
	{"route_sni", "enum", func(d []byte, r *schemas.Record) []byte { return appendZeekString(d, r.Aegis.Route.SNI, false, true) }},
	{"server_name", "string", func(d []byte, r *schemas.Record) []byte {
		if r.TLS == nil {
			return append(d, zeekUnset...)
		}
		return appendZeekString(d, r.TLS.Client.ServerName, false, true)
	}},
	{"handoff", "enum", func(d []byte, r *schemas.Record) []byte {
		if r.Aegis.Handoff == nil {
			return append(d, zeekUnset...)
		}
		return appendZeekString(d, r.Aegis.Handoff.Direction, false, true)
	}},
	{"rules", "set[string]", func(d []byte, r *schemas.Record) []byte {
		ids := make([]string, 0, len(r.Aegis.Rules))
		for _, h := range r.Aegis.Rules {
			ids = append(ids, h.ID)
		}
		slices.Sort(ids)
		return appendZeekList(d, slices.Compact(ids))
	}},
	{"techniques", "set[string]", func(d []byte, r *schemas.Record) []byte { return appendZeekList(d, techniques(r)) }},
	{"reasons", "vector[string]", func(d []byte, r *schemas.Record) []byte { return appendZeekList(d, r.Aegis.Reasons) }},
}

// techniques returns the ATT&CK technique ids of r (threat.technique.id and
// the rules' techniques), sorted, without duplicates.
func techniques(r *schemas.Record) []string {
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

// zeekEncoder writes aegis.log in Zeek's ASCII (TSV) format.
type zeekEncoder struct{ opts Options }

func (zeekEncoder) Name() string { return Zeek }

// Accepts reports whether k carries a detection Record: only
// KindDetection does.
func (zeekEncoder) Accepts(k sink.Kind) bool { return k == sink.KindDetection }

// Header returns the meta lines Zeek's ASCII writer starts a file with.
func (e zeekEncoder) Header() []byte {
	var b []byte
	b = append(b, "#separator \\x09\n"...)
	b = append(b, "#set_separator\t,\n"...)
	b = append(b, "#empty_field\t"+zeekEmpty+"\n"...)
	b = append(b, "#unset_field\t"+zeekUnset+"\n"...)
	b = append(b, "#path\t"+e.opts.ZeekPath+"\n"...)
	b = append(b, "#open\t"...)
	b = e.opts.Now().AppendFormat(b, zeekOpenLayout)
	b = append(b, "\n#fields"...)
	for _, c := range zeekColumns {
		b = append(b, zeekSep)
		b = append(b, c.name...)
	}
	b = append(b, "\n#types"...)
	for _, c := range zeekColumns {
		b = append(b, zeekSep)
		b = append(b, c.typ...)
	}
	return append(b, '\n')
}

// Footer returns the #close line.
func (e zeekEncoder) Footer() []byte {
	b := []byte("#close\t")
	b = e.opts.Now().AppendFormat(b, zeekOpenLayout)
	return append(b, '\n')
}

// Append appends one aegis.log line. A message without a Record (verdict,
// coupling, campaign) is skipped with an error wrapping ErrSkipped.
func (e zeekEncoder) Append(dst []byte, m *sink.Message) ([]byte, error) {
	r := m.Record
	if r == nil {
		return dst, errNoRecord(Zeek, m)
	}
	ts, err := time.Parse(time.RFC3339Nano, r.Timestamp)
	if err != nil {
		return dst, fmt.Errorf("format: zeek: record %s: @timestamp: %w", m.ID, err)
	}
	dst = appendZeekNanos(dst, ts.UnixNano()) // "-" before 1970
	for _, c := range zeekColumns[1:] {
		dst = append(dst, zeekSep)
		dst = c.appendValue(dst, r)
	}
	return append(dst, '\n'), nil
}

// zeekProto is Zeek's transport_proto enum name for an ECS transport.
func zeekProto(transport string) string {
	switch transport {
	case "tcp", "udp", "icmp":
		return transport
	case "ipv6-icmp", "icmpv6":
		return "icmp" // Zeek logs ICMPv6 as icmp too
	}
	return "unknown_transport"
}

// appendZeekNanos appends ns as seconds with six decimals (Zeek's time and
// interval columns), truncated to the microsecond.
func appendZeekNanos(dst []byte, ns int64) []byte {
	if ns < 0 {
		return append(dst, zeekUnset...)
	}
	dst = strconv.AppendInt(dst, ns/1e9, 10)
	dst = append(dst, '.')
	us := (ns % 1e9) / 1e3
	for d := int64(100000); d > 0; d /= 10 {
		dst = append(dst, byte('0'+us/d%10))
	}
	return dst
}

// appendZeekDouble appends f as Zeek writes a double: at most six
// decimals, trailing zeros removed, ".0" on integral values.
func appendZeekDouble(dst []byte, f float64) []byte {
	if f != f || f > 1e300 || f < -1e300 { // NaN, ±Inf: not representable
		return append(dst, zeekUnset...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', 6, 64)
	end := len(dst)
	for end > start && dst[end-1] == '0' {
		end--
	}
	if dst[end-1] == '.' {
		end++ // keep one zero: "1.0"
	}
	dst = dst[:end]
	if string(dst[start:]) == "-0.0" {
		dst = append(dst[:start], "0.0"...)
	}
	return dst
}

// appendZeekList appends a set or vector of strings: elements joined by
// the set separator (escaped inside elements), "(empty)" for none.
func appendZeekList(dst []byte, elems []string) []byte {
	if len(elems) == 0 {
		return append(dst, zeekEmpty...)
	}
	for i, s := range elems {
		if i > 0 {
			dst = append(dst, zeekSetSep)
		}
		dst = appendZeekString(dst, s, true, false)
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendZeekString appends s escaped as Zeek's ASCII writer escapes
// strings, so a reader that splits on tabs (and commas in sets) and decodes
// \xHH gets s back byte for byte:
//
//   - ASCII control characters (tab, newline, ...), DEL and the backslash
//     itself become \xHH (lower-case hex, as Zeek writes them);
//   - in a set or vector element (inSet), the set separator ',' too;
//   - bytes that are not valid UTF-8 become \xHH, each;
//   - valid UTF-8 passes through (Zeek's LogAscii::enable_utf_8), except
//     runes that are not printable (C1 controls, bidi overrides, line and
//     paragraph separators), whose bytes become \xHH, so attacker-chosen
//     text cannot break or disguise a line in a terminal;
//   - a value that reads as the unset ("-") or empty ("(empty)") marker
//     has its first byte escaped.
//
// An empty s is written as "(empty)", or as "-" when emptyIsUnset (Zeek
// logs an absent optional field as unset).
func appendZeekString(dst []byte, s string, inSet, emptyIsUnset bool) []byte {
	switch s {
	case "":
		if emptyIsUnset {
			return append(dst, zeekUnset...)
		}
		return append(dst, zeekEmpty...)
	case zeekUnset, zeekEmpty:
		dst = appendHexByte(dst, s[0])
		return append(dst, s[1:]...)
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '\\' || (inSet && c == zeekSetSep) {
				dst = appendHexByte(dst, c)
			} else {
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !unicode.IsPrint(r) {
			for j := i; j < i+size; j++ {
				dst = appendHexByte(dst, s[j])
			}
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

func appendHexByte(dst []byte, c byte) []byte {
	return append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
}

// ZeekEscape returns s escaped as a string value of the zeek format (see
// the package's escaping rules); inSet also escapes the set separator, as
// inside a set or vector element. Exported for tests and tools that build
// aegis.log lines.
func ZeekEscape(s string, inSet bool) string {
	return string(appendZeekString(nil, s, inSet, false))
}
