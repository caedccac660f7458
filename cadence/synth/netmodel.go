package synth

import (
	"fmt"
	"net/netip"
)

// host is an internal machine: a client, or a server on the LAN.
type host struct {
	v4, v6  netip.Addr
	mac     [6]byte
	vlan    uint16
	os      osKind
	recent  [32]uint16 // recently used ephemeral ports
	nrec    int
	seqPort uint16
}

// pools of internal hosts. Clients are on access VLANs; the sensor sees some
// of them through a trunk (tagged frames) and the rest untagged.
type network struct {
	ws, dev, srv, voip []*host
	router             [6]byte
}

// newNetwork builds the address plan from the seed. The VLAN tag a host's
// frames carry is decided per host (a sensor on a trunk sees some segments
// tagged): vlanShare is the share of hosts whose frames are tagged.
func newNetwork(seed int64, vlanShare float64) *network {
	r := newRNG(seed, 0x6e6574, 0)
	n := &network{router: [6]byte{0x00, 0x1c, 0x73, 0x0a, 0x01, 0xfe}}
	mk := func(count int, v4base [3]byte, v6pfx string, vlan uint16, first int, oses []float64) []*host {
		var hs []*host
		for i := 0; i < count; i++ {
			o := first + i
			h := &host{
				v4: netip.AddrFrom4([4]byte{v4base[0], v4base[1], v4base[2] + byte(o/250), byte(10 + o%250)}),
				v6: netip.MustParseAddr(fmt.Sprintf("%s%x:%x", v6pfx, 0x1000+r.IntN(0xe000), r.IntN(0xffff)+1)),
				os: osKind(r.weighted(oses)),
			}
			mac := r.Uint64()
			for j := 0; j < 6; j++ {
				h.mac[j] = byte(mac >> (8 * j))
			}
			h.mac[0] = h.mac[0]&0xfe | 0x02 // locally administered unicast
			if r.chance(vlanShare) {
				h.vlan = vlan
			}
			h.seqPort = uint16(49152 + r.IntN(12000))
			hs = append(hs, h)
		}
		return hs
	}
	// Shares of Linux, Windows and macOS per pool.
	n.ws = mk(60, [3]byte{10, 20, 0}, "fd00:20::", 120, 0, []float64{0.2, 0.55, 0.25})
	n.dev = mk(24, [3]byte{10, 20, 8}, "fd00:28::", 128, 0, []float64{0.6, 0.05, 0.35})
	n.srv = mk(40, [3]byte{10, 30, 1}, "fd00:30::", 30, 0, []float64{1, 0, 0})
	for i := srvFirstDevice; i < srvFirstDevice+6; i++ {
		n.srv[i].os = osNetdev
	}
	n.voip = mk(12, [3]byte{10, 40, 0}, "fd00:40::", 40, 0, []float64{1, 0, 0})
	return n
}

