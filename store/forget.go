package store

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// unsubscribed deletes references unsubscribed before cutoff that
// references.Reference.Forgettable lets go and that have no redelivery queued, oldest
// unsubscribe first, each with everything of its. A reference with more records than
// the prune may still delete loses its delivery log and feed first and goes whole at
// a later prune: it stays unsubscribed and readable meanwhile.
func (p *pruning) unsubscribed(cutoff time.Time) error {
	idx := p.tx.Bucket(bucketUnsubAge)
	c := idx.Cursor()
	end := timeKey(cutoff)
	for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) < 0 && p.left > 0; {
		k = bytes.Clone(k)
		var ref references.Reference
		err := getRef(p.tx, anyAccount, string(k[8:]), &ref)
		switch {
		case errors.Is(err, references.ErrNotFound) || err == nil && ref.Subscribed():
			// Not an unsubscribed reference (any more): only the index entry goes.
			if err := idx.Delete(k); err != nil {
				return err
			}
			k, _ = c.Seek(k)
			continue
		case err != nil:
			return err
		}
		if !ref.Forgettable(cutoff) || hasRedelivery(p.tx, ref.ID) {
			k, _ = c.Next() // an update of its is still to be delivered
			continue
		}
		done, err := p.forget(&ref)
		if err != nil || !done {
			return err
		}
		if err := idx.Delete(k); err != nil {
			return err
		}
		k, _ = c.Seek(k)
	}
	return nil
}

// hasRedelivery reports whether a redelivery of one of the reference's updates is queued.
func hasRedelivery(tx *bolt.Tx, refID string) bool {
	prefix := str(refID)
	k, _ := tx.Bucket(bucketRedeliver).Cursor().Seek(prefix)
	return k != nil && bytes.HasPrefix(k, prefix)
}

// forget deletes an unsubscribed reference with its delivery log, its feed, its
// snapshot, any delivery state and queued redelivery, its streams to the account's
// endpoints, its index entries (but the one of unsubscribed references, its
// caller's) and its place in the counts. done is false when the prune's bound was reached before the
// reference itself went.
func (p *pruning) forget(ref *references.Reference) (done bool, err error) {
	prefix := str(ref.ID)
	err = p.deleteChildren(bucketAttempts, prefix, &p.got.Attempts, func(k, v []byte) error {
		at, err := attemptTime(v)
		if err != nil {
			return fmt.Errorf("attempt %q: %w", k, err)
		}
		return p.tx.Bucket(bucketAttemptsAge).Delete(attemptKeyAge(at, k))
	})
	if err != nil {
		return false, err
	}
	err = p.deleteChildren(bucketUpdates, prefix, &p.got.Updates, func(k, v []byte) error {
		_, created, err := updateHead(v)
		if err != nil {
			return fmt.Errorf("update %q: %w", k, err)
		}
		return unindexUpdate(p.tx, join(timeKey(created), k))
	})
	if err != nil || p.left == 0 {
		return false, err
	}
	tx, id := p.tx, []byte(ref.ID)
	if err := clearOutbox(tx, ref.ID); err != nil {
		return false, err
	}
	// Its messages to the account's endpoints leave their streams; the messages stay
	// in the endpoints' logs until they age out (see messages).
	eps, err := p.db.accountEndpoints(p.tx, ref.AccountID)
	if err != nil {
		return false, err
	}
	for i := range eps {
		if err := dropStream(tx, eps[i].ID, ref.ID); err != nil {
			return false, err
		}
	}
	kind, value := ref.Identifier()
	ik := identKey(ref.AccountID, string(kind), value, ref.CarrierCode)
	if bytes.Equal(tx.Bucket(bucketRefsByIdent).Get(ik), id) {
		// Only an active reference is in this index; the key may name a newer one.
		if err := tx.Bucket(bucketRefsByIdent).Delete(ik); err != nil {
			return false, err
		}
	}
	if err := unindexSearch(tx, ref); err != nil {
		return false, err
	}
	for _, d := range []struct {
		bucket, key []byte
	}{
		{bucketShipments, id},
		{bucketRefsByAcct, acctRefKey(ref.AccountID, ref.CreatedAt, ref.ID)},
		{bucketRefs, id},
	} {
		if err := tx.Bucket(d.bucket).Delete(d.key); err != nil {
			return false, err
		}
	}
	if err := addCount(tx, countUnsubscribed, -1); err != nil {
		return false, err
	}
	if err := addStatus(tx, ref.AccountID, ref.Status, -1); err != nil {
		return false, err
	}
	p.took(&p.got.References, 1)
	return true, nil
}

// deleteChildren deletes the records of bucket under prefix while the prune may
// delete more, counting each in kind, after unindex has removed its index entries.
func (p *pruning) deleteChildren(bucket, prefix []byte, kind *int64, unindex func(k, v []byte) error) error {
	c := p.tx.Bucket(bucket).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && p.left > 0; k, v = c.Seek(prefix) {
		if err := unindex(k, v); err != nil {
			return err
		}
		if err := c.Delete(); err != nil {
			return err
		}
		p.took(kind, 1)
	}
	return nil
}
