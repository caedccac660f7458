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
	// Shell structure of the answers to commands: PTY echo (first answer
	// packet the command's size), a repeated prompt (last answer packet of
	// a common size), several writes per answer.
	cmdEcho, promptShare, multiShare float64
	// contentShare is the share of commands whose answer carried output
	// (two or more packets, or more than a keystroke's bytes).
	contentShare float64
	typingMed    float64 // ms, median gap between keys inside bursts
	typingCV     float64
	typingN      int
	longBurst    int     // keys in the longest typing burst
	gridMed      float64 // ms, median gap between machine-speed keystroke-sized writes
	// laterWrites counts the side's non-keystroke writes after its first
	// command; commandShare = commands / laterWrites says whether most of
	// its writes follow think pauses.
	laterWrites  int
	commandShare float64
	events       []event // keys and commands in time order (aliases scratch)
}

// analyseSession walks the merged flushes (flowStart is the flow's first
// packet, 0 if unknown) and classifies each write of side
// into keystroke candidates, machine-speed tiny writes, commands or other
// writes, notes how the other side answered each (otherSizes is the other
// direction's packet sizes), then keeps the keystrokes that form typing
// bursts. Keystroke-sized writes closer than KeyGapMin to the previous write
// of the side, or sooner than MachineReaction after the other side's write,
// are machine input (FastTiny), not keystrokes: people neither type nor
// react that fast, while protocol clients (FTP, SMTP, SSH window adjusts)
// answer within milliseconds.
func (a *Analyzer) analyseSession(m []flush, side uint8, otherSizes []uint32, flowStart int64, sc *scratch) session {
	cfg := &a.cfg
	s := session{side: side}
	ev := sc.events[side][:0]
	tiny := a.sideTinyMax(m, side, sc)
	line := int64(cfg.LineMaxBytes)
	keyGap := float64(cfg.KeyGapMin) / 1e6
	think := float64(cfg.ThinkMin) / 1e6
	answerNs := int64(cfg.AnswerWindow)
	react := float64(cfg.MachineReaction) / 1e6

	// The connection's first packet (the handshake) starts the first
	// silence: a reverse shell's first command comes after the model's
	// pause, a protocol's first message within milliseconds.
	lastEnd, haveAny := flowStart, flowStart != 0
	var prevStart int64
	havePrev := false
	pending := -1 // the event awaiting the other side's answer
	// Keystroke-sized client writes on a machine grid (chaff of SSH
	// keystroke-timing obfuscation, a client feature) and the server's
	// keystroke-sized replies to them (pongs) are filler: they neither
	// answer a command nor end a think pause. Seen from the server side the
	// filler is left alone, so that it cannot invent server-side silences.
	chaff := false
	skipChaff := side == dirClient
	grid := sc.tmp[:0] // gaps between machine-speed keystroke-sized writes
	for i, f := range m {
		if f.dir != side {
			if chaff && f.bytes <= tiny {
				continue
			}
			chaff = false
			if pending >= 0 {
				e := &ev[pending]
				if e.answerFlushes == 0 {
					e.answered = f.start-e.end <= answerNs
					if int(f.first) < len(otherSizes) {
						e.answerFirst = otherSizes[f.first]
					}
				}
				e.answerFlushes++
				e.answerPackets += f.n
				e.answerBytes += f.bytes
				if last := int(f.first) + int(f.n) - 1; last >= 0 && last < len(otherSizes) {
					e.answerLast = otherSizes[last]
				}
			}
			lastEnd = max(lastEnd, f.end)
			haveAny = true
			continue
		}
		if f.bytes <= tiny && havePrev && gapMs(prevStart, f.start) < keyGap {
			// Machine-speed keystroke-sized write.
			s.fastTiny++
			if g := gapMs(prevStart, f.start); g > 0 {
				grid = append(grid, g)
			}
			prevStart = f.start
			if skipChaff {
				// Chaff: it ends no pause and leaves the pending answer open.
				chaff = true
				continue
			}
			pending = -1
			lastEnd = max(lastEnd, f.end)
			continue
		}
		pending, chaff = -1, false
		pause := -1.0
		if haveAny {
			pause = gapMs(lastEnd, f.start)
		}
		e := event{start: f.start, end: f.end, bytes: f.bytes, pauseMs: pause}
		switch {
		case f.bytes <= tiny:
			if i > 0 && m[i-1].dir != side && pause < react {
				s.fastTiny++
				e.kind = 0
				break
			}
			e.kind = evKeyCandidate
			if i+1 < len(m) && m[i+1].dir != side && m[i+1].bytes <= tiny {
				e.echoed = true
			}
		case f.bytes <= line && pause >= think:
			e.kind = evCommand
		default:
			e.kind = evOther
		}
		if e.kind != 0 {
			ev = append(ev, e)
			pending = len(ev) - 1
		}
		prevStart, havePrev = f.start, true
		lastEnd = max(lastEnd, f.end)
		haveAny = true
	}

	sc.tmp = grid
	if len(grid) > 0 {
		s.gridMed = median(grid)
	}

	// Keystroke candidates in bursts of >= 3 at most TypingBurstGap apart
	// (no other write of this side in between) are typed keys.
	burstGap := float64(cfg.TypingBurstGap) / 1e6
	typing := sc.work2[:0]
	for i := 0; i < len(ev); {
		if ev[i].kind != evKeyCandidate {
			i++
			continue
		}
		j := i + 1
		for j < len(ev) && ev[j].kind == evKeyCandidate && gapMs(ev[j-1].start, ev[j].start) <= burstGap {
			j++
		}
		if j-i >= 3 {
			s.longBurst = max(s.longBurst, j-i)
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
	// Compact to keys and commands, counting the writes after the first
	// command (commands and other non-keystroke writes).
	out := ev[:0]
	seenCmd := false
	for _, e := range ev {
		if e.kind == evCommand {
			seenCmd = true
		}
		if seenCmd && (e.kind == evCommand || e.kind == evOther) {
			s.laterWrites++
		}
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
	lasts := sc.sizes[:0]
	minCmd := int64(math.MaxInt64)
	echoes, multi, content := 0, 0, 0
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
			if e.answerFlushes > 0 {
				if d := int64(e.answerFirst) - e.bytes; d >= -echoSlack && d <= echoSlack {
					echoes++
				}
				if e.answerFlushes >= 2 {
					multi++
				}
				if e.answerPackets >= 2 || e.answerBytes > tiny {
					content++
				}
				if e.answerPackets >= 2 {
					// A prompt ends an answer that carried output too.
					lasts = append(lasts, e.answerLast)
				}
			}
		}
	}
	sc.work = pauses
	sc.sizes = lasts
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
		s.cmdEcho = float64(echoes) / float64(s.commands)
		s.multiShare = float64(multi) / float64(s.commands)
		s.contentShare = float64(content) / float64(s.commands)
		s.promptShare = modeShare(lasts) * float64(len(lasts)) / float64(s.commands)
	}
	return s
}

