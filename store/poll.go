package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// ClaimDuePolls leases up to limit due references to owner, most overdue first (see
// references.PollQueue). It reads the schedule kept in memory.
func (db *DB) ClaimDuePolls(ctx context.Context, owner string, limit int, lease time.Duration) ([]references.PollClaim, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("claim due polls: %w", err)
	}
	if limit <= 0 {
		return nil, nil
	}
	db.claiming.Lock()
	defer db.claiming.Unlock()
	mark := db.leases.begin()
	defer db.leases.end()
	now := db.clock.Now()
	// Ask for more than wanted: the most overdue may be leased already.
	ids := db.sched.due(now, limit+db.leases.count())
	var claims []references.PollClaim
	for _, id := range ids {
		if len(claims) == limit {
			break
		}
		l, ok := db.leases.grant(references.PollLeaseKey(id), owner, now, now.Add(lease), mark)
		if ok {
			claims = append(claims, references.PollClaim{Lease: l, Reference: references.Reference{ID: id}})
		}
	}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		kept := claims[:0]
		for _, c := range claims {
			err := getRef(tx, anyAccount, c.Reference.ID, &c.Reference)
			if err != nil || !c.Reference.Active() {
				db.leases.ungrant(c.Lease)
				if err == nil || errors.Is(err, references.ErrNotFound) {
					continue // unsubscribed or deleted meanwhile: nothing to poll
				}
				return err
			}
			db.withSchedule(&c.Reference)
			kept = append(kept, c)
		}
		claims = kept
		return nil
	})
	if err != nil {
		for _, c := range claims {
			db.leases.ungrant(c.Lease)
		}
		return nil, fmt.Errorf("claim due polls: %w", err)
	}
	return claims, nil
}

// ClaimPoll leases one active reference's poll to owner now, due or not: for a poll on
// demand. It fails with references.ErrBusy while another lease on it is live.
func (db *DB) ClaimPoll(ctx context.Context, owner, refID string, lease time.Duration) (references.PollClaim, error) {
	mark := db.leases.begin()
	defer db.leases.end()
	var ref references.Reference
	if err := db.view(ctx, func(tx *bolt.Tx) error { return getRef(tx, anyAccount, refID, &ref) }); err != nil {
		return references.PollClaim{}, fmt.Errorf("claim poll of %s: %w", refID, err)
	}
	if !ref.Active() {
		return references.PollClaim{}, references.Errorf(references.CodeConflict, "reference %s is %s: it is not polled", refID, ref.Status)
	}
	now := db.clock.Now()
	l, ok := db.leases.grant(references.PollLeaseKey(refID), owner, now, now.Add(lease), mark)
	if !ok {
		return references.PollClaim{}, fmt.Errorf("claim poll of %s: %w", refID, references.ErrBusy)
	}
	db.withSchedule(&ref)
	return references.PollClaim{Lease: l, Reference: ref}, nil
}

// CountDue returns how many active references are due now.
func (db *DB) CountDue(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("count due references: %w", err)
	}
	return db.sched.count(db.clock.Now()), nil
}

// RenewLease extends a live lease (see references.LeaseKeeper).
func (db *DB) RenewLease(ctx context.Context, lease references.Lease, d time.Duration) (references.Lease, error) {
	if err := ctx.Err(); err != nil {
		return references.Lease{}, err
	}
	now := db.clock.Now()
	renewed, ok := db.leases.renew(lease, now, now.Add(d))
	if !ok {
		return references.Lease{}, fmt.Errorf("renew %s: %w", lease.Key, references.ErrLeaseLost)
	}
	return renewed, nil
}

// ReleaseLease gives back claimed work (see references.LeaseKeeper).
func (db *DB) ReleaseLease(ctx context.Context, lease references.Lease) error {
	db.leases.release(lease)
	return nil
}

