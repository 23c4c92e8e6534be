package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/references"
)

// Bounds on how long a key's bucket is kept after its last request.
const (
	minIdleEviction = 10 * time.Minute
	maxIdleEviction = 30 * 24 * time.Hour // for absurdly slow rates; keeps the arithmetic in range
)

// keyLimiters keeps one token bucket per key (an API key, an account, a client
// address), so one busy client cannot starve the others. Buckets unused for idleAfter
// are dropped to bound memory; idleAfter is at least the time a bucket takes to refill,
// so dropping one never grants extra tokens. When max is set, no more buckets than
// that are kept: a new key then takes the place of an arbitrary one.
type keyLimiters struct {
	limit     rate.Limit
	burst     int
	idleAfter time.Duration
	max       int // 0: no bound (keys that only exist in the store)
	now       func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	limiter  *rate.Limiter
	lastUsed time.Time
}

func newKeyLimiters(limit rate.Limit, burst int, now func() time.Time) *keyLimiters {
	idle := minIdleEviction
	if refill := float64(burst) / float64(limit) * float64(time.Second); refill > float64(idle) {
		idle = time.Duration(math.Min(refill, float64(maxIdleEviction)))
	}
	return &keyLimiters{limit: limit, burst: burst, idleAfter: idle, now: now, buckets: map[string]*bucket{}}
}

// wait takes a token for key and returns zero, or, when the bucket is empty, takes
// nothing and returns how long until a token will be there.
func (k *keyLimiters) wait(key string) time.Duration {
	return k.waitN(key, 1)
}

// waitN is wait for n tokens at once, all or none; n is at most the bucket's size.
func (k *keyLimiters) waitN(key string, n int) time.Duration {
	if n < 1 {
		return 0
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.bucket(key, now).ReserveN(now, n)
	if !r.OK() {
		return time.Duration(math.MaxInt64) // burst < 1: never; not reachable with New's defaults
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request must not use up a future token
		return d
	}
	return 0
}

// delay returns how long until key has a token, without taking one: zero when it
// has one now.
func (k *keyLimiters) delay(key string) time.Duration {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.buckets[key]
	if b == nil {
		return 0 // a bucket not kept is full
	}
	missing := 1 - b.limiter.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(k.limit) * float64(time.Second))
}

// take uses up a token of key, if there is one.
func (k *keyLimiters) take(key string) {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.bucket(key, now).AllowN(now, 1)
}

// bucket returns key's limiter, marked used at now; k.mu is held.
func (k *keyLimiters) bucket(key string, now time.Time) *rate.Limiter {
	k.sweep(now)
	b := k.buckets[key]
	if b == nil {
		if k.max > 0 && len(k.buckets) >= k.max {
			for other := range k.buckets { // map order: an arbitrary one
				delete(k.buckets, other)
				break
			}
		}
		b = &bucket{limiter: rate.NewLimiter(k.limit, k.burst)}
		k.buckets[key] = b
	}
	b.lastUsed = now
	return b.limiter
}

// sweep drops idle buckets, at most once per idleAfter so the cost stays amortised.
func (k *keyLimiters) sweep(now time.Time) {
	if now.Sub(k.lastSweep) < k.idleAfter {
		return
	}
	for id, b := range k.buckets {
		if now.Sub(b.lastUsed) >= k.idleAfter {
			delete(k.buckets, id)
		}
	}
	k.lastSweep = now
}

// size returns how many buckets are kept.
func (k *keyLimiters) size() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// rateLimit refuses a request with 429 and Retry-After when the key is over its rate.
// It runs after authenticate, since it counts per key.
func (s *server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	if s.limiter == nil {
		return next
	}
	return func(c echo.Context) error {
		if d := s.limiter.wait(apiKey(c).ID); d > 0 {
			return retryLater(c, d, "too many requests for this API key")
		}
		return next(c)
	}
}

// retryLater is the answer to a request over a rate: it sets Retry-After to d in
// whole seconds (at least 1) and returns a rate_limited error saying what was over it.
func retryLater(c echo.Context, d time.Duration, what string) error {
	secs := int64(math.Ceil(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	c.Response().Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return references.Errorf(codeRateLimited, "%s; retry after %d s", what, secs)
}
