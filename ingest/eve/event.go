package eve

import "github.com/aegis-nsm/aegis/ingest/logscan"

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
	slotQUICSNI
	numSlots
)

// slotNames are the dotted EVE field names, for error messages.
var slotNames = [numSlots]string{
	slotTimestamp:     "timestamp",
	slotFlowID:        "flow_id",
	slotEventType:     "event_type",
	slotSrcIP:         "src_ip",
	slotSrcPort:       "src_port",
	slotDestIP:        "dest_ip",
	slotDestPort:      "dest_port",
	slotProto:         "proto",
	slotAppProto:      "app_proto",
	slotCommunityID:   "community_id",
	slotICMPType:      "icmp_type",
	slotICMPCode:      "icmp_code",
	slotTunnel:        "tunnel",
	slotFlowStart:     "flow.start",
	slotFlowEnd:       "flow.end",
	slotPktsToServer:  "flow.pkts_toserver",
	slotPktsToClient:  "flow.pkts_toclient",
	slotBytesToServer: "flow.bytes_toserver",
	slotBytesToClient: "flow.bytes_toclient",
	slotFlowState:     "flow.state",
	slotTLSSNI:        "tls.sni",
	slotQUICSNI:       "quic.sni",
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
	v [numSlots]logscan.JSONValue
}

// scan reads one EVE line into d.ev, validating all of it.
func (d *Decoder) scan(line []byte) error {
	d.ev = event{}
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
			d.ev.v[sl] = v
		}
	}
	return s.Finish()
}

// tlsSlot maps a member of the "tls" object to its slot.
func tlsSlot(key []byte) slot {
	if string(key) == "sni" {
		return slotTLSSNI
	}
	return slotNone
}

// quicSlot maps a member of the "quic" object to its slot.
func quicSlot(key []byte) slot {
	if string(key) == "sni" {
		return slotQUICSNI
	}
	return slotNone
}

// scanObject reads the members of a nested object into slots.
func (d *Decoder) scanObject(slotOf func([]byte) slot) error {
	return d.js.Members(1, func(key, v logscan.JSONValue) {
		if !key.Esc {
			if sl := slotOf(key.Raw); sl != slotNone {
				d.ev.v[sl] = v
			}
		}
	})
}
