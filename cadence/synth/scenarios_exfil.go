package synth

import (
	"github.com/aegis-nsm/aegis/schemas"
)

// agentPrelude runs a short agent SSH session from an agent host to an
// internal server and returns its end, the agent host and the server.
func (e *episode) agentPrelude(t int64) (int64, *host, *host) {
	r := e.r
	client := pick(r, e.g.net.dev)
	a := e.newAgent(client, r.chance(0.5), t)
	t0 := t + msf(r.uniform(50, 1500))
	if a.llm != nil {
		t0 = a.llm.ready + msf(r.uniform(200, 2000))
	}
	target := e.g.net.srv[srvFirstSSH+r.IntN(20)]
	s := e.newShell(shSSH, client, endpoint{lan: target}, 22)
	s.c.f.label(schemas.ClassAgentShell, e.sc.name)
	tl := s.sshLogin(t0, false, pick(r, sshAgentClients), "")
	end, _ := s.agentSession(tl, a, e.scaledInt(r.lognClip(6, 0.4, 3, 15), 3))
	tx := s.sendLine(a.next(end, 100), "exit")
	done := s.sshLogout(tx)
	a.done(done)
	return end, client, target
}

// chunking is a machine-regular upload schedule.
type chunking struct {
	size     int
	interval int64
	cv       float64
	fixed    bool // chunks start on a fixed clock (else: a fixed sleep after each response)
	n        int
}

func (e *episode) newChunking(maxChunks float64) chunking {
	r := e.r
	size := pick(r, []int{64 << 10, 256 << 10, 1 << 20, 4 << 20})
	return chunking{
		size:     e.vol(float64(size), 16<<10),
		interval: msf(pick(r, []float64{50, 100, 250, 500, 1000, 2000})),
		cv:       r.uniform(0.01, 0.06),
		fixed:    r.chance(0.5),
		n:        e.scaledInt(r.uniform(maxChunks/4, maxChunks), 4),
	}
}

func (ch chunking) next(r *rng, start, respEnd int64) int64 {
	iv := int64(float64(ch.interval) * (1 + ch.cv*r.NormFloat64()))
	if ch.fixed {
		return max(start+iv, respEnd+us*int64(r.intIn(50, 500)))
	}
	return respEnd + iv
}

var exfilSNIs = []string{"transfer.sh", "bashupload.com", "s3.us-east-1.amazonaws.com", "api.telegram.org", "discord.com", "files.cdn-sync.net", ""}

// runExfilHTTPS uploads in regular chunks to an HTTPS (or unusual-port TLS)
// endpoint after an agent session, on one connection or a new one per
// chunk.
func runExfilHTTPS(e *episode, perChunkConn bool) {
	r := e.r
	end, agentHost, target := e.agentPrelude(e.start)
	src := agentHost
	if r.chance(0.5) {
		src = target // the agent ran the upload on the server it controls
	}
	dst := remoteEP("vps")
	sni := pick(r, exfilSNIs)
	if sni == "s3.us-east-1.amazonaws.com" {
		dst = remoteEP("storage")
	}
	port := uint16(443)
	if r.chance(0.3) {
		port = pick(r, []uint16{8443, 2083, 9443, 4443})
	}
	ch := e.newChunking(120)
	if perChunkConn {
		ch.n = e.scaledInt(r.uniform(6, 40), 4)
	}
	cs := connSpec{client: src, server: dst, dport: port}
	hs := tlsHandshake{sni: sni, style: chOpenSSL, alpn: []string{"http/1.1"}, chosen: "http/1.1"}
	t := end + msf(r.lognClip(600, 0.6, 100, 5000))
	var c *tcpConn
	var tl *tlsConn
	if !perChunkConn {
		c, tl, t = e.openTLS(cs, t, hs)
		c.f.label(schemas.ClassAgentExfil, e.sc.name)
	}
	var last int64
	for i := 0; i < ch.n; i++ {
		if perChunkConn {
			var tr int64
			c, tl, tr = e.openTLS(cs, t, hs)
			c.f.label(schemas.ClassAgentExfil, e.sc.name)
			t1 := tl.records(cli, tr+us*int64(r.intIn(50, 400)), r.intIn(250, 450), ch.size)
			last = tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(20, 0.8, 2, 400)), r.intIn(150, 400))
			c.close(cli, last+us*int64(r.intIn(100, 2000)), us*int64(r.intIn(100, 3000)))
			t = ch.next(r, t, last)
			continue
		}
		t1 := tl.records(cli, t, r.intIn(250, 450), ch.size)
		last = tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(20, 0.8, 2, 400)), r.intIn(150, 400))
		t = ch.next(r, t, last)
	}
	if !perChunkConn {
		c.close(cli, last+msf(r.lognClip(50, 1, 1, 2000)), msf(r.lognClip(1, 1, 0.1, 50)))
	}
}

