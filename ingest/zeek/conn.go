package zeek

import (
	"bytes"
	"net/netip"

	"github.com/aegis-nsm/aegis/schemas/communityid"

	"github.com/aegis-nsm/aegis/ingest/logscan"
	"github.com/aegis-nsm/aegis/schemas"
)

// enc is how a field value is encoded on the line.
type enc uint8

const (
	encTSV        enc = iota // Zeek ASCII: \xHH escapes
	encJSONString            // JSON string contents: JSON escapes
	encJSONNumber            // JSON number literal
	encJSONArray             // JSON array text (sets and vectors)
	encJSONOther             // true, false or an object: no field takes them
)

// val is one field value as found on the line; raw aliases the line.
type val struct {
	raw   []byte
	enc   enc
	esc   bool // raw holds escapes
	unset bool // Zeek's unset marker ("-"), JSON null
	empty bool // Zeek's empty marker ("(empty)"), "" or [] in JSON
}

// connFields accumulates one record's fields; reused between lines.
type connFields struct {
	flow      *schemas.IDSFlow // the record: Decoder.out
	present   [numRoles]bool
	protoName []byte // aliases the line or scratch
	ipProto   int    // -1 when not logged
	hasDur    bool
	dur       int64
	unknownTS bool
	interim   bool // the record is of an interim path (conn_long)
}

// maskedTS is what btest's diff-remove-first-timestamp writes in place of
// the first timestamp on a line.
var maskedTS = []byte("XXXXXXXXXX.XXXXXX")

// beginRecord resets the per-record state.
func (d *Decoder) beginRecord() {
	f := d.out
	*f = schemas.IDSFlow{
		Sensor:      schemas.SensorZeek,
		File:        d.file,
		Line:        d.line,
		OrigIPBytes: -1,
		RespIPBytes: -1,
	}
	d.cf = connFields{flow: f, ipProto: -1}
	for i := range d.strs {
		d.strs[i] = d.strs[i][:0]
	}
}

// text returns b, or, when b is not valid UTF-8, a copy (in d.utf) with
// each invalid byte sequence replaced by U+FFFD; the record is then
// counted in Stats.InvalidUTF8. Records are kept, not rejected, for bad
// UTF-8: Zeek escapes non-printable bytes as \xHH, so invalid UTF-8 only
// reaches a kept string through such an escape (a server name with
// arbitrary bytes) or a garbled file, and the rest of the record is good.
func (d *Decoder) text(b []byte) []byte {
	if logscan.ValidUTF8(b) {
		return b
	}
	d.badUTF8 = true
	d.utf = append(d.utf[:0], bytes.ToValidUTF8(b, []byte("\uFFFD"))...)
	return d.utf
}

// plain returns v's bytes with escapes decoded (in scratch when needed).
func (d *Decoder) plain(v *val) []byte {
	if !v.esc {
		return v.raw
	}
	d.scratch = d.scratch[:0]
	if v.enc == encTSV {
		d.scratch = unescapeZeek(d.scratch, v.raw)
	} else {
		d.scratch = logscan.AppendUnescaped(d.scratch, v.raw)
	}
	return d.scratch
}

