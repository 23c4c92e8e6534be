package notifier

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// StateCounts returns how many destinations' breakers are in each state (closed,
// half-open, open), for metrics. It does not visit every breaker: the counts follow
// each change of state as it happens, and only the open breakers are asked whether
// their OpenFor has passed (gobreaker moves one to half-open when asked). It also
// forgets idle breakers when that is due.
func (b *Breakers) StateCounts() map[gobreaker.State]int {
	b.mu.Lock()
	b.sweep(b.clock.Now())
	b.mu.Unlock()
	for _, host := range b.states.openHosts() {
		if br := b.lookup(host); br != nil {
			br.cb.State() // outside b.mu: a change calls states.change, under the breaker's lock
		}
	}
	return b.states.snapshot()
}

// OpenHosts returns the hosts whose breaker is open now, sorted, for the console's
// operator view. Like StateCounts it asks only the open breakers whether their OpenFor
// has passed, so a breaker that became half-open is not listed.
func (b *Breakers) OpenHosts() []string {
	var out []string
	for _, host := range b.states.openHosts() {
		if b.State(host) == gobreaker.StateOpen { // outside b.mu, as in StateCounts
			out = append(out, host)
		}
	}
	slices.Sort(out)
	return out
}

// sweep forgets the breakers that are idle (see Breakers), looking for them at most
// every half IdleFor: a breaker is forgotten between IdleFor and 1.5 IdleFor after its
// last attempt. b.mu is held; asking a breaker its state locks it (and may call
// OnStateChange), which is the lock order everywhere: b.mu, a breaker, b.states.
func (b *Breakers) sweep(now time.Time) {
	if now.Before(b.sweepAt) {
		return
	}
	b.sweepAt = now.Add(b.idleFor / 2)
	for host, br := range b.byHost {
		if br.inFlight > 0 || now.Sub(br.lastUsed) < b.idleFor {
			continue
		}
		if st := br.cb.State(); st != gobreaker.StateOpen {
			delete(b.byHost, host)
			b.states.add(st, -1)
		}
	}
	// A Go map keeps the room of its largest size: after a burst of destinations,
	// move the few left to a map of their size.
	if len(b.byHost) < b.peak/4 {
		b.byHost = maps.Collect(maps.All(b.byHost))
		b.peak = len(b.byHost)
	}
}

// stateCounts counts breakers by state and names the open ones. Its lock is taken
// last, under a breaker's (OnStateChange) or under Breakers.mu, never the other way.
type stateCounts struct {
	mu   sync.Mutex
	n    map[gobreaker.State]int
	open map[string]bool
}

func (c *stateCounts) add(s gobreaker.State, d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[gobreaker.State]int{}
	}
	c.n[s] += d
}

func (c *stateCounts) change(host string, from, to gobreaker.State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[gobreaker.State]int{}
	}
	c.n[from]--
	c.n[to]++
	if c.open == nil {
		c.open = map[string]bool{}
	}
	if to == gobreaker.StateOpen {
		c.open[host] = true
	} else {
		delete(c.open, host)
	}
}

func (c *stateCounts) openHosts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Collect(maps.Keys(c.open))
}

// snapshot returns the counts of the three states, zeros included.
func (c *stateCounts) snapshot() map[gobreaker.State]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return map[gobreaker.State]int{
		gobreaker.StateClosed:   c.n[gobreaker.StateClosed],
		gobreaker.StateHalfOpen: c.n[gobreaker.StateHalfOpen],
		gobreaker.StateOpen:     c.n[gobreaker.StateOpen],
	}
}