// sshUpload sends n bytes of channel data from the client in 32 KB SSH
// packets, with the server's window adjustments every MB.
func sshUpload(sc *sshConn, t int64, n int) int64 {
	c := sc.c
	r := c.r
	for n > 0 {
		piece := min(n, 1<<20)
		n -= piece
		tEnd := sc.data(cli, t, piece, 32768)
		sc.packets(srv, tEnd+c.turn(srv)+us*int64(r.intIn(30, 300)), 1+4+4)
		t = tEnd
	}
	return t
}

// runExfilSCP copies many files out with scp -r right after an agent
// session: per-file headers and acknowledgements, then the data.
func runExfilSCP(e *episode) {
	r := e.r
	end, agentHost, target := e.agentPrelude(e.start)
	src := agentHost
	if r.chance(0.5) {
		src = target
	}
	s := e.newShell(shSSH, src, remoteEP("vps"), pick(r, []uint16{22, 2222, 443}))
	s.echo = false
	s.c.f.label(schemas.ClassAgentExfil, e.sc.name)
	t := s.sshLogin(end+msf(r.lognClip(800, 0.6, 100, 5000)), false, "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10", "scp -r -t /tmp/.cache")
	files := e.scaledInt(r.uniform(8, 80), 4)
	for i := 0; i < files; i++ {
		size := e.vol(r.lognClip(400000, 1.5, 2000, 80<<20), 16<<10)
		t1 := s.sc.packets(cli, t+us*int64(r.intIn(20, 300)), sshChanData(r.intIn(24, 60)))
		t2 := s.sc.packets(srv, t1+s.c.turn(srv)+us*int64(r.intIn(30, 300)), sshChanData(1))
		t3 := sshUpload(s.sc, t2+s.c.turn(cli)+us*int64(r.intIn(20, 200)), size)
		t = s.sc.packets(srv, t3+s.c.turn(srv)+us*int64(r.intIn(50, 600)), sshChanData(1))
		t += s.c.turn(cli)
	}
	t1 := s.sc.packets(srv, t+us*int64(r.intIn(100, 2000)), 1+4+4+11+1+4, 1+4, 1+4)
	t2 := s.sc.packets(cli, t1+s.c.turn(cli)+us*int64(r.intIn(100, 600)), 1+4)
	s.close(cli, t2+us*int64(r.intIn(100, 2000)), us*int64(r.intIn(100, 2000)))
}

// runExfilInSession uploads over the agent's own SSH connection (a
// ControlMaster channel): commands first, then a large machine-paced
// client-to-server transfer on the same flow.
func runExfilInSession(e *episode) {
	r := e.r
	client := pick(r, e.g.net.dev)
	a := e.newAgent(client, r.chance(0.5), e.start)
	t0 := e.start + msf(r.uniform(50, 1500))
	if a.llm != nil {
		t0 = a.llm.ready + msf(r.uniform(200, 2000))
	}
	srvEP, port := e.sshTargetFor()
	s := e.newShell(shSSH, client, srvEP, port)
	s.c.f.label(schemas.ClassAgentExfil, e.sc.name)
	t := s.sshLogin(t0, false, "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10", "")
	t, _ = s.agentSession(t, a, e.scaledInt(r.lognClip(6, 0.4, 3, 15), 3))
	// New channel on the master connection: exec "cat > /tmp/.d.tgz",
	// then the archive in regular chunks (tar | pv -L rate style).
	tc := a.next(t, 200)
	t1 := s.sc.packets(cli, tc, 1+4+7+4+4+4)
	t2 := s.sc.packets(srv, t1+s.c.turn(srv)+us*int64(r.intIn(200, 2000)), 1+4+4+4+4)
	t3 := s.sc.packets(cli, t2+s.c.turn(cli)+us*int64(r.intIn(100, 600)), 1+4+4+4+1+4+26)
	t = s.sc.packets(srv, t3+s.c.turn(srv)+us*int64(r.intIn(300, 3000)), 1+4+1+4+4)
	ch := e.newChunking(150)
	for i := 0; i < ch.n; i++ {
		start := t
		tEnd := sshUpload(s.sc, t, ch.size)
		t = ch.next(r, start, tEnd)
	}
	t4 := s.sc.packets(cli, t, 1+4, 1+4)
	t5 := s.sc.packets(srv, t4+s.c.turn(srv)+us*int64(r.intIn(100, 2000)), 1+4+4+11+1+4, 1+4, 1+4)
	tx := s.sendLine(a.next(t5, 100), "exit")
	end := s.sshLogout(tx)
	a.done(end)
}

