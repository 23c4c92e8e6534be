package storetest

import (
	"testing"

	"github.com/trackhook/trackhook/references"
)

// runQuota exercises CreateOptions.MaxActive: the account's quota of active references.
func runQuota(t *testing.T, open Opener) {
	t.Run("Quota", func(t *testing.T) {
		t.Run("RefusesACreateBeyondMaxActive", func(t *testing.T) {
			f := setup(t, open)
			quota := references.CreateOptions{MaxActive: 2}
			first := f.createWith(f.newRef(acctA, nil), quota)
			f.createWith(f.newRef(acctA, nil), quota)
			_, _, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), quota)
			wantCode(t, "a third create under a quota of 2", err, references.CodeQuotaExceeded)
			dup := f.newRef(acctA, func(r *references.Reference) { r.ContainerID = first.ContainerID })
			_, _, err = f.b.CreateReference(f.ctx, dup, quota)
			wantCode(t, "a create of a tracked identifier at the quota", err, references.CodeConflict)
			f.createWith(f.newRef(acctB, nil), quota) // another account's count
			f.create(acctA, nil)                      // no quota asked for
			if st := f.stats(); st.ActiveReferences != 4 {
				t.Errorf("%d active references, want 4: the refused creates stored nothing", st.ActiveReferences)
			}
		})

		t.Run("AReplayIsNotRefused", func(t *testing.T) {
			f := setup(t, open)
			idem := &references.IdempotencyKey{Key: "k1", RequestHash: "h1", ExpiresAt: f.now().Add(references.IdempotencyTTL)}
			quota := references.CreateOptions{Idempotency: idem, MaxActive: 1}
			first := f.createWith(f.newRef(acctA, nil), quota)
			again, replayed, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), quota)
			if err != nil || !replayed || again.ID != first.ID {
				t.Errorf("replay at the quota = %s replayed %t, %v; want %s replayed", again.ID, replayed, err, first.ID)
			}
		})

		t.Run("UnsubscribingMakesRoom", func(t *testing.T) {
			f := setup(t, open)
			quota := references.CreateOptions{MaxActive: 1}
			first := f.createWith(f.newRef(acctA, nil), quota)
			f.unsubscribe(acctA, first.ID, references.ReasonUser)
			f.unsubscribe(acctA, first.ID, references.ReasonUser) // twice frees no more room
			second := f.createWith(f.newRef(acctA, nil), quota)
			_, _, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), quota)
			wantCode(t, "a create after one unsubscribe and one create", err, references.CodeQuotaExceeded)
			f.poll(second.ID, references.PollResult{Unsubscribe: references.ReasonTrackingComplete})
			f.createWith(f.newRef(acctA, nil), quota)
		})

		t.Run("CountSurvivesRestartCrashAndPrune", func(t *testing.T) {
			f := setup(t, open)
			quota := references.CreateOptions{MaxActive: 2}
			gone := f.createWith(f.newRef(acctA, nil), quota)
			f.createWith(f.newRef(acctA, nil), quota)
			f.unsubscribe(acctA, gone.ID, references.ReasonUser)
			f.restart()
			f.createWith(f.newRef(acctA, nil), quota)
			f.crash()
			_, _, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), quota)
			wantCode(t, "a create at the quota after a restart and a crash", err, references.CodeQuotaExceeded)
			f.prune(references.PruneRequest{Unsubscribed: f.now().Add(1), Max: 100})
			_, _, err = f.b.CreateReference(f.ctx, f.newRef(acctA, nil), quota)
			wantCode(t, "a create at the quota after deleting an unsubscribed reference", err, references.CodeQuotaExceeded)
		})
	})
}
