package poller_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// scripted is a source whose answer the test sets, counting calls.
type scripted struct {
	mu       sync.Mutex
	shipment *references.Shipment
	err      error
	calls    int
	block    chan struct{} // when set, Fetch waits for it to close
	entered  chan struct{} // a token for every call
	left     chan error    // the context's error of every blocked call its context ended
}

func newScripted() *scripted {
	return &scripted{entered: make(chan struct{}, 64), left: make(chan error, 64)}
}

func (s *scripted) Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error) {
	s.mu.Lock()
	s.calls++
	block := s.block
	sh, err := s.shipment, s.err
	s.mu.Unlock()
	select {
	case s.entered <- struct{}{}:
	default:
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			s.left <- ctx.Err()
			return nil, ctx.Err()
		}
	}
	if sh == nil && err == nil {
		return nil, errors.New("scripted: no answer set")
	}
	return sh, err
}

func (s *scripted) set(sh *references.Shipment, err error) {
	s.mu.Lock()
	s.shipment, s.err = sh, err
	s.mu.Unlock()
}

// waitEntered waits until a call has entered the source.
func (s *scripted) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-s.entered:
	case <-time.After(10 * time.Second): // a safety net, not a wait for time
		t.Fatal("the source was never called")
	}
}

// bundle is a store and a source on one fake clock, which the pollers made by
// bundle.poller share.
type bundle struct {
	db     *store.DB
	clock  *clock.Fake
	path   string
	source *scripted
	polled chan struct{} // a token after polls were recorded (see poller)
}

func newBundle(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{
		clock:  clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		source: newScripted(),
		polled: make(chan struct{}, 1),
	}
	b.path = filepath.Join(t.TempDir(), "trackhook.db")
	b.open(t)
	return b
}

func setup(t *testing.T, opts poller.Options) (*poller.Poller, *bundle) {
	t.Helper()
	b := newBundle(t)
	return b.poller(t, opts), b
}

