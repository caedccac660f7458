package synth

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/aegis-nsm/aegis/schemas"
)

var beaconSNIs = []string{"v10.events.data.microsoft.com", "telemetry.crowdstrike-sensor.com", "sync.updates-cdn.net", "api.status-check.io", "cdn-static-assets.org", ""}

// runBeaconShort is a periodic beacon on short connections: every 30-60 s
// (with jitter) a new TLS connection posts a little data and closes.
func runBeaconShort(e *episode) {
	r := e.r
	client := pick(r, e.g.net.ws)
	ep := remoteEP(pick(r, []string{"telemetry", "vps", "cdn"}))
	sni := pick(r, beaconSNIs)
	period := r.uniform(30, 60)
	jitter := r.uniform(0.05, 0.3)
	n := e.scaledInt(r.uniform(10, 60), 4)
	t := e.start
	addr := ep.pickAddr(r, e.v6 && ep.hasV6())
	for i := 0; i < n; i++ {
		ts := t
		if sni != "" && i%5 == 0 {
			ts = e.lookup(client, sni, addr, t)
		}
		c, tl, tr := e.openTLS(connSpec{client: client, server: ep, dport: 443, addr: addr}, ts,
			tlsHandshake{sni: sni, style: chOpenSSL, alpn: []string{"http/1.1"}, chosen: "http/1.1", resumed: i > 0 && r.chance(0.6)})
		c.f.label(schemas.ClassOther, e.sc.name)
		t1 := tl.records(cli, tr+us*int64(r.intIn(50, 500)), r.intIn(300, 1200))
		t2 := tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(40, 0.6, 5, 500)), r.intIn(100, 600))
		if r.chance(0.6) {
			c.close(cli, t2+msf(r.uniform(1, 30)), us*int64(r.intIn(100, 3000)))
		} else {
			c.close(srv, t2+msf(r.uniform(1, 20)), us*int64(r.intIn(100, 3000)))
		}
		t += secf(period * (1 + jitter*(2*r.Float64()-1)))
	}
}

// runBeaconPoll keeps one connection open and polls on it (poll: a request
// every 30-60 s; longpoll: the server holds each request up to ~30 s).
func runBeaconPoll(e *episode) {
	r := e.r
	client := pick(r, e.g.net.ws)
	c, tl, t := e.openTLS(connSpec{client: client, server: remoteEP(pick(r, []string{"telemetry", "cdn"})), dport: 443}, e.start,
		tlsHandshake{sni: pick(r, []string{"notify.slack-edge.example", "client.wns.windows.com", "push.services.mozilla.com", "api.status-check.io"}), style: chGo, alpn: []string{"h2", "http/1.1"}, chosen: "h2"})
	n := e.scaledInt(r.uniform(10, 60), 4)
	var last int64
	if e.variant == "longpoll" {
		hold := r.uniform(20, 30)
		for i := 0; i < n; i++ {
			t1 := tl.records(cli, t, r.intIn(200, 500))
			wait := secf(hold)
			if r.chance(0.3) {
				wait = secf(r.uniform(0.5, hold)) // an event arrived
			}
			last = tl.records(srv, t1+c.turn(srv)+wait, r.intIn(150, 900))
			t = last + c.turn(cli) + msf(r.lognClip(3, 0.8, 0.2, 100))
		}
	} else {
		period := r.uniform(30, 60)
		for i := 0; i < n; i++ {
			t1 := tl.records(cli, t, r.intIn(150, 400))
			last = tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(30, 0.6, 3, 400)), r.intIn(80, 400))
			t += secf(period * (1 + 0.1*(2*r.Float64()-1)))
		}
	}
	c.abandon(last + c.turn(cli) + 200*ms) // still open when the capture ends
}

// rtpHeader builds an RTP header.
func rtpHeader(pt byte, seq uint16, ts uint32, ssrc uint32) []byte {
	return []byte{0x80, pt, byte(seq >> 8), byte(seq), byte(ts >> 24), byte(ts >> 16), byte(ts >> 8), byte(ts), byte(ssrc >> 24), byte(ssrc >> 16), byte(ssrc >> 8), byte(ssrc)}
}

