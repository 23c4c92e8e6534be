package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runRestarts checks what survives an orderly restart and a crash: everything that was
// recorded, while work claimed and not recorded becomes due again.
func runRestarts(t *testing.T, open Opener) {
	for _, way := range []struct {
		name   string
		reopen func(*fixture)
	}{{"Restart", (*fixture).restart}, {"Crash", (*fixture).crash}} {
		t.Run(way.name, func(t *testing.T) {
			t.Run("RecordedWorkSurvives", func(t *testing.T) {
				f := setup(t, open)
				idem := &references.IdempotencyKey{Key: "k1", RequestHash: "h1", ExpiresAt: f.now().Add(references.IdempotencyTTL)}
				ref, _, err := f.b.CreateReference(f.ctx, f.newRef(acctA, withCallback(url1)), references.CreateOptions{Idempotency: idem})
				if err != nil {
					t.Fatal(err)
				}
				nextPoll := f.now().Add(time.Hour)
				f.poll(ref.ID, references.PollResult{
					NextPollAt: nextPoll,
					Shipment:   &references.Shipment{Status: references.ShipmentBooked},
					Updates:    []references.Update{f.update(references.UpdateShipment), f.update(references.UpdateShipment)},
				})
				c := f.claimStream("owner-1", ref.ID)
				f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
				job := f.next(c.Lease)
				failed := f.attempt(job, references.OutcomeFailed)
				retry := f.now().Add(10 * time.Minute)
				failed.NextRetryAt = &retry
				f.record(c.Lease, job, failed)
				if _, err := f.b.RotateWebhookSecret(f.ctx, acctA, "whsec_2", f.now().Add(24*time.Hour), "key_suite"); err != nil {
					t.Fatal(err)
				}
				_, key := references.NewAPIKey(acctA, []references.Scope{references.ScopeAdmin}, f.now())
				key.Operator = true
				if err := f.b.CreateAPIKey(f.ctx, key); err != nil {
					t.Fatal(err)
				}

				way.reopen(f)

				got := f.get(acctA, ref.ID)
				if got.LastSequence != 2 || got.DeliveredSequence != 1 || got.FailingSince == nil || got.NextPollAt == nil ||
					!got.NextPollAt.Equal(nextPoll) || got.LastPolledAt == nil || got.CallbackURL != url1 {
					t.Errorf("reference after reopening: last %d delivered %d failing %v next poll %v polled %v url %q; want what was recorded",
						got.LastSequence, got.DeliveredSequence, got.FailingSince, got.NextPollAt, got.LastPolledAt, got.CallbackURL)
				}
				if s, err := f.b.Shipment(f.ctx, ref.ID); err != nil || s == nil || s.Status != references.ShipmentBooked {
					t.Errorf("snapshot after reopening = %+v, %v", s, err)
				}
				if ups := f.updatesOf(acctA, ref.ID); !slices.Equal(seqs(ups), []uint64{1, 2}) {
					t.Errorf("feed after reopening = %v, want [1 2]", seqs(ups))
				}
				if log := f.deliveries(acctA, ref.ID); len(log) != 2 {
					t.Errorf("delivery log after reopening has %d entries, want 2", len(log))
				}
				if acct, err := f.b.GetAccount(f.ctx, acctA); err != nil || !slices.Equal(acct.LiveSecrets(f.now()), []string{"whsec_2", secretOf(acctA)}) {
					t.Errorf("secrets after reopening = %+v, %v", acct.WebhookSecrets, err)
				}
				if k, err := f.b.LookupAPIKey(f.ctx, key.Hash); err != nil || k.ID != key.ID {
					t.Errorf("API key after reopening = %+v, %v", k, err)
				}
				again, replayed, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{Idempotency: idem})
				if err != nil || !replayed || again.ID != ref.ID {
					t.Errorf("idempotent retry after reopening = %s replayed %t, %v; want %s replayed", again.ID, replayed, err, ref.ID)
				}
				f.clk.Set(retry.Add(-time.Second))
				f.noDeliveryDue("before the recorded retry")
				f.noPollDue(ref.ID, "before the recorded next poll")
				f.clk.Set(retry)
				if c := f.claimStream("owner-2", ref.ID); c.Job.Update.Sequence != 2 || c.Job.Attempt != 2 {
					t.Errorf("retry after reopening: update %d attempt %d, want update 2 attempt 2", c.Job.Update.Sequence, c.Job.Attempt)
				}
			})

			t.Run("ClaimedButUnrecordedWorkIsDueAgain", func(t *testing.T) {
				f := setup(t, open)
				ref := f.create(acctA, withCallback(url1))
				f.appendUpdates(ref.ID)
				poll := f.claimPoll("worker", ref.ID)
				stream := f.claimStream("worker", ref.ID)

				way.reopen(f)

				// A backend may keep leases across a restart (PostgreSQL does): the work
				// is due again once they end at the latest.
				f.clk.Advance(leaseFor + time.Second)
				// The same owner name after a restart: only the token tells the grants
				// apart, so tokens must not start again from the same values. Grant the
				// poll a few times over; the old lease must never come back to life.
				for range 8 {
					fresh := f.claimPoll("worker", ref.ID).Lease
					if _, err := f.b.RenewLease(f.ctx, poll.Lease, leaseFor); err == nil {
						t.Fatalf("a lease from before the reopening (%+v) was renewed while %+v holds the key", poll.Lease, fresh)
					}
					if err := f.b.ReleaseLease(f.ctx, fresh); err != nil {
						t.Fatal(err)
					}
				}
				newPoll := f.claimPoll("worker", ref.ID)
				newStream := f.claimStream("worker", ref.ID)
				if newStream.Job.Update.Sequence != 1 || newStream.Job.Attempt != 1 {
					t.Errorf("stream after reopening: update %d attempt %d, want update 1 attempt 1", newStream.Job.Update.Sequence, newStream.Job.Attempt)
				}
				_, err := f.b.RecordPoll(f.ctx, poll.Lease, f.busyPoll())
				wantLeaseLost(t, "RecordPoll under a lease from before the reopening", err)
				_, err = f.b.RecordAttempt(f.ctx, stream.Lease, stream.Job, f.attempt(stream.Job, references.OutcomeDelivered), "")
				wantLeaseLost(t, "RecordAttempt under a lease from before the reopening", err)
				if got := f.get(acctA, ref.ID); got.LastSequence != 1 || got.DeliveredSequence != 0 {
					t.Errorf("after refused records: last %d delivered %d, want 1 and 0", got.LastSequence, got.DeliveredSequence)
				}
				if _, err := f.b.RecordPoll(f.ctx, newPoll.Lease, f.busyPoll()); err != nil {
					t.Errorf("RecordPoll under the new lease: %v", err)
				}
				f.record(newStream.Lease, newStream.Job, f.attempt(newStream.Job, references.OutcomeDelivered))
			})

			if way.name != "Restart" {
				return // a crash may lose a quiet poll's schedule (see PollResult.Quiet)
			}
			t.Run("QuietPollScheduleSurvives", func(t *testing.T) {
				f := setup(t, open)
				ref := f.create(acctA, nil)
				f.poll(ref.ID, references.PollResult{Shipment: &references.Shipment{Status: references.ShipmentBooked}})
				f.poll(ref.ID, references.PollResult{NextPollAt: f.now().Add(time.Hour)}) // quiet
				way.reopen(f)
				f.clk.Advance(time.Hour - time.Second)
				f.noPollDue(ref.ID, "a quiet poll scheduled the next in 1h, before the restart")
				f.clk.Advance(time.Second)
				f.claimPoll("poller", ref.ID)
			})
		})
	}
}
