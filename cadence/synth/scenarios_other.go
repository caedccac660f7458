package synth

import (
	"github.com/aegis-nsm/aegis/schemas"
)

// runRemoteDesktop is a person using a remote desktop: bursts of small
// client input events (mouse moves at 60-125 Hz, keys) and larger server
// screen updates while something changes, a blinking cursor when idle.
// RDP runs over TLS; VNC (RFB) is plaintext and pull-driven (the client
// requests each update).
func runRemoteDesktop(e *episode) {
	r := e.r
	client := pick(r, e.g.net.ws)
	vnc := e.variant == "vnc"
	var c *tcpConn
	var tl *tlsConn
	var t int64
	if vnc {
		c = e.newTCP(connSpec{client: client, server: e.g.net.lanServer(srvRDP + 1), dport: 5900, service: "rfb"})
		t = c.open(e.start)
		// Version, security types, VNC authentication (the person types
		// the password), ClientInit/ServerInit.
		c.f.st[srv].lit(c.off(srv), []byte("RFB 003.008\n"))
		c.f.st[cli].lit(c.off(cli), []byte("RFB 003.008\n"))
		for i, m := range [][2]int{{12, 12}, {2, 1}, {16, 16}, {4, 1}, {24 + 12, 0}} {
			t1 := c.send(srv, t+c.turn(srv)+us*int64(r.intIn(100, 2000)), m[0])
			think := msf(r.uniform(0.2, 3))
			if i == 2 {
				think = secf(r.lognClip(3, 0.5, 1, 15))
			}
			t = c.send(cli, t1+c.turn(cli)+think, m[1])
			t = max(t, t1)
		}
	} else {
		c = e.newTCP(connSpec{client: client, server: e.g.net.lanServer(srvRDP), dport: 3389, service: "rdp"})
		ta := c.open(e.start)
		t1 := c.send(cli, ta+us*int64(r.intIn(50, 400)), 43)
		t2 := c.send(srv, t1+c.turn(srv)+us*int64(r.intIn(200, 2000)), 19)
		tl = &tlsConn{c: c}
		t = tl.handshake(t2+c.turn(cli)+us*int64(r.intIn(100, 800)), tlsHandshake{sni: "", style: chOpenSSL, certBytes: r.intIn(900, 1400)})
		c.f.service = "rdp,ssl"
		// Licensing, capabilities, the first full screen.
		t = tl.records(srv, t+c.turn(srv)+msf(r.uniform(20, 200)), r.intIn(2000, 6000), e.vol(r.lognClip(150000, 0.6, 30000, 800000), 8000))
	}
	in := func(t int64, n int) int64 {
		if vnc {
			return c.send(cli, t, n)
		}
		return tl.records(cli, t, n)
	}
	out := func(t int64, n int) int64 {
		if vnc {
			return c.send(srv, t, n)
		}
		return tl.records(srv, t, n)
	}
	dur := e.scaled(r.lognClip(300, 0.7, 60, 7200), 10)
	end := t + secf(dur)
	cur := t + secf(r.uniform(0.5, 3))
	var last int64
	for cur < end {
		switch r.weighted([]float64{0.45, 0.25, 0.3}) {
		case 0: // a mouse movement with screen updates following it
			k := r.intIn(10, 120)
			hz := r.uniform(60, 125)
			var lastIn int64
			for j := 0; j < k; j++ {
				lastIn = in(cur, pick(r, []int{6, 10, 28, 34}))
				if j%int(r.uniform(2, 5)) == 0 {
					last = out(lastIn+c.turn(srv)+msf(r.lognClip(8, 0.6, 1, 60)), e.vol(r.lognClip(1500, 1.2, 60, 60000), 60))
				}
				cur = max(lastIn, last) + msf(1000/hz+r.normal(0, 1.5))
			}
		case 1: // typing
			w := r.intIn(3, 30)
			ty := newTypist(r)
			for j := 0; j < w; j++ {
				lt := in(cur, pick(r, []int{8, 8, 20}))
				last = out(lt+c.turn(srv)+msf(r.lognClip(10, 0.6, 1, 80)), int(r.lognClip(300, 0.8, 40, 4000)))
				cur = max(cur, last) + msf(r.logn(ty.iki, ty.sigma))
			}
		default: // reading: cursor blink or clock updates only
			idle := secf(r.lognClip(8, 1, 1, 120))
			for k := cur + 530*ms; k < cur+idle; k += 530 * ms {
				last = out(k, r.intIn(40, 120))
			}
			cur += idle
		}
	}
	c.close(cli, max(cur, last)+msf(r.uniform(50, 800)), msf(r.uniform(0.5, 20)))
}

