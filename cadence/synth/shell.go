package synth

import (
	"fmt"
	"strings"
)

// shellKind is the transport of an interactive session.
type shellKind uint8

const (
	shSSH    shellKind = iota // OpenSSH-style session, encrypted
	shTelnet                  // telnet, plaintext, character at a time
	shRaw                     // a plain TCP shell (nc bind or reverse shell), plaintext
)

// shell is an interactive session on one TCP connection. The input side
// types or sends commands; the output side runs the shell. For a reverse
// shell the input side is the responder.
type shell struct {
	e     *episode
	r     *rng
	c     *tcpConn
	kind  shellKind
	sc    *sshConn
	in    int
	out   int
	echo  bool // a pty echoes input
	chaff bool // OpenSSH ObscureKeystrokeTiming on the client
	nagle bool // the client does not set TCP_NODELAY (telnet)
	user  string
	hostn string
	alive int64 // client ServerAliveInterval (0: off)

	lastOut    int64
	later      []reaction // the output side's scheduled reactions, by time
	chaffOn    bool
	nextTick   int64
	chaffUntil int64
	rateFuzz   int64
	unacked    int64 // Nagle: until when a small segment is unacknowledged
}

// reaction is something the output side sends at a known future time (an
// echo, a PONG, a keepalive reply). Reactions are queued and written in
// time order with the input side's packets, because on a slow path the
// next key leaves before the previous key's echo arrives.
type reaction struct {
	t   int64
	n   int    // channel data bytes (or, for a raw SSH packet, its payload)
	lit string // plaintext content
	pkt bool   // an SSH packet with payload n, not channel data
}

func (s *shell) schedule(x reaction) {
	i := len(s.later)
	for i > 0 && s.later[i-1].t > x.t {
		i--
	}
	s.later = append(s.later, reaction{})
	copy(s.later[i+1:], s.later[i:])
	s.later[i] = x
}

// flushLater writes every queued reaction due at or before t.
func (s *shell) flushLater(t int64) {
	for len(s.later) > 0 && s.later[0].t <= t {
		x := s.later[0]
		s.later = s.later[1:]
		if x.pkt {
			s.lastOut = s.sc.packets(s.out, x.t, x.n)
			continue
		}
		s.rawOut(x.t, x.n, x.lit)
	}
}

// close flushes what is queued and closes the connection from side d.
func (s *shell) close(d int, t int64, peerDelay int64) int64 {
	s.flushLater(1 << 62)
	return s.c.close(d, t, peerDelay)
}

// keyEv is one key (or a burst the client sends as one packet): the bytes
// typed and what the output side echoes.
type keyEv struct {
	t    int64
	in   string
	echo string
}

func (s *shell) promptText() string {
	return fmt.Sprintf("%s@%s:~$ ", s.user, s.hostn)
}

// inSend sends input bytes from the input side at t as one write.
func (s *shell) inSend(t int64, text string) int64 {
	s.flushLater(t)
	if s.kind == shSSH {
		return s.sc.packets(s.in, t, sshChanData(len(text)))
	}
	s.c.f.st[s.in].lit(s.c.off(s.in), []byte(text))
	return s.c.send(s.in, t, len(text))
}

// outSend sends n bytes of output (lit, if given, as its content) at t.
func (s *shell) outSend(t int64, n int, lit string) int64 {
	s.flushLater(t)
	return s.rawOut(t, n, lit)
}

func (s *shell) rawOut(t int64, n int, lit string) int64 {
	if n <= 0 {
		return t
	}
	if s.kind == shSSH {
		s.lastOut = s.sc.data(s.out, t, n, 4096)
		return s.lastOut
	}
	st := &s.c.f.st[s.out]
	if lit != "" {
		st.lit(s.c.off(s.out), []byte(lit[:min(len(lit), n)]))
		if n > len(lit) {
			st.text(s.c.off(s.out)+uint32(len(lit)), n-len(lit))
		}
	} else {
		st.text(s.c.off(s.out), n)
	}
	last := s.c.send(s.out, t, n)
	s.lastOut = last
	return last
}

