package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// pushSource is the source of the suite's push subscriptions.
const pushSource = "dcsa-push"

// runPush exercises carrier push: Reference.Push, changed only through
// PollResult.Push; ReferenceByID, which an inbound push uses; and the queue of
// subscriptions to delete at carriers, which every unsubscribe of a reference holding
// one fills in its own transaction.
func runPush(t *testing.T, open Opener) {
	t.Run("PushSubscription", func(t *testing.T) {
		t.Run("SetReplaceKeepAndRemoveThroughRecordPoll", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			f.wantPush(ref.ID, nil, "a new reference")
			first := f.pushSub("sub-1", false)
			second := f.pushSub("sub-2", true)
			steps := []struct {
				name string
				push *references.PushSubscription
				want *references.PushSubscription
			}{
				{"set", &first, &first},
				{"nil keeps it", nil, &first},
				{"replace", &second, &second},
				{"nil keeps the replacement", nil, &second},
				{"an empty ID removes it", &references.PushSubscription{}, nil},
				{"set again after a removal", &first, &first},
			}
			for _, s := range steps {
				f.clk.Advance(time.Minute)
				res := references.PollResult{Push: s.push, Updates: []references.Update{f.update(references.UpdateShipment)}}
				got := f.poll(ref.ID, res)
				if d := pushDiff(got.Push, s.want); d != "" {
					t.Errorf("%s: RecordPoll returned Push %s", s.name, d)
				}
				f.wantPush(ref.ID, s.want, s.name)
			}
			if n := len(f.pushDeletions()); n != 0 {
				t.Errorf("%d deletions queued by polls that replaced or removed a subscription, want none (the poller deals with those at the carrier)", n)
			}
		})

		// A poll that brings nothing but a subscription (no snapshot, no update, the same
		// error state) still has something to store: a backend must not treat it as a
		// poll that changed nothing.
		t.Run("APollBringingOnlyASubscriptionIsStoredDurably", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			sub := f.pushSub("sub-only", true)
			got := f.poll(ref.ID, references.PollResult{Push: &sub})
			if d := pushDiff(got.Push, &sub); d != "" {
				t.Errorf("RecordPoll returned Push %s", d)
			}
			f.crash()
			f.wantPush(ref.ID, &sub, "after a crash")
			f.poll(ref.ID, references.PollResult{Push: &references.PushSubscription{}})
			f.crash()
			f.wantPush(ref.ID, nil, "removed, after a crash")
		})

		t.Run("ClaimedPollCarriesIt", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			sub := f.pushSub("sub-1", true)
			f.poll(ref.ID, references.PollResult{Push: &sub})
			c := f.claimPoll("poller", ref.ID)
			if d := pushDiff(c.Reference.Push, &sub); d != "" {
				t.Errorf("the claimed reference has Push %s: the poller needs it to check, repair and rotate", d)
			}
		})

		t.Run("OtherWritesKeepIt", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			sub := f.pushSub("sub-1", true)
			f.poll(ref.ID, references.PollResult{Push: &sub, Updates: []references.Update{f.update(references.UpdateShipment)}})
			u := url2
			writes := []struct {
				name  string
				write func() error
			}{
				{"a poll with updates and no Push", func() error { f.appendUpdates(ref.ID); return nil }},
				{"a failed poll", func() error {
					f.poll(ref.ID, references.PollResult{Error: "carrier down", ConsecutiveFailures: 1})
					return nil
				}},
				{"deliveries", func() error { f.deliverAll(ref.ID); return nil }},
				{"a patch", func() error {
					_, err := f.b.PatchReference(f.ctx, acctA, ref.ID, references.Patch{CallbackURL: &u}, f.now())
					return err
				}},
				{"a pause", func() error { _, err := f.b.PauseReference(f.ctx, acctA, ref.ID, f.now()); return err }},
				{"a resume", func() error { _, err := f.b.ResumeReference(f.ctx, acctA, ref.ID, f.now()); return err }},
				{"a restart", func() error { f.restart(); return nil }},
			}
			for _, w := range writes {
				f.clk.Advance(time.Minute)
				if err := w.write(); err != nil {
					t.Fatalf("%s: %v", w.name, err)
				}
				f.wantPush(ref.ID, &sub, "after "+w.name)
			}
		})
	})

	t.Run("ReferenceByID", func(t *testing.T) {
		t.Run("ReadsAReferenceOfAnyAccount", func(t *testing.T) {
			f := setup(t, open)
			a := f.create(acctA, nil)
			b := f.create(acctB, nil)
			sub := f.pushSub("sub-b", true)
			f.poll(b.ID, references.PollResult{Push: &sub})
			ended := f.create(acctB, nil)
			f.unsubscribe(acctB, ended.ID, references.ReasonUser)
			for _, tc := range []struct {
				ref  references.Reference
				want *references.PushSubscription
			}{{a, nil}, {b, &sub}, {ended, nil}} {
				got, err := f.b.ReferenceByID(f.ctx, tc.ref.ID)
				if err != nil {
					t.Fatalf("ReferenceByID(%s): %v", tc.ref.ID, err)
				}
				want := f.get(tc.ref.AccountID, tc.ref.ID)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("ReferenceByID(%s) = %+v\nGetReference gives %+v", tc.ref.ID, got, want)
				}
				if d := pushDiff(got.Push, tc.want); d != "" {
					t.Errorf("ReferenceByID(%s).Push %s", tc.ref.ID, d)
				}
			}
		})

		t.Run("UnknownIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			for _, id := range []string{references.NewID("ref_"), "", "not-an-id"} {
				if got, err := f.b.ReferenceByID(f.ctx, id); !errors.Is(err, references.ErrNotFound) {
					t.Errorf("ReferenceByID(%q) = %s, %v; want ErrNotFound", id, got.ID, err)
				}
			}
		})

		t.Run("ChangesNothing", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			sub := f.pushSub("sub-1", true)
			f.poll(ref.ID, references.PollResult{Push: &sub, NextPollAt: f.now().Add(time.Hour)})
			before := f.get(acctA, ref.ID)
			f.clk.Advance(time.Minute)
			for range 3 {
				if _, err := f.b.ReferenceByID(f.ctx, ref.ID); err != nil {
					t.Fatal(err)
				}
			}
			if after := f.get(acctA, ref.ID); !reflect.DeepEqual(after, before) {
				t.Errorf("after ReferenceByID the reference is\n%+v\nwas\n%+v", after, before)
			}
			f.noPollDue(ref.ID, "read by ReferenceByID, due in an hour")
			if n := len(f.pushDeletions()); n != 0 {
				t.Errorf("%d deletions queued by reads", n)
			}
		})
	})

	t.Run("PushDeletions", func(t *testing.T) {
		t.Run("EveryUnsubscribeQueuesTheSubscription", func(t *testing.T) {
			gaveUp := func(f *fixture, ref references.Reference, outcome references.AttemptOutcome, reason references.UnsubscribeReason) error {
				c := f.claimStream("deliverer", ref.ID)
				_, err := f.b.RecordAttempt(f.ctx, c.Lease, c.Job, f.attempt(c.Job, outcome), reason)
				return err
			}
			pollEnds := func(reason references.UnsubscribeReason) func(*fixture, references.Reference) error {
				return func(f *fixture, ref references.Reference) error {
					final := references.UnsubscribedUpdate(reason, f.now())
					f.poll(ref.ID, references.PollResult{Unsubscribe: reason, Updates: []references.Update{final}})
					return nil
				}
			}
			paths := []struct {
				name   string
				reason references.UnsubscribeReason
				end    func(*fixture, references.Reference) error
			}{
				{"user", references.ReasonUser, func(f *fixture, ref references.Reference) error {
					_, err := f.b.UnsubscribeReference(f.ctx, ref.AccountID, ref.ID, references.ReasonUser, f.now())
					return err
				}},
				{"poll: tracking complete", references.ReasonTrackingComplete, pollEnds(references.ReasonTrackingComplete)},
				{"poll: max age", references.ReasonMaxAge, pollEnds(references.ReasonMaxAge)},
				{"poll: not found", references.ReasonNotFound, pollEnds(references.ReasonNotFound)},
				{"delivery: callback gone", references.ReasonCallbackGone, func(f *fixture, ref references.Reference) error {
					return gaveUp(f, ref, references.OutcomeGone, "")
				}},
				{"delivery: callback failing", references.ReasonCallbackFailing, func(f *fixture, ref references.Reference) error {
					return gaveUp(f, ref, references.OutcomeGaveUp, references.ReasonCallbackFailing)
				}},
				{"unsubscribe by the service: callback failing", references.ReasonCallbackFailing, func(f *fixture, ref references.Reference) error {
					_, err := f.b.UnsubscribeReference(f.ctx, ref.AccountID, ref.ID, references.ReasonCallbackFailing, f.now())
					return err
				}},
			}
			for _, p := range paths {
				t.Run(p.name, func(t *testing.T) {
					f := setup(t, open)
					ref := f.create(acctB, withCallback(url1))
					sub := f.pushSub("sub-"+ref.ID, true)
					f.poll(ref.ID, references.PollResult{Push: &sub, Updates: []references.Update{f.update(references.UpdateShipment)}})
					f.clk.Advance(time.Minute)
					ended := f.now()
					if err := p.end(f, ref); err != nil {
						t.Fatalf("ending tracking: %v", err)
					}
					if got := f.get(acctB, ref.ID); got.Subscribed() || got.UnsubscribeReason != p.reason {
						t.Fatalf("status %s reason %q, want unsubscribed (%s)", got.Status, got.UnsubscribeReason, p.reason)
					}
					want := references.PushDeletion{Source: pushSource, SubscriptionID: sub.ID, ReferenceID: ref.ID, AccountID: acctB, QueuedAt: ended}
					f.wantDeletions("after the unsubscribe", want)
					// Due at once, and durable: it was queued in the unsubscribe's commit.
					f.crash()
					f.wantDeletions("after a crash", want)
					claims := f.claimDeletions("deleter", 10)
					if len(claims) != 1 || deletionDiff(claims[0].Deletion, want) != "" {
						t.Fatalf("claimed %+v, want the deletion at once", claims)
					}
				})
			}
		})

		t.Run("UnsubscribeWithoutASubscriptionQueuesNothing", func(t *testing.T) {
			f := setup(t, open)
			never := f.create(acctA, nil)
			removed := f.create(acctA, nil)
			sub := f.pushSub("sub-removed", false)
			f.poll(removed.ID, references.PollResult{Push: &sub})
			f.poll(removed.ID, references.PollResult{Push: &references.PushSubscription{}})
			f.unsubscribe(acctA, never.ID, references.ReasonUser)
			f.unsubscribe(acctA, removed.ID, references.ReasonUser)
			f.wantDeletions("unsubscribed without a subscription")
		})

		t.Run("UnsubscribingAgainQueuesNothingMore", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			sub := f.pushSub("sub-1", false)
			f.poll(ref.ID, references.PollResult{Push: &sub})
			f.unsubscribe(acctA, ref.ID, references.ReasonUser)
			want := references.PushDeletion{Source: pushSource, SubscriptionID: sub.ID, ReferenceID: ref.ID, AccountID: acctA, QueuedAt: f.now()}
			f.clk.Advance(time.Minute)
			f.unsubscribe(acctA, ref.ID, references.ReasonUser)
			f.wantDeletions("unsubscribed twice", want)
			c := f.claimDeletions("deleter", 10)
			if len(c) != 1 {
				t.Fatalf("claimed %d deletions, want 1", len(c))
			}
			f.finish(c[0].Lease)
			f.unsubscribe(acctA, ref.ID, references.ReasonUser)
			f.wantDeletions("unsubscribed again after the deletion finished")
		})

		t.Run("APollEndingTrackingQueuesTheSubscriptionItLeaves", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			old := f.pushSub("sub-old", false)
			f.poll(ref.ID, references.PollResult{Push: &old})
			f.clk.Advance(time.Minute)
			repaired := f.pushSub("sub-repaired", true)
			final := references.UnsubscribedUpdate(references.ReasonTrackingComplete, f.now())
			got := f.poll(ref.ID, references.PollResult{Push: &repaired, Unsubscribe: references.ReasonTrackingComplete, Updates: []references.Update{final}})
			if got.Subscribed() {
				t.Fatalf("status %s after a poll that ends tracking", got.Status)
			}
			f.wantDeletions("a poll replaced the subscription and ended tracking",
				references.PushDeletion{Source: pushSource, SubscriptionID: repaired.ID, ReferenceID: ref.ID, AccountID: acctA, QueuedAt: f.now()})
		})

		t.Run("APollRemovingTheSubscriptionAndEndingTrackingQueuesNothing", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			sub := f.pushSub("sub-1", false)
			f.poll(ref.ID, references.PollResult{Push: &sub})
			final := references.UnsubscribedUpdate(references.ReasonNotFound, f.now())
			got := f.poll(ref.ID, references.PollResult{
				Push: &references.PushSubscription{}, Unsubscribe: references.ReasonNotFound, Updates: []references.Update{final},
			})
			if got.Subscribed() || got.Push != nil {
				t.Fatalf("status %s, Push %+v; want unsubscribed without a subscription", got.Status, got.Push)
			}
			f.wantDeletions("the poller deleted the subscription itself")
		})

		// A poll in flight while its reference is unsubscribed or paused is not recorded;
		// a subscription it made at the carrier meanwhile would stay there with nothing
		// naming it, so it is queued for deletion. One the reference holds already is
		// not (the unsubscribe queued it, or the paused reference keeps it).
		t.Run("ASubscriptionMadeByAPollThatLostTheRaceIsQueued", func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				status references.Status
				stop   func(*fixture, string) error
			}{
				{"unsubscribed", references.StatusUnsubscribed, func(f *fixture, id string) error {
					_, err := f.b.UnsubscribeReference(f.ctx, acctA, id, references.ReasonUser, f.now())
					return err
				}},
				{"paused", references.StatusPaused, func(f *fixture, id string) error {
					_, err := f.b.PauseReference(f.ctx, acctA, id, f.now())
					return err
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					f := setup(t, open)
					ref := f.create(acctA, nil)
					held := f.create(acctA, nil)
					old := f.pushSub("sub-held", false)
					f.poll(held.ID, references.PollResult{Push: &old})
					c, err := f.b.ClaimPoll(f.ctx, "poller", ref.ID, time.Hour)
					if err != nil {
						t.Fatal(err)
					}
					cHeld, err := f.b.ClaimPoll(f.ctx, "poller", held.ID, time.Hour)
					if err != nil {
						t.Fatal(err)
					}
					f.clk.Advance(time.Minute)
					for _, id := range []string{ref.ID, held.ID} {
						if err := tc.stop(f, id); err != nil {
							t.Fatal(err)
						}
					}
					var want []references.PushDeletion
					if tc.status == references.StatusUnsubscribed {
						want = append(want, references.PushDeletion{Source: pushSource, SubscriptionID: old.ID, ReferenceID: held.ID, AccountID: acctA, QueuedAt: f.now()})
					}
					f.wantDeletions("stopped while polled", want...)
					f.clk.Advance(time.Minute)
					made := f.pushSub("sub-made", true)
					got, err := f.b.RecordPoll(f.ctx, c.Lease, references.PollResult{PolledAt: f.now(), NextPollAt: f.now().Add(time.Hour), Push: &made})
					if err != nil {
						t.Fatalf("RecordPoll: %v", err)
					}
					if got.Status != tc.status || got.Push != nil {
						t.Errorf("RecordPoll returned status %s, Push %+v; want the %s reference as it was", got.Status, got.Push, tc.status)
					}
					f.wantPush(ref.ID, nil, "a poll recorded after the reference was "+tc.name)
					rotated := old
					rotated.Secrets = []references.PushSecret{{Key: []byte("rotated")}}
					if _, err := f.b.RecordPoll(f.ctx, cHeld.Lease, references.PollResult{PolledAt: f.now(), NextPollAt: f.now().Add(time.Hour), Push: &rotated}); err != nil {
						t.Fatalf("RecordPoll: %v", err)
					}
					f.wantPush(held.ID, &old, "a poll recorded after the reference was "+tc.name)
					want = append(want, references.PushDeletion{Source: pushSource, SubscriptionID: made.ID, ReferenceID: ref.ID, AccountID: acctA, QueuedAt: f.now()})
					f.wantDeletions("a poll that made a subscription recorded after the reference was "+tc.name, want...)
				})
			}
		})

		t.Run("ClaimsDueOnesOldestFirstUpToLimit", func(t *testing.T) {
			f := setup(t, open)
			subs := f.queueDeletions(4)
			claimed := f.claimDeletions("owner-1", 2)
			if got := subIDs(claimed); !slices.Equal(got, []string{subs[0], subs[1]}) {
				t.Fatalf("first claim of 2: %q, want %q", got, subs[:2])
			}
			for _, c := range claimed {
				if c.Lease.Key == "" || c.Lease.Owner != "owner-1" || !c.Lease.Until.Equal(f.now().Add(leaseFor)) {
					t.Errorf("lease %+v, want one of owner-1 until %v", c.Lease, f.now().Add(leaseFor))
				}
			}
			if claimed[0].Lease.Key == claimed[1].Lease.Key {
				t.Errorf("two deletions share the lease key %q", claimed[0].Lease.Key)
			}
			if got := subIDs(f.claimDeletions("owner-2", 10)); !slices.Equal(got, []string{subs[2], subs[3]}) {
				t.Fatalf("second claim: %q, want the two left %q", got, subs[2:])
			}
			if got := f.claimDeletions("owner-3", 10); len(got) != 0 {
				t.Errorf("a third claim got %q while all are leased", subIDs(got))
			}
			if got, err := f.b.ClaimPushDeletions(f.ctx, "owner-4", 0, leaseFor); err != nil || len(got) != 0 {
				t.Errorf("a claim of 0 = %d, %v; want none", len(got), err)
			}
		})

		t.Run("LeaseRunsOutOnTheStoresClock", func(t *testing.T) {
			f := setup(t, open)
			subs := f.queueDeletions(1)
			first := f.claimDeletions("owner-1", 10)
			if len(first) != 1 {
				t.Fatalf("claimed %d, want 1", len(first))
			}
			f.clk.Advance(leaseFor - time.Second)
			if got := f.claimDeletions("owner-2", 10); len(got) != 0 {
				t.Fatalf("claimed %q a second before the lease ends", subIDs(got))
			}
			f.clk.Advance(2 * time.Second)
			second := f.claimDeletions("owner-2", 10)
			if got := subIDs(second); !slices.Equal(got, subs) {
				t.Fatalf("after the lease ran out: claimed %q, want %q", got, subs)
			}
			if err := f.b.FinishPushDeletion(f.ctx, first[0].Lease); !errors.Is(err, references.ErrLeaseLost) {
				t.Errorf("FinishPushDeletion under the lease that ran out: %v, want ErrLeaseLost", err)
			}
			if err := f.b.RetryPushDeletion(f.ctx, first[0].Lease, f.now().Add(time.Hour), "late"); !errors.Is(err, references.ErrLeaseLost) {
				t.Errorf("RetryPushDeletion under the lease that ran out: %v, want ErrLeaseLost", err)
			}
			f.wantDeletions("after refused outcomes", references.PushDeletion{
				Source: pushSource, SubscriptionID: subs[0], ReferenceID: second[0].Deletion.ReferenceID, AccountID: acctA, QueuedAt: second[0].Deletion.QueuedAt,
			})
			f.finish(second[0].Lease)
			f.wantDeletions("finished under the new lease")
		})

		t.Run("ALeaseRunOutButNotClaimedAgainIsLost", func(t *testing.T) {
			f := setup(t, open)
			f.queueDeletions(1)
			c := f.claimDeletions("owner-1", 10)
			f.clk.Advance(leaseFor + time.Second)
			if err := f.b.FinishPushDeletion(f.ctx, c[0].Lease); !errors.Is(err, references.ErrLeaseLost) {
				t.Errorf("FinishPushDeletion after the lease ran out: %v, want ErrLeaseLost", err)
			}
			if n := len(f.pushDeletions()); n != 1 {
				t.Errorf("%d deletions queued after a refused finish, want 1", n)
			}
		})

		t.Run("FinishRemovesItOnce", func(t *testing.T) {
			f := setup(t, open)
			subs := f.queueDeletions(2)
			c := f.claimDeletions("owner-1", 1)
			f.finish(c[0].Lease)
			if err := f.b.FinishPushDeletion(f.ctx, c[0].Lease); !errors.Is(err, references.ErrLeaseLost) {
				t.Errorf("a second FinishPushDeletion: %v, want ErrLeaseLost", err)
			}
			if got := f.pushDeletions(); len(got) != 1 || got[0].SubscriptionID != subs[1] {
				t.Errorf("queued after a finish: %+v, want only %s", got, subs[1])
			}
			f.clk.Advance(time.Hour)
			if got := subIDs(f.claimDeletions("owner-2", 10)); !slices.Equal(got, subs[1:]) {
				t.Errorf("claimed %q after a finish, want only %q", got, subs[1:])
			}
		})

		t.Run("RetryCountsAttemptsAndWaitsUntil", func(t *testing.T) {
			f := setup(t, open)
			subs := f.queueDeletions(1)
			queued := f.pushDeletions()[0]
			c := f.claimDeletions("owner-1", 1)[0]
			until := f.now().Add(10 * time.Minute)
			if err := f.b.RetryPushDeletion(f.ctx, c.Lease, until, "carrier answered 503"); err != nil {
				t.Fatalf("RetryPushDeletion: %v", err)
			}
			want := queued
			want.Attempts, want.LastError = 1, "carrier answered 503"
			f.wantDeletions("after a retry", want)
			if err := f.b.RetryPushDeletion(f.ctx, c.Lease, until, "again"); !errors.Is(err, references.ErrLeaseLost) {
				t.Errorf("RetryPushDeletion under the lease the first retry ended: %v, want ErrLeaseLost", err)
			}
			if err := f.b.FinishPushDeletion(f.ctx, c.Lease); !errors.Is(err, references.ErrLeaseLost) {
				t.Errorf("FinishPushDeletion under the lease the retry ended: %v, want ErrLeaseLost", err)
			}
			f.clk.Advance(10*time.Minute - time.Second)
			if got := f.claimDeletions("owner-2", 10); len(got) != 0 {
				t.Fatalf("claimed %q a second before it is due again", subIDs(got))
			}
			f.clk.Advance(time.Second)
			again := f.claimDeletions("owner-2", 10)
			if len(again) != 1 || deletionDiff(again[0].Deletion, want) != "" {
				t.Fatalf("claimed %+v when due again, want %+v", again, want)
			}
			if err := f.b.RetryPushDeletion(f.ctx, again[0].Lease, f.now().Add(time.Hour), "carrier answered 500"); err != nil {
				t.Fatalf("second RetryPushDeletion: %v", err)
			}
			want.Attempts, want.LastError = 2, "carrier answered 500"
			f.crash()
			f.wantDeletions("after a second retry and a crash", want)
			f.clk.Advance(time.Hour)
			if got := subIDs(f.claimDeletions("owner-3", 10)); !slices.Equal(got, subs) {
				t.Errorf("claimed %q an hour later, want %q", got, subs)
			}
		})

		t.Run("ARetriedOneGoesBehindTheOthersDue", func(t *testing.T) {
			f := setup(t, open)
			subs := f.queueDeletions(3)
			c := f.claimDeletions("owner-1", 1)[0]
			if c.Deletion.SubscriptionID != subs[0] {
				t.Fatalf("claimed %s first, want %s", c.Deletion.SubscriptionID, subs[0])
			}
			if err := f.b.RetryPushDeletion(f.ctx, c.Lease, f.now().Add(time.Minute), "timeout"); err != nil {
				t.Fatal(err)
			}
			f.clk.Advance(time.Hour)
			if got := subIDs(f.claimDeletions("owner-2", 10)); !slices.Equal(got, []string{subs[1], subs[2], subs[0]}) {
				t.Errorf("claim order %q, want the most overdue first %q", got, []string{subs[1], subs[2], subs[0]})
			}
			// The list stays in the order they were queued.
			var listed []string
			for _, d := range f.pushDeletions() {
				listed = append(listed, d.SubscriptionID)
			}
			if !slices.Equal(listed, subs) {
				t.Errorf("ListPushDeletions order %q, want the order queued %q", listed, subs)
			}
		})

		t.Run("ReleaseLeaseMakesItClaimableAgain", func(t *testing.T) {
			f := setup(t, open)
			subs := f.queueDeletions(1)
			c := f.claimDeletions("owner-1", 1)[0]
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatalf("ReleaseLease: %v", err)
			}
			again := f.claimDeletions("owner-2", 1)
			if got := subIDs(again); !slices.Equal(got, subs) {
				t.Fatalf("claimed %q after a release, want %q", got, subs)
			}
			if err := f.b.FinishPushDeletion(f.ctx, c.Lease); !errors.Is(err, references.ErrLeaseLost) {
				t.Errorf("FinishPushDeletion under the released lease: %v, want ErrLeaseLost", err)
			}
			renewed, err := f.b.RenewLease(f.ctx, again[0].Lease, time.Hour)
			if err != nil {
				t.Fatalf("RenewLease: %v", err)
			}
			f.clk.Advance(30 * time.Minute)
			f.finish(renewed)
		})

		t.Run("LeasesOfOtherWorkAreRefused", func(t *testing.T) {
			f := setup(t, open)
			f.queueDeletions(1)
			ref := f.create(acctA, nil)
			poll := f.claimPoll("poller", ref.ID)
			if err := f.b.FinishPushDeletion(f.ctx, poll.Lease); !errors.Is(err, references.ErrLeaseLost) {
				t.Errorf("FinishPushDeletion under a poll lease: %v, want ErrLeaseLost", err)
			}
			if err := f.b.RetryPushDeletion(f.ctx, poll.Lease, f.now(), "x"); !errors.Is(err, references.ErrLeaseLost) {
				t.Errorf("RetryPushDeletion under a poll lease: %v, want ErrLeaseLost", err)
			}
			if _, err := f.b.RecordPoll(f.ctx, poll.Lease, references.PollResult{PolledAt: f.now(), NextPollAt: f.now()}); err != nil {
				t.Errorf("the poll lease after refused deletion outcomes: %v", err)
			}
			if n := len(f.pushDeletions()); n != 1 {
				t.Errorf("%d deletions queued, want 1", n)
			}
		})

		t.Run("ListIsOldestFirstUpToLimit", func(t *testing.T) {
			f := setup(t, open)
			subs := f.queueDeletions(3)
			c := f.claimDeletions("owner-1", 10) // leased ones are listed too
			if len(c) != 3 {
				t.Fatalf("claimed %d, want 3", len(c))
			}
			for _, limit := range []int{1, 2, 3, 10} {
				got, err := f.b.ListPushDeletions(f.ctx, limit)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, d := range got {
					ids = append(ids, d.SubscriptionID)
				}
				want := subs[:min(limit, len(subs))]
				if !slices.Equal(ids, want) {
					t.Errorf("ListPushDeletions(%d) = %q, want %q", limit, ids, want)
				}
			}
		})

		t.Run("NeverOverlapsUnderConcurrentClaimers", func(t *testing.T) {
			f := setup(t, open)
			subs := f.queueDeletions(30)
			got := f.claimConcurrently(6, func(owner string) ([]string, error) {
				claims, err := f.b.ClaimPushDeletions(f.ctx, owner, 3, leaseFor)
				var keys []string
				for _, c := range claims {
					keys = append(keys, c.Lease.Key)
				}
				return keys, err
			})
			if len(got) != len(subs) {
				t.Errorf("%d of %d queued deletions were claimed", len(got), len(subs))
			}
		})

		t.Run("FinishAndClaimConcurrently", func(t *testing.T) {
			f := setup(t, open)
			f.queueDeletions(20)
			errs := make(chan error, 4)
			for w := range 4 {
				go func() {
					owner := fmt.Sprintf("owner-%d", w)
					for {
						claims, err := f.b.ClaimPushDeletions(f.ctx, owner, 2, leaseFor)
						if err != nil || len(claims) == 0 {
							errs <- err
							return
						}
						for _, c := range claims {
							if err := f.b.FinishPushDeletion(f.ctx, c.Lease); err != nil {
								errs <- fmt.Errorf("finish %s: %w", c.Deletion.SubscriptionID, err)
								return
							}
						}
					}
				}()
			}
			for range 4 {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			f.wantDeletions("every deletion claimed and finished")
		})
	})
}

