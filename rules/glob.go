package rules

import (
	"fmt"
	"strings"
)

// glob is a precompiled, ASCII case-insensitive wildcard pattern: '*'
// matches any run of characters (dots included, so "*.openai.com" matches
// "api.openai.com" and "a.b.openai.com" but not "openai.com"), '?' exactly
// one byte. Matching never allocates.
type glob struct {
	src  string // as written
	pat  string // lower-cased
	kind globKind
	lit  string // the literal part for the fast kinds
}

type globKind uint8

const (
	globExact    globKind = iota // no wildcard
	globSuffix                   // "*lit"
	globPrefix                   // "lit*"
	globContains                 // "*lit*"
	globAny                      // "*"
	globGeneral                  // anything else
)

// compileGlob checks and precompiles a pattern. Only '*' and '?' are
// special; character classes and escapes are rejected so that a pattern
// means the same in every tool that reads the rule.
func compileGlob(p string) (glob, error) {
	if p == "" {
		return glob{}, fmt.Errorf("empty pattern; use \"*\" to match anything")
	}
	if len(p) > 255 {
		return glob{}, fmt.Errorf("pattern %.40q... is longer than 255 bytes", p)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return glob{}, fmt.Errorf("pattern %q has a control character", p)
		case c == '[' || c == ']' || c == '\\' || c == '{' || c == '}':
			return glob{}, fmt.Errorf("pattern %q: %q is not supported; use only * (any run) and ? (one character)", p, c)
		case c == ' ':
			return glob{}, fmt.Errorf("pattern %q has a space", p)
		}
	}
	g := glob{src: p, pat: strings.ToLower(p)}
	inner := strings.Trim(g.pat, "*")
	lead := strings.HasPrefix(g.pat, "*")
	trail := strings.HasSuffix(g.pat, "*") && len(g.pat) > 1
	switch {
	case inner == "":
		g.kind = globAny
	case strings.ContainsAny(inner, "*?"):
		g.kind = globGeneral
	case lead && trail:
		g.kind, g.lit = globContains, inner
	case lead:
		g.kind, g.lit = globSuffix, inner
	case trail:
		g.kind, g.lit = globPrefix, inner
	default:
		g.kind, g.lit = globExact, inner
	}
	return g, nil
}

// lower folds one ASCII byte.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFold reports whether s equals the lower-case lit, ASCII-folding s.
func equalFold(s, lit string) bool {
	if len(s) != len(lit) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lower(s[i]) != lit[i] {
			return false
		}
	}
	return true
}

// containsFold reports whether s contains the lower-case lit.
func containsFold(s, lit string) bool {
	for i := 0; i+len(lit) <= len(s); i++ {
		if equalFold(s[i:i+len(lit)], lit) {
			return true
		}
	}
	return false
}

// match reports whether s matches the pattern.
func (g *glob) match(s string) bool {
	switch g.kind {
	case globAny:
		return true
	case globExact:
		return equalFold(s, g.lit)
	case globSuffix:
		return len(s) >= len(g.lit) && equalFold(s[len(s)-len(g.lit):], g.lit)
	case globPrefix:
		return len(s) >= len(g.lit) && equalFold(s[:len(g.lit)], g.lit)
	case globContains:
		return containsFold(s, g.lit)
	}
	return wildMatch(g.pat, s)
}

// wildMatch is the linear-time greedy wildcard match with backtracking to
// the last star.
func wildMatch(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == lower(s[si])):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// globList matches when any of its patterns does.
type globList []glob

func (l globList) match(s string) bool {
	for i := range l {
		if l[i].match(s) {
			return true
		}
	}
	return false
}

// compileGlobs compiles every pattern; the error names the first bad one.
func compileGlobs(ps []string) (globList, error) {
	out := make(globList, 0, len(ps))
	for _, p := range ps {
		g, err := compileGlob(p)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}
