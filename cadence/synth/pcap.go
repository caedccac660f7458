package synth

import (
	"bufio"
	"encoding/binary"
	"math/bits"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/aegis-nsm/aegis/schemas"
)

// pcapOut serialises packets into Ethernet frames (optionally 802.1Q
// tagged) with IPv4 or IPv6 and TCP or UDP headers, correct lengths and
// checksums, and writes them with pcapgo.
type pcapOut struct {
	w     *pcapgo.Writer
	snap  int
	buf   []byte
	pkts  int64
	bytes int64 // bytes written to the file (headers included)
}

const defaultSnaplen = 262144

func newPcapOut(bw *bufio.Writer, snap int, micro bool) (*pcapOut, error) {
	var w *pcapgo.Writer
	if micro {
		w = pcapgo.NewWriter(bw)
	} else {
		w = pcapgo.NewWriterNanos(bw)
	}
	hs := snap
	if hs <= 0 {
		hs = defaultSnaplen
	}
	if err := w.WriteFileHeader(uint32(hs), layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	return &pcapOut{w: w, snap: snap, buf: make([]byte, 0, 70000), bytes: 24}, nil
}

// frame builds p's frame into o.buf and returns it with the IP length.
func (o *pcapOut) frame(f *flow, p *pkt) ([]byte, int) {
	d := int(p.dir)
	q := 1 - d
	b := o.buf[:0]
	// Ethernet.
	b = append(b, f.mac[q][:]...)
	b = append(b, f.mac[d][:]...)
	if f.vlan != 0 {
		b = append(b, 0x81, 0x00, byte(f.vlan>>8)&0x0f, byte(f.vlan))
	}
	if f.v6 {
		b = append(b, 0x86, 0xdd)
	} else {
		b = append(b, 0x08, 0x00)
	}
	ipOff := len(b)
	// Transport header length.
	var optBuf [40]byte
	opts := optBuf[:0]
	thl := 8
	if f.proto == schemas.ProtoTCP {
		opts = f.tcpOptions(opts, p)
		thl = 20 + len(opts)
	}
	ipHL := 20
	if f.v6 {
		ipHL = 40
	}
	ipLen := ipHL + thl + int(p.n)
	if f.v6 {
		v := uint32(6)<<28 | uint32(f.tos)<<20 | f.flowLbl[d]&0xfffff
		b = binary.BigEndian.AppendUint32(b, v)
		b = binary.BigEndian.AppendUint16(b, uint16(thl+int(p.n)))
		b = append(b, f.proto, f.ttl[d])
		a := f.addr[d].As16()
		b = append(b, a[:]...)
		a = f.addr[q].As16()
		b = append(b, a[:]...)
	} else {
		f.ipid[d]++
		b = append(b, 0x45, f.tos)
		b = binary.BigEndian.AppendUint16(b, uint16(ipLen))
		b = binary.BigEndian.AppendUint16(b, f.ipid[d])
		b = append(b, 0x40, 0x00, f.ttl[d], f.proto, 0, 0)
		a := f.addr[d].As4()
		b = append(b, a[:]...)
		a = f.addr[q].As4()
		b = append(b, a[:]...)
		cs := ^fold(csumAdd(0, b[ipOff:ipOff+20]))
		binary.BigEndian.PutUint16(b[ipOff+10:], cs)
	}
	tOff := len(b)
	if f.proto == schemas.ProtoTCP {
		b = binary.BigEndian.AppendUint16(b, f.port[d])
		b = binary.BigEndian.AppendUint16(b, f.port[q])
		b = binary.BigEndian.AppendUint32(b, f.isn[d]+p.seq)
		var ack uint32
		if p.flags&schemas.TCPAck != 0 {
			ack = f.isn[q] + p.ack
		}
		b = binary.BigEndian.AppendUint32(b, ack)
		b = append(b, byte(thl/4)<<4, p.flags)
		win := f.win[d]
		if p.flags&schemas.TCPSyn != 0 {
			win = f.synWin(d)
		}
		b = binary.BigEndian.AppendUint16(b, win)
		b = append(b, 0, 0, 0, 0)
		b = append(b, opts...)
	} else {
		b = binary.BigEndian.AppendUint16(b, f.port[d])
		b = binary.BigEndian.AppendUint16(b, f.port[q])
		b = binary.BigEndian.AppendUint16(b, uint16(8+p.n))
		b = append(b, 0, 0)
	}
	pl := len(b)
	b = append(b, make([]byte, p.n)...)[:pl+int(p.n)]
	f.st[d].fill(b[pl:], p.seq)
	// Transport checksum over the pseudo-header and the segment.
	var sum uint64
	if f.v6 {
		sum = csumAdd(sum, b[ipOff+8:ipOff+40])
		var ph [8]byte
		binary.BigEndian.PutUint32(ph[0:], uint32(thl+int(p.n)))
		ph[7] = f.proto
		sum = csumAdd(sum, ph[:])
	} else {
		sum = csumAdd(sum, b[ipOff+12:ipOff+20])
		var ph [4]byte
		ph[1] = f.proto
		binary.BigEndian.PutUint16(ph[2:], uint16(thl+int(p.n)))
		sum = csumAdd(sum, ph[:])
	}
	sum = csumAdd(sum, b[tOff:])
	cs := ^fold(sum)
	if f.proto == schemas.ProtoUDP {
		if cs == 0 {
			cs = 0xffff
		}
		binary.BigEndian.PutUint16(b[tOff+6:], cs)
	} else {
		binary.BigEndian.PutUint16(b[tOff+16:], cs)
	}
	o.buf = b
	return b, ipLen
}

func (o *pcapOut) write(f *flow, p *pkt) (int, error) {
	b, ipLen := o.frame(f, p)
	capLen := len(b)
	if o.snap > 0 && capLen > o.snap {
		capLen = o.snap
	}
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, p.t), CaptureLength: capLen, Length: len(b)}
	if err := o.w.WritePacket(ci, b[:capLen]); err != nil {
		return 0, err
	}
	o.pkts++
	o.bytes += int64(16 + capLen)
	return ipLen, nil
}

