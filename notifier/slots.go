package notifier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
)

// errSlotsBusy is returned by slots.acquire when every delivery slot stayed taken for
// the host wait while the account already held its fair share: the delivery is
// postponed, uncounted, as for a host with no place free.
var errSlotsBusy = errors.New("every delivery slot is in use")

// errWaitOver ends a bounded wait for a slot or a place.
var errWaitOver = errors.New("wait over")

// slots bound and share out the POSTs under way. There are Workers delivery slots in
// all, and a destination (see destination.key) has at most perHost places, so a
// receiver that hangs holds that many slots at most, not all of them (its breaker
// counts attempts only when they end). A delivery waits up to the host wait for a
// place at its host.
//
// Slots are shared between accounts fairly, and no slot is left idle while a
// delivery waits for one. A freed slot goes to the waiting account that holds the
// fewest, earliest waiter first among equals: an account below its fair share
// (Workers / the accounts holding or waiting for slots) is served before those at or
// above it, while one account alone can hold every slot. An account that holds its
// share already waits at most the host wait, then its delivery is postponed like one
// whose host is full: that gives its stream back, so the notifier, which works a
// bounded number of streams at once (streamsPerWorker), claims the work queued behind,
// other accounts' too.
//
// State is kept only for hosts and accounts with a slot or place held or awaited, so
// it does not grow with the destinations ever seen.
type slots struct {
	workers, perHost int
	wait             time.Duration
	clock            clock.Clock

	mu       sync.Mutex
	free     int                 // delivery slots nobody holds; > 0 only while nobody waits
	hosts    map[string]*holders // by destination key
	accounts map[string]*holders // by account id
	arrivals uint64              // numbers waiters in order of arrival
}

// holders counts what one host or account holds and queues its waiters in order.
type holders struct {
	held    int
	waiting []*waiter
}

func (h *holders) idle() bool { return h.held == 0 && len(h.waiting) == 0 }

// waiter is one delivery waiting for a place or a slot; ready is closed when it is
// given one (under slots.mu, which also guards granted).
type waiter struct {
	ready   chan struct{}
	granted bool
	arrival uint64
}

func newSlots(workers, perHost int, wait time.Duration, clk clock.Clock) *slots {
	return &slots{
		workers: workers, perHost: perHost, wait: wait, clock: clk,
		free: workers, hosts: map[string]*holders{}, accounts: map[string]*holders{},
	}
}

// acquire takes a place at host, then a delivery slot for account. It returns
// ErrHostUnavailable when the host has no place free within the host wait,
// errSlotsBusy when the account holds its share and no slot frees within it, and
// ctx's error when shutdown comes first (nothing was sent). release gives both back.
func (s *slots) acquire(ctx context.Context, account, host string) (release func(), err error) {
	if err := s.takePlace(ctx, host); err != nil {
		return nil, err
	}
	if err := s.takeSlot(ctx, account); err != nil {
		s.give(s.hosts, host, nil)
		return nil, err
	}
	return func() {
		s.give(s.accounts, account, s.nextForSlot)
		s.give(s.hosts, host, nil)
	}, nil
}

func (s *slots) takePlace(ctx context.Context, host string) error {
	s.mu.Lock()
	h := entry(s.hosts, host)
	if h.held < s.perHost { // nobody waits while a place is free
		h.held++
		s.mu.Unlock()
		return nil
	}
	w := s.enqueue(h)
	s.mu.Unlock()
	err := s.await(ctx, w, true, s.hosts, host)
	if errors.Is(err, errWaitOver) {
		return fmt.Errorf("%w: %s: %d attempts under way", ErrHostUnavailable, host, s.perHost)
	}
	return err
}

func (s *slots) takeSlot(ctx context.Context, account string) error {
	s.mu.Lock()
	a := entry(s.accounts, account)
	if s.free > 0 {
		s.free--
		a.held++
		s.mu.Unlock()
		return nil
	}
	atShare := a.held*len(s.accounts) >= s.workers
	w := s.enqueue(a)
	s.mu.Unlock()
	err := s.await(ctx, w, atShare, s.accounts, account)
	if errors.Is(err, errWaitOver) {
		return fmt.Errorf("%w: account %s holds its share", errSlotsBusy, account)
	}
	return err
}

// entry returns m's holders for key, adding them if need be. s.mu is held.
func entry(m map[string]*holders, key string) *holders {
	h := m[key]
	if h == nil {
		h = &holders{}
		m[key] = h
	}
	return h
}

func (s *slots) enqueue(h *holders) *waiter {
	s.arrivals++
	w := &waiter{ready: make(chan struct{}), arrival: s.arrivals}
	h.waiting = append(h.waiting, w)
	return w
}

// await waits until w is given what it waits for, ctx ends or, when bounded, the host
// wait is over (errWaitOver). A waiter that gives up leaves the queue of m[key]; one
// served just as it gave up keeps what it was given.
func (s *slots) await(ctx context.Context, w *waiter, bounded bool, m map[string]*holders, key string) error {
	var over <-chan time.Time
	if bounded {
		timer := s.clock.NewTimer(s.wait)
		defer timer.Stop()
		over = timer.C()
	}
	var err error
	select {
	case <-w.ready:
		return nil
	case <-over:
		err = errWaitOver
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		return nil
	}
	h := m[key]
	h.waiting = slices.DeleteFunc(h.waiting, func(x *waiter) bool { return x == w })
	if h.idle() {
		delete(m, key)
	}
	return err
}

// give returns one place or slot held under m[key]. It goes to the holders next
// picks (nil: the key's own first waiter), or is counted free.
func (s *slots) give(m map[string]*holders, key string, next func() *holders) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := m[key]
	h.held--
	to := h
	if next != nil {
		to = next()
	}
	switch {
	case to != nil && len(to.waiting) > 0:
		w := to.waiting[0]
		to.waiting = to.waiting[1:]
		to.held++
		w.granted = true
		close(w.ready)
	case next != nil:
		s.free++
	}
	if h.idle() {
		delete(m, key)
	}
}

// nextForSlot picks the account a freed delivery slot goes to: of those waiting, the
// one holding the fewest, and among equals the one waiting longest; nil when nobody
// waits. s.mu is held.
func (s *slots) nextForSlot() *holders {
	var best *holders
	for _, a := range s.accounts {
		if len(a.waiting) == 0 {
			continue
		}
		if best == nil || a.held < best.held || a.held == best.held && a.waiting[0].arrival < best.waiting[0].arrival {
			best = a
		}
	}
	return best
}
