package console

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the sign-in failure limit, the API's for failed authentications: a
// burst of 20 wrong keys per client address, then one every 6 seconds.
const (
	DefaultSignInFailureLimit = rate.Limit(1.0 / 6)
	DefaultSignInFailureBurst = 20
	// maxFailureAddrs bounds the addresses counted, so a flood of them cannot
	// grow memory without end.
	maxFailureAddrs = 16384
)

// failureLimiter counts failed sign-ins per client address in token buckets. Only
// failures take tokens; an address whose bucket is empty is refused before its key
// is looked up, so guessing keys through the console is as slow as through the API.
// A nil failureLimiter allows everything.
type failureLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newFailureLimiter(limit rate.Limit, burst int, now func() time.Time) *failureLimiter {
	if limit == rate.Inf {
		return nil
	}
	return &failureLimiter{limit: limit, burst: burst, now: now, buckets: map[string]*rate.Limiter{}}
}

// delay returns how long until addr may try again: zero when it may now.
func (f *failureLimiter) delay(addr string) time.Duration {
	if f == nil {
		return 0
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.buckets[addr]
	if b == nil {
		return 0
	}
	missing := 1 - b.TokensAt(now)
	if missing <= 0 {
		if b.TokensAt(now) >= float64(f.burst) {
			delete(f.buckets, addr) // full again: forget it
		}
		return 0
	}
	return time.Duration(math.Ceil(missing / float64(f.limit) * float64(time.Second)))
}

// take counts one failure of addr.
func (f *failureLimiter) take(addr string) {
	if f == nil {
		return
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.buckets[addr]
	if b == nil {
		if len(f.buckets) >= maxFailureAddrs {
			f.sweep(now)
		}
		b = rate.NewLimiter(f.limit, f.burst)
		f.buckets[addr] = b
	}
	b.AllowN(now, 1)
}

// sweep forgets the addresses whose buckets are full again, and when none is, an
// arbitrary one; f.mu is held.
func (f *failureLimiter) sweep(now time.Time) {
	for addr, b := range f.buckets {
		if b.TokensAt(now) >= float64(f.burst) {
			delete(f.buckets, addr)
		}
	}
	if len(f.buckets) >= maxFailureAddrs {
		for addr := range f.buckets {
			delete(f.buckets, addr)
			break
		}
	}
}
