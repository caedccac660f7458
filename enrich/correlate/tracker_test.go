package correlate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

func testCampaignConfig() CampaignConfig { return DefaultConfig().Campaigns }

// published is what a test keeps of one campaign update.
type published struct {
	id      string
	version int
	ids     []string
	rec     *schemas.Campaign
	value   []byte
}

// run feeds ins to tr and returns every update, each record checked
// against the campaign schema.
func run(t testing.TB, tr *Tracker, r *Rules, ins []*Input) []published {
	t.Helper()
	var out []published
	for _, in := range ins {
		for _, c := range tr.Add(in) {
			rec := c.Record(r)
			b, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			if err := schemacheck.ValidateCampaignJSON(b); err != nil {
				t.Fatalf("campaign %s v%d fails the schema: %v\n%s", c.ID, c.Version, err, b)
			}
			out = append(out, published{id: c.ID, version: c.Version, ids: rec.Aegis.RecordIDs, rec: rec, value: b})
		}
	}
	return out
}

// scenario is one host's records from three sensors.
type scenario struct {
	recon, shell, stream *Input
}

func newScenario(t testing.TB, host string, reconAt, shellAt, streamAt time.Duration) scenario {
	return scenario{
		recon:  input(t, recon(t, "sensor-a", host, t0.Add(reconAt), 40), "sensor-a"),
		shell:  input(t, detection(host+"/shell", host, schemas.ClassAgentShell, t0.Add(shellAt-time.Minute), t0.Add(shellAt), "10.30.1.20", 22), "sensor-b"),
		stream: input(t, detection(host+"/stream", host, schemas.ClassLLMStream, t0.Add(streamAt-20*time.Second), t0.Add(streamAt), "203.0.113.9", 443), "sensor-c"),
	}
}

// TestCampaignAcrossSensors: recon at sensor A, an agent shell at sensor B
// and an LLM stream at sensor C make one campaign, whatever order they
// arrive in; its versions count the arrivals from the one that completed
// the rule on.
func TestCampaignAcrossSensors(t *testing.T) {
	r := testRules(t)
	const host = "10.1.2.3"
	tests := []struct {
		name     string
		order    string // r(econ), s(hell), l(lm stream)
		versions []int
	}{
		{"in order", "rsl", []int{1, 2}},
		{"stream first", "lrs", []int{1}},
		{"shell before its recon arrives", "srl", []int{1, 2}},
		{"stream between", "rls", []int{1}},
		{"recon last", "slr", []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := newScenario(t, host, 0, 4*time.Minute, 6*time.Minute)
			var ins []*Input
			for _, c := range tt.order {
				ins = append(ins, map[rune]*Input{'r': sc.recon, 's': sc.shell, 'l': sc.stream}[c])
			}
			tr := NewTracker(r, testCampaignConfig(), false)
			got := run(t, tr, r, ins)
			var vs []int
			for _, p := range got {
				vs = append(vs, p.version)
				if p.id != CampaignID(host, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) {
					t.Errorf("campaign id %s", p.id)
				}
			}
			if !slices.Equal(vs, tt.versions) {
				t.Fatalf("versions %v, want %v", vs, tt.versions)
			}
			last := got[len(got)-1].rec
			want := []string{sc.recon.ID, sc.shell.ID, sc.stream.ID}
			if !slices.Equal(last.Aegis.RecordIDs, want) {
				t.Errorf("evidence %v, want %v", last.Aegis.RecordIDs, want)
			}
			if !slices.Equal(last.Aegis.Sensors, []string{"sensor-a", "sensor-b", "sensor-c"}) || last.Aegis.Severity != "critical" ||
				!slices.Equal(last.Aegis.Rules, []string{"aegis-agent-campaign"}) || last.Threat == nil ||
				!slices.Equal(last.Threat.Technique.ID, []string{"T1021.004", "T1046", "T1059.004"}) {
				t.Errorf("campaign %+v threat %+v", last.Aegis, last.Threat)
			}
			if st := last.Aegis.Steps[1]; st.Kind != schemas.StepDetection || st.Class != schemas.ClassAgentShell || !slices.Equal(st.Rules, []string{"aegis-agent-campaign"}) || st.Destination != "10.30.1.20:22" {
				t.Errorf("shell step %+v", st)
			}
			if st := last.Aegis.Steps[0]; st.Kind != schemas.StepRecon || st.Targets != 40 || st.Sensor != "sensor-a" {
				t.Errorf("recon step %+v", st)
			}
		})
	}
}

