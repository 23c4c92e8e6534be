package store

import (
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// Counters kept in the meta bucket, changed in the same transaction as what they
// count, so reading them costs nothing however many references there are.
var (
	countActive       = []byte("count/active")
	countUnsubscribed = []byte("count/unsubscribed")
	countPending      = []byte("count/pending_delivery") // delivery streams with something to deliver (callbacks' and endpoints')
)

// addCount adds delta to a counter.
func addCount(tx *bolt.Tx, name []byte, delta int64) error {
	meta := tx.Bucket(bucketMeta)
	return meta.Put(name, u64(uint64(readCount(meta, name)+delta)))
}

// readCount reads a counter of the meta bucket (or of another bucket of counts).
func readCount(meta *bolt.Bucket, name []byte) int64 {
	v := meta.Get(name)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// Stats returns the counters. It reads a few keys, whatever the store's size;
// Commits is bbolt's transaction id.
func (db *DB) Stats(ctx context.Context) (references.Stats, error) {
	var s references.Stats
	err := db.view(ctx, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		s.ActiveReferences = readCount(meta, countActive)
		s.UnsubscribedReferences = readCount(meta, countUnsubscribed)
		s.PendingDeliveries = readCount(meta, countPending)
		s.FileBytes = tx.Size()
		s.Commits = int64(tx.ID())
		s.Pruned = references.PruneCounts{
			Updates: readCount(meta, countPrunedUpdates), Attempts: readCount(meta, countPrunedAttempts),
			IdempotencyKeys: readCount(meta, countPrunedIdempotency), References: readCount(meta, countPrunedReferences),
			Messages: readCount(meta, countPrunedMessages), ExpiredMessages: readCount(meta, countExpiredMessages),
		}
		if v := meta.Get(lastPruneAt); len(v) == 8 {
			at := keyTime(v)
			s.LastPruneAt = &at
		}
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("stats: %w", err)
	}
	return s, nil
}

// OldestUndelivered returns the oldest update still waiting for delivery, or nil
// when none is. It reads every reference in the outbox: meant for an operator's look
// at a store, not for a hot path.
func (db *DB) OldestUndelivered(ctx context.Context) (*references.Update, error) {
	var oldest *references.Update
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDelivery).ForEach(func(k, _ []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var ref references.Reference
			if err := getRef(tx, anyAccount, string(k), &ref); err != nil {
				return err
			}
			var u references.Update
			found, err := getUpdate(tx, ref.ID, ref.DeliveredSequence+1, &u)
			if err != nil || !found {
				return err
			}
			if oldest == nil || u.CreatedAt.Before(oldest.CreatedAt) {
				oldest = &u
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("oldest undelivered update: %w", err)
	}
	return oldest, nil
}
