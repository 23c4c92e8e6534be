package notifier

import "sync"

// payloadCacheSize bounds the bodies kept: the fan-out of one update to an account's
// endpoints happens within moments (their streams become due together), so a few
// hundred recent updates cover it, some megabytes at most.
const payloadCacheSize = 256

// payloads keeps the encoded bodies of recent updates sent to endpoints, so that an
// update going to ten endpoints is encoded once, not ten times. An update never
// changes once appended, and its body is the same for every endpoint (each signs it
// with its own secret), so an entry is never stale. Callback deliveries do not use it:
// each update goes to one callback, and a cache would only hold memory.
type payloads struct {
	mu     sync.Mutex
	bodies map[string][]byte
	order  [payloadCacheSize]string // ring of the keys, oldest at next
	next   int
}

func newPayloads() *payloads { return &payloads{bodies: make(map[string][]byte, payloadCacheSize)} }

// get returns the body kept for the update id, or nil.
func (p *payloads) get(id string) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bodies[id]
}

// put keeps body for the update id, forgetting the oldest kept when full. Bodies are
// shared with their senders, which never change them.
func (p *payloads) put(id string, body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.bodies[id]; ok {
		return
	}
	if old := p.order[p.next]; old != "" {
		delete(p.bodies, old)
	}
	p.order[p.next] = id
	p.next = (p.next + 1) % payloadCacheSize
	p.bodies[id] = body
}
