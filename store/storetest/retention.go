package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runRetention exercises Prune on the kinds besides updates (see maintenance.go):
// the delivery log, expired idempotency keys and unsubscribed references, the bound on
// one call, and the counts Stats keeps of it.
func runRetention(t *testing.T, open Opener) {
	t.Run("PruneAttempts", func(t *testing.T) {
		t.Run("DeletesDeliveryLogEntriesMadeBeforeTheCutoff", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			f.deliverAll(ref.ID)
			cutoff := f.now().Add(time.Minute)
			f.clk.Advance(time.Hour)
			f.appendUpdates(ref.ID)
			f.deliverAll(ref.ID)
			got := f.prune(references.PruneRequest{Attempts: cutoff, Max: 100})
			if got != (references.PruneCounts{Attempts: 2}) {
				t.Fatalf("Prune = %+v, want the 2 attempts made before the cutoff", got)
			}
			log := f.deliveries(acctA, ref.ID)
			if len(log) != 1 || log[0].Sequence != 3 {
				t.Errorf("delivery log after pruning = %+v, want the attempt of update 3 only", log)
			}
			if n := len(f.updatesOf(acctA, ref.ID)); n != 3 {
				t.Errorf("feed holds %d updates after pruning the log, want 3: only attempts were asked for", n)
			}
		})

		t.Run("BoundedByMaxOldestFirst", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			for range 5 {
				f.appendUpdates(ref.ID)
				f.deliverAll(ref.ID)
				f.clk.Advance(time.Minute)
			}
			for _, tc := range []struct {
				max  int
				want int64
				left []uint64 // sequences of the attempts left, newest first
			}{{2, 2, []uint64{5, 4, 3}}, {10, 3, nil}, {10, 0, nil}} {
				got := f.prune(references.PruneRequest{Attempts: f.now(), Max: tc.max})
				if got.Attempts != tc.want || got.Total() != tc.want {
					t.Fatalf("Prune(max %d) = %+v, want %d attempts", tc.max, got, tc.want)
				}
				var left []uint64
				for _, a := range f.deliveries(acctA, ref.ID) {
					left = append(left, a.Sequence)
				}
				if !slices.Equal(left, tc.left) {
					t.Fatalf("log after Prune(max %d) = %v, want %v (oldest deleted first)", tc.max, left, tc.left)
				}
			}
		})
	})

	t.Run("PruneIdempotencyKeys", func(t *testing.T) {
		t.Run("DeletesExpiredKeysAndKeepsLiveOnes", func(t *testing.T) {
			f := setup(t, open)
			short := &references.IdempotencyKey{Key: "short", RequestHash: "h1", ExpiresAt: f.now().Add(time.Hour)}
			long := &references.IdempotencyKey{Key: "long", RequestHash: "h2", ExpiresAt: f.now().Add(3 * time.Hour)}
			first := f.createWith(f.newRef(acctA, nil), references.CreateOptions{Idempotency: short})
			kept := f.createWith(f.newRef(acctA, nil), references.CreateOptions{Idempotency: long})
			f.clk.Advance(2 * time.Hour)
			if got := f.prune(references.PruneRequest{IdempotencyKeys: f.now(), Max: 100}); got != (references.PruneCounts{IdempotencyKeys: 1}) {
				t.Fatalf("Prune = %+v, want the one expired key", got)
			}
			again, replayed, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{Idempotency: long})
			if err != nil || !replayed || again.ID != kept.ID {
				t.Errorf("create with the live key = %s replayed %t, %v; want %s replayed", again.ID, replayed, err, kept.ID)
			}
			other := &references.IdempotencyKey{Key: "short", RequestHash: "another", ExpiresAt: f.now().Add(time.Hour)}
			fresh, replayed, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{Idempotency: other})
			if err != nil || replayed || fresh.ID == first.ID {
				t.Errorf("create with the expired key = %s replayed %t, %v; want a new reference", fresh.ID, replayed, err)
			}
			if got := f.prune(references.PruneRequest{IdempotencyKeys: f.now(), Max: 100}); got.Total() != 0 {
				t.Errorf("a second Prune = %+v, want nothing: the reused key is live", got)
			}
		})
	})

	t.Run("PruneUnsubscribed", func(t *testing.T) {
		t.Run("DeletesAReferenceWithEverythingOfIts", func(t *testing.T) {
			f := setup(t, open)
			gone := f.create(acctA, withCallback(url1))
			f.poll(gone.ID, references.PollResult{
				Shipment: &references.Shipment{Status: references.ShipmentInTransit},
				Updates:  []references.Update{f.update(references.UpdateShipment), f.update(references.UpdateShipment)},
			})
			f.deliverAll(gone.ID)
			f.unsubscribe(acctA, gone.ID, references.ReasonCallbackGone) // nothing left to deliver
			updates := int64(len(f.updatesOf(acctA, gone.ID)))
			cutoff := f.now().Add(time.Minute)
			f.clk.Advance(time.Hour)
			later := f.create(acctA, nil)
			f.unsubscribe(acctA, later.ID, references.ReasonUser)
			f.clk.Advance(time.Second) // creation order is by time
			active := f.create(acctA, nil)
			before := f.stats()

			got := f.prune(references.PruneRequest{Unsubscribed: cutoff, Max: 100})
			if want := (references.PruneCounts{References: 1, Updates: updates, Attempts: 2}); got != want {
				t.Fatalf("Prune = %+v, want %+v: the reference, its updates and its 2 attempts", got, want)
			}
			if _, err := f.b.GetReference(f.ctx, acctA, gone.ID); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("GetReference of the deleted reference: %v, want not found", err)
			}
			if _, err := f.b.ListUpdates(f.ctx, acctA, gone.ID, 0, 10); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("ListUpdates of the deleted reference: %v, want not found", err)
			}
			if _, err := f.b.ListDeliveries(f.ctx, acctA, gone.ID, references.DeliveryQuery{Limit: 10}); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("ListDeliveries of the deleted reference: %v, want not found", err)
			}
			if s, err := f.b.Shipment(f.ctx, gone.ID); err != nil || s != nil {
				t.Errorf("Shipment of the deleted reference = %+v, %v; want none", s, err)
			}
			if ids, _ := f.listAll(acctA, references.ListQuery{Limit: 10}); !slices.Equal(ids, []string{later.ID, active.ID}) {
				t.Errorf("ListReferences = %v, want the two others %v", ids, []string{later.ID, active.ID})
			}
			st := f.stats()
			if st.UnsubscribedReferences != before.UnsubscribedReferences-1 || st.ActiveReferences != before.ActiveReferences || st.PendingDeliveries != 0 {
				t.Errorf("counts after the delete: %d active, %d unsubscribed, %d pending; want %d, %d, 0",
					st.ActiveReferences, st.UnsubscribedReferences, st.PendingDeliveries, before.ActiveReferences, before.UnsubscribedReferences-1)
			}
			if st.Pruned != got || st.LastPruneAt == nil || !st.LastPruneAt.Equal(f.now()) {
				t.Errorf("Stats after the prune: pruned %+v at %v; want %+v at %v", st.Pruned, st.LastPruneAt, got, f.now())
			}
			again := f.create(acctA, func(r *references.Reference) { r.ContainerID = gone.ContainerID })
			if again.ID == gone.ID {
				t.Error("the identifier of the deleted reference could not be tracked again")
			}
		})

		t.Run("KeepsAReferenceUntilItsFeedIsDelivered", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.poll(ref.ID, references.PollResult{
				Updates:     []references.Update{f.update(references.UpdateShipment), f.update(references.UpdateUnsubscribed)},
				Unsubscribe: references.ReasonTrackingComplete,
			})
			f.clk.Advance(time.Hour)
			if got := f.prune(references.PruneRequest{Unsubscribed: f.now(), Updates: f.now(), Max: 100}); got.Total() != 0 {
				t.Fatalf("Prune = %+v, want nothing: both updates are still to be delivered", got)
			}
			if r := f.get(acctA, ref.ID); r.Status != references.StatusUnsubscribed || r.LastSequence != 2 {
				t.Fatalf("reference after the prune: %s with %d updates", r.Status, r.LastSequence)
			}
			f.deliverAll(ref.ID)
			got := f.prune(references.PruneRequest{Unsubscribed: f.now(), Max: 100})
			if got.References != 1 || got.Updates != 2 {
				t.Errorf("Prune after delivery = %+v, want the reference and its 2 updates", got)
			}
		})

		t.Run("KeepsAReferenceWhileARedeliveryIsQueued", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			ups := f.appendUpdates(ref.ID)
			f.deliverAll(ref.ID)
			f.poll(ref.ID, references.PollResult{Unsubscribe: references.ReasonMaxAge})
			if err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, ups[0].ID, f.now()); err != nil {
				t.Fatal(err)
			}
			f.clk.Advance(time.Hour)
			if got := f.prune(references.PruneRequest{Unsubscribed: f.now(), Max: 100}); got.References != 0 {
				t.Fatalf("Prune = %+v, want the reference kept: its redelivery is queued", got)
			}
			c := f.claimDelivery("owner-1", references.RedeliveryLeaseKey(references.DestinationCallback, ref.ID, ups[0].ID))
			f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
			if got := f.prune(references.PruneRequest{Unsubscribed: f.now(), Max: 100}); got.References != 1 {
				t.Errorf("Prune after the redelivery = %+v, want the reference deleted", got)
			}
		})

		t.Run("KeepsReferencesUnsubscribedSinceTheCutoff", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			cutoff := f.now()
			f.unsubscribe(acctA, ref.ID, references.ReasonUser)
			f.clk.Advance(time.Hour)
			if got := f.prune(references.PruneRequest{Unsubscribed: cutoff, Max: 100}); got.Total() != 0 {
				t.Errorf("Prune = %+v, want nothing: unsubscribed at the cutoff, not before", got)
			}
			f.get(acctA, ref.ID)
		})

		t.Run("BoundedByMaxAcrossItsRecords", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment, references.UpdateShipment)
			f.deliverAll(ref.ID)
			f.unsubscribe(acctA, ref.ID, references.ReasonCallbackGone) // nothing left to deliver
			updates := int64(len(f.updatesOf(acctA, ref.ID)))           // 3, and a final update if the backend appends one
			f.clk.Advance(time.Hour)
			req := references.PruneRequest{Unsubscribed: f.now(), Max: 4}
			if got := f.prune(req); got.Total() != 4 || got.References != 0 {
				t.Fatalf("first Prune(max 4) = %+v, want 4 of its %d updates and attempts, the reference kept", got, updates+3)
			}
			if r := f.get(acctA, ref.ID); r.Status != references.StatusUnsubscribed {
				t.Fatalf("reference between the two prunes: %s", r.Status)
			}
			if got := f.prune(req); got.Total() != updates+3-4+1 || got.References != 1 {
				t.Fatalf("second Prune(max 4) = %+v, want the last %d records and the reference", got, updates+3-4)
			}
			if st := f.stats(); st.Pruned != (references.PruneCounts{Updates: updates, Attempts: 3, References: 1}) {
				t.Errorf("Stats.Pruned = %+v, want %d updates, 3 attempts, 1 reference", st.Pruned, updates)
			}
		})

		t.Run("AKeyOfADeletedReferenceCreatesAnew", func(t *testing.T) {
			f := setup(t, open)
			idem := &references.IdempotencyKey{Key: "k1", RequestHash: "h1", ExpiresAt: f.now().Add(references.IdempotencyTTL)}
			first := f.createWith(f.newRef(acctA, nil), references.CreateOptions{Idempotency: idem})
			f.unsubscribe(acctA, first.ID, references.ReasonUser)
			f.clk.Advance(time.Hour)
			if got := f.prune(references.PruneRequest{Unsubscribed: f.now(), Max: 100}); got.References != 1 {
				t.Fatalf("Prune = %+v, want the reference deleted", got)
			}
			again, replayed, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{Idempotency: idem})
			if err != nil || replayed || again.ID == first.ID {
				t.Errorf("create with the key of a deleted reference = %s replayed %t, %v; want a new reference", again.ID, replayed, err)
			}
		})
	})

	t.Run("PruneUpdatesKeepsWhatAPausedReferenceOwesItsCallback", func(t *testing.T) {
		f := setup(t, open)
		ref := f.create(acctA, withCallback(url1))
		f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
		if _, err := f.b.PauseReference(f.ctx, acctA, ref.ID, f.now()); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(time.Hour)
		if got := f.prune(references.PruneRequest{Updates: f.now(), Max: 100}); got.Updates != 0 {
			t.Fatalf("Prune = %+v; want the paused reference's 2 undelivered updates kept", got)
		}
		if _, err := f.b.ResumeReference(f.ctx, acctA, ref.ID, f.now()); err != nil {
			t.Fatal(err)
		}
		f.deliverAll(ref.ID)
		if log := f.deliveries(acctA, ref.ID); len(log) != 2 {
			t.Errorf("delivery log after resuming = %+v; want both updates delivered", log)
		}
	})

	t.Run("PruneMessages", func(t *testing.T) {
		t.Run("ExpiresPendingMessagesEvenOfADisabledEndpointAndDeletesFinishedOnes", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			ep := f.addEndpoint(acctA, nil)
			ups := f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			c := f.claimDelivery("owner-1", references.DeliveryLeaseKey(ep.ID, ref.ID))
			f.record(c.Lease, c.Job, f.epAttempt(c.Job, references.OutcomeDelivered))
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
			f.patchEndpointWith(acctA, ep.ID, func(e *references.Endpoint) { e.Disable(references.DisabledByUser, f.now()) })
			f.clk.Advance(time.Hour)
			cutoff := f.now()
			f.clk.Advance(time.Minute)
			got := f.prune(references.PruneRequest{Messages: cutoff, Max: 100})
			if got != (references.PruneCounts{Messages: 1, ExpiredMessages: 1}) {
				t.Fatalf("Prune = %+v, want the delivered message deleted and the pending one expired", got)
			}
			if _, _, err := f.b.GetMessage(f.ctx, acctA, ep.ID, ups[0].ID); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("GetMessage of the deleted message: %v, want not found", err)
			}
			m := f.message(acctA, ep.ID, ups[1].ID)
			last := m.LastAttempt()
			if m.Status != references.MessageFailed || m.FailReason != references.OutcomeExpired || last == nil ||
				last.Outcome != references.OutcomeExpired || !last.At.Equal(f.now()) || last.Error == "" {
				t.Errorf("pending message after the prune: %+v, want failed as expired now, with a log entry saying why", m)
			}
			f.patchEndpointWith(acctA, ep.ID, func(e *references.Endpoint) { e.Enabled, e.DisabledReason, e.DisabledAt = true, "", nil })
			f.noDeliveryDue("the only pending message expired")
			if st := f.stats(); st.Pruned.Messages != 1 || st.Pruned.ExpiredMessages != 1 || st.PendingDeliveries != 0 {
				t.Errorf("Stats: pruned %+v, %d pending deliveries", st.Pruned, st.PendingDeliveries)
			}
		})

		t.Run("KeepsAnExpiredMessageForARetentionPeriodAfterItsExpiry", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			ep := f.addEndpoint(acctA, nil)
			ups := f.appendUpdates(ref.ID)
			f.clk.Advance(time.Hour)
			expired := f.now()
			if got := f.prune(references.PruneRequest{Messages: expired, Max: 100}); got != (references.PruneCounts{ExpiredMessages: 1}) {
				t.Fatalf("first Prune = %+v, want the message expired", got)
			}
			f.clk.Advance(time.Minute)
			if got := f.prune(references.PruneRequest{Messages: expired, Max: 100}); got.Total() != 0 {
				t.Fatalf("Prune with a cutoff not after the expiry = %+v, want nothing: its log is recent", got)
			}
			f.message(acctA, ep.ID, ups[0].ID)
			if got := f.prune(references.PruneRequest{Messages: f.now(), Max: 100}); got != (references.PruneCounts{Messages: 1}) {
				t.Errorf("Prune after its log is old = %+v, want the message deleted", got)
			}
		})

		t.Run("BoundedByMaxOldestFirst", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			ep := f.addEndpoint(acctA, nil)
			var ups []references.Update
			for range 5 {
				ups = append(ups, f.appendUpdates(ref.ID)...)
				f.clk.Advance(time.Minute)
			}
			for i, want := range []int64{2, 2, 1, 0} {
				got := f.prune(references.PruneRequest{Messages: f.now(), Max: 2})
				if got.ExpiredMessages != want || got.Total() != want {
					t.Fatalf("Prune #%d (max 2) = %+v, want %d expired", i+1, got, want)
				}
			}
			c := f.claimDeliveries("checker", 10)
			if len(c) != 0 {
				t.Errorf("%d claims after every message expired", len(c))
			}
			for _, u := range ups {
				if m := f.message(acctA, ep.ID, u.ID); m.FailReason != references.OutcomeExpired {
					t.Errorf("message %d: %s (%s), want expired", m.Sequence, m.Status, m.FailReason)
				}
			}
		})

		t.Run("ForgettingAReferenceTakesItsMessagesOutOfTheirStreams", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			ep := f.addEndpoint(acctA, nil)
			ups := f.appendUpdates(ref.ID)
			f.unsubscribe(acctA, ref.ID, references.ReasonUser)
			f.clk.Advance(time.Hour)
			if got := f.prune(references.PruneRequest{Unsubscribed: f.now(), Max: 100}); got.References != 1 {
				t.Fatalf("Prune = %+v, want the reference forgotten", got)
			}
			f.noDeliveryDue("the forgotten reference's messages left their streams")
			m, body, err := f.b.GetMessage(f.ctx, acctA, ep.ID, ups[0].ID)
			if err != nil || body.Update != nil || m.Status != references.MessagePending {
				t.Fatalf("message of the forgotten reference = %+v (update %v), %v; want it kept, without its update", m, body.Update, err)
			}
			if got := f.prune(references.PruneRequest{Messages: f.now(), Max: 100}); got.ExpiredMessages != 2 {
				t.Errorf("Prune of messages = %+v, want both expired (the update and the final one)", got)
			}
		})
	})

	t.Run("Prune", func(t *testing.T) {
		t.Run("RecordsTheTimeOfEachPrune", func(t *testing.T) {
			f := setup(t, open)
			if st := f.stats(); st.LastPruneAt != nil || st.Pruned.Total() != 0 {
				t.Fatalf("Stats of a new store: pruned %+v at %v, want nothing, never", st.Pruned, st.LastPruneAt)
			}
			f.clk.Advance(time.Hour)
			all := references.PruneRequest{Updates: f.now(), Attempts: f.now(), IdempotencyKeys: f.now(), Unsubscribed: f.now(), Messages: f.now(), Max: 100}
			if got := f.prune(all); got.Total() != 0 {
				t.Fatalf("Prune of an empty store = %+v", got)
			}
			st := f.stats()
			if st.LastPruneAt == nil || !st.LastPruneAt.Equal(f.now()) {
				t.Errorf("LastPruneAt = %v after a prune that found nothing, want %v", st.LastPruneAt, f.now())
			}
			f.restart()
			if st := f.stats(); st.LastPruneAt == nil || !st.LastPruneAt.Equal(f.now()) {
				t.Errorf("LastPruneAt = %v after a restart, want %v", st.LastPruneAt, f.now())
			}
		})

		t.Run("MaxZeroDeletesNothing", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			f.appendUpdates(ref.ID)
			f.unsubscribe(acctA, ref.ID, references.ReasonUser)
			f.clk.Advance(time.Hour)
			if got := f.prune(references.PruneRequest{Updates: f.now(), Unsubscribed: f.now()}); got.Total() != 0 {
				t.Errorf("Prune(max 0) = %+v, want nothing", got)
			}
			f.get(acctA, ref.ID)
		})
	})
}

