package store

import (
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// Each account's count of active references is kept in the active_by_account bucket,
// changed by the transactions that create and unsubscribe references, so that a
// create checks the quota by reading one key. Files of schema 1 are counted once, at
// their upgrade (see upgrade.go).

// checkQuota refuses a new active reference in the account when it has max already;
// max 0 is no quota.
func checkQuota(tx *bolt.Tx, accountID string, max int) error {
	if max > 0 && readCount(tx.Bucket(bucketActiveCount), []byte(accountID)) >= int64(max) {
		return references.QuotaExceeded(max)
	}
	return nil
}

// addActive adds delta to the account's count of active references.
func addActive(tx *bolt.Tx, accountID string, delta int64) error {
	b := tx.Bucket(bucketActiveCount)
	return b.Put([]byte(accountID), u64(uint64(readCount(b, []byte(accountID))+delta)))
}

// noteUnsubscribed is what unsubscribing changes besides the reference and the global
// counts: the account's count of active references, and the index retention finds
// unsubscribed references by.
func noteUnsubscribed(tx *bolt.Tx, ref *references.Reference, at time.Time) error {
	if err := addActive(tx, ref.AccountID, -1); err != nil {
		return err
	}
	return tx.Bucket(bucketUnsubAge).Put(unsubKeyAge(at, ref.ID), nil)
}