func negativeScenarios() []*scenario {
	o := schemas.ClassOther
	return []*scenario{
		{name: "bulk_download", class: o, weight: 2, variants: []string{"https", "http"},
			desc: "large downloads: one HTTPS file (slow start, then the bottleneck rate, client ACKs every second segment) or many .deb files over plain HTTP keep-alive", run: runBulkDownload},
		{name: "scp_download", class: o, weight: 0.6,
			desc: "scp of a large file from a server: 32 KB SSH packets at TCP pace, client window adjustments every MB", run: runSCPDownload},
		{name: "backup_upload", class: o, weight: 0.6,
			desc: "a backup job (restic/rclone) uploading 4-16 MB packs to object storage with processing gaps: large regular upload with no agent session nearby (the negative closest to agent_exfil)", run: runBackupUpload},
		{name: "beacon_short", class: o, weight: 1.5,
			desc: "a periodic beacon: a new short TLS connection every 30-60 s (5-30% jitter), some resumed, DNS every few beacons", run: runBeaconShort},
		{name: "beacon_poll", class: o, weight: 1, variants: []string{"poll", "longpoll"},
			desc: "one long-lived connection polled every 30-60 s, or long-polled (the server holds each request up to 30 s); still open at capture end", run: runBeaconPoll},
		{name: "video_dash", class: o, weight: 1,
			desc: "adaptive video: a 0.5-2 MB burst every 2-4 s after a buffer-filling start", run: runVideo},
		{name: "voip_rtp", class: o, weight: 1,
			desc: "a call: SIP over UDP, symmetric RTP every 20 ms both ways (G.711 172 B, or Opus with DTX), RTCP reports, DSCP EF", run: runVoIP},
		{name: "rpc_pingpong", class: o, weight: 1.5, variants: []string{"redis", "grpc"},
			desc: "machine-speed request/response: Redis polling on the LAN every 1-200 ms, or gRPC unary calls between services", run: runRPC},
		{name: "db_polling", class: o, weight: 0.8,
			desc: "a job-queue poller: a PostgreSQL query every 1-5 s", run: runDBPolling},
		{name: "ftp_scripted", class: o, weight: 0.5,
			desc: "a scripted FTP client: a command about 0.17 s after each reply, passive data connections for each file", run: runFTPScripted},
		{name: "push_stream", class: o, weight: 1.5, variants: []string{"ticker", "trades", "sse"},
			desc: "server push for minutes after one subscribe: a WebSocket ticker (~1 message/s), irregular trade bursts, or SSE notifications with heartbeats; the negative closest to llm_stream", run: runPush},
		{name: "remote_desktop", class: o, weight: 0.6, variants: []string{"rdp", "vnc"},
			desc: "a person on a remote desktop: mouse-move bursts at 60-125 Hz, key events, screen updates, cursor blink while idle", run: runRemoteDesktop},
		{name: "dns", class: o, weight: 3,
			desc: "a host's background DNS lookups: one UDP flow per lookup (A and AAAA on one socket for glibc clients)", run: runDNS},
		{name: "web_browse", class: o, weight: 3,
			desc: "web page loads: DNS, the page over TLS, assets over 2-6 parallel connections, reading time", run: runWeb},
		{name: "ansible_ssh", class: o, weight: 0.6,
			desc: "configuration management over SSH: module uploads and runs on channels in quick succession (scripted, sub-second pauses, no model latency)", run: runAnsible},
	}
}
