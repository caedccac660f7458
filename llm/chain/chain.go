// Package chain is the LLM stage's deterministic reasoning: it maps an
// evidence bundle's classes and rule hits to ATT&CK techniques and to a
// rule-based intent chain, so that every verdict carries techniques and a
// chain even when no model answers. The model's job is to refine: Merge
// joins its chain and techniques with these, and a model can add steps and
// techniques but never remove a detection from the chain.
//
// Mapping (tactics are ATT&CK short names):
//
//   - a rule hit tagged recon (the built-in campaign rule, custom scan
//     rules) puts its record under reconnaissance (T1046 when the rule
//     names no reconnaissance or discovery technique);
//   - agent_shell and handoff are execution (T1059.004); over SSH (port 22
//     or service ssh) to an internal address also lateral-movement
//     (T1021.004);
//   - agent_exfil is exfiltration (T1041, T1030);
//   - llm_stream is command-and-control context: the model an agent on the
//     host talks to (T1071.001 when the window also shows agent activity);
//   - every other technique a rule names puts its record under the
//     technique's first tactic in Aegis's ATT&CK table.
//
// Functions here are pure and safe for concurrent use.
package chain

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aegis-nsm/aegis/enrich/attack"
	"github.com/aegis-nsm/aegis/llm/evidence"
	"github.com/aegis-nsm/aegis/schemas"
)

// Tactics lists the ATT&CK Enterprise tactic short names in kill-chain
// order; chains are ordered by it.
var Tactics = []string{"reconnaissance", "resource-development", "initial-access", "execution", "persistence",
	"privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
	"collection", "command-and-control", "exfiltration", "impact"}

// TacticOrder returns a tactic's position in Tactics, len(Tactics) when it
// is not one.
func TacticOrder(t string) int {
	if i := slices.Index(Tactics, t); i >= 0 {
		return i
	}
	return len(Tactics)
}

// ATT&CK ids of the class mapping (all in enrich/attack's table).
const (
	techNetworkServiceDiscovery = "T1046"
	techUnixShell               = "T1059.004"
	techSSH                     = "T1021.004"
	techExfilC2                 = "T1041"
	techSizeLimits              = "T1030"
	techWebProtocols            = "T1071.001"
)

// Step is one step of an intent chain.
type Step struct {
	Tactic    string
	RecordIDs []string
	Summary   string
	Origin    string // "rules" or "model"
}

// Mapping is the deterministic reading of a bundle.
type Mapping struct {
	// Chain is ordered by tactic (kill-chain order); every detection of
	// the bundle is in at least one step.
	Chain []Step
	// Techniques are the well-formed technique ids from classes and rule
	// hits, sorted and unique; Split separates vetted from unvetted.
	Techniques []string
}

// stepBuilder collects one tactic's records and notes.
type stepBuilder struct {
	ids     []string
	notes   []string
	rules   []string // recon rules (reconnaissance step)
	targets int      // largest recon count (reconnaissance step)
}

func (s *stepBuilder) add(id, note string) {
	if !slices.Contains(s.ids, id) {
		s.ids = append(s.ids, id)
	}
	if note != "" && !slices.Contains(s.notes, note) {
		s.notes = append(s.notes, note)
	}
}

