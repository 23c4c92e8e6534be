package notifier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Results as Sender returns them, for driving breakers without a network.
var (
	okResult       = Result{StatusCode: 200}
	serverError    = Result{StatusCode: 503, Err: &StatusError{StatusCode: 503}}
	tooMany        = Result{StatusCode: 429, Err: &StatusError{StatusCode: 429}}
	notFound       = Result{StatusCode: 404, Err: &StatusError{StatusCode: 404}}
	redirected     = Result{StatusCode: 302, Err: &StatusError{StatusCode: 302}}
	timedOut       = Result{Err: fmt.Errorf("%w: %w", ErrNoResponse, context.DeadlineExceeded)}
	cancelled      = Result{Err: fmt.Errorf("%w: %w", ErrNoResponse, context.Canceled)}
	guardRefused   = Result{Err: fmt.Errorf("%w: %w", ErrNoResponse, ErrForbiddenDestination)}
	neverSent      = Result{Err: fmt.Errorf("sign: %w", errors.New("bad secret"))}
	hostA, hostB   = "a.example:443", "b.example:443"
	shortOpen      = 250 * time.Millisecond // short, but longer than a test takes to go from failures to checks under load
	pollFor        = 2 * time.Second
	failuresToOpen = 3
)

// stateLog records OnStateChange calls.
type stateLog struct {
	mu      sync.Mutex
	changes []string
}

func (l *stateLog) record(host string, from, to gobreaker.State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, fmt.Sprintf("%s: %s -> %s", host, from, to))
}

func (l *stateLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.changes...)
}

func setupBreakers(t *testing.T) (*Breakers, *stateLog) {
	t.Helper()
	log := &stateLog{}
	return NewBreakers(BreakerSettings{
		FailuresToOpen: uint32(failuresToOpen),
		OpenFor:        shortOpen,
		HalfOpenProbes: 1,
		OnStateChange:  log.record,
	}), log
}

// attempt runs one attempt returning r and reports whether fn ran.
func attempt(t *testing.T, b *Breakers, host string, r Result) (ran bool, err error) {
	t.Helper()
	got, err := b.Do(host, func() Result { ran = true; return r })
	if err == nil && got.StatusCode != r.StatusCode {
		t.Fatalf("Do returned %+v, want fn's result %+v", got, r)
	}
	return ran, err
}

// waitUntil polls cond until it holds or pollFor has passed.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pollFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBreakers_OpenAfterConsecutiveFailures(t *testing.T) {
	t.Parallel()
	for name, failure := range map[string]Result{"5xx": serverError, "429": tooMany, "timeout": timedOut} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, log := setupBreakers(t)
			for i := range failuresToOpen {
				if !b.Available(hostA) {
					t.Fatalf("unavailable after %d failures, want open only after %d", i, failuresToOpen)
				}
				if ran, err := attempt(t, b, hostA, failure); !ran || err != nil {
					t.Fatalf("attempt %d: ran %v, err %v", i+1, ran, err)
				}
			}
			if b.Available(hostA) {
				t.Fatal("still available after the failures")
			}
			ran, err := attempt(t, b, hostA, okResult)
			if ran || !errors.Is(err, ErrHostUnavailable) || !errors.Is(err, gobreaker.ErrOpenState) {
				t.Fatalf("attempt on an open breaker: ran %v, err %v; want not run, ErrHostUnavailable", ran, err)
			}
			if got := b.State(hostA); got != gobreaker.StateOpen {
				t.Fatalf("State(%s) = %s, want open", hostA, got)
			}
			if got := log.all(); len(got) != 1 || got[0] != hostA+": closed -> open" {
				t.Fatalf("state changes = %q", got)
			}
		})
	}
}

func TestBreakers_SuccessResetsTheCount(t *testing.T) {
	t.Parallel()
	b, _ := setupBreakers(t)
	for range 5 {
		for range failuresToOpen - 1 {
			attempt(t, b, hostA, serverError)
		}
		attempt(t, b, hostA, okResult)
	}
	if !b.Available(hostA) {
		t.Fatal("opened although failures were never consecutive enough")
	}
}

func TestBreakers_ReceiverThatAnswersIsUp(t *testing.T) {
	t.Parallel()
	for name, r := range map[string]Result{"404": notFound, "302": redirected, "200": okResult} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, _ := setupBreakers(t)
			for range 3 * failuresToOpen {
				if ran, err := attempt(t, b, hostA, r); !ran || err != nil {
					t.Fatalf("ran %v, err %v", ran, err)
				}
			}
			if got := b.State(hostA); got != gobreaker.StateClosed {
				t.Fatalf("state = %s after %d answers %s, want closed", got, 3*failuresToOpen, name)
			}
		})
	}
}

func TestBreakers_IgnoresAttemptsThatSayNothingAboutTheReceiver(t *testing.T) {
	t.Parallel()
	for name, r := range map[string]Result{"cancelled": cancelled, "guard": guardRefused, "never sent": neverSent} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, _ := setupBreakers(t)
			for range failuresToOpen - 1 {
				attempt(t, b, hostA, serverError)
			}
			// Interleaved with real failures, these neither count nor reset the run.
			for range 3 * failuresToOpen {
				attempt(t, b, hostA, r)
			}
			if !b.Available(hostA) {
				t.Fatalf("%s attempts opened the breaker", name)
			}
			attempt(t, b, hostA, serverError)
			if b.Available(hostA) {
				t.Fatalf("the run of failures was reset by %s attempts", name)
			}
		})
	}
}

