package keylimit

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/internal/clock"
)

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestLimiters_EvictsIdleBuckets(t *testing.T) {
	clk := clock.NewFake(start)
	k := New(Config{Limit: 10, Burst: 5, Now: clk.Now})
	if k.idleAfter != minIdleEviction {
		t.Fatalf("idleAfter %v, want %v", k.idleAfter, minIdleEviction)
	}
	for _, id := range []string{"key_1", "key_2", "key_3"} {
		if d := k.Wait(id); d != 0 {
			t.Fatalf("first request of %s waits %v", id, d)
		}
	}
	clk.Advance(minIdleEviction / 2)
	k.Wait("key_1") // key_1 stays busy
	clk.Advance(minIdleEviction/2 + time.Second)
	k.Wait("key_4")
	if got := k.size(); got != 2 {
		t.Errorf("%d buckets after eviction, want 2 (key_1 and key_4)", got)
	}
}

func TestLimiters_IdleLongerThanRefill(t *testing.T) {
	// A bucket that takes an hour to refill must not be dropped, and so refilled, sooner.
	k := New(Config{Limit: rate.Every(time.Hour), Burst: 2})
	if k.idleAfter < 2*time.Hour {
		t.Errorf("idleAfter %v, want at least the 2 h refill time", k.idleAfter)
	}
	if k := New(Config{Limit: 1e-12, Burst: 100}); k.idleAfter != maxIdleEviction {
		t.Errorf("idleAfter %v for a near-zero rate, want the cap %v", k.idleAfter, maxIdleEviction)
	}
}

func TestLimiters_KeepsAtMostMaxBuckets(t *testing.T) {
	clk := clock.NewFake(start)
	k := New(Config{Limit: rate.Every(time.Minute), Burst: 1, MaxKeys: 100, Now: clk.Now})
	for i := range 10_000 {
		k.Take(strconv.Itoa(i))
		if n := k.size(); n > 100 {
			t.Fatalf("%d buckets after %d keys, want at most 100", n, i+1)
		}
	}
	if d := k.Delay("9999"); d <= 0 {
		t.Errorf("the newest key's bucket was dropped: delay %v", d)
	}
	if d := k.Delay("never seen"); d != 0 {
		t.Errorf("delay of a key without a bucket = %v, want 0", d)
	}
}

func TestLimiters_WaitRefusesWithoutUsingUpTokens(t *testing.T) {
	clk := clock.NewFake(start)
	k := New(Config{Limit: rate.Every(4 * time.Second), Burst: 3, Now: clk.Now})
	if d := k.WaitN("a", 3); d != 0 {
		t.Fatalf("the whole burst at once waits %v", d)
	}
	if d := k.Wait("a"); d != 4*time.Second {
		t.Fatalf("empty bucket: wait %v, want 4s", d)
	}
	clk.Advance(3 * time.Second)
	if d := k.Wait("a"); d != time.Second {
		t.Fatalf("a refused wait used up a future token: wait %v after 3 s, want 1s", d)
	}
	clk.Advance(time.Second)
	if d := k.Wait("a"); d != 0 {
		t.Fatalf("after the wait: %v", d)
	}
	// All or none: one token is there in 4 s, two in 8 s; nothing is taken meanwhile.
	clk.Advance(4 * time.Second)
	if d := k.WaitN("a", 2); d != 4*time.Second {
		t.Fatalf("two tokens with one there: wait %v, want 4s", d)
	}
	if d := k.Wait("a"); d != 0 {
		t.Fatalf("the token a refused WaitN saw was taken: wait %v", d)
	}
	if d := k.WaitN("b", 4); d <= 0 {
		t.Fatalf("more than the burst passed: wait %v", d)
	}
	if d := k.Wait("other"); d != 0 {
		t.Fatalf("another key waits %v: buckets are per key", d)
	}
}

func TestLimiters_DelayAndTakeCountOnlyFailures(t *testing.T) {
	clk := clock.NewFake(start)
	k := New(Config{Limit: rate.Every(time.Minute), Burst: 2, Now: clk.Now})
	for i := range 2 {
		if d := k.Delay("addr"); d != 0 {
			t.Fatalf("before failure %d: delay %v", i+1, d)
		}
		k.Take("addr")
	}
	if d := k.Delay("addr"); d != time.Minute {
		t.Fatalf("after the burst: delay %v, want 1m", d)
	}
	if d := k.Delay("addr"); d != time.Minute {
		t.Fatalf("Delay took a token: delay %v, want 1m", d)
	}
	clk.Advance(time.Minute)
	if d := k.Delay("addr"); d != 0 {
		t.Fatalf("a minute later: delay %v", d)
	}
}

func TestLimiters_NilAllowsEverything(t *testing.T) {
	k := New(Config{Limit: rate.Inf, Burst: 1})
	if k != nil {
		t.Fatal("New with rate.Inf is not nil")
	}
	for range 3 {
		k.Take("a")
		if d := k.Wait("a"); d != 0 {
			t.Fatalf("nil Wait %v", d)
		}
		if d := k.WaitN("a", 100); d != 0 {
			t.Fatalf("nil WaitN %v", d)
		}
		if d := k.Delay("a"); d != 0 {
			t.Fatalf("nil Delay %v", d)
		}
	}
	if b := k.Burst(); b != 0 {
		t.Fatalf("nil Burst %d", b)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int64
	}{
		{0, 1},
		{time.Nanosecond, 1},
		{500 * time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{59*time.Second + 400*time.Millisecond, 60},
		{time.Minute, 60},
	}
	for _, tt := range tests {
		if got := RetryAfter(tt.d); got != tt.want {
			t.Errorf("RetryAfter(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestClientAddr(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.1:5000", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:5000", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::9]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"not an address", "not an address"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = tt.remote
		req.Header.Set("X-Forwarded-For", "198.51.100.9")
		req.Header.Set("X-Real-IP", "198.51.100.9")
		if got := ClientAddr(req); got != tt.want {
			t.Errorf("ClientAddr(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}
