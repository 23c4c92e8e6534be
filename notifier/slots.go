package notifier

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
)

// slots bound the POSTs under way: Workers in all, and at most perHost to one
// destination host, so a receiver that hangs holds that many slots at most, not all of
// them (its breaker counts attempts only when they end).
type slots struct {
	sends   chan struct{} // one per POST under way
	perHost int
	wait    time.Duration // how long a delivery waits for a place at its host
	clock   clock.Clock

	mu    sync.Mutex
	hosts map[string]chan struct{} // made on first use, like the host's breaker
}

func newSlots(workers, perHost int, wait time.Duration, clk clock.Clock) *slots {
	return &slots{
		sends: make(chan struct{}, workers), perHost: perHost, wait: wait, clock: clk,
		hosts: map[string]chan struct{}{},
	}
}

// acquire takes a place at host, waiting up to the host wait for one, then a
// delivery slot. It returns ErrHostUnavailable when the host has no place free in
// time, and ctx's error when shutdown comes first (nothing was sent).
func (s *slots) acquire(ctx context.Context, host string) (release func(), err error) {
	places := s.host(host)
	select {
	case places <- struct{}{}:
	default:
		timer := s.clock.NewTimer(s.wait)
		defer timer.Stop()
		select {
		case places <- struct{}{}:
		case <-timer.C():
			return nil, fmt.Errorf("%w: %s: %d attempts under way", ErrHostUnavailable, host, s.perHost)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case s.sends <- struct{}{}:
	case <-ctx.Done():
		<-places
		return nil, ctx.Err()
	}
	return func() { <-s.sends; <-places }, nil
}

func (s *slots) host(host string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	places, ok := s.hosts[host]
	if !ok {
		places = make(chan struct{}, s.perHost)
		s.hosts[host] = places
	}
	return places
}
