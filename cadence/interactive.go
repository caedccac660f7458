package cadence

import (
	"fmt"
	"math"
	"strings"
)

// servicePrior reads the IDS service name as a weak prior for a shell:
// +1 for a remote-shell protocol (ssh, telnet, rlogin, rsh), 0 when unknown
// (raw TCP, where reverse shells live), -1 for a protocol that is not a
// shell (http, tls, dns, ...). Zeek joins several services with commas;
// Suricata says "failed" when detection failed. It never decides a class on
// its own: it moves a confidence by a few points and is named in reasons.
func servicePrior(service string) (int, string) {
	s := strings.ToLower(strings.TrimSpace(service))
	if s == "" || s == "failed" || s == "unknown" || s == "-" {
		return 0, ""
	}
	for _, part := range strings.Split(s, ",") {
		switch strings.TrimSpace(part) {
		case "ssh", "telnet", "rlogin", "rsh":
			return 1, s
		}
	}
	return -1, s
}

// reverseExtraCommands is the extra evidence a reverse shell (commands from
// the responder) needs: servers also push line-sized messages after
// silences (notifications, chat), so the bar is higher than for a client.
const reverseExtraCommands = 1

// evalAgentShell scores the command-line structure of a session.
func (a *Analyzer) evalAgentShell(s *session, service string) (float64, []string, string) {
	cfg := &a.cfg
	need := cfg.MinCommands
	if s.side == dirServer {
		need += reverseExtraCommands
	}
	switch {
	case s.commands == 0:
		return 0, nil, "no command-line writes after think pauses"
	case s.commands < need:
		return 0, nil, fmt.Sprintf("only %d command-line writes after think pauses (an agent shell needs %d)", s.commands, need)
	}
	answered := float64(s.answered) / float64(s.commands)
	fast := float64(s.fastCmds) / float64(s.commands)
	switch {
	case answered < 0.6:
		return 0, nil, fmt.Sprintf("only %.0f%% of command-line writes were answered promptly (chat or push, not a shell)", 100*answered)
	case s.keys >= cfg.MinKeystrokes && 2*s.keys > s.commands:
		return 0, nil, fmt.Sprintf("%d typed keystrokes alongside %d command lines: a person is typing", s.keys, s.commands)
	case s.commandShare < 0.5:
		return 0, nil, fmt.Sprintf("only %.0f%% of later writes follow think pauses (request bursts, not a command loop)", 100*s.commandShare)
	case s.commands >= 4 && s.pauseCV < 0.15:
		return 0, nil, fmt.Sprintf("commands come at a fixed period (pause CV %.2f): polling or beaconing, not model latency", s.pauseCV)
	case s.commands >= 4 && s.sizeMode >= 0.8:
		return 0, nil, fmt.Sprintf("%.0f%% of command writes have the same size: a heartbeat or poll", 100*s.sizeMode)
	case s.pauseBand < 0.5:
		return 0, nil, fmt.Sprintf("most pauses before commands exceed %.0f s (median %.1f s): human-paced", cfg.ThinkMax.Seconds(), s.pauseMed/1000)
	}
	if s.contentShare < 0.5 {
		return 0, nil, fmt.Sprintf("only %.0f%% of command-line writes got more than a single keystroke-sized answer (auth failures or acks, not command output)", 100*s.contentShare)
	}
	prior, service := servicePrior(service)
	// Echo and prompt are shell physics; several writes per answer also
	// fit servers that send headers and body apart, so that alone does not
	// count for a service the IDS named as something other than a shell.
	shell := s.cmdEcho >= 0.5 || s.promptShare >= 0.5 || (s.multiShare >= 0.8 && prior == 0)
	if !shell && prior != 1 {
		return 0, nil, fmt.Sprintf("answers show no PTY echo (%.0f%%), no repeated prompt (%.0f%%) and mostly single writes (%.0f%% multi-write): a request/response service, not a shell",
			100*s.cmdEcho, 100*s.promptShare, 100*s.multiShare)
	}
	score := 0.5
	score += 0.2 * clamp01(float64(s.commands-need+1)/8)
	score += 0.15 * fast
	score += 0.1 * clamp01((answered-0.6)/0.4)
	score += 0.05 * s.pauseBand
	who := "client"
	if s.side == dirServer {
		who = "responder"
	}
	why := []string{fmt.Sprintf("%s sent %d whole command lines (median %s) as single writes, each after a think pause (median %.1f s, CV %.2f); %.0f%% answered within %.0f s",
		who, s.commands, humanBytes(int64(s.cmdMedBytes)), s.pauseMed/1000, s.pauseCV, 100*answered, cfg.AnswerWindow.Seconds())}
	if s.fastCmds > 0 {
		why = append(why, fmt.Sprintf("%d of %d commands came sooner after the output than a person could type them (%.0f ms per character)",
			s.fastCmds, s.commands, float64(cfg.HumanCharTime.Milliseconds())))
	}
	if s.keys == 0 {
		why = append(why, "no typed keystrokes")
	} else {
		why = append(why, fmt.Sprintf("only %d typed keystrokes", s.keys))
	}
	if s.side == dirServer {
		score *= 0.9
		why = append(why, "commands flow from the responder to the originator (reverse shell)")
	}
	switch {
	case s.cmdEcho >= 0.5:
		why = append(why, fmt.Sprintf("%.0f%% of commands echoed back at their own size (terminal echo)", 100*s.cmdEcho))
	case s.promptShare >= 0.5:
		why = append(why, fmt.Sprintf("%.0f%% of answers end with a same-size write (shell prompt)", 100*s.promptShare))
	case s.multiShare >= 0.8:
		why = append(why, fmt.Sprintf("%.0f%% of answers arrive as several writes (output and prompt)", 100*s.multiShare))
	}
	switch prior {
	case 1:
		score += 0.03
		why = append(why, "service "+service+" is a remote shell (weak prior)")
	case -1:
		score *= 0.85
		why = append(why, "service "+service+" is not a shell protocol (weak prior, confidence lowered)")
	}
	return min(score, 0.95), why, ""
}

