package cadence

import (
	"math"
	"slices"
)

// session is the interactive structure seen from one side (the side that
// would be typing or issuing commands).
type session struct {
	side        uint8
	keys        int // typed keystrokes (inside bursts of >= 3)
	echoed      int
	fastTiny    int
	commands    int
	answered    int
	fastCmds    int
	pauseMed    float64 // ms
	pauseCV     float64
	pauseBand   float64 // share of pauses within [ThinkMin, ThinkMax]
	sizeMode    float64 // share of commands at the most common size
	cmdMedBytes float64
	typingMed   float64 // ms, median gap between keys inside bursts
	typingCV    float64
	typingN     int
	// laterWrites counts the side's non-keystroke writes after its first
	// command; commandShare = commands / laterWrites says whether most of
	// its writes follow think pauses.
	laterWrites  int
	commandShare float64
	events       []event // keys and commands in time order (aliases scratch)
}

// analyseSession walks the merged flushes and classifies each write of side
// into keystroke candidates, machine-speed tiny writes, commands or neither,
// then keeps the keystrokes that form typing bursts.
func (a *Analyzer) analyseSession(m []flush, side uint8, sc *scratch) session {
	cfg := &a.cfg
	s := session{side: side}
	ev := sc.events[side][:0]
	tiny := int64(cfg.TinyMaxBytes)
	line := int64(cfg.LineMaxBytes)
	keyGap := float64(cfg.KeyGapMin.Milliseconds())
	think := float64(cfg.ThinkMin) / 1e6
	answerNs := int64(cfg.AnswerWindow)

	var lastEnd, prevStart int64
	haveAny, havePrev := false, false
	var seq int32 // bumps on every non-keystroke write of side: breaks bursts
	firstCmd := -1
	for i, f := range m {
		if f.dir != side {
			lastEnd = max(lastEnd, f.end)
			haveAny = true
			continue
		}
		pause := -1.0
		if haveAny {
			pause = gapMs(lastEnd, f.start)
		}
		switch {
		case f.bytes <= tiny:
			if havePrev && gapMs(prevStart, f.start) < keyGap {
				s.fastTiny++
				break
			}
			e := event{start: f.start, end: f.end, bytes: f.bytes, kind: evKeyCandidate, seq: seq}
			if i+1 < len(m) && m[i+1].dir != side && m[i+1].bytes <= tiny {
				e.echoed = true
			}
			ev = append(ev, e)
		case f.bytes <= line && pause >= think:
			e := event{start: f.start, end: f.end, bytes: f.bytes, kind: evCommand, pauseMs: pause, seq: seq}
			if i+1 < len(m) && m[i+1].dir != side && m[i+1].start-f.end <= answerNs {
				e.answered = true
			}
			ev = append(ev, e)
			if firstCmd < 0 {
				firstCmd = i
			}
			seq++
			s.laterWrites++
		default:
			seq++
			if firstCmd >= 0 {
				s.laterWrites++
			}
		}
		prevStart, havePrev = f.start, true
		lastEnd = max(lastEnd, f.end)
		haveAny = true
	}

	// Keep keystroke candidates that form bursts of >= 3 keys at most
	// TypingBurstGap apart with no other write of this side in between.
	burstGap := float64(cfg.TypingBurstGap) / 1e6
	typing := sc.work2[:0]
	for i := 0; i < len(ev); {
		if ev[i].kind != evKeyCandidate {
			i++
			continue
		}
		j := i + 1
		for j < len(ev) && ev[j].kind == evKeyCandidate && ev[j].seq == ev[j-1].seq &&
			gapMs(ev[j-1].start, ev[j].start) <= burstGap {
			j++
		}
		if j-i >= 3 {
			for k := i; k < j; k++ {
				ev[k].kind = evKey
				if k > i {
					typing = append(typing, gapMs(ev[k-1].start, ev[k].start))
				}
			}
		}
		i = j
	}
	sc.work2 = typing
	// Compact to keys and commands.
	out := ev[:0]
	for _, e := range ev {
		if e.kind == evKey || e.kind == evCommand {
			out = append(out, e)
		}
	}
	sc.events[side] = out
	s.events = out

	s.typingN = len(typing)
	if len(typing) > 0 {
		s.typingMed = medianOf(typing, sc)
		mean, std := meanStd(typing)
		s.typingCV = cv(mean, std)
	}

	// Command statistics.
	pauses := sc.work[:0]
	minCmd := int64(math.MaxInt64)
	for _, e := range out {
		switch e.kind {
		case evKey:
			s.keys++
			if e.echoed {
				s.echoed++
			}
		case evCommand:
			s.commands++
			if e.answered {
				s.answered++
			}
			pauses = append(pauses, e.pauseMs)
			minCmd = min(minCmd, e.bytes)
		}
	}
	sc.work = pauses
	if s.commands > 0 {
		s.pauseMed = medianOf(pauses, sc)
		mean, std := meanStd(pauses)
		s.pauseCV = cv(mean, std)
		s.commandShare = float64(s.commands) / float64(max(s.laterWrites, s.commands))
		hi := float64(cfg.ThinkMax) / 1e6
		inBand := 0
		for _, p := range pauses {
			if p <= hi {
				inBand++
			}
		}
		s.pauseBand = float64(inBand) / float64(s.commands)
		s.fastCmds = a.fastCommands(out, minCmd)
		s.sizeMode, s.cmdMedBytes = commandSizeMode(out, sc)
	}
	return s
}

// fastCommands counts commands sent sooner after the previous output than a
// person could have typed them. The protocol overhead per write is estimated
// from the smallest command as if it were 3 characters ("ls\n"): for SSH
// that under-counts characters, for raw TCP it is close, and both err on the
// side of "a human could have typed this".
func (a *Analyzer) fastCommands(ev []event, minCmd int64) int {
	overhead := max(minCmd-3, 0)
	charMs := float64(a.cfg.HumanCharTime) / 1e6
	reactMs := float64(a.cfg.HumanReaction) / 1e6
	n := 0
	for _, e := range ev {
		if e.kind != evCommand {
			continue
		}
		chars := float64(e.bytes - overhead)
		if e.pauseMs < reactMs+chars*charMs {
			n++
		}
	}
	return n
}

// commandSizeMode returns the share of commands at the most common size and
// the median command size.
func commandSizeMode(ev []event, sc *scratch) (float64, float64) {
	sizes := sc.tmp[:0]
	for _, e := range ev {
		if e.kind == evCommand {
			sizes = append(sizes, float64(e.bytes))
		}
	}
	sc.tmp = sizes
	if len(sizes) == 0 {
		return 0, 0
	}
	slices.Sort(sizes)
	best, run := 0, 0
	for i := range sizes {
		if i > 0 && sizes[i] == sizes[i-1] {
			run++
		} else {
			run = 1
		}
		best = max(best, run)
	}
	return float64(best) / float64(len(sizes)), quantileSorted(sizes, 0.5)
}
