package retention_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/retention"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

const (
	account = "acct_ret"
	owner   = "retention-test" // the tests' name in the store's leases
	day     = 24 * time.Hour
)

var start = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// fixture is a real store on a fake clock, with a service to create references.
type fixture struct {
	clk *clock.Fake
	db  *store.DB
	svc *references.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clock.NewFake(start)
	db, err := store.Open(filepath.Join(t.TempDir(), "trackhook.db"), store.Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.EnsureAccount(context.Background(), account, references.NewWebhookSecret(), clk.Now()); err != nil {
		t.Fatalf("ensure account: %v", err)
	}
	return &fixture{clk: clk, db: db, svc: references.NewService(db, references.ServiceOptions{Now: clk.Now})}
}

// create makes an active reference; callbackURL empty makes a pull feed (its updates
// count as delivered once stored).
func (f *fixture) create(t *testing.T, containerID, callbackURL string) references.Reference {
	t.Helper()
	ref, _, err := f.svc.Create(context.Background(), account, references.CreateRequest{
		ContainerID: containerID, CarrierCode: "MSCU", CallbackURL: callbackURL,
	}, "")
	if err != nil {
		t.Fatalf("create reference: %v", err)
	}
	return ref
}

// pollDays records, once a simulated day for days days, a poll of every reference
// that found perPoll changes (perPoll updates created at that moment), claimed and
// recorded under its lease as the poller does; the clock moves a day after each.
func (f *fixture) pollDays(t *testing.T, days, perPoll int, refs ...references.Reference) {
	t.Helper()
	ctx := context.Background()
	for d := range days {
		now := f.clk.Now()
		for _, ref := range refs {
			claim, err := f.db.ClaimPoll(ctx, owner, ref.ID, time.Minute)
			if err != nil {
				t.Fatalf("claim poll of %s: %v", ref.ID, err)
			}
			res := references.PollResult{PolledAt: now, NextPollAt: now.Add(day)}
			for i := range perPoll {
				res.Updates = append(res.Updates, references.Update{
					Type: references.UpdateShipment, CreatedAt: now,
					Changes: []references.Change{{Type: references.ChangeStatusChanged, Description: fmt.Sprintf("day %d change %d", d, i), New: "in_transit"}},
				})
			}
			if _, err := f.db.RecordPoll(ctx, claim.Lease, res); err != nil {
				t.Fatalf("record poll of %s: %v", ref.ID, err)
			}
		}
		f.clk.Advance(day)
	}
}

// feed returns the reference's stored updates, in sequence order.
func (f *fixture) feed(t *testing.T, refID string) []references.Update {
	t.Helper()
	ups, err := f.db.ListUpdates(context.Background(), account, refID, 0, 1<<20)
	if err != nil {
		t.Fatalf("feed of %s: %v", refID, err)
	}
	return ups
}

// deliver records the successful delivery of the reference's next n updates, as the
// notifier would, under a claim of its callback stream.
func (f *fixture) deliver(t *testing.T, refID string, n int) {
	t.Helper()
	ctx := context.Background()
	claim, err := f.db.ClaimDelivery(ctx, owner, refID, time.Minute)
	if err != nil {
		t.Fatalf("claim delivery of %s: %v", refID, err)
	}
	defer func() { _ = f.db.ReleaseLease(ctx, claim.Lease) }()
	job := claim.Job
	for i := range n {
		if i > 0 {
			if job, err = f.db.NextDelivery(ctx, claim.Lease); err != nil {
				t.Fatalf("next delivery of %s: %v", refID, err)
			}
		}
		a := references.DeliveryAttempt{
			ReferenceID: refID, UpdateID: job.Update.ID, Sequence: job.Update.Sequence, Attempt: job.Attempt,
			URL: job.Reference.CallbackURL, At: f.clk.Now(), StatusCode: 204, Outcome: references.OutcomeDelivered,
		}
		if _, err := f.db.RecordAttempt(ctx, claim.Lease, job, a, ""); err != nil {
			t.Fatalf("record attempt for %s: %v", job.Update.ID, err)
		}
	}
}

// pruneCall is one call of Prune the pruner made.
type pruneCall struct {
	req references.PruneRequest
	got references.PruneCounts
	err error
}

// n is how many records the call deleted.
func (c pruneCall) n() int { return int(c.got.Total()) }

// watchedStore passes Prune on to the real store and reports every call, so a test
// knows when a prune the loop started has finished. It never blocks the pruner: calls
// beyond its buffer are counted in dropped.
type watchedStore struct {
	retention.Store
	calls   chan pruneCall
	dropped atomic.Int64
}

func watch(s retention.Store) *watchedStore {
	return &watchedStore{Store: s, calls: make(chan pruneCall, 1000)}
}

func (w *watchedStore) Prune(ctx context.Context, req references.PruneRequest) (references.PruneCounts, error) {
	got, err := w.Store.Prune(ctx, req)
	select {
	case w.calls <- pruneCall{req: req, got: got, err: err}:
	default:
		w.dropped.Add(1)
	}
	return got, err
}

// nextPrune waits for the pruner to finish one prune (its last batch deletes fewer
// than a batch) and returns its calls. The deadline is generous: it is not a timing
// assertion.
func (w *watchedStore) nextPrune(t *testing.T) []pruneCall {
	t.Helper()
	var calls []pruneCall
	deadline := time.After(10 * time.Second)
	for {
		select {
		case c := <-w.calls:
			if c.err != nil {
				t.Fatalf("prune: %v", c.err)
			}
			calls = append(calls, c)
			if c.n() < c.req.Max {
				return calls
			}
		case <-deadline:
			t.Fatalf("no prune finished within 10s (calls so far: %+v)", calls)
		}
	}
}

// noPrune fails t if a prune call is waiting to be read.
func (w *watchedStore) noPrune(t *testing.T, when string) {
	t.Helper()
	select {
	case c := <-w.calls:
		t.Fatalf("%s: the pruner pruned (%+v)", when, c)
	default:
	}
}

func deleted(calls []pruneCall) int {
	total := 0
	for _, c := range calls {
		total += c.n()
	}
	return total
}

// waitTimer waits until the pruner's loop has armed its timer for the next scheduled
// prune: after a prune it must wait for Every, not prune again at once.
func (w *watchedStore) waitTimer(t *testing.T, clk *clock.Fake) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for clk.Timers() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the pruner never armed its timer within 10s; it made %d more store calls meanwhile "+
				"(a loop that prunes again at once instead of waiting for Every)", len(w.calls)+int(w.dropped.Load()))
		}
		time.Sleep(time.Millisecond)
	}
}

