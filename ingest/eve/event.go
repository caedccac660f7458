package eve

import (
	"math/bits"

	"github.com/aegis-nsm/aegis/ingest/logscan"
)

// slot names a field of an EVE event that the decoder reads.
type slot uint8

const (
	slotNone slot = iota
	slotTimestamp
	slotFlowID
	slotEventType
	slotSrcIP
	slotSrcPort
	slotDestIP
	slotDestPort
	slotProto
	slotAppProto
	slotCommunityID
	slotICMPType
	slotICMPCode
	slotTunnel
	slotFlowStart
	slotFlowEnd
	slotPktsToServer
	slotPktsToClient
	slotBytesToServer
	slotBytesToClient
	slotFlowState
	slotTLSSNI
	slotTLSVersion
	slotTLSJA3  // object {hash, string}
	slotTLSJA3S // object {hash, string}
	slotTLSJA4  // string
	slotQUICSNI
	slotQUICJA3
	slotQUICJA3S
	slotQUICJA4
	slotSSHClient // object {proto_version, software_version}
	slotSSHServer
	slotHTTPHost
	slotHTTPUserAgent
	slotHTTPURL
	slotAlertAction
	slotAlertGID
	slotAlertSID
	slotAlertRev
	slotAlertSignature
	slotAlertCategory
	slotAlertSeverity
	slotZeekKey // "_path" or "uid": a Zeek JSON line, not EVE
	numSlots
)

// slotNames are the dotted EVE field names, for error messages.
var slotNames = [numSlots]string{
	slotTimestamp:      "timestamp",
	slotFlowID:         "flow_id",
	slotEventType:      "event_type",
	slotSrcIP:          "src_ip",
	slotSrcPort:        "src_port",
	slotDestIP:         "dest_ip",
	slotDestPort:       "dest_port",
	slotProto:          "proto",
	slotAppProto:       "app_proto",
	slotCommunityID:    "community_id",
	slotICMPType:       "icmp_type",
	slotICMPCode:       "icmp_code",
	slotTunnel:         "tunnel",
	slotFlowStart:      "flow.start",
	slotFlowEnd:        "flow.end",
	slotPktsToServer:   "flow.pkts_toserver",
	slotPktsToClient:   "flow.pkts_toclient",
	slotBytesToServer:  "flow.bytes_toserver",
	slotBytesToClient:  "flow.bytes_toclient",
	slotFlowState:      "flow.state",
	slotTLSSNI:         "tls.sni",
	slotTLSVersion:     "tls.version",
	slotTLSJA3:         "tls.ja3",
	slotTLSJA3S:        "tls.ja3s",
	slotTLSJA4:         "tls.ja4",
	slotQUICSNI:        "quic.sni",
	slotQUICJA3:        "quic.ja3",
	slotQUICJA3S:       "quic.ja3s",
	slotQUICJA4:        "quic.ja4",
	slotSSHClient:      "ssh.client",
	slotSSHServer:      "ssh.server",
	slotHTTPHost:       "http.hostname",
	slotHTTPUserAgent:  "http.http_user_agent",
	slotHTTPURL:        "http.url",
	slotAlertAction:    "alert.action",
	slotAlertGID:       "alert.gid",
	slotAlertSID:       "alert.signature_id",
	slotAlertRev:       "alert.rev",
	slotAlertSignature: "alert.signature",
	slotAlertCategory:  "alert.category",
	slotAlertSeverity:  "alert.severity",
	slotZeekKey:        "_path",
}

// topSlot maps a top-level key to its slot.
func topSlot(key []byte) slot {
	switch string(key) {
	case "timestamp":
		return slotTimestamp
	case "flow_id":
		return slotFlowID
	case "event_type":
		return slotEventType
	case "src_ip":
		return slotSrcIP
	case "src_port":
		return slotSrcPort
	case "dest_ip":
		return slotDestIP
	case "dest_port":
		return slotDestPort
	case "proto":
		return slotProto
	case "app_proto":
		return slotAppProto
	case "community_id":
		return slotCommunityID
	case "icmp_type":
		return slotICMPType
	case "icmp_code":
		return slotICMPCode
	case "tunnel":
		return slotTunnel
	case "_path", "uid":
		return slotZeekKey
	}
	return slotNone
}

// flowSlot maps a member of the "flow" object to its slot.
func flowSlot(key []byte) slot {
	switch string(key) {
	case "start":
		return slotFlowStart
	case "end":
		return slotFlowEnd
	case "pkts_toserver":
		return slotPktsToServer
	case "pkts_toclient":
		return slotPktsToClient
	case "bytes_toserver":
		return slotBytesToServer
	case "bytes_toclient":
		return slotBytesToClient
	case "state":
		return slotFlowState
	}
	return slotNone
}

