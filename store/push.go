package store

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// Carrier push (see references.PushStore). A reference's subscription is part of its
// record (Reference.Push, in the codec); what is here is the queue of subscriptions to
// delete at carriers, which the transaction that unsubscribes a reference holding one
// fills (see unsubscribe), and the claims on it.
//
// A deletion is keyed by a hash of its source and subscription id, so that a key has a
// fixed size whatever a carrier's ids look like (bbolt bounds keys; ids come from
// outside), and one subscription is queued at most once. The due index orders them by
// when they are next due, which is what a claim reads, from its start and only as far
// as now. Added without a schema change: a binary that predates push ignores both
// buckets (and refuses to read a reference holding a subscription, see the codec).
var (
	bucketPushDeletions = []byte("push_deletions")     // deletionKey -> pushDeletionRecord (JSON)
	bucketPushDue       = []byte("push_deletions_due") // due_at(8) deletionKey -> nil
)

// pushDeletionLease prefixes the lease key of a queued deletion, followed by its key in
// hexadecimal.
const pushDeletionLease = "push-delete/"

// pushDeletionRecord is a queued deletion with when it is next due.
type pushDeletionRecord struct {
	Source         string    `json:"source"`
	SubscriptionID string    `json:"subscription_id"`
	ReferenceID    string    `json:"reference_id"`
	AccountID      string    `json:"account_id"`
	QueuedAt       time.Time `json:"queued_at"`
	Attempts       int       `json:"attempts,omitempty"`
	LastError      string    `json:"last_error,omitempty"`
	DueAt          time.Time `json:"due_at"`
}

func newPushDeletionRecord(d *references.PushDeletion, due time.Time) *pushDeletionRecord {
	return &pushDeletionRecord{
		Source: d.Source, SubscriptionID: d.SubscriptionID, ReferenceID: d.ReferenceID, AccountID: d.AccountID,
		QueuedAt: d.QueuedAt, Attempts: d.Attempts, LastError: d.LastError, DueAt: due,
	}
}

func (r *pushDeletionRecord) deletion() references.PushDeletion {
	return references.PushDeletion{
		Source: r.Source, SubscriptionID: r.SubscriptionID, ReferenceID: r.ReferenceID, AccountID: r.AccountID,
		QueuedAt: r.QueuedAt, Attempts: r.Attempts, LastError: r.LastError,
	}
}

// deletionKey is the key of a subscription's deletion: SHA-256 of its source and id,
// each preceded by its length so that no two pairs meet.
func deletionKey(source, subscriptionID string) []byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, s := range []string{source, subscriptionID} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	return h.Sum(nil)
}

// deletionLeaseKey is the lease key of the deletion stored at key.
func deletionLeaseKey(key []byte) string { return pushDeletionLease + hex.EncodeToString(key) }

// leasedDeletion returns the key of the deletion a lease is on; ErrLeaseLost for a
// lease of other work.
func leasedDeletion(lease references.Lease) ([]byte, error) {
	h, ok := strings.CutPrefix(lease.Key, pushDeletionLease)
	key, err := hex.DecodeString(h)
	if !ok || err != nil || len(key) != sha256.Size {
		return nil, fmt.Errorf("%w: %q is not a lease of a push deletion", references.ErrLeaseLost, lease.Key)
	}
	return key, nil
}

// queuePushDeletion queues the deletion of ref's subscription sub, due at once. A
// subscription queued already stays as it is (with its attempts).
func queuePushDeletion(tx *bolt.Tx, ref *references.Reference, sub *references.PushSubscription, at time.Time) error {
	key := deletionKey(sub.Source, sub.ID)
	b := tx.Bucket(bucketPushDeletions)
	if b.Get(key) != nil {
		return nil
	}
	at = at.UTC()
	d := references.PushDeletion{Source: sub.Source, SubscriptionID: sub.ID, ReferenceID: ref.ID, AccountID: ref.AccountID, QueuedAt: at}
	if err := putJSON(b, key, newPushDeletionRecord(&d, at)); err != nil {
		return err
	}
	return tx.Bucket(bucketPushDue).Put(join(timeKey(at), key), nil)
}

// queueHeldPush queues the deletion of the subscription ref holds, if any: ref is
// being unsubscribed.
func queueHeldPush(tx *bolt.Tx, ref *references.Reference, at time.Time) error {
	if ref.Push == nil || ref.Push.ID == "" {
		return nil
	}
	return queuePushDeletion(tx, ref, ref.Push, at)
}

// queueOrphanPush handles the subscription a poll result brings for a reference that
// was unsubscribed or paused while it was polled, whose result is not recorded: one the
// reference does not hold was made at the carrier meanwhile and nothing would name it
// any more, so it is queued for deletion.
func queueOrphanPush(tx *bolt.Tx, ref *references.Reference, sub *references.PushSubscription, at time.Time) error {
	if sub == nil || sub.ID == "" {
		return nil
	}
	if ref.Push != nil && ref.Push.Source == sub.Source && ref.Push.ID == sub.ID {
		return nil // the reference's own: queued by its unsubscribe, or kept while paused
	}
	return queuePushDeletion(tx, ref, sub, at)
}

// ReferenceByID returns a reference of any account, or references.ErrNotFound (see
// references.PushStore).
func (db *DB) ReferenceByID(ctx context.Context, id string) (references.Reference, error) {
	return db.GetReference(ctx, anyAccount, id)
}

