package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// pushRef creates an active reference with a callback, due now, and records a poll
// that brings it the updates with the given ids: they are pending delivery.
func pushRef(t *testing.T, db *DB, container string, now time.Time, updateIDs ...string) references.Reference {
	t.Helper()
	ref := mustCreate(t, db, withCallback(newRef("a", container, now), "https://example.com/hook"))
	if len(updateIDs) == 0 {
		return ref
	}
	res := quietPoll(now, now.Add(time.Hour))
	for _, id := range updateIDs {
		res.Updates = append(res.Updates, references.Update{ID: id, Type: references.UpdateShipment, CreatedAt: now})
	}
	got, err := recordPoll(t, db, ref.ID, res)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// deliverAll claims refID's stream and records every pending update as delivered.
func deliverAll(t *testing.T, db *DB, refID string) {
	t.Helper()
	ctx := context.Background()
	c := claimDelivery(t, db, refID)
	job := c.Job
	for {
		if _, err := db.RecordAttempt(ctx, c.Lease, job, attempt(job, references.OutcomeDelivered, db.clock.Now()), ""); err != nil {
			t.Fatal(err)
		}
		var err error
		job, err = db.NextDelivery(ctx, c.Lease)
		if errors.Is(err, references.ErrNothingToDeliver) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	release(t, db, c.Lease)
}

// claimedRefs returns the ids of the references of claims, in order.
func claimedRefs(claims []references.DeliveryClaim) []string {
	ids := []string{}
	for _, c := range claims {
		ids = append(ids, c.Job.Reference.ID)
	}
	return ids
}

func TestRecordPoll_UnderALeaseThatRanOutIsRefusedAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := mustCreate(t, db, withCallback(newRef("a", "MSCU1234566", now), "https://example.com/hook"))
	claims, err := db.ClaimDuePolls(ctx, "worker-1", 10, time.Minute)
	if err != nil || len(claims) != 1 || claims[0].Reference.ID != ref.ID {
		t.Fatalf("claim: %+v, %v", claims, err)
	}
	lost := claims[0].Lease
	if lost.Owner != "worker-1" || lost.Key != references.PollLeaseKey(ref.ID) || !lost.Until.Equal(now.Add(time.Minute)) {
		t.Fatalf("lease: %+v", lost)
	}
	clock.Advance(time.Minute) // the lease ends at its Until

	changed := references.PollResult{
		PolledAt: now, NextPollAt: now.Add(time.Hour),
		Shipment: &references.Shipment{Status: references.ShipmentBooked},
		Updates:  []references.Update{{ID: "upd_1", Type: references.UpdateShipment, CreatedAt: now}},
	}
	for name, res := range map[string]references.PollResult{"changed": changed, "unchanged": quietPoll(now, now.Add(time.Hour))} {
		before := lastTx(t, db)
		if _, err := db.RecordPoll(ctx, lost, res); !errors.Is(err, references.ErrLeaseLost) {
			t.Fatalf("%s poll under a lease that ran out: got %v, want ErrLeaseLost", name, err)
		}
		if n := lastTx(t, db) - before; n != 0 {
			t.Fatalf("a refused %s poll committed %d transactions", name, n)
		}
	}
	got, err := db.GetReference(ctx, "a", ref.ID)
	if err != nil || got.LastSequence != 0 || got.LastPolledAt != nil || !got.NextPollAt.Equal(now) {
		t.Fatalf("reference after refused polls: %+v, %v", got, err)
	}
	if s, _ := db.Shipment(ctx, ref.ID); s != nil {
		t.Fatalf("a refused poll stored a snapshot: %+v", s)
	}
	if ups, _ := db.ListUpdates(ctx, "a", ref.ID, 0, 10); len(ups) != 0 {
		t.Fatalf("a refused poll appended to the feed: %+v", ups)
	}
	if ids := dueDeliveries(t, db, 10); len(ids) != 0 {
		t.Fatalf("a refused poll queued deliveries: %v", ids)
	}
	if _, err := db.RenewLease(ctx, lost, time.Minute); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("renew of a lease that ran out: got %v, want ErrLeaseLost", err)
	}

	// The poll is still due, and another owner gets it; the old lease stays refused.
	claims, err = db.ClaimDuePolls(ctx, "worker-2", 10, time.Minute)
	if err != nil || len(claims) != 1 || claims[0].Reference.ID != ref.ID || claims[0].Lease.Token == lost.Token {
		t.Fatalf("claim by another owner after the lease ran out: %+v, %v", claims, err)
	}
	if _, err := db.RecordPoll(ctx, lost, changed); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("poll under a lease granted again to another owner: got %v, want ErrLeaseLost", err)
	}
	// A lease of the same key and token under another owner's name is not the lease.
	forged := claims[0].Lease
	forged.Owner = "worker-1"
	if _, err := db.RecordPoll(ctx, forged, changed); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("poll under another owner's lease: got %v, want ErrLeaseLost", err)
	}
	if got, err := db.RecordPoll(ctx, claims[0].Lease, changed); err != nil || got.LastSequence != 1 {
		t.Fatalf("poll under the live lease: %+v, %v", got, err)
	}
	// Recording ends the lease: recording twice is refused.
	if _, err := db.RecordPoll(ctx, claims[0].Lease, changed); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("a second record under the same lease: got %v, want ErrLeaseLost", err)
	}
	if got, _ := db.Reference(ctx, ref.ID); got.LastSequence != 1 {
		t.Fatalf("feed after a refused second record: last sequence %d", got.LastSequence)
	}
	// A lease of another kind of work is not a poll's.
	if _, err := db.RecordPoll(ctx, references.Lease{Key: references.DeliveryLeaseKey(references.DestinationCallback, ref.ID)}, changed); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("poll under a delivery lease: got %v, want ErrLeaseLost", err)
	}
}

