package zeek

import "bytes"

// decodeTSV decodes a data line of the Zeek ASCII format with the current
// header block.
func (d *Decoder) decodeTSV(line []byte) (Result, *LineError) {
	h := &d.hdr
	if !h.have {
		return Result{}, d.lineError("", ReasonNoHeader, nil, errorf("data line before any #fields header"))
	}
	path := d.pathOfKind(h.kind, h.path)
	if h.kind == KindSkipped {
		return Result{Kind: KindSkipped, Path: path}, nil
	}
	if n := countFields(line, h.sep); n != len(h.fields) {
		return Result{}, d.lineError("", ReasonFieldCount, nil, errorf("%d fields, header has %d", n, len(h.fields)))
	}
	d.beginRecord()
	d.cf.interim = h.interim
	if len(h.sep) == 1 {
		// One pass over the bytes: split on the separator and note
		// backslashes, instead of two IndexByte calls per short field.
		sep, start, col, esc := h.sep[0], 0, 0, false
		for j := 0; j <= len(line); j++ {
			if j < len(line) {
				c := line[j]
				if c == '\\' {
					esc = true
				}
				if c != sep {
					continue
				}
			}
			if r := h.roles[col]; r != roleIgnore {
				if err := d.tsvField(r, line[start:j], esc); err != nil {
					return Result{}, err
				}
			}
			start, col, esc = j+1, col+1, false
		}
	} else {
		rest := line
		for col := 0; ; col++ {
			v, after, more := bytes.Cut(rest, h.sep)
			if r := h.roles[col]; r != roleIgnore {
				if err := d.tsvField(r, v, hasEscape(v)); err != nil {
					return Result{}, err
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
		f, err := d.finishConn()
		if err != nil {
			return Result{}, err
		}
		return Result{Kind: KindConn, Flow: f, Path: path}, nil
	default: // KindSSL
		return Result{Kind: KindSSL, SSL: d.finishSSL(), Path: path}, nil
	}
}

// countFields counts the fields of a line split by sep.
func countFields(line, sep []byte) int {
	return bytes.Count(line, sep) + 1
}

// tsvField applies one TSV field of a conn or ssl record.
func (d *Decoder) tsvField(r role, raw []byte, esc bool) *LineError {
	h := &d.hdr
	v := val{
		raw:   raw,
		enc:   encTSV,
		esc:   esc,
		unset: len(raw) == len(h.unset) && bytes.Equal(raw, h.unset),
		empty: len(raw) == len(h.empty) && bytes.Equal(raw, h.empty),
	}
	return d.field(r, &v)
}
