package logscan

import (
	"fmt"
	"strings"
	"testing"
)

func TestStrings(t *testing.T) {
	var s Strings
	var got, want []string
	for i := range 20000 {
		p := []byte(fmt.Sprintf("C%017x", i*7919))
		got = append(got, s.String(p))
		want = append(want, string(p))
		p[0] = 'X' // the caller's buffer is not the string's
	}
	big := []byte(strings.Repeat("b", stringsBlock))
	if s.String(big) != string(big) || s.String(nil) != "" {
		t.Fatal("big or empty string")
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("string %d = %q, want %q", i, got[i], want[i])
		}
	}
	if n := testing.AllocsPerRun(1000, func() { s.String([]byte("CHhAvVGS1DHFjwGM9")) }); n > 0.01 {
		t.Errorf("%.3f allocations per string", n)
	}
}
