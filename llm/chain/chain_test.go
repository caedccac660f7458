package chain

import (
	"slices"
	"strings"
	"testing"

	"github.com/aegis-nsm/aegis/llm/evidence"
)

func det(id, class string, rules ...evidence.RuleHit) evidence.Detection {
	return evidence.Detection{ID: id, Class: class, Dst: "10.20.0.8:22", DstPort: 22, Internal: true, Rules: rules}
}

func TestDeterministic(t *testing.T) {
	campaign := evidence.RuleHit{ID: "aegis-agent-campaign", Tags: []string{"agent", "campaign", "recon"}, Techniques: []string{"T1046", "T1059.004"}}
	cases := []struct {
		name       string
		dets       []evidence.Detection
		chain      []string // tactic:ids
		techniques []string
	}{
		{"llm stream alone is C2 context without a technique",
			[]evidence.Detection{det("s", "llm_stream")},
			[]string{"command-and-control:s"}, nil},
		{"agent shell over SSH inside the network",
			[]evidence.Detection{det("a", "agent_shell")},
			[]string{"execution:a", "lateral-movement:a"}, []string{"T1021.004", "T1059.004"}},
		{"agent shell to an outside host is execution only",
			[]evidence.Detection{{ID: "a", Class: "agent_shell", Dst: "203.0.113.9:22", DstPort: 22}},
			[]string{"execution:a"}, []string{"T1059.004"}},
		{"handoff is execution",
			[]evidence.Detection{{ID: "h", Class: "handoff", Dst: "10.0.0.9:2222", DstPort: 2222, Handoff: &evidence.Handoff{Direction: "human_to_agent"}}},
			[]string{"execution:h"}, []string{"T1059.004"}},
		{"exfiltration",
			[]evidence.Detection{{ID: "x", Class: "agent_exfil", Dst: "203.0.113.50:443", BytesOut: 48e6}},
			[]string{"exfiltration:x"}, []string{"T1030", "T1041"}},
		{"campaign: recon, shell and stream",
			[]evidence.Detection{det("a", "agent_shell", campaign), det("s", "llm_stream")},
			[]string{"reconnaissance:a", "execution:a", "lateral-movement:a", "command-and-control:s"},
			[]string{"T1021.004", "T1046", "T1059.004", "T1071.001"}},
		{"recon rule without a technique adds T1046",
			[]evidence.Detection{det("r", "other", evidence.RuleHit{ID: "scan", Tags: []string{"scan"}})},
			[]string{"reconnaissance:r"}, []string{"T1046"}},
		{"custom rule technique goes to its tactic; unknown ids kept for Split",
			[]evidence.Detection{det("c", "other", evidence.RuleHit{ID: "corp", Techniques: []string{"T1567.002", "T1999", "bogus"}})},
			[]string{"exfiltration:c"}, []string{"T1567.002", "T1999"}},
		{"unmapped detection still in the chain",
			[]evidence.Detection{det("u", "other")},
			[]string{"execution:u"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := Deterministic(&evidence.Bundle{Source: "10.1.2.3", Detections: c.dets})
			var got []string
			for _, s := range m.Chain {
				got = append(got, s.Tactic+":"+strings.Join(s.RecordIDs, ","))
				if s.Origin != "rules" || s.Summary == "" {
					t.Errorf("step %+v", s)
				}
			}
			if !slices.Equal(got, c.chain) {
				t.Errorf("chain %v, want %v", got, c.chain)
			}
			if !slices.Equal(m.Techniques, c.techniques) {
				t.Errorf("techniques %v, want %v", m.Techniques, c.techniques)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	v, u := Split([]string{"T1059.004", "T1588.007", "T1059.004", "T59", "", "T1046"})
	if !slices.Equal(v, []string{"T1046", "T1059.004"}) || !slices.Equal(u, []string{"T1588.007"}) {
		t.Errorf("Split = %v %v", v, u)
	}
}

// TestMergeKeepsEveryDetection: the model's steps come first; detections it
// left out come back from the deterministic chain.
func TestMergeKeepsEveryDetection(t *testing.T) {
	det := []Step{{Tactic: "reconnaissance", RecordIDs: []string{"a"}, Summary: "scan"},
		{Tactic: "execution", RecordIDs: []string{"b"}, Summary: "shell"},
		{Tactic: "command-and-control", RecordIDs: []string{"c"}, Summary: "stream"}}
	model := []Step{{Tactic: "execution", RecordIDs: []string{"b", "a"}, Summary: "agent shell after a scan"}, {Tactic: "impact", Summary: "no ids"}}
	got := Merge(model, det)
	if len(got) != 2 || got[0].Origin != "model" || got[1].Origin != "rules" || !slices.Equal(got[1].RecordIDs, []string{"c"}) || got[1].Step != 2 {
		t.Fatalf("Merge = %+v", got)
	}
	if !strings.Contains(got[1].Summary, "left these detections out") {
		t.Errorf("summary %q", got[1].Summary)
	}
	if all := Merge(nil, det); len(all) != 3 || all[2].Summary != "stream" {
		t.Errorf("Merge(nil) = %+v", all)
	}
}

func TestTechniquesOrigin(t *testing.T) {
	got := Techniques([]string{"T1046", "T1059.004"}, []string{"T1059.004", "T1595", "T9999"})
	var s []string
	for _, x := range got {
		s = append(s, x.ID+":"+x.Origin+":"+x.Name)
	}
	want := []string{"T1046:rules:Network Service Discovery", "T1059.004:both:Unix Shell", "T1595:model:Active Scanning"}
	if !slices.Equal(s, want) {
		t.Errorf("Techniques = %v, want %v", s, want)
	}
}