// ephemeral returns a client port for a new connection from h.
func (h *host) ephemeral(r *rng) uint16 {
	for {
		var p uint16
		switch h.os {
		case osWindows:
			h.seqPort++
			if h.seqPort < 49152 {
				h.seqPort = 49152
			}
			p = h.seqPort
		case osMac:
			p = uint16(49152 + r.IntN(16384))
		default:
			p = uint16(32768 + r.IntN(28232))
		}
		dup := false
		for _, q := range h.recent[:min(h.nrec, len(h.recent))] {
			if q == p {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		h.recent[h.nrec%len(h.recent)] = p
		h.nrec++
		return p
	}
}

// remote is a server outside the site, reached through the router.
type remote struct {
	v4, v6 []string
	rtt    [2]float64 // RTT range in ms
	os     osKind
	mss    uint16 // MSS the server advertises (0: 1460/1440)
	noTS   bool   // the server does not use TCP timestamps
}

// endpoint is the responder of a new flow: a remote server or a LAN host.
type endpoint struct {
	rem  *remote
	lan  *host
	name string
}

func (e endpoint) pickAddr(r *rng, v6 bool) netip.Addr {
	if e.lan != nil {
		if v6 {
			return e.lan.v6
		}
		return e.lan.v4
	}
	if v6 && len(e.rem.v6) > 0 {
		return netip.MustParseAddr(pick(r, e.rem.v6))
	}
	return netip.MustParseAddr(pick(r, e.rem.v4))
}

func (e endpoint) hasV6() bool { return e.lan != nil || len(e.rem.v6) > 0 }

// Remote services. Addresses are plausible for the named operators but
// illustrative: nothing depends on them being current.
var remotes = map[string]*remote{
	"openai":     {v4: []string{"162.159.140.245", "172.66.0.243"}, v6: []string{"2606:4700:4400::ac40:9bd1", "2606:4700:4400::6812:23f5"}, rtt: [2]float64{6, 45}},
	"anthropic":  {v4: []string{"160.79.104.10"}, v6: []string{"2607:6bc0::10"}, rtt: [2]float64{12, 95}},
	"google":     {v4: []string{"142.250.185.74", "172.217.16.202", "216.58.206.42"}, v6: []string{"2a00:1450:4001:82b::200a", "2a00:1450:4001:80e::200a"}, rtt: [2]float64{5, 35}, mss: 1412},
	"xai":        {v4: []string{"104.18.32.47", "172.64.155.209"}, v6: []string{"2606:4700:4400::6812:202f"}, rtt: [2]float64{8, 60}},
	"openrouter": {v4: []string{"104.18.2.115", "104.18.3.115"}, v6: []string{"2606:4700::6812:273"}, rtt: [2]float64{8, 60}},
	"bedrock":    {v4: []string{"52.94.133.131", "3.218.180.59", "44.194.119.30"}, rtt: [2]float64{18, 150}, noTS: true},
	"azure":      {v4: []string{"20.62.58.160", "40.71.8.203", "20.119.129.14"}, rtt: [2]float64{15, 130}, mss: 1380, noTS: true},
	"deepseek":   {v4: []string{"116.205.40.115", "116.205.40.116"}, rtt: [2]float64{90, 150}},
	"cdn":        {v4: []string{"151.101.1.140", "151.101.65.140", "104.16.124.96", "13.224.189.47", "185.199.108.153"}, v6: []string{"2a04:4e42::396", "2606:4700::6810:7c60"}, rtt: [2]float64{5, 30}},
	"web":        {v4: []string{"140.82.121.4", "208.80.154.224", "151.101.193.69", "93.184.215.14"}, v6: []string{"2620:0:861:ed1a::1", "2a04:4e42:200::81"}, rtt: [2]float64{10, 110}},
	"storage":    {v4: []string{"52.216.88.110", "52.217.169.48", "142.251.36.48"}, v6: []string{"2600:1fa0:8040::3417:d8ac"}, rtt: [2]float64{10, 120}, noTS: true},
	"video":      {v4: []string{"198.38.96.140", "45.57.18.33", "173.194.187.71"}, v6: []string{"2a00:86c0:2040::140"}, rtt: [2]float64{5, 40}},
	"telemetry":  {v4: []string{"20.189.173.14", "52.168.117.170", "13.89.179.9"}, rtt: [2]float64{20, 120}, noTS: true},
	"vps":        {v4: []string{"159.89.214.31", "172.105.77.160", "51.15.182.43", "45.77.65.211", "95.179.212.8"}, v6: []string{"2a03:b0c0:3:d0::1b1:e001"}, rtt: [2]float64{15, 150}},
	"exchange":   {v4: []string{"52.192.112.110", "13.230.66.113", "104.17.153.78"}, rtt: [2]float64{20, 150}},
	"sip":        {v4: []string{"185.104.72.19", "212.227.15.24"}, rtt: [2]float64{8, 40}},
	"mirror":     {v4: []string{"91.189.91.82", "185.125.190.36", "151.101.2.132"}, v6: []string{"2620:2d:4000:1::16"}, rtt: [2]float64{10, 90}},
}

// Internal service hosts (indexes into the srv pool).
const (
	srvResolver    = 0
	srvGateway     = 1 // llm.corp.internal
	srvRedis       = 2
	srvDB          = 3
	srvFTP         = 4
	srvPBX         = 5
	srvRDP         = 6
	srvBackup      = 7
	srvOllama      = 8  // a GPU box
	srvFirstSSH    = 10 // 10..29: Linux servers reached by SSH
	srvFirstDevice = 30 // 30..35: network devices (telnet)
)

// sshTarget picks an internal Linux server.
func (n *network) sshTarget(r *rng) endpoint { return n.lanServer(srvFirstSSH + r.IntN(20)) }

// device picks a network device.
func (n *network) device(r *rng) endpoint { return n.lanServer(srvFirstDevice + r.IntN(6)) }

func (n *network) lanServer(i int) endpoint { return endpoint{lan: n.srv[i]} }

func remoteEP(name string) endpoint { return endpoint{rem: remotes[name], name: name} }