// obfuscationGridMs is OpenSSH's keystroke-timing obfuscation interval
// (ObscureKeystrokeTiming=interval:20, the default since 9.5).
const obfuscationGridMs = 20

// maxTypingBurst is the most keystrokes a person types without any pause of
// TypingBurstGap: a long shell line is under ~200 characters, and people
// stop to read.
const maxTypingBurst = 200

// evalHuman scores typed-keystroke structure. A typed session is two-way:
// keystrokes are echoed, or at least many and answered.
func (a *Analyzer) evalHuman(s *session, tcp bool, clientTinyShare float64, serverPackets int64) (float64, []string, string) {
	cfg := &a.cfg
	if s.keys < cfg.MinKeystrokes {
		if tcp && s.fastTiny >= 20 && s.commands < cfg.MinCommands && clientTinyShare >= 0.5 && math.Abs(s.gridMed-obfuscationGridMs) <= 3 {
			return 0.5, []string{fmt.Sprintf("%d keystroke-sized writes closer together than a person types (< %.0f ms) and no command lines: SSH keystroke-timing obfuscation (20 ms grid) or scripted input, treated as interactive",
				s.fastTiny, float64(cfg.KeyGapMin.Milliseconds()))}, ""
		}
		if s.keys == 0 {
			return 0, nil, "no typed keystrokes"
		}
		return 0, nil, fmt.Sprintf("only %d typed keystrokes (a human phase needs %d)", s.keys, cfg.MinKeystrokes)
	}
	keyShare := float64(s.keys) / float64(s.keys+s.commands)
	if keyShare < 0.6 {
		return 0, nil, fmt.Sprintf("typed keystrokes are only %.0f%% of the client's acts", 100*keyShare)
	}
	if (s.typingN >= 8 && s.typingCV < 0.1) || (s.typingN >= 3 && s.typingCV < 0.05) {
		return 0, nil, fmt.Sprintf("keystroke-sized writes at machine-regular spacing (median %.0f ms, CV %.2f): scripted input", s.typingMed, s.typingCV)
	}
	if s.longBurst > maxTypingBurst {
		return 0, nil, fmt.Sprintf("%d keystroke-sized writes without a pause of %.1f s: a scripted client, not a person typing",
			s.longBurst, cfg.TypingBurstGap.Seconds())
	}
	echo := float64(s.echoed) / float64(s.keys)
	if echo < 0.3 && (s.keys < 3*cfg.MinKeystrokes || serverPackets == 0) {
		return 0, nil, fmt.Sprintf("%d keystroke-sized writes, %.0f%% echoed: too little interaction for a typed session", s.keys, 100*echo)
	}
	score := 0.55 + 0.15*clamp01(float64(s.keys)/30) + 0.15*echo
	why := []string{fmt.Sprintf("%d keystroke-sized client writes in typing bursts, median gap %.0f ms (CV %.2f)", s.keys, s.typingMed, s.typingCV)}
	if s.typingMed >= 60 && s.typingMed <= 800 {
		score += 0.1
		why = append(why, "human typing rhythm (inter-key gaps ~80-400 ms)")
	}
	if s.typingCV >= 0.3 {
		score += 0.05
	}
	if s.echoed > 0 {
		why = append(why, fmt.Sprintf("%.0f%% echoed by the server", 100*echo))
	}
	if s.commands > 0 {
		why = append(why, fmt.Sprintf("%d line-sized writes after pauses (pastes, logins)", s.commands))
	}
	return min(score, 0.97), why, ""
}
