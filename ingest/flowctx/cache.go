package flowctx

import "github.com/aegis-nsm/aegis/schemas"

// Cache is the streaming form of Attach, for followed logs: context records
// (ssl.log lines, EVE tls/ssh/http/alert events) wait in it until the flow
// record with their key comes (Zeek writes ssl.log at the handshake and
// conn.log when the connection ends). It holds at most Max keys; past that
// the oldest key goes (counted in Evicted): its flow then comes without
// that context. A Cache is not safe for concurrent use.
type Cache[K comparable] struct {
	max     int
	m       map[K]*Fields
	fifo    []K // keys in arrival order; taken keys are skipped when evicting
	head    int
	Evicted int64 // keys dropped unused because the cache was full
	Matched int64 // flows that received context
}

// NewCache returns a Cache of at most limit keys (at least 1).
func NewCache[K comparable](limit int) *Cache[K] {
	return &Cache[K]{max: max(limit, 1), m: make(map[K]*Fields)}
}

// Len is the number of keys held.
func (c *Cache[K]) Len() int { return len(c.m) }

// Put merges one context record under key k (the zero key is ignored).
func (c *Cache[K]) Put(k K, f *Fields) {
	var zero K
	if k == zero {
		return
	}
	m := c.m[k]
	if m == nil {
		for len(c.m) >= c.max && c.head < len(c.fifo) {
			old := c.fifo[c.head]
			c.head++
			if _, ok := c.m[old]; ok {
				delete(c.m, old)
				c.Evicted++
			}
		}
		if c.head > 1024 && c.head*2 > len(c.fifo) {
			c.fifo = append(c.fifo[:0], c.fifo[c.head:]...)
			c.head = 0
		}
		m = new(Fields)
		c.m[k] = m
		c.fifo = append(c.fifo, k)
	}
	m.merge(f)
}

// Apply gives flow the context held under k. With take, the context is
// removed (the final record of a connection); without, it stays for later
// records of the same key (Zeek conn_long snapshots). It reports whether
// flow received any.
func (c *Cache[K]) Apply(flow *schemas.IDSFlow, k K, take bool) bool {
	m := c.m[k]
	if m == nil {
		return false
	}
	if take {
		delete(c.m, k)
	}
	if m.apply(flow) {
		c.Matched++
		return true
	}
	return false
}