// Deterministic maps b to techniques and an intent chain.
func Deterministic(b *evidence.Bundle) Mapping {
	steps := map[string]*stepBuilder{}
	techs := map[string]bool{}
	step := func(tactic string) *stepBuilder {
		s, ok := steps[tactic]
		if !ok {
			s = &stepBuilder{}
			steps[tactic] = s
		}
		return s
	}
	agent := false
	for _, d := range b.Detections {
		switch schemas.Class(d.Class) {
		case schemas.ClassAgentShell, schemas.ClassHandoff, schemas.ClassAgentExfil:
			agent = true
		}
	}
	for _, d := range b.Detections {
		placed := false
		for _, h := range d.Rules {
			recon := evidence.IsRecon(h.Tags)
			reconTech := false
			for _, t := range h.Techniques {
				if !attack.ValidID(t) {
					continue
				}
				techs[t] = true
				tactic := primaryTactic(t)
				if recon && (tactic == "reconnaissance" || tactic == "discovery") {
					reconTech = true
					continue
				}
				if tactic != "" {
					step(tactic).add(d.ID, "")
					placed = true
				}
			}
			if recon {
				if !reconTech {
					techs[techNetworkServiceDiscovery] = true
				}
				st := step("reconnaissance")
				st.add(d.ID, "")
				if !slices.Contains(st.rules, h.ID) {
					st.rules = append(st.rules, h.ID)
				}
				st.targets = max(st.targets, d.ReconTargets)
				placed = true
			}
		}
		switch schemas.Class(d.Class) {
		case schemas.ClassAgentShell, schemas.ClassHandoff:
			techs[techUnixShell] = true
			what := "agent-driven shell"
			if d.Class == string(schemas.ClassHandoff) {
				what = "session handed between a person and an agent"
				if d.Handoff != nil && d.Handoff.Direction != "" {
					what = "session handed over (" + d.Handoff.Direction + ")"
				}
			}
			note := fmt.Sprintf("%s to %s", what, d.Dst)
			if d.Features.Commands > 0 {
				note += fmt.Sprintf(", %d commands", d.Features.Commands)
			}
			step("execution").add(d.ID, note)
			if ssh(d) && d.Internal {
				techs[techSSH] = true
				step("lateral-movement").add(d.ID, "SSH to internal host "+d.Dst)
			}
			placed = true
		case schemas.ClassAgentExfil:
			techs[techExfilC2] = true
			techs[techSizeLimits] = true
			note := fmt.Sprintf("machine-regular upload of %d bytes to %s", d.BytesOut, d.Dst)
			if d.Features.UploadChunks > 0 {
				note += fmt.Sprintf(" in %d chunks", d.Features.UploadChunks)
			}
			step("exfiltration").add(d.ID, note)
			placed = true
		case schemas.ClassLLMStream:
			if agent {
				techs[techWebProtocols] = true
			}
			note := "LLM stream from " + d.Dst
			if d.Route != nil && d.Route.Name != "" && d.Route.Name != "unknown" {
				note += " (route " + d.Route.Name + ")"
			}
			step("command-and-control").add(d.ID, note)
			placed = true
		}
		if !placed {
			// A detection no mapping covers still belongs to the chain:
			// as execution context, the most generic reading of agent or
			// model activity.
			step("execution").add(d.ID, "detection "+d.Class+" to "+d.Dst)
		}
	}
	var m Mapping
	tactics := make([]string, 0, len(steps))
	for t := range steps {
		tactics = append(tactics, t)
	}
	sort.Slice(tactics, func(i, j int) bool { return TacticOrder(tactics[i]) < TacticOrder(tactics[j]) })
	for _, t := range tactics {
		s := steps[t]
		if len(s.rules) > 0 {
			note := "the host scanned"
			if s.targets > 0 {
				note = fmt.Sprintf("the host probed about %d targets", s.targets)
			}
			rules := "rule "
			if len(s.rules) > 1 {
				rules = "rules "
			}
			s.notes = append([]string{note + " (" + rules + strings.Join(s.rules, ", ") + ")"}, s.notes...)
		}
		m.Chain = append(m.Chain, Step{Tactic: t, RecordIDs: s.ids, Summary: summary(t, s.notes), Origin: "rules"})
	}
	for t := range techs {
		m.Techniques = append(m.Techniques, t)
	}
	sort.Strings(m.Techniques)
	return m
}

func ssh(d evidence.Detection) bool {
	return d.DstPort == 22 || strings.EqualFold(d.Service, "ssh")
}

func summary(tactic string, notes []string) string {
	label := strings.ReplaceAll(tactic, "-", " ")
	if len(notes) == 0 {
		return label
	}
	return label + ": " + strings.Join(notes, "; ")
}

// primaryTactic is the first tactic the attack table lists for id ("" when
// the id is not in the table).
func primaryTactic(id string) string {
	if t, ok := attack.Lookup(id); ok && len(t.Tactics) > 0 {
		return t.Tactics[0]
	}
	return ""
}

// Split separates ids into vetted ones (in Aegis's ATT&CK table) and
// unvetted ones (well-formed, not in the table); ill-formed ids are
// dropped. Both results are sorted and unique.
func Split(ids []string) (vetted, unvetted []string) {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] || !attack.ValidID(id) {
			continue
		}
		seen[id] = true
		if _, ok := attack.Lookup(id); ok {
			vetted = append(vetted, id)
		} else {
			unvetted = append(unvetted, id)
		}
	}
	sort.Strings(vetted)
	sort.Strings(unvetted)
	return vetted, unvetted
}

