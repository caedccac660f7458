package synth

import (
	"fmt"
	"math"
	"strings"

	"github.com/aegis-nsm/aegis/schemas"
)

// Scenarios of the coupling set. Each episode runs on a host of its own
// (couplingPool) and records one HostTruth.

func couplingScenarios(p *couplingPool) []*scenario {
	return []*scenario{
		{name: "coupling_agent_ssh", class: schemas.ClassAgentShell, variants: []string{"keepalive", "per_request"},
			desc: "an agent loop driving an interactive SSH session: each command line leaves 50-500 ms after one of the host's LLM answers ends, then the output, the tool result (0.06-1.5 s) and the next request; 5-40 steps; the LLM connection is kept alive or opened per request",
			run:  func(e *episode) { runCouplingAgentSSH(e, p) }},
		{name: "coupling_agent_connect", class: schemas.ClassAgentShell, variants: []string{"ssh_exec", "https_api", "postgres"},
			desc: "an agent loop acting through new short connections: each connection (ssh host 'cmd', an HTTPS API call after an optional DNS lookup, a PostgreSQL query) starts 50-500 ms after one of the host's LLM answers ends; 5-40 steps",
			run:  func(e *episode) { runCouplingAgentConnect(e, p) }},
		{name: "coupling_chat_and_ssh", class: schemas.ClassHumanInteractive,
			desc: "hard negative: a person chats with a model in a browser (answers, then 3-150 s of reading and typing) while typing commands in an unrelated SSH session on the same laptop",
			run:  func(e *episode) { runCouplingChatAndSSH(e, p) }},
		{name: "coupling_ci_runner", class: schemas.ClassOther,
			desc: "hard negative: a CI runner fetching from an artifact server on a 2-10 s timer (short HTTP connections) while a review bot on it calls a model at independent times",
			run:  func(e *episode) { runCouplingCIRunner(e, p) }},
		{name: "coupling_monitor_poller", class: schemas.ClassOther,
			desc: "hard negative: a monitoring server polling 4-12 targets (SSH banner, HTTP health, PostgreSQL) every 30 or 60 s while an operations assistant on it calls a model at independent times",
			run:  func(e *episode) { runCouplingMonitor(e, p) }},
	}
}

// couplingLLM is a host's model client: one keep-alive connection, or a new
// connection per request.
type couplingLLM struct {
	e       *episode
	client  *host
	rt      *route
	via     bool
	perReq  bool
	s       *llmSession
	body    float64
	idle    int64 // the server's keep-alive idle timeout
	answers int
}

func (e *episode) newCouplingLLM(client *host, routeNames []string, perReq bool) *couplingLLM {
	r := e.r
	rt := routeByName(pick(r, routeNames))
	return &couplingLLM{e: e, client: client, rt: rt, via: !rt.plain && r.chance(0.1), perReq: perReq,
		body: r.lognClip(9000, 0.5, 3000, 40000), idle: secf(r.uniform(60, 120))}
}

// answer sends a request at t (or as soon as the connection allows) and
// returns the end of the streamed answer (its last server packet).
func (m *couplingLLM) answer(t int64, short bool) int64 {
	e, r := m.e, m.e.r
	if m.s != nil && t-m.s.c.now > m.idle {
		// The server closed the idle keep-alive connection meanwhile;
		// the client opens a new one.
		m.s.c.close(srv, m.s.c.now+m.idle, msf(r.lognClip(1, 1, 0.1, 20)))
		m.s = nil
	}
	if m.s == nil {
		m.s = e.newLLMSession(m.client, m.rt, t, e.sc.name, m.via)
		t = m.s.ready + us*int64(r.intIn(100, 3000))
	}
	t = max(t, m.s.c.now+ms)
	end := m.s.turn(t, int(e.scaled(m.body, 2000)), m.s.respFlushes(short))
	m.body += e.scaled(r.lognClip(1500, 1, 100, 20000), 50)
	m.answers++
	if m.perReq {
		m.s.c.close(cli, end+msf(r.lognClip(5, 1, 0.5, 100)), msf(r.lognClip(1, 1, 0.1, 20)))
		m.s = nil
	}
	return end
}

