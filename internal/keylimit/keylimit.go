// Package keylimit keeps a token bucket per key (an API key, an account, a client
// address), so that one busy client cannot starve the others, and names the client
// of a request by its address. The API limits requests per key, secret rotations per
// account and failed authentications per address with it; the console its failed
// sign-ins per address, so guessing keys is as slow through one as through the other.
package keylimit

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Bounds on how long a key's bucket is kept after its last use.
const (
	minIdleEviction = 10 * time.Minute
	maxIdleEviction = 30 * 24 * time.Hour // for absurdly slow rates; keeps the arithmetic in range
)

// MaxAddrs is the MaxKeys for buckets keyed by ClientAddr: addresses are the
// client's to choose, so the table needs a bound; 16,384 of them take about 3 MB.
const MaxAddrs = 16384

// Config describes the buckets of a Limiters.
type Config struct {
	// Limit is the sustained rate per key; rate.Inf means no limit (New returns nil).
	Limit rate.Limit
	// Burst is each bucket's size.
	Burst int
	// MaxKeys bounds the buckets kept: past it a new key takes the place of an
	// arbitrary one. Zero means no bound, for keys that only exist in the store;
	// keys a client chooses (its address) need one, or a flood of them grows memory
	// without end.
	MaxKeys int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Limiters keeps one token bucket per key. Buckets unused for a while are dropped to
// bound memory; that while is at least the time a bucket takes to refill, so dropping
// one never grants extra tokens. A nil *Limiters allows everything.
type Limiters struct {
	limit     rate.Limit
	burst     int
	idleAfter time.Duration
	max       int
	now       func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	limiter  *rate.Limiter
	lastUsed time.Time
}

// New returns the buckets c describes, or nil when c.Limit is rate.Inf: no limit.
func New(c Config) *Limiters {
	if c.Limit == rate.Inf {
		return nil
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	idle := minIdleEviction
	if refill := float64(c.Burst) / float64(c.Limit) * float64(time.Second); refill > float64(idle) {
		idle = time.Duration(math.Min(refill, float64(maxIdleEviction)))
	}
	return &Limiters{limit: c.Limit, burst: c.Burst, idleAfter: idle, max: c.MaxKeys, now: c.Now,
		buckets: map[string]*bucket{}}
}

// Burst returns the size of each bucket: WaitN for more never passes.
func (k *Limiters) Burst() int {
	if k == nil {
		return 0
	}
	return k.burst
}

// Wait takes a token for key and returns zero, or, when the bucket is empty, takes
// nothing and returns how long until a token will be there. For requests that are
// all counted.
func (k *Limiters) Wait(key string) time.Duration {
	return k.WaitN(key, 1)
}

// WaitN is Wait for n tokens at once, all or none; n is at most the bucket's size.
func (k *Limiters) WaitN(key string, n int) time.Duration {
	if k == nil || n < 1 {
		return 0
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.bucket(key, now).ReserveN(now, n)
	if !r.OK() {
		return time.Duration(math.MaxInt64) // burst < 1, or n > burst: never
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // a refused request must not use up a future token
		return d
	}
	return 0
}

// Delay returns how long until key has a token, without taking one: zero when it
// has one now. With Take, for counting only failures: a client is refused while
// Delay is not zero, and each of its failures Takes a token.
func (k *Limiters) Delay(key string) time.Duration {
	if k == nil {
		return 0
	}
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

// Take uses up a token of key, if there is one.
func (k *Limiters) Take(key string) {
	if k == nil {
		return
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.bucket(key, now).AllowN(now, 1)
}

// bucket returns key's limiter, marked used at now; k.mu is held.
func (k *Limiters) bucket(key string, now time.Time) *rate.Limiter {
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
func (k *Limiters) sweep(now time.Time) {
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
func (k *Limiters) size() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// RetryAfter is d as a Retry-After header's value: whole seconds, rounded up so a
// client that waits that long finds a token, and at least 1.
func RetryAfter(d time.Duration) int64 {
	return max(int64(math.Ceil(d.Seconds())), 1)
}

// ClientAddr names the client of r whose failures are counted: the address of the
// connection. trackhook has no trusted-proxy setting, so no header a client can write
// (X-Forwarded-For, X-Real-IP) is believed: a client could name itself anew with each
// request. An IPv6 client counts by its /64, the block one host usually has to pick
// addresses from, so walking through its own addresses gains it nothing.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}
