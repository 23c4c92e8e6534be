package store

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// upgradeBatch is how many entries one transaction of an upgrade reads: a large store
// is upgraded in many small commits rather than one that holds it all in memory.
const upgradeBatch = 10_000

// upgrade brings a file of schema 1 to SchemaVersion: it fills retention's time
// indexes (delivery log, idempotency keys, unsubscribed references) and the accounts'
// counts of active references from what the file holds, and writes the new version
// last. Interrupted, it starts again at the next Open, which refuses nothing in
// between: every step writes the same keys again, and the counts are set, not added.
func (db *DB) upgrade(from uint64) error {
	if from != 1 {
		return fmt.Errorf("no upgrade from schema %d to %d", from, SchemaVersion)
	}
	started := time.Now()
	db.log.Info("upgrading the store", "from_schema", from, "to_schema", SchemaVersion)
	steps := []struct {
		source []byte
		index  func(tx *bolt.Tx, k, v []byte) error
	}{
		{bucketAttempts, func(tx *bolt.Tx, k, v []byte) error {
			at, err := attemptTime(v)
			if err != nil {
				return fmt.Errorf("attempt %q: %w", k, err)
			}
			return tx.Bucket(bucketAttemptsAge).Put(attemptKeyAge(at, k), nil)
		}},
		{bucketIdempotency, func(tx *bolt.Tx, k, v []byte) error {
			var rec idempotencyRecord
			if err := unmarshal(v, &rec); err != nil {
				return fmt.Errorf("idempotency record %q: %w", k, err)
			}
			return tx.Bucket(bucketIdemExpiry).Put(idemKeyAge(rec.ExpiresAt, k), nil)
		}},
		{bucketRefs, func(tx *bolt.Tx, k, v []byte) error {
			var ref references.Reference
			if err := decodeReference(v, &ref); err != nil {
				return fmt.Errorf("reference %s: %w", k, err)
			}
			if ref.Active() || ref.UnsubscribedAt == nil {
				return nil
			}
			return tx.Bucket(bucketUnsubAge).Put(unsubKeyAge(*ref.UnsubscribedAt, ref.ID), nil)
		}},
	}
	for _, s := range steps {
		if err := db.eachInBatches(s.source, upgradeBatch, s.index); err != nil {
			return fmt.Errorf("upgrade from schema %d: %s: %w", from, s.source, err)
		}
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		if err := countActiveByAccount(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put([]byte("schema_version"), u64(SchemaVersion))
	})
	if err != nil {
		return fmt.Errorf("upgrade from schema %d: %w", from, err)
	}
	db.log.Info("upgraded the store", "to_schema", SchemaVersion, "took", time.Since(started).Round(time.Millisecond))
	return nil
}

// eachInBatches calls fn with every entry of bucket, in transactions of batch entries.
// fn writes only to other buckets.
func (db *DB) eachInBatches(bucket []byte, batch int, fn func(tx *bolt.Tx, k, v []byte) error) error {
	var after []byte // the last key done
	for done := false; !done; {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for n := 0; k != nil && n < batch; k, v = c.Next() {
				if err := fn(tx, k, v); err != nil {
					return err
				}
				after = append(after[:0], k...)
				n++
			}
			done = k == nil
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// countActiveByAccount sets every account's count of active references from the
// identifier index, which holds the active references only (keyed account first).
func countActiveByAccount(tx *bolt.Tx) error {
	counts := map[string]int64{}
	err := tx.Bucket(bucketRefsByIdent).ForEach(func(k, _ []byte) error {
		if i := bytes.IndexByte(k, sep); i > 0 {
			counts[string(k[:i])]++
		}
		return nil
	})
	if err != nil {
		return err
	}
	b := tx.Bucket(bucketActiveCount)
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	for acct, n := range counts {
		if err := b.Put([]byte(acct), u64(uint64(n))); err != nil {
			return err
		}
	}
	return nil
}
