package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
)

// What the conformance suite cannot see: several instances (several *DB, each with a
// pool of its own) on one database, and leases decided by the database's clock.

// instancesBundle is one database and the instances open on it.
type instancesBundle struct {
	ctx       context.Context
	instances []*DB
}

// setupInstances opens n instances on a new database, on clk (nil: the database's
// clock), with the account "acct".
func setupInstances(t *testing.T, n int, clk clock.Clock) *instancesBundle {
	t.Helper()
	url := pgtest.NewDatabase(t)
	b := &instancesBundle{ctx: t.Context()}
	for i := range n {
		db, err := Open(b.ctx, url, Options{Clock: clk, MaxConns: 8, ApplicationName: fmt.Sprintf("instance-%d", i)})
		if err != nil {
			t.Fatalf("open instance %d: %v", i, err)
		}
		t.Cleanup(func() { db.Close() })
		b.instances = append(b.instances, db)
	}
	if _, err := b.instances[0].EnsureAccount(b.ctx, "acct", "whsec_first", time.Now()); err != nil {
		t.Fatalf("EnsureAccount: %v", err)
	}
	return b
}

// referenceWithUpdates creates a reference with a callback and records a poll of it
// (by instance 0) that appends n updates, and returns the reference as stored.
func (b *instancesBundle) referenceWithUpdates(t *testing.T, i, n int) references.Reference {
	t.Helper()
	db := b.instances[0]
	now := time.Now().UTC()
	ref, _, err := db.CreateReference(b.ctx, references.Reference{
		ID: fmt.Sprintf("ref_%03d", i), AccountID: "acct", ContainerID: fmt.Sprintf("MSCU%07d", i), CarrierCode: "MSCU",
		CallbackURL: "https://receiver.example/hook", Status: references.StatusActive,
		PollInterval: references.Duration(time.Hour), CreatedAt: now, UpdatedAt: now, NextPollAt: &now,
	}, references.CreateOptions{})
	if err != nil {
		t.Fatalf("CreateReference: %v", err)
	}
	c, err := db.ClaimPoll(b.ctx, "poller", ref.ID, time.Minute)
	if err != nil {
		t.Fatalf("ClaimPoll: %v", err)
	}
	res := references.PollResult{PolledAt: now, NextPollAt: now.Add(time.Hour)}
	for range n {
		res.Updates = append(res.Updates, references.Update{
			ID: references.NewID("upd_"), Type: references.UpdateShipment, CreatedAt: now,
			Changes: []references.Change{{Type: references.ChangeStatusChanged, Description: "status changed"}},
		})
	}
	if ref, err = db.RecordPoll(b.ctx, c.Lease, res); err != nil {
		t.Fatalf("RecordPoll: %v", err)
	}
	return ref
}

// delivered is the record of a job's attempt, delivered.
func delivered(job references.DeliveryJob) references.DeliveryAttempt {
	return references.DeliveryAttempt{
		Destination: references.DestinationCallback, ReferenceID: job.Reference.ID, UpdateID: job.Update.ID,
		Sequence: job.Update.Sequence, Attempt: job.Attempt, URL: job.Reference.CallbackURL,
		At: time.Now().UTC(), StatusCode: 204, Outcome: references.OutcomeDelivered, Redelivery: job.Redelivery,
	}
}

