package store

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// upgradeBatch is how many entries one transaction of an upgrade reads: a large store
// is upgraded in many small commits rather than one that holds it all in memory.
const upgradeBatch = 10_000

// upgrade brings a file of an older schema to SchemaVersion, one schema at a time,
// and writes the new version last. From schema 1 it fills retention's time indexes
// (delivery log, idempotency keys, unsubscribed references) and the accounts' counts
// of active references from what the file holds; from schema 2 it rewrites the
// outbox's keys in the form of schema 3 (one stream per destination and reference);
// from schema 3 it numbers every update in its account (numberUpdates); from schema 4
// it counts each account's references by status (countStatuses) and summarises every
// latest snapshot in its search facts (summarizeSnapshots); from schema 5 it only
// writes the new version, so that an older binary refuses the values of format 3;
// from schema 6 likewise, for the tables of format 4.
// Interrupted, it starts again at the next Open, which refuses nothing in between:
// every step writes the same keys again, the counts are set, not added, and the
// rewrite of the outbox, the numbering and the summaries skip what they did already.
func (db *DB) upgrade(from uint64) error {
	if from < 1 || from >= SchemaVersion {
		return fmt.Errorf("no upgrade from schema %d to %d", from, SchemaVersion)
	}
	started := time.Now()
	db.log.Info("upgrading the store", "from_schema", from, "to_schema", SchemaVersion)
	if from < 2 {
		if err := db.upgradeTo2(); err != nil {
			return fmt.Errorf("upgrade from schema %d: %w", from, err)
		}
	}
	if from < 3 {
		if err := db.rewriteOutboxKeys(upgradeBatch); err != nil {
			return fmt.Errorf("upgrade from schema %d: outbox: %w", from, err)
		}
	}
	if from < 4 {
		if err := db.numberUpdates(upgradeBatch); err != nil {
			return fmt.Errorf("upgrade from schema %d: account feed: %w", from, err)
		}
	}
	if from < 5 {
		if err := db.countStatuses(); err != nil {
			return fmt.Errorf("upgrade from schema %d: counts by status: %w", from, err)
		}
		if err := db.summarizeSnapshots(upgradeBatch); err != nil {
			return fmt.Errorf("upgrade from schema %d: shipment summaries: %w", from, err)
		}
	}
	// From schema 5, nothing to do: the values of format 1 and 2 stay readable, and
	// the snapshots and updates written from now on take format 3 (see formatTable).
	// From schema 6 neither: a table of format 3 stays readable and takes format 4
	// when its reference next changes (see formatDict).
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("schema_version"), u64(SchemaVersion))
	})
	if err != nil {
		return fmt.Errorf("upgrade from schema %d: %w", from, err)
	}
	db.log.Info("upgraded the store", "to_schema", SchemaVersion, "took", time.Since(started).Round(time.Millisecond))
	return nil
}

// upgradeTo2 fills what schema 2 added: retention's time indexes and the accounts'
// counts of active references.
func (db *DB) upgradeTo2() error {
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
			return fmt.Errorf("%s: %w", s.source, err)
		}
	}
	return db.bolt.Update(countActiveByAccount)
}

