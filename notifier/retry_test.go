package notifier

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

var retryStart = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

func constRand(v float64) func() float64 { return func() float64 { return v } }

func TestRetryPolicy_DelayGrowsThenCaps(t *testing.T) {
	t.Parallel()
	p := DefaultRetryPolicy()
	// 5s x 4^(n-1), capped at 4h.
	want := []time.Duration{
		5 * time.Second, 20 * time.Second, 80 * time.Second, 320 * time.Second,
		1280 * time.Second, 5120 * time.Second, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour,
	}
	for i, w := range want {
		attempt := i + 1
		if got := p.Delay(attempt, nil); got != w {
			t.Errorf("Delay(%d, nil) = %s, want %s", attempt, got, w)
		}
		// With jitter the delay stays within [d/2, d].
		for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
			got := p.Delay(attempt, constRand(r))
			if got < w/2 || got > w {
				t.Errorf("Delay(%d, %v) = %s, outside [%s, %s]", attempt, r, got, w/2, w)
			}
		}
		if got := p.Delay(attempt, constRand(0.5)); got != w-w/4 {
			t.Errorf("Delay(%d, 0.5) = %s, want %s", attempt, got, w-w/4)
		}
	}
}

func TestRetryPolicy_DelayEdgeCases(t *testing.T) {
	t.Parallel()
	p := DefaultRetryPolicy()
	tests := []struct {
		name    string
		policy  RetryPolicy
		attempt int
		rnd     func() float64
		want    time.Duration
	}{
		{name: "attempt 0 is the first", policy: p, attempt: 0, want: 5 * time.Second},
		{name: "negative attempt is the first", policy: p, attempt: -3, want: 5 * time.Second},
		{name: "attempt 1000 is capped", policy: p, attempt: 1000, want: 4 * time.Hour},
		{name: "attempt MaxInt is capped", policy: p, attempt: math.MaxInt, want: 4 * time.Hour},
		{name: "rnd below 0 means no jitter", policy: p, attempt: 1, rnd: constRand(-1), want: 5 * time.Second},
		{name: "rnd of 1 means no jitter", policy: p, attempt: 1, rnd: constRand(1), want: 5 * time.Second},
		{name: "rnd NaN means no jitter", policy: p, attempt: 1, rnd: constRand(math.NaN()), want: 5 * time.Second},
		{name: "zero policy is the default", policy: RetryPolicy{}, attempt: 2, want: 20 * time.Second},
		{name: "jitter 1 reaches zero", policy: RetryPolicy{Jitter: 1}, attempt: 1, rnd: constRand(0.5), want: 2500 * time.Millisecond},
		{name: "jitter over 1 is 1", policy: RetryPolicy{Jitter: 3}, attempt: 1, rnd: constRand(0.5), want: 2500 * time.Millisecond},
		{name: "custom schedule", policy: RetryPolicy{First: time.Minute, Factor: 2, Max: 10 * time.Minute}, attempt: 4, want: 8 * time.Minute},
		{name: "custom cap", policy: RetryPolicy{First: time.Minute, Factor: 2, Max: 10 * time.Minute}, attempt: 5, want: 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.policy.Delay(tt.attempt, tt.rnd); got != tt.want {
				t.Fatalf("Delay(%d) = %s, want %s", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestRetryPolicy_Next(t *testing.T) {
	t.Parallel()
	p := DefaultRetryPolicy()
	deadline := retryStart.Add(72 * time.Hour)
	tests := []struct {
		name       string
		attempt    int
		now        time.Time
		retryAfter time.Duration
		want       time.Time // zero means give up
	}{
		{name: "first retry", attempt: 1, now: retryStart, want: retryStart.Add(5 * time.Second)},
		{name: "from the time of the failure", attempt: 2, now: retryStart.Add(time.Minute), want: retryStart.Add(time.Minute + 20*time.Second)},
		{name: "Retry-After longer than the delay", attempt: 1, now: retryStart, retryAfter: time.Minute, want: retryStart.Add(time.Minute)},
		{name: "Retry-After shorter than the delay", attempt: 3, now: retryStart, retryAfter: time.Second, want: retryStart.Add(80 * time.Second)},
		{name: "Retry-After capped at Max", attempt: 1, now: retryStart, retryAfter: 48 * time.Hour, want: retryStart.Add(4 * time.Hour)},
		{name: "landing exactly on the deadline", attempt: 9, now: deadline.Add(-4 * time.Hour), want: deadline},
		{name: "one nanosecond past the deadline", attempt: 9, now: deadline.Add(-4*time.Hour + 1)},
		{name: "after the deadline", attempt: 30, now: deadline.Add(time.Hour)},
		{name: "Retry-After pushes past the deadline", attempt: 1, now: deadline.Add(-time.Minute), retryAfter: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next, giveUp := p.Next(tt.attempt, retryStart, tt.now, tt.retryAfter, nil)
			if giveUp != tt.want.IsZero() || !next.Equal(tt.want) {
				t.Fatalf("Next() = %v, %v; want %v, give up %v", next, giveUp, tt.want, tt.want.IsZero())
			}
		})
	}
}

// schedule plays a delivery that fails every time, each attempt made exactly when
// scheduled, and returns the attempt times (the first at retryStart).
func schedule(p RetryPolicy, rnd func() float64) []time.Time {
	times := []time.Time{retryStart}
	for {
		next, giveUp := p.Next(len(times), retryStart, times[len(times)-1], 0, rnd)
		if giveUp {
			return times
		}
		times = append(times, next)
	}
}

// The schedule uses the whole window: the last attempt comes less than one maximum
// delay before the deadline, so giving up means the receiver was unreachable for
// nearly 72 hours, and the number of attempts stays moderate.
func TestRetryPolicy_ScheduleFillsTheWindow(t *testing.T) {
	t.Parallel()
	p := DefaultRetryPolicy()
	deadline := retryStart.Add(p.Window)
	tests := []struct {
		name     string
		rnd      func() float64
		min, max int // attempts, the first one included
	}{
		// Nominal delays: 6 growing retries take 1h53m45s, then 4h steps fit 17 times
		// in the 70h06m left: 1 + 6 + 17 = 24.
		{name: "longest delays", rnd: nil, min: 24, max: 24},
		{name: "middle delays", rnd: constRand(0.5), min: 29, max: 31},
		// Every delay at half: 57m first, then 2h steps: 1 + 6 + 35 = 42.
		{name: "shortest delays", rnd: constRand(0.99999999), min: 42, max: 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			times := schedule(p, tt.rnd)
			last := times[len(times)-1]
			t.Logf("%d attempts in %s; last at +%s", len(times), p.Window, last.Sub(retryStart).Round(time.Second))
			if n := len(times); n < tt.min || n > tt.max {
				t.Errorf("%d attempts, want %d to %d", n, tt.min, tt.max)
			}
			if last.After(deadline) || deadline.Sub(last) >= p.Max {
				t.Errorf("last attempt at +%s, want within %s before the %s deadline", last.Sub(retryStart), p.Max, p.Window)
			}
		})
	}
}

// Random schedules stay between the shortest and the longest ones, every delay in
// [d/2, d] of its nominal value.
func TestRetryPolicy_RandomSchedulesStayInBounds(t *testing.T) {
	t.Parallel()
	p := DefaultRetryPolicy()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		times := schedule(p, rng.Float64)
		if n := len(times); n < 24 || n > 42 {
			t.Fatalf("%d attempts, want 24 to 42", n)
		}
		for i := 1; i < len(times); i++ {
			d, nominal := times[i].Sub(times[i-1]), p.Delay(i, nil)
			if d < nominal/2 || d > nominal {
				t.Fatalf("delay after attempt %d = %s, outside [%s, %s]", i, d, nominal/2, nominal)
			}
		}
	}
}