func (m *couplingLLM) done(t int64) {
	if m.s != nil {
		// The client closes soon after its last use, or the server's idle
		// timer does; never minutes later.
		finish(m.s.c, m.e.r, min(max(t, m.s.c.now), m.s.c.now+m.idle/2), m.idle)
	}
}

// agentLag is how long a harness takes from the end of the answer to the
// action: parse, spawn, send.
func agentLag(r *rng) int64 { return msf(r.uniform(50, 500)) }

// toolDelay is how long the harness takes from the end of a command's
// output to the next request (the tool result).
func toolDelay(r *rng) int64 { return msf(r.lognClip(250, 0.6, 60, 1500)) }

// agentSteps draws the number of answer-then-act steps: 5-40, log-uniform.
func agentSteps(r *rng) int {
	return int(clamp(math.Floor(math.Exp(r.uniform(math.Log(5), math.Log(41)))), 5, 40))
}

// couplingNoise writes unrelated background connections of client from t to
// end: short HTTPS exchanges (telemetry, updates, a browser tab) at random
// times, mean gap meanS seconds.
func (e *episode) couplingNoise(client *host, t, end int64, meanS float64) {
	r := e.r
	for t += secf(r.exp(meanS)); t < end; t += secf(r.exp(meanS)) {
		ep := remoteEP(pick(r, []string{"telemetry", "cdn", "web"}))
		c, tl, tr := e.openTLS(connSpec{client: client, server: ep, dport: 443}, t,
			tlsHandshake{sni: pick(r, []string{"v10.events.data.microsoft.com", "update.googleapis.com", "assets.github.com", "api.segment.io"}), style: chOpenSSL,
				alpn: []string{"h2", "http/1.1"}, chosen: "http/1.1"})
		c.f.label(schemas.ClassOther, e.sc.name)
		t1 := tl.records(cli, tr+us*int64(r.intIn(50, 500)), r.intIn(200, 900))
		t2 := tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(40, 0.8, 3, 600)), r.intIn(100, 3000))
		c.close(cli, t2+msf(r.uniform(1, 50)), us*int64(r.intIn(100, 3000)))
	}
}

func runCouplingAgentSSH(e *episode, p *couplingPool) {
	r := e.r
	client := p.host(e, roleAgent)
	llm := e.newCouplingLLM(client, agentRoutes, e.variant == "per_request")
	srvEP, port := e.g.net.sshTarget(r), uint16(22)
	if r.chance(0.25) {
		srvEP, port = remoteEP("vps"), 22
	}
	// The first answer is the plan; the agent connects after it.
	end := llm.answer(e.start, false)
	s := e.newShell(shSSH, client, srvEP, port)
	s.c.f.label(schemas.ClassAgentShell, e.sc.name)
	t := s.sshLogin(end+agentLag(r), false, pick(r, sshAgentClients), "")
	n := agentSteps(r)
	var lags []float64
	for i := 0; i < n; i++ {
		end := llm.answer(t+toolDelay(r), r.chance(0.75))
		lag := agentLag(r)
		lags = append(lags, float64(lag)/1e6)
		line, k := agentCommand(r)
		tl := s.sendLine(end+lag, line)
		t = s.output(tl, k)
	}
	tx := s.sendLine(t+msf(r.uniform(100, 400)), "exit") // the harness ends the session: no answer before it
	done := s.sshLogout(tx)
	llm.done(done)
	e.couplingNoise(client, e.start, done, r.uniform(10, 40))
	p.record(HostTruth{Host: client.v4.String(), Scenario: e.sc.name, Variant: e.variant, Episode: e.idx, Coupled: true,
		Channel: "command", Service: "ssh", Cycles: n, LagsMs: lags, Answers: llm.answers, Actions: n + 1, LLMRoute: llm.rt.name,
		StartNS: e.start, EndNS: done})
}

