package synth

import (
	"bufio"
	"net/netip"
	"strconv"
	"time"

	"github.com/aegis-nsm/aegis/schemas"
)

// flowCount accumulates what Zeek's conn.log reports about a flow, from the
// packets as they are written (so the counts are exactly what a flow table
// reading the pcap counts).
type flowCount struct {
	pkts, ipBytes [2]int64
	maxEnd        [2]uint32 // TCP: highest data sequence end per side
	udpBytes      [2]int64
	hist          []byte
	once          uint64 // history letters already recorded
	retx          [2]int
	syn, synack   bool
	fin, rst      [2]bool
	first, last   int64
	lastAny       int64
}

var letters = [2][6]byte{
	{'S', 'H', 'F', 'R', 'D', 'A'},
	{'s', 'h', 'f', 'r', 'd', 'a'},
}

func (fc *flowCount) mark(d int, i int) {
	bit := uint64(1) << (d*8 + i)
	if fc.once&bit != 0 {
		return
	}
	fc.once |= bit
	fc.hist = append(fc.hist, letters[d][i])
}

// observe updates the counters with one written packet.
func (fc *flowCount) observe(f *flow, p *pkt, ipLen int) {
	d := int(p.dir)
	if fc.pkts[0]+fc.pkts[1] == 0 {
		fc.first = p.t
	}
	fc.pkts[d]++
	fc.ipBytes[d] += int64(ipLen)
	fc.lastAny = p.t
	if f.proto != schemas.ProtoTCP {
		fc.udpBytes[d] += int64(p.n)
		fc.last = p.t
		if p.n > 0 {
			fc.mark(d, 4)
		}
		return
	}
	// Zeek's duration leaves out the final ACK of a teardown.
	finalAck := fc.fin[0] && fc.fin[1] && p.flags == schemas.TCPAck && p.n == 0
	if !finalAck {
		fc.last = p.t
	}
	fl := p.flags
	switch {
	case fl&schemas.TCPSyn != 0 && fl&schemas.TCPAck == 0:
		fc.syn = d == cli || fc.syn
		fc.mark(d, 0)
	case fl&schemas.TCPSyn != 0:
		fc.synack = true
		fc.mark(d, 1)
	}
	if fl&schemas.TCPFin != 0 {
		fc.fin[d] = true
		fc.mark(d, 2)
	}
	if fl&schemas.TCPRst != 0 {
		fc.rst[d] = true
		fc.mark(d, 3)
	}
	if p.n > 0 {
		fc.mark(d, 4)
		end := p.seq + p.n
		if p.seq < fc.maxEnd[d] {
			// Retransmission: Zeek records t/T at the 1st, 10th, 100th...
			fc.retx[d]++
			if k := fc.retx[d]; k == 1 || k == 10 || k == 100 || k == 1000 || k == 10000 {
				if d == cli {
					fc.hist = append(fc.hist, 'T')
				} else {
					fc.hist = append(fc.hist, 't')
				}
			}
		}
		fc.maxEnd[d] = max(fc.maxEnd[d], end)
	} else if fl == schemas.TCPAck {
		fc.mark(d, 5)
	}
}

func (fc *flowCount) state(f *flow) string {
	if f.proto != schemas.ProtoTCP {
		if fc.pkts[srv] > 0 {
			return "SF"
		}
		return "S0"
	}
	switch {
	case !fc.synack && fc.rst[cli]:
		return "RSTOS0"
	case !fc.synack:
		return "S0"
	case fc.rst[cli]:
		return "RSTO"
	case fc.rst[srv]:
		return "RSTR"
	case fc.fin[cli] && fc.fin[srv]:
		return "SF"
	case fc.fin[cli]:
		return "S2"
	case fc.fin[srv]:
		return "S3"
	}
	return "S1"
}

func (fc *flowCount) payloadBytes(f *flow, d int) int64 {
	if f.proto != schemas.ProtoTCP {
		return fc.udpBytes[d]
	}
	if fc.maxEnd[d] == 0 {
		return 0
	}
	return int64(fc.maxEnd[d] - 1)
}

const zeekSep = '\t'

// zeekLog writes a Zeek ASCII (TSV) log with the default header lines.
type zeekLog struct {
	w      *bufio.Writer
	path   string
	fields string
	types  string
	rows   int64
}

func (z *zeekLog) header(open time.Time) {
	z.w.WriteString("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t")
	z.w.WriteString(z.path)
	z.w.WriteString("\n#open\t")
	z.w.WriteString(open.UTC().Format("2006-01-02-15-04-05"))
	z.w.WriteString("\n#fields\t")
	z.w.WriteString(z.fields)
	z.w.WriteString("\n#types\t")
	z.w.WriteString(z.types)
	z.w.WriteByte('\n')
}

