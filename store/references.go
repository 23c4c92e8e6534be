package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

func notFound(id string) error {
	return references.Errorf(references.CodeNotFound, "reference %s not found", id)
}

// CreateReference stores a new active reference with its indexes and due time. See
// references.ReferenceStore for the idempotency, conflict and quota rules. Concurrent
// calls are committed together (see groupCommit).
func (db *DB) CreateReference(ctx context.Context, ref references.Reference, opts references.CreateOptions) (references.Reference, bool, error) {
	idem := opts.Idempotency
	var out references.Reference
	replayed := false
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		out, replayed = references.Reference{}, false
		if idem != nil {
			rec, found, err := getIdempotency(tx, ref.AccountID, idem.Key, db.clock.Now())
			if err != nil {
				return err
			}
			if found {
				if rec.Batch != nil || !idem.Matches(rec.RequestHash) { // a batch's key never replays one create
					return references.Errorf(references.CodeIdempotencyMismatch, "Idempotency-Key %q was already used with a different request", idem.Key)
				}
				err := getRef(tx, ref.AccountID, rec.ReferenceID, &out)
				if !errors.Is(err, references.ErrNotFound) {
					replayed = err == nil
					return err
				}
				// Retention deleted the reference the key made: the key is free again.
				out = references.Reference{}
			}
		}
		if err := db.insertRef(tx, &ref, opts.MaxActive); err != nil {
			return err
		}
		if idem != nil {
			rec := idempotencyRecord{ReferenceID: ref.ID, RequestHash: idem.RequestHash, ExpiresAt: idem.ExpiresAt}
			if err := putIdempotency(tx, ref.AccountID, idem, &rec); err != nil {
				return err
			}
		}
		out = ref
		return nil
	})
	if err != nil {
		return references.Reference{}, false, fmt.Errorf("create reference: %w", err)
	}
	if replayed {
		db.withSchedule(&out)
	}
	return out, replayed, nil
}

// insertRef stores a new active reference with its indexes, due time and counts,
// unless the account tracks its identifier already (a conflict naming that
// reference) or is at maxActive (above 0) active references.
func (db *DB) insertRef(tx *bolt.Tx, ref *references.Reference, maxActive int) error {
	kind, value := ref.Identifier()
	ik := identKey(ref.AccountID, string(kind), value, ref.CarrierCode)
	idx := tx.Bucket(bucketRefsByIdent)
	if existing := idx.Get(ik); existing != nil {
		return &references.Error{
			Code:        references.CodeConflict,
			Message:     fmt.Sprintf("%s %s with carrier %s is already tracked by %s", kind, value, ref.CarrierCode, existing),
			ReferenceID: string(existing),
		}
	}
	if err := checkQuota(tx, ref.AccountID, maxActive); err != nil {
		return err
	}
	if err := idx.Put(ik, []byte(ref.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketRefsByAcct).Put(acctRefKey(ref.AccountID, ref.CreatedAt, ref.ID), nil); err != nil {
		return err
	}
	if ref.NextPollAt != nil {
		if err := tx.Bucket(bucketDue).Put(dueKey(*ref.NextPollAt, ref.ID), nil); err != nil {
			return err
		}
	}
	if err := putRef(tx, ref); err != nil {
		return err
	}
	if err := addCount(tx, countActive, 1); err != nil {
		return err
	}
	if err := addActive(tx, ref.AccountID, 1); err != nil {
		return err
	}
	if err := addStatus(tx, ref.AccountID, ref.Status, 1); err != nil {
		return err
	}
	if ref.NextPollAt != nil {
		// Not handed to the poller before the reference can be read.
		db.sched.put(ref.ID, *ref.NextPollAt, true)
		id := ref.ID
		tx.OnCommit(func() { db.sched.confirm(id) })
	}
	return nil
}

// putIdempotency remembers rec under the account's key until the key expires.
func putIdempotency(tx *bolt.Tx, accountID string, idem *references.IdempotencyKey, rec *idempotencyRecord) error {
	key := join(str(accountID), []byte(idem.Key))
	if err := putJSON(tx.Bucket(bucketIdempotency), key, rec); err != nil {
		return err
	}
	return tx.Bucket(bucketIdemExpiry).Put(idemKeyAge(idem.ExpiresAt, key), nil)
}

func getIdempotency(tx *bolt.Tx, accountID, key string, now time.Time) (idempotencyRecord, bool, error) {
	var rec idempotencyRecord
	found, err := getJSON(tx.Bucket(bucketIdempotency), join(str(accountID), []byte(key)), &rec)
	if err != nil || !found || now.After(rec.ExpiresAt) {
		return rec, false, err
	}
	return rec, true, nil
}

// anyAccount makes getRef skip the account check, for the poller and the notifier.
// Account ids never contain NUL, so no caller can pass it by accident.
const anyAccount = "\x00"

// getRef loads a reference of the account (or of anyAccount).
func getRef(tx *bolt.Tx, accountID, id string, ref *references.Reference) error {
	return getRefIn(tx.Bucket(bucketRefs), accountID, id, ref)
}

// getRefIn is getRef given the refs bucket, for a caller that reads many.
func getRefIn(refs *bolt.Bucket, accountID, id string, ref *references.Reference) error {
	data := refs.Get([]byte(id))
	if data == nil {
		return notFound(id)
	}
	*ref = references.Reference{}
	if err := decodeReference(data, ref); err != nil {
		return fmt.Errorf("decode reference %s: %w", id, err)
	}
	if accountID != anyAccount && ref.AccountID != accountID {
		return notFound(id)
	}
	return nil
}

func putRef(tx *bolt.Tx, ref *references.Reference) error {
	return tx.Bucket(bucketRefs).Put([]byte(ref.ID), encodeReference(ref))
}

// GetReference returns a reference of the account; another account's is not found.
func (db *DB) GetReference(ctx context.Context, accountID, id string) (references.Reference, error) {
	var ref references.Reference
	err := db.view(ctx, func(tx *bolt.Tx) error { return getRef(tx, accountID, id, &ref) })
	if err == nil {
		db.withSchedule(&ref)
	}
	return ref, err
}

// withSchedule sets the polling times of an active reference from the schedule, which
// knows of the unchanged polls that are not on disk.
func (db *DB) withSchedule(ref *references.Reference) {
	if !ref.Active() {
		return
	}
	at, polled, ok := db.sched.lookup(ref.ID)
	if !ok {
		return
	}
	ref.NextPollAt = &at
	if !polled.IsZero() && (ref.LastPolledAt == nil || polled.After(*ref.LastPolledAt)) {
		ref.LastPolledAt = &polled
	}
}

// Reference returns a reference whatever its account, for the poller and notifier.
func (db *DB) Reference(ctx context.Context, id string) (references.Reference, error) {
	return db.GetReference(ctx, anyAccount, id)
}

// UnsubscribeReference stops tracking: in one transaction the feed gets its final
// reference.unsubscribed update (queued for delivery like any other) and the
// reference leaves the due and identifier indexes (so the identifier can be tracked
// again). Unsubscribing an unsubscribed reference returns it unchanged.
func (db *DB) UnsubscribeReference(ctx context.Context, accountID, id string, reason references.UnsubscribeReason, at time.Time) (references.Reference, error) {
	var ref references.Reference
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := getRef(tx, accountID, id, &ref); err != nil {
			return err
		}
		if !ref.Subscribed() {
			return nil
		}
		return db.endTracking(tx, &ref, reason, at)
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("unsubscribe %s: %w", id, err)
	}
	return ref, nil
}

