package storetest

import (
	"errors"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// runRedeliveries exercises requested redeliveries: a job outside the ordered stream,
// and one whose update is gone.
func runRedeliveries(t *testing.T, open Opener) {
	t.Run("RequestRedelivery", func(t *testing.T) {
		t.Run("ClaimedAsAJobOutsideTheOrderedStream", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			ups := f.appendUpdates(ref.ID)
			f.deliverAll(ref.ID)
			f.appendUpdates(ref.ID) // update 2 waits in the stream
			if err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, ups[0].ID, f.now()); err != nil {
				t.Fatal(err)
			}
			redo := f.claimDelivery("owner-1", references.RedeliveryLeaseKey(ref.ID, ups[0].ID))
			j := redo.Job
			if !j.Redelivery || j.Update.ID != ups[0].ID || j.Update.Sequence != 1 || j.Reference.ID != ref.ID ||
				j.Reference.CallbackURL != url1 || len(j.Secrets) == 0 {
				t.Fatalf("redelivery job: redelivery %t update %s (%d) reference %s url %q secrets %d; want update 1 again to %q, signed",
					j.Redelivery, j.Update.ID, j.Update.Sequence, j.Reference.ID, j.Reference.CallbackURL, len(j.Secrets), url1)
			}
			got := f.record(redo.Lease, j, f.attempt(j, references.OutcomeDelivered))
			if got.DeliveredSequence != 1 {
				t.Errorf("DeliveredSequence = %d after a redelivery, want 1: a redelivery does not move the stream", got.DeliveredSequence)
			}
			if log := f.deliveries(acctA, ref.ID); len(log) != 2 || !log[0].Redelivery || log[0].UpdateID != ups[0].ID {
				t.Errorf("newest log entry %+v, want the redelivery of %s", log[0], ups[0].ID)
			}
			stream := f.claimStream("owner-2", ref.ID)
			if stream.Job.Update.Sequence != 2 || stream.Job.Redelivery {
				t.Errorf("stream after the redelivery: update %d redelivery %t, want update 2 in order", stream.Job.Update.Sequence, stream.Job.Redelivery)
			}
			f.record(stream.Lease, stream.Job, f.attempt(stream.Job, references.OutcomeDelivered))
			f.noDeliveryDue("the redelivery was recorded and the stream delivered")
		})

		t.Run("UnknownUpdateIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			f.deliverAll(ref.ID)
			err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, "upd_nope", f.now())
			if !errors.Is(err, references.ErrNotFound) {
				t.Fatalf("RequestRedelivery of an unknown update: %v, want ErrNotFound", err)
			}
			f.noDeliveryDue("nothing was queued")
		})

		t.Run("MissingUpdateIsDroppedWithALogEntryAndBlocksNothing", func(t *testing.T) {
			f := setup(t, open)
			gone := f.create(acctA, withCallback(url1))
			goneUps := f.appendUpdates(gone.ID)
			f.deliverAll(gone.ID)
			kept := f.create(acctA, withCallback(url1))
			keptUps := f.appendUpdates(kept.ID)
			f.deliverAll(kept.ID)
			// The missing update's request is the oldest: it comes first in the queue.
			if err := f.b.RequestRedelivery(f.ctx, acctA, gone.ID, goneUps[0].ID, f.now()); err != nil {
				t.Fatal(err)
			}
			f.clk.Advance(leaseFor / 2)
			if err := f.b.RequestRedelivery(f.ctx, acctA, kept.ID, keptUps[0].ID, f.now()); err != nil {
				t.Fatal(err)
			}
			f.h.DeleteUpdate(t, gone.ID, goneUps[0].ID)
			claims := f.claimDeliveries("owner-1", 1)
			if len(claims) != 1 || claims[0].Lease.Key != references.RedeliveryLeaseKey(kept.ID, keptUps[0].ID) {
				var keys []string
				for _, c := range claims {
					keys = append(keys, c.Lease.Key)
				}
				t.Fatalf("claim of 1 = %q, want the redelivery of %s: the missing update must not take the place", keys, keptUps[0].ID)
			}
			log := f.deliveries(acctA, gone.ID)
			if len(log) != 2 || log[0].UpdateID != goneUps[0].ID {
				t.Errorf("delivery log of %s = %+v, want a new entry for the dropped redelivery of %s", gone.ID, log, goneUps[0].ID)
			}
			f.clk.Advance(2 * leaseFor)
			for _, c := range f.claimDeliveries("owner-2", 100) {
				if c.Lease.Key == references.RedeliveryLeaseKey(gone.ID, goneUps[0].ID) {
					t.Errorf("the dropped redelivery of %s was handed out", goneUps[0].ID)
				}
			}
		})
	})
}
