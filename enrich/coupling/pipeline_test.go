package coupling

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"sort"
	"sync"
	"testing"

	"github.com/aegis-nsm/aegis/cadence/flowtable"
	"github.com/aegis-nsm/aegis/cadence/synth"
	"github.com/aegis-nsm/aegis/enrich"
	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/communityid"
)

// The tests feed the detector the way the pipeline will: the generator
// writes a pcap, the capture reader decodes it, the flow table builds flows
// and hands each over when it ends (so an LLM connection's answers arrive
// when the connection closes, after the actions that followed them), and
// every flow becomes Streams (llm_stream flows, split into answers by
// Answers) or Actions (every other flow's start; plus, for interactive
// sessions, their command writes found by Commands). The class of a flow
// comes from the generator's truth (an oracle standing in for the cadence
// analysis, so that these tests measure the coupling stage alone).

// event is one input in arrival order.
type event struct {
	at     int64 // when the pipeline would feed it (the flow's end)
	stream *Stream
	action *Action
}

// timeline is a generated set turned into detector inputs.
type timeline struct {
	events []event
	hosts  []synth.HostTruth
	flows  int
	// unmatched counts flows the flow table split off a generated one.
	unmatched int
	end       int64
}

// recordID is a stand-in for the detection record id of a flow.
func recordID(uid string) string {
	s := sha256.Sum256([]byte("record/" + uid))
	return hex.EncodeToString(s[:16])
}

type truthKey struct {
	proto      string
	orig, resp netip.AddrPort
	start      int64
}

// buildTimeline generates cfg and converts it.
func buildTimeline(t testing.TB, cfg synth.CouplingConfig, ex ExtractConfig) *timeline {
	t.Helper()
	var pc, conn, ssl, tr, hosts bytes.Buffer
	if _, err := synth.GenerateCoupling(cfg, synth.CouplingOutputs{Outputs: synth.Outputs{PCAP: &pc, Conn: &conn, SSL: &ssl, Truth: &tr}, Hosts: &hosts}); err != nil {
		t.Fatal(err)
	}
	rows, err := synth.ReadTruth(&tr)
	if err != nil {
		t.Fatal(err)
	}
	ht, err := synth.ReadHostTruth(&hosts)
	if err != nil {
		t.Fatal(err)
	}
	truth := map[truthKey]synth.Truth{}
	for _, r := range rows {
		k := truthKey{r.Proto, netip.AddrPortFrom(netip.MustParseAddr(r.OrigH), r.OrigP), netip.AddrPortFrom(netip.MustParseAddr(r.RespH), r.RespP), r.StartNS}
		truth[k] = r
	}
	tl := &timeline{hosts: ht}
	var hasher communityid.Hasher
	emit := func(f *flowtable.Flow) {
		tp := f.OrigTuple
		proto := map[uint8]string{schemas.ProtoTCP: "tcp", schemas.ProtoUDP: "udp"}[tp.Proto]
		k := truthKey{proto, netip.AddrPortFrom(tp.SrcIP.Addr(), tp.SrcPort), netip.AddrPortFrom(tp.DstIP.Addr(), tp.DstPort), f.First}
		row, ok := truth[k]
		if !ok {
			// The flow table split a connection the generator wrote as
			// one (an idle gap longer than its TCP timeout, as Zeek
			// would): the tail is not an action of anyone's.
			tl.unmatched++
			return
		}
		tl.flows++
		host := tp.SrcIP.Addr()
		id := Stream{Host: host, RecordID: recordID(row.UID), UID: row.UID, CommunityID: hasher.ID(tp), FlowKey: enrich.FlowKeyString(tp), Route: row.Route}
		orig := Detail{Times: f.Orig.Times, Sizes: f.Orig.Sizes, Trimmed: f.Orig.PayloadPackets > int64(len(f.Orig.Times))}
		resp := Detail{Times: f.Resp.Times, Sizes: f.Resp.Sizes, Trimmed: f.Resp.PayloadPackets > int64(len(f.Resp.Times))}
		tl.end = max(tl.end, f.Last)
		if row.Class == schemas.ClassLLMStream {
			for _, sp := range ex.Answers(orig, resp) {
				s := id
				s.Start, s.End = sp.Start, sp.End
				tl.events = append(tl.events, event{at: f.Last, stream: &s})
			}
			return
		}
		a := Action{Host: host, Time: f.First, Kind: ActionConnect, FlowKey: id.FlowKey, RecordID: id.RecordID, UID: id.UID,
			CommunityID: id.CommunityID, Service: row.Service, DstPort: tp.DstPort, Class: row.Class}
		tl.events = append(tl.events, event{at: f.Last, action: &a})
		switch row.Class {
		case schemas.ClassAgentShell, schemas.ClassHandoff, schemas.ClassHumanInteractive:
			for _, c := range ex.Commands(orig, resp) {
				ca := a
				ca.Kind, ca.Time = ActionCommand, c
				tl.events = append(tl.events, event{at: f.Last, action: &ca})
			}
		}
	}
	tab, err := flowtable.New(flowtable.DefaultConfig(), emit)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := capture.NewReader(bytes.NewReader(pc.Bytes()), "coupling.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var p schemas.Packet
	for {
		err := rd.Next(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tab.Add(&p)
	}
	tab.Flush()
	sort.SliceStable(tl.events, func(i, j int) bool { return tl.events[i].at < tl.events[j].at })
	return tl
}

// feed gives every event to d in arrival order.
func (tl *timeline) feed(d *Detector) {
	for _, e := range tl.events {
		if e.stream != nil {
			d.ObserveStream(*e.stream)
		} else {
			d.ObserveAction(*e.action)
		}
	}
}

// feedTicking feeds events and calls Findings every tick of the record
// clock, as the pipeline does, then once at the end; it returns every
// finding.
func (tl *timeline) feedTicking(d *Detector, tick int64) []*schemas.Coupling {
	var out []*schemas.Coupling
	next := int64(0)
	for _, e := range tl.events {
		if next == 0 {
			next = e.at + tick
		}
		for e.at >= next {
			out = append(out, d.Findings(next)...)
			next += tick
		}
		if e.stream != nil {
			d.ObserveStream(*e.stream)
		} else {
			d.ObserveAction(*e.action)
		}
	}
	out = append(out, d.Findings(tl.end+int64(d.cfg.LagWindow)+1)...)
	return out
}

var (
	setOnce sync.Once
	sets    []*timeline
)

// couplingSets are the shared test sets, generated once per binary: every
// coupling scenario variant three times, and six more episodes of each
// hard negative from another seed. The two sets reuse host addresses
// (they follow the episode number), so each is fed to its own detector.
func couplingSets(t testing.TB) []*timeline {
	t.Helper()
	setOnce.Do(func() {
		cfg := synth.DefaultCouplingConfig()
		cfg.EpisodesPerScenario = 3
		neg := synth.DefaultCouplingConfig()
		neg.Seed++
		neg.EpisodesPerScenario = 6
		neg.Scenarios = []string{"coupling_chat_and_ssh", "coupling_ci_runner", "coupling_monitor_poller"}
		sets = []*timeline{buildTimeline(t, cfg, DefaultExtractConfig()), buildTimeline(t, neg, DefaultExtractConfig())}
	})
	if len(sets) != 2 {
		t.Fatal("coupling test sets not built")
	}
	return sets
}