// TestNoCampaign: what must not make a campaign.
func TestNoCampaign(t *testing.T) {
	r := testRules(t)
	host, other := "10.1.2.3", "10.1.2.4"
	tests := []struct {
		name string
		ins  func(t *testing.T) []*Input
	}{
		{"shell without recon", func(t *testing.T) []*Input {
			sc := newScenario(t, host, 0, 4*time.Minute, 6*time.Minute)
			return []*Input{sc.shell, sc.stream}
		}},
		{"recon then only an LLM stream", func(t *testing.T) []*Input {
			sc := newScenario(t, host, 0, 4*time.Minute, 6*time.Minute)
			return []*Input{sc.recon, sc.stream}
		}},
		{"recon longer ago than the window", func(t *testing.T) []*Input {
			sc := newScenario(t, host, 0, 25*time.Minute, 26*time.Minute)
			return []*Input{sc.recon, sc.shell, sc.stream}
		}},
		{"recon of another host", func(t *testing.T) []*Input {
			a := newScenario(t, other, 0, 4*time.Minute, 6*time.Minute)
			b := newScenario(t, host, 0, 4*time.Minute, 6*time.Minute)
			return []*Input{a.recon, b.shell, b.stream}
		}},
		{"recon after the shell ended", func(t *testing.T) []*Input {
			sc := newScenario(t, host, 5*time.Minute, 4*time.Minute, 6*time.Minute)
			return []*Input{sc.shell, sc.recon}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(r, testCampaignConfig(), false)
			if got := run(t, tr, r, tt.ins(t)); len(got) != 0 {
				t.Errorf("campaigns: %+v", got[0].rec.Aegis)
			}
		})
	}
}

