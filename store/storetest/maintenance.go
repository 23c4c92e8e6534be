package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runMaintenance exercises the pruning of updates, backup and the readiness ping
// (retention of the other kinds: see retention.go).
func runMaintenance(t *testing.T, open Opener) {
	t.Run("PruneUpdates", func(t *testing.T) {
		t.Run("DeletesDeliveredUpdatesCreatedBeforeTheCutoff", func(t *testing.T) {
			f := setup(t, open)
			old := f.create(acctA, withCallback(url1))
			f.appendUpdates(old.ID, references.UpdateShipment, references.UpdateShipment, references.UpdateShipment)
			c := f.claimStream("owner-1", old.ID)
			f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
			cutoff := f.now().Add(30 * time.Minute)
			f.clk.Advance(time.Hour)
			recent := f.create(acctA, nil)
			f.appendUpdates(recent.ID)
			n, err := f.pruneUpdates(cutoff, 100)
			if err != nil || n != 1 {
				t.Fatalf("Prune of updates = %d, %v; want 1 (the delivered old update)", n, err)
			}
			if got := seqs(f.updatesOf(acctA, old.ID)); !slices.Equal(got, []uint64{2, 3}) {
				t.Errorf("feed after pruning = %v, want [2 3]: undelivered updates stay", got)
			}
			if got := seqs(f.updatesOf(acctA, recent.ID)); !slices.Equal(got, []uint64{1}) {
				t.Errorf("feed of the recent reference = %v, want [1]: newer than the cutoff", got)
			}
			if ref := f.get(acctA, old.ID); ref.LastSequence != 3 {
				t.Errorf("LastSequence = %d after pruning, want 3: sequences are never reused", ref.LastSequence)
			}
		})

		t.Run("KeepsUpdatesQueuedForRedelivery", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			ups := f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			f.deliverAll(ref.ID)
			if err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, ups[0].ID, f.now()); err != nil {
				t.Fatal(err)
			}
			f.clk.Advance(time.Hour)
			n, err := f.pruneUpdates(f.now(), 100)
			if err != nil || n != 1 {
				t.Fatalf("Prune of updates = %d, %v; want 1 (update 2)", n, err)
			}
			if got := seqs(f.updatesOf(acctA, ref.ID)); !slices.Equal(got, []uint64{1}) {
				t.Errorf("feed after pruning = %v, want [1]: queued for redelivery", got)
			}
			redo := f.claimDelivery("owner-1", references.RedeliveryLeaseKey(references.DestinationCallback, ref.ID, ups[0].ID))
			if redo.Job.Update.ID != ups[0].ID {
				t.Errorf("redelivery after pruning: %s, want %s", redo.Job.Update.ID, ups[0].ID)
			}
		})

		t.Run("BoundedByMaxOldestFirst", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			for range 5 {
				f.appendUpdates(ref.ID)
				f.clk.Advance(time.Minute)
			}
			f.clk.Advance(time.Hour)
			for _, tc := range []struct {
				max, want int
				left      []uint64
			}{{2, 2, []uint64{3, 4, 5}}, {10, 3, []uint64{}}, {10, 0, []uint64{}}} {
				n, err := f.pruneUpdates(f.now(), tc.max)
				if err != nil || n != tc.want {
					t.Fatalf("Prune of updates (max %d) = %d, %v; want %d", tc.max, n, err, tc.want)
				}
				if got := seqs(f.updatesOf(acctA, ref.ID)); !slices.Equal(got, tc.left) {
					t.Fatalf("feed after a prune of updates (max %d) = %v, want %v (oldest deleted first)", tc.max, got, tc.left)
				}
			}
		})

		t.Run("DeletesUpdatesWhoseDeliveryWasStopped", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateShipment)
			if _, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, references.ReasonCallbackGone, f.now()); err != nil {
				t.Fatal(err)
			}
			f.clk.Advance(time.Hour)
			n, err := f.pruneUpdates(f.now(), 100)
			if err != nil || n != 3 {
				t.Fatalf("Prune of updates = %d, %v; want 3 (two and the final one): after the callback is gone nothing is still to be delivered", n, err)
			}
		})
	})

	t.Run("Backup", func(t *testing.T) {
		t.Run("WritesAReadableCopyOfThatMoment", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.poll(ref.ID, references.PollResult{
				Shipment: &references.Shipment{Status: references.ShipmentBooked},
				Updates:  []references.Update{f.update(references.UpdateShipment), f.update(references.UpdateShipment)},
			})
			c := f.claimStream("owner-1", ref.ID)
			f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
			_, key := references.NewAPIKey(acctA, []references.Scope{references.ScopeWrite}, f.now())
			if err := f.b.CreateAPIKey(f.ctx, key); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			n, err := f.b.Backup(f.ctx, &buf)
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skipf("the backend takes no backups of its own: %v", err)
			}
			if err != nil || n != int64(buf.Len()) || n == 0 {
				t.Fatalf("Backup = %d bytes, %v; wrote %d", n, err, buf.Len())
			}
			later := f.create(acctA, nil) // after the backup
			cp := f.h.OpenBackup(t, buf.Bytes())
			got, err := cp.GetReference(f.ctx, acctA, ref.ID)
			if err != nil || got.LastSequence != 2 || got.DeliveredSequence != 1 || got.CallbackURL != url1 {
				t.Fatalf("reference in the copy = last %d delivered %d url %q, %v; want 2, 1, %q", got.LastSequence, got.DeliveredSequence, got.CallbackURL, err, url1)
			}
			if ups, err := cp.ListUpdates(f.ctx, acctA, ref.ID, 0, 10); err != nil || len(ups) != 2 {
				t.Errorf("feed in the copy = %d updates, %v; want 2", len(ups), err)
			}
			if s, err := cp.Shipment(f.ctx, ref.ID); err != nil || s == nil || s.Status != references.ShipmentBooked {
				t.Errorf("snapshot in the copy = %+v, %v", s, err)
			}
			if page, err := cp.ListDeliveries(f.ctx, acctA, ref.ID, references.DeliveryQuery{Limit: 10}); err != nil || len(page.Deliveries) != 1 {
				t.Errorf("delivery log in the copy = %d entries, %v; want 1", len(page.Deliveries), err)
			}
			if _, err := cp.LookupAPIKey(f.ctx, key.Hash); err != nil {
				t.Errorf("API key in the copy: %v", err)
			}
			if acct, err := cp.GetAccount(f.ctx, acctA); err != nil || len(acct.WebhookSecrets) != 1 {
				t.Errorf("account in the copy = %+v, %v", acct, err)
			}
			if _, err := cp.GetReference(f.ctx, acctA, later.ID); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("a reference created after the backup is in the copy (GetReference: %v)", err)
			}
			if err := f.b.Ping(f.ctx); err != nil {
				t.Errorf("Ping of the original after a backup: %v", err)
			}
		})
	})

	t.Run("Ping", func(t *testing.T) {
		t.Run("AnswersWhileOpen", func(t *testing.T) {
			f := setup(t, open)
			if err := f.b.Ping(f.ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		})
	})
}