// runExfilRevShell streams an archive out over a reverse shell: the
// originator (the victim) sends base64 of a tar at pipeline speed.
func runExfilRevShell(e *episode) {
	r := e.r
	victim := pick(r, e.g.net.srv[srvFirstSSH:srvFirstDevice])
	s := e.newShell(shRaw, victim, remoteEP("vps"), pick(r, []uint16{4444, 443, 8443, 9001}))
	s.in, s.out = srv, cli
	s.echo = false
	s.c.f.label(schemas.ClassAgentExfil, e.sc.name)
	a := e.newAgent(nil, false, e.start)
	t := s.c.open(e.start)
	t, _ = s.agentSession(t, a, e.scaledInt(r.lognClip(5, 0.4, 2, 12), 2))
	tl := s.sendLine(a.next(t, 300), "tar czf - /srv/app/data /home 2>/dev/null | base64 -w 4096")
	// The pipeline writes 4 KB lines as fast as gzip produces them, in
	// bursts of 64 KB (pipe buffer) with gzip's pauses between.
	total := e.vol(r.lognClip(40<<20, 0.8, 4<<20, 400<<20), 48<<10)
	cur := tl + s.c.turn(s.out) + msf(r.lognClip(40, 0.6, 5, 400))
	for total > 0 {
		q := min(total, 65536)
		total -= q
		s.c.f.st[s.out].text(s.c.off(s.out), q)
		end := s.c.send(s.out, cur, q)
		cur = end + us*int64(r.lognClip(900, 0.5, 100, 20000))
	}
	s.close(s.out, cur+msf(r.lognClip(5, 1, 0.5, 100)), msf(r.lognClip(1, 1, 0.1, 50)))
}

func exfilScenarios() []*scenario {
	return []*scenario{
		{name: "exfil_https_chunked", class: schemas.ClassAgentExfil, weight: 0.4,
			desc: "after an agent SSH session, the agent host or the server it drove uploads 64 KB-4 MB chunks every 50 ms-2 s (CV 1-6%) to an HTTPS or unusual TLS port on one connection",
			run:  func(e *episode) { runExfilHTTPS(e, false) }},
		{name: "exfil_https_multiconn", class: schemas.ClassAgentExfil, weight: 0.3,
			desc: "after an agent session, a curl loop uploads one chunk per new HTTPS connection on a regular clock",
			run:  func(e *episode) { runExfilHTTPS(e, true) }},
		{name: "exfil_scp", class: schemas.ClassAgentExfil, weight: 0.3,
			desc: "right after an agent session, scp -r copies many files to an outside SSH server: per-file header and acknowledgement, then TCP-paced 32 KB SSH packets",
			run:  runExfilSCP},
		{name: "exfil_in_session", class: schemas.ClassAgentExfil, weight: 0.3,
			desc: "an agent SSH session whose connection then carries a chunked upload on a new channel (ControlMaster): commands, then machine-regular client-to-server volume on the same flow",
			run:  runExfilInSession},
		{name: "exfil_revshell", class: schemas.ClassAgentExfil, weight: 0.2,
			desc: "a reverse shell driven by an agent that ends streaming tar | base64 from the originator at pipeline speed",
			run:  runExfilRevShell},
	}
}
