package cadence

import (
	"fmt"

	"github.com/aegis-nsm/aegis/schemas"
)

// minPayloadPackets is the least payload (both directions) worth a cadence
// verdict; fewer packets carry no rhythm.
const minPayloadPackets = 4

// classify turns the evidence into a class, a confidence and reasons. The
// order encodes specificity: a handoff needs both a human and an agent
// phase, exfiltration needs an upload on top of an agent phase, and the
// remaining classes compete on their scores. Every detection class needs
// Config.MinConfidence; below that the flow is human_interactive or other.
func (a *Analyzer) classify(ev *evidence, sc *scratch) Result {
	cfg := &a.cfg
	res := Result{Class: schemas.ClassOther, Route: schemas.RouteMatch{Name: RouteUnknown, SNI: SNINone}}
	if ev.client.Packets+ev.server.Packets < minPayloadPackets {
		res.Confidence = 0.9
		res.Reasons = []string{fmt.Sprintf("too little payload for cadence analysis (%d client, %d server packets)", ev.client.Packets, ev.server.Packets)}
		a.noteSNI(&res, ev.ctx.SNI)
		return res
	}
	tcp := ev.flow.Key.Proto == schemas.ProtoTCP || ev.flow.OrigTuple.Proto == schemas.ProtoTCP

	// A shell needs a reliable byte stream: command sessions are TCP (or
	// an unknown transport), never UDP media or QUIC.
	ho := handoffEval{}
	if !isUDP(ev.flow) {
		ho = a.evalHandoff(&ev.session)
	}
	xScore, xWhy, xReject := a.evalExfil(&ev.sides, ev.upload)
	st := a.evalStream(ev.flow, sc.merged, ev.run, sc)
	aScore, aWhy, aReject := 0.0, []string(nil), "UDP carries no shell session"
	if !isUDP(ev.flow) {
		aScore, aWhy, aReject = a.evalAgentShell(&ev.session, ev.ctx.Service)
	}
	hScore, hWhy, hReject := 0.0, []string(nil), ""
	if !isUDP(ev.flow) {
		// Over UDP, media and games send small datagrams at human-like
		// rates: typing is judged on byte streams only.
		hScore, hWhy, hReject = a.evalHuman(&ev.session, tcp, ev.client.TinyShare, ev.server.Packets)
	}

	switch {
	case ho.ok && ho.score >= cfg.MinConfidence:
		res.Class, res.Confidence, res.Reasons = schemas.ClassHandoff, ho.score, ho.why
		res.Handoff = handoffRecord(ho, ev.flow.First)
		res.Reasons = append(res.Reasons, fmt.Sprintf("%s at +%.1f s", ho.direction, res.Handoff.AtOffsetS))
		a.noteSNI(&res, ev.ctx.SNI)
		return res
	case xScore >= cfg.MinConfidence:
		res.Class, res.Confidence, res.Reasons = schemas.ClassAgentExfil, xScore, xWhy
		res.Reasons = append(res.Reasons, fmt.Sprintf("client sent %s, %.0fx the server's %s", humanBytes(ev.client.Bytes),
			ratio(ev.client.Bytes, ev.server.Bytes), humanBytes(ev.server.Bytes)))
		a.noteSNI(&res, ev.ctx.SNI)
		return res
	}

	// Streams, agent shells and people compete on their scores (in this
	// order on ties).
	lScore := 0.0
	var route schemas.RouteMatch
	var routeWhy []string
	if st.ok {
		route, routeWhy = a.matchRoute(&st.shape, ev.ctx.SNI, sc)
		lScore = min(st.score+0.03*route.Score, 0.97)
		if p, name := servicePrior(ev.ctx.Service); p == 1 {
			// Weak prior: a token-paced run inside a remote shell is
			// command output (a build log, tail -f) more often than a
			// model API tunnelled through it.
			lScore *= 0.7
			st.why = append(st.why, "service "+name+" is a remote shell: the run may be command output (weak prior, confidence lowered)")
		}
	}
	best, bestScore := schemas.ClassOther, 0.0
	for _, c := range []struct {
		class schemas.Class
		score float64
	}{{schemas.ClassLLMStream, lScore}, {schemas.ClassAgentShell, aScore}, {schemas.ClassHumanInteractive, hScore}} {
		if c.score >= cfg.MinConfidence && c.score > bestScore {
			best, bestScore = c.class, c.score
		}
	}
	switch best {
	case schemas.ClassLLMStream:
		res.Class, res.Confidence = best, bestScore
		res.Reasons = append(append(res.Reasons, st.why...), routeWhy...)
		res.Route = route
		return res
	case schemas.ClassAgentShell:
		res.Class, res.Confidence, res.Reasons = best, bestScore, aWhy
	case schemas.ClassHumanInteractive:
		res.Class, res.Confidence, res.Reasons = best, bestScore, hWhy
	default:
		// other: say why nothing fitted, strongest near-miss first.
		near := max(lScore, aScore, hScore, xScore)
		res.Confidence = min(max(0.9-0.5*near, 0.5), 0.9)
		for _, r := range []string{st.reject, aReject, hReject, xReject} {
			if r != "" {
				res.Reasons = append(res.Reasons, r)
			}
		}
		if len(res.Reasons) == 0 {
			res.Reasons = append(res.Reasons, "no token stream, command loop, typing or upload structure")
		}
	}
	a.noteSNI(&res, ev.ctx.SNI)
	return res
}

// noteSNI fills the route's SNI relation for a flow without LLM cadence.
func (a *Analyzer) noteSNI(res *Result, sni string) {
	rel, why := a.sniOnly(sni)
	res.Route.SNI = rel
	if why != "" {
		res.Reasons = append(res.Reasons, why)
	}
}

func ratio(a, b int64) float64 {
	if b <= 0 {
		return float64(a)
	}
	return float64(a) / float64(b)
}
