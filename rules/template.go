package rules

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aegis-nsm/aegis/schemas"
)

// A message template is text with ${path} substitutions, where path is a
// record field by its JSON path (${source.ip}, ${aegis.route.name},
// ${tls.client.server_name}) or one of the names in specialNames.
// ${path:-text} uses text when the value is empty or absent, and $$ is a
// literal dollar sign. Templates are parsed when the rule loads; rendering
// is a walk over precompiled segments with no parsing and no code of the
// rule author's running. Substituted values are data from the wire (an SNI
// is whatever the client sent), so control characters and invalid UTF-8
// in them are replaced and each value is cut at maxValueBytes.

// maxTemplateBytes bounds a template's source.
const maxTemplateBytes = 1024

// maxValueBytes bounds one substituted value.
const maxValueBytes = 256

// special names a value that is not a record field.
type special uint8

const (
	specNone special = iota
	specRuleID
	specRuleName
	specRuleSeverity
	specReconTargets
	specReconProbes
)

// specialNames are the substitutions besides record fields.
var specialNames = map[string]special{
	"rule.id":       specRuleID,
	"rule.name":     specRuleName,
	"rule.severity": specRuleSeverity,
	"recon.targets": specReconTargets, // distinct targets the source probed (estimate)
	"recon.probes":  specReconProbes,  // probes counted in the current and previous window
}

type tmplSeg struct {
	lit   string     // literal text (when field == nil && spec == specNone)
	field *fieldPath // record field
	spec  special
	def   string // replacement when the value is empty
}

// template is a compiled message template; immutable, safe for concurrent
// use.
type template struct {
	src  string
	segs []tmplSeg
}

// compileTemplate parses src.
func compileTemplate(src string) (*template, error) {
	if len(src) > maxTemplateBytes {
		return nil, fmt.Errorf("message is %d bytes; keep it under %d", len(src), maxTemplateBytes)
	}
	if !utf8.ValidString(src) {
		return nil, fmt.Errorf("message is not valid UTF-8")
	}
	t := &template{src: src}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, tmplSeg{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(src) && src[i+1] == '$' {
			lit.WriteByte('$')
			i += 2
			continue
		}
		if i+1 >= len(src) || src[i+1] != '{' {
			return nil, fmt.Errorf("message: lone '$' at byte %d; write ${field} for a value or $$ for a dollar sign", i)
		}
		end := strings.IndexByte(src[i+2:], '}')
		if end < 0 {
			return nil, fmt.Errorf("message: '${' at byte %d is not closed with '}'", i)
		}
		expr := src[i+2 : i+2+end]
		name, def, _ := strings.Cut(expr, ":-")
		name = strings.TrimSpace(name)
		seg := tmplSeg{def: def}
		if sp, ok := specialNames[name]; ok {
			seg.spec = sp
		} else if f, ok := lookupField(name); ok {
			seg.field = f
		} else {
			return nil, fmt.Errorf("message: unknown field ${%s}; use a record path such as ${source.ip}, ${destination.port}, ${aegis.class}, ${tls.client.server_name}, or rule.id, rule.name, rule.severity, recon.targets, recon.probes", name)
		}
		flush()
		t.segs = append(t.segs, seg)
		i += 2 + end + 1
	}
	flush()
	return t, nil
}

// renderCtx is what a template can quote besides the record.
type renderCtx struct {
	rule         *rule
	reconTargets int
	reconProbes  int
}

// render expands the template for rec. The returned string is new.
func (t *template) render(rec *schemas.Record, rc *renderCtx) string {
	if len(t.segs) == 1 && t.segs[0].field == nil && t.segs[0].spec == specNone {
		return t.segs[0].lit
	}
	var stack [256]byte
	b := stack[:0]
	var vbuf [maxValueBytes + 8]byte
	for i := range t.segs {
		s := &t.segs[i]
		if s.field == nil && s.spec == specNone {
			b = append(b, s.lit...)
			continue
		}
		v := vbuf[:0]
		if s.field != nil {
			v = s.field.appendText(v, rec)
		} else {
			v = appendSpecial(v, s.spec, rc)
		}
		if len(v) == 0 {
			b = append(b, s.def...)
			continue
		}
		b = appendSafe(b, v)
	}
	return string(b)
}

func appendSpecial(b []byte, sp special, rc *renderCtx) []byte {
	switch sp {
	case specRuleID:
		return append(b, rc.rule.id...)
	case specRuleName:
		return append(b, rc.rule.name...)
	case specRuleSeverity:
		return append(b, rc.rule.severity...)
	case specReconTargets:
		return strconv.AppendInt(b, int64(rc.reconTargets), 10)
	case specReconProbes:
		return strconv.AppendInt(b, int64(rc.reconProbes), 10)
	}
	return b
}

// appendSafe appends v with control characters replaced by '?', invalid
// UTF-8 by U+FFFD, and at most maxValueBytes bytes (then "...").
func appendSafe(b, v []byte) []byte {
	n := 0
	for i := 0; i < len(v); {
		if n >= maxValueBytes {
			return append(b, "..."...)
		}
		c := v[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				c = '?'
			}
			b = append(b, c)
			i++
			n++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else if r >= 0x80 && r < 0xa0 || r == 0x2028 || r == 0x2029 {
			b = append(b, '?')
		} else {
			b = append(b, v[i:i+size]...)
		}
		i += size
		n += size
	}
	return b
}
