package coupling

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aegis-nsm/aegis/enrich/attack"
	"github.com/aegis-nsm/aegis/schemas"
)

// ATT&CK technique ids a finding maps to (names from the attack table).
const (
	techWeb       = "T1071.001" // Web Protocols: the model traffic itself
	techUnixShell = "T1059.004" // Unix Shell: commands in a session
	techSSH       = "T1021.004" // SSH: commands or exec connections over SSH
	techSMB       = "T1021.002" // SMB/Windows Admin Shares
	techRDP       = "T1021.001" // Remote Desktop Protocol
)

// Techniques lists every technique id a finding can carry.
var Techniques = []string{techWeb, techUnixShell, techSSH, techSMB, techRDP}

// Severity scores (ECS event.severity), as the detection records use them.
const (
	scoreHigh     = 73
	scoreCritical = 99
)

// techniques returns the technique ids of a channel.
func techniques(kind ActionKind, service string, port uint16) []string {
	ids := []string{techWeb}
	if kind == ActionCommand {
		ids = append(ids, techUnixShell)
	}
	svc := strings.ToLower(service)
	switch {
	case strings.Contains(svc, "ssh") || (svc == "" && port == 22):
		ids = append(ids, techSSH)
	case strings.Contains(svc, "smb") || (svc == "" && port == 445):
		ids = append(ids, techSMB)
	case strings.Contains(svc, "rdp") || (svc == "" && port == 3389):
		ids = append(ids, techRDP)
	}
	return ids
}

// ts formats ns since the epoch as RFC 3339 with nanoseconds, UTC.
func ts(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// round3 rounds to three decimals (JSON stays short; the values are
// deterministic either way).
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func nsToMs(ns int64) float64 { return float64(ns) / 1e6 }

// describe names a channel in words.
func describe(c *channel) string {
	m := c.evs[0].m
	if c.key.kind == ActionCommand {
		s := "a command in session " + c.key.key
		if m.label != "" {
			s += " (" + m.label + ")"
		}
		return s
	}
	if m.label != "" {
		return "a new " + m.label + " connection"
	}
	return fmt.Sprintf("a new connection to port %d", m.port)
}

// record builds the published finding of one coupled channel.
func (d *Detector) record(s *snapshot, c *channel, ends []int64, endIdx []int, ps []pair, nr nullResult, obs int, closeness int64, m int) *schemas.Coupling {
	cfg := &d.cfg
	w := int64(cfg.LagWindow)
	lags := make([]float64, len(ps))
	for i, p := range ps {
		lags[i] = nsToMs(c.times[p.act] - ends[p.end])
	}
	sorted := slices.Clone(lags)
	slices.Sort(sorted)
	med, p90 := quantile(sorted, 0.5), quantile(sorted, 0.9)

	shown := ps
	omitted := 0
	if len(shown) > cfg.MaxEvidence {
		omitted = len(shown) - cfg.MaxEvidence
		shown = shown[omitted:]
	}
	streams := make([]schemas.CouplingStream, len(shown))
	actions := make([]schemas.CouplingAction, len(shown))
	for i, p := range shown {
		st := s.streams[endIdx[p.end]]
		streams[i] = schemas.CouplingStream{RecordID: st.m.recordID, UID: st.m.uid, CommunityID: st.m.communityID, Route: st.m.label,
			Start: ts(st.start), End: ts(st.end)}
		a := c.evs[p.act]
		actions[i] = schemas.CouplingAction{RecordID: a.m.recordID, UID: a.m.uid, CommunityID: a.m.communityID, FlowKey: a.m.flowKey,
			Class: string(a.m.className()), Kind: a.kind.String(), Time: ts(a.t), LagMs: round3(lags[omitted+i]), Service: a.m.label, Port: a.m.port}
	}

	first := c.evs[0].m
	ch := schemas.CouplingChannel{Kind: c.key.kind.String(), Service: first.label, Port: first.port}
	if c.key.kind == ActionCommand {
		ch.FlowKey, ch.RecordID = first.flowKey, first.recordID
	} else if first.label != "" {
		ch.Port = 0 // the channel is the service, whatever the ports
	}
	techs := techniques(c.key.kind, first.label, first.port)
	sev, score := "high", scoreHigh
	if c.key.kind == ActionCommand || len(techs) > 1 {
		sev, score = "critical", scoreCritical
	}

	t0, t1 := span(ends, c.times, w)
	evStart := s.streams[endIdx[shown[0].end]].start
	evEnd := c.times[shown[len(shown)-1].act]
	z := (float64(closeness) - nr.mean) / math.Max(nr.sd, float64(w)/2)
	padj := min(1, nr.p*float64(m))

	host := s.ip.String()
	reasons := []string{
		fmt.Sprintf("%d of %d model answers of %s were followed within %s by %s (median lag %.0f ms, p90 %.0f ms)",
			obs, len(ends), host, cfg.LagWindow, describe(c), med, p90),
		fmt.Sprintf("closeness %.0f ms (the lag window left when the actions came, summed); the same %d actions shifted by %s to %s (%d random circular shifts) give %.1f cycles and %.0f ms (sd %.0f) on average: p = %.3g",
			nsToMs(closeness), len(c.times), time.Duration(nr.minShift).Round(time.Millisecond), time.Duration(nr.maxShift).Round(time.Millisecond), nr.perms, nr.cycles, nsToMs(int64(nr.mean)), nsToMs(int64(nr.sd)), nr.p),
		fmt.Sprintf("%d channel(s) of this host had enough actions to test: adjusted p = %.3g <= alpha %g", m, padj, cfg.Alpha),
	}

	h := sha256.New()
	fmt.Fprintf(h, "aegis/coupling\x00%s\x00%s\x00%d\x00%s\x00%d\x00%d\x00%d", schemas.CouplingSchemaVersion, host, c.key.kind, c.key.key,
		ends[ps[0].end], ends[ps[len(ps)-1].end], obs)
	sum := h.Sum(nil)

	return &schemas.Coupling{
		Timestamp: ts(evEnd),
		Event: schemas.Event{
			ID:       hex.EncodeToString(sum[:16]),
			Kind:     "alert",
			Category: []string{"network", "intrusion_detection"},
			Type:     []string{"info"},
			Dataset:  schemas.CouplingDataset,
			Start:    ts(evStart),
			End:      ts(evEnd),
			Duration: max(evEnd-evStart, 0),
			Severity: score,
		},
		Source: schemas.CouplingSource{IP: host},
		Threat: schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{ID: techs, Name: attack.Names(techs)}},
		Aegis: schemas.CouplingAegis{
			SchemaVersion: schemas.CouplingSchemaVersion,
			Severity:      sev,
			Reasons:       reasons,
			Channel:       ch,
			Cycles:        obs,
			LagMedianMs:   round3(med),
			LagP90Ms:      round3(p90),
			ClosenessMs:   round3(nsToMs(closeness)),
			Score:         round3(z),
			PValue:        nr.p,
			PAdjusted:     padj,
			Alpha:         cfg.Alpha,
			Null: schemas.CouplingNull{Method: "circular_shift", Permutations: nr.perms,
				MinShiftMs: round3(nsToMs(nr.minShift)), MaxShiftMs: round3(nsToMs(nr.maxShift)),
				ExpectedCycles: round3(nr.cycles), ExpectedClosenessMs: round3(nsToMs(int64(nr.mean))), SDClosenessMs: round3(nsToMs(int64(nr.sd))),
				ChannelsTested: m},
			Window:          schemas.CouplingWindow{LagMs: round3(nsToMs(w)), Start: ts(t0), End: ts(t1 - 1)},
			StreamsSeen:     len(ends),
			ActionsSeen:     len(c.times),
			Streams:         streams,
			Actions:         actions,
			EvidenceOmitted: omitted,
		},
	}
}

