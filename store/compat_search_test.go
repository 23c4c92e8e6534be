package store

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// searchFixtures are the store files written before the search indexes, with the
// clock to read them with and, per account, the ids sort=eta must give: those with an
// ETA first, earliest first, then the others in creation order (ties by id).
var searchFixtures = []struct {
	file    string
	now     time.Time
	byETA   map[string][]string
	unsubID string // an unsubscribed reference, findable only through refs_by_number
}{
	{v1Fixture, v1.now, map[string][]string{
		// ref_v1container's ETA is 2026-03-28, ref_v1bol's 2026-04-08; ref_v1booking
		// was never polled.
		"acct_alpha": {"ref_v1container", "ref_v1bol", "ref_v1booking"},
		"acct_beta":  {"ref_v1beta"},
	}, "ref_v1bol"},
	{v1JSONFixture, v1.now, map[string][]string{
		"acct_alpha": {"ref_v1container", "ref_v1bol", "ref_v1booking"},
		"acct_beta":  {"ref_v1beta"},
	}, "ref_v1bol"},
	// No snapshot of v2.db has an ETA: sort=eta is the creation order.
	{v2Fixture, v2.now, map[string][]string{
		"acct_gamma": {"ref_v2delivered", "ref_v2retry", "ref_v2unsub"},
		"acct_delta": {"ref_v2fresh", "ref_v2pull"},
	}, "ref_v2unsub"},
}

// searchIDs lists the account's references that q finds, as ids.
func searchIDs(t *testing.T, db *DB, accountID string, q references.ListQuery) []string {
	t.Helper()
	q.Limit = 100
	q, err := q.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	page, err := db.ListReferences(context.Background(), accountID, q)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, r := range page.References {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestOpen_IndexesAnOlderStoreFileForSearch: Open fills the search indexes of a file
// written before them, so that searches find its references, active or unsubscribed,
// and sort=eta orders them by their stored snapshots' ETAs.
func TestOpen_IndexesAnOlderStoreFileForSearch(t *testing.T) {
	for _, fx := range searchFixtures {
		t.Run(filepath.Base(fx.file), func(t *testing.T) {
			db := openCopy(t, fx.file, fx.now)
			for acct, want := range fx.byETA {
				all := searchIDs(t, db, acct, references.ListQuery{})
				if got := searchIDs(t, db, acct, references.ListQuery{Sort: references.SortETA}); !slices.Equal(got, want) {
					t.Errorf("%s sort=eta: %v, want %v", acct, got, want)
				}
				var others []string
				for other := range fx.byETA {
					if other != acct {
						others = append(others, other)
					}
				}
				for _, id := range all {
					ref, err := db.Reference(context.Background(), id)
					if err != nil {
						t.Fatal(err)
					}
					_, ident := ref.Identifier()
					if got := searchIDs(t, db, acct, references.ListQuery{Identifier: ident}); !slices.Equal(got, []string{id}) {
						t.Errorf("%s identifier=%s (%s, %s): %v, want [%s]", acct, ident, id, ref.Status, got, id)
					}
					for _, other := range others {
						if got := searchIDs(t, db, other, references.ListQuery{Identifier: ident}); len(got) != 0 {
							t.Errorf("%s identifier=%s finds %v of another account", other, ident, got)
						}
					}
				}
			}
			// A container-number search would find a BoL by its containers, but no
			// snapshot of these files has any (they predate Shipment.Containers):
			// storetest covers that search on new data.
		})
	}
}

// TestOpen_IndexesAnOlderStoreFileOnce: the search_indexed mark keeps a second Open
// from indexing again. An index entry removed behind the store's back stays removed
// across a reopen, and comes back once the mark is gone.
func TestOpen_IndexesAnOlderStoreFileOnce(t *testing.T) {
	for _, fx := range searchFixtures {
		t.Run(filepath.Base(fx.file), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), filepath.Base(fx.file))
			data, err := os.ReadFile(fx.file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			open := func() *DB {
				t.Helper()
				db, err := Open(path, Options{NoSync: true, Clock: clock.NewFake(fx.now)})
				if err != nil {
					t.Fatal(err)
				}
				return db
			}
			closeDB := func(db *DB) {
				t.Helper()
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}

			db := open()
			ref, err := db.Reference(context.Background(), fx.unsubID)
			if err != nil {
				t.Fatal(err)
			}
			_, ident := ref.Identifier()
			find := func(db *DB) []string {
				return searchIDs(t, db, ref.AccountID, references.ListQuery{Identifier: ident})
			}
			if got := find(db); !slices.Equal(got, []string{ref.ID}) {
				t.Fatalf("first open: identifier=%s finds %v, want [%s]", ident, got, ref.ID)
			}
			err = db.bolt.Update(func(tx *bolt.Tx) error {
				if tx.Bucket(bucketMeta).Get(searchIndexedKey) == nil {
					t.Error("the first open did not mark the file indexed")
				}
				return tx.Bucket(bucketRefsByNumbr).Delete(numberKey(ref.AccountID, ident, ref.ID))
			})
			if err != nil {
				t.Fatal(err)
			}
			closeDB(db)

			db = open()
			if got := find(db); len(got) != 0 {
				t.Fatalf("second open indexed again: identifier=%s finds %v", ident, got)
			}
			if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(searchIndexedKey) }); err != nil {
				t.Fatal(err)
			}
			closeDB(db)

			db = open()
			defer closeDB(db)
			if got := find(db); !slices.Equal(got, []string{ref.ID}) {
				t.Fatalf("open without the mark: identifier=%s finds %v, want [%s]", ident, got, ref.ID)
			}
		})
	}
}
