package eve

import (
	"bytes"
	"net/netip"

	"github.com/aegis-nsm/aegis/schemas/communityid"

	"github.com/aegis-nsm/aegis/ingest/logscan"
	"github.com/aegis-nsm/aegis/schemas"
)

// decode decodes one non-blank line: a flow event into *d.out, a context
// event into d.ctxRec. It returns the kind and the event type.
func (d *Decoder) decode(line []byte) (Kind, string, *LineError) {
	if err := d.scan(line); err != nil {
		return KindBlank, "", d.lineError("", ReasonBadJSON, nil, err)
	}
	ev := &d.ev
	et := ev.v[slotEventType]
	switch {
	case et.Kind == logscan.JSONNone && ev.v[slotZeekKey].Kind != logscan.JSONNone:
		return KindBlank, "", d.lineError("event_type", ReasonWrongFormat, nil, errorf("a Zeek JSON record, not a Suricata EVE event"))
	case et.Kind == logscan.JSONNone:
		return KindBlank, "", d.lineError("event_type", ReasonMissingField, nil, nil)
	case et.Kind != logscan.JSONString || len(et.Raw) == 0:
		return KindBlank, "", d.lineError("event_type", ReasonBadValue, et.Raw, errorf("not a non-empty string"))
	}
	eventType := d.intern.Intern(d.plain(et))
	switch eventType {
	case "flow":
		if err := d.flow(d.out); err != nil {
			return KindBlank, "", err
		}
		if d.cfg.KeepRaw {
			d.out.Raw = bytes.Clone(line)
		}
		return KindFlow, eventType, nil
	case "tls", "quic", "ssh", "http", "alert":
		rec, err := d.contextRecord(eventType)
		if err != nil {
			return KindBlank, "", err
		}
		d.ctxRec = rec
		return KindContext, eventType, nil
	}
	// netflow included: a netflow event is one direction of a flow, and the
	// bi-directional flow event of the same flow carries both.
	return KindSkipped, eventType, nil
}

