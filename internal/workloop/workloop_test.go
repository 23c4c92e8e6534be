package workloop

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/trackhook/trackhook/internal/clock"
)

// source is due work for a test loop: items claimed once each.
type source struct {
	mu       sync.Mutex
	due      []int
	claims   int
	released []int
}

func (s *source) add(items ...int) {
	s.mu.Lock()
	s.due = append(s.due, items...)
	s.mu.Unlock()
}

func (s *source) claim(_ context.Context, limit int) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims++
	n := min(limit, len(s.due))
	out := append([]int(nil), s.due[:n]...)
	s.due = s.due[n:]
	return out, nil
}

func (s *source) release(_ context.Context, it int) {
	s.mu.Lock()
	s.released = append(s.released, it)
	s.mu.Unlock()
}

var start = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func TestLoop_ScheduleAndWakeStartScansAndEveryItemIsWorkedOnce(t *testing.T) {
	clk := clock.NewFake(start)
	src := &source{}
	done := make(chan int, 100)
	l := New(Config[int]{
		Name: "test", Claim: src.claim, Work: func(_ context.Context, it int) { done <- it },
		Workers: 2, Queue: 3, Schedule: cron.ConstantDelaySchedule{Delay: time.Minute}, Clock: clk,
	})
	l.Start(context.Background())
	defer l.Stop(context.Background())

	waitFor(t, func() bool { return clk.Timers() == 1 }) // the first scan found nothing
	src.add(1, 2, 3, 4, 5, 6, 7)
	clk.Advance(time.Minute) // the schedule fires: a backlog larger than the queue drains
	got := map[int]bool{}
	for range 7 {
		got[<-done] = true
	}
	if len(got) != 7 {
		t.Fatalf("worked %v, want 1..7 once each", got)
	}

	waitFor(t, func() bool { return clk.Timers() == 1 })
	src.add(8)
	l.Wake() // no time passes: the wake alone scans
	if it := <-done; it != 8 {
		t.Fatalf("worked %d after Wake, want 8", it)
	}
}

func TestLoop_StopDrainsRunningWorkAndReleasesWhatNeverStarted(t *testing.T) {
	src := &source{}
	src.add(1, 2, 3)
	started, unblock := make(chan int, 3), make(chan struct{})
	l := New(Config[int]{
		Name: "test", Claim: src.claim, Release: src.release, Workers: 1, Queue: 3,
		Work: func(ctx context.Context, it int) {
			started <- it
			select {
			case <-unblock:
			case <-ctx.Done():
			}
		},
		Clock: clock.NewFake(start),
	})
	l.Start(context.Background())
	<-started // item 1 runs; 2 and 3 wait in the queue
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Stop does not wait: the running item is cancelled, the queued released
	l.Stop(ctx)
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.released) != 2 || src.released[0] != 2 || src.released[1] != 3 {
		t.Fatalf("released %v, want [2 3]", src.released)
	}
}

func TestLoop_LostClaimCancelsItsWork(t *testing.T) {
	clk := clock.NewFake(start)
	src := &source{}
	src.add(1)
	cancelled := make(chan error, 1)
	var renewals atomic.Int32
	l := New(Config[int]{
		Name: "test", Claim: src.claim, Workers: 1, Clock: clk,
		Work: func(ctx context.Context, _ int) { <-ctx.Done(); cancelled <- ctx.Err() },
		Renew: func(context.Context, int) error {
			if renewals.Add(1) == 1 {
				return nil // taken from the queue while its claim held
			}
			return errors.New("lease lost")
		},
		RenewEvery: 10 * time.Second,
		Schedule:   cron.ConstantDelaySchedule{Delay: time.Hour},
	})
	l.Start(context.Background())
	defer l.Stop(context.Background())
	waitFor(t, func() bool { return l.Running() == 1 && clk.Timers() == 2 })
	clk.Advance(10 * time.Second)
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("work ended with %v, want cancellation", err)
	}
}

