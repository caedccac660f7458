package eve

import (
	"net/netip"

	"github.com/aegis-nsm/aegis/ingest/logscan"
	"github.com/aegis-nsm/aegis/schemas"
)

// decode decodes one non-blank line.
func (d *Decoder) decode(line []byte) (Result, *LineError) {
	if err := d.scan(line); err != nil {
		return Result{}, d.lineError("", ReasonBadJSON, nil, err)
	}
	ev := &d.ev
	et := ev.v[slotEventType]
	switch {
	case et.Kind == logscan.JSONNone:
		return Result{}, d.lineError("event_type", ReasonMissingField, nil, nil)
	case et.Kind != logscan.JSONString || len(et.Raw) == 0:
		return Result{}, d.lineError("event_type", ReasonBadValue, et.Raw, errorf("not a non-empty string"))
	}
	eventType := d.intern.Intern(d.plain(et))
	switch eventType {
	case "flow":
		f, err := d.flow()
		if err != nil {
			return Result{}, err
		}
		return Result{Kind: KindFlow, Flow: f, EventType: eventType}, nil
	case "tls", "quic":
		rec, err := d.sniRecord(eventType)
		if err != nil {
			return Result{}, err
		}
		return Result{Kind: KindSNI, SNI: rec, EventType: eventType}, nil
	}
	// netflow included: a netflow event is one direction of a flow, and the
	// bi-directional flow event of the same flow carries both.
	return Result{Kind: KindSkipped, EventType: eventType}, nil
}

// flow builds an IDSFlow from a flow event.
func (d *Decoder) flow() (schemas.IDSFlow, *LineError) {
	ev := &d.ev
	f := schemas.IDSFlow{
		Sensor:      schemas.SensorSuricata,
		File:        d.file,
		Line:        d.line,
		OrigIPBytes: -1,
		RespIPBytes: -1,
	}
	var err *LineError
	if f.FlowID, err = d.flowID(); err != nil {
		return f, err
	}

	// Addresses and ports; src is the client in a flow event.
	src, err := d.addr(slotSrcIP)
	if err != nil {
		return f, err
	}
	dst, err := d.addr(slotDestIP)
	if err != nil {
		return f, err
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
				return f, d.lineError("proto", ReasonBadValue, p.Raw, errorf("not a protocol number"))
			}
			d.stats.UnknownProto++
		}
		f.Proto = n
	default:
		return f, d.lineError("proto", ReasonBadValue, p.Raw, errorf("not a string"))
	}
	sport, err := d.port(slotSrcPort)
	if err != nil {
		return f, err
	}
	dport, err := d.port(slotDestPort)
	if err != nil {
		return f, err
	}
	if f.Proto == protoICMP || f.Proto == protoICMPv6 {
		// Suricata logs ICMP flows with icmp_type/icmp_code and no ports.
		// Use the conn_id convention Zeek and Community ID share: the type
		// as the source port, the reply type (or the code) as the
		// destination port, so both sensors' records key alike.
		if ev.v[slotICMPType].Kind != logscan.JSONNone {
			typ, err := d.count16(slotICMPType)
			if err != nil {
				return f, err
			}
			code, err := d.count16(slotICMPCode)
			if err != nil {
				return f, err
			}
			sport = typ
			if c, ok := icmpCounterpart(f.Proto, typ); ok {
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
		return f, err
	}
	start, hasStart, err := d.time(slotFlowStart)
	if err != nil {
		return f, err
	}
	end, hasEnd, err := d.time(slotFlowEnd)
	if err != nil {
		return f, err
	}
	switch {
	case hasStart:
		f.Start = start
	case hasTS:
		f.Start = ts
	default:
		return f, d.lineError("flow.start", ReasonMissingField, nil, errorf("neither flow.start nor timestamp"))
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
			return f, err
		}
	}

	if f.Service, err = d.str(slotAppProto, true); err != nil {
		return f, err
	}
	if f.ConnState, err = d.str(slotFlowState, true); err != nil {
		return f, err
	}
	if f.CommunityID, err = d.str(slotCommunityID, false); err != nil {
		return f, err
	}
	f.Tunnelled = ev.v[slotTunnel].Kind == logscan.JSONObject
	return f, nil
}

// sniRecord builds an SNIRecord from a tls or quic event.
func (d *Decoder) sniRecord(eventType string) (SNIRecord, *LineError) {
	rec := SNIRecord{Line: d.line}
	var err *LineError
	if rec.FlowID, err = d.flowID(); err != nil {
		return rec, err
	}
	sl := slotTLSSNI
	if eventType == "quic" {
		sl = slotQUICSNI
	}
	rec.SNI, err = d.str(sl, false)
	return rec, err
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
		b := d.plain(v)
		if intern {
			return d.intern.Intern(b), nil
		}
		return string(b), nil
	}
	return "", d.lineError(slotNames[sl], ReasonBadValue, v.Raw, errorf("not a string"))
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