func runCouplingAgentConnect(e *episode, p *couplingPool) {
	r := e.r
	client := p.host(e, roleAgent)
	llm := e.newCouplingLLM(client, agentRoutes, r.chance(0.3))
	n := agentSteps(r)
	t := e.start
	var lags []float64
	service := map[string]string{"ssh_exec": "ssh", "https_api": "ssl", "postgres": "postgresql"}[e.variant]
	sshEP := e.g.net.sshTarget(r)
	apiSNI := pick(r, []string{"gitlab.corp.internal", "jira.corp.internal", "api.github.com"})
	apiEP := e.g.net.lanServer(srvFirstSSH + r.IntN(20))
	if apiSNI == "api.github.com" {
		apiEP = remoteEP("web")
	}
	apiAddr := apiEP.pickAddr(r, false)
	for i := 0; i < n; i++ {
		end := llm.answer(t, r.chance(0.75))
		lag := agentLag(r)
		ta := end + lag
		var done int64
		switch e.variant {
		case "ssh_exec":
			s := e.newShell(shSSH, client, sshEP, 22)
			s.echo = false
			s.c.f.label(schemas.ClassAgentShell, e.sc.name)
			c := pick(r, agentCommands)
			ts := s.sshLogin(ta, false, pick(r, []string{"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5", "SSH-2.0-OpenSSH_9.8"}), c.line)
			te := s.output(ts, c.out)
			t1 := s.sc.packets(srv, te+us*int64(r.intIn(100, 2000)), 1+4+4+11+1+4, 1+4, 1+4)
			t2 := s.sc.packets(cli, t1+s.c.turn(cli)+us*int64(r.intIn(100, 600)), 1+4)
			done = s.close(cli, t2+us*int64(r.intIn(100, 2000)), us*int64(r.intIn(100, 2000)))
		case "https_api":
			tc := ta
			if r.chance(0.5) {
				// The tool resolves the name first (not cached): the
				// connection starts after the answer, a little later.
				tc = e.lookup(client, apiSNI, apiAddr, ta)
				lag = tc - end
			}
			c, tl, tr := e.openTLS(connSpec{client: client, server: apiEP, dport: 443, addr: apiAddr}, tc,
				tlsHandshake{sni: apiSNI, style: chGo, alpn: []string{"h2", "http/1.1"}, chosen: "h2"})
			c.f.label(schemas.ClassOther, e.sc.name)
			t1 := tl.records(cli, tr+us*int64(r.intIn(30, 300)), r.intIn(300, 700), r.intIn(0, 2000))
			th := tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(40, 0.8, 3, 800)), r.intIn(200, 500))
			t2 := tl.records(srv, th+us*int64(r.intIn(50, 2000)), e.vol(r.lognClip(8000, 1, 200, 200000), 200))
			done = c.close(cli, t2+msf(r.uniform(1, 30)), us*int64(r.intIn(100, 3000)))
		default: // postgres
			c := e.newTCP(connSpec{client: client, server: e.g.net.lanServer(srvDB), dport: 5432, service: "postgresql"})
			c.f.label(schemas.ClassOther, e.sc.name)
			tt := c.open(ta)
			for _, m := range [][2]int{{r.intIn(80, 120), r.intIn(20, 30)}, {r.intIn(50, 60), r.intIn(90, 110)}, {r.intIn(100, 120), r.intIn(400, 480)}} {
				t1 := c.send(cli, tt+us*int64(r.intIn(50, 500)), m[0])
				tt = c.send(srv, t1+c.turn(srv)+us*int64(r.intIn(200, 3000)), m[1])
			}
			tq := c.send(cli, tt+us*int64(r.intIn(100, 800)), r.intIn(60, 600))
			tr := c.send(srv, tq+c.turn(srv)+msf(r.lognClip(3, 1, 0.2, 500)), int(r.lognClip(600, 1.2, 30, 60000)))
			tx := c.send(cli, tr+us*int64(r.intIn(100, 800)), 5) // Terminate
			done = c.close(cli, tx+us*int64(r.intIn(50, 500)), us*int64(r.intIn(100, 2000)))
		}
		lags = append(lags, float64(lag)/1e6)
		t = done + toolDelay(r)
	}
	llm.done(t)
	e.couplingNoise(client, e.start, t, r.uniform(10, 40))
	p.record(HostTruth{Host: client.v4.String(), Scenario: e.sc.name, Variant: e.variant, Episode: e.idx, Coupled: true,
		Channel: "connect", Service: service, Cycles: n, LagsMs: lags, Answers: llm.answers, Actions: n, LLMRoute: llm.rt.name,
		StartNS: e.start, EndNS: t})
}

