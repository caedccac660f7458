package synth

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/aegis-nsm/aegis/schemas"
)

// scenario is one kind of episode.
type scenario struct {
	name     string
	class    schemas.Class // class of the scenario's main flows
	desc     string
	variants []string // e.g. LLM routes
	// perVariant: per-scenario mode runs EpisodesPerScenario episodes of
	// every variant (the variants are a coverage dimension, like routes);
	// otherwise EpisodesPerScenario episodes (at least one per variant)
	// cycle over the variants.
	perVariant bool
	weight     float64 // share in the benchmark-mode traffic mix
	run        func(e *episode)
}

// ScenarioInfo describes a scenario for listings and reports.
type ScenarioInfo struct {
	Name string
	// Class is the class of the scenario's main flows; an episode may also
	// write flows of other classes (DNS lookups are "other", an agent's
	// LLM connection is "llm_stream").
	Class       schemas.Class
	Description string
	// Variants are the values the scenario runs with in per-scenario mode
	// (LLM routes, shell transports); nil for none.
	Variants []string
}

// Scenarios lists every scenario in generation order.
func Scenarios() []ScenarioInfo {
	var out []ScenarioInfo
	for _, s := range allScenarios() {
		out = append(out, ScenarioInfo{Name: s.name, Class: s.class, Description: s.desc, Variants: append([]string(nil), s.variants...)})
	}
	return out
}

// allScenarios returns the registry in a fixed order.
func allScenarios() []*scenario {
	var s []*scenario
	s = append(s, llmScenarios()...)
	s = append(s, shellScenarios()...)
	s = append(s, exfilScenarios()...)
	s = append(s, negativeScenarios()...)
	return s
}

// Route names, for the truth file's route field.
func routeNames() []string {
	var n []string
	for _, r := range routes {
		n = append(n, r.name)
	}
	return n
}

// --- DNS -----------------------------------------------------------------

func dnsName(b []byte, name string) []byte {
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

// dnsQuery builds a query message (with an EDNS0 OPT record).
func dnsQuery(id uint16, name string, qtype uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1)
	b = dnsName(b, name)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = append(b, 0, 1)
	return append(b, 0, 0, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0, 0)
}

// dnsResponse answers q with an optional CNAME and the given addresses.
func dnsResponse(q []byte, name, cname string, qtype uint16, addrs []netip.Addr, ttl uint32) []byte {
	qlen := len(q) - 11 // without the OPT record
	b := append([]byte(nil), q[:qlen]...)
	b[2], b[3] = 0x81, 0x80
	an := 0
	nameRef := []byte{0xc0, 0x0c}
	if cname != "" {
		b = append(b, nameRef...)
		b = append(b, 0, 5, 0, 1)
		b = binary.BigEndian.AppendUint32(b, ttl)
		cn := dnsName(nil, cname)
		b = binary.BigEndian.AppendUint16(b, uint16(len(cn)))
		nameRef = []byte{0xc0 | byte((len(b))>>8), byte(len(b))}
		b = append(b, cn...)
		an++
	}
	for _, a := range addrs {
		if (qtype == 1) != a.Is4() {
			continue
		}
		b = append(b, nameRef...)
		b = binary.BigEndian.AppendUint16(b, qtype)
		b = append(b, 0, 1)
		b = binary.BigEndian.AppendUint32(b, ttl)
		if a.Is4() {
			v := a.As4()
			b = append(b, 0, 4)
			b = append(b, v[:]...)
		} else {
			v := a.As16()
			b = append(b, 0, 16)
			b = append(b, v[:]...)
		}
		an++
	}
	binary.BigEndian.PutUint16(b[6:], uint16(an))
	binary.BigEndian.PutUint16(b[10:], 1)
	return append(b, 0, 0, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0, 0)
}

