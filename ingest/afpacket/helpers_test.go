package afpacket

import (
	"encoding/binary"

	"github.com/aegis-nsm/aegis/schemas"
)

// Frame builders for tests: Ethernet II, IPv4, TCP or UDP, zero payload
// bytes. Checksums are left zero (nothing here checks them).

var (
	macA = [6]byte{0x02, 0, 0, 0, 0, 0xa}
	macB = [6]byte{0x02, 0, 0, 0, 0, 0xb}
)

func ether(etherType uint16, payload []byte) []byte {
	f := make([]byte, 14, 14+len(payload))
	copy(f[0:6], macB[:])
	copy(f[6:12], macA[:])
	binary.BigEndian.PutUint16(f[12:], etherType)
	return append(f, payload...)
}

func ipv4(proto uint8, src, dst [4]byte, l4 []byte) []byte {
	h := make([]byte, 20, 20+len(l4))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
	h[8] = 64
	h[9] = proto
	copy(h[12:16], src[:])
	copy(h[16:20], dst[:])
	return append(h, l4...)
}

func tcpSeg(sport, dport uint16, seq uint32, flags uint8, payload int) []byte {
	h := make([]byte, 20+payload)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], seq)
	h[12] = 5 << 4
	h[13] = flags
	return h
}

func udpDgram(sport, dport uint16, payload int) []byte {
	h := make([]byte, 8+payload)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+payload))
	return h
}

func tcpFrame(sport, dport uint16, seq uint32, flags uint8, payload int) []byte {
	return ether(0x0800, ipv4(schemas.ProtoTCP, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, tcpSeg(sport, dport, seq, flags, payload)))
}

func udpFrame(sport, dport uint16, payload int) []byte {
	return ether(0x0800, ipv4(schemas.ProtoUDP, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, udpDgram(sport, dport, payload)))
}

func arpFrame() []byte { return ether(0x0806, make([]byte, 28)) }

// ringFrame is one packet to place in a fake ring block.
type ringFrame struct {
	data    []byte // captured bytes
	wireLen uint32 // 0: len(data)
	ts      int64  // nanoseconds since the epoch
}

// fakeMacOffset is where the frame starts in a packet slot, like the
// kernel's TPACKET_ALIGN(tpacket3 header + sockaddr_ll) plus alignment.
const fakeMacOffset = 82

// fakeBlock lays frames out in a TPACKET_V3 block of size bytes, status
// TP_STATUS_USER, the way the kernel does.
func fakeBlock(size int, frames []ringFrame) []byte {
	blk := make([]byte, size)
	ne.PutUint32(blk[blkStatus:], statusUser)
	ne.PutUint32(blk[blkNumPkts:], uint32(len(frames)))
	off := blkHeaderSize
	ne.PutUint32(blk[blkFirstPkt:], uint32(off))
	for i, f := range frames {
		h := blk[off:]
		wire := f.wireLen
		if wire == 0 {
			wire = uint32(len(f.data))
		}
		ne.PutUint32(h[pktSec:], uint32(f.ts/1e9))
		ne.PutUint32(h[pktNsec:], uint32(f.ts%1e9))
		ne.PutUint32(h[pktSnaplen:], uint32(len(f.data)))
		ne.PutUint32(h[pktLen:], wire)
		ne.PutUint16(h[pktMac:], fakeMacOffset)
		copy(h[fakeMacOffset:], f.data)
		next := (fakeMacOffset + len(f.data) + 15) &^ 15
		if i < len(frames)-1 {
			ne.PutUint32(h[pktNext:], uint32(next))
		}
		off += next
	}
	return blk
}

// fakeBlockSize returns a block size that fits frames.
func fakeBlockSize(frames []ringFrame) int {
	n := blkHeaderSize
	for _, f := range frames {
		n += (fakeMacOffset + len(f.data) + 15) &^ 15
	}
	return (n + 4095) &^ 4095
}
