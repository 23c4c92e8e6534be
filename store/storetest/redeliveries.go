package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

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
			redo := f.claimDelivery("owner-1", references.RedeliveryLeaseKey(references.DestinationCallback, ref.ID, ups[0].ID))
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

		t.Run("AfterAUsersUnsubscribeIsQueuedAfterADeadCallbackIsConflict", func(t *testing.T) {
			f := setup(t, open)
			byUser, gone := f.create(acctA, withCallback(url1)), f.create(acctA, withCallback(url1))
			for reason, ref := range map[references.UnsubscribeReason]references.Reference{references.ReasonUser: byUser, references.ReasonCallbackGone: gone} {
				ups := f.appendUpdates(ref.ID)
				f.deliverAll(ref.ID)
				if _, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, reason, f.now()); err != nil {
					t.Fatal(err)
				}
				err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, ups[0].ID, f.now())
				if references.StopsDelivery(reason) {
					wantCode(t, "redelivery after "+string(reason), err, references.CodeConflict)
				} else if err != nil {
					t.Errorf("redelivery after %s: %v, want it queued", reason, err)
				}
			}
			c := f.claimDelivery("owner-1", references.RedeliveryLeaseKey(references.DestinationCallback, byUser.ID, f.updatesOf(acctA, byUser.ID)[0].ID))
			if !c.Job.Redelivery || c.Job.Reference.Active() {
				t.Errorf("job %+v; want the redelivery of the user's unsubscribed reference", c.Job)
			}
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
			// Ids in both orders, so a queue kept in id order meets the missing update
			// first in one of the two runs.
			for _, ids := range [][2]string{{"ref_A_gone", "ref_B_kept"}, {"ref_D_gone", "ref_C_kept"}} {
				gone := f.create(acctA, func(r *references.Reference) { r.ID, r.CallbackURL = ids[0], url1 })
				goneUps := f.appendUpdates(gone.ID)
				f.deliverAll(gone.ID)
				kept := f.create(acctA, func(r *references.Reference) { r.ID, r.CallbackURL = ids[1], url1 })
				keptUps := f.appendUpdates(kept.ID)
				f.deliverAll(kept.ID)
				// The missing update's request is the oldest: it comes first in the queue.
				if err := f.b.RequestRedelivery(f.ctx, acctA, gone.ID, goneUps[0].ID, f.now()); err != nil {
					t.Fatal(err)
				}
				f.clk.Advance(time.Second)
				if err := f.b.RequestRedelivery(f.ctx, acctA, kept.ID, keptUps[0].ID, f.now()); err != nil {
					t.Fatal(err)
				}
				f.h.DeleteUpdate(t, gone.ID, goneUps[0].ID)

				claims := f.claimDeliveries("owner-1", 1)
				keptKey := references.RedeliveryLeaseKey(references.DestinationCallback, kept.ID, keptUps[0].ID)
				if len(claims) != 1 || claims[0].Lease.Key != keptKey {
					var keys []string
					for _, c := range claims {
						keys = append(keys, c.Lease.Key)
					}
					t.Fatalf("claim of 1 = %q, want %s: the missing update must not take its place", keys, keptKey)
				}
				f.record(claims[0].Lease, claims[0].Job, f.attempt(claims[0].Job, references.OutcomeDelivered))
				f.noDeliveryDue("the only redelivery left points at a missing update")
				log := f.deliveries(acctA, gone.ID)
				if len(log) != 2 || log[0].UpdateID != goneUps[0].ID || !log[0].Redelivery || log[0].Outcome != references.OutcomeDropped {
					t.Errorf("delivery log of %s = %+v, want a new entry: the redelivery of %s dropped", gone.ID, log, goneUps[0].ID)
				}
				f.clk.Advance(time.Minute)
			}
		})

		t.Run("MostOverdueFirst", func(t *testing.T) {
			f := setup(t, open)
			// Ids against the order of the requests, so id order is not request order.
			var refs []references.Reference
			var ups []references.Update
			for _, id := range []string{"ref_Z", "ref_Y", "ref_X"} {
				ref := f.create(acctA, func(r *references.Reference) { r.ID, r.CallbackURL = id, url1 })
				ups = append(ups, f.appendUpdates(ref.ID)[0])
				f.deliverAll(ref.ID)
				refs = append(refs, ref)
			}
			for i, ref := range refs {
				if err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, ups[i].ID, f.now()); err != nil {
					t.Fatal(err)
				}
				f.clk.Advance(time.Second)
			}
			var got []string
			for range 3 {
				for _, c := range f.claimDeliveries("owner-1", 1) {
					got = append(got, c.Job.Reference.ID)
				}
			}
			if want := []string{"ref_Z", "ref_Y", "ref_X"}; !slices.Equal(got, want) {
				t.Fatalf("redeliveries claimed one at a time: %q, want the order they were asked for %q", got, want)
			}
		})

		t.Run("OrderedWithStreamsMostOverdueFirst", func(t *testing.T) {
			f := setup(t, open)
			done := f.create(acctA, withCallback(url1))
			ups := f.appendUpdates(done.ID)
			f.deliverAll(done.ID)
			waiting := f.create(acctA, withCallback(url1))
			f.appendUpdates(waiting.ID) // due now
			f.clk.Advance(time.Minute)
			if err := f.b.RequestRedelivery(f.ctx, acctA, done.ID, ups[0].ID, f.now()); err != nil {
				t.Fatal(err)
			}
			claims := f.claimDeliveries("owner-1", 1)
			if want := references.DeliveryLeaseKey(references.DestinationCallback, waiting.ID); len(claims) != 1 || claims[0].Lease.Key != want {
				var keys []string
				for _, c := range claims {
					keys = append(keys, c.Lease.Key)
				}
				t.Fatalf("claim of 1 = %q, want %s: its update was due a minute before the redelivery was asked for", keys, want)
			}
		})

	})
}
