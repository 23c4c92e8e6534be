package poller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// scriptedSource answers every Fetch with err (nil: a shipment) and counts the calls.
type scriptedSource struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (s *scriptedSource) Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	return &references.Shipment{Events: []references.Event{{ID: "e1", Code: "GTOT"}}}, nil
}

func (s *scriptedSource) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *scriptedSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

var errBadGateway = &references.SourceError{Kind: references.ErrSourceUnavailable, Err: errors.New("502 Bad Gateway")}

func fetchN(t *testing.T, g *GuardedSource, n int) {
	t.Helper()
	for range n {
		g.Fetch(t.Context(), references.Reference{ContainerID: "MSKU7261948"})
	}
}

// waitForState polls the breaker until it reaches want. gobreaker times its open
// state with the wall clock and takes no other, so an open breaker turns half-open
// only once OpenFor has really passed: the tests that need it keep OpenFor short.
func waitForState(t *testing.T, g *GuardedSource, want gobreaker.State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for g.State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("breaker still %v, want %v", g.State(), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestGuard_TripsAfterConsecutiveFailuresAndFailsFast(t *testing.T) {
	src := &scriptedSource{err: errBadGateway}
	var transitions []string
	clk := clock.NewFake(time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC))
	g := Guard("MAEU", src, GuardOptions{Failures: 3, OpenFor: time.Hour, Clock: clk, OnStateChange: func(name string, from, to gobreaker.State) {
		transitions = append(transitions, fmt.Sprintf("%s: %v->%v", name, from, to))
	}})

	fetchN(t, g, 2)
	if g.State() != gobreaker.StateClosed {
		t.Fatalf("breaker %v after 2 failures, want closed", g.State())
	}
	fetchN(t, g, 1)
	if g.State() != gobreaker.StateOpen {
		t.Fatalf("breaker %v after 3 failures, want open", g.State())
	}

	_, err := g.Fetch(t.Context(), references.Reference{ContainerID: "MSKU7261948"})
	if !errors.Is(err, references.ErrSourceUnavailable) || !errors.Is(err, gobreaker.ErrOpenState) {
		t.Fatalf("err = %v, want ErrSourceUnavailable from the open breaker", err)
	}
	if want := "MAEU: source unavailable: circuit breaker is open"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	var se *references.SourceError
	if !errors.As(err, &se) || se.RetryAfter != time.Hour {
		t.Errorf("err = %v: want a RetryAfter of the hour the breaker stays open", err)
	}
	clk.Advance(20 * time.Minute)
	_, err = g.Fetch(t.Context(), references.Reference{ContainerID: "MSKU7261948"})
	if !errors.As(err, &se) || se.RetryAfter != 40*time.Minute {
		t.Errorf("err = %v: want a RetryAfter of the 40 minutes left", err)
	}
	if n := src.count(); n != 3 {
		t.Errorf("source called %d times, want 3: an open breaker must not call it", n)
	}
	if fmt.Sprint(transitions) != "[MAEU: closed->open]" {
		t.Errorf("transitions %v", transitions)
	}
}

func TestGuard_SuccessResetsTheFailureCount(t *testing.T) {
	src := &scriptedSource{err: errBadGateway}
	g := Guard("MAEU", src, GuardOptions{Failures: 3, OpenFor: time.Hour})
	fetchN(t, g, 2)
	src.set(nil)
	fetchN(t, g, 1)
	src.set(errBadGateway)
	fetchN(t, g, 2)
	if g.State() != gobreaker.StateClosed {
		t.Errorf("breaker %v, want closed: the failures were not consecutive", g.State())
	}
}

func TestGuard_HalfOpenProbe(t *testing.T) {
	tests := []struct {
		name     string
		probeErr error
		want     gobreaker.State
	}{
		{"success closes", nil, gobreaker.StateClosed},
		{"failure reopens", errBadGateway, gobreaker.StateOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := &scriptedSource{err: errBadGateway}
			g := Guard("MAEU", src, GuardOptions{Failures: 1, OpenFor: 30 * time.Millisecond})
			fetchN(t, g, 1)
			if g.State() != gobreaker.StateOpen {
				t.Fatalf("breaker %v, want open", g.State())
			}
			waitForState(t, g, gobreaker.StateHalfOpen)

			src.set(tt.probeErr)
			_, err := g.Fetch(t.Context(), references.Reference{ContainerID: "MSKU7261948"})
			if !errors.Is(err, tt.probeErr) {
				t.Errorf("probe err = %v, want %v", err, tt.probeErr)
			}
			if g.State() != tt.want {
				t.Errorf("breaker %v after the probe, want %v", g.State(), tt.want)
			}
			if n := src.count(); n != 2 {
				t.Errorf("source called %d times, want 2 (the failure and the probe)", n)
			}
		})
	}
}

