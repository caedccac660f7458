package zeek

import (
	"bytes"

	"github.com/aegis-nsm/aegis/ingest/logscan"
)

// header is the state of the current Zeek ASCII header block.
type header struct {
	sep, setSep, empty, unset []byte
	path                      string
	fields                    []string
	roles                     []role // per column, for the block's kind
	kind                      Kind   // KindConn, KindSSL or KindSkipped once #fields is known
	have                      bool   // #fields seen in this block
	interim                   bool   // a conn block of an interim path (conn_long)
	closed                    bool   // #close seen (a new block may follow)
}

// The Zeek ASCII writer's defaults (Log::separator and friends).
var (
	defaultSep    = []byte("\t")
	defaultSetSep = []byte(",")
	defaultEmpty  = []byte("(empty)")
	defaultUnset  = []byte("-")
)

// reset starts a new header block with the writer's defaults.
func (h *header) reset() {
	*h = header{
		sep:    defaultSep,
		setSep: defaultSetSep,
		empty:  defaultEmpty,
		unset:  defaultUnset,
		roles:  h.roles[:0],
	}
}

// decodeMeta handles a line starting with '#'.
func (d *Decoder) decodeMeta(line []byte) *LineError {
	h := &d.hdr
	// "#separator \x09" is the one meta line written with a space, since
	// the separator is not known yet. It starts a new header block (Zeek
	// writes one after every restart or in-place rotation).
	if v, ok := bytes.CutPrefix(line, []byte("#separator ")); ok {
		sep := unescapeZeek(nil, v)
		h.reset()
		d.stats.HeaderBlocks++
		if len(sep) == 0 {
			return d.lineError("#separator", ReasonBadHeader, v, errorf("empty separator, keeping tab"))
		}
		h.sep = sep
		return nil
	}
	name, value, ok := bytes.Cut(line[1:], h.sep)
	if !ok {
		// "#close" and "#open" as btest canonicalizes them ("#open XXXX-..."),
		// or a comment such as btest's "### BTest baseline data ...".
		if bytes.HasPrefix(line, []byte("#close")) {
			h.closed = true
		}
		return nil
	}
	switch string(name) {
	case "set_separator":
		h.setSep = unescapeZeek(nil, value)
	case "empty_field":
		h.empty = unescapeZeek(nil, value)
	case "unset_field":
		h.unset = unescapeZeek(nil, value)
	case "path":
		h.path = string(unescapeZeek(nil, value))
		d.classify()
	case "fields":
		if len(value) == 0 {
			return d.lineError("#fields", ReasonBadHeader, nil, errorf("no field names"))
		}
		h.fields = h.fields[:0:0]
		for f := range bytes.SplitSeq(value, h.sep) {
			h.fields = append(h.fields, string(f))
		}
		h.have = true
		d.classify()
	case "types":
		n := bytes.Count(value, h.sep) + 1
		if h.have && n != len(h.fields) {
			return d.lineError("#types", ReasonBadHeader, nil, errorf("%d types for %d fields", n, len(h.fields)))
		}
	case "close":
		h.closed = true
	}
	return nil
}

// classify works out the block's kind and the role of each column.
func (d *Decoder) classify() {
	h := &d.hdr
	h.interim = false
	switch {
	case h.path != "":
		h.kind = d.kindOfPath(h.path)
		h.interim = h.kind == KindConn && d.interimPath(h.path)
	case h.have:
		h.kind = inferKind(h.fields)
	default:
		h.kind = KindSkipped
	}
	h.roles = h.roles[:0]
	for _, f := range h.fields {
		r := roleOf([]byte(f))
		switch {
		case h.kind == KindConn && connRole(r):
		case h.kind == KindSSL && sslRole(r):
		default:
			r = roleIgnore
		}
		h.roles = append(h.roles, r)
	}
}

// inferKind guesses the log path of a header block without #path from its
// columns: conn_state or orig_pkts make a conn log; ssl_history, cipher or
// server_name an ssl log.
func inferKind(fields []string) Kind {
	for _, f := range fields {
		switch f {
		case "conn_state", "orig_pkts":
			return KindConn
		case "ssl_history", "cipher", "server_name":
			return KindSSL
		}
	}
	return KindSkipped
}

// pathOfKind names an inferred kind for Result.Path and Stats.
func (d *Decoder) pathOfKind(k Kind, path string) string {
	if path != "" {
		return path
	}
	switch k {
	case KindConn:
		return "conn"
	case KindSSL:
		return "ssl"
	}
	return "unknown"
}

// unescapeZeek appends b to dst with Zeek's \xHH escapes decoded. Zeek
// escapes the separator, non-printable bytes, and the first byte of a
// string that would otherwise read as the unset or empty marker; any other
// backslash is literal.
func unescapeZeek(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && b[i+1] == 'x' {
			hi, ok1 := logscan.HexDigit(b[i+2])
			lo, ok2 := logscan.HexDigit(b[i+3])
			if ok1 && ok2 {
				dst = append(dst, hi<<4|lo)
				i += 3
				continue
			}
		}
		dst = append(dst, b[i])
	}
	return dst
}

// hasEscape reports whether b may hold a Zeek escape.
func hasEscape(b []byte) bool { return bytes.IndexByte(b, '\\') >= 0 }
