package synth

import (
	"encoding/binary"
)

// TLS 1.3 framing. Application data travels in records of at most 16384
// plaintext bytes; each costs 5 (header) + 1 (inner content type) + 16 (AEAD
// tag) bytes on the wire. Handshake records carry real bytes (a ClientHello
// with the SNI, a ServerHello) so that tshark, Zeek or Suricata reading the
// pcap see a TLS 1.3 session; encrypted bytes are zeros.
const (
	tlsRecOverhead = 22
	tlsMaxPlain    = 16384
)

type tlsConn struct {
	c *tcpConn
}

// records sends the given plaintext record sizes from side d as one TCP
// write (records written back to back by one flush) and returns the time of
// the last segment.
func (s *tlsConn) records(d int, t int64, plain ...int) int64 {
	st := &s.c.f.st[d]
	off := s.c.off(d)
	total := 0
	for _, p := range plain {
		for p > 0 {
			q := min(p, tlsMaxPlain)
			p -= q
			l := q + tlsRecOverhead - 5
			st.lit(off+uint32(total), []byte{0x17, 0x03, 0x03, byte(l >> 8), byte(l)})
			total += q + tlsRecOverhead
		}
	}
	return s.c.send(d, t, total)
}

// clientStyle is the TLS client library, which shapes the ClientHello.
type clientStyle uint8

const (
	chOpenSSL clientStyle = iota // Python/requests, curl, Node: ~517 B with padding
	chGo                         // Go 1.24+: X25519MLKEM768 key share, ~1.3 KB
	chBrowser                    // Chrome/Firefox: GREASE, ML-KEM, ~1.8 KB
	chRustls                     // rustls (Rust CLIs, some agents): ~ 300 B
)

func put16(b []byte, v int) []byte { return append(b, byte(v>>8), byte(v)) }