// stop stops p and fails t unless Stop returns.
func stop(t *testing.T, p *retention.Pruner, ctx context.Context) {
	t.Helper()
	done := make(chan struct{})
	go func() { p.Stop(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return within 10s")
	}
}

func sequences(ups []references.Update) []uint64 {
	out := make([]uint64, 0, len(ups))
	for _, u := range ups {
		out = append(out, u.Sequence)
	}
	return out
}

// TestPruner_DeletesDeliveredUpdatesOlderThanKeepOnItsSchedule records ten simulated
// days of polls for a pull feed and for a reference whose callback never succeeded,
// then runs the pruner with a five-day retention: the first prune, at Start, deletes
// the feed's updates older than five days and keeps the newer ones and every
// undelivered one; the next, when the clock passes Every, deletes what aged since and
// what was delivered meanwhile; Stop returns and nothing is pruned after it.
func TestPruner_DeletesDeliveredUpdatesOlderThanKeepOnItsSchedule(t *testing.T) {
	f := newFixture(t)
	feedOnly := f.create(t, "MSCU1234566", "")
	hooked := f.create(t, "CSQU3054383", "https://hooks.example.com/never")
	f.pollDays(t, 10, 1, feedOnly, hooked) // updates at day 0..9; now is day 10
	if got := len(f.feed(t, feedOnly.ID)); got != 10 {
		t.Fatalf("feed holds %d updates before pruning, want 10", got)
	}

	const keep, every = 5 * day, time.Hour
	w := watch(f.db)
	p := retention.New(w, retention.Options{Keep: keep, Every: every, Clock: f.clk})
	p.Start(context.Background())
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			p.Stop(context.Background())
		}
	})

	// The first prune runs at Start, with the cutoff of that moment.
	calls := w.nextPrune(t)
	if want := start.Add(10*day - keep); !calls[0].req.Updates.Equal(want) {
		t.Errorf("cutoff %v, want now - Keep = %v", calls[0].req.Updates, want)
	}
	if n := deleted(calls); n != 5 {
		t.Errorf("first prune deleted %d updates, want the 5 older than %v", n, keep)
	}
	ups := f.feed(t, feedOnly.ID)
	if fmt.Sprint(sequences(ups)) != "[6 7 8 9 10]" {
		t.Errorf("pull feed after the first prune holds sequences %v, want [6 7 8 9 10] (days 5..9)", sequences(ups))
	}
	cutoff := f.clk.Now().Add(-keep)
	for _, u := range ups {
		if u.CreatedAt.Before(cutoff) {
			t.Errorf("update %d created %v, before the cutoff %v, was kept", u.Sequence, u.CreatedAt, cutoff)
		}
	}
	if got := len(f.feed(t, hooked.ID)); got != 10 {
		t.Errorf("the undelivered feed holds %d updates after the prune, want all 10", got)
	}

	// Nothing more until the schedule says: the loop armed its timer for Every.
	w.waitTimer(t, f.clk)
	f.clk.Advance(every - time.Second)
	w.noPrune(t, "before Every passed")

	// The callback takes the hooked reference's first three updates; a day passes.
	f.deliver(t, hooked.ID, 3)
	f.clk.Advance(day - every + time.Second) // day 11: the timer fires; the cutoff is day 6
	calls = w.nextPrune(t)
	if want := f.clk.Now().Add(-keep); !calls[0].req.Updates.Equal(want) {
		t.Errorf("second cutoff %v, want %v", calls[0].req.Updates, want)
	}
	if n := deleted(calls); n != 4 {
		t.Errorf("second prune deleted %d updates, want 4 (the pull feed's day 5 and the 3 delivered)", n)
	}
	if got := sequences(f.feed(t, feedOnly.ID)); fmt.Sprint(got) != "[7 8 9 10]" {
		t.Errorf("pull feed after the second prune holds %v, want [7 8 9 10]", got)
	}
	if got := sequences(f.feed(t, hooked.ID)); fmt.Sprint(got) != "[4 5 6 7 8 9 10]" {
		t.Errorf("hooked feed after the second prune holds %v, want the 7 undelivered [4 .. 10]", got)
	}

	w.waitTimer(t, f.clk)
	stop(t, p, context.Background())
	stopped = true
	if got := f.clk.Timers(); got != 0 {
		t.Errorf("%d timers left after Stop, want 0", got)
	}
	f.clk.Advance(30 * day)
	w.noPrune(t, "after Stop")
	if got := len(f.feed(t, feedOnly.ID)); got != 4 {
		t.Errorf("pull feed holds %d updates after Stop and 30 days, want 4 still", got)
	}
}

