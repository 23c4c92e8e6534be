package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runEndpointDelivery exercises the delivery of updates to account endpoints: the
// fan-out when an update is written, each (destination, reference) an ordered stream
// of its own, batches, resends, disabling and the operational events, and what
// survives a crash.
func runEndpointDelivery(t *testing.T, open Opener) {
	t.Run("EndpointDelivery", func(t *testing.T) { endpointDelivery(t, open) })
}

func endpointDelivery(t *testing.T, open Opener) {
	t.Run("FanOut", func(t *testing.T) {
		t.Run("WritesTheMatchingMessagesInTheSamePoll", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1)) // carrier MSCU, metadata po=1
			eps := map[string]references.Endpoint{
				"all":       f.addEndpoint(acctA, nil),
				"star":      f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.EventTypes = []string{"*"} }),
				"failures":  f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.EventTypes = []string{string(references.UpdateTrackingFailed)} }),
				"eta":       f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.EventTypes = []string{references.TagETAChanged} }),
				"bigMoves":  f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.EventTypes, ep.MinETAChange = []string{"shipment.*"}, time.Hour }),
				"hlcu":      f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.Filter.CarrierCodes = []string{"HLCU"} }),
				"po1":       f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.Filter.Metadata = map[string]string{"po": "1"} }),
				"po2":       f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.Filter.Metadata = map[string]string{"po": "2"} }),
				"otherAcct": f.addEndpoint(acctB, nil),
			}
			smallETA := f.update(references.UpdateShipment)
			smallETA.Changes = []references.Change{{Type: references.ChangeETAChanged, Description: "ETA moved by 30m", Old: "2026-04-20T06:00:00Z", New: "2026-04-20T06:30:00Z"}}
			status := f.update(references.UpdateShipment) // a status change
			failed := f.update(references.UpdateTrackingFailed)
			f.poll(ref.ID, references.PollResult{Updates: []references.Update{smallETA, status, failed}})
			f.crash() // what the poll wrote, it wrote durably and together

			want := map[string][]string{
				"all": {smallETA.ID, status.ID, failed.ID}, "star": {smallETA.ID, status.ID, failed.ID},
				"failures": {failed.ID}, "eta": {smallETA.ID}, "bigMoves": {status.ID},
				"po1": {smallETA.ID, status.ID, failed.ID},
			}
			for name, ep := range eps {
				got := f.messagesOf(ep.AccountID, ep.ID)
				if ids := messageIDsOf(got); !slices.Equal(ids, want[name]) {
					t.Errorf("endpoint %s got messages %q, want %q", name, ids, want[name])
				}
				for _, m := range got {
					if m.Status != references.MessagePending || m.ReferenceID != ref.ID || m.AccountID != ep.AccountID || len(m.Attempts) != 0 {
						t.Errorf("endpoint %s: message %+v, want pending, of %s", name, m, ref.ID)
					}
				}
			}
			tags := map[string][]string{}
			for _, name := range []string{"eta", "bigMoves"} {
				for _, m := range f.messagesOf(acctA, eps[name].ID) {
					tags[name] = append(tags[name], m.Tags...)
				}
			}
			if !slices.Equal(tags["eta"], []string{references.TagETAChanged}) || !slices.Equal(tags["bigMoves"], []string{references.TagStatusChanged}) {
				t.Errorf("tags: %q, want the ETA move for eta and only the status change for bigMoves (its 30m move is below MinETAChange)", tags)
			}
			keys := map[string]bool{}
			for _, c := range f.claimDeliveries("owner-1", 100) {
				keys[c.Lease.Key] = true
			}
			wantKeys := []string{references.DeliveryLeaseKey(references.DestinationCallback, ref.ID)}
			for name := range want {
				wantKeys = append(wantKeys, references.DeliveryLeaseKey(eps[name].ID, ref.ID))
			}
			if len(keys) != len(wantKeys) {
				t.Errorf("claimed %d streams, want %d: the callback's and one per endpoint with messages", len(keys), len(wantKeys))
			}
			for _, k := range wantKeys {
				if !keys[k] {
					t.Errorf("stream %s was not due", k)
				}
			}
		})

		t.Run("UnsubscribeSendsTheFinalUpdateToTheEndpoints", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			ep := f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.EventTypes = []string{string(references.UpdateUnsubscribed)} })
			f.appendUpdates(ref.ID)
			f.unsubscribe(acctA, ref.ID, references.ReasonCallbackGone)
			msgs := f.messagesOf(acctA, ep.ID)
			if len(msgs) != 1 || msgs[0].EventType != string(references.UpdateUnsubscribed) {
				t.Fatalf("messages %+v, want the final reference.unsubscribed update", msgs)
			}
			c := f.claimDelivery("owner-1", references.DeliveryLeaseKey(ep.ID, ref.ID))
			if c.Job.Update.Type != references.UpdateUnsubscribed || c.Job.Reference.ID != ref.ID {
				t.Errorf("job %+v, want the final update: a dead callback does not stop the endpoints", c.Job.Update)
			}
		})
	})

	t.Run("Streams", func(t *testing.T) {
		t.Run("JobCarriesTheEndpointAndItsSecrets", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			ep := f.addEndpoint(acctA, nil)
			ups := f.appendUpdates(ref.ID)
			c := f.claimDelivery("owner-1", references.DeliveryLeaseKey(ep.ID, ref.ID))
			j := c.Job
			if j.Destination != ep.ID || j.Endpoint == nil || j.Endpoint.ID != ep.ID || j.URL() != ep.URL || j.Reference.ID != ref.ID ||
				j.Update.ID != ups[0].ID || j.Attempt != 1 || !j.FirstAttemptAt.IsZero() || j.Redelivery || j.Batch != nil || j.Event != nil {
				t.Errorf("job %+v, want the first try of %s to %s", j, ups[0].ID, ep.ID)
			}
			if !slices.Equal(j.Secrets, ep.LiveSecrets(f.now())) || slices.Contains(j.Secrets, secretOf(acctA)) {
				t.Errorf("secrets %q, want the endpoint's own %q", j.Secrets, ep.LiveSecrets(f.now()))
			}
			if j.WebhookID() != ups[0].ID || j.MessageID() != ups[0].ID {
				t.Errorf("webhook-id %s, message id %s; want the update's %s", j.WebhookID(), j.MessageID(), ups[0].ID)
			}
		})

		t.Run("OneFailingEndpointDelaysNeitherAnotherNorTheCallback", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			down := f.addEndpoint(acctA, nil)
			up := f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.URL = url2 })
			ups := f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)

			d := f.claimDelivery("owner-1", references.DeliveryLeaseKey(down.ID, ref.ID))
			failed := f.epAttempt(d.Job, references.OutcomeFailed)
			retry := f.now().Add(10 * time.Minute)
			failed.NextRetryAt = &retry
			f.record(d.Lease, d.Job, failed)
			if err := f.b.ReleaseLease(f.ctx, d.Lease); err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{references.DeliveryLeaseKey(up.ID, ref.ID), references.DeliveryLeaseKey(references.DestinationCallback, ref.ID)} {
				c := f.claimDelivery("owner-2", key)
				job := c.Job
				for want := uint64(1); ; want++ {
					if job.Update.Sequence != want {
						t.Fatalf("%s: job of update %d, want %d", key, job.Update.Sequence, want)
					}
					f.record(c.Lease, job, f.epAttempt(job, references.OutcomeDelivered))
					next, err := f.b.NextDelivery(f.ctx, c.Lease)
					if errNothing(err) {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					job = next
				}
				if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
					t.Fatal(err)
				}
			}
			if got := statuses(f.messagesOf(acctA, up.ID)); !slices.Equal(got, []references.MessageStatus{references.MessageSucceeded, references.MessageSucceeded}) {
				t.Errorf("healthy endpoint's messages %v, want both delivered while the other waits", got)
			}
			if got := statuses(f.messagesOf(acctA, down.ID)); !slices.Equal(got, []references.MessageStatus{references.MessageSending, references.MessagePending}) {
				t.Errorf("failing endpoint's messages %v, want sending, pending", got)
			}
			if r := f.get(acctA, ref.ID); r.DeliveredSequence != 2 {
				t.Errorf("callback delivered %d, want 2", r.DeliveredSequence)
			}
			f.noDeliveryDue("only the failing endpoint's retry is left, 10 minutes on")
			f.clk.Set(retry)
			c := f.claimDelivery("owner-3", references.DeliveryLeaseKey(down.ID, ref.ID))
			if c.Job.Update.ID != ups[0].ID || c.Job.Attempt != 2 || !c.Job.FirstAttemptAt.Equal(failed.At) {
				t.Fatalf("retry: %s attempt %d first %v; want %s attempt 2, first tried %v", c.Job.Update.ID, c.Job.Attempt, c.Job.FirstAttemptAt, ups[0].ID, failed.At)
			}
			f.record(c.Lease, c.Job, f.epAttempt(c.Job, references.OutcomeDelivered))
			if job := f.next(c.Lease); job.Update.ID != ups[1].ID || job.Attempt != 1 {
				t.Errorf("after the retry: %s attempt %d, want %s attempt 1", job.Update.ID, job.Attempt, ups[1].ID)
			}
			m := f.message(acctA, down.ID, ups[0].ID)
			if m.Status != references.MessageSucceeded || len(m.Attempts) != 2 || m.Attempts[0].Outcome != references.OutcomeFailed || m.Attempts[0].Destination != down.ID {
				t.Errorf("message after its retry: %+v", m)
			}
			if ep := f.endpoint(acctA, down.ID); ep.FailingSince != nil {
				t.Errorf("FailingSince = %v after a delivery, want cleared", ep.FailingSince)
			}
		})

		t.Run("ConcurrentWorkersDeliverToEveryDestinationOnceInOrder", func(t *testing.T) {
			f := setup(t, open)
			eps := []references.Endpoint{f.addEndpoint(acctA, nil), f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.URL = url2 })}
			var refs []string
			for range 10 {
				ref := f.create(acctA, withCallback(url1))
				f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment, references.UpdateShipment)
				refs = append(refs, ref.ID)
			}
			f.deliverConcurrently(4, 3, func() bool { return true })
			for _, ep := range eps {
				msgs := f.messagesOf(acctA, ep.ID)
				if len(msgs) != 30 {
					t.Errorf("%s has %d messages, want 30", ep.ID, len(msgs))
				}
				for _, m := range msgs {
					if m.Status != references.MessageSucceeded || len(m.Attempts) != 1 {
						t.Errorf("%s: message %d of %s is %s after %d attempts, want delivered once", ep.ID, m.Sequence, m.ReferenceID, m.Status, len(m.Attempts))
					}
				}
			}
			for _, id := range refs {
				if r := f.get(acctA, id); r.DeliveredSequence != 3 {
					t.Errorf("%s: callback delivered %d, want 3", id, r.DeliveredSequence)
				}
			}
		})

		t.Run("ALostLeaseIsRefused", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			ep := f.addEndpoint(acctA, nil)
			f.appendUpdates(ref.ID)
			key := references.DeliveryLeaseKey(ep.ID, ref.ID)
			old := f.claimDelivery("owner-1", key)
			f.clk.Advance(leaseFor + time.Second)
			fresh := f.claimDelivery("owner-2", key)
			_, err := f.b.RecordAttempt(f.ctx, old.Lease, old.Job, f.epAttempt(old.Job, references.OutcomeDelivered), "")
			wantLeaseLost(t, "RecordAttempt under a lease that ran out", err)
			_, err = f.b.NextDelivery(f.ctx, old.Lease)
			wantLeaseLost(t, "NextDelivery under a lease that ran out", err)
			wantLeaseLost(t, "PostponeDelivery under a lease that ran out", f.b.PostponeDelivery(f.ctx, old.Lease, f.now().Add(time.Hour)))
			_, err = f.b.RecordAttempt(f.ctx, fresh.Lease, old.Job, f.epAttempt(old.Job, references.OutcomeDelivered), "")
			if err != nil {
				t.Fatalf("RecordAttempt under the live lease: %v", err)
			}
			if m := f.messagesOf(acctA, ep.ID)[0]; m.Status != references.MessageSucceeded || len(m.Attempts) != 1 {
				t.Errorf("message %+v, want one attempt, delivered", m)
			}
			other := f.create(acctA, nil)
			f.appendUpdates(other.ID)
			c := f.claimDelivery("owner-3", references.DeliveryLeaseKey(ep.ID, other.ID))
			_, err = f.b.RecordAttempt(f.ctx, fresh.Lease, c.Job, f.epAttempt(c.Job, references.OutcomeDelivered), "")
			wantLeaseLost(t, "RecordAttempt of one stream's job under another stream's lease", err)
		})

		t.Run("PostponeMakesTheStreamDueLaterWithoutAnAttempt", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			ep := f.addEndpoint(acctA, nil)
			f.appendUpdates(ref.ID)
			key := references.DeliveryLeaseKey(ep.ID, ref.ID)
			c := f.claimDelivery("owner-1", key)
			until := f.now().Add(10 * time.Minute)
			if err := f.b.PostponeDelivery(f.ctx, c.Lease, until); err != nil {
				t.Fatal(err)
			}
			f.clk.Advance(2 * leaseFor)
			f.noDeliveryDue("postponed for 10 minutes")
			f.clk.Set(until)
			if again := f.claimDelivery("owner-2", key); again.Job.Attempt != 1 {
				t.Errorf("after the postponement: attempt %d, want 1", again.Job.Attempt)
			}
		})
	})

	t.Run("Batch", func(t *testing.T) {
		t.Run("FixedAtItsFirstAttemptAndRetriedAsIs", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			ep := f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.Format, ep.BatchSize = references.FormatBatch, 3 })
			ups := f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			key := references.DeliveryLeaseKey(ep.ID, ref.ID)
			c := f.claimDelivery("owner-1", key)
			firstID := references.BatchID(ep.ID, ref.ID, 1, 2)
			if got := seqs(c.Job.Batch); !slices.Equal(got, []uint64{1, 2}) || c.Job.BatchID != firstID || c.Job.WebhookID() != firstID || c.Job.Update.ID != ups[0].ID {
				t.Fatalf("first batch %v id %q (update %s); want updates 1-2 as %q", got, c.Job.BatchID, c.Job.Update.ID, firstID)
			}
			failed := f.epAttempt(c.Job, references.OutcomeFailed)
			retry := f.now().Add(time.Minute)
			failed.NextRetryAt = &retry
			f.record(c.Lease, c.Job, failed)
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
			// 3 and 4 wait behind it: the batch had room for 3, but it is fixed.
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			f.crash()
			f.clk.Set(retry)
			c = f.claimDelivery("owner-2", key)
			if got := seqs(c.Job.Batch); !slices.Equal(got, []uint64{1, 2}) || c.Job.BatchID != firstID || c.Job.Attempt != 2 || !c.Job.FirstAttemptAt.Equal(failed.At) {
				t.Fatalf("retried batch %v id %q attempt %d; want updates 1-2 again as %q, attempt 2", got, c.Job.BatchID, c.Job.Attempt, firstID)
			}
			f.record(c.Lease, c.Job, f.epAttempt(c.Job, references.OutcomeDelivered))
			for _, m := range f.messagesOf(acctA, ep.ID)[:2] {
				if m.Status != references.MessageSucceeded || m.BatchID != firstID || len(m.Attempts) != 2 {
					t.Errorf("message %d of the batch: %s, batch %q, %d attempts; want succeeded in %q after 2", m.Sequence, m.Status, m.BatchID, len(m.Attempts), firstID)
				}
			}
			next := f.next(c.Lease)
			if got := seqs(next.Batch); !slices.Equal(got, []uint64{3, 4}) || next.BatchID != references.BatchID(ep.ID, ref.ID, 3, 4) || next.Attempt != 1 {
				t.Errorf("next batch %v id %q attempt %d; want 3-4, a new id, attempt 1", got, next.BatchID, next.Attempt)
			}
		})
		t.Run("FixedWhenHandedOutSoAnAttemptACrashLostIsResentAsIs", func(t *testing.T) {
			// The receiver may have got the batch whose attempt a crash kept from
			// being recorded: it must come again under the same webhook-id with the
			// same updates, not grown by the updates queued since.
			f := setup(t, open)
			ref := f.create(acctA, nil)
			ep := f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.Format, ep.BatchSize = references.FormatBatch, 3 })
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			key := references.DeliveryLeaseKey(ep.ID, ref.ID)
			firstID := references.BatchID(ep.ID, ref.ID, 1, 2)
			if c := f.claimDelivery("owner-1", key); c.Job.BatchID != firstID {
				t.Fatalf("first batch %v id %q; want updates 1-2 as %q", seqs(c.Job.Batch), c.Job.BatchID, firstID)
			}
			f.crash() // during the attempt
			// A backend may keep leases across a crash (PostgreSQL does): the stream is
			// due again once its lease ends at the latest.
			f.clk.Advance(leaseFor + time.Second)
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			c := f.claimDelivery("owner-2", key)
			if got := seqs(c.Job.Batch); !slices.Equal(got, []uint64{1, 2}) || c.Job.BatchID != firstID || c.Job.Attempt != 1 {
				t.Fatalf("batch after the crash %v id %q attempt %d; want updates 1-2 again as %q, attempt 1", got, c.Job.BatchID, c.Job.Attempt, firstID)
			}
			f.record(c.Lease, c.Job, f.epAttempt(c.Job, references.OutcomeDelivered))
			for _, m := range f.messagesOf(acctA, ep.ID)[:2] {
				if m.Status != references.MessageSucceeded || m.BatchID != firstID {
					t.Errorf("message %d of the batch: %s, batch %q; want succeeded in %q", m.Sequence, m.Status, m.BatchID, firstID)
				}
			}
			next := f.next(c.Lease)
			if got := seqs(next.Batch); !slices.Equal(got, []uint64{3, 4}) || next.BatchID != references.BatchID(ep.ID, ref.ID, 3, 4) || next.Attempt != 1 {
				t.Errorf("next batch %v id %q attempt %d; want 3-4, a new id, attempt 1", got, next.BatchID, next.Attempt)
			}
		})
	})

	t.Run("Resend", func(t *testing.T) {
		t.Run("OfAFailedMessageIsOneAttemptOutsideTheStream", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			ep := f.addEndpoint(acctA, nil)
			ups := f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			c := f.claimDelivery("owner-1", references.DeliveryLeaseKey(ep.ID, ref.ID))
			f.record(c.Lease, c.Job, f.epAttempt(c.Job, references.OutcomeGaveUp))
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil { // update 2 waits in the stream
				t.Fatal(err)
			}
			if err := f.b.ResendMessage(f.ctx, acctA, ep.ID, ups[0].ID, f.now()); err != nil {
				t.Fatal(err)
			}
			r := f.claimDelivery("owner-2", references.RedeliveryLeaseKey(ep.ID, ref.ID, ups[0].ID))
			if !r.Job.Redelivery || r.Job.Update.ID != ups[0].ID || r.Job.Destination != ep.ID || r.Job.Endpoint == nil {
				t.Fatalf("resend job %+v, want update 1 again to %s", r.Job, ep.ID)
			}
			f.record(r.Lease, r.Job, f.epAttempt(r.Job, references.OutcomeDelivered))
			m := f.message(acctA, ep.ID, ups[0].ID)
			if m.Status != references.MessageSucceeded || len(m.Attempts) != 2 || !m.Attempts[1].Redelivery {
				t.Errorf("message after its resend: %s with %d attempts, want succeeded with the resend logged", m.Status, len(m.Attempts))
			}
			_, err := f.b.RecordAttempt(f.ctx, r.Lease, r.Job, f.epAttempt(r.Job, references.OutcomeDelivered), "")
			wantLeaseLost(t, "a second record of one resend", err)
			s := f.claimDelivery("owner-3", references.DeliveryLeaseKey(ep.ID, ref.ID))
			if s.Job.Update.ID != ups[1].ID || s.Job.Attempt != 1 {
				t.Errorf("stream after the resend: %s attempt %d, want %s attempt 1", s.Job.Update.ID, s.Job.Attempt, ups[1].ID)
			}
			if err := f.b.ReleaseLease(f.ctx, s.Lease); err != nil {
				t.Fatal(err)
			}
			for _, c := range f.claimDeliveries("checker", 100) {
				if c.Job.Redelivery {
					t.Errorf("the resend was handed out again: %s", c.Lease.Key)
				}
				_ = f.b.ReleaseLease(f.ctx, c.Lease)
			}
		})
	})

	t.Run("OperationalEvents", func(t *testing.T) {
		t.Run("DisablingAttemptRecordsEndpointDisabledForSubscribers", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			failing := f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.EventTypes = []string{"*"} })
			watcher := f.addEndpoint(acctA, func(ep *references.Endpoint) {
				ep.EventTypes, ep.URL = []string{references.EventEndpointDisabled}, url2
			})
			f.appendUpdates(ref.ID)
			c := f.claimDelivery("owner-1", references.DeliveryLeaseKey(failing.ID, ref.ID))
			a := f.epAttempt(c.Job, references.OutcomeFailed)
			a.Disable = references.DisabledByReceiver
			f.record(c.Lease, c.Job, a)

			ep := f.endpoint(acctA, failing.ID)
			if ep.Enabled || ep.DisabledReason != references.DisabledByReceiver || ep.DisabledAt == nil || !ep.DisabledAt.Equal(a.At) {
				t.Errorf("endpoint after a disabling attempt: enabled %t reason %q at %v", ep.Enabled, ep.DisabledReason, ep.DisabledAt)
			}
			events := f.accountEvents(acctA)
			if len(events) != 1 || events[0].Type != references.EventEndpointDisabled || events[0].EndpointID != failing.ID ||
				events[0].DisabledReason != references.DisabledByReceiver || events[0].Sequence != 1 {
				t.Fatalf("operational feed %+v, want endpoint.disabled of %s", events, failing.ID)
			}
			if ids := messageIDsOf(f.messagesOf(acctA, failing.ID)); slices.Contains(ids, events[0].ID) {
				t.Error("the event was sent to the endpoint it is about")
			}
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
			w := f.claimDelivery("owner-2", references.DeliveryLeaseKey(watcher.ID, references.AccountStream))
			if w.Job.Event == nil || w.Job.Event.ID != events[0].ID || w.Job.WebhookID() != events[0].ID || w.Job.Reference.ID != "" {
				t.Fatalf("watcher's job %+v, want the event", w.Job)
			}
			f.record(w.Lease, w.Job, f.epAttempt(w.Job, references.OutcomeDelivered))
			if m := f.message(acctA, watcher.ID, events[0].ID); m.Status != references.MessageSucceeded || m.EventType != references.EventEndpointDisabled {
				t.Errorf("watcher's message of the event: %+v", m)
			}
			f.noDeliveryDue("the disabled endpoint's stream waits, the event was delivered")
		})

		t.Run("GivingUpRecordsMessageAttemptExhausted", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			ep := f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.MaxAttempts = 1 })
			watcher := f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.EventTypes = []string{"message.*"} })
			ups := f.appendUpdates(ref.ID)
			c := f.claimDelivery("owner-1", references.DeliveryLeaseKey(ep.ID, ref.ID))
			a := f.epAttempt(c.Job, references.OutcomeGaveUp)
			f.record(c.Lease, c.Job, a)
			events := f.accountEvents(acctA)
			if len(events) != 1 || events[0].Type != references.EventMessageAttemptExhausted || events[0].EndpointID != ep.ID ||
				events[0].MessageID != ups[0].ID || events[0].ReferenceID != ref.ID || events[0].Attempts != 1 || events[0].LastStatusCode != a.StatusCode {
				t.Fatalf("operational feed %+v, want message.attempt.exhausted of %s", events, ups[0].ID)
			}
			if m := f.message(acctA, ep.ID, ups[0].ID); m.Status != references.MessageFailed || m.FailReason != references.OutcomeGaveUp {
				t.Errorf("message given up: %s (%s)", m.Status, m.FailReason)
			}
			if ids := messageIDsOf(f.messagesOf(acctA, watcher.ID)); !slices.Equal(ids, []string{events[0].ID}) {
				t.Errorf("watcher's messages %q, want the event", ids)
			}
			if ep := f.endpoint(acctA, ep.ID); !ep.Enabled || ep.FailingSince == nil {
				t.Errorf("endpoint after a message given up: enabled %t failing since %v; want enabled, failing", ep.Enabled, ep.FailingSince)
			}
		})
	})

	t.Run("Disabled", func(t *testing.T) {
		t.Run("GetsNoNewMessagesAndResumesWhereItStoppedWhenEnabled", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			ep := f.addEndpoint(acctA, nil)
			ups := f.appendUpdates(ref.ID)
			key := references.DeliveryLeaseKey(ep.ID, ref.ID)
			c := f.claimDelivery("owner-1", key)
			failed := f.epAttempt(c.Job, references.OutcomeFailed)
			retry := f.now().Add(time.Minute)
			failed.NextRetryAt = &retry
			f.record(c.Lease, c.Job, failed)
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
			f.patchEndpointWith(acctA, ep.ID, func(e *references.Endpoint) { e.Disable(references.DisabledByUser, f.now()) })
			f.appendUpdates(ref.ID) // not for a disabled endpoint
			f.clk.Advance(time.Hour)
			f.noDeliveryDue("the only endpoint is disabled")
			if ids := messageIDsOf(f.messagesOf(acctA, ep.ID)); !slices.Equal(ids, []string{ups[0].ID}) {
				t.Fatalf("messages of the disabled endpoint %q, want only the one from before", ids)
			}
			f.restart()
			f.patchEndpointWith(acctA, ep.ID, func(e *references.Endpoint) { e.Enabled, e.DisabledReason, e.DisabledAt = true, "", nil })
			c = f.claimDelivery("owner-2", key)
			if c.Job.Update.ID != ups[0].ID || c.Job.Attempt != 2 || !c.Job.FirstAttemptAt.Equal(failed.At) {
				t.Fatalf("after re-enabling: %s attempt %d first %v; want %s attempt 2, first tried %v", c.Job.Update.ID, c.Job.Attempt, c.Job.FirstAttemptAt, ups[0].ID, failed.At)
			}
			f.record(c.Lease, c.Job, f.epAttempt(c.Job, references.OutcomeDelivered))
			f.drained(c.Lease)
		})
	})

	t.Run("Crash", func(t *testing.T) {
		t.Run("LosesNothingAndKeepsTheOrderOfEachDestination", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			a := f.addEndpoint(acctA, nil)
			b := f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.URL = url2 })
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment, references.UpdateShipment)
			// Before the crash: a delivered 1 and failed 2; b holds a claim it never
			// recorded; the callback delivered 1 and 2.
			ca := f.claimDelivery("owner-1", references.DeliveryLeaseKey(a.ID, ref.ID))
			f.record(ca.Lease, ca.Job, f.epAttempt(ca.Job, references.OutcomeDelivered))
			job := f.next(ca.Lease)
			failed := f.epAttempt(job, references.OutcomeFailed)
			retry := f.now().Add(5 * time.Minute)
			failed.NextRetryAt = &retry
			f.record(ca.Lease, job, failed)
			f.claimDelivery("owner-1", references.DeliveryLeaseKey(b.ID, ref.ID))
			cc := f.claimStream("owner-1", ref.ID)
			f.record(cc.Lease, cc.Job, f.attempt(cc.Job, references.OutcomeDelivered))
			second := f.next(cc.Lease)
			f.record(cc.Lease, second, f.attempt(second, references.OutcomeDelivered))

			f.crash()
			f.clk.Set(retry)
			want := map[string][]uint64{
				references.DeliveryLeaseKey(a.ID, ref.ID):                           {2, 3},
				references.DeliveryLeaseKey(b.ID, ref.ID):                           {1, 2, 3},
				references.DeliveryLeaseKey(references.DestinationCallback, ref.ID): {3},
			}
			for key, order := range want {
				c := f.claimDelivery("owner-2", key)
				var got []uint64
				for job := c.Job; ; {
					got = append(got, job.Update.Sequence)
					f.record(c.Lease, job, f.epAttempt(job, references.OutcomeDelivered))
					next, err := f.b.NextDelivery(f.ctx, c.Lease)
					if errNothing(err) {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					job = next
				}
				if !slices.Equal(got, order) {
					t.Errorf("%s after the crash sent %v, want %v", key, got, order)
				}
			}
			for _, ep := range []references.Endpoint{a, b} {
				for _, m := range f.messagesOf(acctA, ep.ID) {
					if m.Status != references.MessageSucceeded {
						t.Errorf("%s: message %d is %s, want succeeded", ep.ID, m.Sequence, m.Status)
					}
					var delivered int
					for _, at := range m.Attempts {
						if at.Outcome == references.OutcomeDelivered {
							delivered++
						}
					}
					if delivered != 1 {
						t.Errorf("%s: message %d delivered %d times, want once", ep.ID, m.Sequence, delivered)
					}
				}
			}
			if r := f.get(acctA, ref.ID); r.DeliveredSequence != 3 {
				t.Errorf("callback delivered %d, want 3", r.DeliveredSequence)
			}
			f.noDeliveryDue("everything was delivered")
		})
	})
}