// rewriteOutboxKeys gives every entry of the outbox in the form of schema 2
// (deliver_at(8) ref id: a reference's callback stream) the key of schema 3
// (outboxKey), in transactions of batch entries. A key in the new form holds the
// separator after its time, which a reference id never does: those are passed over,
// so an interrupted rewrite goes on where it stopped, and a file of schema 1 or 2 is
// rewritten the same way.
func (db *DB) rewriteOutboxKeys(batch int) error {
	var after []byte // the last key rewritten; it is gone, so Seek lands after it
	for done := false; !done; {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			outbox := tx.Bucket(bucketOutbox)
			c := outbox.Cursor()
			var old [][]byte
			k, _ := c.First()
			if after != nil {
				k, _ = c.Seek(after)
			}
			for ; k != nil && len(old) < batch; k, _ = c.Next() {
				if len(k) > 8 && bytes.IndexByte(k[8:], sep) < 0 {
					old = append(old, bytes.Clone(k))
				}
			}
			done = k == nil
			for _, k := range old {
				if err := outbox.Delete(k); err != nil {
					return err
				}
				if err := outbox.Put(outboxKey(keyTime(k), references.DestinationCallback, string(k[8:])), nil); err != nil {
					return err
				}
			}
			if len(old) > 0 {
				after = old[len(old)-1]
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
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

// numberUpdates gives every update that has no account sequence yet the next one of
// its account, in creation order (created_at, then reference, then sequence: the
// order of updates_by_time), in transactions of batch entries. An entry numbered
// already holds its account_updates key, so an interrupted numbering goes on where it
// stopped and the counters, written in the same transactions, stay right. An entry
// whose reference or update is gone is left for retention, unnumbered.
func (db *DB) numberUpdates(batch int) error {
	var after []byte // the last key done
	for done := false; !done; {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			age := tx.Bucket(bucketUpdatesAge)
			c := age.Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			var todo [][]byte
			for ; k != nil && len(todo) < batch; k, v = c.Next() {
				if len(v) == 0 {
					todo = append(todo, bytes.Clone(k))
				}
				after = append(after[:0], k...)
			}
			done = k == nil
			accounts := map[string]string{} // ref id -> account id ("" when gone)
			for _, k := range todo {
				fk := k[8:]
				refID := string(fk[:len(fk)-9])
				acct, ok := accounts[refID]
				if !ok {
					var ref references.Reference
					switch err := getRef(tx, anyAccount, refID, &ref); {
					case err == nil:
						acct = ref.AccountID
					case !errors.Is(err, references.ErrNotFound):
						return fmt.Errorf("reference %s: %w", refID, err)
					}
					accounts[refID] = acct
				}
				if acct == "" || tx.Bucket(bucketUpdates).Get(fk) == nil {
					continue
				}
				ak, err := numberUpdate(tx, acct, fk)
				if err != nil {
					return err
				}
				if err := age.Put(k, ak); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// summarizeSnapshots gives every latest snapshot facts of format 2, with its summary,
// in transactions of batch snapshots. The first ETA of a snapshot summarised here is
// the earliest its reference's feed still holds (the updates carry their snapshots),
// else its own ETA: the facts written before knew no other. Facts of format 2 are
// passed over, so an interrupted run goes on where it stopped; snapshots of deleted
// references too (Dump passes them over as well).
func (db *DB) summarizeSnapshots(batch int) error {
	return db.eachInBatches(bucketShipments, batch, func(tx *bolt.Tx, k, v []byte) error {
		if f := tx.Bucket(bucketRefFacts).Get(k); len(f) > 0 && f[0] == factsFormat2 {
			return nil
		}
		var ref references.Reference
		switch err := getRef(tx, anyAccount, string(k), &ref); {
		case errors.Is(err, references.ErrNotFound):
			return nil
		case err != nil:
			return err
		}
		var s references.Shipment
		if err := decodeShipment(v, &s); err != nil {
			return fmt.Errorf("shipment of %s: %w", k, err)
		}
		old, err := readFacts(tx, ref.ID)
		if err != nil {
			return err
		}
		first, err := firstFeedETA(tx, ref.ID)
		if err != nil {
			return err
		}
		prev := old.summary()
		if first != nil {
			prev = &references.ShipmentSummary{FirstETA: first}
		}
		return indexSnapshotAfter(tx, &ref, &s, old, prev)
	})
}

// firstETAReads bounds the updates firstFeedETA decodes per reference, so that the
// upgrade of a long feed that never had an ETA costs no more than that of a short one.
const firstETAReads = 32

// firstFeedETA returns the ETA of the first snapshot of the reference's feed that has
// one among its first firstETAReads updates, nil when none has.
func firstFeedETA(tx *bolt.Tx, refID string) (*time.Time, error) {
	prefix := str(refID)
	c := tx.Bucket(bucketUpdates).Cursor()
	n := 0
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && n < firstETAReads; k, v = c.Next() {
		n++
		var u references.Update
		if err := decodeStoredUpdate(tx, k, v, &u); err != nil {
			return nil, fmt.Errorf("update %q: %w", k, err)
		}
		if u.Shipment != nil && u.Shipment.ETA != nil {
			return u.Shipment.ETA, nil
		}
	}
	return nil, nil
}