// lookup writes a DNS lookup of name by client (answered with addr) that
// starts at t, and returns the time the client can connect (the answer has
// arrived). glibc-style clients ask for A and AAAA on one socket.
func (e *episode) lookup(client *host, name string, addr netip.Addr, t int64) int64 {
	r := e.r
	u := e.newUDP(connSpec{client: client, server: e.g.net.lanServer(srvResolver), dport: 53, service: "dns"})
	u.f.label(schemas.ClassOther, "dns")
	rt := int64(r.lognClip(0.25, 0.5, 0.05, 2) * float64(ms))
	if r.chance(0.35) {
		rt = int64(r.lognClip(25, 0.7, 4, 300) * float64(ms))
	}
	cname := ""
	if r.chance(0.3) {
		cname = "edge-" + strings.ReplaceAll(name, ".", "-") + ".cdn-lb.net"
	}
	ttl := uint32(r.intIn(30, 300))
	id := uint16(r.Uint32())
	q := dnsQuery(id, name, 1)
	u.send(cli, t, len(q), q)
	a := dnsResponse(q, name, cname, 1, []netip.Addr{addr}, ttl)
	ta := t + u.turn(srv) + rt
	if client.os == osLinux || r.chance(0.4) {
		q6 := dnsQuery(id+1, name, 28)
		t6 := t + us*int64(r.intIn(20, 150))
		u.send(cli, t6, len(q6), q6)
		a6 := dnsResponse(q6, name, cname, 28, []netip.Addr{addr}, ttl)
		ta6 := t6 + u.turn(srv) + rt + us*int64(r.intIn(5, 200))
		u.send(srv, ta6, len(a6), a6)
		ta = max(ta, ta6)
		u.send(srv, t+u.turn(srv)+rt, len(a), a)
	} else {
		u.send(srv, ta, len(a), a)
	}
	return ta + u.turn(cli) + us*int64(r.intIn(50, 2000))
}

// --- TLS connections -----------------------------------------------------

// tlsClient picks a client library style for an API client.
func (e *episode) apiClientStyle() clientStyle {
	return clientStyle(e.r.weighted([]float64{0.55, 0.2, 0.1, 0.15}))
}

// openTLS opens a TCP connection and runs the TLS handshake, starting at t.
// It returns the connection, its TLS layer and the time the client can send
// its first request.
func (e *episode) openTLS(cs connSpec, t int64, hs tlsHandshake) (*tcpConn, *tlsConn, int64) {
	c := e.newTCP(cs)
	if cs.service == "" {
		c.f.service = "ssl"
	}
	if hs.certBytes == 0 {
		hs.certBytes = e.r.intIn(2400, 5200)
	}
	if hs.tickets == 0 && e.r.chance(0.7) {
		hs.tickets = e.r.intIn(1, 2)
	}
	ta := c.open(t)
	s := &tlsConn{c: c}
	tr := s.handshake(ta+us*int64(e.r.intIn(20, 300)), hs)
	if hs.chosen == "h2" {
		// HTTP/2: the client preface with SETTINGS and WINDOW_UPDATE,
		// the server's SETTINGS, then both SETTINGS ACKs.
		t1 := s.records(cli, tr+us*int64(e.r.intIn(10, 200)), e.r.intIn(60, 100))
		t2 := s.records(srv, t1+c.turn(srv)+us*int64(e.r.intIn(30, 400)), e.r.intIn(30, 60), 9)
		tr = s.records(cli, t2+c.turn(cli)+us*int64(e.r.intIn(10, 200)), 9)
	}
	return c, s, tr
}

// finish ends a connection the way clients usually do: a FIN shortly after
// the last exchange, an idle close by the server (a FIN, or a RST from load
// balancers), a RST from the client, or still open when the capture ends.
func finish(c *tcpConn, r *rng, t int64, serverIdle int64) {
	switch r.weighted([]float64{0.55, 0.2, 0.05, 0.1, 0.1}) {
	case 0:
		c.close(cli, t+int64(r.lognClip(150, 1.2, 1, 5000)*float64(ms)), int64(r.lognClip(0.5, 1, 0.05, 60)*float64(ms)))
	case 1:
		c.close(srv, t+serverIdle, int64(r.lognClip(2, 1, 0.1, 200)*float64(ms)))
	case 2:
		c.reset(srv, t+serverIdle)
	case 3:
		c.reset(cli, t+int64(r.lognClip(300, 1, 5, 5000)*float64(ms)))
	default:
		c.abandon(t + 200*ms)
	}
}
