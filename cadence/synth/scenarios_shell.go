package synth

import (
	"strings"

	"github.com/aegis-nsm/aegis/schemas"
)

var (
	userNames = []string{"deploy", "alice", "bob", "ops", "jdoe", "admin", "svc-build", "ubuntu"}
	hostNames = []string{"web-03", "db-01", "build-7", "app-12", "jump-01", "k8s-node-4", "core-sw1", "edge-rtr2"}
)

// newShell creates an interactive session of the given kind on a new TCP
// connection from client to server.
func (e *episode) newShell(kind shellKind, client *host, server endpoint, port uint16) *shell {
	r := e.r
	svc := ""
	if kind == shSSH {
		svc = "ssh"
	}
	c := e.newTCP(connSpec{client: client, server: server, dport: port, service: svc, v4only: kind != shSSH && r.chance(0.7)})
	return &shell{e: e, r: r, c: c, kind: kind, in: cli, out: srv, echo: true, user: pick(r, userNames), hostn: pick(r, hostNames)}
}

// sshTargetFor picks an SSH server: an internal host, sometimes a VPS.
func (e *episode) sshTargetFor() (endpoint, uint16) {
	if e.variant == "vps" || (e.variant != "internal" && e.r.chance(0.25)) {
		return remoteEP("vps"), pick(e.r, []uint16{22, 22, 2222})
	}
	return e.g.net.sshTarget(e.r), 22
}

// humanSession types n commands from t and returns the time of the last
// prompt.
func (s *shell) humanSession(t int64, ty typist, n int, cmds []command, editor bool) int64 {
	r := s.r
	think := r.uniform(1.8, 6)
	for i := 0; i < n; i++ {
		pause := r.lognClip(think, 0.8, 0.4, 120)
		if r.chance(0.06) {
			pause += r.lognClip(60, 0.7, 20, 400) // away from the keyboard
		}
		start := t + secf(pause)
		if editor && r.chance(0.35) {
			t = s.editFile(start, ty)
			continue
		}
		c := pick(r, cmds)
		tEnter := s.typeLine(start, ty, c.line)
		t = s.output(tEnter, c.out)
	}
	return t
}

// editFile opens a file in a full-screen editor, moves around, types, and
// saves: keys with screen updates of varying size, held keys auto-repeating.
func (s *shell) editFile(t int64, ty typist) int64 {
	r := s.r
	tEnter := s.typeLine(t, ty, "vim "+pick(r, []string{"config.yaml", "/etc/nginx/sites-enabled/default", "main.go", "notes.md"}))
	t = s.output(tEnter, outMedium) + secf(r.lognClip(1.5, 0.6, 0.3, 10))
	var keys []keyEv
	n := s.e.scaledInt(float64(r.intIn(40, 220)), 15)
	for i := 0; i < n; {
		switch r.weighted([]float64{0.4, 0.25, 0.35}) {
		case 0: // a held navigation key: auto-repeat at 25-33 Hz
			k := r.intIn(3, 15)
			iv := r.uniform(30, 40)
			for j := 0; j < k; j++ {
				keys = append(keys, keyEv{t: t, in: "j", echo: strings.Repeat(".", r.intIn(12, 160))})
				t += msf(iv + r.normal(0, 1.5))
			}
			i += k
		case 1: // single moves
			keys = append(keys, keyEv{t: t, in: "\x1b[B", echo: strings.Repeat(".", r.intIn(8, 40))})
			t += msf(r.logn(ty.iki*1.3, ty.sigma))
			i++
		default: // insert text
			w := r.intIn(3, 25)
			for j := 0; j < w; j++ {
				keys = append(keys, keyEv{t: t, in: "a", echo: strings.Repeat(".", r.intIn(1, 30))})
				t += msf(r.logn(ty.iki, ty.sigma))
			}
			keys = append(keys, keyEv{t: t, in: "\x1b", echo: strings.Repeat(".", r.intIn(10, 30))})
			t += msf(r.logn(600, 0.6))
			i += w + 1
		}
	}
	s.deliver(keys)
	tEnter = s.typeLine(t+msf(r.logn(500, 0.5)), ty, ":wq")
	return s.output(tEnter, outSmall)
}

func humanCount(e *episode) int { return e.scaledInt(e.r.lognClip(10, 0.6, 3, 40), 3) }