func TestBreakers_OtherHostsUnaffected(t *testing.T) {
	t.Parallel()
	b, _ := setupBreakers(t)
	for range failuresToOpen {
		attempt(t, b, hostA, serverError)
	}
	if b.Available(hostA) {
		t.Fatal("host A should be open")
	}
	if !b.Available(hostB) {
		t.Fatal("host B unavailable because of host A")
	}
	if ran, err := attempt(t, b, hostB, okResult); !ran || err != nil {
		t.Fatalf("attempt to host B: ran %v, err %v", ran, err)
	}
	if b.State(hostA) != gobreaker.StateOpen || b.State(hostB) != gobreaker.StateClosed {
		t.Fatalf("states: %s %s, %s %s", hostA, b.State(hostA), hostB, b.State(hostB))
	}
	if got := b.StateCounts(); got[gobreaker.StateOpen] != 1 || got[gobreaker.StateClosed] != 1 || got[gobreaker.StateHalfOpen] != 0 {
		t.Fatalf("StateCounts() = %v", got)
	}
}

func TestBreakers_HalfOpenProbeClosesIt(t *testing.T) {
	t.Parallel()
	b, log := setupBreakers(t)
	for range failuresToOpen {
		attempt(t, b, hostA, serverError)
	}
	waitUntil(t, "the breaker lets a probe through", func() bool { return b.Available(hostA) })
	if got := b.State(hostA); got != gobreaker.StateHalfOpen {
		t.Fatalf("state = %s, want half-open", got)
	}

	// While the probe is under way, nothing else goes through.
	probing, finish := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := b.Do(hostA, func() Result { close(probing); <-finish; return okResult })
		done <- err
	}()
	<-probing
	if b.Available(hostA) {
		t.Error("available while the only probe is under way")
	}
	if ran, err := attempt(t, b, hostA, okResult); ran || !errors.Is(err, ErrHostUnavailable) || !errors.Is(err, gobreaker.ErrTooManyRequests) {
		t.Errorf("second attempt while probing: ran %v, err %v; want ErrHostUnavailable", ran, err)
	}
	close(finish)
	if err := <-done; err != nil {
		t.Fatalf("probe: %v", err)
	}

	if got := b.State(hostA); got != gobreaker.StateClosed {
		t.Fatalf("state after a good probe = %s, want closed", got)
	}
	want := []string{hostA + ": closed -> open", hostA + ": open -> half-open", hostA + ": half-open -> closed"}
	if got := log.all(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("state changes = %q, want %q", got, want)
	}
}

func TestBreakers_FailedProbeReopens(t *testing.T) {
	t.Parallel()
	b, _ := setupBreakers(t)
	for range failuresToOpen {
		attempt(t, b, hostA, serverError)
	}
	waitUntil(t, "half-open", func() bool { return b.Available(hostA) })
	if ran, err := attempt(t, b, hostA, timedOut); !ran || err != nil {
		t.Fatalf("probe: ran %v, err %v", ran, err)
	}
	if b.Available(hostA) {
		t.Fatal("a failed probe left the destination available")
	}
}

func TestBreakers_CancelledProbeKeepsItHalfOpen(t *testing.T) {
	t.Parallel()
	b, _ := setupBreakers(t)
	for range failuresToOpen {
		attempt(t, b, hostA, serverError)
	}
	waitUntil(t, "half-open", func() bool { return b.Available(hostA) })
	attempt(t, b, hostA, cancelled)
	if got := b.State(hostA); got != gobreaker.StateHalfOpen || !b.Available(hostA) {
		t.Fatalf("after a cancelled probe: state %s, available %v; want half-open and available", got, b.Available(hostA))
	}
}

// With a real Sender and a receiver answering 500, the breaker opens and further
// deliveries do not reach the receiver.
func TestBreakers_WithSender(t *testing.T) {
	t.Parallel()
	bundle := setupSend(t, SenderOptions{}, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	b, _ := setupBreakers(t)
	req := bundle.request()
	host, err := DestinationKey(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	for range failuresToOpen + 2 {
		b.Do(host, func() Result { return bundle.sender.Send(context.Background(), req) })
	}
	if n := len(bundle.requests()); n != failuresToOpen {
		t.Fatalf("receiver saw %d requests, want %d before the breaker opened", n, failuresToOpen)
	}
}

func TestBreakers_ConcurrentUse(t *testing.T) {
	t.Parallel()
	b, _ := setupBreakers(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			host := fmt.Sprintf("h%d.example:443", g%3)
			for i := range 200 {
				r := okResult
				if i%2 == 0 {
					r = serverError
				}
				b.Available(host)
				b.Do(host, func() Result { return r })
				b.StateCounts()
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range b.StateCounts() {
		total += n
	}
	if total != 3 {
		t.Fatalf("%d breakers, want 3", total)
	}
}

func TestBreakers_Defaults(t *testing.T) {
	t.Parallel()
	b := NewBreakers(BreakerSettings{})
	for i := range DefaultFailuresToOpen {
		if !b.Available(hostA) {
			t.Fatalf("unavailable after %d failures, want %d", i, DefaultFailuresToOpen)
		}
		attempt(t, b, hostA, serverError)
	}
	if b.Available(hostA) {
		t.Fatalf("available after %d failures", DefaultFailuresToOpen)
	}
}
