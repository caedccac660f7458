package flowctx

import (
	"testing"

	"github.com/aegis-nsm/aegis/schemas"
)

func TestCacheStreamingJoin(t *testing.T) {
	c := NewCache[string](2)
	c.Put("C1", &Fields{SNI: "api.openai.com", JA3: "abc"})
	c.Put("C1", &Fields{SNI: "ignored.example", TLSVersion: "TLSv13"}) // first value wins
	c.Put("", &Fields{SNI: "no-key.example"})                          // zero key joins nothing
	snapshot := schemas.IDSFlow{UID: "C1", Interim: true}
	if !c.Apply(&snapshot, "C1", false) || snapshot.SNI != "api.openai.com" {
		t.Fatalf("interim record got %+v", snapshot)
	}
	final := schemas.IDSFlow{UID: "C1"}
	if !c.Apply(&final, "C1", true) || final.SNI != "api.openai.com" || final.Context.JA3 != "abc" || final.Context.TLSVersion != "TLSv13" {
		t.Fatalf("final record got %+v %+v", final, final.Context)
	}
	if c.Len() != 0 {
		t.Errorf("taken context still held: %d keys", c.Len())
	}
	// Bounded: a third key pushes out the oldest.
	c.Put("A", &Fields{SNI: "a"})
	c.Put("B", &Fields{SNI: "b"})
	c.Put("D", &Fields{SNI: "d"})
	if c.Len() != 2 || c.Evicted != 1 {
		t.Errorf("len %d evicted %d, want 2 and 1", c.Len(), c.Evicted)
	}
	if f := (schemas.IDSFlow{}); c.Apply(&f, "A", true) {
		t.Error("the evicted key still joined")
	}
	for i := range 10_000 {
		c.Put(string(rune('a'+i%26))+string(rune(i)), &Fields{SNI: "x"})
	}
	if c.Len() > 2 || len(c.fifo)-c.head > 2048 {
		t.Errorf("cache grew: %d keys, fifo %d", c.Len(), len(c.fifo)-c.head)
	}
}