func runSSHHuman(e *episode, editor, chaff bool) {
	r := e.r
	client := pick(r, e.g.net.ws)
	if r.chance(0.4) {
		client = pick(r, e.g.net.dev)
	}
	srvEP, port := e.sshTargetFor()
	s := e.newShell(shSSH, client, srvEP, port)
	banner := pick(r, sshHumanClients)
	if chaff {
		banner = pick(r, []string{"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5", "SSH-2.0-OpenSSH_9.8", "SSH-2.0-OpenSSH_10.0"})
		s.chaff = true
	}
	if r.chance(0.3) {
		s.alive = secf(pick(r, []float64{15, 30, 60}))
	}
	ty := newTypist(r)
	t := s.sshLogin(e.start, true, banner, "")
	t = s.humanSession(t, ty, humanCount(e), humanCommands, editor)
	tEnter := s.typeLine(t+secf(r.lognClip(2, 0.7, 0.5, 20)), ty, "exit")
	s.sshLogout(tEnter)
}

func runTelnetHuman(e *episode) {
	r := e.r
	client := pick(r, e.g.net.ws)
	s := e.newShell(shTelnet, client, e.g.net.device(r), 23)
	s.nagle = true
	ty := newTypist(r)
	t := s.telnetLogin(e.start, true, ty)
	t = s.humanSession(t, ty, humanCount(e), deviceCommands, false)
	tEnter := s.typeLine(t+secf(r.lognClip(2, 0.7, 0.5, 20)), ty, "exit")
	s.close(srv, tEnter+s.c.turn(srv)+msf(r.lognClip(3, 1, 0.2, 100)), msf(r.lognClip(1, 1, 0.1, 50)))
}

// agent is an LLM agent's pacing: the pause before each command is the
// model's latency (log-normal), or, when its LLM connection is seen, an
// actual request/stream turn followed by the command.
type agent struct {
	e      *episode
	r      *rng
	median float64 // s
	tools  bool    // the agent sometimes spends a while in other tools
	llm    *llmSession
	body   float64
}

var agentRoutes = []string{"anthropic/claude-3.5-haiku", "openai/o1-mini", "azure-openai/gpt-4o", "azure-openai/gpt-4o-mini", "openrouter-lambda/llama-3.1-8b", "ollama/local", "xai/grok-2"}

func (e *episode) newAgent(client *host, withLLM bool, t int64) *agent {
	r := e.r
	a := &agent{e: e, r: r, median: r.uniform(1.4, 4), tools: r.chance(0.35), body: r.lognClip(9000, 0.5, 3000, 40000)}
	if withLLM {
		rt := routeByName(pick(r, agentRoutes))
		a.llm = e.newLLMSession(client, rt, t, "llm_agent_loop", !rt.plain && r.chance(0.1))
	}
	return a
}

// next returns when the agent sends its next command, given that the last
// output ended at t after out bytes.
func (a *agent) next(t int64, out int) int64 {
	r := a.r
	floor := t + msf(500+r.exp(60))
	if a.tools && r.chance(0.12) {
		t += secf(r.lognClip(20, 0.5, 8, 90))
	}
	if a.llm != nil {
		// The harness notices the command finished and sends the tool
		// result; the command follows the end of the model's answer.
		tReq := max(t+msf(r.lognClip(250, 0.5, 60, 1500)), a.llm.c.now+ms)
		end := a.llm.turn(tReq, int(a.e.scaled(a.body, 2000)), a.llm.respFlushes(true))
		a.body += a.e.scaled(float64(300+out), 30)
		return max(end+msf(r.lognClip(120, 0.6, 20, 800)), floor)
	}
	p := r.lognClip(a.median, 0.55, 0.5, 30)
	p += float64(out) * 0.00004 // reading a long output costs prefill time
	return max(t+secf(p), floor)
}

func (a *agent) done(t int64) {
	if a.llm != nil {
		finish(a.llm.c, a.r, t, secf(a.r.uniform(60, 120)))
	}
}

// agentCommand picks the next thing an agent sends: a command, a heredoc
// file write or an answer to an interactive prompt.
func agentCommand(r *rng) (string, outKind) {
	switch r.weighted([]float64{0.85, 0.09, 0.06}) {
	case 1:
		n := pick(r, agentHeredocs) + r.intIn(-100, 100)
		body := strings.Repeat("x", n)
		return "cat > /tmp/patch_" + string(rune('a'+r.IntN(26))) + ".py << 'EOF'\n" + body + "\nEOF", outNone
	case 2:
		return pick(r, agentReplies), outSmall
	}
	c := pick(r, agentCommands)
	return c.line, c.out
}