// pushSub returns a subscription of pushSource named id, made an hour ago and checked
// now, with a new secret and, when rotated, a previous one good for another hour.
func (f *fixture) pushSub(id string, rotated bool) references.PushSubscription {
	now := f.now()
	s := references.PushSubscription{
		Source:    pushSource,
		ID:        id,
		Secrets:   []references.PushSecret{{Key: []byte("secret of " + id + "\x00\xff")}},
		CreatedAt: now.Add(-time.Hour),
		RotatedAt: now.Add(-time.Hour),
		CheckedAt: now,
	}
	if rotated {
		until := now.Add(time.Hour)
		pushed := now.Add(-time.Minute)
		s.Secrets = append(s.Secrets, references.PushSecret{Key: []byte("previous secret of " + id), Until: &until})
		s.RotatedAt = now.Add(-10 * time.Minute)
		s.LastPushAt = &pushed
	}
	return s
}

// wantPush fails the test unless the reference's Push, read by GetReference and by
// ReferenceByID, is want.
func (f *fixture) wantPush(refID string, want *references.PushSubscription, when string) {
	f.t.Helper()
	byID, err := f.b.ReferenceByID(f.ctx, refID)
	if err != nil {
		f.t.Fatalf("%s: ReferenceByID(%s): %v", when, refID, err)
	}
	if d := pushDiff(byID.Push, want); d != "" {
		f.t.Errorf("%s: ReferenceByID gives Push %s", when, d)
	}
	if d := pushDiff(f.get(byID.AccountID, refID).Push, want); d != "" {
		f.t.Errorf("%s: GetReference gives Push %s", when, d)
	}
}