// TestDuplicatesAndLate: a record seen twice counts once; a record older
// than every open span is dropped.
func TestDuplicatesAndLate(t *testing.T) {
	r := testRules(t)
	tr := NewTracker(r, testCampaignConfig(), false)
	sc := newScenario(t, "10.1.2.3", 0, 4*time.Minute, 6*time.Minute)
	got := run(t, tr, r, []*Input{sc.recon, sc.shell, sc.shell, sc.recon, sc.stream, sc.stream})
	if len(got) != 2 {
		t.Fatalf("%d updates, want 2", len(got))
	}
	if s := tr.Stats(); s.Duplicates != 3 {
		t.Errorf("duplicates %d, want 3", s.Duplicates)
	}
	// Three hours later the span of 9:00 is closed; its records are late.
	later := newScenario(t, "10.9.9.9", 3*time.Hour, 3*time.Hour+time.Minute, 3*time.Hour+2*time.Minute)
	run(t, tr, r, []*Input{later.stream})
	old := newScenario(t, "10.1.2.3", 0, 5*time.Minute, 7*time.Minute)
	old.shell.ID = recID("another shell")
	if got := run(t, tr, r, []*Input{old.shell}); len(got) != 0 {
		t.Errorf("a late record updated a closed campaign")
	}
	if s := tr.Stats(); s.Late != 1 || s.SpansClosed < 2 || s.OpenCampaigns != 0 || s.Hosts != 1 || s.HostsExpired != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestEvidenceCap: evidence past max_evidence is left out, once flagged.
func TestEvidenceCap(t *testing.T) {
	r := testRules(t)
	cfg := testCampaignConfig()
	cfg.MaxEvidence = 4
	tr := NewTracker(r, cfg, false)
	sc := newScenario(t, "10.1.2.3", 0, 2*time.Minute, 3*time.Minute)
	ins := []*Input{sc.recon, sc.shell}
	for i := range 5 {
		ins = append(ins, input(t, detection(fmt.Sprint("s", i), "10.1.2.3", schemas.ClassLLMStream, t0.Add(4*time.Minute), t0.Add(time.Duration(5+i)*time.Minute), "203.0.113.9", 443), "sensor-c"))
	}
	got := run(t, tr, r, ins)
	last := got[len(got)-1]
	if last.version != 4 || len(last.ids) != 4 || !last.rec.Aegis.EvidenceCapped {
		t.Errorf("last update v%d with %d ids, capped %v", last.version, len(last.ids), last.rec.Aegis.EvidenceCapped)
	}
}

// TestEvidenceCapKeepsTrigger: more records before the rule hit than
// max_evidence: the campaign still lists the record the rule fired on.
func TestEvidenceCapKeepsTrigger(t *testing.T) {
	r := testRules(t)
	cfg := testCampaignConfig()
	cfg.MaxEvidence = 3
	tr := NewTracker(r, cfg, false)
	sc := newScenario(t, "10.1.2.3", 0, 8*time.Minute, 9*time.Minute)
	ins := []*Input{sc.recon}
	for i := range 4 {
		ins = append(ins, input(t, detection(fmt.Sprint("early", i), "10.1.2.3", schemas.ClassLLMStream, t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Duration(i)*time.Minute+time.Second), "203.0.113.9", 443), "sensor-c"))
	}
	got := run(t, tr, r, append(ins, sc.shell))
	if len(got) != 1 || !slices.Contains(got[0].ids, sc.shell.ID) || !got[0].rec.Aegis.EvidenceCapped || len(got[0].ids) != 3 {
		t.Fatalf("campaigns %+v", got)
	}
	// The same records in another order give the same campaign.
	sc2 := newScenario(t, "10.1.2.3", 0, 8*time.Minute, 9*time.Minute) // Add keeps its Inputs: fresh ones
	ins2 := []*Input{sc2.shell, sc2.recon}
	for i := range 4 {
		ins2 = append(ins2, input(t, detection(fmt.Sprint("early", i), "10.1.2.3", schemas.ClassLLMStream, t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Duration(i)*time.Minute+time.Second), "203.0.113.9", 443), "sensor-c"))
	}
	tr2 := NewTracker(r, cfg, false)
	got2 := run(t, tr2, r, ins2)
	last := got2[len(got2)-1]
	if !slices.Equal(last.ids, got[0].ids) {
		t.Errorf("out of order: %v, in order: %v", last.ids, got[0].ids)
	}
}

