package notifier

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/trackhook/trackhook/internal/clock"
)

func countsOf(b *Breakers) (closed, halfOpen, open int) {
	c := b.StateCounts()
	return c[gobreaker.StateClosed], c[gobreaker.StateHalfOpen], c[gobreaker.StateOpen]
}

// TestBreakers_ForgetIdleDestinations: breakers neither open nor in use are forgotten
// IdleFor after their last attempt, on the injected clock; an open one and one with
// an attempt under way are kept.
func TestBreakers_ForgetIdleDestinations(t *testing.T) {
	t.Parallel()
	const idle = 10 * time.Minute
	clk := clock.NewFake(sendTime)
	b := NewBreakers(BreakerSettings{FailuresToOpen: 1, OpenFor: time.Hour, IdleFor: idle, Clock: clk})
	const hosts = 1000
	for i := range hosts {
		attempt(t, b, fmt.Sprintf("192.0.2.%d:%d", i%250, 1000+i), okResult)
	}
	attempt(t, b, hostA, serverError) // opens: kept while open
	hanging, finish := make(chan struct{}), make(chan struct{})
	go b.Do(hostB, func() Result { close(hanging); <-finish; return okResult })
	<-hanging

	if c, h, o := countsOf(b); c != hosts+1 || h != 0 || o != 1 {
		t.Fatalf("counts before: %d closed, %d half-open, %d open", c, h, o)
	}
	clk.Advance(idle - time.Second)
	if c, _, _ := countsOf(b); c != hosts+1 {
		t.Fatalf("%d closed breakers before IdleFor passed, want %d", c, hosts+1)
	}
	clk.Advance(idle)
	if c, h, o := countsOf(b); c != 1 || h != 0 || o != 1 {
		t.Fatalf("after IdleFor: %d closed (want the one in use), %d half-open, %d open (want 1)", c, h, o)
	}
	if b.State(hostA) != gobreaker.StateOpen || !b.Available(hostB) {
		t.Fatal("the open breaker or the one in use was forgotten")
	}
	close(finish)
	waitUntil(t, "the attempt under way ends", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.byHost[hostB].inFlight == 0 })
	clk.Advance(2 * idle)
	if c, _, o := countsOf(b); c != 0 || o != 1 {
		t.Fatalf("once idle too: %d closed, %d open", c, o)
	}
	// A forgotten destination starts again with a new, closed breaker.
	if ran, err := attempt(t, b, "192.0.2.7:1007", okResult); !ran || err != nil {
		t.Fatalf("attempt after being forgotten: ran %v, err %v", ran, err)
	}
	if c, _, _ := countsOf(b); c != 1 {
		t.Fatalf("%d closed after a new attempt, want 1", c)
	}
}

// TestBreakers_CountsFollowTheStates: the counts StateCounts reports without visiting
// every breaker follow each change, including an open breaker whose OpenFor passed.
func TestBreakers_CountsFollowTheStates(t *testing.T) {
	t.Parallel()
	b, _ := setupBreakers(t)
	for range failuresToOpen {
		attempt(t, b, hostA, serverError)
	}
	attempt(t, b, hostB, okResult)
	if c, h, o := countsOf(b); c != 1 || h != 0 || o != 1 {
		t.Fatalf("one open, one closed: got %d closed, %d half-open, %d open", c, h, o)
	}
	waitUntil(t, "the open breaker counts as half-open", func() bool { _, h, _ := countsOf(b); return h == 1 })
	attempt(t, b, hostA, okResult)
	if c, h, o := countsOf(b); c != 2 || h != 0 || o != 0 {
		t.Fatalf("after a good probe: %d closed, %d half-open, %d open", c, h, o)
	}
}

// BenchmarkBreakers_StateCounts is what a scrape of the breaker metric costs with
// 200,000 destinations known, 1% of them open.
func BenchmarkBreakers_StateCounts(bb *testing.B) {
	b := NewBreakers(BreakerSettings{FailuresToOpen: 1, OpenFor: time.Hour})
	for i := range 200_000 {
		r := okResult
		if i%100 == 0 {
			r = serverError
		}
		b.Do(fmt.Sprintf("h%d.example:443", i), func() Result { return r })
	}
	for bb.Loop() {
		b.StateCounts()
	}
}

// BenchmarkDestinationState_HeapPerHost reports the heap each destination costs
// (its breaker and its places) while in use, and once IdleFor has passed.
func BenchmarkDestinationState_HeapPerHost(bb *testing.B) {
	const hosts = 100_000
	for bb.Loop() {
		clk := clock.NewFake(sendTime)
		var before, live, idle runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b := NewBreakers(BreakerSettings{Clock: clk})
		s := newSlots(32, 24, time.Second, clk)
		for i := range hosts {
			host := fmt.Sprintf("h%d.example:443", i)
			release, _ := s.acquire(bb.Context(), "acct", host)
			b.Do(host, func() Result { return okResult })
			release()
		}
		runtime.GC()
		runtime.ReadMemStats(&live)
		clk.Advance(2 * DefaultBreakerIdleFor)
		b.StateCounts()
		runtime.GC()
		runtime.ReadMemStats(&idle)
		bb.ReportMetric(float64(int64(live.HeapAlloc)-int64(before.HeapAlloc))/hosts, "B/host-used")
		bb.ReportMetric(float64(int64(idle.HeapAlloc)-int64(before.HeapAlloc))/hosts, "B/host-after-idle")
		runtime.KeepAlive(b)
		runtime.KeepAlive(s)
	}
}

// TestBreakers_OpenHostsListsTheBreakersOpenNow: the hosts whose breaker is open,
// sorted; one whose OpenFor passed is half-open once asked, and no longer listed.
func TestBreakers_OpenHostsListsTheBreakersOpenNow(t *testing.T) {
	tests := []struct {
		name    string
		openFor time.Duration
		want    []string
	}{
		{"open", time.Hour, []string{"a.example:443", "b.example:443"}},
		{"open time over", time.Nanosecond, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBreakers(BreakerSettings{FailuresToOpen: 2, OpenFor: tt.openFor})
			for _, host := range []string{"b.example:443", "a.example:443"} {
				for range 2 {
					if _, err := b.Do(host, func() Result { return Result{StatusCode: 503} }); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := b.Do("ok.example:443", func() Result { return Result{StatusCode: 200} }); err != nil {
				t.Fatal(err)
			}
			if tt.openFor == time.Nanosecond {
				time.Sleep(time.Millisecond) // gobreaker times OpenFor by the wall clock
			}
			if got := b.OpenHosts(); !slices.Equal(got, tt.want) {
				t.Errorf("OpenHosts() = %q, want %q", got, tt.want)
			}
		})
	}
}