// runVoIP is a call: SIP signalling, then symmetric RTP every 20 ms in both
// directions (G.711 or Opus with silence suppression), and RTCP reports.
func runVoIP(e *episode) {
	r := e.r
	phone := pick(r, e.g.net.voip)
	far := remoteEP("sip")
	var farEP endpoint
	if r.chance(0.4) {
		farEP = endpoint{lan: pick(r, e.g.net.voip)} // an internal call
	} else {
		farEP = far
	}
	sip := e.newUDP(connSpec{client: phone, server: e.g.net.lanServer(srvPBX), sport: 5060, dport: 5060, service: "sip", v4only: true})
	sip.f.label(schemas.ClassOther, e.sc.name)
	t := e.start
	for _, m := range []struct {
		d    int
		line string
		n    int
	}{{cli, "INVITE sip:+4930555010@pbx.corp.internal SIP/2.0", 980}, {srv, "SIP/2.0 100 Trying", 420}, {srv, "SIP/2.0 180 Ringing", 740},
		{srv, "SIP/2.0 200 OK", 1050}, {cli, "ACK sip:+4930555010@pbx.corp.internal SIP/2.0", 460}} {
		sip.send(m.d, t, m.n, sipMessage(m.line, m.n))
		if m.line == "SIP/2.0 180 Ringing" {
			t += secf(r.lognClip(4, 0.6, 1, 30)) // ringing until answered
		}
		t += msf(r.lognClip(40, 1, 2, 3000))
	}
	rp := uint16(2 * r.intIn(5000, 10000))
	rtp := e.newUDP(connSpec{client: phone, server: farEP, sport: rp, dport: uint16(2 * r.intIn(8000, 16000)), v4only: true})
	rtp.f.label(schemas.ClassOther, e.sc.name)
	rtp.f.tos = 0xb8 // DSCP EF
	opus := r.chance(0.4)
	pt := byte(0)
	if opus {
		pt = 111
	}
	dur := e.scaled(r.lognClip(90, 0.8, 15, 1800), 6)
	n := int(dur / 0.02)
	var seq [2]uint16
	var ts [2]uint32
	ssrc := [2]uint32{r.Uint32(), r.Uint32()}
	seq[0], seq[1] = uint16(r.Uint32()), uint16(r.Uint32())
	jit := [2]float64{r.uniform(0.05, 0.4), r.uniform(0.3, 6)} // ms: the near phone's clock, the far end's network
	start := t + msf(r.uniform(20, 200))
	talk := [2]bool{true, false}
	for i := 0; i < n; i++ {
		if i%int(r.uniform(100, 250)) == 0 {
			talk[0], talk[1] = talk[1], talk[0]
		}
		for d := 0; d < 2; d++ {
			seq[d]++
			ts[d] += 160
			at := start + int64(i)*20*ms + msf(r.exp(jit[d]))
			if d == srv {
				at += rtp.turn(srv) / 2
			}
			size := 172
			if opus {
				if !talk[d] && i%20 != 0 {
					continue // DTX: silence sends a frame every 400 ms
				}
				size = 12 + r.intIn(60, 140)
				if !talk[d] {
					size = 12 + 3
				}
			}
			rtp.send(d, at, size, rtpHeader(pt, seq[d], ts[d], ssrc[d]))
		}
	}
	end := start + int64(n)*20*ms
	rtcp := e.newUDP(connSpec{client: phone, server: farEP, sport: rp + 1, dport: rtp.f.port[srv] + 1, v4only: true})
	rtcp.f.label(schemas.ClassOther, e.sc.name)
	rtcp.f.addr[srv] = rtp.f.addr[srv]
	for k := start + secf(r.uniform(1, 5)); k < end; k += secf(r.uniform(4, 6)) {
		rtcp.send(cli, k, r.intIn(60, 100), nil)
		rtcp.send(srv, k+secf(r.uniform(0.5, 4)), r.intIn(60, 100), nil)
	}
	sip.send(cli, end+msf(r.uniform(5, 100)), 520, sipMessage("BYE sip:+4930555010@pbx.corp.internal SIP/2.0", 520))
	sip.send(srv, end+msf(r.uniform(20, 200)), 410, sipMessage("SIP/2.0 200 OK", 410))
}

// sipMessage is a SIP message of n bytes starting with line.
func sipMessage(line string, n int) []byte {
	b := []byte(line + "\r\nVia: SIP/2.0/UDP 10.40.0.21:5060;branch=z9hG4bK776asdhds\r\nCall-ID: a84b4c76e66710@pc33.corp.internal\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\nSubject: ")
	for len(b) < n-4 {
		b = append(b, 'p')
	}
	return append(b, "\r\n\r\n"...)[:n]
}