// csumAdd adds b to a one's-complement sum kept in 64 bits.
func csumAdd(sum uint64, b []byte) uint64 {
	var c uint64
	for len(b) >= 8 {
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b), 0)
		sum += c
		b = b[8:]
	}
	if len(b) >= 4 {
		sum, c = bits.Add64(sum, uint64(binary.BigEndian.Uint32(b))<<32, 0)
		sum += c
		b = b[4:]
	}
	if len(b) >= 2 {
		sum, c = bits.Add64(sum, uint64(binary.BigEndian.Uint16(b))<<48, 0)
		sum += c
		b = b[2:]
	}
	if len(b) == 1 {
		sum, c = bits.Add64(sum, uint64(b[0])<<56, 0)
		sum += c
	}
	return sum
}

// fold reduces a 64-bit one's-complement sum to 16 bits. Words were added at
// 8-byte alignment relative to the start of each slice, which keeps 16-bit
// lanes aligned as long as every slice has even length except the last.
func fold(sum uint64) uint16 {
	s := (sum >> 32) + (sum & 0xffffffff)
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 16) + (s & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	return uint16(s)
}

// synWin is the unscaled window of a SYN or SYN-ACK.
func (f *flow) synWin(d int) uint16 {
	switch f.osStyle[d] {
	case osNetdev:
		return 4128
	case osWindows, osMac:
		return 65535
	}
	if f.v6 {
		return 64800
	}
	return 64240
}

func (f *flow) tsval(d int, t int64) uint32 {
	return f.tsBase[d] + uint32((t-f.pkts[0].t)/ms)
}

// tcpOptions appends the TCP options of p.
func (f *flow) tcpOptions(b []byte, p *pkt) []byte {
	d := int(p.dir)
	mss := func(b []byte) []byte { return append(b, 2, 4, byte(f.mssOpt[d]>>8), byte(f.mssOpt[d])) }
	ts := func(b []byte, ecr uint32) []byte {
		b = append(b, 8, 10)
		b = binary.BigEndian.AppendUint32(b, f.tsval(d, p.t))
		return binary.BigEndian.AppendUint32(b, ecr)
	}
	if p.flags&schemas.TCPSyn != 0 {
		if f.osStyle[d] == osNetdev {
			return mss(b)
		}
		if p.flags&schemas.TCPAck == 0 {
			switch f.osStyle[d] {
			case osWindows:
				b = mss(b)
				b = append(b, 1, 3, 3, f.wscale[d], 1, 1, 4, 2)
			case osMac:
				b = mss(b)
				b = append(b, 1, 3, 3, f.wscale[d], 1, 1)
				b = ts(b, 0)
				b = append(b, 4, 2, 0, 0)
			default:
				b = mss(b)
				b = append(b, 4, 2)
				b = ts(b, 0)
				b = append(b, 1, 3, 3, f.wscale[d])
			}
			return b
		}
		if f.tsOpt {
			b = mss(b)
			b = append(b, 4, 2)
			b = ts(b, f.tsval(1-d, p.t))
			return append(b, 1, 3, 3, f.wscale[d])
		}
		b = mss(b)
		return append(b, 1, 1, 4, 2, 1, 3, 3, f.wscale[d])
	}
	if f.tsOpt {
		b = append(b, 1, 1)
		// The echoed value is the peer's clock a little earlier.
		ecr := f.tsval(1-d, p.t) - 1
		if p.t-f.pkts[0].t < 2*ms {
			ecr = f.tsval(1-d, p.t)
		}
		b = ts(b, ecr)
	}
	if p.sackR != 0 {
		b = append(b, 1, 1, 5, 10)
		b = binary.BigEndian.AppendUint32(b, f.isn[1-d]+p.sackL)
		b = binary.BigEndian.AppendUint32(b, f.isn[1-d]+p.sackR)
	}
	return b
}
