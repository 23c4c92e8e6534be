package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// DueReferences returns the ids of up to limit active references whose next poll is
// at or before now, most overdue first.
func (db *DB) DueReferences(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	end := timeKey(now)
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDue).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) <= 0 && len(ids) < limit; k, _ = c.Next() {
			ids = append(ids, string(k[8:]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due references: %w", err)
	}
	return ids, nil
}

// CountDue returns how many active references are due at or before now.
func (db *DB) CountDue(ctx context.Context, now time.Time) (int, error) {
	ids, err := db.DueReferences(ctx, now, int(^uint(0)>>1))
	return len(ids), err
}

// Shipment returns the last stored snapshot of a reference, or nil before the first
// successful poll.
func (db *DB) Shipment(ctx context.Context, refID string) (*references.Shipment, error) {
	var s *references.Shipment
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var v references.Shipment
		found, err := getJSON(tx.Bucket(bucketShipments), []byte(refID), &v)
		if found && err == nil {
			s = &v
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("shipment of %s: %w", refID, err)
	}
	return s, nil
}

// RecordPoll writes the outcome of one poll in one transaction: the polling fields and
// next due time, the new snapshot, the updates appended to the feed (and queued for
// delivery), and an unsubscribe. A reference that was unsubscribed while it was being
// polled is left as it is, and the returned reference says so. Concurrent calls are
// committed together (bbolt Batch).
func (db *DB) RecordPoll(ctx context.Context, refID string, res references.PollResult) (references.Reference, error) {
	var ref references.Reference
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		ref = references.Reference{}
		if err := getRef(tx, anyAccount, refID, &ref); err != nil {
			return err
		}
		if !ref.Active() {
			return nil
		}
		due := tx.Bucket(bucketDue)
		if ref.NextPollAt != nil {
			if err := due.Delete(dueKey(*ref.NextPollAt, ref.ID)); err != nil {
				return err
			}
		}
		polled, next := res.PolledAt.UTC(), res.NextPollAt.UTC()
		ref.LastPolledAt, ref.NextPollAt = &polled, &next
		ref.LastPollError = res.Error
		ref.ConsecutiveFailures = res.ConsecutiveFailures
		ref.NotFoundSince = res.NotFoundSince
		ref.UpdatedAt = polled
		if res.Shipment != nil {
			if err := putJSON(tx.Bucket(bucketShipments), []byte(ref.ID), res.Shipment); err != nil {
				return err
			}
		}
		for i := range res.Updates {
			u := res.Updates[i] // a copy: Batch may run this function again
			if err := appendUpdate(tx, &ref, &u); err != nil {
				return err
			}
		}
		if res.Unsubscribe != "" {
			return unsubscribe(tx, &ref, res.Unsubscribe, polled)
		}
		if err := due.Put(dueKey(next, ref.ID), nil); err != nil {
			return err
		}
		return putRef(tx, &ref)
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("record poll of %s: %w", refID, err)
	}
	return ref, nil
}
