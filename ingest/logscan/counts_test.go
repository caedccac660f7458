package logscan

import (
	"strings"
	"testing"
)

func TestCounts(t *testing.T) {
	var c Counts[Reason]
	var b strings.Builder
	c.WriteSorted(&b)
	if b.Len() != 0 {
		t.Errorf("empty: %q", b.String())
	}
	c.Inc("bad_port")
	c.Inc("bad_json")
	c.Inc("bad_port")
	var o Counts[Reason]
	o.Add(nil)
	if o != nil {
		t.Error("adding nothing made the map")
	}
	o.Add(c)
	o.Add(c)
	c.WriteSorted(&b)
	o.WriteSorted(&b)
	if want := " (bad_json 1, bad_port 2) (bad_json 2, bad_port 4)"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestCountsBounded(t *testing.T) {
	var c Counts[string]
	for _, k := range []string{"a", "b", "c", "a", "d", "b"} {
		c.IncBounded(k, 2, "(other)")
	}
	if len(c) != 3 || c["a"] != 2 || c["b"] != 2 || c["(other)"] != 2 {
		t.Errorf("counts %v", c)
	}
}

func TestCountsNoAlloc(t *testing.T) {
	var c Counts[string]
	c.IncBounded("flow", 256, "(other)")
	c.Inc("flow")
	if n := testing.AllocsPerRun(100, func() {
		c.IncBounded("flow", 256, "(other)")
		c.Inc("flow")
	}); n != 0 {
		t.Errorf("counting a known key allocates %.1f times", n)
	}
}