// flow builds an IDSFlow from a flow event, in *f.
func (d *Decoder) flow(f *schemas.IDSFlow) *LineError {
	ev := &d.ev
	*f = schemas.IDSFlow{
		Sensor:      schemas.SensorSuricata,
		File:        d.file,
		Line:        d.line,
		OrigIPBytes: -1,
		RespIPBytes: -1,
	}
	var err *LineError
	if f.FlowID, err = d.flowID(); err != nil {
		return err
	}

	// Addresses and ports; src is the client in a flow event.
	src, err := d.addr(slotSrcIP)
	if err != nil {
		return err
	}
	dst, err := d.addr(slotDestIP)
	if err != nil {
		return err
	}
	p := ev.v[slotProto]
	switch p.Kind {
	case logscan.JSONNone:
		// Suricata always writes proto; without it, icmp_type still tells
		// an ICMP flow.
		switch {
		case ev.v[slotICMPType].Kind == logscan.JSONNone:
			d.stats.UnknownProto++
		case src.Is4() || src.Is4In6():
			f.Proto = protoICMP
		default:
			f.Proto = protoICMPv6
		}
	case logscan.JSONString, logscan.JSONNumber:
		n, ok := protoNumber(d.plain(p))
		if !ok {
			if p.Kind == logscan.JSONNumber {
				return d.lineError("proto", ReasonBadValue, p.Raw, errorf("not a protocol number"))
			}
			d.stats.UnknownProto++
		}
		f.Proto = n
	default:
		return d.lineError("proto", ReasonBadValue, p.Raw, errorf("not a string"))
	}
	sport, err := d.port(slotSrcPort)
	if err != nil {
		return err
	}
	dport, err := d.port(slotDestPort)
	if err != nil {
		return err
	}
	if f.Proto == protoICMP || f.Proto == protoICMPv6 {
		// Suricata logs ICMP flows with icmp_type/icmp_code and no ports.
		// Use the conn_id convention Zeek and Community ID share: the type
		// as the source port, the reply type (or the code) as the
		// destination port, so both sensors' records key alike.
		if ev.v[slotICMPType].Kind != logscan.JSONNone {
			typ, err := d.count16(slotICMPType)
			if err != nil {
				return err
			}
			code, err := d.count16(slotICMPCode)
			if err != nil {
				return err
			}
			sport = typ
			if c, ok := communityid.Counterpart(f.Proto, typ); ok {
				dport = c
			} else {
				dport = code
			}
		}
	}
	f.Orig = netip.AddrPortFrom(src, sport)
	f.Resp = netip.AddrPortFrom(dst, dport)

	// Times: flow.start and flow.end; the event timestamp stands in for a
	// missing start (it is always checked when present).
	ts, hasTS, err := d.time(slotTimestamp)
	if err != nil {
		return err
	}
	start, hasStart, err := d.time(slotFlowStart)
	if err != nil {
		return err
	}
	end, hasEnd, err := d.time(slotFlowEnd)
	if err != nil {
		return err
	}
	switch {
	case hasStart:
		f.Start = start
	case hasTS:
		f.Start = ts
	default:
		return d.lineError("flow.start", ReasonMissingField, nil, errorf("neither flow.start nor timestamp"))
	}
	f.End = f.Start
	if hasEnd {
		f.End = end
	}

	// Counters (whole frames, link layer included).
	for _, c := range [...]struct {
		sl  slot
		dst *int64
	}{
		{slotPktsToServer, &f.OrigPkts},
		{slotPktsToClient, &f.RespPkts},
		{slotBytesToServer, &f.OrigBytes},
		{slotBytesToClient, &f.RespBytes},
	} {
		if *c.dst, err = d.count(c.sl); err != nil {
			return err
		}
	}

	if f.Service, err = d.str(slotAppProto, true); err != nil {
		return err
	}
	if f.ConnState, err = d.str(slotFlowState, true); err != nil {
		return err
	}
	if f.CommunityID, err = d.str(slotCommunityID, false); err != nil {
		return err
	}
	if f.CommunityID == "" && d.cfg.ComputeCommunityID && f.Proto != 0 {
		d.cidBuf = communityid.Hasher{Seed: d.cfg.CommunityIDSeed}.AppendID(d.cidBuf[:0], communityid.TupleOf(f.Orig, f.Resp, f.Proto))
		f.CommunityID = d.keepString(d.cidBuf)
		d.stats.CommunityIDComputed++
	}
	f.Tunnelled = ev.v[slotTunnel].Kind == logscan.JSONObject
	return nil
}

// contextRecord builds a ContextRecord from a tls, quic, ssh, http or
// alert event. A field of the wrong JSON type rejects the event, as in a
// flow event; a nested member of the wrong type (ja3.hash,
// ssh.client.software_version) is left empty.
func (d *Decoder) contextRecord(eventType string) (ContextRecord, *LineError) {
	rec := ContextRecord{Line: d.line}
	var err *LineError
	if rec.FlowID, err = d.flowID(); err != nil {
		return rec, err
	}
	c := &rec.Fields
	for _, s := range [...]struct {
		sl  slot
		dst *string
	}{
		{slotTLSSNI, &c.SNI}, {slotQUICSNI, &c.SNI}, {slotTLSVersion, &c.TLSVersion}, {slotTLSJA4, &c.JA4},
		{slotQUICJA4, &c.JA4}, {slotHTTPHost, &c.HTTPHost}, {slotHTTPUserAgent, &c.HTTPUserAgent}, {slotHTTPURL, &c.HTTPURL},
	} {
		if *s.dst != "" {
			continue
		}
		if *s.dst, err = d.str(s.sl, false); err != nil {
			return rec, err
		}
	}
	for _, s := range [...]struct {
		sl     slot
		member string
		dst    *string
	}{
		{slotTLSJA3, "hash", &c.JA3}, {slotQUICJA3, "hash", &c.JA3}, {slotTLSJA3S, "hash", &c.JA3S}, {slotQUICJA3S, "hash", &c.JA3S},
		{slotSSHClient, "software_version", &c.SSHClient}, {slotSSHServer, "software_version", &c.SSHServer},
	} {
		if *s.dst == "" {
			*s.dst = d.member(s.sl, s.member)
		}
	}
	if eventType == "alert" {
		a, err := d.alert()
		if err != nil {
			return rec, err
		}
		c.Alerts = []schemas.IDSAlert{a}
	}
	return rec, nil
}

