package notifier

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
)

const slotWait = 250 * time.Millisecond

func setupSlots(t *testing.T, workers, perHost int) (*slots, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(sendTime)
	return newSlots(workers, perHost, slotWait, clk), clk
}

// acquired is the outcome of one acquire run in the background.
type acquired struct {
	release func()
	err     error
}

func acquireAsync(s *slots, account, host string) <-chan acquired {
	done := make(chan acquired, 1)
	go func() {
		release, err := s.acquire(context.Background(), account, host)
		done <- acquired{release, err}
	}()
	return done
}

// waiting returns how many deliveries wait for a slot or a place.
func (s *slots) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range []map[string]*holders{s.hosts, s.accounts} {
		for _, h := range m {
			n += len(h.waiting)
		}
	}
	return n
}

// waitForWaiters waits until n deliveries wait, timers of them with a limit.
func waitForWaiters(t *testing.T, s *slots, clk *clock.Fake, n, timers int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d deliveries wait, %d with a limit", n, timers), func() bool {
		return s.waiting() == n && clk.Timers() == timers
	})
}

func mustAcquire(t *testing.T, s *slots, account, host string) func() {
	t.Helper()
	release, err := s.acquire(context.Background(), account, host)
	if err != nil {
		t.Fatalf("acquire(%s, %s): %v", account, host, err)
	}
	return release
}

func notYet(t *testing.T, c <-chan acquired, what string) {
	t.Helper()
	select {
	case r := <-c:
		t.Fatalf("%s got its slot early (err %v)", what, r.err)
	default:
	}
}

func TestSlots_OneAccountAloneTakesEverySlot(t *testing.T) {
	t.Parallel()
	s, _ := setupSlots(t, 4, 4)
	for i := range 4 {
		mustAcquire(t, s, "busy", fmt.Sprintf("h%d", i%2))
	}
	if s.free != 0 {
		t.Fatalf("%d slots left free with one account asking for all", s.free)
	}
}

// TestSlots_FreedSlotGoesToTheAccountBelowItsShare: with every slot held by one
// account and that account's deliveries waiting first, the next freed slot goes to
// the other account's delivery, which holds none; the one after it to the first
// account again.
func TestSlots_FreedSlotGoesToTheAccountBelowItsShare(t *testing.T) {
	t.Parallel()
	s, clk := setupSlots(t, 2, 2)
	first := mustAcquire(t, s, "busy", "h1")
	second := mustAcquire(t, s, "busy", "h2")
	busyWaits := acquireAsync(s, "busy", "h3")
	waitForWaiters(t, s, clk, 1, 1) // at its share: it waits the host wait
	quietWaits := acquireAsync(s, "quiet", "h4")
	waitForWaiters(t, s, clk, 2, 1) // below it: without limit

	first()
	r := <-quietWaits
	if r.err != nil {
		t.Fatal(r.err)
	}
	notYet(t, busyWaits, "the account holding its share")
	second()
	if r := <-busyWaits; r.err != nil {
		t.Fatalf("the busy account after the other was served: %v", r.err)
	}
}

// TestSlots_AccountAtItsShareWaitsOnlyTheHostWait: a delivery of an account that holds
// its fair share already gives up after the host wait (to be postponed), while one of
// an account below its share waits on.
func TestSlots_AccountAtItsShareWaitsOnlyTheHostWait(t *testing.T) {
	t.Parallel()
	s, clk := setupSlots(t, 2, 2)
	mustAcquire(t, s, "busy", "h1")
	mustAcquire(t, s, "busy", "h2")
	busyWaits := acquireAsync(s, "busy", "h3")
	waitForWaiters(t, s, clk, 1, 1)
	quietWaits := acquireAsync(s, "quiet", "h4")
	waitForWaiters(t, s, clk, 2, 1)
	clk.Advance(slotWait)
	if r := <-busyWaits; !errors.Is(r.err, errSlotsBusy) {
		t.Fatalf("the account at its share after the host wait: %v, want errSlotsBusy", r.err)
	}
	clk.Advance(time.Hour)
	notYet(t, quietWaits, "the account below its share")
	if got := s.waiting(); got != 1 {
		t.Fatalf("%d waiting, want the other account's delivery", got)
	}
}

func TestSlots_HostPlacesBoundOneDestination(t *testing.T) {
	t.Parallel()
	s, clk := setupSlots(t, 8, 2)
	mustAcquire(t, s, "a", "h")
	release := mustAcquire(t, s, "b", "h")
	third := acquireAsync(s, "c", "h")
	waitForWaiters(t, s, clk, 1, 1)
	clk.Advance(slotWait)
	if r := <-third; !errors.Is(r.err, ErrHostUnavailable) {
		t.Fatalf("a third delivery to a host with 2 places: %v, want ErrHostUnavailable", r.err)
	}
	fourth := acquireAsync(s, "c", "h")
	waitForWaiters(t, s, clk, 1, 1)
	release()
	if r := <-fourth; r.err != nil {
		t.Fatalf("after a place was freed: %v", r.err)
	}
}

// TestSlots_KeepNothingOfIdleHostsAndAccounts: state is kept only while something is
// held or awaited, whatever the number of hosts and accounts seen.
func TestSlots_KeepNothingOfIdleHostsAndAccounts(t *testing.T) {
	t.Parallel()
	s, clk := setupSlots(t, 2, 1)
	for i := range 1000 {
		mustAcquire(t, s, fmt.Sprintf("acct%d", i%7), fmt.Sprintf("10.0.%d.%d:443", i/250, i%250))()
	}
	// And deliveries that gave up or were cancelled.
	hold := mustAcquire(t, s, "a", "h")
	gaveUp := acquireAsync(s, "a", "h")
	waitForWaiters(t, s, clk, 1, 1)
	clk.Advance(slotWait)
	<-gaveUp
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error)
	go func() { _, err := s.acquire(ctx, "b", "h"); cancelled <- err }()
	waitForWaiters(t, s, clk, 1, 1)
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	hold()
	if len(s.hosts) != 0 || len(s.accounts) != 0 || s.free != 2 {
		t.Fatalf("after everything was given back: %d hosts, %d accounts, %d of 2 slots free", len(s.hosts), len(s.accounts), s.free)
	}
}
