package zeek

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestFindSeps checks the separator bitmap against a byte-by-byte search
// for lines of every length up to a few words, with separators anywhere.
func TestFindSeps(t *testing.T) {
	d := newDecoder("t.log", Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n < 300; n++ {
		for range 20 {
			line := make([]byte, n)
			for i := range line {
				switch rng.IntN(6) {
				case 0:
					line[i] = '\t'
				case 1:
					line[i] = byte(rng.IntN(256))
				default:
					line[i] = byte('a' + rng.IntN(26))
				}
			}
			for _, sep := range []byte{'\t', ',', 0, 0xff} {
				if got, want := d.findSeps(line, sep), bytes.Count(line, []byte{sep})+1; got != want {
					t.Fatalf("findSeps(%q, %q) = %d fields, want %d", line, sep, got, want)
				}
				var ends []int
				for i, c := range line {
					if bit := d.tabs[i>>6]>>(i&63)&1 == 1; bit != (c == sep) {
						t.Fatalf("findSeps(%q, %q): bit %d is %v", line, sep, i, bit)
					}
					if c == sep {
						ends = append(ends, i)
					}
				}
				ends = append(ends, len(line))
				if !slices.Equal(d.ends, ends) {
					t.Fatalf("findSeps(%q, %q): ends %v, want %v", line, sep, d.ends, ends)
				}
			}
		}
	}
}
