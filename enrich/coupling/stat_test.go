package coupling

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCycles(t *testing.T) {
	const w = 1000
	cases := []struct {
		name      string
		ends      []int64
		acts      []int64
		n         int
		closeness int64
		pairs     []pair
	}{
		{"none", []int64{100, 5000}, nil, 0, 0, nil},
		{"one each", []int64{100, 5000}, []int64{300, 5100}, 2, 800 + 900, []pair{{0, 0}, {1, 1}}},
		{"lag exactly the window", []int64{100}, []int64{1100}, 1, 0, []pair{{0, 0}}},
		{"just outside", []int64{100}, []int64{1101}, 0, 0, nil},
		{"action at the end instant", []int64{100}, []int64{100}, 1, 1000, []pair{{0, 0}}},
		{"before any stream", []int64{5000}, []int64{100, 200}, 0, 0, nil},
		{"burst after one end counts once", []int64{100, 9000}, []int64{150, 160, 170}, 1, 950, []pair{{0, 0}}},
		{"action after two close ends belongs to the later", []int64{100, 400}, []int64{500}, 1, 900, []pair{{1, 0}}},
		{"next end cuts the window", []int64{100, 400}, []int64{450}, 1, 950, []pair{{1, 0}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, cl := cycles(c.ends, c.acts, w)
			if n != c.n || cl != c.closeness {
				t.Errorf("cycles = %d, %d; want %d, %d", n, cl, c.n, c.closeness)
			}
			if ps := pairsOf(c.ends, c.acts, w, nil); !slices.Equal(ps, c.pairs) {
				t.Errorf("pairs = %v, want %v", ps, c.pairs)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.5, 5.5}, {0.9, 9.1}, {1, 10}} {
		if got := quantile(xs, c.q); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("empty quantile")
	}
}

// TestShiftNull: a coupled train gets the smallest p-value, an unrelated
// one a large p-value, the same seed the same result, and a span too
// short to shift is untestable.
func TestShiftNull(t *testing.T) {
	ss, as := agentLoop(hostN(1), 12, 1)
	var ends, acts []int64
	for _, s := range ss {
		ends = append(ends, s.End)
	}
	for _, a := range as {
		acts = append(acts, a.Time)
	}
	w, g, j := ms(1500), ms(3000), ms(120000)
	_, c := cycles(ends, acts, w)
	buf := make([]int64, len(acts))
	res, ok := shiftNull(ends, acts, w, g, j, c, 999, 1, rand.New(rand.NewPCG(1, 2)), buf)
	if !ok || !res.complete || res.p != 1.0/1000 {
		t.Fatalf("coupled: %+v ok=%v, want p = 1/1000", res, ok)
	}
	again, _ := shiftNull(ends, acts, w, g, j, c, 999, 1, rand.New(rand.NewPCG(1, 2)), buf)
	if again != res {
		t.Fatal("the same seed gave another null")
	}
	// Actions half-way between the answers: nothing to explain.
	var mid []int64
	for i := 0; i+1 < len(ends); i++ {
		mid = append(mid, (ends[i]+ends[i+1])/2)
	}
	_, cm := cycles(ends, mid, w)
	res, ok = shiftNull(ends, mid, w, g, j, cm, 999, 1, rand.New(rand.NewPCG(1, 2)), buf)
	if !ok || res.p < 0.2 {
		t.Fatalf("uncoupled: %+v", res)
	}
	// Early stop: once p cannot reach the cut, the copies stop.
	res, _ = shiftNull(ends, mid, w, g, j, cm, 999, 0.01, rand.New(rand.NewPCG(1, 2)), buf)
	if res.complete || res.perms >= 999 {
		t.Fatalf("no early stop: %+v", res)
	}
	// Too short a span.
	if _, ok := shiftNull([]int64{0}, []int64{100}, w, g, j, 0, 99, 1, rand.New(rand.NewPCG(1, 2)), buf); ok {
		t.Fatal("a 1.5 s span was testable with 3 s shifts")
	}
}

func TestPermutationsFor(t *testing.T) {
	if got := permutationsFor(1999, 1, 0.001); got != 1999 {
		t.Errorf("one channel: %d", got)
	}
	if got := permutationsFor(1999, 3, 0.001); got != 5999 {
		t.Errorf("three channels: %d", got)
	}
}