func TestLoop_PanicsInClaimAndWorkAreRecovered(t *testing.T) {
	clk := clock.NewFake(start)
	calls := 0
	worked := make(chan int, 2)
	l := New(Config[int]{
		Name: "test", Workers: 1, Clock: clk,
		Claim: func(context.Context, int) ([]int, error) {
			calls++
			switch calls {
			case 1:
				panic("claim")
			case 2:
				return []int{1, 2}, nil
			}
			return nil, nil
		},
		Work: func(_ context.Context, it int) {
			if it == 1 {
				panic("work")
			}
			worked <- it
		},
	})
	l.Start(context.Background())
	defer l.Stop(context.Background())
	waitFor(t, func() bool { return clk.Timers() == 1 })
	clk.Advance(time.Second)
	if it := <-worked; it != 2 {
		t.Fatalf("worked %d, want 2 after the panics", it)
	}
}

func TestParseSchedule(t *testing.T) {
	if _, err := ParseSchedule("@every 1s"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSchedule("every second"); err == nil {
		t.Fatal("a bad spec was accepted")
	}
}

// waitFor waits for a condition that goroutines of the loop make true soon; it is
// not a timing assertion (the deadline is generous).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLoop_ClaimLostWhileQueuedIsSkipped(t *testing.T) {
	src := &source{}
	src.add(1, 2)
	worked := make(chan int, 2)
	l := New(Config[int]{
		Name: "test", Claim: src.claim, Workers: 1, Queue: 2, Clock: clock.NewFake(start),
		Work: func(_ context.Context, it int) { worked <- it },
		Renew: func(_ context.Context, it int) error {
			if it == 1 {
				return errors.New("lease lost")
			}
			return nil
		},
		RenewEvery: time.Minute,
	})
	l.Start(context.Background())
	if it := <-worked; it != 2 {
		t.Fatalf("worked %d first, want 2: item 1's claim was lost in the queue", it)
	}
	l.Stop(context.Background())
	select {
	case it := <-worked:
		t.Fatalf("worked %d after its claim was lost", it)
	default:
	}
}

func TestScanBackoff_DoublesFromTheIntervalUpToTheLimit(t *testing.T) {
	tests := []struct {
		interval time.Duration
		failures int
		want     time.Duration
	}{
		{time.Second, 1, time.Second},
		{time.Second, 2, 2 * time.Second},
		{time.Second, 4, 8 * time.Second},
		{time.Second, 5, maxScanBackoff},
		{time.Second, 500, maxScanBackoff},
		{250 * time.Millisecond, 3, time.Second},
		{10 * time.Minute, 1, 10 * time.Minute}, // a slow schedule is not made faster
		{10 * time.Minute, 9, 10 * time.Minute},
	}
	for _, tt := range tests {
		if got := scanBackoff(tt.interval, tt.failures); got != tt.want {
			t.Errorf("scanBackoff(%v, %d) = %v, want %v", tt.interval, tt.failures, got, tt.want)
		}
	}
}

// A store that does not answer (a database restarting) fails every scan: the loop
// waits longer after each failure, keeps trying, and works again once it answers.
func TestLoop_FailingScansBackOffAndRecover(t *testing.T) {
	clk := clock.NewFake(start)
	var down atomic.Bool
	down.Store(true)
	src := &source{}
	var failed atomic.Int32
	claim := func(ctx context.Context, limit int) ([]int, error) {
		if down.Load() {
			failed.Add(1)
			return nil, errors.New("connection refused")
		}
		return src.claim(ctx, limit)
	}
	done := make(chan int, 10)
	l := New(Config[int]{
		Name: "test", Claim: claim, Work: func(_ context.Context, it int) { done <- it },
		Schedule: Every(time.Second), Clock: clk,
	})
	l.Start(context.Background())
	defer l.Stop(context.Background())

	// Failures 1, 2, 3 wait 1s, 2s, 4s: after 1s and 2s more, no third scan yet.
	for i, wait := range []time.Duration{time.Second, 2 * time.Second} {
		waitFor(t, func() bool { return clk.Timers() == 1 && failed.Load() == int32(i+1) })
		clk.Advance(wait - time.Millisecond)
		time.Sleep(10 * time.Millisecond)
		if n := failed.Load(); n != int32(i+1) {
			t.Fatalf("scan %d ran before its backoff of %v was over", n, wait)
		}
		clk.Advance(time.Millisecond)
	}
	waitFor(t, func() bool { return clk.Timers() == 1 && failed.Load() == 3 })

	down.Store(false)
	src.add(7)
	clk.Advance(4 * time.Second)
	if it := <-done; it != 7 {
		t.Fatalf("worked %d after the store came back, want 7", it)
	}
}