// Link is a record a finding ties together.
type Link struct {
	// RecordID is the linked record's event.id.
	RecordID string
	// Role is "stream" (an llm_stream record whose answers the actions
	// followed) or "action" (the session or connection record the actions
	// came from).
	Role string
	// Class is the linked record's class when the finding knows it
	// (llm_stream for streams; the Action's Class for actions).
	Class schemas.Class
}

// Links returns every record id a finding names (its channel's session
// and the listed evidence), each once, streams first, in evidence order.
// Records without an id (flows Aegis published nothing for) are left out.
func Links(c *schemas.Coupling) []Link {
	var out []Link
	seen := map[string]bool{}
	add := func(id, role string, class schemas.Class) {
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		out = append(out, Link{RecordID: id, Role: role, Class: class})
	}
	for _, s := range c.Aegis.Streams {
		add(s.RecordID, "stream", schemas.ClassLLMStream)
	}
	for _, a := range c.Aegis.Actions {
		add(a.RecordID, "action", schemas.Class(a.Class))
	}
	if id := c.Aegis.Channel.RecordID; id != "" && !seen[id] {
		add(id, "action", "")
	}
	return out
}

// LinkedDetections returns the ids of the agent_shell and handoff
// detection records a finding supports: the sessions whose commands (or
// the connections whose starts) followed the model's answers. Their
// severity may be raised; the finding never lowers anything. A coupled
// session the cadence called human_interactive is not listed (see Links):
// a model drove it, which the analyst should see in the finding itself.
func LinkedDetections(c *schemas.Coupling) []string {
	var out []string
	for _, l := range Links(c) {
		if l.Role == "action" && (l.Class == schemas.ClassAgentShell || l.Class == schemas.ClassHandoff) {
			out = append(out, l.RecordID)
		}
	}
	return out
}