func (s *shell) tickInterval() int64 {
	return 18*ms + int64(s.r.Float64()*float64(2*ms)) + s.rateFuzz
}

// ping sends a chaff SSH2_MSG_PING and schedules the server's PONG.
func (s *shell) ping(t int64) {
	s.flushLater(t)
	t1 := s.sc.packets(cli, t, 10)
	s.schedule(reaction{t: t1 + s.c.turn(srv) + us*int64(s.r.intIn(40, 400)), n: 10, pkt: true})
}

// advance emits what the client does on its own before T: chaff after
// keystrokes, ServerAlive keepalives during idle periods.
func (s *shell) advance(T int64) {
	if s.chaff && s.chaffOn {
		for s.nextTick < T {
			if s.nextTick >= s.chaffUntil {
				s.chaffOn = false
				break
			}
			s.ping(s.nextTick)
			s.nextTick += s.tickInterval()
		}
	}
	if s.alive > 0 && s.kind == shSSH && s.lastOut > 0 {
		for k := s.lastOut + s.alive; k < T-200*ms; k = s.lastOut + s.alive {
			s.flushLater(k)
			t1 := s.sc.packets(cli, k, 1+4+21+1)
			rt := t1 + s.c.turn(srv) + us*int64(s.r.intIn(50, 500))
			s.schedule(reaction{t: rt, n: 1, pkt: true})
			s.lastOut = rt
		}
	}
	s.flushLater(T)
}

// deliver sends keys (in time order), grouping them as the client does:
// on the 20 ms ticks of ObscureKeystrokeTiming, or behind Nagle while a
// small segment is unacknowledged. The output side echoes each packet.
// It returns the time the last packet was sent.
func (s *shell) deliver(keys []keyEv) int64 {
	var last int64
	for i := 0; i < len(keys); {
		k := keys[i]
		s.advance(k.t)
		t := k.t
		j := i + 1
		if s.chaff && s.kind == shSSH {
			if !s.chaffOn {
				s.chaffOn = true
				s.rateFuzz = int64(s.r.Float64() * float64(2*ms))
				s.nextTick = t + s.tickInterval()
			} else {
				t = s.nextTick
				for j < len(keys) && keys[j].t <= t {
					j++
				}
				s.nextTick += s.tickInterval()
			}
			s.chaffUntil = keys[j-1].t + 1024*ms + int64(s.r.IntN(2048))*ms
		} else if s.nagle && t < s.unacked {
			t = s.unacked
			for j < len(keys) && keys[j].t <= t {
				j++
			}
		}
		var in, echo strings.Builder
		for _, x := range keys[i:j] {
			in.WriteString(x.in)
			echo.WriteString(x.echo)
		}
		last = s.inSend(t, in.String())
		if e := echo.String(); e != "" && s.echo {
			et := last + s.c.turn(s.out) + us*int64(s.r.intIn(60, 600))
			s.schedule(reaction{t: et, n: len(e), lit: e})
			s.unacked = et + s.c.turn(s.in)
		} else {
			s.unacked = last + s.c.turn(s.out) + 40*ms
		}
		i = j
	}
	return last
}

// typist is a person's typing rhythm.
type typist struct {
	iki, sigma, word, typo float64
}

func newTypist(r *rng) typist {
	return typist{iki: r.uniform(110, 250), sigma: r.uniform(0.3, 0.55), word: r.uniform(60, 260), typo: r.uniform(0.01, 0.05)}
}

