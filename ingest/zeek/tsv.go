package zeek

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// decodeTSV decodes a data line of the Zeek ASCII format with the current
// header block. A conn record is left in *d.cf.flow, an ssl record in
// d.sslRec; it returns the kind and the log path.
func (d *Decoder) decodeTSV(line []byte) (Kind, string, *LineError) {
	h := &d.hdr
	if !h.have {
		return KindMeta, "", d.lineError("", ReasonNoHeader, nil, errorf("data line before any #fields header"))
	}
	path := d.pathOfKind(h.kind, h.path)
	if h.kind == KindSkipped {
		return KindSkipped, path, nil
	}
	var n int
	if len(h.sep) == 1 {
		n = d.findSeps(line, h.sep[0])
	} else {
		n = countFields(line, h.sep)
	}
	if n != len(h.fields) {
		return KindMeta, "", d.lineError("", ReasonFieldCount, nil, errorf("%d fields, header has %d", n, len(h.fields)))
	}
	d.beginRecord()
	d.cf.interim = h.interim
	if len(h.sep) == 1 {
		// The fields end at the separators findSeps marked in d.tabs
		// (fields are a few bytes long: a search per field cost more
		// than finding them all at once); look for backslashes once per
		// line, as most lines have none.
		escAt := bytes.IndexByte(line, '\\') // the next backslash at or after a field's start
		if escAt < 0 {
			escAt = len(line)
		}
		// findSeps checked that the line has one field per column (per
		// role), and d.ends has where each ends.
		ends := d.ends[:len(h.roles)]
		start := 0
		for c, r := range h.roles {
			end := ends[c]
			if r != roleIgnore {
				if escAt < start {
					escAt = len(line)
					if i := bytes.IndexByte(line[start:], '\\'); i >= 0 {
						escAt = start + i
					}
				}
				// tsvField, inline: a call per field was a cost of its own.
				raw := line[start:end]
				v := &d.tsvVal
				v.raw = raw
				v.enc = encTSV
				v.esc = escAt < end
				v.unset = isMarker(raw, h.unset)
				v.empty = isMarker(raw, h.empty)
				if err := d.field(r, v); err != nil {
					return KindMeta, "", err
				}
			}
			start = end + 1
		}
	} else {
		rest := line
		for col := 0; ; col++ {
			v, after, more := bytes.Cut(rest, h.sep)
			if r := h.roles[col]; r != roleIgnore {
				if err := d.tsvField(r, v, hasEscape(v)); err != nil {
					return KindMeta, "", err
				}
			}
			if !more {
				break
			}
			rest = after
		}
	}
	switch h.kind {
	case KindConn:
		if err := d.finishConn(); err != nil {
			return KindMeta, "", err
		}
		return KindConn, path, nil
	default: // KindSSL
		d.sslRec = d.finishSSL()
		return KindSSL, path, nil
	}
}

// findSeps marks the bytes of line that are sep in d.tabs, one bit a byte
// (bit i%64 of word i/64), eight bytes at a time, lists where the fields
// they split line into end in d.ends (each at its separator, the last at
// len(line)), and returns the number of fields.
func (d *Decoder) findSeps(line []byte, sep byte) int {
	const (
		ones  = 0x0101010101010101
		lows  = 0x7f7f7f7f7f7f7f7f
		highs = 0x8080808080808080
		// gather moves the high bits of the eight bytes (shifted down to
		// bit 0 of each) to the top byte, in order: the products do not
		// overlap, so nothing carries.
		gather = 0x0102040810204080
	)
	nw := (len(line) + 63) >> 6
	if cap(d.tabs) < nw {
		d.tabs = make([]uint64, nw+nw/4)
	}
	tabs := d.tabs[:nw]
	pat := ones * uint64(sep)
	// seps8 returns the separators among the eight bytes of x, bit k for
	// byte k.
	seps8 := func(x uint64) uint64 {
		x ^= pat                            // zero bytes: separators
		z := ^((x&lows + lows) | x) & highs // exact: the high bit of each zero byte
		return (z >> 7) * gather >> 56
	}
	var w uint64 // the word being filled
	i := 0
	for ; i+8 <= len(line); i += 8 {
		w |= seps8(binary.LittleEndian.Uint64(line[i:])) << (i & 63)
		if i&63 == 56 {
			tabs[i>>6] = w
			w = 0
		}
	}
	if rem := len(line) - i; rem > 0 {
		// The last bytes: the last eight of the line, those before i
		// shifted out, or byte by byte on a line shorter than eight.
		var b uint64
		if len(line) >= 8 {
			b = seps8(binary.LittleEndian.Uint64(line[len(line)-8:])) >> (8 - rem)
		} else {
			for k, c := range line {
				if c == sep {
					b |= 1 << k
				}
			}
		}
		w |= b << (i & 63)
	}
	if i&63 != 0 || i < len(line) {
		tabs[i>>6] = w
	}
	// Where each field ends: at each separator, the last at the end.
	ends := d.ends[:0]
	for wi, w := range tabs {
		for ; w != 0; w &= w - 1 {
			ends = append(ends, wi<<6|bits.TrailingZeros64(w))
		}
	}
	d.ends = append(ends, len(line))
	return len(d.ends)
}

// isMarker reports whether raw is the marker m (the unset or empty
// field), deciding most fields on their length and first byte, without a
// call to compare them.
func isMarker(raw, m []byte) bool {
	return len(raw) == len(m) && (len(m) == 0 || raw[0] == m[0] && (len(m) == 1 || string(raw[1:]) == string(m[1:])))
}

// countFields counts the fields of a line split by sep.
func countFields(line, sep []byte) int {
	return bytes.Count(line, sep) + 1
}

// tsvField applies one TSV field of a conn or ssl record.
func (d *Decoder) tsvField(r role, raw []byte, esc bool) *LineError {
	h := &d.hdr
	// Filled in place, member by member: a val literal would be built on
	// the stack and copied, and that copy was a tenth of a line's time.
	v := &d.tsvVal
	v.raw = raw
	v.enc = encTSV
	v.esc = esc
	v.unset = isMarker(raw, h.unset)
	v.empty = isMarker(raw, h.empty)
	return d.field(r, v)
}
