package notifier

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/trackhook/trackhook/internal/clock"
)

// Defaults for BreakerSettings.
const (
	DefaultFailuresToOpen = 5
	DefaultOpenFor        = time.Minute
	DefaultHalfOpenProbes = 1
	DefaultBreakerIdleFor = 10 * time.Minute
)

// ErrHostUnavailable is returned (wrapping gobreaker.ErrOpenState or
// gobreaker.ErrTooManyRequests) by Breakers.Do when a destination's breaker did not
// let the attempt through. No request was made: the delivery should wait, and this is
// not a failed attempt.
var ErrHostUnavailable = errors.New("destination unavailable: circuit breaker open")

// BreakerSettings configures the breakers of every destination. Zero values mean the
// defaults.
type BreakerSettings struct {
	// FailuresToOpen is how many failed attempts in a row open a destination's
	// breaker. Default DefaultFailuresToOpen.
	FailuresToOpen uint32
	// OpenFor is how long an open breaker refuses attempts before letting probes
	// through (half-open). gobreaker times it on the wall clock. Default
	// DefaultOpenFor.
	OpenFor time.Duration
	// HalfOpenProbes is how many attempts a half-open breaker lets through; as many
	// successes in a row close it, and any failure opens it again. Default
	// DefaultHalfOpenProbes.
	HalfOpenProbes uint32
	// IdleFor is how long a destination's breaker is kept after its last attempt
	// ended. Then, unless it is open, it is forgotten (see Breakers). Default
	// DefaultBreakerIdleFor.
	IdleFor time.Duration
	// Clock times IdleFor; nil means the wall clock.
	Clock clock.Clock
	// OnStateChange, if set, is called on every change of a destination's state, for
	// metrics and logs. It runs while that breaker is locked: it must return quickly
	// and must not call the Breakers.
	OnStateChange func(host string, from, to gobreaker.State)
}

// Breakers holds one circuit breaker per destination, created on first use. A
// destination is the address and port a delivery connects to (the notifier keys it so;
// see DestinationKey). A destination that keeps failing is given a rest: its
// deliveries wait instead of each spending attempts from its retry budget, and one
// probe tells when it is back. It is safe for concurrent use.
//
// Only signs that the receiver is down count as failures: no response (connection
// refused or reset, timeout, DNS failure), a 5xx, and 429 Too Many Requests (the
// receiver asks to slow down, which an open breaker does). A 2xx, 3xx or other 4xx
// shows a receiver that is up, even if it rejects the delivery. Attempts that say
// nothing about the receiver are ignored: those cut short by cancellation of the
// caller's context (shutdown), refused by the SSRF guard, or never sent.
//
// A breaker with no attempt under way or made for IdleFor is forgotten unless it is
// open (one whose OpenFor has passed counts as half-open): the set does not grow with
// every destination ever seen. Forgetting a closed breaker loses at most a run of
// failures shorter than FailuresToOpen; a half-open one, that its destination was
// failing IdleFor ago, and its next attempt goes through as to a closed breaker.
type Breakers struct {
	settings gobreaker.Settings
	idleFor  time.Duration
	clock    clock.Clock
	states   stateCounts

	mu      sync.Mutex
	byHost  map[string]*breaker
	peak    int       // the most breakers byHost held since it was last made
	sweepAt time.Time // when idle breakers are next looked for
}

// breaker is one destination's circuit breaker and its use, guarded by Breakers.mu.
type breaker struct {
	cb       *gobreaker.CircuitBreaker[Result]
	inFlight int
	lastUsed time.Time
}

