package zeek

import "github.com/aegis-nsm/aegis/ingest/logscan"

// decodeJSON decodes a Zeek JSON line (LogAscii::use_json): one object
// with flattened dotted keys ("id.orig_h"), unset fields omitted or null.
// A nested "id" object ({"id":{"orig_h":...}}) is accepted too.
func (d *Decoder) decodeJSON(line []byte) (Kind, string, *LineError) {
	var slots [numRoles]val
	var seen [numRoles]bool
	s := &d.js
	s.Reset(line)
	if err := s.OpenObject(); err != nil {
		return KindMeta, "", d.lineError("", ReasonBadJSON, nil, err)
	}
	for first := true; ; first = false {
		key, ok, err := s.Member(first)
		if err != nil {
			return KindMeta, "", d.lineError("", ReasonBadJSON, nil, err)
		}
		if !ok {
			break
		}
		r := roleIgnore
		if !key.Esc {
			r = roleOf(key.Raw)
			if r == roleIgnore && string(key.Raw) == "id" && s.Peek() == '{' {
				if err := d.scanIDObject(&slots, &seen); err != nil {
					return KindMeta, "", d.lineError("", ReasonBadJSON, nil, err)
				}
				continue
			}
		}
		v, err := s.Value(1)
		if err != nil {
			return KindMeta, "", d.lineError("", ReasonBadJSON, nil, err)
		}
		if r != roleIgnore {
			slots[r], seen[r] = jsonVal(v), true
		}
	}
	if err := s.Finish(); err != nil {
		return KindMeta, "", d.lineError("", ReasonBadJSON, nil, err)
	}

	// Which log is this line from?
	path := d.cfg.Path
	if seen[rolePath] {
		p := &slots[rolePath]
		if p.enc != encJSONString {
			return KindMeta, "", d.lineError("_path", ReasonBadValue, p.raw, errorf("not a string"))
		}
		path = d.intern.Intern(d.plain(p))
	}
	var kind Kind
	switch {
	case path != "":
		kind = d.kindOfPath(path)
	case seen[roleConnState] || seen[roleOrigPkts]:
		kind = KindConn
	case seen[roleSSLHistory] || seen[roleServerName]:
		kind = KindSSL
	case seen[roleEventType]:
		// A Suricata EVE line in a Zeek log: say so rather than skip it
		// as an unknown Zeek path.
		return KindMeta, "", d.lineError("event_type", ReasonWrongFormat, nil, errorf("a Suricata EVE event, not a Zeek record"))
	default:
		kind = KindSkipped
	}
	path = d.pathOfKind(kind, path)
	if kind == KindSkipped {
		return KindSkipped, path, nil
	}

	d.beginRecord()
	d.cf.interim = kind == KindConn && d.interimPath(path)
	for r := roleTS; r < rolePath; r++ {
		if !seen[r] || (kind == KindSSL && !sslRole(r)) || (kind == KindConn && !connRole(r)) {
			continue
		}
		if err := d.field(r, &slots[r]); err != nil {
			return KindMeta, "", err
		}
	}
	if kind == KindSSL {
		d.sslRec = d.finishSSL()
		return KindSSL, path, nil
	}
	if err := d.finishConn(); err != nil {
		return KindMeta, "", err
	}
	return KindConn, path, nil
}

// scanIDObject reads a nested {"orig_h":..., "orig_p":...} object.
func (d *Decoder) scanIDObject(slots *[numRoles]val, seen *[numRoles]bool) error {
	return d.js.Members(1, func(key, v logscan.JSONValue) {
		if r := idRole(key.Raw); r != roleIgnore && !key.Esc {
			slots[r], seen[r] = jsonVal(v), true
		}
	})
}

// jsonVal converts a scanned JSON value into a field value.
func jsonVal(v logscan.JSONValue) val {
	switch v.Kind {
	case logscan.JSONString:
		return val{raw: v.Raw, enc: encJSONString, esc: v.Esc, empty: len(v.Raw) == 0}
	case logscan.JSONNumber:
		return val{raw: v.Raw, enc: encJSONNumber}
	case logscan.JSONNull:
		return val{unset: true, enc: encJSONString}
	case logscan.JSONArray:
		return val{raw: v.Raw, enc: encJSONArray, empty: isEmptyJSONArray(v.Raw)}
	}
	// true, false, objects: no conn field takes them.
	return val{raw: v.Raw, enc: encJSONOther}
}