// endTracking appends the final reference.unsubscribed update with reason to the feed
// and unsubscribes ref, for the ends of tracking that do not come from a poll (which
// brings its own final update): a user's DELETE, and a callback gone or failing. After
// the latter two the update is not delivered to the callback, but pull consumers read
// it in the feed, and the account's endpoints that match it get it.
func (db *DB) endTracking(tx *bolt.Tx, ref *references.Reference, reason references.UnsubscribeReason, at time.Time) error {
	eps, err := db.accountEndpoints(tx, ref.AccountID)
	if err != nil {
		return err
	}
	final := references.UnsubscribedUpdate(reason, at)
	if err := appendUpdate(tx, ref, &final, nil, eps); err != nil {
		return err
	}
	return db.unsubscribe(tx, ref, reason, at)
}

// unsubscribe marks ref unsubscribed and removes it from the due and identifier
// indexes, and queues the deletion of its push subscription, if it has one. The receiver's unsubscribe (gone, failing) also stops delivery of what is
// pending; any other (the user's, tracking complete, not found, max age) lets the feed
// drain, so the receiver gets the final reference.unsubscribed update the caller
// appended.
func (db *DB) unsubscribe(tx *bolt.Tx, ref *references.Reference, reason references.UnsubscribeReason, at time.Time) error {
	if err := moveStatus(tx, ref.AccountID, ref.Status, references.StatusUnsubscribed); err != nil {
		return err
	}
	if k := db.dueKeyOf(ref); k != nil {
		if err := tx.Bucket(bucketDue).Delete(k); err != nil {
			return err
		}
	}
	kind, value := ref.Identifier()
	if err := tx.Bucket(bucketRefsByIdent).Delete(identKey(ref.AccountID, string(kind), value, ref.CarrierCode)); err != nil {
		return err
	}
	if err := addCount(tx, countActive, -1); err != nil {
		return err
	}
	if err := addCount(tx, countUnsubscribed, 1); err != nil {
		return err
	}
	if err := noteUnsubscribed(tx, ref, at); err != nil {
		return err
	}
	if ref.Paused() {
		// Its streams waited out of the outbox: the final update goes after them.
		if _, err := references.Resume(ref, at); err != nil {
			return err
		}
		if err := db.unparkStreams(tx, ref, at); err != nil {
			return err
		}
	}
	if err := indexUnsubscribed(tx, ref); err != nil {
		return err
	}
	// Its subscription at the carrier goes with it, whichever way tracking ended.
	if err := queueHeldPush(tx, ref, at); err != nil {
		return err
	}
	ref.Status = references.StatusUnsubscribed
	ref.UnsubscribeReason = reason
	ref.UnsubscribedAt = &at
	ref.NextPollAt = nil
	ref.UpdatedAt = at
	if references.StopsDelivery(reason) {
		if err := clearOutbox(tx, ref.ID); err != nil {
			return err
		}
	}
	if err := putRef(tx, ref); err != nil {
		return err
	}
	db.sched.remove(ref.ID)
	return nil
}

// PatchReference changes the callback URL and event filter of an active reference.
// Updates not yet delivered go to the new URL; removing the URL stops delivery.
func (db *DB) PatchReference(ctx context.Context, accountID, id string, p references.Patch, at time.Time) (references.Reference, error) {
	var ref references.Reference
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := getRef(tx, accountID, id, &ref); err != nil {
			return err
		}
		change, err := ref.ApplyPatch(p, at)
		if err != nil {
			return err
		}
		switch change {
		case references.CallbackRemoved:
			if err := clearOutbox(tx, ref.ID); err != nil {
				return err
			}
		case references.CallbackMoved:
			if err := restartDelivery(tx, &ref, at); err != nil {
				return err
			}
		}
		return putRef(tx, &ref)
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("patch %s: %w", id, err)
	}
	db.withSchedule(&ref)
	return ref, nil
}