func (z *zeekLog) close(t time.Time) {
	z.w.WriteString("#close\t")
	z.w.WriteString(t.UTC().Format("2006-01-02-15-04-05"))
	z.w.WriteByte('\n')
}

const (
	connFields = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tip_proto"
	connTypes  = "time\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tcount"
	sslFields  = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tversion\tcipher\tcurve\tserver_name\tresumed\tlast_alert\tnext_protocol\testablished\tssl_history\tcert_chain_fps\tclient_cert_chain_fps\tsni_matches_cert"
	sslTypes   = "time\tstring\taddr\tport\taddr\tport\tstring\tstring\tstring\tstring\tbool\tstring\tstring\tbool\tstring\tvector[string]\tvector[string]\tbool"
)

// appendTime formats ns since the epoch as Zeek does (seconds, 6 decimals).
func appendTime(b []byte, ns int64) []byte {
	u := (ns + 500) / 1000
	b = strconv.AppendInt(b, u/1_000_000, 10)
	b = append(b, '.')
	frac := u % 1_000_000
	s := strconv.AppendInt(nil, frac, 10)
	for i := len(s); i < 6; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func isLocal(a netip.Addr) bool { return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() }

func boolTF(b []byte, v bool) []byte {
	if v {
		return append(b, 'T')
	}
	return append(b, 'F')
}

func appendIDs(b []byte, f *flow) []byte {
	b = append(b, f.addr[cli].String()...)
	b = append(b, zeekSep)
	b = strconv.AppendUint(b, uint64(f.port[cli]), 10)
	b = append(b, zeekSep)
	b = append(b, f.addr[srv].String()...)
	b = append(b, zeekSep)
	b = strconv.AppendUint(b, uint64(f.port[srv]), 10)
	return b
}

func protoName(p uint8) string {
	switch p {
	case schemas.ProtoTCP:
		return "tcp"
	case schemas.ProtoUDP:
		return "udp"
	case schemas.ProtoICMP, schemas.ProtoICMPv6:
		return "icmp"
	}
	return "unknown_transport"
}

// connRow formats f's conn.log row.
func connRow(b []byte, f *flow) []byte {
	fc := &f.cnt
	b = appendTime(b, fc.first)
	b = append(b, zeekSep)
	b = append(b, f.uid...)
	b = append(b, zeekSep)
	b = appendIDs(b, f)
	b = append(b, zeekSep)
	b = append(b, protoName(f.proto)...)
	b = append(b, zeekSep)
	if f.service == "" {
		b = append(b, '-')
	} else {
		b = append(b, f.service...)
	}
	b = append(b, zeekSep)
	if fc.last > fc.first {
		b = appendTime(b, fc.last-fc.first)
		b = append(b, zeekSep)
		b = strconv.AppendInt(b, fc.payloadBytes(f, cli), 10)
		b = append(b, zeekSep)
		b = strconv.AppendInt(b, fc.payloadBytes(f, srv), 10)
	} else {
		b = append(b, "-\t-\t-"...)
	}
	b = append(b, zeekSep)
	b = append(b, fc.state(f)...)
	b = append(b, zeekSep)
	b = boolTF(b, isLocal(f.addr[cli]))
	b = append(b, zeekSep)
	b = boolTF(b, isLocal(f.addr[srv]))
	b = append(b, "\t0\t"...)
	if len(fc.hist) == 0 {
		b = append(b, '-')
	} else {
		b = append(b, fc.hist...)
	}
	for _, v := range []int64{fc.pkts[cli], fc.ipBytes[cli], fc.pkts[srv], fc.ipBytes[srv]} {
		b = append(b, zeekSep)
		b = strconv.AppendInt(b, v, 10)
	}
	b = append(b, "\t-\t"...)
	b = strconv.AppendUint(b, uint64(f.proto), 10)
	return append(b, '\n')
}

// sslRow formats f's ssl.log row (f.tls must be set).
func sslRow(b []byte, f *flow) []byte {
	s := f.tls
	b = appendTime(b, f.pkts[0].t)
	b = append(b, zeekSep)
	b = append(b, f.uid...)
	b = append(b, zeekSep)
	b = appendIDs(b, f)
	for _, v := range []string{s.version, s.cipher, s.curve, f.sni} {
		b = append(b, zeekSep)
		if v == "" {
			v = "-"
		}
		b = append(b, v...)
	}
	b = append(b, zeekSep)
	b = boolTF(b, s.resumed)
	b = append(b, "\t-\t"...)
	if s.alpn == "" {
		b = append(b, '-')
	} else {
		b = append(b, s.alpn...)
	}
	b = append(b, "\tT\t"...)
	b = append(b, s.history...)
	// TLS 1.3 encrypts the certificates: Zeek logs empty chains and leaves
	// sni_matches_cert unset.
	b = append(b, "\t(empty)\t(empty)\t-\n"...)
	return b
}
