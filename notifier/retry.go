package notifier

import (
	"math"
	"time"
)

// Defaults for RetryPolicy: retries after about 5s, 20s, 80s, 5m, 21m, 85m, then every
// 2 to 4 hours until 72 hours after the first attempt. A receiver that was only
// restarting gets the update within seconds; one that is down for a weekend still
// gets it on Monday, without being hammered in between.
const (
	DefaultRetryFirst  = 5 * time.Second
	DefaultRetryFactor = 4.0
	DefaultRetryMax    = 4 * time.Hour
	DefaultRetryJitter = 0.5
	DefaultRetryWindow = 72 * time.Hour
)

// RetryPolicy says when a failed delivery is tried again: exponential backoff from
// First, growing by Factor per attempt up to Max, with part of each delay random so
// that deliveries that failed together (a receiver outage) do not all come back at
// the same moment, and no retry later than Window after the update's first attempt.
// Zero or negative fields mean the defaults. It is a value with no state: the same
// inputs give the same answer.
type RetryPolicy struct {
	// First is the delay before the first retry.
	First time.Duration
	// Factor multiplies the delay at each further retry.
	Factor float64
	// Max caps a single delay, including one asked for with Retry-After.
	Max time.Duration
	// Jitter is the fraction of each delay that is random: the delay d becomes a time
	// in [d*(1-Jitter), d]. 0.5 keeps every retry at least half its nominal delay away,
	// which "full jitter" (anywhere in [0, d]) does not. Values over 1 are taken as 1.
	Jitter float64
	// Window is how long after the update's first attempt retries may still happen;
	// past it the delivery is given up.
	Window time.Duration
}

// DefaultRetryPolicy returns the policy with every default filled in.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{}.withDefaults()
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.First <= 0 {
		p.First = DefaultRetryFirst
	}
	if p.Factor <= 0 {
		p.Factor = DefaultRetryFactor
	}
	if p.Max <= 0 {
		p.Max = DefaultRetryMax
	}
	if p.Jitter <= 0 {
		p.Jitter = DefaultRetryJitter
	}
	p.Jitter = min(p.Jitter, 1)
	if p.Window <= 0 {
		p.Window = DefaultRetryWindow
	}
	return p
}

// Delay returns how long to wait after attempt number attempt (1 for the first try)
// has failed. rnd returns a number in [0, 1) and takes away that share of the jitter
// part; nil means no randomness, so the full nominal delay.
func (p RetryPolicy) Delay(attempt int, rnd func() float64) time.Duration {
	p = p.withDefaults()
	attempt = max(attempt, 1)
	nominal := float64(p.First) * math.Pow(p.Factor, float64(attempt-1))
	d := p.Max
	if nominal < float64(p.Max) { // also false for +Inf and NaN after huge attempts
		d = time.Duration(nominal)
	}
	if rnd == nil {
		return d
	}
	r := rnd()
	if r < 0 || r >= 1 || math.IsNaN(r) {
		r = 0 // a bad generator must not schedule into the past or beyond d
	}
	return d - time.Duration(p.Jitter*r*float64(d))
}

// Next returns when to retry after attempt number attempt (1 for the first try) failed
// at now, for an update first attempted at firstAttempt. retryAfter is the delay the
// receiver asked for (Result.RetryAfter, 0 if none); it is honoured when longer than
// the policy's delay, up to Max. giveUp is true, and next is zero, when the retry would
// fall after firstAttempt + Window.
func (p RetryPolicy) Next(attempt int, firstAttempt, now time.Time, retryAfter time.Duration, rnd func() float64) (next time.Time, giveUp bool) {
	p = p.withDefaults()
	next = p.After(attempt, now, retryAfter, rnd)
	if next.After(firstAttempt.Add(p.Window)) {
		return time.Time{}, true
	}
	return next, false
}

// After returns when to retry after attempt number attempt failed at now, as Next
// does but without a window: for an endpoint whose policy counts attempts instead.
func (p RetryPolicy) After(attempt int, now time.Time, retryAfter time.Duration, rnd func() float64) time.Time {
	p = p.withDefaults()
	d := p.Delay(attempt, rnd)
	if retryAfter > d {
		d = min(retryAfter, p.Max)
	}
	return now.Add(d)
}
