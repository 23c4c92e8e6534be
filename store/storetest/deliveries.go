package storetest

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runDeliveries exercises the DeliveryQueue's ordered streams: what is due, in which
// order, what passes over filtered updates, postponing, and the delivery log.
func runDeliveries(t *testing.T, open Opener) {
	t.Run("ClaimDueDeliveries", func(t *testing.T) {
		t.Run("NewUpdateIsDueWithItsFirstJob", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			ups := f.appendUpdates(ref.ID)
			claims, err := f.b.ClaimDueDeliveries(f.ctx, "owner-1", 10, 30*time.Second)
			if err != nil || len(claims) != 1 {
				t.Fatalf("ClaimDueDeliveries = %d claims, %v; want the new update's stream", len(claims), err)
			}
			c := claims[0]
			key := references.DeliveryLeaseKey(references.DestinationCallback, ref.ID)
			if c.Lease.Key != key || c.Lease.Owner != "owner-1" || !c.Lease.Until.Equal(f.now().Add(30*time.Second)) {
				t.Errorf("lease %+v, want %s held by owner-1 until %v", c.Lease, key, f.now().Add(30*time.Second))
			}
			j := c.Job
			if j.Reference.ID != ref.ID || j.Reference.CallbackURL != url1 || j.Update.ID != ups[0].ID || j.Update.Sequence != 1 ||
				j.Attempt != 1 || !j.FirstAttemptAt.IsZero() || j.Redelivery {
				t.Errorf("job: reference %s url %q update %s (%d) attempt %d first %v redelivery %t; want the first try of update 1 to %q",
					j.Reference.ID, j.Reference.CallbackURL, j.Update.ID, j.Update.Sequence, j.Attempt, j.FirstAttemptAt, j.Redelivery, url1)
			}
			if j.Destination != references.DestinationCallback {
				t.Errorf("job destination %q, want %q", j.Destination, references.DestinationCallback)
			}
			if !slices.Equal(j.Secrets, []string{secretOf(acctA)}) {
				t.Errorf("job secrets %q, want the account's %q", j.Secrets, secretOf(acctA))
			}
		})

		t.Run("NothingForAReferenceWithoutCallback", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			f.appendUpdates(ref.ID)
			f.noDeliveryDue("no callback URL")
		})

		t.Run("MostOverdueFirstUpToLimit", func(t *testing.T) {
			f := setup(t, open)
			var refs []references.Reference
			for range 3 {
				refs = append(refs, f.create(acctA, withCallback(url1)))
			}
			for _, i := range []int{2, 0, 1} {
				f.appendUpdates(refs[i].ID)
				f.clk.Advance(time.Minute)
			}
			var got []string
			for range 2 {
				claims := f.claimDeliveries("owner-1", 2)
				if len(claims) > 2 {
					t.Fatalf("limit 2 gave %d claims", len(claims))
				}
				for _, c := range claims {
					got = append(got, c.Job.Reference.ID)
				}
			}
			want := []string{refs[2].ID, refs[0].ID, refs[1].ID}
			if !slices.Equal(got, want) {
				t.Fatalf("claim order %q, want most overdue first %q", got, want)
			}
		})

		t.Run("StreamHandsOutUpdatesInSequenceOrder", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			f.appendUpdates(ref.ID)
			c := f.claimStream("owner-1", ref.ID)
			job := c.Job
			for want := uint64(1); want <= 3; want++ {
				if job.Update.Sequence != want || job.Attempt != 1 {
					t.Fatalf("job: update %d attempt %d, want update %d attempt 1", job.Update.Sequence, job.Attempt, want)
				}
				got := f.record(c.Lease, job, f.attempt(job, references.OutcomeDelivered))
				if got.DeliveredSequence != want {
					t.Fatalf("DeliveredSequence = %d after delivering %d", got.DeliveredSequence, want)
				}
				if want < 3 {
					job = f.next(c.Lease)
				}
			}
			f.drained(c.Lease)
			f.noDeliveryDue("every update delivered")
		})

		t.Run("NextUpdateNeverBeforeThePreviousIsDeliveredOrGivenUp", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			c := f.claimStream("owner-1", ref.ID)
			first := f.attempt(c.Job, references.OutcomeFailed)
			retry := f.now().Add(5 * time.Minute)
			first.NextRetryAt = &retry
			f.record(c.Lease, c.Job, first)
			f.clk.Advance(2 * time.Minute) // the lease ran out, the retry is not due
			f.noDeliveryDue("update 1 failed and waits for its retry")
			f.clk.Set(retry)
			c = f.claimStream("owner-2", ref.ID)
			if c.Job.Update.Sequence != 1 || c.Job.Attempt != 2 || !c.Job.FirstAttemptAt.Equal(first.At) {
				t.Fatalf("retry: update %d attempt %d first %v; want update 1 attempt 2 first tried %v", c.Job.Update.Sequence, c.Job.Attempt, c.Job.FirstAttemptAt, first.At)
			}
			f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeGaveUp))
			if job := f.next(c.Lease); job.Update.Sequence != 2 || job.Attempt != 1 {
				t.Fatalf("after giving up on 1: update %d attempt %d, want update 2 attempt 1", job.Update.Sequence, job.Attempt)
			}
		})

		t.Run("NeverOverlapsUnderConcurrentClaimers", func(t *testing.T) {
			f := setup(t, open)
			want := map[string]bool{}
			for range 20 {
				ref := f.create(acctA, withCallback(url1))
				ups := f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
				f.deliverAll(ref.ID)
				f.appendUpdates(ref.ID) // pending in the stream
				if err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, ups[0].ID, f.now()); err != nil {
					t.Fatal(err)
				}
				want[references.DeliveryLeaseKey(references.DestinationCallback, ref.ID)] = true
				want[references.RedeliveryLeaseKey(references.DestinationCallback, ref.ID, ups[0].ID)] = true
			}
			got := f.claimConcurrently(8, f.claimDeliveryKeys(3))
			for key := range want {
				if _, ok := got[key]; !ok {
					t.Errorf("%s was never claimed", key)
				}
			}
			for key := range got {
				if !want[key] {
					t.Errorf("unexpected claim %s", key)
				}
			}
		})

		t.Run("ConcurrentWorkersDeliverEachUpdateOnceInOrder", func(t *testing.T) {
			f := setup(t, open)
			var refs []string
			for range 20 {
				ref := f.create(acctA, withCallback(url1))
				f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment, references.UpdateShipment)
				refs = append(refs, ref.ID)
			}
			f.deliverConcurrently(8, 2, func() bool { return true })
			for _, id := range refs {
				var got []uint64
				for _, a := range f.deliveries(acctA, id) {
					got = append(got, a.Sequence)
				}
				if !slices.Equal(got, []uint64{3, 2, 1}) {
					t.Errorf("delivery log of %s (newest first) = %v, want [3 2 1]: each update once, in order", id, got)
				}
				if r := f.get(acctA, id); r.DeliveredSequence != 3 {
					t.Errorf("%s: DeliveredSequence = %d, want 3", id, r.DeliveredSequence)
				}
			}
		})
	})

	t.Run("PollsAndDeliveries", func(t *testing.T) {
		t.Run("RunConcurrentlyAndDeliverEachUpdateOnceInOrder", func(t *testing.T) {
			f := setup(t, open)
			var refs []string
			for range 6 {
				refs = append(refs, f.create(acctA, withCallback(url1)).ID)
			}
			var polled atomic.Bool
			var wg sync.WaitGroup
			wg.Go(func() {
				defer polled.Store(true)
				f.pollConcurrently(3, 2, 150)
			})
			wg.Go(func() { f.deliverConcurrently(4, 2, polled.Load) })
			wg.Wait()
			if t.Failed() {
				return // the helpers stopped at the first problem: the totals would only repeat it
			}
			for _, id := range refs {
				ref := f.get(acctA, id)
				log := f.deliveries(acctA, id)
				if ref.LastSequence == 0 || ref.DeliveredSequence != ref.LastSequence || len(log) != int(ref.LastSequence) {
					t.Errorf("%s: last %d delivered %d, %d attempts logged; want every update delivered once", id, ref.LastSequence, ref.DeliveredSequence, len(log))
					continue
				}
				for i, a := range log {
					if want := ref.LastSequence - uint64(i); a.Sequence != want {
						t.Errorf("%s: log entry #%d (newest first) is update %d, want %d", id, i+1, a.Sequence, want)
						break
					}
				}
			}
		})
	})

	t.Run("NextDelivery", func(t *testing.T) {
		t.Run("PassesOverUpdatesTheFilterExcludes", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, func(r *references.Reference) {
				r.CallbackURL, r.EventTypes = url1, []string{string(references.UpdateShipment)}
			})
			f.appendUpdates(ref.ID, references.UpdateTrackingFailed, references.UpdateShipment,
				references.UpdateTrackingFailed, references.UpdateTrackingFailed, references.UpdateShipment, references.UpdateTrackingFailed)
			c := f.claimStream("owner-1", ref.ID)
			if c.Job.Update.Sequence != 2 {
				t.Fatalf("first job: update %d, want 2 (1 is filtered out)", c.Job.Update.Sequence)
			}
			f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
			job := f.next(c.Lease)
			if job.Update.Sequence != 5 {
				t.Fatalf("second job: update %d, want 5 (3 and 4 are filtered out)", job.Update.Sequence)
			}
			f.record(c.Lease, job, f.attempt(job, references.OutcomeDelivered))
			f.drained(c.Lease)
			if ups := f.updatesOf(acctA, ref.ID); len(ups) != 6 {
				t.Errorf("feed has %d updates, want all 6: filtered updates stay in the feed", len(ups))
			}
		})

		t.Run("NothingDueWhenTheFilterExcludesEverything", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, func(r *references.Reference) {
				r.CallbackURL, r.EventTypes = url1, []string{string(references.UpdateUnsubscribed)}
			})
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateTrackingFailed)
			f.noDeliveryDue("every update filtered out")
			if ups := f.updatesOf(acctA, ref.ID); len(ups) != 2 {
				t.Errorf("feed has %d updates, want 2", len(ups))
			}
		})
	})

	t.Run("PostponeDelivery", func(t *testing.T) {
		t.Run("DueAgainAtUntilWithoutCountingAnAttempt", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			c := f.claimStream("owner-1", ref.ID)
			until := f.now().Add(10 * time.Minute)
			if err := f.b.PostponeDelivery(f.ctx, c.Lease, until); err != nil {
				t.Fatal(err)
			}
			_, err := f.b.RecordAttempt(f.ctx, c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered), "")
			wantLeaseLost(t, "RecordAttempt under a lease PostponeDelivery ended", err)
			f.clk.Advance(2 * leaseFor)
			f.noDeliveryDue("postponed for 10 minutes")
			f.clk.Set(until)
			again := f.claimStream("owner-2", ref.ID)
			if again.Job.Update.Sequence != 1 || again.Job.Attempt != 1 {
				t.Errorf("after the postponement: update %d attempt %d, want update 1 attempt 1", again.Job.Update.Sequence, again.Job.Attempt)
			}
			if log := f.deliveries(acctA, ref.ID); len(log) != 0 {
				t.Errorf("delivery log has %d entries, want none: postponing is no attempt", len(log))
			}
		})
	})

	t.Run("ListDeliveries", func(t *testing.T) {
		t.Run("PagesNewestFirstWithCursor", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID)
			for range 5 {
				c := f.claimStream("owner-1", ref.ID)
				a := f.attempt(c.Job, references.OutcomeFailed)
				next := f.now().Add(2 * leaseFor) // after the lease's end
				a.NextRetryAt = &next
				f.record(c.Lease, c.Job, a)
				f.clk.Set(next)
			}
			var got []int
			q := references.DeliveryQuery{Limit: 2}
			for pages := 1; ; pages++ {
				page, err := f.b.ListDeliveries(f.ctx, acctA, ref.ID, q)
				if err != nil || len(page.Deliveries) > 2 || pages > 3 {
					t.Fatalf("page %d: %d entries, %v", pages, len(page.Deliveries), err)
				}
				for _, a := range page.Deliveries {
					got = append(got, a.Attempt)
				}
				if page.NextCursor == "" {
					break
				}
				q.Cursor = page.NextCursor
			}
			if !slices.Equal(got, []int{5, 4, 3, 2, 1}) {
				t.Fatalf("attempts in the log, page by page: %v, want [5 4 3 2 1]", got)
			}
		})
	})
}
