package store

import (
	"bytes"
	"context"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// Each account's audit log: its entries in sequence order under the account's id, and
// the last sequence given out. Created by Open on stores of any schema (a store
// without them simply has empty logs).
var (
	bucketAudit    = []byte("audit")          // account \0 seq(8) -> auditRecord
	bucketAuditSeq = []byte("audit_sequence") // account -> last seq(8)
)

// AppendAudit appends e to its account's audit log with the next sequence.
func (db *DB) AppendAudit(ctx context.Context, e references.AuditEntry) (references.AuditEntry, error) {
	err := db.update(ctx, func(tx *bolt.Tx) error { return appendAudit(tx, &e) })
	if err != nil {
		return references.AuditEntry{}, fmt.Errorf("append %s to the audit log of %s: %w", e.Action, e.AccountID, err)
	}
	return e, nil
}

// appendAudit gives e the next sequence of its account and stores it, in tx.
func appendAudit(tx *bolt.Tx, e *references.AuditEntry) error {
	seqs := tx.Bucket(bucketAuditSeq)
	var seq uint64
	if v := seqs.Get([]byte(e.AccountID)); len(v) == 8 {
		seq = bytesU64(v)
	}
	seq++
	if err := seqs.Put([]byte(e.AccountID), u64(seq)); err != nil {
		return err
	}
	e.Sequence = seq
	e.At = e.At.UTC()
	return putJSON(tx.Bucket(bucketAudit), join(str(e.AccountID), u64(seq)), newAuditRecord(e))
}

// ListAudit returns up to limit entries of the account's audit log with a sequence
// above after, in sequence order.
func (db *DB) ListAudit(ctx context.Context, accountID string, after uint64, limit int) ([]references.AuditEntry, error) {
	var out []references.AuditEntry
	if after == math.MaxUint64 {
		return out, nil // nothing comes after the last sequence
	}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		prefix := str(accountID)
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Seek(join(prefix, u64(after+1))); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			var rec auditRecord
			if err := unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode audit entry %q: %w", k, err)
			}
			out = append(out, rec.entry(accountID))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the audit log of %s: %w", accountID, err)
	}
	return out, nil
}