// ClaimPushDeletions leases up to limit due deletions to owner, the longest due first.
// It reads the due index from its start up to now, passing over the deletions leased
// already.
func (db *DB) ClaimPushDeletions(ctx context.Context, owner string, limit int, lease time.Duration) ([]references.PushDeletionClaim, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("claim push deletions: %w", err)
	}
	if limit <= 0 {
		return nil, nil
	}
	mark := db.leases.begin()
	defer db.leases.end()
	now := db.clock.Now()
	end := timeKey(now)
	var claims []references.PushDeletionClaim
	err := db.view(ctx, func(tx *bolt.Tx) error {
		records := tx.Bucket(bucketPushDeletions)
		c := tx.Bucket(bucketPushDue).Cursor()
		for k, _ := c.First(); k != nil && len(claims) < limit; k, _ = c.Next() {
			if len(k) != 8+sha256.Size {
				return fmt.Errorf("push deletion due key %x is not of this schema", k)
			}
			if bytes.Compare(k[:8], end) > 0 {
				break
			}
			key := k[8:]
			l, ok := db.leases.grant(deletionLeaseKey(key), owner, now, now.Add(lease), mark)
			if !ok {
				continue
			}
			var rec pushDeletionRecord
			found, err := getJSON(records, key, &rec)
			if err != nil || !found {
				// Both are written in one transaction: this is damage, which must not
				// stop the deletions behind it.
				db.leases.ungrant(l)
				db.log.Warn("claim push deletions: passed over a due entry without its deletion", "key", hex.EncodeToString(key), "err", err)
				continue
			}
			claims = append(claims, references.PushDeletionClaim{Lease: l, Deletion: rec.deletion()})
		}
		return nil
	})
	if err != nil {
		for _, c := range claims {
			db.leases.ungrant(c.Lease)
		}
		return nil, fmt.Errorf("claim push deletions: %w", err)
	}
	return claims, nil
}

// FinishPushDeletion removes a claimed deletion (see references.PushStore).
func (db *DB) FinishPushDeletion(ctx context.Context, lease references.Lease) error {
	return db.recordDeletion(ctx, lease, "finish", func(tx *bolt.Tx, key []byte, rec *pushDeletionRecord) error {
		if err := tx.Bucket(bucketPushDue).Delete(join(timeKey(rec.DueAt), key)); err != nil {
			return err
		}
		return tx.Bucket(bucketPushDeletions).Delete(key)
	})
}

// RetryPushDeletion records a failed deletion and makes it due at until (see
// references.PushStore).
func (db *DB) RetryPushDeletion(ctx context.Context, lease references.Lease, until time.Time, lastError string) error {
	return db.recordDeletion(ctx, lease, "retry", func(tx *bolt.Tx, key []byte, rec *pushDeletionRecord) error {
		due := tx.Bucket(bucketPushDue)
		if err := due.Delete(join(timeKey(rec.DueAt), key)); err != nil {
			return err
		}
		rec.Attempts++
		rec.LastError = lastError
		rec.DueAt = until.UTC()
		if err := putJSON(tx.Bucket(bucketPushDeletions), key, rec); err != nil {
			return err
		}
		return due.Put(join(timeKey(rec.DueAt), key), nil)
	})
}

// recordDeletion runs change on the deletion a live lease is on, in one transaction,
// then ends the lease. A lease that is not live, or not on a deletion, is refused with
// ErrLeaseLost and nothing changes.
func (db *DB) recordDeletion(ctx context.Context, lease references.Lease, what string, change func(*bolt.Tx, []byte, *pushDeletionRecord) error) error {
	key, err := leasedDeletion(lease)
	if err != nil {
		return fmt.Errorf("%s push deletion: %w", what, err)
	}
	if !db.leases.record(lease, db.clock.Now()) {
		return fmt.Errorf("%s push deletion %s: %w", what, lease.Key, references.ErrLeaseLost)
	}
	defer db.leases.release(lease) // after the commit: see leases
	err = db.update(ctx, func(tx *bolt.Tx) error {
		var rec pushDeletionRecord
		found, err := getJSON(tx.Bucket(bucketPushDeletions), key, &rec)
		if err != nil || !found {
			return err // gone: a held lease on it cannot be, but then there is nothing to do
		}
		return change(tx, key, &rec)
	})
	if err != nil {
		return fmt.Errorf("%s push deletion %s: %w", what, lease.Key, err)
	}
	return nil
}

// ListPushDeletions returns the queued deletions, the first queued first, at most
// limit. It reads the whole queue, which is short: a deletion stays in it only while
// its carrier fails to answer.
func (db *DB) ListPushDeletions(ctx context.Context, limit int) ([]references.PushDeletion, error) {
	if limit <= 0 {
		return nil, nil
	}
	type entry struct {
		key []byte
		d   references.PushDeletion
	}
	var all []entry
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPushDeletions).ForEach(func(k, v []byte) error {
			var rec pushDeletionRecord
			if err := unmarshal(v, &rec); err != nil {
				return fmt.Errorf("push deletion %x: %w", k, err)
			}
			all = append(all, entry{bytes.Clone(k), rec.deletion()})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list push deletions: %w", err)
	}
	slices.SortFunc(all, func(a, b entry) int {
		return cmp.Or(a.d.QueuedAt.Compare(b.d.QueuedAt), bytes.Compare(a.key, b.key))
	})
	out := make([]references.PushDeletion, 0, min(limit, len(all)))
	for _, e := range all[:min(limit, len(all))] {
		out = append(out, e.d)
	}
	return out, nil
}