// chatRoutes are routes a person uses from a browser.
var chatRoutes = []string{"openai/o1-mini", "anthropic/claude-3.5-haiku", "azure-openai/gpt-4o", "google/gemini-2.0-flash", "xai/grok-2"}

func runCouplingChatAndSSH(e *episode, p *couplingPool) {
	r := e.r
	client := p.host(e, roleWorkstation)
	span := secf(r.uniform(240, 600))
	end := e.start + span
	// The chat: a question, the streamed answer, then reading and typing
	// the next question.
	llm := e.newCouplingLLM(client, chatRoutes, false)
	t := e.start
	for t < end {
		a := llm.answer(t, r.chance(0.3))
		t = a + secf(r.lognClip(20, 0.8, 3, 150))
	}
	llm.done(t)
	// The unrelated SSH session, typed by the same person.
	srvEP, port := e.g.net.sshTarget(r), uint16(22)
	s := e.newShell(shSSH, client, srvEP, port)
	s.c.f.label(schemas.ClassHumanInteractive, e.sc.name)
	ty := newTypist(r)
	ts := s.sshLogin(e.start+secf(r.uniform(0, 30)), true, pick(r, sshHumanClients), "")
	cmds := 0
	for ts < end {
		ts = s.humanSession(ts, ty, 1, humanCommands, false)
		cmds++
	}
	tx := s.typeLine(ts+secf(r.lognClip(2, 0.7, 0.5, 20)), ty, "exit")
	done := s.sshLogout(tx)
	e.couplingNoise(client, e.start, done, r.uniform(5, 20))
	p.record(HostTruth{Host: client.v4.String(), Scenario: e.sc.name, Episode: e.idx, Channel: "command", Service: "ssh",
		Answers: llm.answers, Actions: cmds + 1, LLMRoute: llm.rt.name, StartNS: e.start, EndNS: max(done, t)})
}

func runCouplingCIRunner(e *episode, p *couplingPool) {
	r := e.r
	client := p.host(e, roleCI)
	span := secf(r.uniform(300, 600))
	end := e.start + span
	period := r.uniform(2, 10)
	jitter := r.uniform(0.02, 0.1)
	art := e.g.net.lanServer(srvBackup)
	conns := 0
	for t := e.start + secf(r.uniform(0, period)); t < end; t += secf(period * (1 + jitter*(2*r.Float64()-1))) {
		c := e.newTCP(connSpec{client: client, server: art, dport: 8081, service: "http"})
		c.f.label(schemas.ClassOther, e.sc.name)
		tt := c.open(t)
		t1 := httpGet(c, tt+us*int64(r.intIn(50, 400)), "artifacts.corp.internal:8081", fmt.Sprintf("/repository/builds/job-%d/status", r.IntN(10000)))
		t2 := httpBody(c, t1+c.turn(srv)+msf(r.lognClip(4, 1, 0.3, 200)), e.vol(r.lognClip(2000, 1, 100, 200000), 100))
		c.close(cli, t2+us*int64(r.intIn(100, 3000)), us*int64(r.intIn(100, 2000)))
		conns++
	}
	// The review bot: calls at independent times.
	llm := e.newCouplingLLM(client, []string{"openai/o1-mini", "anthropic/claude-3.5-haiku", "azure-openai/gpt-4o-mini"}, r.chance(0.5))
	t := e.start + secf(r.exp(20))
	for t < end {
		a := llm.answer(t, r.chance(0.5))
		t = max(a+ms, t+secf(r.exp(r.uniform(15, 40))))
	}
	llm.done(t)
	p.record(HostTruth{Host: client.v4.String(), Scenario: e.sc.name, Episode: e.idx, Channel: "connect", Service: "http",
		Answers: llm.answers, Actions: conns, LLMRoute: llm.rt.name, StartNS: e.start, EndNS: max(end, t)})
}

