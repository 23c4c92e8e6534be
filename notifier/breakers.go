package notifier

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Defaults for BreakerSettings.
const (
	DefaultFailuresToOpen = 5
	DefaultOpenFor        = time.Minute
	DefaultHalfOpenProbes = 1
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
	// through (half-open). Default DefaultOpenFor.
	OpenFor time.Duration
	// HalfOpenProbes is how many attempts a half-open breaker lets through; as many
	// successes in a row close it, and any failure opens it again. Default
	// DefaultHalfOpenProbes.
	HalfOpenProbes uint32
	// OnStateChange, if set, is called on every change of a destination's state, for
	// metrics and logs. It runs while that breaker is locked: it must return quickly
	// and must not call the Breakers.
	OnStateChange func(host string, from, to gobreaker.State)
}

// Breakers holds one circuit breaker per destination (host:port, see
// DestinationKey), created on first use. A destination that keeps failing is given a
// rest: its deliveries wait instead of each spending attempts from its retry budget,
// and one probe tells when it is back. It is safe for concurrent use.
//
// Only signs that the receiver is down count as failures: no response (connection
// refused or reset, timeout, DNS failure), a 5xx, and 429 Too Many Requests (the
// receiver asks to slow down, which an open breaker does). A 2xx, 3xx or other 4xx
// shows a receiver that is up, even if it rejects the delivery. Attempts that say
// nothing about the receiver are ignored: those cut short by cancellation of the
// caller's context (shutdown), refused by the SSRF guard, or never sent.
type Breakers struct {
	settings gobreaker.Settings

	mu     sync.Mutex
	byHost map[string]*gobreaker.CircuitBreaker[Result]
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
	failures := s.FailuresToOpen
	return &Breakers{
		settings: gobreaker.Settings{
			MaxRequests:   s.HalfOpenProbes,
			Timeout:       s.OpenFor,
			ReadyToTrip:   func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
			IsExcluded:    func(err error) bool { return errors.Is(err, errAttemptIgnored) },
			OnStateChange: s.OnStateChange, // gobreaker passes the breaker's name: the host
		},
		byHost: make(map[string]*gobreaker.CircuitBreaker[Result]),
	}
}

// Available reports whether an attempt to host would be let through now: false while
// its breaker is open, or half-open with all its probes already under way. It spends
// nothing, so a delivery loop can skip a host without counting an attempt. The answer
// can be stale by the time Do runs; Do decides.
func (b *Breakers) Available(host string) bool {
	cb := b.lookup(host)
	if cb == nil {
		return true
	}
	switch cb.State() {
	case gobreaker.StateOpen:
		return false
	case gobreaker.StateHalfOpen:
		c := cb.Counts()
		return c.Requests-min(c.TotalExclusions, c.Requests) < b.settings.MaxRequests
	}
	return true
}

// Do runs one attempt to host through its breaker. If the breaker lets it through,
// Do returns fn's Result and a nil error, whatever the Result says; the Result is
// counted as described on Breakers. Otherwise fn is not called and Do returns an error
// wrapping ErrHostUnavailable.
func (b *Breakers) Do(host string, fn func() Result) (Result, error) {
	res, err := b.get(host).Execute(func() (Result, error) {
		r := fn()
		return r, attemptHealth(r)
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return Result{}, fmt.Errorf("%w: %s: %w", ErrHostUnavailable, host, err)
	}
	return res, nil
}

// States returns the state of every destination's breaker, for metrics.
func (b *Breakers) States() map[string]gobreaker.State {
	b.mu.Lock()
	all := maps.Clone(b.byHost)
	b.mu.Unlock()
	// Asking each breaker outside b.mu keeps the lock order one-way (breaker locks are
	// held while OnStateChange runs).
	out := make(map[string]gobreaker.State, len(all))
	for host, cb := range all {
		out[host] = cb.State()
	}
	return out
}

func (b *Breakers) lookup(host string) *gobreaker.CircuitBreaker[Result] {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byHost[host]
}

func (b *Breakers) get(host string) *gobreaker.CircuitBreaker[Result] {
	b.mu.Lock()
	defer b.mu.Unlock()
	cb, ok := b.byHost[host]
	if !ok {
		st := b.settings
		st.Name = host
		cb = gobreaker.NewCircuitBreaker[Result](st)
		b.byHost[host] = cb
	}
	return cb
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

// DestinationKey returns the key Breakers uses for a callback URL: its host, lower
// case, and port, with the scheme's default port when none is written
// ("https://Hooks.Example.com/x" gives "hooks.example.com:443").
func DestinationKey(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("%w: no host in %s", ErrInvalidCallbackURL, redactURL(rawURL))
	}
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		default:
			return "", fmt.Errorf("%w: the scheme must be http or https, not %q", ErrInvalidCallbackURL, u.Scheme)
		}
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), port), nil
}