func TestRecordAttempt_UnderALeaseThatRanOutIsRefusedAndNotLogged(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := pushRef(t, db, "MSCU1234566", now, "upd_1", "upd_2")
	claims := claimDue(t, db, 10)
	if len(claims) != 1 {
		t.Fatalf("claims: %+v", claims)
	}
	c := claims[0]
	if c.Lease.Key != references.DeliveryLeaseKey(references.DestinationCallback, ref.ID) || c.Job.Destination != references.DestinationCallback {
		t.Fatalf("claim: lease %+v destination %q", c.Lease, c.Job.Destination)
	}
	clock.Advance(2 * time.Minute)

	before := lastTx(t, db)
	if _, err := db.RecordAttempt(ctx, c.Lease, c.Job, attempt(c.Job, references.OutcomeDelivered, now), ""); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("attempt under a lease that ran out: got %v, want ErrLeaseLost", err)
	}
	if _, err := db.NextDelivery(ctx, c.Lease); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("next delivery under a lease that ran out: got %v, want ErrLeaseLost", err)
	}
	if err := db.PostponeDelivery(ctx, c.Lease, clock.Now().Add(time.Hour)); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("postpone under a lease that ran out: got %v, want ErrLeaseLost", err)
	}
	if n := lastTx(t, db) - before; n != 0 {
		t.Fatalf("refused work committed %d transactions", n)
	}
	if page, _ := db.ListDeliveries(ctx, "a", ref.ID, references.DeliveryQuery{Limit: 10}); len(page.Deliveries) != 0 {
		t.Fatalf("a refused attempt was logged: %+v", page.Deliveries)
	}
	// Nothing moved: the same update is due now, first attempt, for the next claimer.
	claims = claimDue(t, db, 10)
	if len(claims) != 1 || claims[0].Job.Update.ID != "upd_1" || claims[0].Job.Attempt != 1 {
		t.Fatalf("claim after the refused attempt: %+v", claims)
	}
	if got, err := db.RecordAttempt(ctx, claims[0].Lease, claims[0].Job, attempt(claims[0].Job, references.OutcomeDelivered, now), ""); err != nil || got.DeliveredSequence != 1 {
		t.Fatalf("attempt under the new lease: %+v, %v", got, err)
	}
	// The old lease stays lost after the key was granted again.
	if _, err := db.RecordAttempt(ctx, c.Lease, claims[0].Job, attempt(claims[0].Job, references.OutcomeDelivered, now), ""); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("attempt under the old lease after a new grant: got %v, want ErrLeaseLost", err)
	}
}

