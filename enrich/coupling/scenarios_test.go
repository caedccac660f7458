package coupling

import (
	"net/netip"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
	"github.com/aegis-nsm/aegis/schemas/schemacheck"
)

// TestScenarios feeds the generated coupling sets through the detector, in
// the order the pipeline would (each flow when it ends), and checks every
// host: agent loops are found on the channel they act through, with their
// number of steps within one (the test logs how many were exact), and no
// hard negative is found on any channel.
func TestScenarios(t *testing.T) {
	exact, positives := 0, 0
	for si, tl := range couplingSets(t) {
		d, err := New(DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		tl.feed(d)
		now := tl.end + int64(d.cfg.LagWindow) + 1
		for _, h := range tl.hosts {
			f, ok := d.Evaluate(netip.MustParseAddr(h.Host), now)
			if !h.Coupled {
				if ok {
					t.Errorf("set %d: hard negative %s (%s) flagged: %v", si, h.Host, h.Scenario, f.Aegis.Reasons)
				}
				continue
			}
			positives++
			if !ok {
				t.Errorf("set %d: agent %s (%s/%s, %d steps) not found", si, h.Host, h.Scenario, h.Variant, h.Cycles)
				continue
			}
			if err := schemacheck.ValidateCoupling(f); err != nil {
				t.Errorf("%s: record does not validate: %v", h.Host, err)
			}
			a := f.Aegis
			wantSvc := h.Service
			if a.Channel.Kind != h.Channel || a.Channel.Service != wantSvc {
				t.Errorf("%s (%s/%s): found on channel %+v, want %s %s", h.Host, h.Scenario, h.Variant, a.Channel, h.Channel, wantSvc)
			}
			switch diff := a.Cycles - h.Cycles; {
			case diff == 0:
				exact++
			case diff < -1 || diff > 1:
				t.Errorf("%s (%s/%s): %d cycles, truth %d", h.Host, h.Scenario, h.Variant, a.Cycles, h.Cycles)
			}
			t.Logf("%-22s %-11s %s: cycles %2d (truth %2d), answers %2d/%2d, lag median %3.0f ms p90 %3.0f ms, p %.5f (adj %.5f), expected cycles %5.2f, score %5.1f",
				h.Scenario, h.Variant, h.Host, a.Cycles, h.Cycles, a.StreamsSeen, h.Answers, a.LagMedianMs, a.LagP90Ms, a.PValue, a.PAdjusted, a.Null.ExpectedCycles, a.Score)
		}
		if tl.unmatched > 0 {
			t.Logf("set %d: %d flow tails split off by the flow table's idle timeout", si, tl.unmatched)
		}
	}
	t.Logf("agent loops: %d found; cycle count exact for %d", positives, exact)
}

// TestScenariosTicking feeds the sets with Findings called every 10 s of
// record clock, as the pipeline does: every agent is reported, at least
// once and at most once per min_cycles new cycles; no negative ever is,
// however many times it is tested.
func TestScenariosTicking(t *testing.T) {
	for si, tl := range couplingSets(t) {
		d, err := New(DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		out := tl.feedTicking(d, int64(10*time.Second))
		per := map[string][]*schemas.Coupling{}
		ids := map[string]bool{}
		for _, f := range out {
			per[f.Source.IP] = append(per[f.Source.IP], f)
			if ids[f.Event.ID] {
				t.Errorf("event id %s reported twice", f.Event.ID)
			}
			ids[f.Event.ID] = true
			if err := schemacheck.ValidateCoupling(f); err != nil {
				t.Errorf("%s: %v", f.Source.IP, err)
			}
		}
		reports := 0
		for _, h := range tl.hosts {
			fs := per[h.Host]
			if !h.Coupled {
				for _, f := range fs {
					t.Errorf("set %d: negative %s (%s) reported: %v", si, h.Host, h.Scenario, f.Aegis.Reasons)
				}
				continue
			}
			if len(fs) == 0 {
				t.Errorf("set %d: agent %s (%s/%s) never reported", si, h.Host, h.Scenario, h.Variant)
				continue
			}
			if max := h.Cycles/d.cfg.MinCycles + 1; len(fs) > max {
				t.Errorf("%s: %d reports for %d cycles", h.Host, len(fs), h.Cycles)
			}
			reports += len(fs)
		}
		st := d.Stats()
		t.Logf("set %d: %d findings (%d channel tests, %d untestable); stats %+v", si, reports, st.Tests, st.Untestable, st)
	}
}

// TestHalfMissing covers the two blind spots. Without the LLM traffic no
// host is claimed, whatever its actions. Without the per-packet detail of
// the sessions (the shell invisible: only IDS flow records), agents that
// act through new connections are still found, agents inside one
// interactive session are not (one connection is one action).
func TestHalfMissing(t *testing.T) {
	for _, tl := range couplingSets(t) {
		noLLM, _ := New(DefaultConfig())
		noShell, _ := New(DefaultConfig())
		for _, e := range tl.events {
			switch {
			case e.stream != nil:
				noShell.ObserveStream(*e.stream)
			case e.action.Kind == ActionCommand:
				noLLM.ObserveAction(*e.action)
			default:
				noLLM.ObserveAction(*e.action)
				noShell.ObserveAction(*e.action)
			}
		}
		now := tl.end + int64(time.Minute)
		for _, h := range tl.hosts {
			ip := netip.MustParseAddr(h.Host)
			if f, ok := noLLM.Evaluate(ip, now); ok {
				t.Errorf("%s (%s): claimed without any LLM stream: %v", h.Host, h.Scenario, f.Aegis.Reasons)
			}
			f, ok := noShell.Evaluate(ip, now)
			switch {
			case h.Coupled && h.Channel == "connect" && !ok:
				t.Errorf("%s (%s/%s): connection starts alone not coupled", h.Host, h.Scenario, h.Variant)
			case h.Coupled && h.Channel == "command" && ok:
				t.Errorf("%s (%s/%s): found without its commands: %v", h.Host, h.Scenario, h.Variant, f.Aegis.Reasons)
			case !h.Coupled && ok:
				t.Errorf("negative %s (%s) flagged from connection starts: %v", h.Host, h.Scenario, f.Aegis.Reasons)
			}
		}
	}
}

// TestLinkedDetections: an agent's finding names the session it drove and
// the LLM streams it followed.
func TestLinkedDetections(t *testing.T) {
	tl := couplingSets(t)[0]
	d, _ := New(DefaultConfig())
	tl.feed(d)
	now := tl.end + int64(time.Minute)
	checked := 0
	for _, h := range tl.hosts {
		if !h.Coupled || h.Channel != "command" {
			continue
		}
		f, ok := d.Evaluate(netip.MustParseAddr(h.Host), now)
		if !ok {
			continue
		}
		checked++
		ids := LinkedDetections(f)
		if len(ids) != 1 || ids[0] != f.Aegis.Channel.RecordID {
			t.Errorf("%s: linked detections %v, want the session %s", h.Host, ids, f.Aegis.Channel.RecordID)
		}
		streams := 0
		for _, l := range Links(f) {
			if l.Role == "stream" {
				streams++
				if l.Class != schemas.ClassLLMStream {
					t.Errorf("stream link of class %q", l.Class)
				}
			}
		}
		if streams == 0 {
			t.Errorf("%s: no stream record linked", h.Host)
		}
	}
	if checked == 0 {
		t.Fatal("no agent session to check")
	}
}