func TestDeliveries_InstancesClaimingAtOnceNeverGetTheSameWork(t *testing.T) {
	pgtest.ServerURL(t)
	b := setupInstances(t, 2, nil)
	want := map[string]bool{}
	for i := range 24 {
		ref := b.referenceWithUpdates(t, i, 2)
		want[references.DeliveryLeaseKey(references.DestinationCallback, ref.ID)] = true
		if i%2 == 0 {
			ups, err := b.instances[0].ListUpdates(b.ctx, "acct", ref.ID, 0, 1)
			if err != nil || len(ups) != 1 {
				t.Fatalf("ListUpdates = %d, %v", len(ups), err)
			}
			if err := b.instances[0].RequestRedelivery(b.ctx, "acct", ref.ID, ups[0].ID, time.Now()); err != nil {
				t.Fatalf("RequestRedelivery: %v", err)
			}
			want[references.RedeliveryLeaseKey(references.DestinationCallback, ref.ID, ups[0].ID)] = true
		}
	}

	var mu sync.Mutex
	holder := map[string]string{}
	var wg sync.WaitGroup
	for i, db := range b.instances {
		for w := range 4 {
			owner := fmt.Sprintf("instance-%d/worker-%d", i, w)
			wg.Go(func() {
				for {
					claims, err := db.ClaimDueDeliveries(b.ctx, owner, 3, time.Minute)
					if err != nil {
						t.Errorf("%s: ClaimDueDeliveries: %v", owner, err)
						return
					}
					if len(claims) == 0 {
						return
					}
					mu.Lock()
					for _, c := range claims {
						if prev, ok := holder[c.Lease.Key]; ok {
							t.Errorf("%s claimed by %s and %s", c.Lease.Key, prev, owner)
						}
						holder[c.Lease.Key] = owner
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for key := range want {
		if _, ok := holder[key]; !ok {
			t.Errorf("%s was never claimed", key)
		}
	}
	if len(holder) != len(want) {
		t.Errorf("%d claims, want %d", len(holder), len(want))
	}
}

func TestDeliveries_InstancesDeliverEachUpdateOnceInOrder(t *testing.T) {
	pgtest.ServerURL(t)
	b := setupInstances(t, 3, nil)
	var refs []string
	for i := range 12 {
		refs = append(refs, b.referenceWithUpdates(t, i, 3).ID)
	}

	var mu sync.Mutex
	busy := map[string]string{} // stream -> owner working it
	sent := map[string]uint64{} // stream -> last sequence sent
	var wg sync.WaitGroup
	for i, db := range b.instances {
		for w := range 3 {
			owner := fmt.Sprintf("instance-%d/worker-%d", i, w)
			wg.Go(func() {
				for {
					claims, err := db.ClaimDueDeliveries(b.ctx, owner, 2, time.Minute)
					if err != nil || len(claims) == 0 {
						if err != nil {
							t.Errorf("%s: ClaimDueDeliveries: %v", owner, err)
						}
						return
					}
					for _, c := range claims {
						deliverStream(t, db, owner, c, &mu, busy, sent)
					}
				}
			})
		}
	}
	wg.Wait()
	for _, id := range refs {
		page, err := b.instances[0].ListDeliveries(b.ctx, "acct", id, references.DeliveryQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, a := range page.Deliveries {
			got = append(got, a.Sequence)
		}
		if !slices.Equal(got, []uint64{3, 2, 1}) {
			t.Errorf("delivery log of %s (newest first) = %v, want [3 2 1]: each update once, in order", id, got)
		}
	}
}

// deliverStream delivers every job of a claimed stream as the notifier does, failing
// t when another owner works the stream at the same time or an update comes out of
// order, and releases the lease.
func deliverStream(t *testing.T, db *DB, owner string, c references.DeliveryClaim, mu *sync.Mutex, busy map[string]string, sent map[string]uint64) {
	key := c.Lease.Key
	mu.Lock()
	if prev, ok := busy[key]; ok {
		t.Errorf("%s worked by %s and %s at once", key, prev, owner)
	}
	busy[key] = owner
	mu.Unlock()
	defer func() {
		mu.Lock()
		delete(busy, key)
		mu.Unlock()
		if err := db.ReleaseLease(context.WithoutCancel(t.Context()), c.Lease); err != nil {
			t.Errorf("ReleaseLease: %v", err)
		}
	}()
	for job := c.Job; ; {
		mu.Lock()
		if job.Update.Sequence != sent[key]+1 {
			t.Errorf("%s: update %d handed out after %d", key, job.Update.Sequence, sent[key])
		}
		sent[key] = job.Update.Sequence
		mu.Unlock()
		if _, err := db.RecordAttempt(t.Context(), c.Lease, job, delivered(job), ""); err != nil {
			t.Errorf("%s: RecordAttempt: %v", owner, err)
			return
		}
		next, err := db.NextDelivery(t.Context(), c.Lease)
		if errors.Is(err, references.ErrNothingToDeliver) {
			return
		}
		if err != nil {
			t.Errorf("%s: NextDelivery: %v", owner, err)
			return
		}
		job = next
	}
}

func TestDeliveries_AnAttemptAfterTheLeaseRanOutByTheDatabaseClockIsRefused(t *testing.T) {
	pgtest.ServerURL(t)
	b := setupInstances(t, 2, nil) // no test clock: the database's now() decides
	first, second := b.instances[0], b.instances[1]
	ref := b.referenceWithUpdates(t, 1, 1)

	claims, err := first.ClaimDueDeliveries(b.ctx, "instance-0", 10, 30*time.Second)
	if err != nil || len(claims) != 1 {
		t.Fatalf("ClaimDueDeliveries = %d claims, %v; want the stream", len(claims), err)
	}
	old := claims[0]
	if again, err := second.ClaimDueDeliveries(b.ctx, "instance-1", 10, 30*time.Second); err != nil || len(again) != 0 {
		t.Fatalf("second instance's claim during the lease = %d claims, %v; want none", len(again), err)
	}

	// The lease runs out by the database's clock: its end is now in the past there,
	// whatever the instances' clocks say.
	if _, err := first.pool.Exec(b.ctx, "UPDATE delivery_streams SET lease_until = now() - interval '1 second'"); err != nil {
		t.Fatal(err)
	}
	_, err = first.RecordAttempt(b.ctx, old.Lease, old.Job, delivered(old.Job), "")
	if !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("RecordAttempt after the lease ran out: %v, want ErrLeaseLost", err)
	}
	if _, err := first.RenewLease(b.ctx, old.Lease, 30*time.Second); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("RenewLease after the lease ran out: %v, want ErrLeaseLost", err)
	}

	fresh, err := second.ClaimDueDeliveries(b.ctx, "instance-1", 10, 30*time.Second)
	if err != nil || len(fresh) != 1 || fresh[0].Lease.Token == old.Lease.Token || fresh[0].Job.Update.Sequence != 1 {
		t.Fatalf("second instance's claim after the lease ran out = %+v, %v; want update 1 under a new token", fresh, err)
	}
	_, err = first.RecordAttempt(b.ctx, old.Lease, old.Job, delivered(old.Job), "")
	if !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("RecordAttempt under the old lease once another instance holds the stream: %v, want ErrLeaseLost", err)
	}
	if err := first.PostponeDelivery(b.ctx, old.Lease, time.Now().Add(time.Hour)); !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("PostponeDelivery under the old lease: %v, want ErrLeaseLost", err)
	}
	if got, err := second.RecordAttempt(b.ctx, fresh[0].Lease, fresh[0].Job, delivered(fresh[0].Job), ""); err != nil || got.DeliveredSequence != 1 {
		t.Fatalf("RecordAttempt by the holder = delivered %d, %v; want 1", got.DeliveredSequence, err)
	}
	page, err := first.ListDeliveries(b.ctx, "acct", ref.ID, references.DeliveryQuery{Limit: 10})
	if err != nil || len(page.Deliveries) != 1 {
		t.Fatalf("delivery log = %d entries, %v; want only the holder's attempt", len(page.Deliveries), err)
	}
}
