package synth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/aegis-nsm/aegis/schemas"
)

// Truth is one line of truth.jsonl: the label of one flow. The flow is
// identified by its 5-tuple and start time (and by Zeek's uid, which conn.log
// and ssl.log carry too).
type Truth struct {
	UID     string `json:"uid"`
	OrigH   string `json:"orig_h"`
	OrigP   uint16 `json:"orig_p"`
	RespH   string `json:"resp_h"`
	RespP   uint16 `json:"resp_p"`
	Proto   string `json:"proto"`
	StartNS int64  `json:"start_ns"`
	EndNS   int64  `json:"end_ns"`
	// Class is what a correct detector calls the flow.
	Class schemas.Class `json:"class"`
	// Scenario names the generator that wrote the flow (see Scenarios());
	// hard negatives of class "other" each have their own.
	Scenario string `json:"scenario"`
	// Route is the provider/model route of an llm_stream flow, else "".
	Route string `json:"route"`
	// SNI is the TLS server name the client sent ("" for none or no TLS).
	SNI string `json:"sni"`
	// Service is the Zeek service of the flow ("" when Zeek has none).
	Service string `json:"service"`
	// HandoffAtNS is, for a handoff flow, the time of the first client
	// packet sent by the new controller; HandoffDirection is
	// "human_to_agent" or "agent_to_human".
	HandoffAtNS      int64  `json:"handoff_at_ns,omitempty"`
	HandoffDirection string `json:"handoff_direction,omitempty"`
	// Packets is the number of packets of the flow in the pcap.
	Packets int64 `json:"packets"`
	// Episode groups the flows one episode wrote (an agent's LLM connection
	// and its shell session share an episode).
	Episode int `json:"episode"`
	// VLAN is the 802.1Q id the flow's frames carry (0: untagged).
	VLAN uint16 `json:"vlan"`
}

func truthOf(f *flow) Truth {
	return Truth{
		UID:              f.uid,
		OrigH:            f.addr[cli].String(),
		OrigP:            f.port[cli],
		RespH:            f.addr[srv].String(),
		RespP:            f.port[srv],
		Proto:            protoName(f.proto),
		StartNS:          f.cnt.first,
		EndNS:            f.cnt.lastAny,
		Class:            f.class,
		Scenario:         f.scenario,
		Route:            f.route,
		SNI:              f.sni,
		Service:          f.service,
		HandoffAtNS:      f.handoffAt,
		HandoffDirection: f.handoffDir,
		Packets:          f.cnt.pkts[0] + f.cnt.pkts[1],
		Episode:          f.episode,
		VLAN:             f.vlan,
	}
}

// ReadTruth reads a truth.jsonl stream.
func ReadTruth(r io.Reader) ([]Truth, error) {
	var out []Truth
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var t Truth
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return out, fmt.Errorf("truth line %d: %w", line, err)
		}
		out = append(out, t)
	}
	return out, sc.Err()
}
