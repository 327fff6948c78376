package commands

import (
	"container/list"
	"sync"
)

// recentWrites remembers, per namespace and coordinate key, whether this
// process last stored (true) or deleted (false) a memory there. It closes
// the window in which the directory (a read model) has not yet applied our
// own writes, so "store then link" works at once on the same replica.
// Bounded: least recently written keys are forgotten first.
type recentWrites struct {
	mu    sync.Mutex
	cap   int
	order *list.List
	items map[string]*list.Element
}

type recentItem struct {
	key    string
	exists bool
}

func newRecentWrites(capacity int) *recentWrites {
	if capacity <= 0 {
		capacity = 100000
	}
	return &recentWrites{cap: capacity, order: list.New(), items: map[string]*list.Element{}}
}

func (r *recentWrites) set(namespace, key string, exists bool) {
	k := namespace + "\x00" + key
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.items[k]; ok {
		el.Value.(*recentItem).exists = exists
		r.order.MoveToFront(el)
		return
	}
	r.items[k] = r.order.PushFront(&recentItem{key: k, exists: exists})
	for r.order.Len() > r.cap {
		el := r.order.Back()
		r.order.Remove(el)
		delete(r.items, el.Value.(*recentItem).key)
	}
}

func (r *recentWrites) get(namespace, key string) (exists, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	el, ok := r.items[namespace+"\x00"+key]
	if !ok {
		return false, false
	}
	return el.Value.(*recentItem).exists, true
}
