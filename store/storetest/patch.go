package storetest

import (
	"testing"

	"github.com/trackhook/trackhook/references"
)

// runPatchDeliveries checks what a PATCH of the callback does to work in flight and
// queued: it all goes to the new URL, and attempts to the old one are only logged.
func runPatchDeliveries(t *testing.T, open Opener) {
	t.Run("PatchReferenceDeliveries", func(t *testing.T) {
		t.Run("PendingWorkGoesToTheNewURL", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			ups := f.appendUpdates(ref.ID)
			f.deliverAll(ref.ID)
			f.appendUpdates(ref.ID)
			if err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, ups[0].ID, f.now()); err != nil {
				t.Fatal(err)
			}
			u := url2
			if _, err := f.b.PatchReference(f.ctx, acctA, ref.ID, references.Patch{CallbackURL: &u}, f.now()); err != nil {
				t.Fatal(err)
			}
			stream := f.claimStream("owner-1", ref.ID)
			if stream.Job.Update.Sequence != 2 || stream.Job.Reference.CallbackURL != url2 {
				t.Errorf("stream after PATCH: update %d to %q, want update 2 to %q", stream.Job.Update.Sequence, stream.Job.Reference.CallbackURL, url2)
			}
			redo := f.claimDelivery("owner-1", references.RedeliveryLeaseKey(references.DestinationCallback, ref.ID, ups[0].ID))
			if !redo.Job.Redelivery || redo.Job.Update.ID != ups[0].ID || redo.Job.Reference.CallbackURL != url2 {
				t.Errorf("redelivery after PATCH: update %s redelivery %t to %q, want %s to %q", redo.Job.Update.ID, redo.Job.Redelivery, redo.Job.Reference.CallbackURL, ups[0].ID, url2)
			}
		})

		t.Run("RemovingTheCallbackStopsDelivery", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			none := ""
			if _, err := f.b.PatchReference(f.ctx, acctA, ref.ID, references.Patch{CallbackURL: &none}, f.now()); err != nil {
				t.Fatal(err)
			}
			f.noDeliveryDue("callback removed")
			f.appendUpdates(ref.ID)
			f.noDeliveryDue("callback removed, a new update")
		})

		t.Run("RedeliveryToTheOldURLStaysQueuedForTheNewOne", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			ups := f.appendUpdates(ref.ID)
			f.deliverAll(ref.ID)
			if err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, ups[0].ID, f.now()); err != nil {
				t.Fatal(err)
			}
			key := references.RedeliveryLeaseKey(references.DestinationCallback, ref.ID, ups[0].ID)
			c := f.claimDelivery("owner-1", key)
			u := url2
			if _, err := f.b.PatchReference(f.ctx, acctA, ref.ID, references.Patch{CallbackURL: &u}, f.now()); err != nil {
				t.Fatal(err)
			}
			if _, err := f.b.RecordAttempt(f.ctx, c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered), ""); err != nil {
				t.Fatalf("RecordAttempt of a redelivery to the replaced URL: %v", err)
			}
			if log := f.deliveries(acctA, ref.ID); len(log) != 2 || log[0].URL != url1 || !log[0].Redelivery {
				t.Errorf("newest log entry %+v, want the redelivery to %q logged", log[0], url1)
			}
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
			again := f.claimDelivery("owner-2", key)
			if again.Job.Reference.CallbackURL != url2 || again.Job.Update.ID != ups[0].ID {
				t.Errorf("redelivery after the PATCH: %s to %q, want %s to %q", again.Job.Update.ID, again.Job.Reference.CallbackURL, ups[0].ID, url2)
			}
		})

		t.Run("AttemptToTheOldURLIsOnlyLogged", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			c := f.claimStream("owner-1", ref.ID)
			u := url2
			if _, err := f.b.PatchReference(f.ctx, acctA, ref.ID, references.Patch{CallbackURL: &u}, f.now()); err != nil {
				t.Fatal(err)
			}
			got, err := f.b.RecordAttempt(f.ctx, c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered), "")
			if err != nil {
				t.Fatalf("RecordAttempt of an attempt to the replaced URL: %v", err)
			}
			if got.DeliveredSequence != 0 || f.get(acctA, ref.ID).DeliveredSequence != 0 {
				t.Errorf("DeliveredSequence = %d after an attempt to the old URL, want 0: the new URL still gets update 1", got.DeliveredSequence)
			}
			if log := f.deliveries(acctA, ref.ID); len(log) != 1 || log[0].URL != url1 {
				t.Errorf("delivery log %+v, want the one attempt to %q", log, url1)
			}
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
			again := f.claimStream("owner-2", ref.ID)
			if again.Job.Update.Sequence != 1 || again.Job.Reference.CallbackURL != url2 {
				t.Errorf("after the PATCH: update %d to %q, want update 1 to %q", again.Job.Update.Sequence, again.Job.Reference.CallbackURL, url2)
			}
		})
	})
}