// alert reads the alert object of an alert event.
func (d *Decoder) alert() (schemas.IDSAlert, *LineError) {
	var a schemas.IDSAlert
	var err *LineError
	if a.Time, _, err = d.time(slotTimestamp); err != nil {
		return a, err
	}
	for _, n := range [...]struct {
		sl  slot
		dst *int64
	}{{slotAlertGID, &a.GID}, {slotAlertSID, &a.SignatureID}, {slotAlertRev, &a.Rev}} {
		if *n.dst, err = d.count(n.sl); err != nil {
			return a, err
		}
	}
	sev, err := d.count(slotAlertSeverity)
	if err != nil {
		return a, err
	}
	if sev > 255 {
		return a, d.lineError(slotNames[slotAlertSeverity], ReasonBadNumber, d.ev.v[slotAlertSeverity].Raw, errorf("out of range"))
	}
	a.Severity = int(sev)
	if a.Signature, err = d.str(slotAlertSignature, false); err != nil {
		return a, err
	}
	if a.Category, err = d.str(slotAlertCategory, true); err != nil {
		return a, err
	}
	if a.Action, err = d.str(slotAlertAction, true); err != nil {
		return a, err
	}
	return a, nil
}

// member returns the string member name of the object in slot sl (or the
// slot's value itself when it is a string: some shippers flatten
// ja3.hash); "" when absent or not a string.
func (d *Decoder) member(sl slot, name string) string {
	v := d.ev.v[sl]
	switch v.Kind {
	case logscan.JSONString:
		return string(d.text(d.plain(v)))
	case logscan.JSONObject:
	default:
		return ""
	}
	var s logscan.JSONScanner
	s.Reset(v.Raw)
	if s.OpenObject() != nil {
		return ""
	}
	for first := true; ; first = false {
		key, ok, err := s.Member(first)
		if err != nil || !ok {
			return ""
		}
		mv, err := s.Value(2)
		if err != nil {
			return ""
		}
		if !key.Esc && string(key.Raw) == name && mv.Kind == logscan.JSONString {
			return string(d.text(d.plain(mv)))
		}
	}
}

// flowID reads flow_id exactly: an integer literal (or a string of digits,
// as some shippers re-encode it) up to 2^64-1, never through float64.
// Suricata masks its flow ids to 51 bits; larger values are kept as they
// are. Absent: 0.
func (d *Decoder) flowID() (uint64, *LineError) {
	v := d.ev.v[slotFlowID]
	switch v.Kind {
	case logscan.JSONNone, logscan.JSONNull:
		return 0, nil
	case logscan.JSONNumber, logscan.JSONString:
		id, ok := logscan.ParseUint64(v.Raw)
		if !ok {
			return 0, d.lineError("flow_id", ReasonBadNumber, v.Raw, errorf("not an unsigned 64-bit integer"))
		}
		return id, nil
	}
	return 0, d.lineError("flow_id", ReasonBadValue, v.Raw, errorf("not a number"))
}

// addr reads a required IP address.
func (d *Decoder) addr(sl slot) (netip.Addr, *LineError) {
	v := d.ev.v[sl]
	switch v.Kind {
	case logscan.JSONNone, logscan.JSONNull:
		return netip.Addr{}, d.lineError(slotNames[sl], ReasonMissingField, nil, nil)
	case logscan.JSONString:
		a, ok := logscan.ParseAddr(d.plain(v))
		if !ok {
			return a, d.lineError(slotNames[sl], ReasonBadAddress, v.Raw, nil)
		}
		return a, nil
	}
	return netip.Addr{}, d.lineError(slotNames[sl], ReasonBadValue, v.Raw, errorf("not a string"))
}