// poller returns a poller over the bundle's store, on its clock, with the source
// unless opts has a router, and without jitter (exact schedules).
func (b *bundle) poller(t *testing.T, opts poller.Options) *poller.Poller {
	t.Helper()
	if opts.Router.Default == nil {
		opts.Router = poller.Router{Default: b.source}
	}
	opts.Clock = b.clock
	opts.Rand = func() float64 { return 0.5 }
	observe := opts.Observe
	opts.Observe = func(r poller.PollReport) {
		if observe != nil {
			observe(r)
		}
		select {
		case b.polled <- struct{}{}:
		default:
		}
	}
	p, err := poller.New(b.db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (b *bundle) open(t *testing.T) {
	t.Helper()
	db, err := store.Open(b.path, store.Options{NoSync: true, Clock: b.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b.db = db
}

func (b *bundle) create(t *testing.T, container string) references.Reference {
	t.Helper()
	svc := references.NewService(b.db, references.ServiceOptions{Now: b.clock.Now})
	ref, _, err := svc.Create(context.Background(), "acct", references.CreateRequest{ContainerID: container, CarrierCode: "MAEU"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (b *bundle) feed(t *testing.T, id string) []references.Update {
	t.Helper()
	ups, err := b.db.ListUpdates(context.Background(), "acct", id, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	return ups
}

// assertUnpolled fails unless nothing of a poll of id was recorded.
func (b *bundle) assertUnpolled(t *testing.T, id string) {
	t.Helper()
	got, err := b.db.Reference(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastPolledAt != nil || got.LastPollError != "" || got.ConsecutiveFailures != 0 {
		t.Fatalf("a poll was recorded: %+v", got)
	}
	if ups := b.feed(t, id); len(ups) != 0 {
		t.Fatalf("a poll appended updates: %+v", ups)
	}
}

func shipment(events ...references.Event) *references.Shipment {
	return &references.Shipment{Events: events}
}

func ev(code string, cl references.Classifier, at time.Time) references.Event {
	return references.Event{
		ID: code + string(cl), Type: references.EventTransport, Classifier: cl, Code: code, Time: at,
		Location: &references.Location{UNLocode: "NLRTM", Name: "Rotterdam"},
	}
}

func TestPollOne_ChangeMakesOneUpdateAndSameSnapshotNone(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{})
	ref := b.create(t, "MSCU1234566")
	eta := b.clock.Now().Add(72 * time.Hour)
	b.source.set(shipment(ev("ARRI", references.ClassifierEstimated, eta)), nil)

	if err := p.PollOne(ctx, ref.ID); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(15 * time.Minute)
	if err := p.PollOne(ctx, ref.ID); err != nil {
		t.Fatal(err)
	}
	ups := b.feed(t, ref.ID)
	if len(ups) != 1 || ups[0].Type != references.UpdateShipment || ups[0].Sequence != 1 || len(ups[0].Changes) == 0 {
		t.Fatalf("feed after two identical polls: %+v", ups)
	}

	b.source.set(shipment(ev("ARRI", references.ClassifierEstimated, eta.Add(6*time.Hour))), nil)
	b.clock.Advance(15 * time.Minute)
	p.PollOne(ctx, ref.ID)
	ups = b.feed(t, ref.ID)
	if len(ups) != 2 || ups[1].Sequence != 2 {
		t.Fatalf("feed after a moved estimate: %d updates", len(ups))
	}
	found := false
	for _, c := range ups[1].Changes {
		found = found || c.Type == references.ChangeEstimateChanged
	}
	if !found {
		t.Fatalf("no estimate_changed in %+v", ups[1].Changes)
	}
	got, _ := b.db.Reference(ctx, ref.ID)
	if got.LastPolledAt == nil || !got.LastPolledAt.Equal(b.clock.Now()) || !got.NextPollAt.Equal(b.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("poll times: last %v next %v", got.LastPolledAt, got.NextPollAt)
	}
}

func TestPollOne_FailuresBackOffAndReportOnce(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{BackoffBase: time.Minute, BackoffMax: 10 * time.Minute, FailedUpdateAfter: 2})
	ref := b.create(t, "MSCU1234566")
	b.source.set(nil, errors.New("carrier API: 503 Service Unavailable"))

	wantBackoff := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	for i, want := range wantBackoff {
		if err := p.PollOne(ctx, ref.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := b.db.Reference(ctx, ref.ID)
		if got.ConsecutiveFailures != i+1 || got.LastPollError == "" {
			t.Fatalf("failure %d: %+v", i+1, got)
		}
		if d := got.NextPollAt.Sub(b.clock.Now()); d != want {
			t.Fatalf("failure %d: next poll in %v, want %v", i+1, d, want)
		}
		b.clock.Advance(want)
	}
	ups := b.feed(t, ref.ID)
	if len(ups) != 1 || ups[0].Type != references.UpdateTrackingFailed || ups[0].Error == "" {
		t.Fatalf("want exactly one tracking.failed update, got %+v", ups)
	}
	// A success resets the count.
	b.source.set(shipment(ev("ARRI", references.ClassifierPlanned, b.clock.Now().Add(time.Hour))), nil)
	p.PollOne(ctx, ref.ID)
	got, _ := b.db.Reference(ctx, ref.ID)
	if got.ConsecutiveFailures != 0 || got.LastPollError != "" {
		t.Fatalf("after success: failures %d error %q", got.ConsecutiveFailures, got.LastPollError)
	}
}

func TestPollOne_HonoursRetryAfter(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{BackoffBase: time.Minute})
	ref := b.create(t, "MSCU1234566")
	b.source.set(nil, fmt.Errorf("dcsa: %w", &references.SourceError{
		Kind: references.ErrSourceRateLimited, RetryAfter: 30 * time.Minute, Err: errors.New("429 Too Many Requests"),
	}))
	p.PollOne(ctx, ref.ID)
	got, _ := b.db.Reference(ctx, ref.ID)
	if d := got.NextPollAt.Sub(b.clock.Now()); d != 30*time.Minute {
		t.Fatalf("next poll in %v, want the 30m the source asked for", d)
	}
}

func TestPollOne_AutoUnsubscribe(t *testing.T) {
	tests := []struct {
		name   string
		answer func(now time.Time) (*references.Shipment, error)
		steps  int           // polls
		step   time.Duration // clock advance between polls
		want   references.UnsubscribeReason
	}{
		{
			name: "not found for longer than the limit",
			answer: func(time.Time) (*references.Shipment, error) {
				return nil, fmt.Errorf("carrier: %w", references.ErrShipmentNotFound)
			},
			// Not found at 0h, 24h, 48h and 72h: the fourth poll ends tracking (a poll
			// after that is refused: an unsubscribed reference is not polled).
			steps: 4, step: 24 * time.Hour, want: references.ReasonNotFound,
		},
		{
			name: "older than the maximum age",
			answer: func(now time.Time) (*references.Shipment, error) {
				return shipment(ev("ARRI", references.ClassifierEstimated, now.Add(time.Hour))), nil
			},
			steps: 4, step: 40 * 24 * time.Hour, want: references.ReasonMaxAge,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			p, b := setup(t, poller.Options{})
			ref := b.create(t, "MSCU1234566")
			for i := 0; i < tt.steps; i++ {
				b.source.set(tt.answer(b.clock.Now()))
				if err := p.PollOne(ctx, ref.ID); err != nil {
					t.Fatal(err)
				}
				b.clock.Advance(tt.step)
			}
			got, _ := b.db.Reference(ctx, ref.ID)
			if got.Active() || got.UnsubscribeReason != tt.want {
				t.Fatalf("status %s reason %q, want unsubscribed %q", got.Status, got.UnsubscribeReason, tt.want)
			}
			ups := b.feed(t, ref.ID)
			last := ups[len(ups)-1]
			if last.Type != references.UpdateUnsubscribed || last.UnsubscribeReason != tt.want {
				t.Fatalf("last update %+v", last)
			}
			calls := b.sourceCalls()
			if err := p.PollOne(ctx, ref.ID); err == nil {
				t.Error("PollOne of an unsubscribed reference succeeded")
			}
			if b.sourceCalls() != calls {
				t.Fatal("an unsubscribed reference was polled")
			}
		})
	}
}

// TestPoller_DemoVoyageRunsToCompletion drives the real demo carrier through a whole
// voyage with the scheduler's tick and a fake clock, reopening the store half way.
func TestPoller_DemoVoyageRunsToCompletion(t *testing.T) {
	ctx := context.Background()
	b := newBundle(t)
	src := demo.New(demo.Options{Speed: 24, Clock: b.clock}) // a simulated day per hour
	newPoller := func() *poller.Poller {
		p := b.poller(t, poller.Options{
			Router: poller.Router{Default: src}, Workers: 4,
			TickSchedule: "@every 1h", // ticks are driven by hand (and by the clock)
		})
		p.Start(ctx)
		return p
	}
	refs := []references.Reference{b.create(t, "MSCU1234566"), b.create(t, "CSQU3054383")}
	p := newPoller()
	for day := 0; day < 6; day++ { // 144 simulated days
		for i := 0; i < 96; i++ { // every 15 minutes of simulated time
			b.tickUntilIdle(t, p)
			b.clock.Advance(15 * time.Minute)
		}
		if day == 1 { // restart mid-run on the same file
			p.Stop(ctx)
			b.db.Close()
			b.open(t)
			p = newPoller()
		}
	}
	p.Stop(ctx)
	for _, ref := range refs {
		got, _ := b.db.Reference(ctx, ref.ID)
		if got.Active() || got.UnsubscribeReason != references.ReasonTrackingComplete {
			t.Fatalf("%s: status %s reason %q after 144 simulated days", ref.ContainerID, got.Status, got.UnsubscribeReason)
		}
		ups := b.feed(t, ref.ID)
		for i, u := range ups {
			if u.Sequence != uint64(i+1) {
				t.Fatalf("%s: update %d has sequence %d", ref.ID, i, u.Sequence)
			}
		}
		if len(ups) < 5 || ups[len(ups)-1].Type != references.UpdateUnsubscribed {
			t.Fatalf("%s: %d updates, last %s", ref.ID, len(ups), ups[len(ups)-1].Type)
		}
	}
}

// tickUntilIdle ticks until nothing is due: every due poll has been recorded. It
// ticks again after each recorded poll, because a reference whose worker has not yet
// let go of its lease is skipped by a tick. The clock does not move meanwhile.
func (b *bundle) tickUntilIdle(t *testing.T, pollers ...*poller.Poller) {
	t.Helper()
	ctx := context.Background()
	timeout := time.After(10 * time.Second) // a safety net, not a wait for time
	for {
		for _, p := range pollers {
			if _, err := p.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		due, err := b.db.CountDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if due == 0 {
			return
		}
		select {
		case <-b.polled:
		case <-timeout:
			t.Fatalf("polls did not finish: %d still due", due)
		}
	}
}

// waitForTimers waits until the code under test has armed n timers of the fake clock,
// so that advancing it fires them.
func (b *bundle) waitForTimers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // a safety net, not a wait for time
	for b.clock.Timers() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d timers armed, want %d", b.clock.Timers(), n)
		}
		runtime.Gosched()
	}
}

// TestPoller_OnePollPerReferenceAndTickNeverBlocks: while a reference is being polled,
// its lease keeps it from every other claim, this poller's next ticks and another
// poller's alike; ticks return at once all the same.
func TestPoller_OnePollPerReferenceAndTickNeverBlocks(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{Workers: 2, TickSchedule: "@every 1h"})
	other := b.poller(t, poller.Options{Owner: "other-instance", Workers: 2, TickSchedule: "@every 1h"})
	b.source.block = make(chan struct{})
	b.source.set(shipment(ev("ARRI", references.ClassifierPlanned, b.clock.Now())), nil)
	var ids []string
	for _, c := range []string{"MSCU1234566", "CSQU3054383"} {
		ids = append(ids, b.create(t, c).ID)
	}
	// Tick before Start: Start's own first scan would otherwise race this one.
	n, err := p.Tick(ctx)
	if err != nil || n != 2 {
		t.Fatalf("first tick queued %d, %v", n, err)
	}
	p.Start(ctx)
	b.source.waitEntered(t)
	b.source.waitEntered(t)
	// Both polls hang in the source; further ticks return at once and queue nothing,
	// here and in another instance sharing the store.
	for i := 0; i < 3; i++ {
		if n, err := p.Tick(ctx); n != 0 || err != nil {
			t.Fatalf("tick %d queued %d references already in flight (%v)", i, n, err)
		}
		if n, err := other.Tick(ctx); n != 0 || err != nil {
			t.Fatalf("tick %d of another poller queued %d references in flight (%v)", i, n, err)
		}
	}
	for _, id := range ids {
		if err := other.PollOne(ctx, id); !errors.Is(err, references.ErrBusy) {
			t.Fatalf("PollOne of a reference in flight by another poller: %v, want ErrBusy", err)
		}
	}
	close(b.source.block)
	p.Stop(ctx)
	if b.sourceCalls() != 2 {
		t.Fatalf("source called %d times, want 2", b.sourceCalls())
	}
}

// TestPoller_TwoPollersNeverPollAReferenceTwice runs two pollers on one store, as two
// instances would: every due reference is polled once, by one of them.
func TestPoller_TwoPollersNeverPollAReferenceTwice(t *testing.T) {
	ctx := context.Background()
	b := newBundle(t)
	const n = 120
	src := &perReference{calls: map[string]int{}}
	var recorded atomic.Int64
	observe := func(poller.PollReport) { recorded.Add(1) }
	var pollers []*poller.Poller
	for _, owner := range []string{"instance-a", "instance-b"} {
		pollers = append(pollers, b.poller(t, poller.Options{
			Router: poller.Router{Default: src}, Owner: owner, Workers: 3, TickSchedule: "@every 1h", Observe: observe,
		}))
	}
	svc := references.NewService(b.db, references.ServiceOptions{Now: b.clock.Now})
	for i := range n {
		req := references.CreateRequest{BookingNumber: fmt.Sprintf("BK%04d", i), CarrierCode: "MAEU"}
		if _, _, err := svc.Create(ctx, "acct", req, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pollers {
		p.Start(ctx)
	}
	// The clock stands still: once every reference is recorded, nothing is due, and
	// neither poller has anything more to poll. Both scan as they go, and tick
	// besides (a scan that meets the other's claims may take less than it could).
	b.tickUntilIdle(t, pollers...)
	for _, p := range pollers {
		p.Stop(ctx)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.calls) != n {
		t.Errorf("%d references polled, want %d", len(src.calls), n)
	}
	for id, c := range src.calls {
		if c != 1 {
			t.Errorf("%s polled %d times", id, c)
		}
	}
	if got := recorded.Load(); got != n {
		t.Errorf("%d polls recorded, want %d", got, n)
	}
}

// perReference answers every fetch with an empty snapshot and counts the fetches of
// each reference.
type perReference struct {
	mu    sync.Mutex
	calls map[string]int
}

func (s *perReference) Fetch(_ context.Context, ref references.Reference) (*references.Shipment, error) {
	s.mu.Lock()
	s.calls[ref.ID]++
	s.mu.Unlock()
	return &references.Shipment{Events: []references.Event{}}, nil
}

// TestPollOne_LeaseRanOutCannotRecord: a poll that outlives its lease finds the
// reference claimed by another owner and cannot record its outcome.
func TestPollOne_LeaseRanOutCannotRecord(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{Lease: 30 * time.Second, PollTimeout: time.Minute})
	b.source.block = make(chan struct{})
	b.source.set(shipment(ev("ARRI", references.ClassifierEstimated, b.clock.Now().Add(72*time.Hour))), nil)
	ref := b.create(t, "MSCU1234566")
	done := make(chan error, 1)
	go func() { done <- p.PollOne(ctx, ref.ID) }()
	b.source.waitEntered(t)

	if _, err := b.db.ClaimPoll(ctx, "other", ref.ID, time.Minute); !errors.Is(err, references.ErrBusy) {
		t.Fatalf("a second claim while the poll's lease is live: %v, want ErrBusy", err)
	}
	// PollOne does not renew: its lease (PollTimeout+Lease) runs out.
	b.clock.Advance(91 * time.Second)
	claim, err := b.db.ClaimPoll(ctx, "other", ref.ID, time.Minute)
	if err != nil {
		t.Fatalf("claim after the lease ran out: %v", err)
	}
	close(b.source.block)
	if err := <-done; !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("PollOne under a lost lease = %v, want ErrLeaseLost", err)
	}
	b.assertUnpolled(t, ref.ID)
	// Giving back the lost lease did not give back the other owner's.
	if _, err := b.db.ClaimPoll(ctx, "third", ref.ID, time.Minute); !errors.Is(err, references.ErrBusy) {
		t.Fatalf("claim while the other owner holds it: %v, want ErrBusy", err)
	}
	now := b.clock.Now()
	if _, err := b.db.RecordPoll(ctx, claim.Lease, references.PollResult{PolledAt: now, NextPollAt: now.Add(time.Hour)}); err != nil {
		t.Fatalf("the other owner could not record: %v", err)
	}
}

// TestPoller_LostLeaseCancelsHungPollAndRecordsNothing: when the renewal of a running
// poll's lease fails, the poll is cancelled and records nothing; the owner who has the
// reference now keeps it.
func TestPoller_LostLeaseCancelsHungPollAndRecordsNothing(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{Workers: 1, TickSchedule: "@every 1h", Lease: 30 * time.Second})
	b.source.block = make(chan struct{}) // never closed: the source hangs
	b.source.set(shipment(ev("ARRI", references.ClassifierEstimated, b.clock.Now().Add(72*time.Hour))), nil)
	ref := b.create(t, "MSCU1234566")
	if n, err := p.Tick(ctx); n != 1 || err != nil {
		t.Fatalf("tick queued %d, %v", n, err)
	}
	p.Start(ctx)
	b.source.waitEntered(t)
	b.waitForTimers(t, 2) // the scan's and the lease renewer's (every 10s)

	// The renewer is late (a paused process, say): by its next turn the lease has
	// run out and another owner has claimed the reference.
	b.clock.Advance(31 * time.Second)
	// The cancelled poll gives its (lost) claim back meanwhile; a claim that was
	// reading while that happened passes the reference over once (the store's guard
	// against stale lists), so ask again, without moving the clock.
	var claims []references.PollClaim
	var err error
	for range 100 {
		claims, err = b.db.ClaimDuePolls(ctx, "other", 10, time.Minute)
		if err != nil || len(claims) > 0 {
			break
		}
		runtime.Gosched()
	}
	if err != nil || len(claims) != 1 || claims[0].Reference.ID != ref.ID {
		t.Fatalf("claim after the lease ran out: %+v, %v", claims, err)
	}
	select {
	case err := <-b.source.left:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the hung fetch ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // a safety net, not a wait for time
		t.Fatal("the poll was not cancelled when its lease was lost")
	}
	p.Stop(ctx) // waits for the worker: whatever it was to record is recorded now
	b.assertUnpolled(t, ref.ID)
	if err := p.PollOne(ctx, ref.ID); !errors.Is(err, references.ErrBusy) {
		t.Fatalf("PollOne while the other owner holds the reference: %v, want ErrBusy", err)
	}
	now := b.clock.Now()
	if _, err := b.db.RecordPoll(ctx, claims[0].Lease, references.PollResult{PolledAt: now, NextPollAt: now.Add(time.Hour)}); err != nil {
		t.Fatalf("the other owner could not record: %v", err)
	}
	if b.sourceCalls() != 1 {
		t.Fatalf("source called %d times, want 1", b.sourceCalls())
	}
}

func TestPoller_StopCancelsHungPollsAndRecordsNothing(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{Workers: 1, TickSchedule: "@every 1h"})
	b.source.block = make(chan struct{})
	b.source.set(shipment(), nil)
	ref := b.create(t, "MSCU1234566")
	if n, err := p.Tick(ctx); n != 1 || err != nil {
		t.Fatalf("tick queued %d, %v", n, err)
	}
	p.Start(ctx)
	b.source.waitEntered(t)
	stopCtx, cancel := context.WithCancel(ctx)
	cancel() // no grace period: the poll never ends by itself, Stop must cancel it
	p.Stop(stopCtx)
	b.assertUnpolled(t, ref.ID)
	if due, _ := b.db.CountDue(ctx); due != 1 {
		t.Fatal("the abandoned reference is no longer due")
	}
	// Its claim was given back: another owner gets it at once.
	claims, err := b.db.ClaimDuePolls(ctx, "other", 10, time.Minute)
	if err != nil || len(claims) != 1 || claims[0].Reference.ID != ref.ID {
		t.Fatalf("claim after Stop: %+v, %v", claims, err)
	}
}

// TestPoller_StopGivesBackQueuedClaims: polls claimed and queued but not started when
// Stop gives up waiting are given back, so another instance can claim them at once,
// not only once their leases run out.
func TestPoller_StopGivesBackQueuedClaims(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{Workers: 1, TickSchedule: "@every 1h"})
	b.source.block = make(chan struct{}) // the one worker hangs on the first poll
	b.source.set(shipment(), nil)
	want := map[string]bool{}
	for _, c := range []string{"MSCU1234566", "CSQU3054383", "MSKU7261948"} {
		want[b.create(t, c).ID] = true
	}
	if n, err := p.Tick(ctx); n != 3 || err != nil {
		t.Fatalf("tick queued %d, %v", n, err)
	}
	p.Start(ctx)
	b.source.waitEntered(t)
	if claims, err := b.db.ClaimDuePolls(ctx, "other", 10, time.Minute); err != nil || len(claims) != 0 {
		t.Fatalf("another owner claimed %d polls this poller holds (%v)", len(claims), err)
	}
	stopCtx, cancel := context.WithCancel(ctx)
	cancel()
	p.Stop(stopCtx)

	// The clock has not moved: the leases would still be live had they not been given back.
	claims, err := b.db.ClaimDuePolls(ctx, "other", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, c := range claims {
		got[c.Reference.ID] = true
	}
	if len(claims) != 3 || len(got) != 3 {
		t.Fatalf("after Stop another owner claimed %d polls, want all 3: %+v", len(claims), claims)
	}
	for id := range want {
		if !got[id] {
			t.Errorf("%s was not given back", id)
		}
		b.assertUnpolled(t, id)
	}
	if b.sourceCalls() != 1 {
		t.Fatalf("source called %d times, want 1: the queued polls must not run", b.sourceCalls())
	}
}

func (b *bundle) sourceCalls() int {
	b.source.mu.Lock()
	defer b.source.mu.Unlock()
	return b.source.calls
}
