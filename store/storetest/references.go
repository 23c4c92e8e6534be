package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runReferences exercises the ReferenceStore: create, get, list, unsubscribe, patch.
func runReferences(t *testing.T, open Opener) {
	t.Run("CreateReference", func(t *testing.T) {
		t.Run("StoresAnActiveReferenceReadableByGet", func(t *testing.T) {
			f := setup(t, open)
			want := f.newRef(acctA, withCallback(url1))
			want.EventTypes = []string{string(references.UpdateShipment)}
			stored, replayed, err := f.b.CreateReference(f.ctx, want, references.CreateOptions{})
			if err != nil || replayed {
				t.Fatalf("CreateReference = replayed %t, %v", replayed, err)
			}
			got := f.get(acctA, want.ID)
			for name, ref := range map[string]references.Reference{"returned": stored, "read back": got} {
				if ref.ID != want.ID || ref.AccountID != acctA || ref.ContainerID != want.ContainerID ||
					ref.CarrierCode != want.CarrierCode || ref.CallbackURL != url1 ||
					!slices.Equal(ref.EventTypes, want.EventTypes) || ref.Metadata["po"] != want.Metadata["po"] ||
					ref.PollInterval != want.PollInterval || !ref.CreatedAt.Equal(want.CreatedAt) {
					t.Errorf("%s reference differs from the one created:\n got %+v\nwant %+v", name, ref, want)
				}
				if ref.Status != references.StatusActive || ref.LastSequence != 0 || ref.DeliveredSequence != 0 {
					t.Errorf("%s: status %s, last %d, delivered %d; want active with an empty feed", name, ref.Status, ref.LastSequence, ref.DeliveredSequence)
				}
			}
		})

		t.Run("IdempotencyKeyReplaysTheFirstReference", func(t *testing.T) {
			f := setup(t, open)
			idem := &references.IdempotencyKey{Key: "k1", RequestHash: "h1", ExpiresAt: f.now().Add(references.IdempotencyTTL)}
			first, replayed, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{Idempotency: idem})
			if err != nil || replayed {
				t.Fatalf("first create = replayed %t, %v", replayed, err)
			}
			f.clk.Advance(time.Minute)
			retry := f.newRef(acctA, func(r *references.Reference) { r.ContainerID = first.ContainerID })
			again, replayed, err := f.b.CreateReference(f.ctx, retry, references.CreateOptions{Idempotency: idem})
			if err != nil || !replayed {
				t.Fatalf("retried create = replayed %t, %v; want the first reference replayed", replayed, err)
			}
			if again.ID != first.ID {
				t.Errorf("replayed reference %s, want the first one %s", again.ID, first.ID)
			}
			if _, err := f.b.GetReference(f.ctx, acctA, retry.ID); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("the retry's own reference was stored too (GetReference: %v)", err)
			}
			page, err := f.b.ListReferences(f.ctx, acctA, references.ListQuery{Limit: 10})
			if err != nil || len(page.References) != 1 {
				t.Errorf("ListReferences after a replay = %d references, %v; want 1", len(page.References), err)
			}
		})

		t.Run("IdempotencyKeyReusedForAnotherRequestIsMismatch", func(t *testing.T) {
			f := setup(t, open)
			exp := f.now().Add(references.IdempotencyTTL)
			first, _, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{Idempotency: &references.IdempotencyKey{Key: "k1", RequestHash: "h1", ExpiresAt: exp}})
			if err != nil {
				t.Fatal(err)
			}
			other := f.newRef(acctA, nil)
			_, _, err = f.b.CreateReference(f.ctx, other, references.CreateOptions{Idempotency: &references.IdempotencyKey{Key: "k1", RequestHash: "h2", ExpiresAt: exp}})
			wantCode(t, "create with a reused key and another request", err, references.CodeIdempotencyMismatch)
			if _, err := f.b.GetReference(f.ctx, acctA, other.ID); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("the refused request was stored (GetReference: %v)", err)
			}
			f.get(acctA, first.ID)
		})

		t.Run("IdempotencyKeyStoredWithTheLegacyHashReplays", func(t *testing.T) {
			f := setup(t, open)
			exp := f.now().Add(references.IdempotencyTTL)
			first, _, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{Idempotency: &references.IdempotencyKey{Key: "k1", RequestHash: "as-sent", ExpiresAt: exp}})
			if err != nil {
				t.Fatal(err)
			}
			retry := &references.IdempotencyKey{Key: "k1", RequestHash: "normalised", LegacyRequestHash: "as-sent", ExpiresAt: exp}
			again, replayed, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{Idempotency: retry})
			if err != nil || !replayed || again.ID != first.ID {
				t.Fatalf("retry whose legacy hash is the stored one = %s replayed %t, %v; want %s replayed", again.ID, replayed, err, first.ID)
			}
		})

		t.Run("IdempotencyKeyIsForgottenOnceItExpires", func(t *testing.T) {
			f := setup(t, open)
			idem := &references.IdempotencyKey{Key: "k1", RequestHash: "h1", ExpiresAt: f.now().Add(time.Hour)}
			first, _, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{Idempotency: idem})
			if err != nil {
				t.Fatal(err)
			}
			f.clk.Advance(time.Hour + time.Second)
			later := &references.IdempotencyKey{Key: "k1", RequestHash: "h2", ExpiresAt: f.now().Add(time.Hour)}
			second, replayed, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{Idempotency: later})
			if err != nil || replayed || second.ID == first.ID {
				t.Fatalf("create with an expired key = %s replayed %t, %v; want a new reference", second.ID, replayed, err)
			}
		})

		t.Run("ActiveDuplicateIsConflictNamingTheExistingReference", func(t *testing.T) {
			f := setup(t, open)
			first := f.create(acctA, nil)
			dup := f.newRef(acctA, func(r *references.Reference) { r.ContainerID = first.ContainerID })
			_, _, err := f.b.CreateReference(f.ctx, dup, references.CreateOptions{})
			wantCode(t, "create of an active duplicate", err, references.CodeConflict)
			if !errors.Is(err, references.ErrConflict) {
				t.Errorf("errors.Is(%v, ErrConflict) = false", err)
			}
			var e *references.Error
			if !errors.As(err, &e) || e.ReferenceID != first.ID {
				t.Errorf("conflict %#v does not name the existing reference %s", e, first.ID)
			}
			if _, err := f.b.GetReference(f.ctx, acctA, dup.ID); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("the duplicate was stored (GetReference: %v)", err)
			}
		})

		t.Run("SameIdentifierWithAnotherCarrierOrAccountIsNoConflict", func(t *testing.T) {
			f := setup(t, open)
			first := f.create(acctA, nil)
			f.create(acctA, func(r *references.Reference) { r.ContainerID, r.CarrierCode = first.ContainerID, "MAEU" })
			f.create(acctB, func(r *references.Reference) { r.ContainerID = first.ContainerID })
		})

		t.Run("UnsubscribedDuplicateIsNoConflict", func(t *testing.T) {
			f := setup(t, open)
			first := f.create(acctA, nil)
			if _, err := f.b.UnsubscribeReference(f.ctx, acctA, first.ID, references.ReasonUser, f.now()); err != nil {
				t.Fatal(err)
			}
			again := f.create(acctA, func(r *references.Reference) { r.ContainerID = first.ContainerID })
			if again.ID == first.ID {
				t.Fatal("tracking the identifier again returned the unsubscribed reference")
			}
		})
	})

	t.Run("GetReference", func(t *testing.T) {
		t.Run("UnknownIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			if _, err := f.b.GetReference(f.ctx, acctA, "ref_nope"); !errors.Is(err, references.ErrNotFound) {
				t.Fatalf("GetReference of an unknown id: %v, want ErrNotFound", err)
			}
		})
	})

	t.Run("ListReferences", func(t *testing.T) {
		t.Run("PagesInCreationOrderWithCursor", func(t *testing.T) {
			f := setup(t, open)
			var want []string
			for range 5 {
				want = append(want, f.create(acctA, nil).ID)
				f.clk.Advance(time.Second)
			}
			got, pages := f.listAll(acctA, references.ListQuery{Limit: 2})
			if !slices.Equal(got, want) || pages != 3 {
				t.Fatalf("pages of 2 = %d pages %q; want 3 pages %q", pages, got, want)
			}
		})

		t.Run("LastFullPageHasNoCursor", func(t *testing.T) {
			f := setup(t, open)
			for range 4 {
				f.create(acctA, nil)
				f.clk.Advance(time.Second)
			}
			got, pages := f.listAll(acctA, references.ListQuery{Limit: 2})
			if len(got) != 4 || pages != 2 {
				t.Fatalf("4 references in pages of 2 = %d in %d pages; want 4 in 2 (no cursor after the last page)", len(got), pages)
			}
		})

		t.Run("StatusFilterSelectsAcrossPages", func(t *testing.T) {
			f := setup(t, open)
			var active, unsub, all []string
			for i := range 6 {
				ref := f.create(acctA, nil)
				all = append(all, ref.ID)
				if i%2 == 0 {
					if _, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, references.ReasonUser, f.now()); err != nil {
						t.Fatal(err)
					}
					unsub = append(unsub, ref.ID)
				} else {
					active = append(active, ref.ID)
				}
				f.clk.Advance(time.Second)
			}
			for _, tc := range []struct {
				status references.Status
				want   []string
			}{{references.StatusActive, active}, {references.StatusUnsubscribed, unsub}, {"", all}} {
				got, _ := f.listAll(acctA, references.ListQuery{Status: tc.status, Limit: 2})
				if !slices.Equal(got, tc.want) {
					t.Errorf("status %q = %q, want %q", tc.status, got, tc.want)
				}
			}
		})
	})

	t.Run("UnsubscribeReference", func(t *testing.T) {
		t.Run("StopsPollingAndRecordsReasonAndTime", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			f.clk.Advance(time.Minute)
			at := f.now()
			got, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, references.ReasonUser, at)
			if err != nil {
				t.Fatal(err)
			}
			read := f.get(acctA, ref.ID)
			for name, r := range map[string]references.Reference{"returned": got, "read back": read} {
				if r.Status != references.StatusUnsubscribed || r.UnsubscribeReason != references.ReasonUser ||
					r.UnsubscribedAt == nil || !r.UnsubscribedAt.Equal(at) {
					t.Errorf("%s: status %s, reason %s, at %v; want unsubscribed by user at %v", name, r.Status, r.UnsubscribeReason, r.UnsubscribedAt, at)
				}
			}
			f.clk.Advance(24 * time.Hour)
			f.noPollDue(ref.ID, "an unsubscribed reference")
		})

		t.Run("TwiceIsNotAnErrorAndEndsTheFeedOnce", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			for i := range 2 {
				got, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, references.ReasonUser, f.now())
				if err != nil || got.Status != references.StatusUnsubscribed || got.LastSequence != 1 {
					t.Fatalf("unsubscribe #%d = %s, last %d, %v; want unsubscribed with one update", i+1, got.Status, got.LastSequence, err)
				}
				f.clk.Advance(time.Minute)
			}
		})

		t.Run("AppendsTheFinalUpdateWithTheReason", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.appendUpdates(ref.ID, references.UpdateShipment)
			f.clk.Advance(time.Minute)
			at := f.now()
			got, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, references.ReasonUser, at)
			if err != nil {
				t.Fatal(err)
			}
			if got.LastSequence != 2 {
				t.Errorf("returned reference: last sequence %d, want 2", got.LastSequence)
			}
			ups := f.updatesOf(acctA, ref.ID)
			if len(ups) != 2 {
				t.Fatalf("feed has %d updates, want the shipment update and the final one", len(ups))
			}
			u := ups[1]
			if u.Sequence != 2 || u.Type != references.UpdateUnsubscribed || u.UnsubscribeReason != references.ReasonUser ||
				!u.CreatedAt.Equal(at) || u.ID == "" || u.Reference.ID != ref.ID {
				t.Errorf("final update %+v; want #2 reference.unsubscribed (user) at %v of %s", u, at, ref.ID)
			}
		})

		t.Run("UnknownIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			_, err := f.b.UnsubscribeReference(f.ctx, acctA, "ref_nope", references.ReasonUser, f.now())
			if !errors.Is(err, references.ErrNotFound) {
				t.Fatalf("unsubscribe of an unknown id: %v, want ErrNotFound", err)
			}
		})
	})

	t.Run("PatchReference", func(t *testing.T) {
		t.Run("ChangesCallbackAndFilter", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			f.clk.Advance(time.Minute)
			u, types := url2, []string{string(references.UpdateTrackingFailed)}
			got, err := f.b.PatchReference(f.ctx, acctA, ref.ID, references.Patch{CallbackURL: &u, EventTypes: &types}, f.now())
			if err != nil {
				t.Fatal(err)
			}
			read := f.get(acctA, ref.ID)
			for name, r := range map[string]references.Reference{"returned": got, "read back": read} {
				if r.CallbackURL != url2 || !slices.Equal(r.EventTypes, types) || !r.UpdatedAt.Equal(f.now()) {
					t.Errorf("%s: callback %q, filter %q, updated %v; want %q, %q, %v", name, r.CallbackURL, r.EventTypes, r.UpdatedAt, url2, types, f.now())
				}
			}
		})

		t.Run("NilFieldsAreLeftAsTheyAre", func(t *testing.T) {
			f := setup(t, open)
			types := []string{string(references.UpdateShipment)}
			ref := f.create(acctA, func(r *references.Reference) { r.CallbackURL, r.EventTypes = url1, types })
			u := url2
			got, err := f.b.PatchReference(f.ctx, acctA, ref.ID, references.Patch{CallbackURL: &u}, f.now())
			if err != nil || !slices.Equal(got.EventTypes, types) {
				t.Fatalf("patch of the URL only: filter %q, %v; want %q kept", got.EventTypes, err, types)
			}
			none := []string{}
			got, err = f.b.PatchReference(f.ctx, acctA, ref.ID, references.Patch{EventTypes: &none}, f.now())
			if err != nil || got.CallbackURL != url2 || len(got.EventTypes) != 0 {
				t.Fatalf("patch of the filter only: callback %q, filter %q, %v; want %q and no filter", got.CallbackURL, got.EventTypes, err, url2)
			}
		})

		t.Run("UnsubscribedReferenceIsNotChanged", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			if _, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, references.ReasonUser, f.now()); err != nil {
				t.Fatal(err)
			}
			u := url2
			if _, err := f.b.PatchReference(f.ctx, acctA, ref.ID, references.Patch{CallbackURL: &u}, f.now()); err == nil {
				t.Error("patch of an unsubscribed reference: no error")
			}
			if got := f.get(acctA, ref.ID); got.CallbackURL != url1 {
				t.Errorf("callback of the unsubscribed reference = %q, want %q kept", got.CallbackURL, url1)
			}
		})
	})
}

// listAll reads every page of the account's references and returns their ids and the
// number of pages read.
func (f *fixture) listAll(accountID string, q references.ListQuery) (ids []string, pages int) {
	f.t.Helper()
	for {
		page, err := f.b.ListReferences(f.ctx, accountID, q)
		if err != nil {
			f.t.Fatalf("ListReferences(%+v): %v", q, err)
		}
		pages++
		if len(page.References) > q.Limit {
			f.t.Fatalf("page of %d references, limit %d", len(page.References), q.Limit)
		}
		for _, r := range page.References {
			if r.AccountID != accountID {
				f.t.Fatalf("ListReferences(%s) returned %s of account %s", accountID, r.ID, r.AccountID)
			}
			if q.Status != "" && r.Status != q.Status {
				f.t.Fatalf("ListReferences(status %s) returned %s which is %s", q.Status, r.ID, r.Status)
			}
			ids = append(ids, r.ID)
		}
		if page.NextCursor == "" || pages > 100 {
			return ids, pages
		}
		q.Cursor = page.NextCursor
	}
}
