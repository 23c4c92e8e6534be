package store

// The delivery log: every attempt, newest first per reference, with cursor pages.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

func appendAttempt(tx *bolt.Tx, a *references.DeliveryAttempt) error {
	b := tx.Bucket(bucketAttempts)
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	key := join(str(a.ReferenceID), u64(n))
	if err := tx.Bucket(bucketAttemptsAge).Put(attemptKeyAge(a.At, key), nil); err != nil {
		return err
	}
	return b.Put(key, encodeAttempt(a))
}

// ListDeliveries returns a page of the reference's delivery log, newest first.
func (db *DB) ListDeliveries(ctx context.Context, accountID, refID string, q references.DeliveryQuery) (references.DeliveryPage, error) {
	page := references.DeliveryPage{Deliveries: []references.DeliveryAttempt{}}
	prefix := str(refID)
	var lastN uint64
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var ref references.Reference
		if err := getRef(tx, accountID, refID, &ref); err != nil {
			return err
		}
		// Attempt keys grow with time: walk backwards from below the cursor (the key
		// number of the last attempt already returned) or from the newest.
		below := ^uint64(0)
		if q.Cursor != "" {
			n, err := decodeCursor(q.Cursor)
			if err != nil {
				return err
			}
			below = n
		}
		c := tx.Bucket(bucketAttempts).Cursor()
		k, v := c.Seek(join(prefix, u64(below)))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if len(page.Deliveries) == q.Limit {
				page.NextCursor = encodeCursor(lastN)
				return nil
			}
			var a references.DeliveryAttempt
			if err := decodeAttempt(v, &a); err != nil {
				return fmt.Errorf("attempt %q: %w", k, err)
			}
			page.Deliveries = append(page.Deliveries, a)
			lastN = binary.BigEndian.Uint64(k[len(prefix):])
		}
		return nil
	})
	if err != nil {
		return references.DeliveryPage{}, fmt.Errorf("list deliveries of %s: %w", refID, err)
	}
	return page, nil
}

func encodeCursor(n uint64) string { return base64.RawURLEncoding.EncodeToString(u64(n)) }

func decodeCursor(s string) (uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, references.Invalidf("cursor", "is not a cursor this server returned")
	}
	return binary.BigEndian.Uint64(b), nil
}