// leaseSubject returns what a lease of the given kind is on: the reference id of a
// poll lease (prefix "poll/").
func leaseSubject(lease references.Lease, prefix string) (string, error) {
	id, ok := strings.CutPrefix(lease.Key, prefix)
	if !ok || id == "" {
		return "", fmt.Errorf("%w: %q is not a lease of this kind", references.ErrLeaseLost, lease.Key)
	}
	return id, nil
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
		err := decodeShipment(data, s)
		if errors.Is(err, errNoSnapshot) {
			s, err = nil, nil
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
// delivery to the callback and, as messages, to the account's endpoints that match
// them), the push subscription, and an unsubscribe (which queues the deletion of the
// subscription as the result leaves it). A reference that was unsubscribed or paused
// while it was being polled is left as it is, and the returned reference says so; a
// subscription the poll made meanwhile is queued for deletion (queueOrphanPush).
// Concurrent calls are committed together (see groupCommit).
//
// A poll that changed nothing (no snapshot, no update, no subscription, and the same
// error state as stored) is not written at all: only its next due time moves, in memory (see
// schedule). If the process crashes before the reference's next write, it is polled
// again.
func (db *DB) RecordPoll(ctx context.Context, lease references.Lease, res references.PollResult) (references.Reference, error) {
	refID, err := leaseSubject(lease, "poll/")
	if err != nil {
		return references.Reference{}, fmt.Errorf("record poll: %w", err)
	}
	if !db.leases.record(lease, db.clock.Now()) {
		return references.Reference{}, fmt.Errorf("record poll of %s: %w", refID, references.ErrLeaseLost)
	}
	defer db.leases.release(lease) // after the commit: see leases
	if res.Quiet() {
		ref, done, err := db.recordQuietPoll(ctx, refID, res)
		if err != nil {
			return references.Reference{}, fmt.Errorf("record poll of %s: %w", refID, err)
		}
		if done {
			return ref, nil
		}
	}
	prep := db.preparePoll(ctx, refID, &res)
	var ref references.Reference
	err = db.batch(ctx, func(tx *bolt.Tx) error {
		var err error
		ref, err = db.writePoll(tx, refID, &res, prep)
		return err
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("record poll of %s: %w", refID, err)
	}
	return ref, nil
}

// writePoll is RecordPoll's transaction: it writes res, the poll of refID, and
// returns the reference as written. prep, when not nil, is what preparePoll computed
// beforehand; the transaction uses it only if it still applies (see preparedPoll).
// It may run more than once (see groupCommit), so it leaves res as it is.
func (db *DB) writePoll(tx *bolt.Tx, refID string, res *references.PollResult, prep *preparedPoll) (references.Reference, error) {
	var ref references.Reference
	p := prep.take(tx, refID)
	if p != nil {
		ref = p.ref // a copy: its fields are set below
	} else {
		if err := getRef(tx, anyAccount, refID, &ref); err != nil {
			return ref, err
		}
	}
	if !ref.Active() {
		db.sched.remove(refID)
		return ref, queueOrphanPush(tx, &ref, res.Push, res.PolledAt)
	}
	due := tx.Bucket(bucketDue)
	if k := db.dueKeyOf(&ref); k != nil {
		if err := due.Delete(k); err != nil {
			return ref, err
		}
	}
	res.ApplyTo(&ref) // before an unsubscribe, which queues the subscription it leaves
	polled, next := *ref.LastPolledAt, *ref.NextPollAt
	var w *eventWriter
	switch {
	case p != nil: // the snapshot set current and its facts, beforehand
		w = p.w
		if err := writeFacts(tx, &ref, p.factsData, p.oldFacts, p.facts, p.factsEnc); err != nil {
			return ref, err
		}
	case res.Shipment != nil:
		w = newEventWriter(tx, ref.ID)
		if err := w.setCurrent(res.Shipment); err != nil {
			return ref, err
		}
		if err := indexSnapshot(tx, &ref, res.Shipment); err != nil {
			return ref, err
		}
	default:
		w = newEventWriter(tx, ref.ID)
	}
	var eps []references.Endpoint // read once for all the updates: one seek when there are none
	if len(res.Updates) > 0 {
		var err error
		if eps, err = db.accountEndpoints(tx, ref.AccountID); err != nil {
			return ref, err
		}
	}
	for i := range res.Updates {
		u := res.Updates[i] // a copy: Batch may run this function again
		if err := appendUpdate(tx, &ref, &u, w, eps); err != nil {
			return ref, err
		}
	}
	if err := w.flush(); err != nil {
		return ref, err
	}
	if res.EndsTracking() {
		return ref, db.unsubscribe(tx, &ref, res.Unsubscribe, polled)
	}
	if err := due.Put(dueKey(next, ref.ID), nil); err != nil {
		return ref, err
	}
	if err := putRef(tx, &ref); err != nil {
		return ref, err
	}
	db.sched.put(ref.ID, next, false)
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
	if !res.SameErrorState(&ref) {
		return ref, false, nil
	}
	polled, next := res.PolledAt.UTC(), res.NextPollAt.UTC()
	if !db.sched.move(refID, next, polled) {
		return ref, false, nil
	}
	ref.LastPolledAt, ref.NextPollAt = &polled, &next
	return ref, true, nil
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