// keys returns the keystrokes of typing text (without Enter) from t0.
func (ty typist) keys(r *rng, t0 int64, text string) []keyEv {
	var out []keyEv
	t := t0
	prev := byte(' ')
	for i := 0; i < len(text); i++ {
		ch := text[i]
		g := r.logn(ty.iki, ty.sigma)
		if prev == ' ' || prev == '/' || prev == '-' || prev == '|' {
			g += r.logn(ty.word, 0.5)
		}
		if r.chance(0.03) {
			g += r.logn(700, 0.6) // hesitation
		}
		if i > 0 {
			t += msf(g)
		}
		if r.chance(ty.typo) && i+2 < len(text) {
			// A typo, noticed a few keys later and erased.
			wrong := 1 + r.IntN(2)
			for w := 0; w < wrong; w++ {
				out = append(out, keyEv{t: t, in: "x", echo: "x"})
				t += msf(r.logn(ty.iki, ty.sigma))
			}
			t += msf(r.logn(350, 0.5))
			for w := 0; w < wrong; w++ {
				out = append(out, keyEv{t: t, in: "\x7f", echo: "\b \b"})
				t += msf(r.logn(ty.iki*0.8, 0.3))
			}
		}
		if ch != ' ' && prev == ' ' && i+4 < len(text) && r.chance(0.06) {
			// Tab completion: the shell echoes the completed word.
			out = append(out, keyEv{t: t, in: string(ch), echo: string(ch)})
			t += msf(r.logn(ty.iki, ty.sigma))
			end := strings.IndexByte(text[i:], ' ')
			if end < 0 {
				end = len(text) - i
			}
			out = append(out, keyEv{t: t, in: "\t", echo: text[i+1 : i+end]})
			i += end - 1
			prev = text[i]
			continue
		}
		out = append(out, keyEv{t: t, in: string(ch), echo: string(ch)})
		prev = ch
	}
	return out
}

// typeLine types a command as a person and presses Enter; it returns the
// time the Enter packet was sent.
func (s *shell) typeLine(t int64, ty typist, text string) int64 {
	keys := ty.keys(s.r, t, text)
	tEnter := t
	if len(keys) > 0 {
		tEnter = keys[len(keys)-1].t
	}
	tEnter += msf(s.r.logn(260, 0.5))
	enter := "\r"
	if s.kind == shTelnet {
		enter = "\r\x00"
	}
	keys = append(keys, keyEv{t: tEnter, in: enter})
	return s.deliver(keys)
}

// sendLine sends a whole command line in one write, as a program does; with
// a pty the shell echoes it.
func (s *shell) sendLine(t int64, text string) int64 {
	nl := "\r"
	if s.kind == shRaw {
		nl = "\n"
	} else if s.kind == shTelnet {
		nl = "\r\n"
	}
	echo := ""
	if s.echo {
		echo = text
	}
	return s.deliver([]keyEv{{t: t, in: text + nl, echo: echo}})
}

// outKind is the output shape of a command.
type outKind uint8

const (
	outNone   outKind = iota
	outSmall          // a few lines
	outMedium         // a screenful or two
	outLarge          // a file or a long listing
	outTicker         // a line every second (ping, watch)
	outStream         // irregular lines for seconds (build, apt, tail -f)
	outScreen         // full-screen redraws (top)
)

// command is a command line and the shape of its output.
type command struct {
	line string
	out  outKind
}