// TestPruner_PruneDeletesEverythingDueInBatches: one Prune call goes on batch after
// batch until everything older than the cutoff is gone, never asking for more than
// Batch at a time.
func TestPruner_PruneDeletesEverythingDueInBatches(t *testing.T) {
	f := newFixture(t)
	ref := f.create(t, "MSCU1234566", "")
	f.pollDays(t, 10, 5, ref) // 50 updates at day 0..9; now is day 10
	const batch = 7
	w := watch(f.db)
	p := retention.New(w, retention.Options{Keep: 12 * time.Hour, Batch: batch, Clock: f.clk})

	if got := p.Prune(context.Background(), f.clk.Now()); got.Updates != 50 || got.Total() != 50 {
		t.Errorf("Prune returned %+v, want 50 updates", got)
	}
	close(w.calls)
	var calls []pruneCall
	for c := range w.calls {
		calls = append(calls, c)
	}
	// 7 full batches of 7, then one of 1.
	if len(calls) != 8 {
		t.Errorf("Prune made %d store calls, want 8: %+v", len(calls), calls)
	}
	for i, c := range calls {
		if c.req.Max != batch || c.n() > batch || c.err != nil {
			t.Errorf("call %d: %+v, want at most %d deleted", i, c, batch)
		}
	}
	if n := deleted(calls); n != 50 {
		t.Errorf("the store deleted %d, want 50", n)
	}
	if got := len(f.feed(t, ref.ID)); got != 0 {
		t.Errorf("feed holds %d updates, want none", got)
	}
}

// TestPruner_StartPrunesAManyBatchBacklogAtOnce: the prune at Start clears a backlog
// larger than one batch, and what was delivered stays only while it is newer than Keep.
func TestPruner_StartPrunesAManyBatchBacklogAtOnce(t *testing.T) {
	f := newFixture(t)
	old := f.create(t, "MSCU1234566", "")
	f.pollDays(t, 8, 6, old) // 48 updates at day 0..7
	fresh := f.create(t, "CSQU3054383", "")
	f.pollDays(t, 2, 1, old, fresh) // 2 more each at day 8..9; now is day 10

	w := watch(f.db)
	// The cutoff is day 8: the 48 updates of day 0..7 go, 9 batches of 5 and one of 3.
	p := retention.New(w, retention.Options{Keep: 2 * day, Every: time.Hour, Batch: 5, Clock: f.clk})
	p.Start(context.Background())
	calls := w.nextPrune(t)
	if n := deleted(calls); n != 48 || len(calls) != 10 {
		t.Errorf("the first prune deleted %d in %d calls, want 48 in 10 batches of at most 5", n, len(calls))
	}
	if got := len(f.feed(t, old.ID)); got != 2 {
		t.Errorf("old feed holds %d, want the 2 newer than Keep", got)
	}
	if got := len(f.feed(t, fresh.ID)); got != 2 {
		t.Errorf("fresh feed holds %d, want 2", got)
	}
	stop(t, p, context.Background())
}

// blockingStore is a store whose prune hangs until its context ends.
type blockingStore struct {
	started chan struct{}
	ended   chan error
}

func (b *blockingStore) Prune(ctx context.Context, _ references.PruneRequest) (references.PruneCounts, error) {
	b.started <- struct{}{}
	<-ctx.Done()
	b.ended <- ctx.Err()
	return references.PruneCounts{}, ctx.Err()
}

// TestPruner_StopCancelsAStuckPruneWhenItsContextEnds: Stop waits for a prune under
// way only until its context is done; then the prune is cancelled and Stop returns.
func TestPruner_StopCancelsAStuckPruneWhenItsContextEnds(t *testing.T) {
	clk := clock.NewFake(start)
	s := &blockingStore{started: make(chan struct{}, 1), ended: make(chan error, 1)}
	p := retention.New(s, retention.Options{Clock: clk})
	p.Start(context.Background())
	<-s.started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stop(t, p, ctx)
	select {
	case err := <-s.ended:
		if err == nil {
			t.Error("the stuck prune ended without its context being cancelled")
		}
	default:
		t.Error("Stop returned while the prune still ran")
	}
}
