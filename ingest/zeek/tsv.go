package zeek

import "bytes"

// decodeTSV decodes a data line of the Zeek ASCII format with the current
// header block. A conn record is left in d.cf.flow, an ssl record in
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
	if n := countFields(line, h.sep); n != len(h.fields) {
		return KindMeta, "", d.lineError("", ReasonFieldCount, nil, errorf("%d fields, header has %d", n, len(h.fields)))
	}
	d.beginRecord()
	d.cf.interim = h.interim
	if len(h.sep) == 1 {
		// Split with a plain byte loop (fields are a few bytes long:
		// IndexByte's call costs more than it saves on them), and look
		// for backslashes once per line, as most lines have none.
		sep := h.sep[0]
		escAt := bytes.IndexByte(line, '\\') // the next backslash at or after a field's start
		if escAt < 0 {
			escAt = len(line)
		}
		// countFields checked that the line has one field per column (per
		// role): ranging over the roles needs no bounds check.
		start := 0
		for _, r := range h.roles {
			end := start
			for end < len(line) && line[end] != sep {
				end++
			}
			if r != roleIgnore {
				if escAt < start {
					escAt = len(line)
					if i := bytes.IndexByte(line[start:], '\\'); i >= 0 {
						escAt = start + i
					}
				}
				if err := d.tsvField(r, line[start:end], escAt < end); err != nil {
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
	v.unset = len(raw) == len(h.unset) && bytes.Equal(raw, h.unset)
	v.empty = len(raw) == len(h.empty) && bytes.Equal(raw, h.empty)
	return d.field(r, v)
}