// output writes what the shell prints after a command line passed the
// sensor at t (echo of Enter, the output, the prompt) and returns the time
// of the prompt.
func (s *shell) output(t int64, k outKind) int64 {
	r := s.r
	e := s.e
	base := t + s.c.turn(s.out) + us*int64(r.intIn(40, 400))
	s.advance(base)
	cur := base
	if s.echo {
		cur = s.outSend(base, 2, "\r\n")
	}
	run := func(median, sigma, lo, hi float64) int64 { return msf(r.lognClip(median, sigma, lo, hi)) }
	chunks := func(t int64, n int) int64 {
		for n > 0 {
			q := min(n, int(r.lognClip(1400, 0.9, 60, 16384)))
			n -= q
			t = s.outSend(t, q, "")
			s.advance(t)
			t += us * int64(r.intIn(20, 600))
		}
		return t
	}
	switch k {
	case outNone:
		cur += run(3, 1, 0.3, 3000)
	case outSmall:
		cur = chunks(cur+run(4, 1, 0.3, 800), int(r.lognClip(220, 0.8, 20, 2000)))
	case outMedium:
		cur = chunks(cur+run(15, 1, 1, 3000), int(e.scaled(r.lognClip(2500, 0.7, 400, 15000), 300)))
	case outLarge:
		cur = chunks(cur+run(30, 1, 1, 5000), e.vol(r.lognClip(30000, 1, 5000, 400000), 2000))
	case outTicker:
		n := e.scaledInt(float64(r.intIn(5, 20)), 3)
		iv := msf(r.uniform(999.5, 1001))
		cur += run(15, 0.5, 2, 200)
		for i := 0; i < n; i++ {
			s.advance(cur)
			s.outSend(cur, r.intIn(60, 90), "")
			cur += iv + us*int64(r.intIn(0, 1500))
		}
	case outStream:
		n := e.scaledInt(float64(r.intIn(20, 250)), 6)
		cur += run(100, 1, 5, 3000)
		for i := 0; i < n; i++ {
			s.advance(cur)
			s.outSend(cur, int(r.lognClip(90, 0.6, 20, 1500)), "")
			cur += msf(r.lognClip(110, 1.4, 0.2, 6000))
		}
	case outScreen:
		n := e.scaledInt(float64(r.intIn(4, 15)), 2)
		cur += run(30, 0.5, 5, 200)
		for i := 0; i < n; i++ {
			s.advance(cur)
			s.outSend(cur, int(r.lognClip(1800, 0.4, 400, 6000)), "")
			cur += msf(r.uniform(2990, 3010))
		}
	}
	s.advance(cur)
	p := s.promptText()
	return s.outSend(cur+us*int64(r.intIn(20, 900)), len(p), p)
}

// --- session set-up and teardown ------------------------------------------

