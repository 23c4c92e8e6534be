package store

// The account feed (GET /updates): every update of an account's references in one
// gapless order. appendUpdate numbers each update in the account as it writes it to
// its reference's feed, in the same transaction, so no crash or concurrent poll can
// leave a gap or a duplicate; only retention removes numbers, and then from both
// indexes at once (unindexUpdate).

import (
	"bytes"
	"context"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// Since schema 4.
var (
	bucketAccountUpdates = []byte("account_updates")    // account \0 account_seq(8) -> ref id \0 seq(8)
	bucketAccountUpdateN = []byte("account_update_seq") // account id -> last account_seq(8)
)

// Bounds on the entries one read of the account feed walks when a types filter drops
// most of them, so that a request costs the same whatever the feed holds (as
// ListMessages does): max(minAccountFeedScan, accountFeedScanPerItem×limit).
const (
	minAccountFeedScan     = 10_000
	accountFeedScanPerItem = 20
)

// accountUpdateKey is the key of an update in account_updates.
func accountUpdateKey(accountID string, seq uint64) []byte {
	return join(str(accountID), u64(seq))
}

// numberUpdate gives the update at feed key fk the account's next sequence and writes
// its account_updates entry; it returns that entry's key, which updates_by_time keeps
// as its value so that retention can delete both.
func numberUpdate(tx *bolt.Tx, accountID string, fk []byte) ([]byte, error) {
	counts := tx.Bucket(bucketAccountUpdateN)
	var seq uint64 = 1
	if v := counts.Get([]byte(accountID)); len(v) == 8 {
		seq = bytesU64(v) + 1
	}
	if err := counts.Put([]byte(accountID), u64(seq)); err != nil {
		return nil, err
	}
	key := accountUpdateKey(accountID, seq)
	if err := accountUpdatesForAppend(tx).Put(key, fk); err != nil {
		return nil, err
	}
	return key, nil
}

// accountUpdatesForAppend returns the account_updates bucket of tx, set to fill its
// pages before it splits them. Its keys only grow within each account (the account's
// sequence), so a page is never written into again once a later page holds the
// account's newer keys; bbolt's default of half-full pages left the bucket at about
// 50 % of its pages after full voyages (measured with the load tool's voyage phase).
func accountUpdatesForAppend(tx *bolt.Tx) *bolt.Bucket {
	b := tx.Bucket(bucketAccountUpdates)
	b.FillPercent = 1.0
	return b
}

// unindexUpdate deletes the updates_by_time entry ageKey and the account_updates entry
// its value names (none on an update that was never numbered).
func unindexUpdate(tx *bolt.Tx, ageKey []byte) error {
	age := tx.Bucket(bucketUpdatesAge)
	if ak := age.Get(ageKey); len(ak) > 0 {
		if err := tx.Bucket(bucketAccountUpdates).Delete(bytes.Clone(ak)); err != nil {
			return err
		}
	}
	return age.Delete(ageKey)
}

// ListAccountUpdates returns a page of the account's feed after q.After, in account
// sequence order, reading at most max(minAccountFeedScan, 20×limit) entries.
func (db *DB) ListAccountUpdates(ctx context.Context, accountID string, q references.AccountUpdateQuery) (references.AccountUpdatePage, error) {
	limit := references.PageSize(q.Limit)
	var page references.AccountUpdatePage
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		page, err = listAccountUpdates(tx, accountID, q, limit, max(minAccountFeedScan, accountFeedScanPerItem*limit))
		return err
	})
	if err != nil {
		return references.AccountUpdatePage{}, fmt.Errorf("list the account feed of %s: %w", accountID, err)
	}
	return page, nil
}

// listAccountUpdates reads up to limit updates of the account feed after q.After that
// q.Types keeps, walking at most budget entries.
func listAccountUpdates(tx *bolt.Tx, accountID string, q references.AccountUpdateQuery, limit, budget int) (references.AccountUpdatePage, error) {
	page := references.AccountUpdatePage{Updates: []references.AccountUpdate{}, NextAfter: q.After}
	if v := tx.Bucket(bucketAccountUpdateN).Get([]byte(accountID)); len(v) == 8 {
		page.LastSequence = bytesU64(v)
	}
	prefix := str(accountID)
	c := tx.Bucket(bucketAccountUpdates).Cursor()
	if k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
		page.OldestAvailable = bytesU64(k[len(prefix):])
	}
	if q.After >= page.LastSequence || q.After == math.MaxUint64 {
		return page, nil // nothing newer (and After+1 would wrap at the largest sequence)
	}
	read := 0
	for k, v := c.Seek(accountUpdateKey(accountID, q.After+1)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(page.Updates) == limit || read == budget {
			break
		}
		read++
		seq := bytesU64(k[len(prefix):])
		page.NextAfter = seq
		data := tx.Bucket(bucketUpdates).Get(v)
		if data == nil {
			continue // removed behind the index's back: a hole
		}
		var u references.Update
		if err := decodeStoredUpdate(tx, v, data, &u); err != nil {
			return page, fmt.Errorf("update %q: %w", v, err)
		}
		if references.UpdateMatchesTypes(&u, q.Types) {
			page.Updates = append(page.Updates, references.AccountUpdate{AccountSequence: seq, Update: u})
		}
	}
	return page, nil
}
