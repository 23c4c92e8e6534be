package poller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// GuardOptions configures Guard. Zero values mean the defaults.
type GuardOptions struct {
	// Failures is how many consecutive failed fetches open the breaker. Default 5.
	Failures uint32
	// OpenFor is how long the breaker stays open before one probe fetch is let
	// through. Default 60s.
	OpenFor time.Duration
	// Limiter, when set, spaces the fetches to the source. Waiting honours the fetch's
	// context and is skipped while the breaker is open.
	Limiter *rate.Limiter
	// OnStateChange, when set, is told of every breaker transition (for logs and
	// metrics). It runs with the breaker locked: it must be quick and not call the
	// GuardedSource.
	OnStateChange func(name string, from, to gobreaker.State)
	// Clock tells the time left until the open breaker lets a probe through (the
	// RetryAfter of its errors); nil means the real clock. gobreaker itself times the
	// open state with the wall clock and cannot be given another one.
	Clock clock.Clock
}

// errRateWait marks a fetch given up before calling the source because the guard's
// rate limiter could not serve it within the context's deadline.
var errRateWait = errors.New("rate limit wait exceeds the deadline")

// Default guard settings.
const (
	DefaultGuardFailures = 5
	DefaultGuardOpenFor  = 60 * time.Second
)

// GuardedSource is a Source behind its own circuit breaker, so that a failing carrier
// API is not hammered and its timeouts do not hold up the polls of other carriers.
type GuardedSource struct {
	name    string
	src     Source
	limiter *rate.Limiter
	clock   clock.Clock
	breaker *gobreaker.CircuitBreaker[*references.Shipment]

	mu        sync.Mutex
	openUntil time.Time // when the breaker last opened, plus OpenFor
}

// Guard wraps src in a circuit breaker named name (the carrier code, say). Failures
// are errors of a source that is down, overwhelmed or broken: the kinds
// references.ErrSourceUnavailable, ErrSourceRateLimited and ErrSourceBadAnswer, and
// any error a source does not classify. These are not failures: a shipment the source
// does not know (references.ErrShipmentNotFound), a request the source refused
// (references.ErrSourceBadRequest: the source is up; the request or the credentials
// are at fault, which the poll error shows), and a cancelled context (shutdown).
//
// While the breaker is open, Fetch fails at once with a *references.SourceError of
// kind ErrSourceUnavailable whose RetryAfter is the time left until a probe may go
// through, so the scheduler backs off at least that long.
func Guard(name string, src Source, opts GuardOptions) *GuardedSource {
	if opts.Failures == 0 {
		opts.Failures = DefaultGuardFailures
	}
	if opts.OpenFor <= 0 {
		opts.OpenFor = DefaultGuardOpenFor
	}
	failures := opts.Failures
	g := &GuardedSource{name: name, src: src, limiter: opts.Limiter, clock: clock.OrReal(opts.Clock)}
	onStateChange := func(name string, from, to gobreaker.State) {
		if to == gobreaker.StateOpen {
			// gobreaker times the open state with the wall clock; with the real Clock
			// (the service's), openUntil agrees with it.
			g.mu.Lock()
			g.openUntil = g.clock.Now().Add(opts.OpenFor)
			g.mu.Unlock()
		}
		if opts.OnStateChange != nil {
			opts.OnStateChange(name, from, to)
		}
	}
	g.breaker = gobreaker.NewCircuitBreaker[*references.Shipment](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1, // one probe when half-open
		Timeout:     opts.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= failures
		},
		IsSuccessful: sourceIsUp,
		IsExcluded: func(err error) bool {
			return errors.Is(err, context.Canceled) || errors.Is(err, errRateWait)
		},
		OnStateChange: onStateChange,
	})
	return g
}

// sourceIsUp reports whether err still shows a working source.
func sourceIsUp(err error) bool {
	return err == nil || errors.Is(err, references.ErrShipmentNotFound) || errors.Is(err, references.ErrSourceBadRequest)
}

// Fetch calls the source unless the breaker is open; then it fails at once with a
// *references.SourceError of kind ErrSourceUnavailable.
func (g *GuardedSource) Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error) {
	shipment, err := g.breaker.Execute(func() (*references.Shipment, error) {
		if g.limiter != nil {
			if err := g.limiter.Wait(ctx); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				// The wait would outlast the context's deadline: not the source's fault.
				return nil, fmt.Errorf("%s: %w: %w", g.name, errRateWait, err)
			}
		}
		return g.src.Fetch(ctx, ref)
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		g.mu.Lock()
		wait := max(g.openUntil.Sub(g.clock.Now()), 0)
		g.mu.Unlock()
		return nil, &references.SourceError{Kind: references.ErrSourceUnavailable, RetryAfter: wait, Err: &refusedError{name: g.name, cause: err}}
	}
	return shipment, err
}

// refusedError says why the breaker refused a fetch. RetryAfter, in the
// SourceError around it, is the time left until the breaker lets a probe through;
// zero while a probe is running.
type refusedError struct {
	name  string
	cause error // gobreaker.ErrOpenState or ErrTooManyRequests (a probe is running)
}

func (e *refusedError) Error() string {
	if errors.Is(e.cause, gobreaker.ErrTooManyRequests) {
		// gobreaker's text reads like an HTTP 429, which it is not.
		return fmt.Sprintf("%s: %v: circuit breaker is half-open and its probe is under way", e.name, references.ErrSourceUnavailable)
	}
	return fmt.Sprintf("%s: %v: %v", e.name, references.ErrSourceUnavailable, e.cause)
}

func (e *refusedError) Unwrap() error { return e.cause }

// Name returns the name the source was guarded under.
func (g *GuardedSource) Name() string { return g.name }

// State returns the breaker's state: closed (calls go through), open (calls fail
// fast) or half-open (one probe call is let through).
func (g *GuardedSource) State() gobreaker.State { return g.breaker.State() }

// CheckReference asks the guarded source whether it can track ref, when it is a
// ReferenceChecker (nil otherwise). Nothing is fetched, so the breaker is not asked.
func (g *GuardedSource) CheckReference(ref references.Reference) error {
	if c, ok := g.src.(ReferenceChecker); ok {
		return c.CheckReference(ref)
	}
	return nil
}

// Unwrap returns the guarded source, so that what it offers besides Fetch (a
// Subscriber) can be found through the guard.
func (g *GuardedSource) Unwrap() Source { return g.src }