// field applies one field of a conn or ssl record.
func (d *Decoder) field(r role, v *val) *LineError {
	cf := &d.cf
	cf.present[r] = true
	switch r {
	case roleTS:
		if v.unset {
			return d.lineError(roleNames[r], ReasonMissingField, nil, errorf("unset"))
		}
		ts, unknown, ok := d.parseTS(v)
		if !ok {
			return d.lineError(roleNames[r], ReasonBadTimestamp, v.raw, nil)
		}
		cf.flow.Start, cf.unknownTS = ts, unknown
	case roleUID, roleCommunityID, roleServerName, roleVersion, roleJA3, roleJA3S, roleJA4:
		if v.enc == encJSONNumber || v.enc >= encJSONArray {
			return d.lineError(roleNames[r], ReasonBadValue, v.raw, errorf("not a string"))
		}
		if v.unset || v.empty {
			return nil
		}
		k := keptOf(r)
		d.strs[k] = append(d.strs[k][:0], d.text(d.plain(v))...)
	case roleOrigH, roleRespH:
		if v.unset || v.empty {
			return d.lineError(roleNames[r], ReasonMissingField, nil, errorf("unset"))
		}
		if v.enc != encTSV && v.enc != encJSONString {
			return d.lineError(roleNames[r], ReasonBadValue, v.raw, errorf("not a string"))
		}
		a, ok := logscan.ParseAddr(d.plain(v))
		if !ok {
			return d.lineError(roleNames[r], ReasonBadAddress, v.raw, nil)
		}
		if r == roleOrigH {
			cf.flow.Orig = addrPort(a, cf.flow.Orig.Port())
		} else {
			cf.flow.Resp = addrPort(a, cf.flow.Resp.Port())
		}
	case roleOrigP, roleRespP:
		if v.unset || v.empty {
			return d.lineError(roleNames[r], ReasonMissingField, nil, errorf("unset"))
		}
		if !numeric(v) {
			return d.lineError(roleNames[r], ReasonBadValue, v.raw, errorf("not a number"))
		}
		p, ok := logscan.ParsePort(v.raw)
		if !ok {
			return d.lineError(roleNames[r], ReasonBadPort, v.raw, nil)
		}
		if r == roleOrigP {
			cf.flow.Orig = addrPort(cf.flow.Orig.Addr(), p)
		} else {
			cf.flow.Resp = addrPort(cf.flow.Resp.Addr(), p)
		}
	case roleProto:
		if v.unset || v.empty {
			return nil
		}
		if v.enc == encJSONNumber || v.enc >= encJSONArray {
			return d.lineError(roleNames[r], ReasonBadValue, v.raw, errorf("not a string"))
		}
		cf.protoName = v.raw
	case roleService:
		if v.unset || v.empty {
			cf.flow.Service = ""
			return nil
		}
		switch v.enc {
		case encJSONNumber, encJSONOther:
			return d.lineError(roleNames[r], ReasonBadValue, v.raw, errorf("not a string"))
		case encJSONArray: // a set[string] in newer Zeek JSON
			s, ok := d.joinJSONStrings(v.raw)
			if !ok {
				return d.lineError(roleNames[r], ReasonBadValue, v.raw, errorf("not an array of strings"))
			}
			cf.flow.Service = s
		default:
			cf.flow.Service = d.intern.Intern(d.text(d.plain(v)))
		}
	case roleConnState, roleHistory:
		if v.enc == encJSONNumber || v.enc >= encJSONArray {
			return d.lineError(roleNames[r], ReasonBadValue, v.raw, errorf("not a string"))
		}
		s := ""
		if !v.unset && !v.empty {
			s = d.intern.Intern(d.text(d.plain(v)))
		}
		if r == roleConnState {
			cf.flow.ConnState = s
		} else {
			cf.flow.History = s
		}
	case roleDuration:
		if v.unset {
			cf.hasDur = false
			return nil
		}
		if !numeric(v) {
			return d.lineError(roleNames[r], ReasonBadValue, v.raw, errorf("not a number"))
		}
		ns, ok := logscan.ParseSecondsNanos(v.raw, true)
		if !ok {
			return d.lineError(roleNames[r], ReasonBadNumber, v.raw, nil)
		}
		cf.hasDur, cf.dur = true, ns
	case roleOrigBytes, roleRespBytes, roleOrigPkts, roleRespPkts, roleOrigIPBytes, roleRespIPBytes:
		n := int64(0)
		if r == roleOrigIPBytes || r == roleRespIPBytes {
			n = -1
		}
		if !v.unset {
			if !numeric(v) {
				return d.lineError(roleNames[r], ReasonBadValue, v.raw, errorf("not a number"))
			}
			var ok bool
			if n, ok = logscan.ParseUint(v.raw); !ok {
				return d.lineError(roleNames[r], ReasonBadNumber, v.raw, nil)
			}
		}
		switch r {
		case roleOrigBytes:
			cf.flow.OrigBytes = n
		case roleRespBytes:
			cf.flow.RespBytes = n
		case roleOrigPkts:
			cf.flow.OrigPkts = n
		case roleRespPkts:
			cf.flow.RespPkts = n
		case roleOrigIPBytes:
			cf.flow.OrigIPBytes = n
		case roleRespIPBytes:
			cf.flow.RespIPBytes = n
		}
	case roleTunnelParents:
		switch {
		case v.unset || v.empty:
			cf.flow.Tunnelled = false
		case v.enc == encJSONArray:
			cf.flow.Tunnelled = !isEmptyJSONArray(v.raw)
		case v.enc == encJSONNumber || v.enc == encJSONOther:
			return d.lineError(roleNames[r], ReasonBadValue, v.raw, errorf("not a set"))
		default:
			cf.flow.Tunnelled = len(v.raw) > 0
		}
	case roleIPProto:
		if v.unset {
			cf.ipProto = -1
			return nil
		}
		if !numeric(v) {
			return d.lineError(roleNames[r], ReasonBadValue, v.raw, errorf("not a number"))
		}
		n, ok := logscan.ParseUint(v.raw)
		if !ok || n > 255 {
			return d.lineError(roleNames[r], ReasonBadNumber, v.raw, nil)
		}
		cf.ipProto = int(n)
	}
	return nil
}