// pushDiff says how got differs from want, or returns "".
func pushDiff(got, want *references.PushSubscription) string {
	switch {
	case got == nil && want == nil:
		return ""
	case got == nil || want == nil:
		return fmt.Sprintf("%+v, want %+v", got, want)
	}
	same := got.Source == want.Source && got.ID == want.ID && len(got.Secrets) == len(want.Secrets) &&
		got.CreatedAt.Equal(want.CreatedAt) && got.RotatedAt.Equal(want.RotatedAt) && got.CheckedAt.Equal(want.CheckedAt) &&
		sameTime(got.LastPushAt, want.LastPushAt)
	for i := 0; same && i < len(got.Secrets); i++ {
		same = bytes.Equal(got.Secrets[i].Key, want.Secrets[i].Key) && sameTime(got.Secrets[i].Until, want.Secrets[i].Until)
	}
	if same {
		return ""
	}
	return fmt.Sprintf("%+v, want %+v", *got, *want)
}

// deletionDiff says how got differs from want, or returns "".
func deletionDiff(got, want references.PushDeletion) string {
	if got.Source == want.Source && got.SubscriptionID == want.SubscriptionID && got.ReferenceID == want.ReferenceID &&
		got.AccountID == want.AccountID && got.QueuedAt.Equal(want.QueuedAt) && got.Attempts == want.Attempts && got.LastError == want.LastError {
		return ""
	}
	return fmt.Sprintf("%+v, want %+v", got, want)
}