// event holds the fields of one line, as raw JSON values aliasing it.
type event struct {
	v   [numSlots]logscan.JSONValue
	set uint64 // the slots put since the last reset, one bit each
}

// The slots must fit event.set.
var _ [64 - numSlots]struct{}

// put sets slot sl to v.
func (e *event) put(sl slot, v logscan.JSONValue) {
	e.v[sl] = v
	e.set |= 1 << sl
}

// reset empties the slots put since the last reset (a line sets a few of
// the slots; clearing them all was a cost of its own).
func (e *event) reset() {
	for m := e.set; m != 0; m &= m - 1 {
		e.v[bits.TrailingZeros64(m)] = logscan.JSONValue{}
	}
	e.set = 0
}

// scan reads one EVE line into d.ev, validating all of it.
func (d *Decoder) scan(line []byte) error {
	if d.scanFast(line) {
		return nil
	}
	return d.scanSlow(line)
}

// scanFast is scan for a line it can take in one flat pass, which is
// every valid line: it reports false for a line that is not valid JSON,
// and scanSlow then finds the error (and may reset and fill d.ev again).
func (d *Decoder) scanFast(line []byte) bool {
	ev := &d.ev
	ev.reset()
	i := logscan.SkipJSONSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return false
	}
	i = logscan.SkipJSONSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		return logscan.SkipJSONSpace(line, i+1) == len(line)
	}
	for {
		if i >= len(line) || line[i] != '"' { // white space is looked for where it is not this
			if i = logscan.SkipJSONSpace(line, i); i >= len(line) || line[i] != '"' {
				return false
			}
		}
		e, esc, ok := logscan.JSONStringStop(line, i+1), false, true
		if e < 0 || line[e] != '"' { // an escape, a control character or the line's last bytes
			if e < 0 {
				e = -1 - e
			}
			if e, esc, ok = logscan.ScanJSONString(line, e); !ok {
				return false
			}
		}
		key := line[i+1 : e]
		if e+1 < len(line) && line[e+1] == ':' {
			i = e + 2
		} else if i = logscan.SkipJSONSpace(line, e+1); i < len(line) && line[i] == ':' {
			i++
		} else {
			return false
		}
		i = logscan.SkipJSONSpace(line, i)
		sl, sub := slotNone, subNone
		if !esc { // Suricata never escapes its keys
			sl, sub = topKey(key)
		}
		switch {
		case sub != subNone && i < len(line) && line[i] == '{':
			if i, ok = d.scanObjectFast(line, i, sub); !ok {
				return false
			}
		case sl != slotNone:
			var v logscan.JSONValue
			if v, i, ok = logscan.ScanJSONValue(line, i, 1); !ok {
				return false
			}
			ev.put(sl, v)
		default:
			if i, ok = logscan.SkipJSONValue(line, i, 1); !ok {
				return false
			}
		}
		if i = logscan.SkipJSONSpace(line, i); i >= len(line) {
			return false
		}
		switch line[i] {
		case ',':
			i++
		case '}':
			return logscan.SkipJSONSpace(line, i+1) == len(line)
		default:
			return false
		}
	}
}

