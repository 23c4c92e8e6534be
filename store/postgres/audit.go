package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// Each account's audit log: its entries in audit under (account, sequence), and the
// last sequence given out in the account's audit_counters row. The sequence stays
// gapless across instances because the counter row is incremented in the transaction
// that writes the entry: a second writer waits on the row's lock until the first
// commits (and reads its number then) or rolls back (and its number is given again).

// AppendAudit appends e to its account's audit log with the next sequence.
func (db *DB) AppendAudit(ctx context.Context, e references.AuditEntry) (references.AuditEntry, error) {
	var stored references.AuditEntry
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		stored, err = db.appendAudit(ctx, tx, e)
		return err
	})
	if err != nil {
		return references.AuditEntry{}, err
	}
	return stored, nil
}

// appendAudit gives e the next sequence of its account and stores it, in tx: the
// operations that are audited call it in their own transactions, so that the entry is
// written if and only if what it records is. The counter row is locked until tx ends;
// it comes last in the lock order (after refs, account_counters, delivery_streams,
// endpoints and messages), so callers append once their other rows are locked.
func (db *DB) appendAudit(ctx context.Context, tx pgx.Tx, e references.AuditEntry) (references.AuditEntry, error) {
	var seq int64
	err := tx.QueryRow(ctx, `INSERT INTO audit_counters (account_id, seq) VALUES ($1, 1)
		ON CONFLICT (account_id) DO UPDATE SET seq = audit_counters.seq + 1 RETURNING seq`, e.AccountID).Scan(&seq)
	if err != nil {
		return references.AuditEntry{}, fmt.Errorf("postgres: number an audit entry of %s: %w", e.AccountID, err)
	}
	e.Sequence = uint64(seq)
	e.At = e.At.UTC()
	data, err := json.Marshal(&e)
	if err != nil {
		return references.AuditEntry{}, fmt.Errorf("postgres: encode audit entry: %w", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO audit (account_id, seq, at, data) VALUES ($1, $2, $3, $4)",
		e.AccountID, seq, e.At, data); err != nil {
		return references.AuditEntry{}, fmt.Errorf("postgres: append %s to the audit log of %s: %w", e.Action, e.AccountID, err)
	}
	return e, nil
}

// ListAudit returns up to limit entries of the account's audit log with a sequence
// above after, in sequence order (the primary key's).
func (db *DB) ListAudit(ctx context.Context, accountID string, after uint64, limit int) ([]references.AuditEntry, error) {
	if after >= math.MaxInt64 || limit <= 0 {
		return nil, nil // no sequence comes after: they are bigints
	}
	rows, err := db.pool.Query(ctx, `SELECT data FROM audit WHERE account_id = $1 AND seq > $2
		ORDER BY seq LIMIT $3`, accountID, int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list the audit log of %s: %w", accountID, err)
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (references.AuditEntry, error) {
		var data []byte
		var e references.AuditEntry
		if err := row.Scan(&data); err != nil {
			return e, err
		}
		return e, json.Unmarshal(data, &e)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list the audit log of %s: %w", accountID, err)
	}
	return entries, nil
}