// pushDeletions lists the whole queue of deletions.
func (f *fixture) pushDeletions() []references.PushDeletion {
	f.t.Helper()
	ds, err := f.b.ListPushDeletions(f.ctx, 1000)
	if err != nil {
		f.t.Fatalf("ListPushDeletions: %v", err)
	}
	return ds
}

// wantDeletions fails the test unless the queue holds exactly want, in that order.
func (f *fixture) wantDeletions(when string, want ...references.PushDeletion) {
	f.t.Helper()
	got := f.pushDeletions()
	if len(got) != len(want) {
		f.t.Errorf("%s: %d deletions queued %+v, want %d %+v", when, len(got), got, len(want), want)
		return
	}
	for i := range got {
		if d := deletionDiff(got[i], want[i]); d != "" {
			f.t.Errorf("%s: deletion #%d is %s", when, i+1, d)
		}
	}
}

// claimDeletions claims up to limit due deletions for owner.
func (f *fixture) claimDeletions(owner string, limit int) []references.PushDeletionClaim {
	f.t.Helper()
	claims, err := f.b.ClaimPushDeletions(f.ctx, owner, limit, leaseFor)
	if err != nil {
		f.t.Fatalf("ClaimPushDeletions: %v", err)
	}
	if len(claims) > limit {
		f.t.Fatalf("ClaimPushDeletions(limit %d) gave %d", limit, len(claims))
	}
	return claims
}

// finish finishes a claimed deletion, failing the test on error.
func (f *fixture) finish(lease references.Lease) {
	f.t.Helper()
	if err := f.b.FinishPushDeletion(f.ctx, lease); err != nil {
		f.t.Fatalf("FinishPushDeletion: %v", err)
	}
}

// queueDeletions subscribes n references of acctA and unsubscribes them a second
// apart, so that their deletions are queued in order, and returns their subscription
// ids in that order.
func (f *fixture) queueDeletions(n int) []string {
	f.t.Helper()
	var subs []string
	for i := range n {
		ref := f.create(acctA, nil)
		sub := f.pushSub(fmt.Sprintf("sub-%02d", i), false)
		f.poll(ref.ID, references.PollResult{Push: &sub})
		f.unsubscribe(acctA, ref.ID, references.ReasonUser)
		subs = append(subs, sub.ID)
		f.clk.Advance(time.Second)
	}
	return subs
}

// subIDs returns the subscription ids of claims, in their order.
func subIDs(claims []references.PushDeletionClaim) []string {
	var ids []string
	for _, c := range claims {
		ids = append(ids, c.Deletion.SubscriptionID)
	}
	return ids
}