// addEndpoint stores an enabled endpoint of the account with a secret of its own,
// changed by mod, through CreateEndpoint.
func (f *fixture) addEndpoint(accountID string, mod func(*references.Endpoint)) references.Endpoint {
	f.t.Helper()
	now := f.now()
	ep := references.Endpoint{
		ID: references.NewID("ep_"), AccountID: accountID, URL: "https://receiver.example/endpoint",
		Format: references.FormatStandard, Headers: references.HeadersStandard, DisableAfter: references.DefaultDisableAfter,
		Enabled: true, Secrets: []references.WebhookSecret{{Secret: "whsec_" + references.NewID(""), CreatedAt: now}},
		CreatedAt: now, UpdatedAt: now,
	}
	if mod != nil {
		mod(&ep)
	}
	stored, err := f.b.CreateEndpoint(f.ctx, ep, 0)
	if err != nil {
		f.t.Fatalf("CreateEndpoint: %v", err)
	}
	return stored
}

// endpoint reads an endpoint, failing the test on error.
func (f *fixture) endpoint(accountID, id string) references.Endpoint {
	f.t.Helper()
	ep, err := f.b.GetEndpoint(f.ctx, accountID, id)
	if err != nil {
		f.t.Fatalf("GetEndpoint(%s): %v", id, err)
	}
	return ep
}