// NewBreakers returns an empty set of breakers with settings s.
func NewBreakers(s BreakerSettings) *Breakers {
	if s.FailuresToOpen == 0 {
		s.FailuresToOpen = DefaultFailuresToOpen
	}
	if s.OpenFor <= 0 {
		s.OpenFor = DefaultOpenFor
	}
	if s.HalfOpenProbes == 0 {
		s.HalfOpenProbes = DefaultHalfOpenProbes
	}
	if s.IdleFor <= 0 {
		s.IdleFor = DefaultBreakerIdleFor
	}
	failures := s.FailuresToOpen
	b := &Breakers{
		idleFor: s.IdleFor,
		clock:   clock.OrReal(s.Clock),
		byHost:  make(map[string]*breaker),
	}
	b.settings = gobreaker.Settings{
		MaxRequests: s.HalfOpenProbes,
		Timeout:     s.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsExcluded:  func(err error) bool { return errors.Is(err, errAttemptIgnored) },
		// gobreaker passes the breaker's name: the host.
		OnStateChange: func(host string, from, to gobreaker.State) {
			b.states.change(host, from, to)
			if s.OnStateChange != nil {
				s.OnStateChange(host, from, to)
			}
		},
	}
	return b
}

// Available reports whether an attempt to host would be let through now: false while
// its breaker is open, or half-open with all its probes already under way. It spends
// nothing, so a delivery loop can skip a host without counting an attempt. The answer
// can be stale by the time Do runs; Do decides.
func (b *Breakers) Available(host string) bool {
	br := b.lookup(host)
	if br == nil {
		return true
	}
	switch br.cb.State() {
	case gobreaker.StateOpen:
		return false
	case gobreaker.StateHalfOpen:
		c := br.cb.Counts()
		return c.Requests-min(c.TotalExclusions, c.Requests) < b.settings.MaxRequests
	}
	return true
}

// Do runs one attempt to host through its breaker. If the breaker lets it through,
// Do returns fn's Result and a nil error, whatever the Result says; the Result is
// counted as described on Breakers. Otherwise fn is not called and Do returns an error
// wrapping ErrHostUnavailable.
func (b *Breakers) Do(host string, fn func() Result) (Result, error) {
	br := b.use(host)
	defer b.done(br)
	res, err := br.cb.Execute(func() (Result, error) {
		r := fn()
		return r, attemptHealth(r)
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return Result{}, fmt.Errorf("%w: %s: %w", ErrHostUnavailable, host, err)
	}
	return res, nil
}

// State returns the state of host's breaker: closed for a host without one.
func (b *Breakers) State(host string) gobreaker.State {
	if br := b.lookup(host); br != nil {
		return br.cb.State()
	}
	return gobreaker.StateClosed
}

func (b *Breakers) lookup(host string) *breaker {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byHost[host]
}

// use returns host's breaker, made if need be, marked in use until done.
func (b *Breakers) use(host string) *breaker {
	now := b.clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweep(now)
	br, ok := b.byHost[host]
	if !ok {
		st := b.settings
		st.Name = host
		br = &breaker{cb: gobreaker.NewCircuitBreaker[Result](st)}
		b.byHost[host] = br
		b.peak = max(b.peak, len(b.byHost))
		b.states.add(gobreaker.StateClosed, 1)
	}
	br.inFlight++
	br.lastUsed = now
	return br
}

func (b *Breakers) done(br *breaker) {
	now := b.clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	br.inFlight--
	br.lastUsed = now
}

// Errors that attemptHealth gives the breaker: errReceiverDown counts as a failure,
// errAttemptIgnored is excluded from the counts.
var (
	errReceiverDown   = errors.New("receiver down")
	errAttemptIgnored = errors.New("attempt says nothing about the receiver")
)

// attemptHealth classifies a Result for the breaker: nil for a receiver that is up.
func attemptHealth(r Result) error {
	switch {
	case errors.Is(r.Err, context.Canceled), errors.Is(r.Err, ErrForbiddenDestination):
		return errAttemptIgnored
	case r.StatusCode == 0 && errors.Is(r.Err, ErrNoResponse):
		return errReceiverDown
	case r.StatusCode == 0 && r.Err != nil:
		return errAttemptIgnored // never sent: a bad URL or secret is not the receiver's state
	case r.StatusCode >= 500, r.StatusCode == 429:
		return errReceiverDown
	}
	return nil
}
