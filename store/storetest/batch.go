package storetest

import (
	"testing"

	"github.com/trackhook/trackhook/references"
)

// runBatch exercises CreateReferences: a batch create's outcome per item, in order.
func runBatch(t *testing.T, open Opener) {
	t.Run("Batch", func(t *testing.T) {
		t.Run("ResultsPerItemInOrder", func(t *testing.T) {
			f := setup(t, open)
			stored := f.create(acctA, nil)
			refused := references.Invalidf("container_id", "bad check digit")
			first := f.newRef(acctA, nil)
			items := []references.BatchItem{
				{Reference: first},
				{Reference: f.newRef(acctA, func(r *references.Reference) { r.ContainerID = stored.ContainerID })},
				{Err: refused},
				{Reference: f.newRef(acctA, func(r *references.Reference) { r.ContainerID = first.ContainerID })},
				{Reference: f.newRef(acctA, func(r *references.Reference) { r.ContainerID = first.ContainerID; r.CarrierCode = "MAEU" })},
			}
			res := f.batch(acctA, items, references.CreateOptions{})
			wantCreated(t, res, 0, first.ID)
			wantRefused(t, res, 1, references.CodeConflict, stored.ID)
			wantRefused(t, res, 2, references.CodeInvalid, "")
			if res[2].Err.Field != "container_id" {
				t.Errorf("item 2 error field %q, want container_id", res[2].Err.Field)
			}
			wantRefused(t, res, 3, references.CodeConflict, first.ID) // the batch's own first item
			wantCreated(t, res, 4, items[4].Reference.ID)             // another carrier: another reference
			if got := f.get(acctA, first.ID); !got.Active() || got.NextPollAt == nil {
				t.Errorf("created item: %+v, want active and due", got)
			}
			if st := f.stats(); st.ActiveReferences != 3 {
				t.Errorf("%d active references, want 3", st.ActiveReferences)
			}
		})

		t.Run("CreatesOnlyInTheCallersAccount", func(t *testing.T) {
			f := setup(t, open)
			other := f.create(acctB, nil)
			stray := f.newRef(acctB, func(r *references.Reference) { r.ContainerID = other.ContainerID })
			res := f.batch(acctA, []references.BatchItem{{Reference: stray}}, references.CreateOptions{})
			wantCreated(t, res, 0, stray.ID) // no conflict with acctB's: it is acctA's own
			if res[0].Reference.AccountID != acctA {
				t.Fatalf("created in %s, want %s", res[0].Reference.AccountID, acctA)
			}
			if _, err := f.b.GetReference(f.ctx, acctB, stray.ID); err == nil {
				t.Error("the batch's reference is readable in the other account")
			}
		})

		t.Run("QuotaMidBatch", func(t *testing.T) {
			f := setup(t, open)
			quota := references.CreateOptions{MaxActive: 3}
			f.createWith(f.newRef(acctA, nil), quota)
			items := []references.BatchItem{{Reference: f.newRef(acctA, nil)}, {Reference: f.newRef(acctA, nil)}, {Reference: f.newRef(acctA, nil)}}
			res := f.batch(acctA, items, quota)
			wantCreated(t, res, 0, items[0].Reference.ID)
			wantCreated(t, res, 1, items[1].Reference.ID)
			wantRefused(t, res, 2, references.CodeQuotaExceeded, "")
			if st := f.stats(); st.ActiveReferences != 3 {
				t.Errorf("%d active references, want 3", st.ActiveReferences)
			}
		})

		t.Run("IdempotentReplay", func(t *testing.T) {
			f := setup(t, open)
			idem := &references.IdempotencyKey{Key: "k1", RequestHash: "batch-h1", ExpiresAt: f.now().Add(references.IdempotencyTTL)}
			opts := references.CreateOptions{Idempotency: idem}
			first := f.newRef(acctA, nil)
			items := []references.BatchItem{{Reference: first}, {Err: references.Invalidf("poll_interval", "too short")}}
			res := f.batch(acctA, items, opts)
			wantCreated(t, res, 0, first.ID)
			again := []references.BatchItem{{Reference: f.newRef(acctA, nil)}, {Err: references.Invalidf("poll_interval", "too short")}}
			replay, replayed, err := f.b.CreateReferences(f.ctx, acctA, again, opts)
			if err != nil || !replayed {
				t.Fatalf("replay: replayed %t, %v", replayed, err)
			}
			wantCreated(t, replay, 0, first.ID)
			wantRefused(t, replay, 1, references.CodeInvalid, "")
			if st := f.stats(); st.ActiveReferences != 1 {
				t.Errorf("%d active references after a replay, want 1", st.ActiveReferences)
			}
			other := &references.IdempotencyKey{Key: "k1", RequestHash: "batch-h2", ExpiresAt: idem.ExpiresAt}
			_, _, err = f.b.CreateReferences(f.ctx, acctA, again, references.CreateOptions{Idempotency: other})
			wantCode(t, "the same key with another batch", err, references.CodeIdempotencyMismatch)
			// A single create's key and a batch's never replay each other.
			_, _, err = f.b.CreateReference(f.ctx, f.newRef(acctA, nil), opts)
			wantCode(t, "a single create under a batch's key", err, references.CodeIdempotencyMismatch)
			// Keys are per account.
			res = f.batch(acctB, []references.BatchItem{{Reference: f.newRef(acctB, nil)}}, opts)
			if res[0].Err != nil || res[0].Reference.ID == first.ID {
				t.Errorf("another account's batch under the same key: %+v", res[0])
			}
		})

		t.Run("DurableAcrossACrash", func(t *testing.T) {
			f := setup(t, open)
			idem := &references.IdempotencyKey{Key: "k1", RequestHash: "batch-h1", ExpiresAt: f.now().Add(references.IdempotencyTTL)}
			items := make([]references.BatchItem, 250)
			for i := range items {
				items[i].Reference = f.newRef(acctA, nil)
			}
			f.batch(acctA, items, references.CreateOptions{Idempotency: idem})
			f.crash()
			if st := f.stats(); st.ActiveReferences != 250 {
				t.Fatalf("%d active references after a crash, want 250", st.ActiveReferences)
			}
			replay, replayed, err := f.b.CreateReferences(f.ctx, acctA, items, references.CreateOptions{Idempotency: idem})
			if err != nil || !replayed || replay[249].Reference.ID != items[249].Reference.ID {
				t.Fatalf("replay after a crash: replayed %t, %v", replayed, err)
			}
			claims, err := f.b.ClaimDuePolls(f.ctx, "owner-1", 300, leaseFor)
			if err != nil || len(claims) != 250 {
				t.Fatalf("%d polls due after a crash (%v), want 250", len(claims), err)
			}
		})
	})
}

// batch runs CreateReferences and fails the test on an error.
func (f *fixture) batch(accountID string, items []references.BatchItem, opts references.CreateOptions) []references.CreateResult {
	f.t.Helper()
	res, replayed, err := f.b.CreateReferences(f.ctx, accountID, items, opts)
	if err != nil || replayed || len(res) != len(items) {
		f.t.Fatalf("create batch of %d: %d results, replayed %t, %v", len(items), len(res), replayed, err)
	}
	return res
}

func wantCreated(t *testing.T, res []references.CreateResult, i int, id string) {
	t.Helper()
	if res[i].Err != nil || res[i].Reference.ID != id {
		t.Fatalf("item %d: %s, %v; want %s created", i, res[i].Reference.ID, res[i].Err, id)
	}
}

func wantRefused(t *testing.T, res []references.CreateResult, i int, code, conflictID string) {
	t.Helper()
	if res[i].Err == nil || res[i].Err.Code != code || res[i].Err.ReferenceID != conflictID {
		t.Fatalf("item %d: %+v; want %s naming %q", i, res[i].Err, code, conflictID)
	}
}