// runRPC is request/response ping-pong at machine speed: Redis polling on
// the LAN, or gRPC unary calls between services.
func runRPC(e *episode) {
	r := e.r
	client := pick(r, e.g.net.srv[srvFirstSSH:srvFirstDevice])
	dur := e.scaled(r.lognClip(60, 0.7, 20, 900), 5)
	if e.variant == "grpc" {
		peer := endpoint{lan: pick(r, e.g.net.srv[srvFirstSSH:srvFirstDevice])}
		c, tl, t := e.openTLS(connSpec{client: client, server: peer, dport: pick(r, []uint16{50051, 443, 8443})}, e.start,
			tlsHandshake{sni: pick(r, []string{"orders.svc.cluster.local", "inventory.internal", ""}), style: chGo, alpn: []string{"h2"}, chosen: "h2"})
		end := t + secf(dur)
		rate := r.uniform(2, 20) // calls per second
		var last int64
		for t < end {
			t1 := tl.records(cli, t, r.intIn(90, 600))
			last = tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(3, 0.8, 0.3, 200)), int(r.lognClip(400, 1, 60, 16000)))
			t = max(t+secf(r.exp(1/rate)), last+us*int64(r.intIn(20, 200)))
		}
		finish(c, r, last, secf(r.uniform(60, 300)))
		return
	}
	c := e.newTCP(connSpec{client: client, server: e.g.net.lanServer(srvRedis), dport: 6379})
	t := c.open(e.start) + us*int64(r.intIn(50, 500))
	period := msf(r.lognClip(40, 1, 5, 500))
	end := t + secf(dur)
	var last int64
	key := fmt.Sprintf("queue:%d", r.IntN(100))
	for t < end {
		req := fmt.Sprintf("*3\r\n$5\r\nLPOP\r\n$%d\r\n%s\r\n$1\r\n1\r\n", len(key), key)
		if r.chance(0.3) {
			req = "*1\r\n$4\r\nPING\r\n"
		}
		c.f.st[cli].lit(c.off(cli), []byte(req))
		t1 := c.send(cli, t, len(req))
		resp := "*-1\r\n"
		if strings.Contains(req, "PING") {
			resp = "+PONG\r\n"
		} else if r.chance(0.2) {
			resp = fmt.Sprintf("*1\r\n$%d\r\n%s\r\n", 180, strings.Repeat("j", 180))
		}
		c.f.st[srv].lit(c.off(srv), []byte(resp))
		last = c.send(srv, t1+c.turn(srv)+us*int64(r.intIn(30, 250)), len(resp))
		t = max(t+period+us*int64(r.intIn(0, 400)), last+c.turn(cli)+us*int64(r.intIn(10, 100)))
	}
	finish(c, r, last, secf(300))
}

// runDBPolling is a job-queue poller: a query every 1-5 s over PostgreSQL.
func runDBPolling(e *episode) {
	r := e.r
	client := pick(r, e.g.net.srv[srvFirstSSH:srvFirstDevice])
	c := e.newTCP(connSpec{client: client, server: e.g.net.lanServer(srvDB), dport: 5432})
	t := c.open(e.start)
	// Startup and authentication (SCRAM) round trips.
	for _, m := range [][2]int{{r.intIn(80, 120), r.intIn(20, 30)}, {r.intIn(50, 60), r.intIn(90, 110)}, {r.intIn(100, 120), r.intIn(400, 480)}} {
		t1 := c.send(cli, t+us*int64(r.intIn(50, 500)), m[0])
		t = c.send(srv, t1+c.turn(srv)+us*int64(r.intIn(200, 3000)), m[1])
	}
	period := r.uniform(1, 5)
	n := e.scaledInt(r.uniform(20, 200), 6)
	var last int64
	for i := 0; i < n; i++ {
		t1 := c.send(cli, t+secf(period*(1+0.02*r.NormFloat64())), r.intIn(80, 300))
		last = c.send(srv, t1+c.turn(srv)+msf(r.lognClip(0.8, 0.8, 0.1, 50)), int(r.lognClip(150, 1.2, 30, 8000)))
		t = t1
	}
	finish(c, r, last, secf(600))
}

