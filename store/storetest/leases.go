package storetest

import (
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runLeases exercises the leases of claimed work: their end and hand-over to another
// owner, renewal, release, and that a lease is good for one outcome only.
func runLeases(t *testing.T, open Opener) {
	t.Run("PollLease", func(t *testing.T) {
		t.Run("ExpiredIsHandedOverAndTheOldOwnerRecordsNothing", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			old := f.claimPoll("owner-a", ref.ID)
			f.clk.Advance(leaseFor + time.Second)
			fresh := f.claimPoll("owner-b", ref.ID)
			if fresh.Lease.Owner != "owner-b" || fresh.Lease.Token == old.Lease.Token {
				t.Errorf("new lease %+v is not told apart from the old %+v", fresh.Lease, old.Lease)
			}
			_, err := f.b.RecordPoll(f.ctx, old.Lease, f.busyPoll())
			wantLeaseLost(t, "RecordPoll by the owner whose lease ran out", err)
			f.wantUnpolled(ref.ID)
			if _, err := f.b.RecordPoll(f.ctx, fresh.Lease, f.busyPoll()); err != nil {
				t.Fatalf("RecordPoll by the new owner: %v", err)
			}
		})

		t.Run("RecordRefusedOnceTheLeaseRanOutEvenIfUnclaimed", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			c := f.claimPoll("owner-a", ref.ID)
			f.clk.Advance(leaseFor + time.Second)
			_, err := f.b.RecordPoll(f.ctx, c.Lease, f.busyPoll())
			wantLeaseLost(t, "RecordPoll after the lease ran out", err)
			f.wantUnpolled(ref.ID)
		})

		t.Run("RecordedLeaseCannotBeUsedTwice", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			c := f.claimPoll("owner-a", ref.ID)
			if _, err := f.b.RecordPoll(f.ctx, c.Lease, f.busyPoll()); err != nil {
				t.Fatal(err)
			}
			_, err := f.b.RecordPoll(f.ctx, c.Lease, f.busyPoll())
			wantLeaseLost(t, "second RecordPoll under one lease", err)
			if got := f.get(acctA, ref.ID); got.LastSequence != 1 {
				t.Errorf("LastSequence = %d after a refused second record, want 1", got.LastSequence)
			}
			_, err = f.b.RenewLease(f.ctx, c.Lease, leaseFor)
			wantLeaseLost(t, "RenewLease of a recorded lease", err)
		})

		t.Run("NewGrantToTheSameOwnerRetiresTheOldOne", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			first := f.claimPoll("owner-a", ref.ID)
			f.clk.Advance(leaseFor + time.Second)
			second := f.claimPoll("owner-a", ref.ID)
			if first.Lease.Token == second.Lease.Token {
				t.Fatalf("two grants of %s have the same token %d", first.Lease.Key, first.Lease.Token)
			}
			_, err := f.b.RecordPoll(f.ctx, first.Lease, f.busyPoll())
			wantLeaseLost(t, "RecordPoll under the first grant", err)
			f.wantUnpolled(ref.ID)
			if _, err := f.b.RecordPoll(f.ctx, second.Lease, f.busyPoll()); err != nil {
				t.Fatalf("RecordPoll under the second grant: %v", err)
			}
		})

		t.Run("RenewKeepsTheClaimPastItsFirstEnd", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			c := f.claimPoll("owner-a", ref.ID)
			f.clk.Advance(leaseFor - 10*time.Second)
			renewed, err := f.b.RenewLease(f.ctx, c.Lease, leaseFor)
			if err != nil {
				t.Fatalf("RenewLease of a held lease: %v", err)
			}
			if !renewed.Until.Equal(f.now().Add(leaseFor)) || renewed.Key != c.Lease.Key || renewed.Owner != "owner-a" {
				t.Errorf("renewed lease %+v, want %s held by owner-a until %v", renewed, c.Lease.Key, f.now().Add(leaseFor))
			}
			f.clk.Advance(leaseFor - time.Second) // past the first end, before the renewed one
			f.noPollDue(ref.ID, "renewed lease still held")
			if _, err := f.b.RecordPoll(f.ctx, renewed, f.busyPoll()); err != nil {
				t.Fatalf("RecordPoll under the renewed lease: %v", err)
			}
		})

		t.Run("RenewOfALostLeaseIsRefused", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			c := f.claimPoll("owner-a", ref.ID)
			f.clk.Advance(leaseFor + time.Second)
			_, err := f.b.RenewLease(f.ctx, c.Lease, leaseFor)
			wantLeaseLost(t, "RenewLease after the lease ran out", err)
			f.claimPoll("owner-b", ref.ID)
			_, err = f.b.RenewLease(f.ctx, c.Lease, leaseFor)
			wantLeaseLost(t, "RenewLease after another owner claimed the work", err)
		})

		t.Run("ReleaseMakesTheWorkClaimableAtOnce", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			c := f.claimPoll("owner-a", ref.ID)
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
			f.claimPoll("owner-b", ref.ID)
			_, err := f.b.RecordPoll(f.ctx, c.Lease, f.busyPoll())
			wantLeaseLost(t, "RecordPoll under a released lease", err)
		})

		t.Run("ReleaseOfALostLeaseDoesNothing", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			old := f.claimPoll("owner-a", ref.ID)
			f.clk.Advance(leaseFor + time.Second)
			fresh := f.claimPoll("owner-b", ref.ID)
			if err := f.b.ReleaseLease(f.ctx, old.Lease); err != nil {
				t.Fatalf("ReleaseLease of a lost lease: %v", err)
			}
			f.noPollDue(ref.ID, "owner-b still holds it after owner-a released its lost lease")
			if _, err := f.b.RecordPoll(f.ctx, fresh.Lease, f.busyPoll()); err != nil {
				t.Fatalf("RecordPoll by owner-b: %v", err)
			}
		})
	})

	t.Run("DeliveryLease", func(t *testing.T) {
		t.Run("ExpiredIsHandedOverAndTheOldOwnerRecordsNothing", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			old := f.claimStream("owner-a", ref.ID)
			f.clk.Advance(leaseFor + time.Second)
			fresh := f.claimStream("owner-b", ref.ID)
			if fresh.Job.Update.Sequence != 1 || fresh.Lease.Token == old.Lease.Token {
				t.Errorf("hand-over: update %d, lease %+v (old %+v); want update 1 under a new token", fresh.Job.Update.Sequence, fresh.Lease, old.Lease)
			}
			_, err := f.b.RecordAttempt(f.ctx, old.Lease, old.Job, f.attempt(old.Job, references.OutcomeDelivered), "")
			wantLeaseLost(t, "RecordAttempt by the owner whose lease ran out", err)
			err = f.b.PostponeDelivery(f.ctx, old.Lease, f.now().Add(time.Hour))
			wantLeaseLost(t, "PostponeDelivery by the owner whose lease ran out", err)
			if got := f.get(acctA, ref.ID); got.DeliveredSequence != 0 {
				t.Errorf("DeliveredSequence = %d after a refused attempt, want 0", got.DeliveredSequence)
			}
			if log := f.deliveries(acctA, ref.ID); len(log) != 0 {
				t.Errorf("delivery log has %d entries after a refused attempt, want none", len(log))
			}
			if got := f.record(fresh.Lease, fresh.Job, f.attempt(fresh.Job, references.OutcomeDelivered)); got.DeliveredSequence != 1 {
				t.Errorf("DeliveredSequence = %d after owner-b delivered, want 1", got.DeliveredSequence)
			}
		})

		t.Run("RecordRefusedOnceTheLeaseRanOutEvenIfUnclaimed", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			c := f.claimStream("owner-a", ref.ID)
			f.clk.Advance(leaseFor + time.Second)
			_, err := f.b.RecordAttempt(f.ctx, c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered), "")
			wantLeaseLost(t, "RecordAttempt after the lease ran out", err)
			if log := f.deliveries(acctA, ref.ID); len(log) != 0 {
				t.Errorf("delivery log has %d entries after a refused attempt, want none", len(log))
			}
		})

		t.Run("StreamIsNotClaimedAgainBeforeTheLeaseEnds", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			f.claimStream("owner-a", ref.ID)
			f.appendUpdates(ref.ID) // a new update does not open the stream to others
			f.noDeliveryDue("stream leased to owner-a")
			f.clk.Advance(leaseFor - time.Second)
			f.noDeliveryDue("stream leased to owner-a, a second before its end")
		})

		t.Run("RenewKeepsTheStreamPastItsFirstEnd", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			c := f.claimStream("owner-a", ref.ID)
			f.clk.Advance(leaseFor - time.Second)
			renewed, err := f.b.RenewLease(f.ctx, c.Lease, 2*leaseFor)
			if err != nil || !renewed.Until.Equal(f.now().Add(2*leaseFor)) {
				t.Fatalf("RenewLease = until %v, %v; want until %v", renewed.Until, err, f.now().Add(2*leaseFor))
			}
			f.clk.Advance(leaseFor)
			f.noDeliveryDue("renewed stream lease")
			f.record(renewed, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
		})

		t.Run("RecordedRedeliveryLeaseCannotBeUsedTwice", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			ups := f.appendUpdates(ref.ID)
			f.deliverAll(ref.ID)
			if err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, ups[0].ID, f.now()); err != nil {
				t.Fatal(err)
			}
			c := f.claimDelivery("owner-a", references.RedeliveryLeaseKey(references.DestinationCallback, ref.ID, ups[0].ID))
			f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
			_, err := f.b.RecordAttempt(f.ctx, c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered), "")
			wantLeaseLost(t, "second RecordAttempt under a redelivery's lease", err)
			if log := f.deliveries(acctA, ref.ID); len(log) != 2 {
				t.Errorf("delivery log has %d entries, want 2: the delivery and one redelivery", len(log))
			}
		})

		t.Run("ReleaseAfterAFailedAttemptKeepsTheRetryTime", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			c := f.claimStream("owner-a", ref.ID)
			a := f.attempt(c.Job, references.OutcomeFailed)
			retry := f.now().Add(10 * time.Minute)
			a.NextRetryAt = &retry
			f.record(c.Lease, c.Job, a)
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
			f.noDeliveryDue("released after a failed attempt: the retry waits for its time")
			f.clk.Set(retry)
			if again := f.claimStream("owner-b", ref.ID); again.Job.Attempt != 2 {
				t.Errorf("retry: attempt %d, want 2", again.Job.Attempt)
			}
		})

		t.Run("ReleaseMakesTheStreamClaimableAtOnce", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			c := f.claimStream("owner-a", ref.ID)
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
			again := f.claimStream("owner-b", ref.ID)
			if again.Job.Update.Sequence != 1 || again.Job.Attempt != 1 {
				t.Errorf("after a release: update %d attempt %d, want update 1 attempt 1 (a release counts no attempt)", again.Job.Update.Sequence, again.Job.Attempt)
			}
		})
	})
}

// busyPoll is a poll result that writes something: a snapshot and one update.
func (f *fixture) busyPoll() references.PollResult {
	return references.PollResult{
		PolledAt: f.now(), NextPollAt: f.now().Add(time.Hour),
		Shipment: &references.Shipment{Status: references.ShipmentBooked},
		Updates:  []references.Update{f.update(references.UpdateShipment)},
	}
}

// wantUnpolled fails the test unless refID has no recorded poll: no poll time, no
// update, no snapshot.
func (f *fixture) wantUnpolled(refID string) {
	f.t.Helper()
	ref := f.get(acctA, refID)
	if ref.LastPolledAt != nil || ref.LastSequence != 0 {
		f.t.Errorf("refused poll was written: last polled %v, last sequence %d", ref.LastPolledAt, ref.LastSequence)
	}
	if s, err := f.b.Shipment(f.ctx, refID); err != nil || s != nil {
		f.t.Errorf("refused poll was written: Shipment = %+v, %v", s, err)
	}
}
