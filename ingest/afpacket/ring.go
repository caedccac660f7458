package afpacket

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/aegis-nsm/aegis/ingest/capture"
	"github.com/aegis-nsm/aegis/schemas"
)

// BatchFunc receives a batch of decoded packets from worker worker. The
// batch belongs to the worker and is overwritten once the function returns;
// copy what must be kept. A non-nil error stops the Source: Run returns it.
type BatchFunc func(worker int, batch []schemas.Packet) error

// Offsets into the TPACKET_V3 ring (linux/if_packet.h). Block: struct
// tpacket_block_desc with its struct tpacket_hdr_v1; packet: struct
// tpacket3_hdr. The ring is in the host's byte order.
const (
	blkStatus     = 8  // hdr.bh1.block_status
	blkNumPkts    = 12 // hdr.bh1.num_pkts
	blkFirstPkt   = 16 // hdr.bh1.offset_to_first_pkt
	blkHeaderSize = 48

	pktNext    = 0  // tp_next_offset
	pktSec     = 4  // tp_sec
	pktNsec    = 8  // tp_nsec
	pktSnaplen = 12 // tp_snaplen
	pktLen     = 16 // tp_len
	pktMac     = 24 // tp_mac
	pktHdrSize = 48

	statusKernel = 0 // TP_STATUS_KERNEL: the kernel owns the block
	statusUser   = 1 // TP_STATUS_USER: the block is ready for user space
)

var ne = binary.NativeEndian

// maxReorder is how far back a packet's timestamp may be from the
// worker's clock and still be taken for the kernel's reordering (and
// raised to the clock); further back is a step of the system clock, which
// the worker's clock follows.
const maxReorder = int64(10 * time.Millisecond)

// counters are a worker's own counts: written by the worker goroutine
// only, published to Stats readers at block boundaries.
type counters struct {
	frames, decoded, notIP, truncated, bad, batches, reordered, clockSteps uint64
}

// published is the copy of counters Stats reads.
type published struct {
	frames, decoded, notIP, truncated, bad, batches, reordered, clockSteps atomic.Uint64
}

// reader is the part of a worker that turns ring blocks into batches. It
// knows nothing of sockets, so it runs on blocks built in memory too.
type reader struct {
	id    int
	dec   *capture.Decoder
	batch []schemas.Packet
	n     int   // packets in batch
	clock int64 // latest timestamp handed out
	cnt   counters
	pub   published
}

func newReader(id int, dec *capture.Decoder, batchSize int) *reader {
	return &reader{id: id, dec: dec, batch: make([]schemas.Packet, batchSize)}
}

// readBlock decodes the packets of one block the kernel has handed over,
// calling fn each time the batch fills. The caller returns the block to
// the kernel afterwards. A packet header that points outside the block or
// does not move on (which the kernel never writes) ends the block, and the
// packets left count as BadHeader.
func (r *reader) readBlock(blk []byte, fn BatchFunc) error {
	num := ne.Uint32(blk[blkNumPkts:])
	off := int(ne.Uint32(blk[blkFirstPkt:]))
	for i := uint32(0); i < num; i++ {
		if off < blkHeaderSize || off > len(blk)-pktHdrSize {
			r.cnt.bad += uint64(num - i)
			break
		}
		h := blk[off:]
		start := off + int(ne.Uint16(h[pktMac:]))
		end := start + int(ne.Uint32(h[pktSnaplen:]))
		if end > len(blk) || start > end {
			r.cnt.bad += uint64(num - i)
			break
		}
		ci := capture.CaptureInfo{
			TS:      int64(ne.Uint32(h[pktSec:]))*1e9 + int64(ne.Uint32(h[pktNsec:])),
			WireLen: ne.Uint32(h[pktLen:]),
		}
		r.cnt.frames++
		switch err := r.dec.Decode(&r.batch[r.n], blk[start:end], ci); err {
		case nil:
			r.cnt.decoded++
			r.tick(&r.batch[r.n])
			if r.n++; r.n == len(r.batch) {
				if err := r.flush(fn); err != nil {
					return err
				}
			}
		case capture.ErrNotIP:
			r.cnt.notIP++
		case capture.ErrTruncatedHeader:
			r.cnt.truncated++
		default:
			r.cnt.bad++
		}
		next := ne.Uint32(h[pktNext:])
		if next < pktHdrSize && i+1 < num { // each packet moves on by at least a header
			r.cnt.bad += uint64(num - i - 1)
			break
		}
		off += int(next)
	}
	return nil
}

// tick keeps the worker's packet clock from going back: a timestamp a
// little behind the clock (the kernel stamps packets after queueing them,
// so packets handled at once on different CPUs can swap) is raised to it
// and counted; one far behind is a clock step, counted and followed.
func (r *reader) tick(p *schemas.Packet) {
	switch d := r.clock - p.TS; {
	case d <= 0:
		r.clock = p.TS
	case d <= maxReorder:
		p.TS = r.clock
		r.cnt.reordered++
	default:
		r.clock = p.TS
		r.cnt.clockSteps++
	}
}

// flush hands the batch to fn, if it holds anything.
func (r *reader) flush(fn BatchFunc) error {
	if r.n == 0 {
		return nil
	}
	b := r.batch[:r.n]
	r.n = 0
	r.cnt.batches++
	return fn(r.id, b)
}

// publish makes the counters visible to Stats.
func (r *reader) publish() {
	r.pub.frames.Store(r.cnt.frames)
	r.pub.decoded.Store(r.cnt.decoded)
	r.pub.notIP.Store(r.cnt.notIP)
	r.pub.truncated.Store(r.cnt.truncated)
	r.pub.bad.Store(r.cnt.bad)
	r.pub.batches.Store(r.cnt.batches)
	r.pub.reordered.Store(r.cnt.reordered)
	r.pub.clockSteps.Store(r.cnt.clockSteps)
}

// stats returns the published counters.
func (r *reader) stats() WorkerStats {
	return WorkerStats{
		Worker:          r.id,
		Frames:          r.pub.frames.Load(),
		Decoded:         r.pub.decoded.Load(),
		NotIP:           r.pub.notIP.Load(),
		TruncatedHeader: r.pub.truncated.Load(),
		BadHeader:       r.pub.bad.Load(),
		Batches:         r.pub.batches.Load(),
		Reordered:       r.pub.reordered.Load(),
		ClockSteps:      r.pub.clockSteps.Load(),
	}
}
