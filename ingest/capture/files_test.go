package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// rec is one packet record for the file builders.
type rec struct {
	ts    int64  // nanoseconds
	frame []byte // captured bytes
	wire  uint32 // 0: len(frame)
}

func (r rec) wireLen() uint32 {
	if r.wire == 0 {
		return uint32(len(r.frame))
	}
	return r.wire
}

// pcapBytes writes a classic pcap file by hand (pcapgo writes only one
// byte order and resolution per writer type).
func pcapBytes(link LinkType, nanos, big bool, snaplen uint32, recs []rec) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	if big {
		order = binary.BigEndian
	}
	magic := uint32(magicMicroLE)
	if nanos {
		magic = magicNanoLE
	}
	b := order.AppendUint32(nil, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, snaplen)
	b = order.AppendUint32(b, uint32(link))
	for _, r := range recs {
		frac := r.ts % 1e9
		if !nanos {
			frac /= 1000
		}
		b = order.AppendUint32(b, uint32(r.ts/1e9))
		b = order.AppendUint32(b, uint32(frac))
		b = order.AppendUint32(b, uint32(len(r.frame)))
		b = order.AppendUint32(b, r.wireLen())
		b = append(b, r.frame...)
	}
	return b
}

// ngIface describes one pcapng interface: its link type and if_tsresol
// (0: the default, microseconds).
type ngIface struct {
	link    LinkType
	tsresol uint8
}

// ngRec is a pcapng packet record on interface iface.
type ngRec struct {
	iface int
	rec
}

// pcapngBytes writes a pcapng file by hand: one section, the interfaces,
// then enhanced packet blocks.
func pcapngBytes(big bool, ifaces []ngIface, recs []ngRec) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	if big {
		order = binary.BigEndian
	}
	block := func(b []byte, typ uint32, body []byte) []byte {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		b = order.AppendUint32(b, typ)
		b = order.AppendUint32(b, n)
		b = append(b, body...)
		return order.AppendUint32(b, n)
	}
	shb := order.AppendUint32(nil, 0x1a2b3c4d)
	shb = order.AppendUint16(shb, 1)
	shb = order.AppendUint16(shb, 0)
	shb = order.AppendUint64(shb, ^uint64(0))
	b := block(nil, magicNg, shb)
	units := make([]int64, len(ifaces))
	for i, ifc := range ifaces {
		idb := order.AppendUint16(nil, uint16(ifc.link))
		idb = order.AppendUint16(idb, 0)
		idb = order.AppendUint32(idb, 0)
		units[i] = 1000
		if ifc.tsresol != 0 {
			idb = order.AppendUint16(idb, 9) // if_tsresol
			idb = order.AppendUint16(idb, 1)
			idb = append(idb, ifc.tsresol, 0, 0, 0)
			units[i] = 1
			for range 9 - int(ifc.tsresol) {
				units[i] *= 10
			}
		}
		idb = order.AppendUint32(idb, 0) // opt_endofopt
		b = block(b, 1, idb)
	}
	for _, r := range recs {
		ts := uint64(r.ts / units[r.iface])
		epb := order.AppendUint32(nil, uint32(r.iface))
		epb = order.AppendUint32(epb, uint32(ts>>32))
		epb = order.AppendUint32(epb, uint32(ts))
		epb = order.AppendUint32(epb, uint32(len(r.frame)))
		epb = order.AppendUint32(epb, r.wireLen())
		epb = append(epb, r.frame...)
		b = block(b, 6, epb)
	}
	return b
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