// runFTPScripted is a scripted FTP client: each command about 0.17 s after
// the previous reply, with passive-mode data connections for listings and
// downloads.
func runFTPScripted(e *episode) {
	r := e.r
	client := pick(r, e.g.net.srv[srvFirstSSH:srvFirstDevice])
	ftpSrv := e.g.net.lanServer(srvFTP)
	c := e.newTCP(connSpec{client: client, server: ftpSrv, dport: 21, service: "ftp"})
	t := c.open(e.start)
	say := func(d int, t int64, s string) int64 {
		c.f.st[d].lit(c.off(d), []byte(s))
		return c.send(d, t, len(s))
	}
	t = say(srv, t+c.turn(srv)+msf(r.uniform(1, 20)), "220 (vsFTPd 3.0.5)\r\n")
	step := r.uniform(0.15, 0.19)
	cmd := func(line, reply string, work float64) int64 {
		t1 := say(cli, t+secf(step*(1+0.03*r.NormFloat64())), line+"\r\n")
		t = say(srv, t1+c.turn(srv)+msf(work), reply+"\r\n")
		return t1
	}
	cmd("USER backup", "331 Please specify the password.", 0.3)
	cmd("PASS ********", "230 Login successful.", r.uniform(5, 40))
	cmd("SYST", "215 UNIX Type: L8", 0.2)
	cmd("TYPE I", "200 Switching to Binary mode.", 0.2)
	files := e.scaledInt(r.uniform(4, 30), 2)
	for i := 0; i < files; i++ {
		port := uint16(r.intIn(30000, 31000))
		cmd("CWD /exports/"+fmt.Sprint(2026030+i%3), "250 Directory successfully changed.", 0.3)
		cmd("PASV", fmt.Sprintf("227 Entering Passive Mode (10,30,1,14,%d,%d).", port>>8, port&0xff), 0.3)
		tr := cmd(fmt.Sprintf("RETR report-%03d.csv", i), "150 Opening BINARY mode data connection.", 0.5)
		dc := e.newTCP(connSpec{client: client, server: ftpSrv, dport: port, service: "ftp-data"})
		dc.f.label(schemas.ClassOther, e.sc.name)
		td := dc.open(tr - c.turn(cli) - ms)
		size := e.vol(r.lognClip(200000, 1.2, 2000, 20<<20), 1000)
		dc.f.st[srv].text(dc.off(srv), size)
		de := dc.send(srv, max(td, t)+us*int64(r.intIn(50, 500)), size)
		dc.close(srv, de+us*int64(r.intIn(20, 300)), us*int64(r.intIn(50, 500)))
		t = say(srv, de+msf(r.uniform(0.2, 3)), "226 Transfer complete.\r\n")
	}
	t1 := say(cli, t+secf(step), "QUIT\r\n")
	t = say(srv, t1+c.turn(srv)+msf(0.3), "221 Goodbye.\r\n")
	c.close(srv, t+us*int64(r.intIn(20, 300)), us*int64(r.intIn(100, 1000)))
}