var (
	sshServerBanners = []string{"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", "SSH-2.0-OpenSSH_8.7"}
	// Clients without keystroke obfuscation (OpenSSH before 9.5, PuTTY,
	// SecureCRT); OpenSSH >= 9.5 with a tty obscures keystroke timing.
	sshHumanClients = []string{"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10", "SSH-2.0-PuTTY_Release_0.81", "SSH-2.0-OpenSSH_for_Windows_8.1", "SSH-2.0-OpenSSH_9.0", "SSH-2.0-SecureCRT_9.5.1 (x64 build 3202)", "SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u3"}
	sshAgentClients = []string{"SSH-2.0-paramiko_3.4.0", "SSH-2.0-AsyncSSH_2.17.0", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10", "SSH-2.0-Go", "SSH-2.0-libssh2_1.11.0"}
	sshCiphers      = []float64{0.6, 0.2, 0.15, 0.05}
)

// sshLogin runs the SSH transport set-up, authentication and the session
// channel (pty + shell, unless exec is set) from t; it returns the time the
// shell prompt arrived.
func (s *shell) sshLogin(t int64, human bool, clientBanner string, exec string) int64 {
	r := s.r
	c := s.c
	s.sc = &sshConn{c: c, cipher: sshCipher(r.weighted(sshCiphers))}
	ta := c.open(t)
	sb := pick(r, sshServerBanners) + "\r\n"
	cb := clientBanner + "\r\n"
	modern := (strings.Contains(clientBanner, "OpenSSH_9") || strings.Contains(clientBanner, "OpenSSH_10")) && strings.Contains(sb, "OpenSSH_9")
	c.f.st[cli].lit(c.off(cli), []byte(cb))
	tcb := c.send(cli, ta+us*int64(r.intIn(100, 1500)), len(cb))
	c.f.st[srv].lit(c.off(srv), []byte(sb))
	tsb := c.send(srv, ta+c.turn(srv)+us*int64(r.intIn(400, 4000)), len(sb))
	ck := sshKexInit(r, false, modern)
	c.f.st[cli].lit(c.off(cli), ck)
	tck := c.send(cli, max(tcb, tsb+c.turn(cli))+us*int64(r.intIn(100, 800)), len(ck))
	sk := sshKexInit(r, true, modern)
	c.f.st[srv].lit(c.off(srv), sk)
	tsk := c.send(srv, max(tsb, tcb+c.turn(srv))+us*int64(r.intIn(100, 800)), len(sk))
	// KEX_ECDH_INIT: curve25519, or with OpenSSH 9.x on both ends the
	// hybrid sntrup761x25519 (1158 + 32 bytes; the reply 1039 + 32).
	qc, qs := 32, 32
	if modern {
		qc, qs = 1190, 1071
	}
	ti := s.sc.write(cli, max(tck, tsk+c.turn(cli))+us*int64(r.intIn(200, 1200)), [][]byte{sshKexECDHInit(r, qc)})
	tr := s.sc.write(srv, ti+c.turn(srv)+us*int64(r.intIn(800, 5000)), [][]byte{sshKexECDHReply(r, qs), {21}})
	confirm := int64(0)
	if human && r.chance(0.1) {
		confirm = secf(r.lognClip(4, 0.6, 1, 30)) // first connection: the user accepts the host key
	}
	tn := s.sc.write(cli, tr+c.turn(cli)+us*int64(r.intIn(300, 2000))+confirm, [][]byte{{21}}, 1+4+12)
	tx := s.sc.packets(srv, tn+c.turn(srv)+us*int64(r.intIn(100, 800)), r.intIn(180, 260), 1+4+12)
	// Authentication.
	var tok int64
	if human && r.chance(0.35) {
		// Password: the server offers methods, the user types the
		// password locally (no packets) and sends it in one packet.
		t1 := s.sc.packets(cli, tx+c.turn(cli)+us*int64(r.intIn(200, 900)), 1+4+8+4+14+4+4)
		t2 := s.sc.packets(srv, t1+c.turn(srv)+us*int64(r.intIn(300, 3000)), 1+4+30+1)
		t3 := s.sc.packets(cli, t2+c.turn(cli)+secf(r.lognClip(3.5, 0.5, 1.2, 20)), 1+4+8+4+14+4+8+1+4+r.intIn(8, 20))
		tok = s.sc.packets(srv, t3+c.turn(srv)+msf(r.lognClip(60, 0.8, 5, 2500)), 1)
	} else {
		t1 := s.sc.packets(cli, tx+c.turn(cli)+us*int64(r.intIn(200, 900)), 1+4+8+4+14+4+9+1+4+11+4+51)
		t2 := s.sc.packets(srv, t1+c.turn(srv)+us*int64(r.intIn(300, 3000)), 1+4+11+4+51)
		sign := us * int64(r.intIn(300, 3000))
		if human && r.chance(0.25) {
			sign = secf(r.lognClip(3, 0.5, 1, 15)) // key passphrase typed locally
		}
		t3 := s.sc.packets(cli, t2+c.turn(cli)+sign, 1+4+8+4+14+4+9+1+4+11+4+51+4+83)
		tok = s.sc.packets(srv, t3+c.turn(srv)+msf(r.lognClip(25, 0.8, 3, 800)), 1)
	}
	// Session channel.
	to := s.sc.packets(cli, tok+c.turn(cli)+us*int64(r.intIn(100, 800)), 1+4+7+4+4+4)
	tc := s.sc.packets(srv, to+c.turn(srv)+us*int64(r.intIn(200, 2000)), 1+4+4+4+4)
	if strings.Contains(clientBanner, "OpenSSH") {
		s.sc.packets(srv, tc+us*int64(r.intIn(50, 500)), r.intIn(500, 1400)) // hostkeys-00@openssh.com
	}
	if exec != "" {
		te := s.sc.packets(cli, tc+c.turn(cli)+us*int64(r.intIn(100, 600)), 1+4+4+4+1+4+len(exec))
		return s.sc.packets(srv, te+c.turn(srv)+us*int64(r.intIn(100, 900)), 1+4+1+4+4)
	}
	tp := s.sc.packets(cli, tc+c.turn(cli)+us*int64(r.intIn(100, 600)), 1+4+4+7+1+4+14+16+4+r.intIn(250, 290), 1+4+4+3+1+4+4+4+11, 1+4+4+5+1)
	ts := s.sc.packets(srv, tp+c.turn(srv)+us*int64(r.intIn(200, 2000)), 1+4+4, 1+4, 1+4)
	// MOTD, last login and the prompt, over a few writes.
	motd := r.intIn(300, 2600)
	t1 := s.outSend(ts+msf(r.lognClip(15, 1, 1, 400)), motd, "")
	t2 := s.outSend(t1+msf(r.lognClip(8, 1, 0.5, 300)), r.intIn(60, 120), "")
	p := s.promptText()
	return s.outSend(t2+msf(r.lognClip(3, 1, 0.2, 100)), len(p), p)
}

// sshLogout ends an SSH session after "exit" passed the sensor at t.
func (s *shell) sshLogout(t int64) int64 {
	r := s.r
	c := s.c
	s.advance(t + c.turn(srv))
	s.flushLater(1 << 62)
	t1 := s.outSend(t+c.turn(srv)+us*int64(r.intIn(200, 3000)), 8, "")
	t2 := s.sc.packets(srv, t1+us*int64(r.intIn(100, 2000)), 1+4+4+11+1+4, 1+4, 1+4)
	s.advance(t2 + c.turn(cli))
	s.chaffOn = false
	t3 := s.sc.packets(cli, t2+c.turn(cli)+us*int64(r.intIn(100, 800)), 1+4)
	return s.close(cli, t3+us*int64(r.intIn(100, 3000)), us*int64(r.intIn(100, 3000)))
}

// telnetLogin negotiates options and logs in from t; human sessions type
// the user name and password key by key, programs send each in one write.
func (s *shell) telnetLogin(t int64, human bool, ty typist) int64 {
	r := s.r
	c := s.c
	ta := c.open(t)
	neg := []string{"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27", "\xff\xfb\x03\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x05\xff\xfd\x21"}
	ans := []string{"\xff\xfb\x18\xff\xfc\x20\xff\xfc\x23\xff\xfc\x27", "\xff\xfd\x03\xff\xfb\x01\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0\xff\xfd\x05\xff\xfc\x21"}
	cur := ta + c.turn(srv) + us*int64(r.intIn(500, 3000))
	for i := range neg {
		t1 := s.outSend(cur, len(neg[i]), neg[i])
		t2 := s.inSend(t1+c.turn(cli)+us*int64(r.intIn(50, 400)), ans[i])
		cur = t2 + c.turn(srv) + us*int64(r.intIn(100, 2000))
	}
	banner := "\r\nUser Access Verification\r\n\r\nUsername: "
	if r.chance(0.5) {
		banner = "Ubuntu 22.04.4 LTS\r\n" + s.hostn + " login: "
	}
	t3 := s.outSend(cur, len(banner), banner)
	var tu int64
	if human {
		tu = s.typeLine(t3+c.turn(cli)+secf(r.lognClip(1.2, 0.5, 0.4, 8)), ty, s.user)
	} else {
		tu = s.sendLine(t3+c.turn(cli)+msf(r.lognClip(40, 0.8, 2, 800)), s.user)
	}
	pw := "Password: "
	t4 := s.outSend(tu+c.turn(srv)+us*int64(r.intIn(300, 3000)), len(pw), pw)
	echo := s.echo
	s.echo = false // the password is not echoed
	var tp int64
	if human {
		tp = s.typeLine(t4+c.turn(cli)+secf(r.lognClip(0.8, 0.5, 0.3, 5)), ty, "Spring2026!x")
	} else {
		tp = s.sendLine(t4+c.turn(cli)+msf(r.lognClip(40, 0.8, 2, 800)), "Spring2026!x")
	}
	s.echo = echo
	t5 := s.outSend(tp+c.turn(srv)+msf(r.lognClip(80, 0.8, 5, 2000)), r.intIn(200, 1400), "\r\n")
	p := s.promptText()
	return s.outSend(t5+msf(r.lognClip(5, 1, 0.2, 200)), len(p), p)
}
