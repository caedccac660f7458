package rules

import (
	"path"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"*.openai.com", "api.openai.com", true},
		{"*.openai.com", "API.OpenAI.COM", true},
		{"*.openai.com", "a.b.openai.com", true},
		{"*.openai.com", "openai.com", false},
		{"*.openai.com", "api.openai.com.evil.net", false},
		{"api.openai.com", "api.openai.com", true},
		{"api.openai.com", "api.openai.co", false},
		{"api.*", "api.anthropic.com", true},
		{"api.*", "apix", false},
		{"*scan*", "ET SCAN Nmap", true},
		{"*scan*", "Detection of a Network Scan", true},
		{"*scan*", "ET POLICY", false},
		{"*", "", true},
		{"**", "anything", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*a*b*c", "xxaxxbxxc", true},
		{"*a*b*c", "xxaxxbxxcd", false},
		{"gen*-*.googleapis.com", "generativelanguage-x.googleapis.com", true},
		{"gen*-*.googleapis.com", "generativelanguage.googleapis.com", false},
		{"*.com", "", false},
	}
	for _, tt := range tests {
		g, err := compileGlob(tt.pat)
		if err != nil {
			t.Fatalf("%q: %v", tt.pat, err)
		}
		if got := g.match(tt.s); got != tt.want {
			t.Errorf("%q ~ %q = %v, want %v", tt.pat, tt.s, got, tt.want)
		}
	}
	for _, bad := range []string{"", "[ab].com", "a\\b", "a b", "x\x00", "{a,b}", strings.Repeat("a", 300)} {
		if _, err := compileGlob(bad); err == nil {
			t.Errorf("compileGlob(%q) accepted", bad)
		}
	}
}

// FuzzGlob checks the fast paths and the general matcher against
// path.Match (which agrees for patterns without '/', '[' and '\\').
func FuzzGlob(f *testing.F) {
	f.Add("*.openai.com", "api.openai.com")
	f.Add("a*b?c*", "aXXbYcZZ")
	f.Add("*scan*", "ET SCAN")
	f.Fuzz(func(t *testing.T, pat, s string) {
		if strings.ContainsAny(pat+s, "/[]\\") {
			return
		}
		g, err := compileGlob(pat)
		if err != nil {
			return
		}
		want, err := path.Match(strings.ToLower(pat), strings.ToLower(s))
		if err != nil {
			return
		}
		if lowerASCII(s) != strings.ToLower(s) {
			return // non-ASCII case folding is out of scope
		}
		if got := g.match(s); got != want {
			t.Fatalf("%q ~ %q = %v, path.Match says %v", pat, s, got, want)
		}
	})
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = lower(b[i])
	}
	return string(b)
}