// runPush is a long-lived server push: a WebSocket price ticker (about one
// message a second, or irregular bursts of trades) or SSE notifications.
// After one subscribe message the server sends a long run of small TLS
// records while the client only ACKs and pings: the negative closest to an
// LLM stream.
func runPush(e *episode) {
	r := e.r
	client := pick(r, e.g.net.ws)
	sse := e.variant == "sse"
	sni := pick(r, []string{"stream.binance.com", "ws.kraken.com", "ws-feed.exchange.coinbase.com", "socket.polygon.io"})
	if sse {
		sni = pick(r, []string{"notifications.atlassian-cloud.example", "push.linear.app", "events.pagerduty.com", "api.github-status.example"})
	}
	c, tl, t := e.openTLS(connSpec{client: client, server: remoteEP("exchange"), dport: pick(r, []uint16{443, 443, 9443})}, e.start,
		tlsHandshake{sni: sni, style: chBrowser, alpn: []string{"http/1.1"}, chosen: "http/1.1"})
	t1 := tl.records(cli, t, r.intIn(400, 700))
	t = tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(40, 0.6, 5, 400)), r.intIn(150, 300))
	if !sse {
		t = tl.records(cli, t+c.turn(cli)+msf(r.uniform(1, 20)), r.intIn(60, 200)) // subscribe
		t += c.turn(srv)
	}
	dur := secf(e.scaled(r.lognClip(300, 0.7, 60, 3600), 20))
	end := t + dur
	nextPing := t + secf(r.uniform(15, 30))
	mode := e.variant
	var last int64
	cur := t + msf(r.uniform(5, 300))
	for cur < end {
		if cur > nextPing {
			p := tl.records(cli, nextPing, 6+4)
			tl.records(srv, p+c.turn(srv)+us*int64(r.intIn(100, 2000)), 6)
			nextPing += secf(r.uniform(20, 30))
		}
		switch mode {
		case "ticker":
			last = tl.records(srv, cur, r.intIn(90, 420))
			cur += msf(r.normal(1000, 15))
		case "trades":
			k := 1 + int(r.exp(1.5))
			for j := 0; j < k; j++ {
				last = tl.records(srv, cur, r.intIn(60, 260))
				cur += us * int64(r.intIn(100, 4000))
			}
			cur += msf(r.lognClip(300, 1.3, 5, 20000))
		default: // sse
			if r.chance(0.3) {
				last = tl.records(srv, cur, r.intIn(150, 900))
			} else {
				last = tl.records(srv, cur, 3) // heartbeat comment
			}
			cur += secf(r.lognClip(6, 0.9, 0.3, 15))
		}
	}
	finish(c, r, last, secf(r.uniform(30, 120)))
}

// runDNS is a host's background lookups: one short UDP flow per lookup.
func runDNS(e *episode) {
	r := e.r
	client := pick(r, e.g.net.ws)
	names := []string{"www.google.com", "outlook.office365.com", "teams.microsoft.com", "slack.com", "api.github.com", "registry.npmjs.org", "pypi.org", "time.windows.com", "login.microsoftonline.com", "cdn.jsdelivr.net"}
	n := e.scaledInt(r.uniform(5, 25), 3)
	t := e.start
	for i := 0; i < n; i++ {
		addr := netip.AddrFrom4([4]byte{byte(r.intIn(13, 220)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.intIn(1, 254))})
		e.lookup(client, pick(r, names), addr, t)
		t += secf(r.lognClip(4, 1.2, 0.05, 60))
	}
}

// runAnsible is configuration management over SSH: a ControlMaster session
// whose channels run modules in quick succession (machine speed, no model
// pauses): scripted automation, not an agent.
func runAnsible(e *episode) {
	r := e.r
	client := pick(r, e.g.net.dev)
	s := e.newShell(shSSH, client, e.g.net.sshTarget(r), 22)
	s.echo = false
	t := s.sshLogin(e.start, false, "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10", "/bin/sh -c 'echo ~ && sleep 0'")
	tasks := e.scaledInt(r.uniform(10, 60), 4)
	for i := 0; i < tasks; i++ {
		for _, step := range []int{r.intIn(120, 260), e.vol(r.uniform(2000, 30000), 1200), r.intIn(150, 300)} {
			// Channel open, exec (mkdir tmp / module upload via sftp or
			// stdin / python run), output, close.
			t1 := s.sc.packets(cli, t+msf(r.lognClip(30, 0.8, 2, 400)), 1+4+7+4+4+4)
			t2 := s.sc.packets(srv, t1+s.c.turn(srv)+us*int64(r.intIn(200, 1500)), 1+4+4+4+4)
			t3 := s.sc.packets(cli, t2+s.c.turn(cli)+us*int64(r.intIn(50, 300)), 1+4+4+4+1+4+r.intIn(60, 200))
			if step > 1000 {
				t3 = s.sc.data(cli, t3+us*int64(r.intIn(50, 300)), step, 32768)
			}
			out := s.sc.data(srv, t3+s.c.turn(srv)+msf(r.lognClip(120, 1, 5, 5000)), r.intIn(60, 2000), 32768)
			t = s.sc.packets(srv, out+us*int64(r.intIn(50, 500)), 1+4+4+11+1+4, 1+4, 1+4)
			t = s.sc.packets(cli, t+s.c.turn(cli)+us*int64(r.intIn(50, 300)), 1+4)
		}
	}
	s.c.close(cli, t+msf(r.lognClip(50, 1, 1, 1000)), us*int64(r.intIn(100, 2000)))
}