// Merge joins a model's chain with the deterministic one: the model's
// steps first, in its order, then, for every detection the model's chain
// does not name, the deterministic steps that name it (restricted to the
// uncovered ids), so no detection drops out of the chain. Steps are
// numbered from 1 in the result.
func Merge(model []Step, det []Step) []schemas.ChainStep {
	covered := map[string]bool{}
	var out []schemas.ChainStep
	for _, s := range model {
		if len(s.RecordIDs) == 0 {
			continue
		}
		for _, id := range s.RecordIDs {
			covered[id] = true
		}
		out = append(out, schemas.ChainStep{Tactic: s.Tactic, RecordIDs: slices.Clone(s.RecordIDs), Summary: s.Summary, Origin: "model"})
	}
	modelSteps := len(out)
	for _, s := range det {
		var ids []string
		for _, id := range s.RecordIDs {
			if !covered[id] {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			continue
		}
		summary := s.Summary
		if modelSteps > 0 {
			summary += " (added by Aegis's rule mapping: the model's chain left these detections out)"
		}
		out = append(out, schemas.ChainStep{Tactic: s.Tactic, RecordIDs: ids, Summary: summary, Origin: "rules"})
	}
	for i := range out {
		out[i].Step = i + 1
	}
	return out
}

// Techniques builds the verdict's vetted technique list from the
// deterministic and the model's vetted ids, sorted by id, with names,
// tactics and origin.
func Techniques(det, model []string) []schemas.VerdictTechnique {
	origin := map[string]string{}
	for _, id := range det {
		origin[id] = "rules"
	}
	for _, id := range model {
		if origin[id] == "rules" {
			origin[id] = "both"
		} else if origin[id] == "" {
			origin[id] = "model"
		}
	}
	out := make([]schemas.VerdictTechnique, 0, len(origin))
	for id, o := range origin {
		t, ok := attack.Lookup(id)
		if !ok {
			continue
		}
		out = append(out, schemas.VerdictTechnique{ID: id, Name: t.Name, Tactics: slices.Clone(t.Tactics), Origin: o})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Narrative is the deterministic one-paragraph account of a bundle and its
// mapping, for verdicts the model did not write.
func Narrative(b *evidence.Bundle, m Mapping) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Host %s had %d detection", b.Source, len(b.Detections))
	if len(b.Detections) != 1 {
		sb.WriteString("s")
	}
	fmt.Fprintf(&sb, " between %s and %s", b.Start, b.End)
	if len(m.Chain) > 0 {
		parts := make([]string, len(m.Chain))
		for i, s := range m.Chain {
			parts[i] = strings.ReplaceAll(s.Tactic, "-", " ")
		}
		sb.WriteString("; Aegis's rule mapping reads them as " + strings.Join(parts, ", then "))
	}
	if len(m.Techniques) > 0 {
		sb.WriteString(" (ATT&CK " + strings.Join(m.Techniques, ", ") + ")")
	}
	sb.WriteString(".")
	return sb.String()
}

// RouteOpinion is the deterministic comment on the window's model routes.
func RouteOpinion(b *evidence.Bundle) string {
	var parts []string
	streams := 0
	for _, d := range b.Detections {
		if d.Class != string(schemas.ClassLLMStream) {
			continue
		}
		streams++
		if d.Route == nil || d.Route.Name == "" || d.Route.Name == "unknown" {
			continue
		}
		p := fmt.Sprintf("%s (score %.2f", d.Route.Name, d.Route.Score)
		if d.Route.SNI != "" {
			p += ", SNI " + d.Route.SNI
		}
		p += ")"
		if !slices.Contains(parts, p) {
			parts = append(parts, p)
		}
	}
	switch {
	case streams == 0:
		return "no LLM stream in the window"
	case len(parts) == 0:
		return fmt.Sprintf("%d LLM stream(s), route unknown: no profile matched", streams)
	}
	return fmt.Sprintf("%d LLM stream(s); fingerprinted route: %s", streams, strings.Join(parts, ", "))
}