func TestGuard_HalfOpenLetsOneProbeThrough(t *testing.T) {
	src := &gatedSource{err: errBadGateway, entered: make(chan struct{}, 4)}
	g := Guard("MAEU", src, GuardOptions{Failures: 1, OpenFor: 30 * time.Millisecond})
	fetchN(t, g, 1)
	<-src.entered
	waitForState(t, g, gobreaker.StateHalfOpen)

	gate := make(chan struct{})
	src.set(nil, gate)
	done := make(chan error)
	go func() {
		_, err := g.Fetch(context.Background(), references.Reference{ContainerID: "MSKU7261948"})
		done <- err
	}()
	<-src.entered // the probe is in the source
	_, err := g.Fetch(t.Context(), references.Reference{ContainerID: "MSKU7261948"})
	if !errors.Is(err, references.ErrSourceUnavailable) || !errors.Is(err, gobreaker.ErrTooManyRequests) {
		t.Fatalf("err = %v, want a second call refused while the probe runs", err)
	}
	if want := "MAEU: source unavailable: circuit breaker is half-open and its probe is under way"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("probe: %v", err)
	}
	if g.State() != gobreaker.StateClosed {
		t.Errorf("breaker %v after the probe, want closed", g.State())
	}
}

// gatedSource reports each call on entered, then, when gate is set, waits for it to
// close before answering with err.
type gatedSource struct {
	mu      sync.Mutex
	err     error
	gate    chan struct{}
	entered chan struct{}
}

func (s *gatedSource) Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error) {
	s.mu.Lock()
	gate, err := s.gate, s.err
	s.mu.Unlock()
	s.entered <- struct{}{}
	if gate != nil {
		<-gate
	}
	if err != nil {
		return nil, err
	}
	return &references.Shipment{}, nil
}

func (s *gatedSource) set(err error, gate chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err, s.gate = err, gate
}

func TestGuard_ErrorsThatDoNotTrip(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"not found", fmt.Errorf("dcsa MAEU: no events: %w", references.ErrShipmentNotFound)},
		{"cancelled", fmt.Errorf("dcsa MAEU: GET /v2/events: %w", context.Canceled)},
		{"bad request", fmt.Errorf("dcsa MAEU: %w", &references.SourceError{Kind: references.ErrSourceBadRequest, Err: errors.New("401 Unauthorized")})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &scriptedSource{err: tt.err}
			g := Guard("MAEU", src, GuardOptions{Failures: 2, OpenFor: time.Hour})
			fetchN(t, g, 10)
			if g.State() != gobreaker.StateClosed {
				t.Errorf("breaker %v after 10 %s errors, want closed", g.State(), tt.name)
			}
			if n := src.count(); n != 10 {
				t.Errorf("source called %d times, want 10", n)
			}
		})
	}
}

func TestGuard_FailureKindsTrip(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"unavailable", errBadGateway},
		{"rate limited", &references.SourceError{Kind: references.ErrSourceRateLimited, RetryAfter: time.Minute, Err: errors.New("429 Too Many Requests")}},
		{"bad answer", &references.SourceError{Kind: references.ErrSourceBadAnswer, Err: errors.New("malformed JSON")}},
		{"not classified", errors.New("oauth2 token: connection refused")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &scriptedSource{err: fmt.Errorf("dcsa MAEU: %w", tt.err)}
			g := Guard("MAEU", src, GuardOptions{Failures: 2, OpenFor: time.Hour})
			fetchN(t, g, 2)
			if g.State() != gobreaker.StateOpen {
				t.Errorf("breaker %v after 2 %s errors, want open", g.State(), tt.name)
			}
		})
	}
}

func TestGuard_BreakersAreIndependent(t *testing.T) {
	down := &scriptedSource{err: errBadGateway}
	up := &scriptedSource{}
	gDown := Guard("MAEU", down, GuardOptions{Failures: 1, OpenFor: time.Hour})
	gUp := Guard("HLCU", up, GuardOptions{Failures: 1, OpenFor: time.Hour})

	fetchN(t, gDown, 1)
	if gDown.State() != gobreaker.StateOpen {
		t.Fatalf("MAEU breaker %v, want open", gDown.State())
	}
	got, err := gUp.Fetch(t.Context(), references.Reference{ContainerID: "HLXU1234567"})
	if err != nil || len(got.Events) != 1 {
		t.Fatalf("HLCU fetch = %v, %v: want it unaffected by MAEU", got, err)
	}
	if gUp.State() != gobreaker.StateClosed {
		t.Errorf("HLCU breaker %v, want closed", gUp.State())
	}
}

func TestGuard_LimiterSpacesFetchesWithoutTripping(t *testing.T) {
	src := &scriptedSource{}
	// One token now, the next in 1000s.
	g := Guard("MAEU", src, GuardOptions{Failures: 1, OpenFor: time.Hour, Limiter: rate.NewLimiter(0.001, 1)})
	ref := references.Reference{ContainerID: "MSKU7261948"}
	if _, err := g.Fetch(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		_, err := g.Fetch(ctx, ref)
		cancel()
		if err == nil {
			t.Fatal("a fetch beyond the rate went through")
		}
	}
	if n := src.count(); n != 1 {
		t.Errorf("source called %d times, want 1", n)
	}
	if g.State() != gobreaker.StateClosed {
		t.Errorf("breaker %v, want closed: waiting for the limiter is not the source failing", g.State())
	}
}

func TestGuard_ConcurrentFetches(t *testing.T) {
	src := &scriptedSource{}
	g := Guard("MAEU", src, GuardOptions{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 20 {
		wg.Go(func() {
			if _, err := g.Fetch(t.Context(), references.Reference{ContainerID: "MSKU7261948"}); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 || src.count() != 20 {
		t.Errorf("%d failed, %d calls; want 0 and 20", failed.Load(), src.count())
	}
}