// agentSession sends n commands and returns the time of the last prompt
// and the time of the first command packet.
func (s *shell) agentSession(t int64, a *agent, n int) (int64, int64) {
	r := s.r
	out := 200
	first := int64(0)
	for i := 0; i < n; i++ {
		tc := a.next(t, out)
		line, k := agentCommand(r)
		if s.kind == shTelnet {
			c := pick(r, deviceCommands)
			line, k = c.line, c.out
		}
		tl := s.sendLine(tc, line)
		if first == 0 {
			first = tl
		}
		t = s.output(tl, k)
		out = int(r.lognClip(800, 1, 50, 20000))
	}
	return t, first
}

func agentCount(e *episode) int { return e.scaledInt(e.r.lognClip(14, 0.5, 4, 60), 6) }

func runAgentSSH(e *episode, withLLM, chaff bool) {
	r := e.r
	client := pick(r, e.g.net.dev)
	a := e.newAgent(client, withLLM, e.start)
	t0 := e.start + msf(r.uniform(50, 2000))
	if a.llm != nil {
		// The agent decides to connect after its first answer.
		t0 = a.llm.turn(a.llm.ready+msf(r.uniform(5, 50)), int(e.scaled(a.body, 2000)), a.llm.respFlushes(true)) + msf(r.lognClip(150, 0.6, 20, 800))
	}
	srvEP, port := e.sshTargetFor()
	s := e.newShell(shSSH, client, srvEP, port)
	banner := pick(r, sshAgentClients)
	if chaff {
		banner = "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5"
		s.chaff = true
	}
	s.c.f.label(schemas.ClassAgentShell, e.sc.name)
	t := s.sshLogin(t0, false, banner, "")
	t, _ = s.agentSession(t, a, agentCount(e))
	tx := s.sendLine(a.next(t, 100), "exit")
	end := s.sshLogout(tx)
	a.done(end)
}

// runAgentSSHExec runs each command on its own short SSH connection
// (ssh host 'cmd'), as coding agents do.
func runAgentSSHExec(e *episode, withLLM bool) {
	r := e.r
	client := pick(r, e.g.net.dev)
	a := e.newAgent(client, withLLM, e.start)
	srvEP, port := e.sshTargetFor()
	banner := pick(r, []string{"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5", "SSH-2.0-OpenSSH_9.8"})
	t := e.start + msf(r.uniform(50, 1500))
	if a.llm != nil {
		t = a.llm.ready
	}
	n := e.scaledInt(r.lognClip(8, 0.5, 3, 30), 3)
	out := 300
	for i := 0; i < n; i++ {
		t = a.next(t, out)
		s := e.newShell(shSSH, client, srvEP, port)
		s.echo = false
		line, k := agentCommand(r)
		if strings.HasPrefix(line, "cat >") || len(line) < 3 {
			c := pick(r, agentCommands)
			line, k = c.line, c.out
		}
		ts := s.sshLogin(t, false, banner, line)
		te := s.output(ts, k)
		// exit-status, EOF, close; the client closes the connection.
		t1 := s.sc.packets(srv, te+us*int64(r.intIn(100, 2000)), 1+4+4+11+1+4, 1+4, 1+4)
		t2 := s.sc.packets(cli, t1+s.c.turn(cli)+us*int64(r.intIn(100, 600)), 1+4)
		t = s.close(cli, t2+us*int64(r.intIn(100, 2000)), us*int64(r.intIn(100, 2000)))
		out = int(r.lognClip(800, 1, 50, 20000))
	}
	a.done(t)
}

// runAgentRawShell drives a plain TCP shell: a bind shell the agent
// connects to, or a reverse shell the victim opened to the agent's listener
// (then the commands come from the responder).
func runAgentRawShell(e *episode, reverse bool) {
	r := e.r
	var s *shell
	if reverse {
		victim := pick(r, e.g.net.srv[srvFirstSSH:srvFirstDevice])
		s = e.newShell(shRaw, victim, remoteEP("vps"), pick(r, []uint16{4444, 4444, 443, 8443, 9001, 53}))
		s.in, s.out = srv, cli
	} else {
		client := pick(r, e.g.net.dev)
		s = e.newShell(shRaw, client, e.g.net.sshTarget(r), pick(r, []uint16{4444, 4444, 5555, 31337, 9001}))
	}
	s.echo = false
	s.c.f.label(schemas.ClassAgentShell, e.sc.name)
	a := e.newAgent(nil, false, e.start)
	t := s.c.open(e.start)
	if reverse || r.chance(0.5) {
		banner := "bash: cannot set terminal process group (1187): Inappropriate ioctl for device\nbash: no job control in this shell\n"
		t = s.outSend(t+us*int64(r.intIn(200, 3000)), len(banner), banner)
	}
	n := agentCount(e)
	out := 100
	for i := 0; i < n; i++ {
		tc := a.next(t, out)
		line, k := agentCommand(r)
		if i == 2 && r.chance(0.5) {
			// Upgrade to a pty: from now on the shell echoes.
			line, k = "python3 -c 'import pty; pty.spawn(\"/bin/bash\")'", outSmall
			s.sendLine(tc, line)
			s.echo = true
			t = s.output(tc, k)
			continue
		}
		tl := s.sendLine(tc, line)
		t = s.output(tl, k)
		out = int(r.lognClip(800, 1, 50, 20000))
	}
	tl := s.sendLine(a.next(t, out), "exit")
	s.close(s.out, tl+s.c.turn(s.out)+msf(r.lognClip(2, 1, 0.1, 50)), msf(r.lognClip(1, 1, 0.1, 50)))
}