// prune runs one Prune, failing the test on error.
func (f *fixture) prune(req references.PruneRequest) references.PruneCounts {
	f.t.Helper()
	got, err := f.b.Prune(f.ctx, req)
	if err != nil {
		f.t.Fatalf("Prune(%+v): %v", req, err)
	}
	if got.Total() > int64(req.Max) {
		f.t.Fatalf("Prune(max %d) deleted %+v, more than max", req.Max, got)
	}
	return got
}

// pruneUpdates prunes only updates, returning how many went.
func (f *fixture) pruneUpdates(cutoff time.Time, max int) (int, error) {
	got, err := f.b.Prune(f.ctx, references.PruneRequest{Updates: cutoff, Max: max})
	if got.Total() != got.Updates {
		f.t.Errorf("a prune of updates deleted other kinds: %+v", got)
	}
	return int(got.Updates), err
}

// stats reads the backend's counts, failing the test on error.
func (f *fixture) stats() references.Stats {
	f.t.Helper()
	st, err := f.b.Stats(f.ctx)
	if err != nil {
		f.t.Fatalf("Stats: %v", err)
	}
	return st
}

// unsubscribe unsubscribes a reference now, failing the test on error.
func (f *fixture) unsubscribe(accountID, refID string, reason references.UnsubscribeReason) references.Reference {
	f.t.Helper()
	ref, err := f.b.UnsubscribeReference(f.ctx, accountID, refID, reason, f.now())
	if err != nil {
		f.t.Fatalf("UnsubscribeReference(%s): %v", refID, err)
	}
	return ref
}

// createWith stores ref under opts, failing the test on error.
func (f *fixture) createWith(ref references.Reference, opts references.CreateOptions) references.Reference {
	f.t.Helper()
	stored, _, err := f.b.CreateReference(f.ctx, ref, opts)
	if err != nil {
		f.t.Fatalf("CreateReference: %v", err)
	}
	return stored
}
