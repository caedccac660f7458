package cadence

import (
	"fmt"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// Handoff directions.
const (
	HumanToAgent = "human_to_agent"
	AgentToHuman = "agent_to_human"
)

// handoffEval is a change point in a session's acts.
type handoffEval struct {
	ok        bool
	score     float64
	direction string
	at        int64 // ns, the first act of the new phase
	why       []string
}

// evalHandoff looks for the split of the session's acts (keystrokes K and
// command lines C, in time order) that best separates a typing phase from a
// command phase: it maximises (K before + C after) - (C before + K after)
// for human-to-agent, and the mirror for agent-to-human. Each phase must
// carry enough evidence on its own (MinKeystrokes keys at >= 80% purity,
// MinCommands commands at >= 75% purity), and the command phase must look
// like an agent (answered, pauses within model latency).
func (a *Analyzer) evalHandoff(s *session) handoffEval {
	cfg := &a.cfg
	ev := s.events
	var e handoffEval
	totalK, totalC := 0, 0
	for _, x := range ev {
		if x.kind == evKey {
			totalK++
		} else {
			totalC++
		}
	}
	if totalK < cfg.MinKeystrokes || totalC < cfg.MinCommands {
		return e
	}
	bestGain, bestSplit, bestDir := 0, -1, ""
	kl, cl := 0, 0
	for split := 0; split <= len(ev); split++ {
		if split > 0 {
			if ev[split-1].kind == evKey {
				kl++
			} else {
				cl++
			}
		}
		kr, cr := totalK-kl, totalC-cl
		if kl >= cfg.MinKeystrokes && cr >= cfg.MinCommands && kl >= 4*cl && cr >= 3*kr {
			if g := kl + cr - cl - kr; g > bestGain {
				bestGain, bestSplit, bestDir = g, split, HumanToAgent
			}
		}
		if cl >= cfg.MinCommands && kr >= cfg.MinKeystrokes && cl >= 3*kl && kr >= 4*cr {
			if g := cl + kr - kl - cr; g > bestGain {
				bestGain, bestSplit, bestDir = g, split, AgentToHuman
			}
		}
	}
	if bestSplit < 0 {
		return e
	}
	human, agent := ev[:bestSplit], ev[bestSplit:]
	if bestDir == AgentToHuman {
		human, agent = agent, human
	}
	// The agent phase must look like a command loop.
	cmds, answered, inBand, fast := 0, 0, 0, 0
	minCmd := int64(1 << 62)
	var pauses []float64
	for _, x := range agent {
		if x.kind != evCommand {
			continue
		}
		cmds++
		if x.answered {
			answered++
		}
		if x.pauseMs <= float64(cfg.ThinkMax)/1e6 {
			inBand++
		}
		minCmd = min(minCmd, x.bytes)
		pauses = append(pauses, x.pauseMs)
	}
	if cmds == 0 || 10*answered < 6*cmds || 2*inBand < cmds {
		return e
	}
	fast = a.fastCommands(agent, minCmd)
	keys := 0
	for _, x := range human {
		if x.kind == evKey {
			keys++
		}
	}
	var medPause float64
	if len(pauses) > 0 {
		medPause = medianSmall(pauses)
	}
	// The new phase starts at its first act of its own kind.
	newPhase, want := ev[bestSplit:], evCommand
	if bestDir == AgentToHuman {
		want = evKey
	}
	for _, x := range newPhase {
		if x.kind == want {
			e.at = x.start
			break
		}
	}
	e.ok = true
	e.direction = bestDir
	e.score = min(0.6+0.1*clamp01(float64(keys)/20)+0.1*clamp01(float64(cmds)/8)+
		0.1*float64(fast)/float64(cmds)+0.05*float64(answered)/float64(cmds), 0.95)
	if bestDir == HumanToAgent {
		e.why = append(e.why, fmt.Sprintf("client typed %d keystrokes, then sent %d whole command lines as single writes after think pauses (median %.1f s)",
			keys, cmds, medPause/1000))
	} else {
		e.why = append(e.why, fmt.Sprintf("client sent %d whole command lines after think pauses (median %.1f s), then typed %d keystrokes",
			cmds, medPause/1000, keys))
	}
	if fast > 0 {
		e.why = append(e.why, fmt.Sprintf("%d of %d commands in the agent phase came sooner than a person could type them", fast, cmds))
	}
	return e
}

// handoffRecord renders the change moment.
func handoffRecord(e handoffEval, flowStart int64) *schemas.Handoff {
	return &schemas.Handoff{
		Direction: e.direction,
		At:        time.Unix(0, e.at).UTC().Format(time.RFC3339Nano),
		AtOffsetS: nonneg(gapMs(flowStart, e.at) / 1000),
	}
}

// medianSmall sorts xs in place and returns its median.
func medianSmall(xs []float64) float64 {
	return medianOfInPlace(xs, nil)
}
