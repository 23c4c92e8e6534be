package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// Retention's counters in the meta bucket (see stats.go), written by the transaction
// of the prune they count.
var (
	countPrunedUpdates     = []byte("pruned/updates")
	countPrunedAttempts    = []byte("pruned/attempts")
	countPrunedIdempotency = []byte("pruned/idempotency_keys")
	countPrunedReferences  = []byte("pruned/references")
	countPrunedMessages    = []byte("pruned/messages")
	countExpiredMessages   = []byte("pruned/expired_messages")
	lastPruneAt            = []byte("pruned/last_at") // timeKey of the last prune
)

// Prune deletes what retention no longer keeps (see references.PruneRequest) in one
// transaction of at most req.Max records: expired idempotency keys, then unsubscribed
// references with everything of theirs, then updates, then the delivery log, then
// endpoint messages (expired or deleted), each oldest first through its time index. Deleting in bounded batches keeps each commit
// (and bbolt's list of free pages) small; the freed pages are reused, the file does
// not shrink.
func (db *DB) Prune(ctx context.Context, req references.PruneRequest) (references.PruneCounts, error) {
	var got references.PruneCounts
	if req.Max <= 0 {
		return got, nil
	}
	now := db.clock.Now()
	err := db.update(ctx, func(tx *bolt.Tx) error {
		got = references.PruneCounts{}
		p := &pruning{db: db, tx: tx, left: int64(req.Max), got: &got}
		steps := []struct {
			cutoff time.Time
			run    func(time.Time) error
		}{
			{req.IdempotencyKeys, p.idempotencyKeys},
			{req.Unsubscribed, p.unsubscribed},
			{req.Updates, p.updates},
			{req.Attempts, p.attempts},
			{req.Messages, func(cutoff time.Time) error { return p.messages(cutoff, now) }},
			{req.Sessions, p.sessions},
		}
		for _, s := range steps {
			if s.cutoff.IsZero() || p.left == 0 {
				continue
			}
			if err := s.run(s.cutoff); err != nil {
				return err
			}
		}
		return addPruned(tx, got, now)
	})
	if err != nil {
		return references.PruneCounts{}, fmt.Errorf("prune: %w", err)
	}
	return got, nil
}

// addPruned adds one prune's counts to the totals and records its time.
func addPruned(tx *bolt.Tx, c references.PruneCounts, at time.Time) error {
	for _, k := range []struct {
		name []byte
		n    int64
	}{
		{countPrunedUpdates, c.Updates}, {countPrunedAttempts, c.Attempts},
		{countPrunedIdempotency, c.IdempotencyKeys}, {countPrunedReferences, c.References},
		{countPrunedMessages, c.Messages}, {countExpiredMessages, c.ExpiredMessages},
	} {
		if k.n == 0 {
			continue
		}
		if err := addCount(tx, k.name, k.n); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(lastPruneAt, timeKey(at))
}

// pruning is one Prune's transaction, with what it may still delete and what it did.
type pruning struct {
	db   *DB
	tx   *bolt.Tx
	left int64
	got  *references.PruneCounts
}

// took counts n records of a kind as deleted.
func (p *pruning) took(kind *int64, n int64) {
	*kind += n
	p.left -= n
}

// idempotencyKeys deletes idempotency records that expired before cutoff. An index
// entry whose record was written again since (its key reused after it expired) or is
// gone is only dropped.
func (p *pruning) idempotencyKeys(cutoff time.Time) error {
	recs := p.tx.Bucket(bucketIdempotency)
	return p.eachBefore(bucketIdemExpiry, cutoff, func(key []byte) error {
		var rec idempotencyRecord
		found, err := getJSON(recs, key, &rec)
		if err != nil || !found || !rec.ExpiresAt.Before(cutoff) {
			return err
		}
		p.took(&p.got.IdempotencyKeys, 1)
		return recs.Delete(key)
	})
}

// attempts deletes entries of the delivery log made before cutoff.
func (p *pruning) attempts(cutoff time.Time) error {
	log := p.tx.Bucket(bucketAttempts)
	return p.eachBefore(bucketAttemptsAge, cutoff, func(key []byte) error {
		if log.Get(key) == nil {
			return nil
		}
		p.took(&p.got.Attempts, 1)
		return log.Delete(key)
	})
}

// eachBefore calls fn with the rest of each key of a time index (time(8) + the key of
// the record) older than cutoff, oldest first, and deletes the index key, while the
// prune may delete more. fn deletes the record if it is to go.
func (p *pruning) eachBefore(index []byte, cutoff time.Time, fn func(key []byte) error) error {
	c := p.tx.Bucket(index).Cursor()
	end := timeKey(cutoff)
	for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) < 0 && p.left > 0; k, _ = c.First() {
		k = bytes.Clone(k)
		if err := fn(k[8:]); err != nil {
			return err
		}
		if err := p.tx.Bucket(index).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// attemptKeyAge is the key of an entry of the delivery log in its time index.
func attemptKeyAge(at time.Time, key []byte) []byte { return join(timeKey(at), key) }

// attemptTime reads when the stored attempt v was made, without the rest of it.
func attemptTime(v []byte) (time.Time, error) {
	if !isJSON(v) {
		var a references.DeliveryAttempt
		if err := decodeAttempt(v, &a); err != nil {
			return time.Time{}, fmt.Errorf("decode attempt: %w", err)
		}
		return a.At, nil
	}
	var r struct {
		At time.Time `json:"attempted_at"`
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return time.Time{}, fmt.Errorf("decode attempt: %w", err)
	}
	return r.At, nil
}

// idemKeyAge is the key of an idempotency record in its expiry index.
func idemKeyAge(expires time.Time, key []byte) []byte { return join(timeKey(expires), key) }

// unsubKeyAge is the key of an unsubscribed reference in its time index.
func unsubKeyAge(at time.Time, refID string) []byte { return join(timeKey(at), []byte(refID)) }