// echoSlack is how far a PTY echo's packet may differ from the command's:
// the terminal echoes "cmd\r\n" for "cmd\n", and SSH pads to 8 or 16 bytes.
const echoSlack = 16

// modeShare returns the share of xs at its most common value (sorting xs).
func modeShare(xs []uint32) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	best, run := 0, 0
	for i := range xs {
		if i > 0 && xs[i] == xs[i-1] {
			run++
		} else {
			run = 1
		}
		best = max(best, run)
	}
	return float64(best) / float64(len(xs))
}

// sideTinyMax is the keystroke-size bound for one side: TinyMaxBytes, or
// less when the side's smallest writes are much smaller. Encrypted
// keystrokes are 23-52 B (TLS, SSH), plaintext ones 1-3 B (telnet, a raw
// shell after stty raw); there a 20-character command is no keystroke. The
// bound is the side's 10th-percentile write (nearest rank) plus 16 B (one
// cipher block or an escape sequence), capped at TinyMaxBytes.
func (a *Analyzer) sideTinyMax(m []flush, side uint8, _ *scratch) int64 {
	limit := int64(a.cfg.TinyMaxBytes)
	// Only sizes below limit-16 can lower the bound: count them by size
	// and find the 10th percentile by nearest rank.
	const maxCounted = 256
	var counts [maxCounted]int
	n, small := 0, 0
	for _, f := range m {
		if f.dir != side {
			continue
		}
		n++
		if f.bytes < limit-16 && f.bytes < maxCounted {
			counts[f.bytes]++
			small++
		}
	}
	rank := (n + 9) / 10 // nearest-rank 10th percentile: the ceil(n/10)-th smallest
	if n == 0 || small < rank {
		return limit
	}
	seen := 0
	for size, c := range counts {
		if seen += c; seen >= rank {
			return min(limit, int64(size)+16)
		}
	}
	return limit
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
