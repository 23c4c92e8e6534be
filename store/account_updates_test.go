package store

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// checkAccountFeedIndex fails the test unless every numbered entry of updates_by_time
// names an account_updates entry that points back at its update, and account_updates
// holds nothing else.
func checkAccountFeedIndex(t testing.TB, tx *bolt.Tx) {
	t.Helper()
	feed := tx.Bucket(bucketAccountUpdates)
	numbered := 0
	_ = tx.Bucket(bucketUpdatesAge).ForEach(func(k, v []byte) error {
		if len(v) == 0 {
			return nil
		}
		numbered++
		if got := feed.Get(v); !bytes.Equal(got, k[8:]) {
			t.Errorf("update %q is numbered %q, which points at %q", k[8:], v, got)
		}
		return nil
	})
	if n := feed.Stats().KeyN; n != numbered {
		t.Errorf("%d entries in the account feed, %d numbered updates", n, numbered)
	}
}

// wantFeedOf is every update of the fixture's accounts in creation order (created_at,
// then reference, then sequence), by account.
func wantFeedOf(c v1Contents) map[string][]string {
	acct := map[string]string{}
	for _, ref := range c.References {
		acct[ref.ID] = ref.AccountID
	}
	var all []references.Update
	for _, ups := range c.Updates {
		all = append(all, ups...)
	}
	slices.SortFunc(all, func(a, b references.Update) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ReferenceID, b.ReferenceID), cmp.Compare(a.Sequence, b.Sequence))
	})
	out := map[string][]string{}
	for _, u := range all {
		out[acct[u.ReferenceID]] = append(out[acct[u.ReferenceID]], u.ID)
	}
	return out
}

// feedIDs reads an account's whole feed, checking that it is numbered 1..n.
func feedIDs(t *testing.T, db *DB, accountID string) []string {
	t.Helper()
	page, err := db.ListAccountUpdates(context.Background(), accountID, references.AccountUpdateQuery{Limit: references.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, u := range page.Updates {
		if u.AccountSequence != uint64(i+1) {
			t.Fatalf("%s: update %s has account sequence %d, want %d", accountID, u.Update.ID, u.AccountSequence, i+1)
		}
		ids = append(ids, u.Update.ID)
	}
	if page.LastSequence != uint64(len(ids)) || len(ids) > 0 && page.OldestAvailable != 1 {
		t.Fatalf("%s: last %d, oldest %d for %d updates", accountID, page.LastSequence, page.OldestAvailable, len(ids))
	}
	return ids
}

// TestOpen_NumbersTheUpdatesOfAnOlderStoreInCreationOrder: the upgrade to schema 4
// gives every update of a v1 or v2 file its account sequence in creation order, 1..n
// per account, and what is appended afterwards goes on from n.
func TestOpen_NumbersTheUpdatesOfAnOlderStoreInCreationOrder(t *testing.T) {
	tests := []struct {
		fixture string
		fx      storeFixture
	}{
		{v1Fixture, v1},
		{v1JSONFixture, v1},
		{v2Fixture, v2},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			ctx := context.Background()
			db := openCopy(t, tc.fixture, tc.fx.now)
			contents := readFixture(t, db, tc.fx)
			want := wantFeedOf(contents)
			total := 0
			for _, acct := range tc.fx.accounts {
				got := feedIDs(t, db, acct)
				if !slices.Equal(got, want[acct]) {
					t.Errorf("%s: account feed %v, want %v", acct, got, want[acct])
				}
				total += len(got)
			}
			if total == 0 {
				t.Fatal("the fixture has no updates to number")
			}
			_ = db.bolt.View(func(tx *bolt.Tx) error { checkAccountFeedIndex(t, tx); return nil })

			// A new update continues its account's numbering.
			var active references.Reference
			for _, ref := range contents.References {
				if ref.Active() {
					active = ref
					break
				}
			}
			if active.ID == "" {
				t.Fatal("the fixture has no active reference")
			}
			if _, err := db.UnsubscribeReference(ctx, active.AccountID, active.ID, references.ReasonUser, tc.fx.now); err != nil {
				t.Fatal(err)
			}
			n := uint64(len(want[active.AccountID]))
			page, err := db.ListAccountUpdates(ctx, active.AccountID, references.AccountUpdateQuery{After: n})
			if err != nil || len(page.Updates) != 1 || page.Updates[0].AccountSequence != n+1 || page.Updates[0].Update.ReferenceID != active.ID {
				t.Fatalf("after the upgrade, the next update of %s: %+v, %v; want account sequence %d of %s", active.AccountID, page.Updates, err, n+1, active.ID)
			}
		})
	}
}

// TestNumberUpdates_InBatchesAndAgainNumbersTheSame: numbering in batches of 2 gives
// what one batch gives, and numbering again (an upgrade interrupted after its last
// batch, before the version was written) changes nothing.
func TestNumberUpdates_InBatchesAndAgainNumbersTheSame(t *testing.T) {
	db := openCopy(t, v2Fixture, v2.now)
	want := map[string][]string{}
	for _, acct := range v2.accounts {
		want[acct] = feedIDs(t, db, acct)
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketAccountUpdates, bucketAccountUpdateN} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		age := tx.Bucket(bucketUpdatesAge)
		var keys [][]byte
		_ = age.ForEach(func(k, _ []byte) error { keys = append(keys, bytes.Clone(k)); return nil })
		for _, k := range keys {
			if err := age.Put(k, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := db.numberUpdates(2); err != nil {
			t.Fatal(err)
		}
		for _, acct := range v2.accounts {
			if got := feedIDs(t, db, acct); !slices.Equal(got, want[acct]) {
				t.Errorf("%s: numbered in batches of 2: %v, want %v", acct, got, want[acct])
			}
		}
	}
}

// TestListAccountUpdates_BoundsTheEntriesOneReadWalks: a filter that keeps nothing
// still ends the read after budget entries, with next_after where it stopped, so a
// consumer goes on without a gap.
func TestListAccountUpdates_BoundsTheEntriesOneReadWalks(t *testing.T) {
	db := openCopy(t, v2Fixture, v2.now)
	acct := v2.accounts[0]
	n := uint64(len(feedIDs(t, db, acct)))
	if n < 3 {
		t.Fatalf("the fixture's account %s has %d updates, want 3 or more", acct, n)
	}
	q := references.AccountUpdateQuery{Types: []string{"reference.nothing"}}
	for after := uint64(0); after < n; {
		q.After = after
		var page references.AccountUpdatePage
		err := db.bolt.View(func(tx *bolt.Tx) error {
			var err error
			page, err = listAccountUpdates(tx, acct, q, 10, 2)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Updates) != 0 || page.NextAfter != min(after+2, n) {
			t.Fatalf("read after %d with a budget of 2: %d updates, next_after %d; want none, next_after %d", after, len(page.Updates), page.NextAfter, min(after+2, n))
		}
		after = page.NextAfter
	}
}
