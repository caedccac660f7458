package logscan

import (
	"bytes"
	"testing"
)

func TestInterner(t *testing.T) {
	var in Interner
	if a, b := in.Intern([]byte("S1")), in.Intern([]byte("S1")); a != "S1" || b != "S1" {
		t.Fatalf("Intern = %q, %q", a, b)
	}
	if n := testing.AllocsPerRun(100, func() { in.Intern([]byte("S1")) }); n != 0 {
		t.Errorf("an interned value allocates %.1f times", n)
	}
	if in.Intern(nil) != "" {
		t.Error("empty input is not the empty string")
	}
	long := bytes.Repeat([]byte("x"), maxInternedLen+1)
	if in.Intern(long) != string(long) || len(in.m) != 1 {
		t.Errorf("value over %d bytes: %d kept strings, want 1", maxInternedLen, len(in.m))
	}
	for i := range 2 * maxInterned {
		in.Intern([]byte{byte(i), byte(i >> 8)})
	}
	if len(in.m) != maxInterned {
		t.Errorf("%d kept strings, want the bound %d", len(in.m), maxInterned)
	}
}
