package synth

import (
	"net/netip"

	"github.com/aegis-nsm/aegis/schemas"
)

// Sides of a flow. The client is the originator (Zeek's orig), the server the
// responder.
const (
	cli = 0
	srv = 1
)

// pkt is one packet of a flow, before serialisation. Sequence and
// acknowledgement numbers are relative (the SYN is 0, the first data byte 1);
// the writer adds the initial sequence numbers. For UDP, seq is the offset of
// the datagram in the direction's virtual byte stream (for its content).
type pkt struct {
	t            int64  // capture time at the sensor, ns since the Unix epoch
	seq, ack     uint32 // relative
	n            uint32 // transport payload bytes
	sackL, sackR uint32 // one relative SACK block, or 0,0
	dir          uint8  // cli or srv: the sender
	flags        uint8  // TCP flags
}

// flow is one connection: its identity, the packets it wrote and its labels.
// A flow is built completely by its episode, then handed to the merger, which
// owns it until its last packet is written.
type flow struct {
	idx     int // creation order; ties in the merge break on it
	episode int
	proto   uint8
	v6      bool
	vlan    uint16
	addr    [2]netip.Addr
	port    [2]uint16
	mac     [2][6]byte // source MAC of frames sent by each side (the router's for remote hosts)
	ttl     [2]uint8
	ipid    [2]uint16
	flowLbl [2]uint32
	tos     uint8
	isn     [2]uint32
	win     [2]uint16
	tsOpt   bool
	tsBase  [2]uint32
	wscale  [2]uint8
	mssOpt  [2]uint16
	osStyle [2]osKind // TCP option layout of each side's SYN
	pkts    []pkt
	st      [2]stream

	// Labels.
	class      schemas.Class
	scenario   string
	route      string
	sni        string
	service    string
	handoffAt  int64
	handoffDir string
	uid        string
	tls        *tlsInfo

	// Merge state.
	next int // index of the next packet to write
	cnt  flowCount
}

// tlsInfo is what ssl.log says about a TLS flow.
type tlsInfo struct {
	version, cipher, curve, alpn, history string
	resumed                               bool
	certFPs                               []string
}

// osKind selects OS-specific TCP behaviour (option layout, delayed ACK, TTL).
type osKind uint8

const (
	osLinux osKind = iota
	osWindows
	osMac
	osNetdev // a switch or router CLI (IOS-like stack: MSS option only, TTL 255)
)

func (f *flow) add(p pkt) { f.pkts = append(f.pkts, p) }

// label sets the flow's truth labels.
func (f *flow) label(c schemas.Class, scenario string) {
	f.class = c
	f.scenario = scenario
}
