package main

import (
	"maps"
	"slices"
	"sync"

	"github.com/sony/gobreaker/v2"

	"github.com/trackhook/trackhook/notifier"
)

// openBreakers follows which destination hosts' breakers are open, for the console's
// operator view: change is the breakers' OnStateChange, hosts what the view reads.
type openBreakers struct {
	breakers *notifier.Breakers // set once built, before anything is delivered

	mu   sync.Mutex
	open map[string]bool
}

func (o *openBreakers) change(host string, _, to gobreaker.State) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.open == nil {
		o.open = map[string]bool{}
	}
	if to == gobreaker.StateOpen {
		o.open[host] = true
	} else {
		delete(o.open, host)
	}
}

// hosts returns the hosts whose breaker is open now, sorted. A breaker moves from
// open to half-open only when asked its state, so each is asked (outside o.mu: the
// answer may call change).
func (o *openBreakers) hosts() []string {
	o.mu.Lock()
	candidates := slices.Collect(maps.Keys(o.open))
	o.mu.Unlock()
	var out []string
	for _, h := range candidates {
		if o.breakers == nil || o.breakers.State(h) == gobreaker.StateOpen {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}
