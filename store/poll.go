package store

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// DueReferences returns the ids of up to limit active references whose next poll is
// at or before now, most overdue first. It reads the schedule kept in memory.
func (db *DB) DueReferences(ctx context.Context, now time.Time, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("due references: %w", err)
	}
	return db.sched.due(now, limit), nil
}

// CountDue returns how many active references are due at or before now.
func (db *DB) CountDue(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("count due references: %w", err)
	}
	return db.sched.count(now), nil
}

// Shipment returns the last stored snapshot of a reference, or nil before the first
// successful poll.
func (db *DB) Shipment(ctx context.Context, refID string) (*references.Shipment, error) {
	var s *references.Shipment
	err := db.view(ctx, func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketShipments).Get([]byte(refID))
		if data == nil {
			return nil
		}
		s = &references.Shipment{}
		return decodeShipment(data, s)
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
// committed together (see groupCommit).
//
// A poll that changed nothing (no snapshot, no update, and the same error state as
// stored) is not written at all: only its next due time moves, in memory (see
// schedule). If the process crashes before the reference's next write, it is polled
// again.
func (db *DB) RecordPoll(ctx context.Context, refID string, res references.PollResult) (references.Reference, error) {
	if res.Shipment == nil && len(res.Updates) == 0 && res.Unsubscribe == "" {
		ref, done, err := db.recordQuietPoll(ctx, refID, res)
		if err != nil {
			return references.Reference{}, fmt.Errorf("record poll of %s: %w", refID, err)
		}
		if done {
			return ref, nil
		}
	}
	var shipment []byte
	if res.Shipment != nil {
		shipment = encodeShipment(res.Shipment) // before the transaction: it is shared
	}
	var ref references.Reference
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		ref = references.Reference{}
		if err := getRef(tx, anyAccount, refID, &ref); err != nil {
			return err
		}
		if !ref.Active() {
			db.sched.remove(refID)
			return nil
		}
		due := tx.Bucket(bucketDue)
		if k := db.dueKeyOf(&ref); k != nil {
			if err := due.Delete(k); err != nil {
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
			if err := tx.Bucket(bucketShipments).Put([]byte(ref.ID), shipment); err != nil {
				return err
			}
		}
		for i := range res.Updates {
			u := res.Updates[i] // a copy: Batch may run this function again
			var encoded []byte
			if u.Shipment == res.Shipment {
				encoded = shipment // the snapshot it carries is encoded already
			}
			if err := appendUpdate(tx, &ref, &u, encoded); err != nil {
				return err
			}
		}
		if res.Unsubscribe != "" {
			return db.unsubscribe(tx, &ref, res.Unsubscribe, polled)
		}
		if err := due.Put(dueKey(next, ref.ID), nil); err != nil {
			return err
		}
		if err := putRef(tx, &ref); err != nil {
			return err
		}
		db.sched.put(ref.ID, next, false)
		return nil
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("record poll of %s: %w", refID, err)
	}
	return ref, nil
}

// recordQuietPoll records a poll that brought nothing new, in memory only, when the
// stored error state is the one res has (a first success after failures must clear
// the error on disk). It reports done=false when the poll has to be written after all.
func (db *DB) recordQuietPoll(ctx context.Context, refID string, res references.PollResult) (ref references.Reference, done bool, err error) {
	err = db.view(ctx, func(tx *bolt.Tx) error { return getRef(tx, anyAccount, refID, &ref) })
	if err != nil {
		return ref, false, err
	}
	if !ref.Active() {
		return ref, true, nil // unsubscribed while it was polled: left as it is
	}
	if ref.LastPollError != res.Error || ref.ConsecutiveFailures != res.ConsecutiveFailures || !sameTime(ref.NotFoundSince, res.NotFoundSince) {
		return ref, false, nil
	}
	polled, next := res.PolledAt.UTC(), res.NextPollAt.UTC()
	if !db.sched.move(refID, next, polled) {
		return ref, false, nil
	}
	ref.LastPolledAt, ref.NextPollAt = &polled, &next
	return ref, true, nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// dueKeyOf returns the key an active reference has in the due bucket: the one the
// schedule knows, which may be older than ref.NextPollAt after Close moved the keys of
// unchanged polls (see writeSchedule).
func (db *DB) dueKeyOf(ref *references.Reference) []byte {
	if k, ok := db.sched.durableKey(ref.ID); ok {
		return k
	}
	if ref.NextPollAt != nil {
		return dueKey(*ref.NextPollAt, ref.ID)
	}
	return nil
}

// scheduleWriteBatch is how many due keys one transaction of writeSchedule moves.
const scheduleWriteBatch = 20_000

// writeSchedule moves the due keys of the references whose unchanged polls were kept
// in memory to their real due times, in transactions of scheduleWriteBatch keys. Only
// the due bucket is written: the time in the reference's own record stays that of its
// last change, and reads show the schedule's.
func (db *DB) writeSchedule() error {
	todo := db.sched.unwritten()
	for len(todo) > 0 {
		n := min(len(todo), scheduleWriteBatch)
		chunk := todo[:n]
		todo = todo[n:]
		err := db.update(context.Background(), func(tx *bolt.Tx) error {
			due := tx.Bucket(bucketDue)
			for _, m := range chunk {
				old := join(u64(uint64(m.durable)), []byte(m.id))
				if due.Get(old) == nil {
					continue // changed meanwhile: that change wrote its own key
				}
				if err := due.Delete(old); err != nil {
					return err
				}
				if err := due.Put(join(u64(uint64(m.at)), []byte(m.id)), nil); err != nil {
					return err
				}
			}
			// Under the writer lock, so that no write of these references comes
			// between the move on disk and the schedule's record of it.
			for _, m := range chunk {
				db.sched.written(m.id, m.durable, m.at)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write the poll schedule: %w", err)
		}
	}
	return nil
}