// clientHello builds a TLS 1.3 ClientHello record for sni (empty: no SNI).
func clientHello(r *rng, sni string, alpn []string, style clientStyle) []byte {
	var ext []byte
	addExt := func(typ int, body []byte) {
		ext = put16(ext, typ)
		ext = put16(ext, len(body))
		ext = append(ext, body...)
	}
	if style == chBrowser {
		addExt(0x0a0a, nil) // GREASE
	}
	if sni != "" {
		var b []byte
		b = put16(b, len(sni)+3)
		b = append(b, 0)
		b = put16(b, len(sni))
		b = append(b, sni...)
		addExt(0x0000, b)
	}
	addExt(0x0017, nil)       // extended_master_secret
	addExt(0xff01, []byte{0}) // renegotiation_info
	pq := style == chGo || style == chBrowser
	groups := []int{0x001d, 0x0017, 0x0018}
	if pq {
		groups = append([]int{0x11ec}, groups...)
	}
	var g []byte
	g = put16(g, 2*len(groups))
	for _, x := range groups {
		g = put16(g, x)
	}
	addExt(0x000a, g)            // supported_groups
	addExt(0x000b, []byte{1, 0}) // ec_point_formats
	if style != chRustls {
		addExt(0x0023, nil) // session_ticket
	}
	if len(alpn) > 0 {
		var a []byte
		for _, p := range alpn {
			a = append(a, byte(len(p)))
			a = append(a, p...)
		}
		addExt(0x0010, append(put16(nil, len(a)), a...)) // ALPN
	}
	if style == chOpenSSL || style == chBrowser {
		addExt(0x0005, []byte{1, 0, 0, 0, 0}) // status_request
	}
	sig := []int{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}
	if style == chOpenSSL {
		sig = append(sig, 0x0807, 0x0808, 0x081a, 0x081b, 0x081c, 0x0402, 0x0502, 0x0602)
	}
	var sa []byte
	sa = put16(sa, 2*len(sig))
	for _, x := range sig {
		sa = put16(sa, x)
	}
	addExt(0x000d, sa) // signature_algorithms
	if style == chBrowser {
		addExt(0x0012, nil)             // signed_certificate_timestamp
		addExt(0x001b, []byte{2, 0, 2}) // compress_certificate (brotli)
	}
	var ks []byte
	if pq {
		ks = put16(ks, 0x11ec)
		ks = put16(ks, 1216)
		ks = append(ks, randBytes(r, 1216)...)
	}
	ks = put16(ks, 0x001d)
	ks = put16(ks, 32)
	ks = append(ks, randBytes(r, 32)...)
	addExt(0x0033, append(put16(nil, len(ks)), ks...)) // key_share
	addExt(0x002d, []byte{1, 1})                       // psk_key_exchange_modes
	if style == chBrowser {
		addExt(0x002b, []byte{6, 0x2a, 0x2a, 3, 4, 3, 3})
	} else {
		addExt(0x002b, []byte{4, 3, 4, 3, 3}) // supported_versions
	}
	suites := []int{0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc02b, 0xc02f, 0x009f, 0x009e, 0x00ff}
	switch style {
	case chGo:
		suites = []int{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	case chBrowser:
		suites = []int{0x1a1a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	case chRustls:
		suites = []int{0x1302, 0x1301, 0x1303, 0xc02c, 0xc02b, 0xcca9, 0xc030, 0xc02f, 0xcca8, 0x00ff}
	}
	var body []byte
	body = append(body, 3, 3)
	body = append(body, randBytes(r, 32)...)
	body = append(body, 32)
	body = append(body, randBytes(r, 32)...)
	body = put16(body, 2*len(suites))
	for _, s := range suites {
		body = put16(body, s)
	}
	body = append(body, 1, 0)
	// OpenSSL pads a ClientHello of 256..511 bytes to 512 (RFC 7685).
	if style == chOpenSSL {
		n := len(body) + 2 + len(ext) + 4
		if n >= 256 && n < 512 {
			pad := 512 - n - 4
			if pad < 1 {
				pad = 1
			}
			addExt(0x0015, make([]byte, pad))
		}
	}
	body = put16(body, len(ext))
	body = append(body, ext...)
	hs := []byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{0x16, 0x03, 0x01}
	rec = put16(rec, len(hs))
	return append(rec, hs...)
}

// serverHello builds the server's first flight prefix: a ServerHello record
// and the ChangeCipherSpec record (middlebox compatibility).
func serverHello(r *rng, pq bool) []byte {
	var ext []byte
	ext = append(ext, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04)
	if pq {
		ext = append(ext, 0x00, 0x33)
		ext = put16(ext, 4+1120)
		ext = put16(ext, 0x11ec)
		ext = put16(ext, 1120)
		ext = append(ext, make([]byte, 1120)...)
	} else {
		ext = append(ext, 0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20)
		ext = append(ext, make([]byte, 32)...)
	}
	var body []byte
	body = append(body, 3, 3)
	for i := 0; i < 4; i++ {
		v := r.Uint64()
		body = binary.BigEndian.AppendUint64(body, v)
	}
	body = append(body, 32)
	body = append(body, make([]byte, 32)...)
	body = put16(body, pick(r, []int{0x1301, 0x1302, 0x1303}))
	body = append(body, 0)
	body = put16(body, len(ext))
	body = append(body, ext...)
	hs := []byte{2, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{0x16, 0x03, 0x03}
	rec = put16(rec, len(hs))
	rec = append(rec, hs...)
	return append(rec, 0x14, 0x03, 0x03, 0x00, 0x01, 0x01)
}

// tlsHandshake is how a TLS connection opens.
type tlsHandshake struct {
	sni       string
	alpn      []string // offered
	chosen    string   // ALPN the server picked ("" for none)
	style     clientStyle
	certBytes int // encrypted server flight (EncryptedExtensions .. Finished)
	tickets   int // NewSessionTicket records after the client Finished
	resumed   bool
}

// handshake writes the TLS 1.3 handshake starting at t (after the TCP
// handshake) and returns the time from which the client may send data. It
// fills the flow's tlsInfo for ssl.log.
func (s *tlsConn) handshake(t int64, h tlsHandshake) int64 {
	c := s.c
	r := c.r
	ch := clientHello(r, h.sni, h.alpn, h.style)
	c.f.st[cli].lit(c.off(cli), ch)
	t1 := c.send(cli, t, len(ch))
	pq := h.style == chGo || h.style == chBrowser
	sh := serverHello(r, pq)
	flight := h.certBytes
	if h.resumed {
		flight = r.intIn(90, 180)
	}
	// ServerHello + CCS + the encrypted flight in one or two records.
	st := &c.f.st[srv]
	off := c.off(srv)
	st.lit(off, sh)
	n := len(sh)
	recs := []int{flight}
	if flight > 2000 && r.chance(0.5) {
		a := r.intIn(30, 120)
		recs = []int{a, flight - a}
	}
	for _, p := range recs {
		l := p + tlsRecOverhead - 5
		st.lit(off+uint32(n), []byte{0x17, 0x03, 0x03, byte(l >> 8), byte(l)})
		n += p + tlsRecOverhead
	}
	// Server think time: signature (0.3-3 ms) unless resumed.
	think := us * int64(r.intIn(300, 3000))
	if h.resumed {
		think = us * int64(r.intIn(50, 300))
	}
	t2 := c.send(srv, t1+c.turn(srv)+think, n)
	// Client: CCS + Finished (encrypted), after verifying the chain.
	fin := []byte{0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03, 0x03, 0x00, 0x35}
	c.f.st[cli].lit(c.off(cli), fin)
	verify := us * int64(r.intIn(200, 2500))
	if h.resumed {
		verify = us * int64(r.intIn(30, 200))
	}
	t3 := c.send(cli, t2+c.turn(cli)+verify, 6+5+0x35)
	if h.tickets > 0 {
		sizes := make([]int, h.tickets)
		for i := range sizes {
			sizes[i] = r.intIn(180, 260)
		}
		(&tlsConn{c: c}).records(srv, t3+c.turn(srv)+us*int64(r.intIn(50, 400)), sizes...)
	}
	c.f.tls = &tlsInfo{
		version: "TLSv13",
		cipher:  pick(r, []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}),
		curve:   "x25519",
		alpn:    h.chosen,
		history: "CsiI",
		resumed: h.resumed,
	}
	if pq {
		c.f.tls.curve = "X25519MLKEM768"
	}
	c.f.sni = h.sni
	return t3
}

// SSH binary packet sizes (RFC 4253 with OpenSSH's AEAD and EtM modes).
type sshCipher uint8

const (
	sshChaCha  sshCipher = iota // chacha20-poly1305@openssh.com (OpenSSH default)
	sshAESGCM                   // aes256-gcm@openssh.com
	sshCTRSHA2                  // aes128-ctr + hmac-sha2-256-etm@openssh.com
	sshCTRUMAC                  // aes128-ctr + umac-64-etm@openssh.com
)

// sshWire is the wire size of an SSH packet with a payload of p bytes.
func sshWire(c sshCipher, p int) int {
	bs, mac := 8, 16
	switch c {
	case sshAESGCM:
		bs, mac = 16, 16
	case sshCTRSHA2:
		bs, mac = 16, 32
	case sshCTRUMAC:
		bs, mac = 16, 8
	}
	// padding_length byte + payload + padding is a multiple of the block
	// size (the length field is outside it in AEAD and EtM modes), with at
	// least 4 bytes of padding.
	body := 1 + p
	pad := bs - body%bs
	if pad < 4 {
		pad += bs
	}
	return 4 + body + pad + mac
}

// sshChanData is the payload size of SSH_MSG_CHANNEL_DATA carrying n bytes.
func sshChanData(n int) int { return 9 + n }

type sshConn struct {
	c      *tcpConn
	cipher sshCipher
}

// packets sends SSH packets with the given payload sizes from side d as one
// TCP write and returns the time of its last segment.
func (s *sshConn) packets(d int, t int64, payloads ...int) int64 {
	st := &s.c.f.st[d]
	off := s.c.off(d)
	total := 0
	for _, p := range payloads {
		w := sshWire(s.cipher, p)
		if s.cipher != sshChaCha {
			// AES-GCM and EtM leave the packet length in the clear.
			l := w - 4 - s.macLen()
			st.lit(off+uint32(total), binary.BigEndian.AppendUint32(nil, uint32(l)))
		}
		total += w
	}
	return s.c.send(d, t, total)
}

func (s *sshConn) macLen() int {
	switch s.cipher {
	case sshCTRSHA2:
		return 32
	case sshCTRUMAC:
		return 8
	}
	return 16
}

// write sends, as one TCP write from side d, cleartext packets with the given
// payloads (before NEWKEYS) followed by encrypted packets of the given
// payload sizes, and returns the time of the last segment.
func (s *sshConn) write(d int, t int64, clearPayloads [][]byte, enc ...int) int64 {
	st := &s.c.f.st[d]
	off := s.c.off(d)
	total := 0
	for _, p := range clearPayloads {
		b := sshClearPacket(p)
		st.lit(off+uint32(total), b)
		total += len(b)
	}
	for _, p := range enc {
		w := sshWire(s.cipher, p)
		if s.cipher != sshChaCha {
			l := w - 4 - s.macLen()
			st.lit(off+uint32(total), binary.BigEndian.AppendUint32(nil, uint32(l)))
		}
		total += w
	}
	return s.c.send(d, t, total)
}

func sshString(b []byte, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// sshKexECDHInit builds SSH_MSG_KEX_ECDH_INIT with a public key of n bytes.
func sshKexECDHInit(r *rng, n int) []byte {
	return sshString([]byte{30}, randBytes(r, n))
}

// sshKexECDHReply builds SSH_MSG_KEX_ECDH_REPLY (ed25519 host key).
func sshKexECDHReply(r *rng, n int) []byte {
	hk := sshString(sshString(nil, []byte("ssh-ed25519")), randBytes(r, 32))
	sig := sshString(sshString(nil, []byte("ssh-ed25519")), randBytes(r, 64))
	b := sshString([]byte{31}, hk)
	b = sshString(b, randBytes(r, n))
	return sshString(b, sig)
}

func randBytes(r *rng, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// data sends n bytes of channel data from side d in packets of at most
// maxPkt bytes (one TCP write), returning the time of the last segment.
func (s *sshConn) data(d int, t int64, n int, maxPkt int) int64 {
	var ps []int
	for n > 0 {
		q := min(n, maxPkt)
		n -= q
		ps = append(ps, sshChanData(q))
	}
	return s.packets(d, t, ps...)
}

// sshClearPacket builds an unencrypted binary packet (before NEWKEYS).
func sshClearPacket(payload []byte) []byte {
	body := 1 + len(payload)
	pad := 8 - (4+body)%8
	if pad < 4 {
		pad += 8
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(body+pad))
	b = append(b, byte(pad))
	b = append(b, payload...)
	return append(b, make([]byte, pad)...)
}

func sshNameList(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// sshKexInit builds a KEXINIT packet as an OpenSSH client or server sends it.
func sshKexInit(r *rng, server bool, modern bool) []byte {
	p := []byte{20}
	for i := 0; i < 2; i++ {
		p = binary.BigEndian.AppendUint64(p, r.Uint64())
	}
	kex := "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
	if modern {
		kex = "mlkem768x25519-sha256,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com," + kex
	}
	if server {
		kex += ",kex-strict-s-v00@openssh.com"
	} else {
		kex += ",ext-info-c,kex-strict-c-v00@openssh.com"
	}
	hk := "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519"
	if !server {
		hk = "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256"
	}
	ciph := "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"
	mac := "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1"
	comp := "none,zlib@openssh.com"
	p = sshNameList(p, kex)
	p = sshNameList(p, hk)
	p = sshNameList(p, ciph)
	p = sshNameList(p, ciph)
	p = sshNameList(p, mac)
	p = sshNameList(p, mac)
	p = sshNameList(p, comp)
	p = sshNameList(p, comp)
	p = sshNameList(p, "")
	p = sshNameList(p, "")
	p = append(p, 0, 0, 0, 0, 0)
	return sshClearPacket(p)
}
