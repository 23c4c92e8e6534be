package poller_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// clock is a settable clock shared by the store, the poller and the demo source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// scripted is a source whose answer the test sets, counting calls.
type scripted struct {
	mu       sync.Mutex
	shipment *references.Shipment
	err      error
	calls    int
	block    chan struct{} // when set, Fetch waits for it to close
}

func (s *scripted) Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error) {
	s.mu.Lock()
	s.calls++
	block := s.block
	sh, err := s.shipment, s.err
	s.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
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

type bundle struct {
	db     *store.DB
	clock  *clock
	path   string
	source *scripted
}

func setup(t *testing.T, opts poller.Options) (*poller.Poller, *bundle) {
	t.Helper()
	b := &bundle{clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, source: &scripted{}}
	b.path = filepath.Join(t.TempDir(), "trackhook.db")
	b.open(t)
	if opts.Router.Default == nil {
		opts.Router = poller.Router{Default: b.source}
	}
	opts.Now = b.clock.Now
	opts.Rand = func() float64 { return 0.5 } // no jitter: exact schedules
	return poller.New(b.db, opts), b
}

func (b *bundle) open(t *testing.T) {
	t.Helper()
	db, err := store.Open(b.path, store.Options{NoSync: true, Now: b.clock.Now})
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
			steps: 5, step: 24 * time.Hour, want: references.ReasonNotFound,
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
			calls := b.source.calls
			p.PollOne(ctx, ref.ID)
			if b.source.calls != calls {
				t.Fatal("an unsubscribed reference was polled")
			}
		})
	}
}

// TestPoller_DemoVoyageRunsToCompletion drives the real demo carrier through a whole
// voyage with the scheduler's tick and a fake clock, reopening the store half way.
func TestPoller_DemoVoyageRunsToCompletion(t *testing.T) {
	ctx := context.Background()
	b := &bundle{clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	b.path = filepath.Join(t.TempDir(), "trackhook.db")
	b.open(t)
	src := demo.New(demo.Options{Speed: 24, Now: b.clock.Now}) // a simulated day per hour
	newPoller := func() *poller.Poller {
		p := poller.New(b.db, poller.Options{
			Router: poller.Router{Default: src}, Workers: 4, Now: b.clock.Now,
			Rand: func() float64 { return 0.5 }, TickSchedule: "@every 1h", // ticks are driven by hand
		})
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return p
	}
	refs := []references.Reference{b.create(t, "MSCU1234566"), b.create(t, "CSQU3054383")}
	p := newPoller()
	for day := 0; day < 6; day++ { // 144 simulated days
		for i := 0; i < 96; i++ { // every 15 minutes of simulated time
			tickUntilIdle(t, p, b.db, b.clock.Now())
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

// tickUntilIdle ticks until nothing is due at now: every due poll has been recorded.
// It ticks again because a reference whose worker has not yet let go of it is
// skipped by a tick.
func tickUntilIdle(t *testing.T, p *poller.Poller, db *store.DB, now time.Time) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := p.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		ids, err := db.DueReferences(context.Background(), now, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("polls did not finish: %v still due", ids)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPoller_OnePollPerReferenceAndTickNeverBlocks(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{Workers: 2, TickSchedule: "@every 1h"})
	b.source.block = make(chan struct{})
	b.source.set(shipment(ev("ARRI", references.ClassifierPlanned, b.clock.Now())), nil)
	for _, c := range []string{"MSCU1234566", "CSQU3054383"} {
		b.create(t, c)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := p.Tick(ctx)
	if err != nil || n != 2 {
		t.Fatalf("first tick queued %d, %v", n, err)
	}
	// Both polls hang in the source; further ticks return at once and queue nothing.
	for i := 0; i < 3; i++ {
		if n, _ := p.Tick(ctx); n != 0 {
			t.Fatalf("tick %d queued %d references already in flight", i, n)
		}
	}
	close(b.source.block)
	p.Stop(ctx)
	if b.source.calls != 2 {
		t.Fatalf("source called %d times, want 2", b.source.calls)
	}
}

func TestPoller_StopCancelsHungPollsAndRecordsNothing(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{Workers: 1, TickSchedule: "@every 1h"})
	b.source.block = make(chan struct{})
	b.source.set(shipment(), nil)
	ref := b.create(t, "MSCU1234566")
	p.Start(ctx)
	p.Tick(ctx)
	for b.sourceCalls() == 0 {
		time.Sleep(time.Millisecond)
	}
	stopCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	p.Stop(stopCtx) // the poll never ends by itself: Stop must cancel it
	got, _ := b.db.Reference(ctx, ref.ID)
	if got.LastPolledAt != nil || got.LastPollError != "" {
		t.Fatalf("an abandoned poll was recorded: %+v", got)
	}
	if due, _ := b.db.DueReferences(ctx, b.clock.Now(), 10); len(due) != 1 {
		t.Fatal("the abandoned reference is no longer due")
	}
}

func (b *bundle) sourceCalls() int {
	b.source.mu.Lock()
	defer b.source.mu.Unlock()
	return b.source.calls
}