func runAgentTelnet(e *episode) {
	r := e.r
	client := pick(r, e.g.net.dev)
	s := e.newShell(shTelnet, client, e.g.net.device(r), 23)
	s.c.f.label(schemas.ClassAgentShell, e.sc.name)
	a := e.newAgent(client, r.chance(0.5), e.start)
	t0 := e.start + msf(r.uniform(50, 2000))
	if a.llm != nil {
		t0 = a.llm.ready + msf(r.uniform(300, 2000))
	}
	t := s.telnetLogin(t0, false, typist{})
	t, _ = s.agentSession(t, a, agentCount(e))
	tx := s.sendLine(a.next(t, 100), "exit")
	end := s.close(srv, tx+s.c.turn(srv)+msf(r.lognClip(3, 1, 0.2, 100)), msf(r.lognClip(1, 1, 0.1, 50)))
	a.done(end)
}

// runHandoff runs a session that changes hands once: a person types, then
// an agent sends whole lines (or the reverse). The truth records the time
// of the new controller's first client packet.
func runHandoff(e *episode, toAgent bool) {
	r := e.r
	kind := shSSH
	if e.variant == "telnet" {
		kind = shTelnet
	}
	client := pick(r, e.g.net.dev)
	var s *shell
	if kind == shSSH {
		srvEP, port := e.sshTargetFor()
		s = e.newShell(shSSH, client, srvEP, port)
	} else {
		s = e.newShell(shTelnet, client, e.g.net.device(r), 23)
		s.nagle = true
	}
	dir := "agent_to_human"
	if toAgent {
		dir = "human_to_agent"
	}
	s.c.f.label(schemas.ClassHandoff, e.sc.name)
	s.c.f.handoffDir = dir
	ty := newTypist(r)
	cmds := humanCommands
	if kind == shTelnet {
		cmds = deviceCommands
	}
	var t int64
	if kind == shSSH {
		t = s.sshLogin(e.start, toAgent, pick(r, sshHumanClients[:2]), "")
	} else {
		t = s.telnetLogin(e.start, toAgent, ty)
	}
	humanPart := func(t int64) (int64, int64) {
		// The first key of the first command marks a person taking over.
		start := t + secf(r.lognClip(3, 0.7, 0.8, 30))
		first := s.typeLine(start, ty, pick(r, cmds).line)
		t = s.output(first, outSmall)
		t = s.humanSession(t, ty, max(humanCount(e)-1, 2), cmds, false)
		return t, start
	}
	agentPart := func(t int64) (int64, int64) {
		a := e.newAgent(client, r.chance(0.5), t)
		if a.llm != nil {
			t = max(t, a.llm.ready)
		}
		t, first := s.agentSession(t, a, agentCount(e))
		a.done(t)
		return t, first
	}
	var at int64
	if toAgent {
		t, _ = humanPart(t)
		t, at = agentPart(t + secf(r.lognClip(4, 0.6, 1, 30)))
	} else {
		t, _ = agentPart(t)
		t, at = humanPart(t + secf(r.lognClip(5, 0.8, 1, 60)))
	}
	s.c.f.handoffAt = at
	if kind == shSSH {
		var tEnter int64
		if toAgent {
			tEnter = s.sendLine(t+secf(r.lognClip(2, 0.5, 0.5, 10)), "exit")
		} else {
			tEnter = s.typeLine(t+secf(r.lognClip(2, 0.7, 0.5, 20)), ty, "exit")
		}
		s.sshLogout(tEnter)
		return
	}
	tEnter := s.sendLine(t+secf(r.lognClip(2, 0.5, 0.5, 10)), "exit")
	s.close(srv, tEnter+s.c.turn(srv)+msf(r.lognClip(3, 1, 0.2, 100)), msf(r.lognClip(1, 1, 0.1, 50)))
}

