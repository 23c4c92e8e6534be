package storetest

import (
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runAttempts exercises RecordAttempt: each outcome of AfterAttempt as the backend
// writes it, the unsubscribe argument, stale attempts, and what stops delivery.
func runAttempts(t *testing.T, open Opener) {
	t.Run("RecordAttempt", func(t *testing.T) {
		t.Run("FailedIsDueAgainAtNextRetryAtWithTheAttemptCounted", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			c := f.claimStream("owner-1", ref.ID)
			a := f.attempt(c.Job, references.OutcomeFailed)
			retry := f.now().Add(10 * time.Minute)
			a.NextRetryAt = &retry
			got := f.record(c.Lease, c.Job, a)
			if got.DeliveredSequence != 0 || got.FailingSince == nil || !got.FailingSince.Equal(a.At) {
				t.Errorf("after a failure: delivered %d failing since %v; want 0 and failing since %v", got.DeliveredSequence, got.FailingSince, a.At)
			}
			log := f.deliveries(acctA, ref.ID)
			if len(log) != 1 || log[0].Outcome != references.OutcomeFailed || log[0].NextRetryAt == nil || !log[0].NextRetryAt.Equal(retry) || log[0].StatusCode != 503 {
				t.Errorf("delivery log %+v, want the failed attempt with its retry time", log)
			}
			f.clk.Set(retry.Add(-time.Second))
			f.noDeliveryDue("a second before the retry")
			f.clk.Set(retry)
			again := f.claimStream("owner-2", ref.ID)
			if again.Job.Update.Sequence != 1 || again.Job.Attempt != 2 || !again.Job.FirstAttemptAt.Equal(a.At) {
				t.Errorf("retry: update %d attempt %d first %v; want update 1 attempt 2 first tried %v", again.Job.Update.Sequence, again.Job.Attempt, again.Job.FirstAttemptAt, a.At)
			}
		})

		t.Run("DeliveredAfterFailuresMarksTheStreamOK", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			c := f.claimStream("owner-1", ref.ID)
			a := f.attempt(c.Job, references.OutcomeFailed)
			retry := f.now().Add(2 * leaseFor)
			a.NextRetryAt = &retry
			f.record(c.Lease, c.Job, a)
			f.clk.Set(retry)
			c = f.claimStream("owner-1", ref.ID)
			got := f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
			if got.DeliveredSequence != 1 || got.DeliveryState != references.DeliveryOK || got.FailingSince != nil {
				t.Errorf("after delivering: delivered %d state %q failing since %v; want 1, ok, none", got.DeliveredSequence, got.DeliveryState, got.FailingSince)
			}
			if job := f.next(c.Lease); job.Update.Sequence != 2 || job.Attempt != 1 {
				t.Errorf("next job: update %d attempt %d, want update 2 attempt 1 due at once", job.Update.Sequence, job.Attempt)
			}
		})

		t.Run("GaveUpMovesOnAndMarksTheStreamFailing", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			ups := f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			c := f.claimStream("owner-1", ref.ID)
			first := f.attempt(c.Job, references.OutcomeFailed)
			retry := f.now().Add(2 * leaseFor)
			first.NextRetryAt = &retry
			f.record(c.Lease, c.Job, first)
			f.clk.Set(retry)
			c = f.claimStream("owner-1", ref.ID)
			got := f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeGaveUp))
			read := f.get(acctA, ref.ID)
			for name, r := range map[string]references.Reference{"returned": got, "read back": read} {
				if r.DeliveredSequence != 1 || r.DeliveryState != references.DeliveryFailing || r.FailingSince == nil || !r.FailingSince.Equal(first.At) || !r.Active() {
					t.Errorf("%s: delivered %d state %q failing since %v status %s; want 1, failing since the first failure %v, active",
						name, r.DeliveredSequence, r.DeliveryState, r.FailingSince, r.Status, first.At)
				}
			}
			if job := f.next(c.Lease); job.Update.ID != ups[1].ID || job.Attempt != 1 {
				t.Errorf("next job: %s attempt %d, want %s attempt 1 due at once", job.Update.ID, job.Attempt, ups[1].ID)
			}
			if feed := f.updatesOf(acctA, ref.ID); len(feed) != 2 {
				t.Errorf("feed has %d updates, want 2: the given-up update stays", len(feed))
			}
		})

		t.Run("GoneUnsubscribesAndEndsTheStream", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			c := f.claimStream("owner-1", ref.ID)
			got := f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeGone))
			read := f.get(acctA, ref.ID)
			for name, r := range map[string]references.Reference{"returned": got, "read back": read} {
				if r.Active() || r.UnsubscribeReason != references.ReasonCallbackGone {
					t.Errorf("%s: status %s reason %q, want unsubscribed (callback_gone)", name, r.Status, r.UnsubscribeReason)
				}
			}
			if log := f.deliveries(acctA, ref.ID); len(log) != 1 || log[0].Outcome != references.OutcomeGone {
				t.Errorf("delivery log %+v, want the gone attempt", log)
			}
			// The feed ends with the final update, for pull consumers; it is not sent.
			ups, err := f.b.ListUpdates(f.ctx, acctA, ref.ID, 0, 10)
			if err != nil || len(ups) != 3 || ups[2].Type != references.UpdateUnsubscribed || ups[2].UnsubscribeReason != references.ReasonCallbackGone {
				t.Errorf("feed after a 410 = %d updates, %v; want the 2 and a final reference.unsubscribed (callback_gone)", len(ups), err)
			}
			f.clk.Advance(time.Hour)
			f.noDeliveryDue("the receiver answered 410")
			f.noPollDue(ref.ID, "the receiver answered 410")
		})

		t.Run("UnsubscribeArgumentUnsubscribesAndStopsDelivery", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			c := f.claimStream("owner-1", ref.ID)
			a := f.attempt(c.Job, references.OutcomeGaveUp)
			got, err := f.b.RecordAttempt(f.ctx, c.Lease, c.Job, a, references.ReasonCallbackFailing)
			if err != nil {
				t.Fatal(err)
			}
			read := f.get(acctA, ref.ID)
			for name, r := range map[string]references.Reference{"returned": got, "read back": read} {
				if r.Active() || r.UnsubscribeReason != references.ReasonCallbackFailing {
					t.Errorf("%s: status %s reason %q, want unsubscribed (callback_failing)", name, r.Status, r.UnsubscribeReason)
				}
			}
			if log := f.deliveries(acctA, ref.ID); len(log) != 1 {
				t.Errorf("delivery log has %d entries, want the attempt logged", len(log))
			}
			f.clk.Advance(time.Hour)
			f.noDeliveryDue("unsubscribed for failing callbacks")
			f.noPollDue(ref.ID, "unsubscribed for failing callbacks")
		})

		t.Run("AttemptAfterAnUnsubscribeThatStopsDeliveryIsOnlyLogged", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			c := f.claimStream("owner-1", ref.ID)
			if _, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, references.ReasonCallbackFailing, f.now()); err != nil {
				t.Fatal(err)
			}
			got, err := f.b.RecordAttempt(f.ctx, c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered), "")
			if err != nil {
				t.Fatalf("RecordAttempt after an unsubscribe: %v", err)
			}
			if got.DeliveredSequence != 0 || got.UnsubscribeReason != references.ReasonCallbackFailing {
				t.Errorf("after a stale attempt: delivered %d reason %q; want 0 and the unsubscribe kept", got.DeliveredSequence, got.UnsubscribeReason)
			}
			if log := f.deliveries(acctA, ref.ID); len(log) != 1 {
				t.Errorf("delivery log has %d entries, want the stale attempt logged", len(log))
			}
			f.clk.Advance(2 * leaseFor)
			f.noDeliveryDue("unsubscribed for a failing callback")
		})

		t.Run("AttemptInFlightAtAUsersUnsubscribeCounts", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			c := f.claimStream("owner-1", ref.ID)
			if _, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, references.ReasonUser, f.now()); err != nil {
				t.Fatal(err)
			}
			got := f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
			if got.DeliveredSequence != 1 || got.UnsubscribeReason != references.ReasonUser {
				t.Errorf("after the attempt: delivered %d reason %q; want 1 and the user's unsubscribe kept", got.DeliveredSequence, got.UnsubscribeReason)
			}
			if job := f.next(c.Lease); job.Update.Sequence != 2 {
				t.Errorf("next job: update %d, want 2: the stream goes on after a user's unsubscribe", job.Update.Sequence)
			}
		})

		t.Run("UnknownOutcomeIsRefusedAndWritesNothing", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			c := f.claimStream("owner-1", ref.ID)
			if _, err := f.b.RecordAttempt(f.ctx, c.Lease, c.Job, f.attempt(c.Job, "teleported"), ""); err == nil {
				t.Fatal("RecordAttempt of an unknown outcome: no error")
			}
			if log := f.deliveries(acctA, ref.ID); len(log) != 0 {
				t.Errorf("delivery log has %d entries after a refused attempt, want none", len(log))
			}
			if got := f.get(acctA, ref.ID); got.DeliveredSequence != 0 {
				t.Errorf("DeliveredSequence = %d, want 0", got.DeliveredSequence)
			}
		})
	})

	t.Run("StopsDelivery", func(t *testing.T) {
		t.Run("ADeadCallbackEndsPendingDeliveries", func(t *testing.T) {
			for _, reason := range []references.UnsubscribeReason{references.ReasonCallbackGone, references.ReasonCallbackFailing} {
				t.Run(string(reason), func(t *testing.T) {
					f := setup(t, open)
					ref := f.create(acctA, withCallback(url1))
					ups := f.appendUpdates(ref.ID)
					f.deliverAll(ref.ID)
					f.appendUpdates(ref.ID)
					if err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, ups[0].ID, f.now()); err != nil {
						t.Fatal(err)
					}
					if _, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, reason, f.now()); err != nil {
						t.Fatal(err)
					}
					f.noDeliveryDue("unsubscribed: " + string(reason))
				})
			}
		})

		t.Run("UserUnsubscribeDeliversWhatIsPendingAndTheFinalUpdate", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			ups := f.appendUpdates(ref.ID)
			f.deliverAll(ref.ID)
			f.appendUpdates(ref.ID)
			if err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, ups[0].ID, f.now()); err != nil {
				t.Fatal(err)
			}
			if _, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, references.ReasonUser, f.now()); err != nil {
				t.Fatal(err)
			}
			red := f.claimDelivery("owner-1", references.RedeliveryLeaseKey(references.DestinationCallback, ref.ID, ups[0].ID))
			f.record(red.Lease, red.Job, f.attempt(red.Job, references.OutcomeDelivered))
			c := f.claimStream("owner-1", ref.ID)
			if c.Job.Update.Sequence != 2 || c.Job.Reference.Active() {
				t.Fatalf("job after the user's unsubscribe: update %d of an active=%t reference; want update 2 of the unsubscribed one", c.Job.Update.Sequence, c.Job.Reference.Active())
			}
			f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
			final := f.next(c.Lease)
			if u := final.Update; u.Sequence != 3 || u.Type != references.UpdateUnsubscribed || u.UnsubscribeReason != references.ReasonUser {
				t.Fatalf("last job: update %d %s (%q); want 3, reference.unsubscribed, user", u.Sequence, u.Type, u.UnsubscribeReason)
			}
			f.record(c.Lease, final, f.attempt(final, references.OutcomeDelivered))
			f.drained(c.Lease)
		})

		t.Run("AutomaticEndDeliversWhatIsPending", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			f.poll(ref.ID, references.PollResult{Unsubscribe: references.ReasonMaxAge, Updates: []references.Update{f.update(references.UpdateUnsubscribed)}})
			c := f.claimStream("owner-1", ref.ID)
			if c.Job.Update.Sequence != 1 || c.Job.Reference.Active() {
				t.Fatalf("job after max_age: update %d of an active=%t reference; want update 1 of the unsubscribed one", c.Job.Update.Sequence, c.Job.Reference.Active())
			}
			for want := uint64(1); want <= 3; want++ {
				if c.Job.Update.Sequence != want {
					t.Fatalf("job: update %d, want %d", c.Job.Update.Sequence, want)
				}
				f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
				if want < 3 {
					c.Job = f.next(c.Lease)
				}
			}
			f.drained(c.Lease)
		})
	})
}
