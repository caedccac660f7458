package coupling

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

func mustNew(t testing.TB, cfg Config) *Detector {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestEvaluateHandBuilt covers the decision on hand-built timelines.
func TestEvaluateHandBuilt(t *testing.T) {
	h := hostN(1)
	cases := []struct {
		name  string
		build func() ([]Stream, []Action)
		want  bool
	}{
		{"agent loop of 12", func() ([]Stream, []Action) { return agentLoop(h, 12, 1) }, true},
		{"agent loop of 5", func() ([]Stream, []Action) { return agentLoop(h, 5, 2) }, true},
		{"4 steps are below min_cycles", func() ([]Stream, []Action) { return agentLoop(h, 4, 3) }, false},
		{"random actions", func() ([]Stream, []Action) { return randomHost(h, 30, 200, 10*time.Minute, 4) }, false},
		{"agent actions without streams", func() ([]Stream, []Action) { _, as := agentLoop(h, 20, 5); return nil, as }, false},
		{"streams without actions", func() ([]Stream, []Action) { ss, _ := agentLoop(h, 20, 6); return ss, nil }, false},
		{"actions 3 s after each answer", func() ([]Stream, []Action) {
			ss, as := agentLoop(h, 20, 7)
			for i := range as {
				as[i].Time += ms(3000)
			}
			return ss, as
		}, false},
		{"the LLM connection's own flow is no action", func() ([]Stream, []Action) {
			ss, _ := agentLoop(h, 20, 8)
			var as []Action
			for _, s := range ss {
				as = append(as, Action{Host: h, Time: s.End + ms(100), Kind: ActionConnect, UID: s.UID, Service: "ssl"})
			}
			return ss, as
		}, false},
		{"DNS lookups after each answer are ignored", func() ([]Stream, []Action) {
			ss, _ := agentLoop(h, 20, 9)
			var as []Action
			for i, s := range ss {
				as = append(as, Action{Host: h, Time: s.End + ms(100), Kind: ActionConnect, UID: "Cdns" + string(rune('a'+i)), Service: "dns", DstPort: 53})
			}
			return ss, as
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := mustNew(t, DefaultConfig())
			ss, as := c.build()
			observeAll(d, ss, as)
			f, ok := d.Evaluate(h, lastTime(ss, as)+int64(time.Minute))
			if ok != c.want {
				reasons := []string(nil)
				if f != nil {
					reasons = f.Aegis.Reasons
				}
				t.Fatalf("coupled = %v, want %v %v", ok, c.want, reasons)
			}
			if ok {
				if err := schemacheck.ValidateCoupling(f); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestRecord checks the fields of a finding against its timeline.
func TestRecord(t *testing.T) {
	h := hostN(2)
	ss, as := agentLoop(h, 12, 11)
	cfg := DefaultConfig()
	cfg.MaxEvidence = 10
	d := mustNew(t, cfg)
	observeAll(d, ss, as)
	f, ok := d.Evaluate(h, lastTime(ss, as)+int64(time.Minute))
	if !ok {
		t.Fatal("not coupled")
	}
	a := f.Aegis
	if a.Cycles != 12 || a.StreamsSeen != 12 || a.ActionsSeen != 12 || len(a.Streams) != 10 || len(a.Actions) != 10 || a.EvidenceOmitted != 2 {
		t.Errorf("cycles %d streams %d actions %d listed %d/%d omitted %d", a.Cycles, a.StreamsSeen, a.ActionsSeen, len(a.Streams), len(a.Actions), a.EvidenceOmitted)
	}
	if a.Channel.Kind != "command" || a.Channel.Service != "ssh" || a.Channel.FlowKey == "" || a.Channel.RecordID != as[0].RecordID {
		t.Errorf("channel %+v", a.Channel)
	}
	if a.LagMedianMs < 50 || a.LagP90Ms > 500 || a.LagMedianMs > a.LagP90Ms {
		t.Errorf("lags %v %v", a.LagMedianMs, a.LagP90Ms)
	}
	if a.PValue <= 0 || a.PAdjusted > cfg.Alpha || a.Null.Method != "circular_shift" || a.Null.ChannelsTested != 1 || a.Null.Permutations != cfg.Permutations {
		t.Errorf("p %v adj %v null %+v", a.PValue, a.PAdjusted, a.Null)
	}
	if a.Severity != "critical" || f.Event.Severity != scoreCritical || !slices.Equal(f.Threat.Technique.ID, []string{techWeb, techUnixShell, techSSH}) ||
		!slices.Equal(f.Threat.Technique.Name, []string{"Web Protocols", "Unix Shell", "SSH"}) {
		t.Errorf("severity %s %d techniques %v %v", a.Severity, f.Event.Severity, f.Threat.Technique.ID, f.Threat.Technique.Name)
	}
	if f.Source.IP != h.String() || f.Event.Dataset != "aegis.coupling" || f.Timestamp != f.Event.End || f.Event.Kind != "alert" {
		t.Errorf("event %+v source %+v", f.Event, f.Source)
	}
	if a.Actions[0].LagMs <= 0 || a.Actions[0].Class != "agent_shell" || a.Streams[0].Route == "" {
		t.Errorf("evidence %+v %+v", a.Actions[0], a.Streams[0])
	}
	if len(a.Reasons) != 3 {
		t.Errorf("reasons %v", a.Reasons)
	}
	if err := schemacheck.ValidateCoupling(f); err != nil {
		t.Fatal(err)
	}
	// A connect channel of a plain service is high.
	as2 := slices.Clone(as)
	for i := range as2 {
		as2[i].Kind, as2[i].Service, as2[i].DstPort, as2[i].UID, as2[i].FlowKey, as2[i].RecordID = ActionConnect, "postgresql", 5432, "C"+string(rune('a'+i)), "", ""
	}
	d2 := mustNew(t, cfg)
	observeAll(d2, ss, as2)
	f2, ok := d2.Evaluate(h, lastTime(ss, as2)+int64(time.Minute))
	if !ok || f2.Aegis.Severity != "high" || f2.Aegis.Channel.Service != "postgresql" || f2.Aegis.Channel.Port != 0 || !slices.Equal(f2.Threat.Technique.ID, []string{techWeb}) {
		t.Fatalf("connect finding: ok %v %+v", ok, f2)
	}
	if err := schemacheck.ValidateCoupling(f2); err != nil {
		t.Fatal(err)
	}
}

// TestDeterministic: the same inputs in another order, another host
// count, give byte-identical findings.
func TestDeterministic(t *testing.T) {
	run := func(shuffle bool) []byte {
		d := mustNew(t, DefaultConfig())
		var ss []Stream
		var as []Action
		for i := 0; i < 20; i++ {
			s, a := agentLoop(hostN(i), 6+i, uint64(i))
			if i%3 == 0 {
				s, a = randomHost(hostN(i), 20, 80, 5*time.Minute, uint64(i))
			}
			ss, as = append(ss, s...), append(as, a...)
		}
		if shuffle {
			r := rand.New(rand.NewPCG(3, 4))
			r.Shuffle(len(ss), func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
			r.Shuffle(len(as), func(i, j int) { as[i], as[j] = as[j], as[i] })
		}
		observeAll(d, ss, as)
		out, err := json.Marshal(d.Findings(lastTime(ss, as) + int64(time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := run(false), run(true)
	if string(a) != string(b) {
		t.Fatal("findings depend on the arrival order")
	}
	var fs []schemas.Coupling
	_ = json.Unmarshal(a, &fs)
	if len(fs) < 10 {
		t.Fatalf("only %d findings", len(fs))
	}
}

// TestFindingsReport: a channel is reported once it is coupled, again only
// after min_cycles new cycles, never twice for the same evidence; an
// answer whose lag window is still open waits.
func TestFindingsReport(t *testing.T) {
	h := hostN(3)
	ss, as := agentLoop(h, 23, 13)
	d := mustNew(t, DefaultConfig())
	var reports []*schemas.Coupling
	for i := range ss {
		d.ObserveStream(ss[i])
		d.ObserveAction(as[i])
		reports = append(reports, d.Findings(as[i].Time+1)...)
	}
	reports = append(reports, d.Findings(as[len(as)-1].Time+int64(time.Minute))...)
	var cyc []int
	for _, f := range reports {
		cyc = append(cyc, f.Aegis.Cycles)
	}
	// First at 5 (or a little later if 5 was not yet significant), then
	// every 5 new cycles.
	if len(cyc) < 3 || cyc[0] < 5 {
		t.Fatalf("reports at cycles %v", cyc)
	}
	for i := 1; i < len(cyc); i++ {
		if cyc[i]-cyc[i-1] < 5 {
			t.Errorf("reported again after %d new cycles: %v", cyc[i]-cyc[i-1], cyc)
		}
	}
	if again := d.Findings(as[len(as)-1].Time + int64(2*time.Minute)); len(again) != 0 {
		t.Errorf("reported the same evidence twice: %d", len(again))
	}
	t.Logf("reports at cycles %v", cyc)
}

// TestBounds: per-host lists, hosts and the event budget stay bounded;
// late events are inserted in order; duplicates and stale events dropped;
// quiet hosts expire on the record clock.
func TestBounds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEventsPerHost = 8
	cfg.MaxHosts = 10
	cfg.MaxEvents = 100
	cfg.HostTTL = time.Minute
	d := mustNew(t, cfg)
	h := hostN(1)
	// Out of order: later first.
	for _, k := range []int{5, 3, 9, 1, 7} {
		d.ObserveAction(Action{Host: h, Time: t0 + int64(k)*int64(time.Second), Kind: ActionConnect, UID: "C1", Service: "http"})
	}
	hs := d.hosts[schemas.IPFromAddr(h)]
	var times []int64
	for _, a := range hs.actions {
		times = append(times, a.t)
	}
	if !slices.IsSorted(times) || len(times) != 5 {
		t.Fatalf("actions not sorted: %v", times)
	}
	// Duplicates.
	d.ObserveAction(Action{Host: h, Time: t0 + 3*int64(time.Second), Kind: ActionConnect, UID: "C1", Service: "http"})
	if st := d.Stats(); st.Duplicates != 1 || st.Events != 5 {
		t.Fatalf("duplicate: %+v", st)
	}
	// Per-host bound.
	for k := 10; k < 30; k++ {
		d.ObserveAction(Action{Host: h, Time: t0 + int64(k)*int64(time.Second), Kind: ActionConnect, UID: "C1", Service: "http"})
		d.ObserveStream(Stream{Host: h, Start: t0 + int64(k)*int64(time.Second), End: t0 + int64(k)*int64(time.Second) + 1, UID: "L"})
	}
	if len(hs.actions) != cfg.MaxEventsPerHost || len(hs.streams) != cfg.MaxEventsPerHost {
		t.Fatalf("per-host bound: %d actions %d streams", len(hs.actions), len(hs.streams))
	}
	// The events of one flow share their identity.
	if hs.actions[0].m != hs.actions[len(hs.actions)-1].m {
		t.Error("one flow's actions do not share their meta")
	}
	// Host bound.
	for i := 2; i < 30; i++ {
		d.ObserveAction(Action{Host: hostN(i), Time: t0 + 30*int64(time.Second), Kind: ActionConnect, UID: "C", Service: "http"})
	}
	st := d.Stats()
	if st.Hosts > cfg.MaxHosts || st.HostsEvicted == 0 || st.Events > cfg.MaxEvents {
		t.Fatalf("host bound: %+v", st)
	}
	// Event budget: fill ten hosts fully (16 events each, 160 > 100).
	d2 := mustNew(t, cfg)
	for i := 0; i < 10; i++ {
		for k := 0; k < 8; k++ {
			d2.ObserveAction(Action{Host: hostN(i), Time: t0 + int64(k), Kind: ActionConnect, UID: "C", Service: "http"})
			d2.ObserveStream(Stream{Host: hostN(i), Start: t0, End: t0 + int64(k), UID: "L"})
		}
	}
	if st := d2.Stats(); st.Events > cfg.MaxEvents || st.HostsEvicted == 0 {
		t.Fatalf("event budget: %+v", st)
	}
	// TTL: the clock moves two minutes on; old hosts and stale events go.
	late := t0 + 3*int64(time.Minute)
	d.ObserveAction(Action{Host: hostN(99), Time: late, Kind: ActionConnect, UID: "X", Service: "http"})
	d.Findings(late)
	if st := d.Stats(); st.Hosts != 1 || st.HostsExpired == 0 {
		t.Fatalf("ttl: %+v", st)
	}
	d.ObserveAction(Action{Host: h, Time: t0, Kind: ActionConnect, UID: "C1", Service: "http"})
	if st := d.Stats(); st.EventsDropped == 0 || st.Events != 1 {
		t.Fatalf("stale event kept: %+v", st)
	}
	// Unusable input.
	d.ObserveStream(Stream{Host: h, Start: 10, End: 5})
	d.ObserveAction(Action{Time: late, Kind: ActionConnect})
	d.ObserveAction(Action{Host: h, Time: late})
	if st := d.Stats(); st.Ignored != 3 {
		t.Fatalf("ignored: %+v", st)
	}
}

// TestConcurrent observes from several goroutines while findings are
// taken (run with -race).
func TestConcurrent(t *testing.T) {
	d := mustNew(t, DefaultConfig())
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				ss, as := agentLoop(hostN(g*100+i), 8, uint64(g*100+i))
				observeAll(d, ss, as)
			}
		}(g)
	}
	stop := make(chan struct{})
	var found [][]*schemas.Coupling
	var fw sync.WaitGroup
	fw.Add(1)
	go func() {
		defer fw.Done()
		for {
			select {
			case <-stop:
				return
			default:
				found = append(found, d.Findings(d.Clock()))
				d.Evaluate(hostN(1), d.Clock())
			}
		}
	}()
	wg.Wait()
	close(stop)
	fw.Wait()
	if st := d.Stats(); st.Hosts != 40 {
		t.Fatalf("%+v", st)
	}
	// The end of the input: every host tested, then all expire.
	found = append(found, d.Findings(d.Clock()+int64(time.Hour)))
	hosts := map[string]bool{}
	for _, fs := range found {
		for _, f := range fs {
			hosts[f.Source.IP] = true
		}
	}
	if len(hosts) != 40 {
		t.Fatalf("%d of 40 agents found", len(hosts))
	}
	if st := d.Stats(); st.Hosts != 0 || st.HostsExpired != 40 {
		t.Fatalf("%+v", st)
	}
}

// TestLinks checks the link helpers on a record.
func TestLinks(t *testing.T) {
	c := &schemas.Coupling{Aegis: schemas.CouplingAegis{
		Channel: schemas.CouplingChannel{Kind: "command", RecordID: "s1"},
		Streams: []schemas.CouplingStream{{RecordID: "l1"}, {RecordID: "l1"}, {RecordID: "l2"}, {}},
		Actions: []schemas.CouplingAction{{RecordID: "s1", Class: "agent_shell"}, {RecordID: "s2", Class: "handoff"}, {RecordID: "s3", Class: "human_interactive"}, {RecordID: "s1", Class: "agent_shell"}},
	}}
	want := []Link{{"l1", "stream", schemas.ClassLLMStream}, {"l2", "stream", schemas.ClassLLMStream},
		{"s1", "action", schemas.ClassAgentShell}, {"s2", "action", schemas.ClassHandoff}, {"s3", "action", schemas.ClassHumanInteractive}}
	if got := Links(c); !slices.Equal(got, want) {
		t.Errorf("Links = %v", got)
	}
	if got := LinkedDetections(c); !slices.Equal(got, []string{"s1", "s2"}) {
		t.Errorf("LinkedDetections = %v", got)
	}
}

func TestIPv4MappedHostIsOneHost(t *testing.T) {
	d := mustNew(t, DefaultConfig())
	ss, as := agentLoop(netip.MustParseAddr("10.1.2.3"), 10, 1)
	for i := range as {
		as[i].Host = netip.MustParseAddr("::ffff:10.1.2.3")
	}
	observeAll(d, ss, as)
	if st := d.Stats(); st.Hosts != 1 {
		t.Fatalf("%d hosts", st.Hosts)
	}
	if _, ok := d.Evaluate(netip.MustParseAddr("10.1.2.3"), lastTime(ss, as)+int64(time.Minute)); !ok {
		t.Fatal("not coupled")
	}
}