// TestSpans: a host active across a span boundary makes one campaign per
// span its rule hits fall in, each gathering from W before its first hit.
func TestSpans(t *testing.T) {
	r := testRules(t)
	tr := NewTracker(r, testCampaignConfig(), false)
	h := "10.1.2.3"
	// Recon at 9:55, shells at 9:58 (span 9:00) and 10:03 (span 10:00).
	rc := input(t, recon(t, "sensor-a", h, t0.Add(45*time.Minute), 30), "sensor-a")
	s1 := input(t, detection("s1", h, schemas.ClassAgentShell, t0.Add(47*time.Minute), t0.Add(48*time.Minute), "10.30.1.20", 22), "sensor-b")
	s2 := input(t, detection("s2", h, schemas.ClassAgentShell, t0.Add(52*time.Minute), t0.Add(53*time.Minute), "10.30.1.21", 22), "sensor-b")
	got := run(t, tr, r, []*Input{rc, s1, s2})
	ids := map[string][]string{}
	for _, p := range got {
		ids[p.id] = p.ids
	}
	nine, ten := CampaignID(h, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), CampaignID(h, time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	if !slices.Equal(ids[nine], []string{rc.ID, s1.ID, s2.ID}) || !slices.Equal(ids[ten], []string{rc.ID, s1.ID, s2.ID}) || len(ids) != 2 {
		t.Errorf("campaigns %v", ids)
	}
}

// stamped is an input with the Kafka timestamp its sensor published it at.
type stamped struct {
	in *Input
	ts time.Time
}

// noisyStream builds a partition's worth of records over six hours of
// record time: campaign hosts (recon at sensor A, an agent shell at B, an
// LLM stream at C) and noise (streams only, shells without recon, recon
// without agent activity), each published 0-60 s after it ended, in
// publishing order as a topic holds them.
func noisyStream(t testing.TB, hosts int, seed uint64) []stamped {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []stamped
	add := func(in *Input) {
		out = append(out, stamped{in, time.Unix(0, in.End).Add(time.Duration(rng.IntN(60_000)) * time.Millisecond)})
	}
	for i := range hosts {
		h := fmt.Sprintf("10.7.%d.%d", i/200, i%200+1)
		base := time.Duration(rng.IntN(360)) * time.Minute
		sc := newScenario(t, h, base, base+time.Duration(1+rng.IntN(8))*time.Minute, base+time.Duration(2+rng.IntN(8))*time.Minute)
		switch i % 4 {
		case 0: // campaign
			add(sc.recon)
			add(sc.shell)
			add(sc.stream)
		case 1: // streams only
			add(sc.stream)
		case 2: // a shell, no recon
			add(sc.shell)
			add(sc.stream)
		case 3: // recon only
			add(sc.recon)
		}
		for k := range 3 {
			add(input(t, detection(fmt.Sprint(h, "/noise", k), h, schemas.ClassLLMStream,
				t0.Add(base+time.Duration(k)*time.Minute), t0.Add(base+time.Duration(k)*time.Minute+30*time.Second), "203.0.113.7", 443), "sensor-c"))
		}
	}
	slices.SortStableFunc(out, func(a, b stamped) int { return a.ts.Compare(b.ts) })
	return out
}

// TestRebuildIsDeterministic: a tracker that starts from any earlier
// offset (the look-back) and publishes only from the committed offset on
// yields exactly what the tracker that saw everything published from there.
func TestRebuildIsDeterministic(t *testing.T) {
	r := testRules(t)
	ins := noisyStream(t, 400, 1)
	cfg := testCampaignConfig()
	type upd struct {
		off int
		id  string
		v   int
		val string
	}
	from := func(start, commit int) []upd {
		tr := NewTracker(r, cfg, false)
		var out []upd
		for i := start; i < len(ins); i++ {
			in := *ins[i].in // Add may drop Raw
			for _, c := range tr.Add(&in) {
				if i < commit {
					continue // replayed: published before
				}
				b, _ := json.Marshal(c.Record(r))
				out = append(out, upd{i, c.ID, c.Version, string(b)})
			}
		}
		return out
	}
	full := from(0, 0)
	if len(full) < 100 {
		t.Fatalf("only %d updates", len(full))
	}
	differs := 0
	for _, commit := range []int{len(ins) / 3, len(ins) / 2, 3 * len(ins) / 4} {
		// The look-back: the first offset published at most Lookback
		// before the first record not committed.
		target := ins[commit].ts.Add(-cfg.Lookback)
		start := slices.IndexFunc(ins, func(s stamped) bool { return !s.ts.Before(target) })
		if start <= 0 {
			t.Fatalf("commit %d: look-back reaches the start of the stream; make it longer", commit)
		}
		var want []upd
		for _, u := range full {
			if u.off >= commit {
				want = append(want, u)
			}
		}
		got := from(start, commit)
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("commit %d (look-back from %d): %d updates, want %d", commit, start, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("commit %d: update %d: %s v%d at %d, want %s v%d at %d", commit, i, got[i].id, got[i].v, got[i].off, want[i].id, want[i].v, want[i].off)
			}
		}
		// Without the look-back the windows lack evidence: the test
		// must notice somewhere.
		if short := from(commit, commit); !slices.Equal(short, want) {
			differs++
		}
	}
	if differs == 0 {
		t.Error("rebuilds without look-back gave the same updates at every cut; the test proves nothing")
	}
}

func BenchmarkTrackerAdd(b *testing.B) {
	r := testRules(b)
	st := noisyStream(b, 2000, 3)
	ins := make([]*Input, len(st))
	for i := range st {
		ins[i] = st[i].in
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		b.StopTimer()
		tr := NewTracker(r, testCampaignConfig(), false)
		batch := make([]Input, len(ins))
		for i := range ins {
			batch[i] = *ins[i]
		}
		b.StartTimer()
		for i := range batch {
			tr.Add(&batch[i])
		}
		n += len(batch)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