func TestRenewLease_KeepsTheClaimAndOthersAreBusy(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", now))
	claim, err := db.ClaimPoll(ctx, "worker-1", ref.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ClaimPoll(ctx, "worker-2", ref.ID, time.Minute); !errors.Is(err, references.ErrBusy) {
		t.Fatalf("claim of a leased poll: got %v, want ErrBusy", err)
	}
	if ids := duePolls(t, db, 10); len(ids) != 0 {
		t.Fatalf("a leased poll was claimed as due: %v", ids)
	}
	clock.Advance(50 * time.Second)
	renewed, err := db.RenewLease(ctx, claim.Lease, time.Minute)
	if err != nil || !renewed.Until.Equal(clock.Now().Add(time.Minute)) || renewed.Token != claim.Lease.Token {
		t.Fatalf("renew: %+v, %v", renewed, err)
	}
	clock.Advance(50 * time.Second) // past the first Until, before the renewed one
	if _, err := db.ClaimPoll(ctx, "worker-2", ref.ID, time.Minute); !errors.Is(err, references.ErrBusy) {
		t.Fatalf("claim of a renewed lease: got %v, want ErrBusy", err)
	}
	if got, err := db.RecordPoll(ctx, renewed, quietPoll(clock.Now(), clock.Now().Add(time.Hour))); err != nil || got.LastPolledAt == nil {
		t.Fatalf("record under the renewed lease: %+v, %v", got, err)
	}
	if _, err := db.RenewLease(ctx, renewed, time.Minute); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("renew of a recorded lease: got %v, want ErrLeaseLost", err)
	}
}

func TestReleaseLease_MakesTheWorkClaimableAtOnce(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := pushRef(t, db, "MSCU1234566", now, "upd_1")
	clock.Advance(time.Hour) // its next poll is due

	polls, err := db.ClaimDuePolls(ctx, "worker-1", 10, time.Hour)
	if err != nil || len(polls) != 1 {
		t.Fatalf("poll claim: %+v, %v", polls, err)
	}
	deliveries, err := db.ClaimDueDeliveries(ctx, "worker-1", 10, time.Hour)
	if err != nil || len(deliveries) != 1 {
		t.Fatalf("delivery claim: %+v, %v", deliveries, err)
	}
	if p, _ := db.ClaimDuePolls(ctx, "worker-2", 10, time.Minute); len(p) != 0 {
		t.Fatalf("a leased poll was claimed again: %+v", p)
	}
	if d, _ := db.ClaimDueDeliveries(ctx, "worker-2", 10, time.Minute); len(d) != 0 {
		t.Fatalf("a leased stream was claimed again: %+v", d)
	}
	// Shutdown: worker-1 gives its work back. The clock does not move.
	for _, l := range []references.Lease{polls[0].Lease, deliveries[0].Lease} {
		if err := db.ReleaseLease(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	p, err := db.ClaimDuePolls(ctx, "worker-2", 10, time.Minute)
	if err != nil || len(p) != 1 || p[0].Reference.ID != ref.ID || p[0].Lease.Owner != "worker-2" {
		t.Fatalf("poll claim after release: %+v, %v", p, err)
	}
	d, err := db.ClaimDueDeliveries(ctx, "worker-2", 10, time.Minute)
	if err != nil || len(d) != 1 || d[0].Job.Update.ID != "upd_1" || d[0].Job.Attempt != 1 {
		t.Fatalf("delivery claim after release: %+v, %v", d, err)
	}
	// The released leases are lost: nothing is recorded under them, and releasing
	// them again does not end worker-2's leases.
	if _, err := db.RecordPoll(ctx, polls[0].Lease, quietPoll(now, now.Add(time.Hour))); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("poll under a released lease: got %v, want ErrLeaseLost", err)
	}
	if _, err := db.RecordAttempt(ctx, deliveries[0].Lease, deliveries[0].Job, attempt(deliveries[0].Job, references.OutcomeDelivered, now), ""); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("attempt under a released lease: got %v, want ErrLeaseLost", err)
	}
	for _, l := range []references.Lease{polls[0].Lease, deliveries[0].Lease} {
		if err := db.ReleaseLease(ctx, l); err != nil {
			t.Fatalf("release of a lost lease: %v", err)
		}
	}
	if p, _ := db.ClaimDuePolls(ctx, "worker-3", 10, time.Minute); len(p) != 0 {
		t.Fatalf("releasing a lost lease freed another owner's poll: %+v", p)
	}
	if d, _ := db.ClaimDueDeliveries(ctx, "worker-3", 10, time.Minute); len(d) != 0 {
		t.Fatalf("releasing a lost lease freed another owner's stream: %+v", d)
	}
}