func runCouplingMonitor(e *episode, p *couplingPool) {
	r := e.r
	client := p.host(e, roleMonitor)
	span := secf(r.uniform(360, 720))
	end := e.start + span
	period := pick(r, []float64{30, 60})
	type check struct {
		ep      endpoint
		port    uint16
		service string
	}
	var checks []check
	for k := r.intIn(4, 12); k > 0; k-- {
		switch r.IntN(3) {
		case 0:
			checks = append(checks, check{e.g.net.sshTarget(r), 22, "ssh"})
		case 1:
			checks = append(checks, check{e.g.net.sshTarget(r), pick(r, []uint16{80, 8080}), "http"})
		default:
			checks = append(checks, check{e.g.net.lanServer(srvDB), 5432, "postgresql"})
		}
	}
	polls := 0
	for t := e.start + secf(r.uniform(0, period)); t < end; t += secf(period) + msf(r.normal(0, 20)) {
		tc := t
		for _, ck := range checks {
			c := e.newTCP(connSpec{client: client, server: ck.ep, dport: ck.port, service: ck.service})
			c.f.label(schemas.ClassOther, e.sc.name)
			tt := c.open(tc)
			var last int64
			switch ck.service {
			case "ssh":
				b := pick(r, sshServerBanners) + "\r\n"
				c.f.st[srv].lit(c.off(srv), []byte(b))
				last = c.send(srv, tt+c.turn(srv)+us*int64(r.intIn(400, 4000)), len(b))
			case "http":
				t1 := httpGet(c, tt+us*int64(r.intIn(50, 400)), "localhost", "/healthz")
				last = httpBody(c, t1+c.turn(srv)+msf(r.lognClip(2, 1, 0.2, 100)), r.intIn(2, 200))
			default:
				t1 := c.send(cli, tt+us*int64(r.intIn(50, 500)), r.intIn(80, 120))
				last = c.send(srv, t1+c.turn(srv)+us*int64(r.intIn(200, 3000)), r.intIn(20, 30))
			}
			c.close(cli, last+us*int64(r.intIn(100, 2000)), us*int64(r.intIn(100, 2000)))
			tc = last + msf(r.lognClip(30, 1, 1, 500))
			polls++
		}
	}
	// The operations assistant: questions at independent times.
	llm := e.newCouplingLLM(client, []string{"azure-openai/gpt-4o", "anthropic/claude-3.5-haiku", "ollama/local"}, false)
	t := e.start + secf(r.exp(30))
	for t < end {
		a := llm.answer(t, r.chance(0.4))
		t = max(a+ms, t+secf(r.exp(r.uniform(20, 60))))
	}
	llm.done(t)
	p.record(HostTruth{Host: client.v4.String(), Scenario: e.sc.name, Episode: e.idx, Channel: "connect", Service: strings.Join(serviceSet(checks, func(c check) string { return c.service }), ","),
		Answers: llm.answers, Actions: polls, LLMRoute: llm.rt.name, StartNS: e.start, EndNS: max(end, t)})
}

// serviceSet returns the distinct values of f over xs, in first-seen order.
func serviceSet[T any](xs []T, f func(T) string) []string {
	var out []string
	for _, x := range xs {
		s := f(x)
		found := false
		for _, o := range out {
			if o == s {
				found = true
				break
			}
		}
		if !found {
			out = append(out, s)
		}
	}
	return out
}
