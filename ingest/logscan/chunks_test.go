package logscan

import "testing"

func TestChunks(t *testing.T) {
	for _, n := range []int{0, 1, chunkLen - 1, chunkLen, chunkLen + 1, 3*chunkLen + 7} {
		var c Chunks[int]
		for i := range n {
			if p := c.Append(i); *p != i {
				t.Fatalf("Append returned %d, want %d", *p, i)
			}
		}
		if c.Len() != n {
			t.Fatalf("Len %d, want %d", c.Len(), n)
		}
		all := c.All()
		if len(all) != n || (n == 0) != (all == nil) {
			t.Fatalf("All has %d values, want %d", len(all), n)
		}
		for i, v := range all {
			if v != i {
				t.Fatalf("value %d is %d", i, v)
			}
		}
		if c.Len() != 0 || c.All() != nil {
			t.Fatal("All did not empty the Chunks")
		}
	}
}

func TestChunksReserve(t *testing.T) {
	var c Chunks[int]
	c.Reserve(10_000)
	for i := range 10_000 {
		c.Append(i)
	}
	p := &c.cur[0]
	all := c.All()
	if len(all) != 10_000 || &all[0] != p {
		t.Fatal("reserved values were copied")
	}
	if n := EstimateRecords([]string{"chunks.go", "missing", "x.gz"}, 1, 1<<30); n <= 0 {
		t.Fatalf("estimate %d", n)
	}
}

func TestChunksSpare(t *testing.T) {
	for _, reserve := range []int{0, 10} {
		var c Chunks[int]
		c.Reserve(reserve)
		want := []int{}
		for i := range 3*chunkLen + 5 {
			p := c.Spare()
			*p = -1 // a line that is then rejected
			if c.Spare() != p {
				t.Fatal("Spare moved without Commit")
			}
			*p = i
			if i%3 != 0 {
				c.Commit()
				want = append(want, i)
			}
		}
		all := c.All()
		if len(all) != len(want) {
			t.Fatalf("%d values, want %d", len(all), len(want))
		}
		for i := range all {
			if all[i] != want[i] {
				t.Fatalf("value %d is %d, want %d", i, all[i], want[i])
			}
		}
	}
}
