package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// runIsolation checks that no account reaches another account's references: each route
// answers not found, and changes nothing.
func runIsolation(t *testing.T, open Opener) {
	t.Run("AccountIsolation", func(t *testing.T) {
		// isolated creates a reference of acctA with one delivered update, which the
		// subtests then try to reach as acctB.
		isolated := func(f *fixture) (references.Reference, references.Update) {
			ref := f.create(acctA, withCallback(url1))
			ups := f.appendUpdates(ref.ID)
			f.deliverAll(ref.ID)
			return f.get(acctA, ref.ID), ups[0]
		}
		notFound := func(t *testing.T, what string, err error) {
			t.Helper()
			if !errors.Is(err, references.ErrNotFound) {
				t.Errorf("%s of another account's reference: %v, want ErrNotFound", what, err)
			}
		}

		t.Run("GetIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			ref, _ := isolated(f)
			_, err := f.b.GetReference(f.ctx, acctB, ref.ID)
			notFound(t, "GetReference", err)
		})

		t.Run("PatchIsNotFoundAndChangesNothing", func(t *testing.T) {
			f := setup(t, open)
			ref, _ := isolated(f)
			u := url2
			_, err := f.b.PatchReference(f.ctx, acctB, ref.ID, references.Patch{CallbackURL: &u}, f.now())
			notFound(t, "PatchReference", err)
			if got := f.get(acctA, ref.ID); got.CallbackURL != url1 {
				t.Errorf("callback = %q after another account's patch, want %q", got.CallbackURL, url1)
			}
		})

		t.Run("UnsubscribeIsNotFoundAndChangesNothing", func(t *testing.T) {
			f := setup(t, open)
			ref, _ := isolated(f)
			_, err := f.b.UnsubscribeReference(f.ctx, acctB, ref.ID, references.ReasonUser, f.now())
			notFound(t, "UnsubscribeReference", err)
			if got := f.get(acctA, ref.ID); !got.Active() {
				t.Errorf("status = %s after another account's delete, want active", got.Status)
			}
		})

		t.Run("ListUpdatesIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			ref, _ := isolated(f)
			ups, err := f.b.ListUpdates(f.ctx, acctB, ref.ID, 0, 10)
			notFound(t, "ListUpdates", err)
			if len(ups) != 0 {
				t.Errorf("ListUpdates gave another account %d updates", len(ups))
			}
		})

		t.Run("ListDeliveriesIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			ref, _ := isolated(f)
			page, err := f.b.ListDeliveries(f.ctx, acctB, ref.ID, references.DeliveryQuery{Limit: 10})
			notFound(t, "ListDeliveries", err)
			if len(page.Deliveries) != 0 {
				t.Errorf("ListDeliveries gave another account %d entries", len(page.Deliveries))
			}
		})

		t.Run("RedeliverIsNotFoundAndQueuesNothing", func(t *testing.T) {
			f := setup(t, open)
			ref, u := isolated(f)
			err := f.b.RequestRedelivery(f.ctx, acctB, ref.ID, u.ID, f.now())
			notFound(t, "RequestRedelivery", err)
			f.noDeliveryDue("another account asked for a redelivery")
		})

		t.Run("ListReferencesShowsOnlyTheAccountsOwn", func(t *testing.T) {
			f := setup(t, open)
			a, _ := isolated(f)
			b := f.create(acctB, nil)
			for _, tc := range []struct {
				account string
				want    []string
			}{{acctA, []string{a.ID}}, {acctB, []string{b.ID}}} {
				if got, _ := f.listAll(tc.account, references.ListQuery{Limit: 10}); !slices.Equal(got, tc.want) {
					t.Errorf("ListReferences(%s) = %q, want %q", tc.account, got, tc.want)
				}
			}
		})

		t.Run("IdempotencyKeyOfAnotherAccountReplaysNothing", func(t *testing.T) {
			f := setup(t, open)
			idem := &references.IdempotencyKey{Key: "same", RequestHash: "h", ExpiresAt: f.now().Add(references.IdempotencyTTL)}
			a, _, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{Idempotency: idem})
			if err != nil {
				t.Fatal(err)
			}
			b, replayed, err := f.b.CreateReference(f.ctx, f.newRef(acctB, nil), references.CreateOptions{Idempotency: idem})
			if err != nil || replayed || b.ID == a.ID || b.AccountID != acctB {
				t.Fatalf("acctB's create with acctA's key = %s of %s, replayed %t, %v; want a new reference of acctB", b.ID, b.AccountID, replayed, err)
			}
		})
	})
}