// scanObjectFast is scanObject for scanFast: it reads the members of the
// nested object whose '{' is at line[i] into slots and returns the index
// after its '}'.
func (d *Decoder) scanObjectFast(line []byte, i int, sub subObject) (int, bool) {
	i = logscan.SkipJSONSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(line) || line[i] != '"' { // white space is looked for where it is not this
			if i = logscan.SkipJSONSpace(line, i); i >= len(line) || line[i] != '"' {
				return i, false
			}
		}
		e, esc, ok := logscan.JSONStringStop(line, i+1), false, true
		if e < 0 || line[e] != '"' { // an escape, a control character or the line's last bytes
			if e < 0 {
				e = -1 - e
			}
			if e, esc, ok = logscan.ScanJSONString(line, e); !ok {
				return i, false
			}
		}
		key := line[i+1 : e]
		if e+1 < len(line) && line[e+1] == ':' {
			i = e + 2
		} else if i = logscan.SkipJSONSpace(line, e+1); i < len(line) && line[i] == ':' {
			i++
		} else {
			return i, false
		}
		i = logscan.SkipJSONSpace(line, i)
		sl := slotNone
		if !esc {
			sl = sub.slot(key)
		}
		if sl != slotNone {
			var v logscan.JSONValue
			if v, i, ok = logscan.ScanJSONValue(line, i, 2); !ok {
				return i, false
			}
			d.ev.put(sl, v)
		} else if i, ok = logscan.SkipJSONValue(line, i, 2); !ok {
			return i, false
		}
		if i = logscan.SkipJSONSpace(line, i); i >= len(line) {
			return i, false
		}
		switch line[i] {
		case ',':
			i++
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// subObject names a nested object whose members the decoder reads.
type subObject uint8

const (
	subNone subObject = iota
	subFlow
	subTLS
	subQUIC
	subSSH
	subHTTP
	subAlert
)

// slot maps a member of the nested object to its slot.
func (o subObject) slot(key []byte) slot {
	switch o {
	case subFlow:
		return flowSlot(key)
	case subTLS:
		return tlsSlot(key)
	case subQUIC:
		return quicSlot(key)
	case subSSH:
		return sshSlot(key)
	case subHTTP:
		return httpSlot(key)
	case subAlert:
		return alertSlot(key)
	}
	return slotNone
}

// topKey maps a top-level key to its slot, or to the nested object whose
// members are read when its value is an object.
func topKey(key []byte) (slot, subObject) {
	switch string(key) {
	case "flow":
		return slotNone, subFlow
	case "tls":
		return slotNone, subTLS
	case "quic":
		return slotNone, subQUIC
	case "ssh":
		return slotNone, subSSH
	case "http":
		return slotNone, subHTTP
	case "alert":
		return slotNone, subAlert
	}
	return topSlot(key), subNone
}

// scanSlow is scan with JSONScanner, member by member: it finds the error
// of a line scanFast rejected.
func (d *Decoder) scanSlow(line []byte) error {
	d.ev.reset()
	s := &d.js
	s.Reset(line)
	if err := s.OpenObject(); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, ok, err := s.Member(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if key.Esc { // Suricata never escapes its keys
			if _, err := s.Value(1); err != nil {
				return err
			}
			continue
		}
		var sub func([]byte) slot
		switch string(key.Raw) {
		case "flow":
			sub = flowSlot
		case "tls":
			sub = tlsSlot
		case "quic":
			sub = quicSlot
		case "ssh":
			sub = sshSlot
		case "http":
			sub = httpSlot
		case "alert":
			sub = alertSlot
		}
		if sub != nil && s.Peek() == '{' {
			if err := d.scanObject(sub); err != nil {
				return err
			}
			continue
		}
		v, err := s.Value(1)
		if err != nil {
			return err
		}
		if sl := topSlot(key.Raw); sl != slotNone {
			d.ev.put(sl, v)
		}
	}
	return s.Finish()
}

// tlsSlot maps a member of the "tls" object to its slot.
func tlsSlot(key []byte) slot {
	switch string(key) {
	case "sni":
		return slotTLSSNI
	case "version":
		return slotTLSVersion
	case "ja3":
		return slotTLSJA3
	case "ja3s":
		return slotTLSJA3S
	case "ja4":
		return slotTLSJA4
	}
	return slotNone
}

// quicSlot maps a member of the "quic" object to its slot.
func quicSlot(key []byte) slot {
	switch string(key) {
	case "sni":
		return slotQUICSNI
	case "ja3":
		return slotQUICJA3
	case "ja3s":
		return slotQUICJA3S
	case "ja4":
		return slotQUICJA4
	}
	return slotNone
}

// sshSlot maps a member of the "ssh" object to its slot.
func sshSlot(key []byte) slot {
	switch string(key) {
	case "client":
		return slotSSHClient
	case "server":
		return slotSSHServer
	}
	return slotNone
}

// httpSlot maps a member of the "http" object to its slot.
func httpSlot(key []byte) slot {
	switch string(key) {
	case "hostname":
		return slotHTTPHost
	case "http_user_agent":
		return slotHTTPUserAgent
	case "url":
		return slotHTTPURL
	}
	return slotNone
}

// alertSlot maps a member of the "alert" object to its slot.
func alertSlot(key []byte) slot {
	switch string(key) {
	case "action":
		return slotAlertAction
	case "gid":
		return slotAlertGID
	case "signature_id":
		return slotAlertSID
	case "rev":
		return slotAlertRev
	case "signature":
		return slotAlertSignature
	case "category":
		return slotAlertCategory
	case "severity":
		return slotAlertSeverity
	}
	return slotNone
}

// scanObject reads the members of a nested object into slots.
func (d *Decoder) scanObject(slotOf func([]byte) slot) error {
	return d.js.Members(1, func(key, v logscan.JSONValue) {
		if !key.Esc {
			if sl := slotOf(key.Raw); sl != slotNone {
				d.ev.put(sl, v)
			}
		}
	})
}