// patchEndpointWith applies change to an endpoint, failing the test on error.
func (f *fixture) patchEndpointWith(accountID, id string, change func(*references.Endpoint)) references.Endpoint {
	f.t.Helper()
	ep, err := f.b.PatchEndpoint(f.ctx, accountID, id, func(e *references.Endpoint) error { change(e); return nil })
	if err != nil {
		f.t.Fatalf("PatchEndpoint(%s): %v", id, err)
	}
	return ep
}

// messagesOf returns every message of an endpoint, oldest first.
func (f *fixture) messagesOf(accountID, endpointID string) []references.Message {
	f.t.Helper()
	var out []references.Message
	q := references.MessageQuery{Limit: references.MaxPageSize}
	for {
		page, err := f.b.ListMessages(f.ctx, accountID, endpointID, q)
		if err != nil {
			f.t.Fatalf("ListMessages(%s): %v", endpointID, err)
		}
		out = append(out, page.Messages...)
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	slices.Reverse(out)
	return out
}

// message reads one message of an endpoint, failing the test on error.
func (f *fixture) message(accountID, endpointID, id string) references.Message {
	f.t.Helper()
	m, _, err := f.b.GetMessage(f.ctx, accountID, endpointID, id)
	if err != nil {
		f.t.Fatalf("GetMessage(%s): %v", id, err)
	}
	return m
}

// accountEvents returns the account's whole operational feed.
func (f *fixture) accountEvents(accountID string) []references.AccountEvent {
	f.t.Helper()
	events, err := f.b.ListAccountEvents(f.ctx, accountID, 0, references.MaxPageSize)
	if err != nil {
		f.t.Fatalf("ListAccountEvents(%s): %v", accountID, err)
	}
	return events
}

// epAttempt returns the record of an attempt of job made now, to its destination.
func (f *fixture) epAttempt(job references.DeliveryJob, outcome references.AttemptOutcome) references.DeliveryAttempt {
	a := f.attempt(job, outcome)
	a.Destination, a.URL = job.Destination, job.URL()
	return a
}

// messageIDsOf returns the ids of messages, in order.
func messageIDsOf(ms []references.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// statuses returns the statuses of messages, in order.
func statuses(ms []references.Message) []references.MessageStatus {
	var out []references.MessageStatus
	for _, m := range ms {
		out = append(out, m.Status)
	}
	return out
}