// port reads an optional port (absent: 0).
func (d *Decoder) port(sl slot) (uint16, *LineError) {
	v := d.ev.v[sl]
	switch v.Kind {
	case logscan.JSONNone, logscan.JSONNull:
		return 0, nil
	case logscan.JSONNumber, logscan.JSONString:
		p, ok := logscan.ParsePort(v.Raw)
		if !ok {
			return 0, d.lineError(slotNames[sl], ReasonBadPort, v.Raw, nil)
		}
		return p, nil
	}
	return 0, d.lineError(slotNames[sl], ReasonBadValue, v.Raw, errorf("not a number"))
}

// count reads an optional non-negative integer (absent: 0).
func (d *Decoder) count(sl slot) (int64, *LineError) {
	v := d.ev.v[sl]
	switch v.Kind {
	case logscan.JSONNone, logscan.JSONNull:
		return 0, nil
	case logscan.JSONNumber, logscan.JSONString:
		n, ok := logscan.ParseUint(v.Raw)
		if !ok {
			return 0, d.lineError(slotNames[sl], ReasonBadNumber, v.Raw, nil)
		}
		return n, nil
	}
	return 0, d.lineError(slotNames[sl], ReasonBadValue, v.Raw, errorf("not a number"))
}

// count16 reads an optional integer up to 65535 (ICMP type and code).
func (d *Decoder) count16(sl slot) (uint16, *LineError) {
	n, err := d.count(sl)
	if err != nil {
		return 0, err
	}
	if n > 0xffff {
		v := d.ev.v[sl]
		return 0, d.lineError(slotNames[sl], ReasonBadNumber, v.Raw, errorf("out of range"))
	}
	return uint16(n), nil
}

// time reads an optional timestamp.
func (d *Decoder) time(sl slot) (ns int64, ok bool, err *LineError) {
	v := d.ev.v[sl]
	switch v.Kind {
	case logscan.JSONNone, logscan.JSONNull:
		return 0, false, nil
	case logscan.JSONString:
		if ns, ok := logscan.ParseISOTime(v.Raw); ok && !v.Esc {
			return ns, true, nil
		}
		return 0, false, d.lineError(slotNames[sl], ReasonBadTimestamp, v.Raw, nil)
	}
	return 0, false, d.lineError(slotNames[sl], ReasonBadValue, v.Raw, errorf("not a string"))
}

// str reads an optional string; small repeated values are interned.
func (d *Decoder) str(sl slot, intern bool) (string, *LineError) {
	v := d.ev.v[sl]
	switch v.Kind {
	case logscan.JSONNone, logscan.JSONNull:
		return "", nil
	case logscan.JSONString:
		b := d.text(d.plain(v))
		if intern {
			return d.intern.Intern(b), nil
		}
		return d.keepString(b), nil
	}
	return "", d.lineError(slotNames[sl], ReasonBadValue, v.Raw, errorf("not a string"))
}

// keepString returns b as a string for a record to keep: from the arena
// in the readers, else a string of its own.
func (d *Decoder) keepString(b []byte) string {
	if d.arena != nil {
		return d.arena.String(b)
	}
	return string(b)
}

// text returns b, or, when b is not valid UTF-8, a copy with each invalid
// sequence replaced by U+FFFD; the event is then counted in
// Stats.InvalidUTF8 and kept. (The JSON scanner passes invalid UTF-8 in
// strings through, and so does Suricata for some app-layer fields.)
func (d *Decoder) text(b []byte) []byte {
	if logscan.ValidUTF8(b) {
		return b
	}
	d.badUTF8 = true
	d.utf = append(d.utf[:0], bytes.ToValidUTF8(b, []byte("\uFFFD"))...)
	return d.utf
}

// plain returns a scanned string's text with JSON escapes decoded (in
// scratch when needed).
func (d *Decoder) plain(v logscan.JSONValue) []byte {
	if !v.Esc {
		return v.Raw
	}
	d.scratch = logscan.AppendUnescaped(d.scratch[:0], v.Raw)
	return d.scratch
}
