package store

// The accounts' operational feeds as the API reads them (GET /account/events). Events
// are appended where they happen (appendAccountEvent, endpoint_records.go).

import (
	"bytes"
	"context"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// ListAccountEvents returns up to limit operational events of the account with a
// sequence above after, in sequence order (limit 0: references.DefaultPageSize).
func (db *DB) ListAccountEvents(ctx context.Context, accountID string, after uint64, limit int) ([]references.AccountEvent, error) {
	limit = references.PageSize(limit)
	out := []references.AccountEvent{}
	if after == math.MaxUint64 {
		return out, nil // nothing can follow (and after+1 would wrap)
	}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		prefix := str(accountID)
		c := tx.Bucket(bucketAccountEvents).Cursor()
		for k, v := c.Seek(join(prefix, u64(after+1))); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			var r accountEventRecord
			if err := unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode account event %q: %w", k, err)
			}
			out = append(out, r.event())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list account events of %s: %w", accountID, err)
	}
	return out, nil
}