func shellScenarios() []*scenario {
	return []*scenario{
		{name: "ssh_human_shell", class: schemas.ClassHumanInteractive, weight: 3, variants: []string{"internal", "vps"},
			desc: "a person in an SSH shell: keystroke packets (36-52 B per key, echoed), log-normal inter-key gaps with word pauses, typos, tab completion, thinking pauses, command output bursts; some clients send ServerAlive keepalives while idle",
			run:  func(e *episode) { runSSHHuman(e, false, false) }},
		{name: "ssh_human_editor", class: schemas.ClassHumanInteractive, weight: 1,
			desc: "a person editing files over SSH: navigation keys with screen updates, held keys auto-repeating at 25-33 Hz, insert-mode typing",
			run:  func(e *episode) { runSSHHuman(e, true, false) }},
		{name: "ssh_human_obscured", class: schemas.ClassHumanInteractive, weight: 2,
			desc: "a person typing through OpenSSH >= 9.5 with ObscureKeystrokeTiming (the default): keystrokes leave on a ~20 ms grid and chaff PINGs (answered by PONGs) continue 1-3 s after the last key",
			run:  func(e *episode) { runSSHHuman(e, false, true) }},
		{name: "telnet_human", class: schemas.ClassHumanInteractive, weight: 0.5,
			desc: "a person on a network device's telnet CLI: 1-byte keystrokes with echo, the password unechoed, Nagle coalescing on slow paths",
			run:  runTelnetHuman},
		{name: "agent_ssh", class: schemas.ClassAgentShell, weight: 2, variants: []string{"llm_seen", "llm_unseen"}, perVariant: true,
			desc: "an LLM agent driving an SSH shell: whole command lines in single packets after model-latency pauses (0.5-30 s, log-normal), heredoc file writes, answers to prompts; with llm_seen the agent host's LLM stream precedes each command by 20-800 ms",
			run:  func(e *episode) { runAgentSSH(e, e.variant == "llm_seen", false) }},
		{name: "agent_ssh_obscured", class: schemas.ClassAgentShell, weight: 0.5,
			desc: "an agent driving an interactive OpenSSH >= 9.5 client through a pty: whole lines, each followed by 1-3 s of 20 ms chaff",
			run:  func(e *episode) { runAgentSSH(e, e.r.chance(0.5), true) }},
		{name: "agent_ssh_exec", class: schemas.ClassAgentShell, weight: 1, variants: []string{"llm_seen", "llm_unseen"},
			desc: "an agent running each command on its own short SSH connection (ssh host 'cmd'): exec request, output, close, then the next connection after the model's pause",
			run:  func(e *episode) { runAgentSSHExec(e, e.variant == "llm_seen") }},
		{name: "agent_bindshell", class: schemas.ClassAgentShell, weight: 0.5,
			desc: "an agent connected to a bind shell (nc -lvp 4444 -e /bin/bash): plaintext command lines, no echo until a pty upgrade",
			run:  func(e *episode) { runAgentRawShell(e, false) }},
		{name: "agent_revshell", class: schemas.ClassAgentShell, weight: 0.5,
			desc: "a reverse shell from a victim server to an agent's listener (4444, 443, 8443, 9001, 53): the responder sends the command lines, the originator the output",
			run:  func(e *episode) { runAgentRawShell(e, true) }},
		{name: "agent_telnet", class: schemas.ClassAgentShell, weight: 0.3,
			desc: "an agent configuring a network device over telnet: login and command lines sent whole after model pauses",
			run:  runAgentTelnet},
		{name: "handoff_human_to_agent", class: schemas.ClassHandoff, weight: 0.5, variants: []string{"ssh", "telnet"}, perVariant: true,
			desc: "one session typed by a person, then driven by an agent (whole lines after model pauses); handoff_at_ns is the agent's first command packet",
			run:  func(e *episode) { runHandoff(e, true) }},
		{name: "handoff_agent_to_human", class: schemas.ClassHandoff, weight: 0.5, variants: []string{"ssh", "telnet"}, perVariant: true,
			desc: "one session driven by an agent, then taken over by a person typing; handoff_at_ns is the person's first keystroke",
			run:  func(e *episode) { runHandoff(e, false) }},
	}
}
