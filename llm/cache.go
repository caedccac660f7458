package llm

import (
	"container/list"
	"sync"

	"github.com/aegis-nsm/aegis/llm/prompt"
)

// replyCache is a bounded LRU of valid model replies keyed by the hash of
// the evidence bundle they answer. Safe for concurrent use; a cached
// *prompt.Reply is never modified after it is put.
type replyCache struct {
	max int

	mu    sync.Mutex
	ll    *list.List // front: most recent
	items map[string]*list.Element
}

type cacheEntry struct {
	key   string
	reply *prompt.Reply
}

func newReplyCache(max int) *replyCache {
	return &replyCache{max: max, ll: list.New(), items: map[string]*list.Element{}}
}

// get returns the reply for key and marks it recently used.
func (c *replyCache) get(key string) (*prompt.Reply, bool) {
	if c.max <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*cacheEntry).reply, true
}

// put stores r under key, evicting the least recently used entry when
// full.
func (c *replyCache) put(key string, r *prompt.Reply) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		e.Value.(*cacheEntry).reply = r
		c.ll.MoveToFront(e)
		return
	}
	c.items[key] = c.ll.PushFront(&cacheEntry{key: key, reply: r})
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*cacheEntry).key)
	}
}

// len is the number of entries.
func (c *replyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