// parseTS reads a ts value: decimal epoch seconds (TSV and JSON's default
// JSON::TS_EPOCH), integer epoch milliseconds (JSON::TS_MILLIS, told apart
// by being an integer of 1e11 or more), an ISO 8601 string
// (JSON::TS_ISO8601, json-streaming-logs) or btest's masked
// "XXXXXXXXXX.XXXXXX", which reads as time 0 with unknown=true.
func (d *Decoder) parseTS(v *val) (ns int64, unknown, ok bool) {
	raw := v.raw
	if bytes.Equal(raw, maskedTS) {
		return 0, true, true
	}
	switch v.enc {
	case encJSONNumber:
		if bytes.IndexAny(raw, ".eE") < 0 {
			n, ok := logscan.ParseUint(raw)
			if !ok {
				return 0, false, false
			}
			if n >= 1e11 { // milliseconds: 1e11 s is the year 5138
				if n > logscan.MaxWholeSeconds*1000 {
					return 0, false, false
				}
				return n * 1e6, false, true
			}
			return n * 1e9, false, true
		}
		ns, ok = logscan.ParseSecondsNanos(raw, false)
		return ns, false, ok
	case encJSONString:
		if v.esc {
			return 0, false, false
		}
		if len(raw) >= 20 && raw[4] == '-' {
			ns, ok = logscan.ParseISOTime(raw)
			return ns, false, ok
		}
		ns, ok = logscan.ParseSecondsNanos(raw, false)
		return ns, false, ok
	case encTSV:
		ns, ok = logscan.ParseSecondsNanos(raw, false)
		return ns, false, ok
	}
	return 0, false, false
}

// finishConn checks a conn record and completes it in d.cf.flow.
func (d *Decoder) finishConn() *LineError {
	cf := &d.cf
	for _, r := range connRequired {
		if !cf.present[r] {
			return d.lineError(roleNames[r], ReasonMissingField, nil, errorf("not logged"))
		}
	}
	f := cf.flow
	if len(cf.protoName) > 0 || cf.ipProto >= 0 {
		p, known := protoNumber(cf.protoName, f.Orig.Addr(), cf.ipProto)
		f.Proto = p
		if !known {
			d.stats.UnknownProto++
		}
	} else {
		d.stats.UnknownProto++
	}
	f.End = f.Start
	if cf.hasDur {
		f.End = f.Start + cf.dur
	}
	if cf.unknownTS {
		d.stats.UnknownTime++
	}
	f.Interim = d.cf.interim
	uid, cid := d.strs[keptUID], d.strs[keptCID]
	if len(cid) == 0 && d.cfg.ComputeCommunityID && f.Proto != 0 {
		// Computed into the same buffer: still one allocation.
		cid = d.cfg.hasher().AppendID(cid, communityid.TupleOf(f.Orig, f.Resp, f.Proto))
		d.strs[keptCID] = cid
		d.stats.CommunityIDComputed++
	}
	if len(uid)+len(cid) > 0 {
		// One allocation for both kept strings.
		d.keep = append(append(d.keep[:0], uid...), cid...)
		s := d.keepString(d.keep)
		f.UID, f.CommunityID = s[:len(uid)], s[len(uid):]
	}
	return nil
}

// finishSSL completes an ssl record: its strings share one allocation.
func (d *Decoder) finishSSL() SSLRecord {
	rec := SSLRecord{Line: d.line}
	n := 0
	for _, b := range d.strs {
		n += len(b)
	}
	if n == 0 {
		return rec
	}
	d.keep = d.keep[:0]
	for _, b := range d.strs {
		d.keep = append(d.keep, b...)
	}
	s := d.keepString(d.keep)
	var out [numKept]string
	off := 0
	for i, b := range d.strs {
		out[i] = s[off : off+len(b)]
		off += len(b)
	}
	rec.UID, rec.ServerName, rec.Version = out[keptUID], out[keptSNI], out[keptVersion]
	rec.JA3, rec.JA3S, rec.JA4 = out[keptJA3], out[keptJA3S], out[keptJA4]
	return rec
}

// keepString returns b as a string for a record to keep: from the arena
// in the readers, else a string of its own.
func (d *Decoder) keepString(b []byte) string {
	if d.arena != nil {
		return d.arena.String(b)
	}
	return string(b)
}

// joinJSONStrings joins a JSON array of strings with ",", as Zeek's ASCII
// writer prints a set.
func (d *Decoder) joinJSONStrings(raw []byte) (string, bool) {
	var s logscan.JSONScanner
	s.Reset(raw)
	if s.OpenArray() != nil {
		return "", false
	}
	var out []byte
	for first := true; ; first = false {
		ok, err := s.Element(first)
		if err != nil {
			return "", false
		}
		if !ok {
			return d.intern.Intern(out), true
		}
		v, err := s.Value(1)
		if err != nil || v.Kind != logscan.JSONString {
			return "", false
		}
		if len(out) > 0 {
			out = append(out, ',')
		}
		out = logscan.AppendUnescaped(out, v.Raw)
	}
}

func isEmptyJSONArray(raw []byte) bool {
	return len(bytes.TrimSpace(raw[1:len(raw)-1])) == 0
}

func addrPort(a netip.Addr, p uint16) netip.AddrPort { return netip.AddrPortFrom(a, p) }

// numeric reports whether v can hold a number: a TSV field, a JSON number,
// or a JSON string (shippers such as Logstash sometimes quote numbers).
func numeric(v *val) bool { return v.enc < encJSONArray }
