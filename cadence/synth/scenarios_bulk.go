package synth

import (
	"fmt"

	"github.com/aegis-nsm/aegis/schemas"
)

// httpGet writes a plain HTTP/1.1 GET and returns the time of its last
// segment.
func httpGet(c *tcpConn, t int64, host, path string) int64 {
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Debian APT-HTTP/1.3 (2.7.14)\r\nAccept: */*\r\n\r\n", path, host)
	c.f.st[cli].lit(c.off(cli), []byte(req))
	return c.send(cli, t, len(req))
}

// httpBody writes a plain HTTP/1.1 response of n body bytes.
func httpBody(c *tcpConn, t int64, n int) int64 {
	hdr := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.debian.binary-package\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n", n)
	st := &c.f.st[srv]
	st.lit(c.off(srv), []byte(hdr))
	return c.send(srv, t, len(hdr)+n)
}

func runBulkDownload(e *episode) {
	r := e.r
	client := pick(r, e.g.net.ws)
	if r.chance(0.4) {
		client = pick(r, e.g.net.srv[srvFirstSSH:srvFirstDevice])
	}
	plain := e.variant == "http"
	ep := remoteEP(pick(r, []string{"cdn", "mirror"}))
	files := 1
	if plain {
		files = e.scaledInt(r.uniform(3, 40), 2)
	}
	t := e.start
	var c *tcpConn
	var tl *tlsConn
	if plain {
		ep = remoteEP("mirror")
		c = e.newTCP(connSpec{client: client, server: ep, dport: 80, service: "http"})
		t = c.open(t) + us*int64(r.intIn(50, 500))
	} else {
		c, tl, t = e.openTLS(connSpec{client: client, server: ep, dport: 443}, t,
			tlsHandshake{sni: pick(r, []string{"download.visualstudio.microsoft.com", "objects.githubusercontent.com", "dl.google.com", "releases.ubuntu.com", "updates.cdn-apple.com"}),
				style: chBrowser, alpn: []string{"h2", "http/1.1"}, chosen: "h2"})
	}
	var end int64
	for i := 0; i < files; i++ {
		size := e.vol(r.lognClip(40<<20, 1, 4<<20, 1<<30), 48<<10)
		if plain {
			size = e.vol(r.lognClip(400<<10, 1.5, 4<<10, 60<<20), 2<<10)
			t1 := httpGet(c, t, "archive.ubuntu.com", "/ubuntu/pool/main/p/pkg"+fmt.Sprint(i)+".deb")
			end = httpBody(c, t1+c.turn(srv)+msf(r.lognClip(3, 1, 0.2, 200)), size)
		} else {
			t1 := tl.records(cli, t, r.intIn(300, 700))
			th := tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(20, 1, 1, 500)), r.intIn(300, 900))
			end = tl.records(srv, th, size)
		}
		t = end + c.turn(cli) + us*int64(r.intIn(100, 3000))
	}
	finish(c, r, end, secf(r.uniform(5, 60)))
}

// runSCPDownload fetches a large file with scp: the server streams 32 KB
// SSH packets, the client grants window every MB.
func runSCPDownload(e *episode) {
	r := e.r
	client := pick(r, e.g.net.dev)
	srvEP, port := e.sshTargetFor()
	s := e.newShell(shSSH, client, srvEP, port)
	s.echo = false
	t := s.sshLogin(e.start, r.chance(0.5), "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5", "scp -f /var/backups/db.dump")
	size := e.vol(r.lognClip(80<<20, 1, 5<<20, 2<<30), 64<<10)
	t1 := s.sc.packets(cli, t+us*int64(r.intIn(50, 500)), sshChanData(1))
	t = s.sc.packets(srv, t1+s.c.turn(srv)+us*int64(r.intIn(50, 500)), sshChanData(r.intIn(28, 40)))
	t = s.sc.packets(cli, t+s.c.turn(cli)+us*int64(r.intIn(50, 500)), sshChanData(1))
	t += s.c.turn(srv)
	for size > 0 {
		piece := min(size, 1<<20)
		size -= piece
		tEnd := s.sc.data(srv, t, piece, 32768)
		s.sc.packets(cli, tEnd+s.c.turn(cli)+us*int64(r.intIn(30, 300)), 1+4+4)
		t = tEnd
	}
	t2 := s.sc.packets(srv, t+us*int64(r.intIn(100, 2000)), 1+4+4+11+1+4, 1+4, 1+4)
	t3 := s.sc.packets(cli, t2+s.c.turn(cli)+us*int64(r.intIn(100, 600)), 1+4)
	s.close(cli, t3+us*int64(r.intIn(100, 2000)), us*int64(r.intIn(100, 2000)))
}

// runBackupUpload is a backup job (restic, rclone) uploading packs to
// object storage: large, fairly regular uploads from a server, with no
// interactive session anywhere near. It is the negative closest to
// agent_exfil.
func runBackupUpload(e *episode) {
	r := e.r
	src := e.g.net.srv[srvBackup+r.IntN(3)]
	cs := connSpec{client: src, server: remoteEP("storage"), dport: 443}
	hs := tlsHandshake{sni: pick(r, []string{"s3.us-east-1.amazonaws.com", "backup-bucket.s3.eu-central-1.amazonaws.com", "storage.googleapis.com", "s3.wasabisys.com"}), style: chGo, alpn: []string{"h2", "http/1.1"}, chosen: "http/1.1"}
	c, tl, t := e.openTLS(cs, e.start, hs)
	packs := e.scaledInt(r.uniform(10, 120), 4)
	packSize := pick(r, []int{4 << 20, 8 << 20, 16 << 20})
	var last int64
	for i := 0; i < packs; i++ {
		if r.chance(0.15) {
			// Index and lock objects: small requests.
			t1 := tl.records(cli, t, r.intIn(400, 800), r.intIn(200, 4000))
			t = tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(30, 0.6, 5, 300)), r.intIn(300, 600))
		}
		size := e.vol(float64(packSize)*r.uniform(0.85, 1.0), 16<<10)
		t1 := tl.records(cli, t, r.intIn(500, 900), size)
		last = tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(40, 0.6, 5, 600)), r.intIn(300, 600))
		// Reading, chunking, compressing and encrypting the next pack.
		t = last + msf(r.lognClip(300, 1.0, 20, 5000))
	}
	c.close(cli, last+msf(r.lognClip(100, 1, 5, 2000)), msf(r.lognClip(2, 1, 0.1, 50)))
}

// runVideo streams DASH/HLS segments: a 0.5-2 MB burst every 2-4 s after a
// faster start that fills the buffer.
func runVideo(e *episode) {
	r := e.r
	client := pick(r, e.g.net.ws)
	c, tl, t := e.openTLS(connSpec{client: client, server: remoteEP("video"), dport: 443}, e.start,
		tlsHandshake{sni: pick(r, []string{"rr4---sn-4g5e6nsz.googlevideo.com", "ipv4-c012-fra002-ix.1.oca.nflxvideo.net", "vod-adaptive-ak.vimeocdn.com"}), style: chBrowser, alpn: []string{"h2", "http/1.1"}, chosen: "h2"})
	segDur := r.uniform(2, 4)
	bitrate := r.uniform(1.5, 6) * 1e6 / 8 // bytes per second
	dur := e.scaled(r.lognClip(240, 0.8, 60, 1800), 20)
	n := int(dur / segDur)
	playStart := t
	var end int64
	for i := 0; i < n; i++ {
		size := e.vol(bitrate*segDur*r.uniform(0.7, 1.3), 12<<10)
		t1 := tl.records(cli, t, r.intIn(350, 700))
		th := tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(15, 0.8, 1, 300)), r.intIn(250, 500))
		end = tl.records(srv, th, size)
		if i < 4 {
			t = end + msf(r.uniform(5, 40)) // filling the buffer
			playStart = t
		} else {
			t = max(end+msf(r.uniform(5, 40)), playStart+secf(float64(i-3)*segDur)+msf(r.normal(0, 40)))
		}
	}
	finish(c, r, end, secf(r.uniform(10, 60)))
}

var webSites = []string{"www.wikipedia.org", "github.com", "www.bbc.co.uk", "news.ycombinator.com", "docs.python.org", "stackoverflow.com", "www.reuters.com"}

// runWeb loads web pages: DNS, the page, then assets over several parallel
// connections, then reading time.
func runWeb(e *episode) {
	r := e.r
	client := pick(r, e.g.net.ws)
	t := e.start
	pages := e.scaledInt(r.uniform(2, 8), 1)
	for p := 0; p < pages; p++ {
		site := pick(r, webSites)
		main := remoteEP("web")
		addr := main.pickAddr(r, e.v6 && main.hasV6())
		t = e.lookup(client, site, addr, t)
		c, tl, tr := e.openTLS(connSpec{client: client, server: main, dport: 443, addr: addr}, t,
			tlsHandshake{sni: site, style: chBrowser, alpn: []string{"h2", "http/1.1"}, chosen: "h2"})
		c.f.label(schemas.ClassOther, e.sc.name)
		t1 := tl.records(cli, tr, r.intIn(60, 120), r.intIn(400, 900))
		th := tl.records(srv, t1+c.turn(srv)+msf(r.lognClip(60, 0.8, 5, 800)), r.intIn(200, 500))
		htmlEnd := tl.records(srv, th, e.vol(r.lognClip(60000, 0.8, 5000, 400000), 4000))
		last := htmlEnd
		conns := r.intIn(2, 6)
		for k := 0; k < conns; k++ {
			cdn := remoteEP("cdn")
			ts := htmlEnd + msf(r.uniform(5, 60))
			cc, ctl, ctr := e.openTLS(connSpec{client: client, server: cdn, dport: 443}, ts,
				tlsHandshake{sni: pick(r, []string{"cdn.jsdelivr.net", "fonts.gstatic.com", "upload.wikimedia.org", "assets.github.com", "static.files.bbci.co.uk"}), style: chBrowser, alpn: []string{"h2", "http/1.1"}, chosen: "h2"})
			ta := ctr
			var cend int64
			for j := 0; j < r.intIn(1, 8); j++ {
				q := ctl.records(cli, ta+us*int64(r.intIn(10, 3000)), r.intIn(100, 400))
				hh := ctl.records(srv, q+cc.turn(srv)+msf(r.lognClip(10, 1, 0.5, 300)), r.intIn(150, 400))
				cend = ctl.records(srv, hh, e.vol(r.lognClip(20000, 1.3, 300, 2<<20), 300))
				ta = cend
			}
			last = max(last, cend)
			finish(cc, r, cend, secf(r.uniform(30, 120)))
		}
		finish(c, r, last, secf(r.uniform(30, 120)))
		t = last + secf(r.lognClip(20, 1, 2, 300))
	}
}