func TestClaimDueDeliveries_NeverHandsOutAStreamLeasedToAnotherOwner(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	busy := pushRef(t, db, "MSCU1234566", now, "upd_b1", "upd_b2", "upd_b3")
	free := pushRef(t, db, "CSQU3054383", now, "upd_f1")

	c, err := db.ClaimDelivery(ctx, "worker-1", busy.ID, time.Minute)
	if err != nil || c.Job.Update.ID != "upd_b1" {
		t.Fatalf("claim on demand: %+v, %v", c, err)
	}
	if _, err := db.ClaimDelivery(ctx, "worker-2", busy.ID, time.Minute); !errors.Is(err, references.ErrBusy) {
		t.Fatalf("claim on demand of a leased stream: got %v, want ErrBusy", err)
	}
	got := claimDue(t, db, 10)
	if ids := claimedRefs(got); len(ids) != 1 || ids[0] != free.ID {
		t.Fatalf("claimed %v, want only %s", ids, free.ID)
	}
	release(t, db, got[0].Lease)
	// worker-1 works through the stream under its lease: its next updates are due at
	// once, and still not handed to anyone else.
	job := c.Job
	for _, want := range []string{"upd_b1", "upd_b2"} {
		if job.Update.ID != want {
			t.Fatalf("worker-1's job: %s, want %s", job.Update.ID, want)
		}
		if _, err := db.RecordAttempt(ctx, c.Lease, job, attempt(job, references.OutcomeDelivered, now), ""); err != nil {
			t.Fatal(err)
		}
		for _, owner := range []string{"worker-2", "worker-1"} {
			d, err := db.ClaimDueDeliveries(ctx, owner, 10, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range d {
				if x.Job.Reference.ID == busy.ID {
					t.Fatalf("%s was handed the stream worker-1 holds: %+v", owner, x.Job.Update)
				}
				release(t, db, x.Lease)
			}
		}
		if job, err = db.NextDelivery(ctx, c.Lease); err != nil {
			t.Fatal(err)
		}
	}
	// A failed attempt makes the update due later; the stream is still leased until then.
	retry := now.Add(30 * time.Second)
	a := attempt(job, references.OutcomeFailed, now)
	a.NextRetryAt = &retry
	if _, err := db.RecordAttempt(ctx, c.Lease, job, a, ""); err != nil {
		t.Fatal(err)
	}
	clock.Set(retry)
	d, err := db.ClaimDueDeliveries(ctx, "worker-2", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range d {
		if x.Job.Reference.ID == busy.ID {
			t.Fatalf("a stream leased to worker-1 was claimed at its retry time: %+v", x.Job.Update)
		}
		release(t, db, x.Lease)
	}
	// Once worker-1's lease runs out, the stream goes to another owner, where it stood.
	clock.Set(c.Lease.Until)
	d, err = db.ClaimDueDeliveries(ctx, "worker-2", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var taken *references.DeliveryClaim
	for i := range d {
		if d[i].Job.Reference.ID == busy.ID {
			taken = &d[i]
		}
	}
	if taken == nil || taken.Job.Update.ID != "upd_b3" || taken.Job.Attempt != 2 || taken.Lease.Owner != "worker-2" {
		t.Fatalf("claim after worker-1's lease ran out: %+v", d)
	}
	if _, err := db.RecordAttempt(ctx, c.Lease, job, attempt(job, references.OutcomeDelivered, now), ""); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("worker-1's attempt after its lease went to worker-2: got %v, want ErrLeaseLost", err)
	}
}

// TestClaims_AStaleListDoesNotHandOutRecordedWorkAgain plays a claim that read the
// due work (the schedule, the outbox) before the work was recorded and released, and
// grants after: the work is done, so it must not be handed out again (see leases).
func TestClaims_AStaleListDoesNotHandOutRecordedWorkAgain(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := pushRef(t, db, "MSCU1234566", now, "upd_1")
	clock.Advance(time.Hour) // its next poll is due
	now = clock.Now()

	t.Run("poll", func(t *testing.T) {
		polls, err := db.ClaimDuePolls(ctx, "worker-1", 10, time.Minute)
		if err != nil || len(polls) != 1 {
			t.Fatalf("claim: %+v, %v", polls, err)
		}
		mark := db.leases.begin() // worker-2's claim starts reading ...
		if ids := db.sched.due(now, 10); len(ids) != 1 || ids[0] != ref.ID {
			t.Fatalf("due: %v", ids) // ... and sees the poll due
		}
		// Meanwhile worker-1 records its poll, which releases its lease.
		if _, err := db.RecordPoll(ctx, polls[0].Lease, quietPoll(now, now.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		if l, ok := db.leases.grant(references.PollLeaseKey(ref.ID), "worker-2", now, now.Add(time.Minute), mark); ok {
			t.Fatalf("a claim that read before the record was granted the poll again: %+v", l)
		}
		db.leases.end()
		if p, _ := db.ClaimDuePolls(ctx, "worker-2", 10, time.Minute); len(p) != 0 {
			t.Fatalf("a recorded poll was claimed: %+v", p)
		}
	})

	t.Run("delivery", func(t *testing.T) {
		d, err := db.ClaimDueDeliveries(ctx, "worker-1", 10, time.Minute)
		if err != nil || len(d) != 1 {
			t.Fatalf("claim: %+v, %v", d, err)
		}
		mark := db.leases.begin()
		var listed []string // worker-2's claim reads the outbox
		if err := db.bolt.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketOutbox).Cursor()
			for k, _ := c.First(); k != nil && bytes.Compare(k[:8], timeKey(now)) <= 0; k, _ = c.Next() {
				dest, stream, _ := parseOutboxKey(k)
				listed = append(listed, dest+"/"+stream)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(listed) != 1 || listed[0] != references.DestinationCallback+"/"+ref.ID {
			t.Fatalf("outbox: %v", listed)
		}
		// Meanwhile worker-1 delivers the only update, finds nothing more, and releases.
		job := d[0].Job
		if _, err := db.RecordAttempt(ctx, d[0].Lease, job, attempt(job, references.OutcomeDelivered, now), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.NextDelivery(ctx, d[0].Lease); !errors.Is(err, references.ErrNothingToDeliver) {
			t.Fatalf("after the only update: %v", err)
		}
		release(t, db, d[0].Lease)
		key := references.DeliveryLeaseKey(references.DestinationCallback, ref.ID)
		if l, ok := db.leases.grant(key, "worker-2", now, now.Add(time.Minute), mark); ok {
			t.Fatalf("a claim that read before the attempt was granted the stream again: %+v", l)
		}
		db.leases.end()
		if d := claimDue(t, db, 10); len(d) != 0 {
			t.Fatalf("a delivered update was claimed: %+v", d)
		}
		if page, _ := db.ListDeliveries(ctx, "a", ref.ID, references.DeliveryQuery{Limit: 10}); len(page.Deliveries) != 1 {
			t.Fatalf("%d attempts logged, want 1", len(page.Deliveries))
		}
	})

	// Once no claim is reading, nothing is remembered and nothing more is refused.
	if n := len(db.leases.releasedAt); n != 0 {
		t.Fatalf("%d releases remembered with no claim running", n)
	}
	mark := db.leases.begin()
	defer db.leases.end()
	if _, ok := db.leases.grant(references.PollLeaseKey(ref.ID), "worker-2", now, now.Add(time.Minute), mark); !ok {
		t.Fatal("a claim that started after the release was refused")
	}
}

// TestClaims_ConcurrentOwnersDoEachPieceOfWorkOnce runs several owners claiming and
// recording polls, then deliveries, at the same time, on a clock that does not move
// (no lease runs out): each poll is recorded once and each update delivered once, and
// no stream is held by two owners at a time.
func TestClaims_ConcurrentOwnersDoEachPieceOfWorkOnce(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	const refs, owners = 60, 6
	var ids []string
	for i := range refs {
		ids = append(ids, mustCreate(t, db, withCallback(newRef("a", fmt.Sprintf("CONC%07d", i), now), "https://example.com/hook")).ID)
	}

	var mu sync.Mutex
	polled := map[string]int{}
	var polls atomic.Int64
	var failed atomic.Bool // stops every owner, so that none waits for work never released
	run := func(work func(owner string) (int, error), done func() bool) {
		var wg sync.WaitGroup
		for w := range owners {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("worker-%d", w)
				for !done() && !failed.Load() {
					n, err := work(owner)
					if err != nil {
						failed.Store(true)
						t.Error(err)
						return
					}
					if n == 0 {
						runtime.Gosched()
					}
				}
			}()
		}
		wg.Wait()
	}

	run(func(owner string) (int, error) {
		claims, err := db.ClaimDuePolls(ctx, owner, 4, time.Minute)
		if err != nil {
			return 0, err
		}
		for _, c := range claims {
			res := quietPoll(now, now.Add(time.Hour))
			res.Updates = []references.Update{{Type: references.UpdateShipment, CreatedAt: now}}
			if _, err := db.RecordPoll(ctx, c.Lease, res); err != nil {
				return 0, err
			}
			mu.Lock()
			polled[c.Reference.ID]++
			mu.Unlock()
			polls.Add(1)
		}
		return len(claims), nil
	}, func() bool { return polls.Load() >= refs })
	if failed.Load() {
		t.FailNow()
	}
	for _, id := range ids {
		if polled[id] != 1 {
			t.Errorf("%s polled %d times", id, polled[id])
		}
		if got, _ := db.Reference(ctx, id); got.LastSequence != 1 {
			t.Errorf("%s has %d updates, want 1", id, got.LastSequence)
		}
	}

	holder := map[string]string{}
	delivered := map[string]int{}
	var deliveries atomic.Int64
	run(func(owner string) (int, error) {
		claims, err := db.ClaimDueDeliveries(ctx, owner, 4, time.Minute)
		if err != nil {
			return 0, err
		}
		for _, c := range claims {
			id := c.Job.Reference.ID
			mu.Lock()
			if h, ok := holder[id]; ok {
				mu.Unlock()
				return 0, fmt.Errorf("%s was handed %s, which %s holds", owner, id, h)
			}
			holder[id] = owner
			mu.Unlock()
			job := c.Job
			for {
				if _, err := db.RecordAttempt(ctx, c.Lease, job, attempt(job, references.OutcomeDelivered, now), ""); err != nil {
					return 0, err
				}
				mu.Lock()
				delivered[job.Update.ID]++
				mu.Unlock()
				deliveries.Add(1)
				job, err = db.NextDelivery(ctx, c.Lease)
				if errors.Is(err, references.ErrNothingToDeliver) {
					break
				}
				if err != nil {
					return 0, err
				}
			}
			mu.Lock()
			delete(holder, id) // before the release: the next holder comes after it
			mu.Unlock()
			if err := db.ReleaseLease(ctx, c.Lease); err != nil {
				return 0, err
			}
		}
		return len(claims), nil
	}, func() bool { return deliveries.Load() >= refs })
	if len(delivered) != refs {
		t.Errorf("%d updates delivered, want %d", len(delivered), refs)
	}
	for id, n := range delivered {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if p := duePolls(t, db, 10); len(p) != 0 {
		t.Errorf("polls due after all were recorded: %v", p)
	}
	if d := dueDeliveries(t, db, 10); len(d) != 0 {
		t.Errorf("deliveries due after all were made: %v", d)
	}
}

// pruneFromFeed removes an update from the feed as retention did before it kept the
// updates queued for redelivery.
func pruneFromFeed(t *testing.T, db *DB, refID string, seq uint64) {
	t.Helper()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		key := updateKey(refID, seq)
		if tx.Bucket(bucketUpdates).Get(key) == nil {
			return fmt.Errorf("no update %d of %s", seq, refID)
		}
		return tx.Bucket(bucketUpdates).Delete(key)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestClaimDueDeliveries_DropsARedeliveryOfAPrunedUpdateAndClaimsTheRest(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	old := pushRef(t, db, "MSCU1234566", now, "upd_1", "upd_2")
	deliverAll(t, db, old.ID)
	for _, id := range []string{"upd_1", "upd_2"} {
		if err := db.RequestRedelivery(ctx, "a", old.ID, id, now); err != nil {
			t.Fatal(err)
		}
	}
	pruneFromFeed(t, db, old.ID, 1)
	pending := pushRef(t, db, "CSQU3054383", now, "upd_p1")
	clock.Advance(time.Second)

	// The redelivery of the pruned update comes first in the queue; it takes no place
	// in the claim and stops nothing behind it.
	first := claimDue(t, db, 1)
	if len(first) != 1 || !first[0].Job.Redelivery || first[0].Job.Update.ID != "upd_2" {
		t.Fatalf("claim of 1: %+v", first)
	}
	rest := claimDue(t, db, 10)
	if len(rest) != 1 || rest[0].Job.Redelivery || rest[0].Job.Reference.ID != pending.ID || rest[0].Job.Update.ID != "upd_p1" {
		t.Fatalf("claim of the rest: %+v", rest)
	}
	page, err := db.ListDeliveries(ctx, "a", old.ID, references.DeliveryQuery{Limit: 10})
	if err != nil || len(page.Deliveries) == 0 {
		t.Fatalf("delivery log: %+v, %v", page, err)
	}
	dropped := page.Deliveries[0]
	if dropped.Outcome != references.OutcomeDropped || dropped.UpdateID != "upd_1" || !dropped.Redelivery || !dropped.At.Equal(clock.Now()) || dropped.Error == "" {
		t.Fatalf("log entry of the dropped redelivery: %+v", dropped)
	}
	// It is dropped for good: no claim returns it, and it is logged once.
	for _, c := range append(first, rest...) {
		release(t, db, c.Lease)
	}
	again := claimDue(t, db, 10)
	for _, c := range again {
		if c.Job.Update.ID == "upd_1" {
			t.Fatalf("the dropped redelivery was claimed: %+v", c.Job)
		}
	}
	if len(again) != 2 {
		t.Fatalf("claims after the drop: %+v, want the redelivery of upd_2 and the pending stream", again)
	}
	page, _ = db.ListDeliveries(ctx, "a", old.ID, references.DeliveryQuery{Limit: 10})
	n := 0
	for _, a := range page.Deliveries {
		if a.Outcome == references.OutcomeDropped {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d dropped entries in the log, want 1", n)
	}
}

func TestPatchReference_KeepsAQueuedRedeliveryForTheNewURL(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := pushRef(t, db, "MSCU1234566", now, "upd_1")
	deliverAll(t, db, ref.ID)
	if err := db.RequestRedelivery(ctx, "a", ref.ID, "upd_1", now); err != nil {
		t.Fatal(err)
	}
	newURL := "https://new.example.com/hook"
	if _, err := db.PatchReference(ctx, "a", ref.ID, references.Patch{CallbackURL: &newURL}, now); err != nil {
		t.Fatal(err)
	}
	claims := claimDue(t, db, 10)
	if len(claims) != 1 {
		t.Fatalf("claims after PATCH: %+v", claims)
	}
	job := claims[0].Job
	if !job.Redelivery || job.Update.ID != "upd_1" || job.Reference.CallbackURL != newURL {
		t.Fatalf("redelivery after PATCH: %+v", job)
	}
	if _, err := db.RecordAttempt(ctx, claims[0].Lease, job, attempt(job, references.OutcomeDelivered, now), ""); err != nil {
		t.Fatal(err)
	}
	release(t, db, claims[0].Lease)
	if d := claimDue(t, db, 10); len(d) != 0 {
		t.Fatalf("still queued after the redelivery: %+v", d)
	}
}

func TestRecordAttempt_ARedeliveryToAnOldCallbackURLStaysQueuedForTheNewOne(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := pushRef(t, db, "MSCU1234566", now, "upd_1")
	deliverAll(t, db, ref.ID)
	if err := db.RequestRedelivery(ctx, "a", ref.ID, "upd_1", now); err != nil {
		t.Fatal(err)
	}
	claims := claimDue(t, db, 10)
	if len(claims) != 1 || !claims[0].Job.Redelivery {
		t.Fatalf("claims: %+v", claims)
	}
	job := claims[0].Job
	// The URL changes while the redelivery is being sent to the old one, which
	// answers 410: that is no reason to unsubscribe, nor to drop the redelivery.
	newURL := "https://new.example.com/hook"
	if _, err := db.PatchReference(ctx, "a", ref.ID, references.Patch{CallbackURL: &newURL}, now); err != nil {
		t.Fatal(err)
	}
	got, err := db.RecordAttempt(ctx, claims[0].Lease, job, attempt(job, references.OutcomeGone, now), "")
	if err != nil || !got.Active() {
		t.Fatalf("a 410 of the old URL: %+v, %v", got, err)
	}
	release(t, db, claims[0].Lease)
	page, _ := db.ListDeliveries(ctx, "a", ref.ID, references.DeliveryQuery{Limit: 1})
	if len(page.Deliveries) != 1 || page.Deliveries[0].Outcome != references.OutcomeGone {
		t.Fatalf("the old URL's attempt is not logged: %+v", page.Deliveries)
	}
	claims = claimDue(t, db, 10)
	if len(claims) != 1 || !claims[0].Job.Redelivery || claims[0].Job.Update.ID != "upd_1" || claims[0].Job.Reference.CallbackURL != newURL {
		t.Fatalf("the new URL does not get the redelivery: %+v", claims)
	}
}

func TestPruneUpdates_KeepsAnUpdateQueuedForRedelivery(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := mustCreate(t, db, withCallback(newRef("a", "MSCU1234566", now), "https://example.com/hook"))
	for i := range 3 {
		at := now.Add(time.Duration(i) * 24 * time.Hour)
		res := quietPoll(at, at)
		res.Updates = []references.Update{{ID: fmt.Sprintf("upd_%d", i+1), Type: references.UpdateShipment, CreatedAt: at}}
		if _, err := recordPoll(t, db, ref.ID, res); err != nil {
			t.Fatal(err)
		}
	}
	deliverAll(t, db, ref.ID)
	if err := db.RequestRedelivery(ctx, "a", ref.ID, "upd_1", now); err != nil {
		t.Fatal(err)
	}
	n, err := pruneUpdates(ctx, db, now.Add(36*time.Hour), 1000)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want only upd_2", n, err)
	}
	ups, _ := db.ListUpdates(ctx, "a", ref.ID, 0, 10)
	if len(ups) != 2 || ups[0].ID != "upd_1" || ups[1].ID != "upd_3" {
		t.Fatalf("feed after prune: %+v", ups)
	}
	// Once redelivered, it goes with the next prune.
	claims := claimDue(t, db, 10)
	if len(claims) != 1 || claims[0].Job.Update.ID != "upd_1" {
		t.Fatalf("redelivery claim: %+v", claims)
	}
	if _, err := db.RecordAttempt(ctx, claims[0].Lease, claims[0].Job, attempt(claims[0].Job, references.OutcomeDelivered, now), ""); err != nil {
		t.Fatal(err)
	}
	release(t, db, claims[0].Lease)
	if n, err := pruneUpdates(ctx, db, now.Add(36*time.Hour), 1000); err != nil || n != 1 {
		t.Fatalf("pruned %d after the redelivery, %v; want upd_1", n, err)
	}
}

func TestPostponeDelivery_MovesTheStreamWithoutAnAttemptAndEndsTheLease(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := pushRef(t, db, "MSCU1234566", now, "upd_1")
	claims := claimDue(t, db, 10)
	if len(claims) != 1 {
		t.Fatalf("claims: %+v", claims)
	}
	until := now.Add(time.Minute)
	if err := db.PostponeDelivery(ctx, claims[0].Lease, until); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordAttempt(ctx, claims[0].Lease, claims[0].Job, attempt(claims[0].Job, references.OutcomeDelivered, now), ""); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("attempt after postponing: got %v, want ErrLeaseLost", err)
	}
	if d := dueDeliveries(t, db, 10); len(d) != 0 {
		t.Fatalf("due before the postponed time: %v", d)
	}
	clock.Set(until)
	claims = claimDue(t, db, 10)
	if len(claims) != 1 || claims[0].Job.Reference.ID != ref.ID || claims[0].Job.Attempt != 1 {
		t.Fatalf("claim at the postponed time: %+v", claims)
	}
}
