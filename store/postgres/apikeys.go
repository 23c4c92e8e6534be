package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// Rows of api_keys: the key (its hash, never its text) as JSON in data, beside the
// columns lookups and lists use. last_used_at is kept in its column only: the use of
// keys is written in batches by one statement (RecordAPIKeyUse), which then need not
// rewrite the JSON.

// keyColumns are the columns readKeys decodes, in its order.
const keyColumns = "data, last_used_at"

// CreateAPIKey stores a key (its hash) for an existing account, and writes its
// creation in the account's audit log as key.CreatedBy's, in one transaction.
func (db *DB) CreateAPIKey(ctx context.Context, key references.APIKey) error {
	if len(key.Scopes) == 0 {
		return references.Invalidf("scopes", "an API key needs at least one scope")
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		stored := key
		stored.LastUsedAt = nil // its column's
		data, err := json.Marshal(&stored)
		if err != nil {
			return fmt.Errorf("postgres: encode API key: %w", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO api_keys (hash, id, account_id, prefix, created_at, revoked_at, last_used_at, data)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $3)`,
			key.Hash, key.ID, key.AccountID, key.Prefix, key.CreatedAt, key.RevokedAt, key.LastUsedAt, data)
		if isUniqueViolation(err, "api_keys_pkey") {
			return references.Errorf(references.CodeConflict, "this API key is already registered")
		}
		if err != nil {
			return fmt.Errorf("postgres: insert API key: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return references.Errorf(references.CodeNotFound, "account %s not found", key.AccountID)
		}
		_, err = db.appendAudit(ctx, tx, references.AuditEntry{
			AccountID: key.AccountID, At: key.CreatedAt, Actor: key.CreatedBy,
			Action: references.AuditKeyCreated, TargetID: key.ID,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: create API key: %w", err)
	}
	return nil
}

// LookupAPIKey returns the key with the given hash, revoked or not: one primary key
// read, made by every request.
func (db *DB) LookupAPIKey(ctx context.Context, hash string) (references.APIKey, error) {
	keys, err := readKeys(ctx, db.pool, "SELECT "+keyColumns+" FROM api_keys WHERE hash = $1", hash)
	if err != nil {
		return references.APIKey{}, fmt.Errorf("postgres: look up API key: %w", err)
	}
	if len(keys) == 0 {
		return references.APIKey{}, references.Errorf(references.CodeNotFound, "API key not found")
	}
	return keys[0], nil
}

// ListAPIKeys returns the account's keys, or every key when accountID is "", in
// creation order.
func (db *DB) ListAPIKeys(ctx context.Context, accountID string) ([]references.APIKey, error) {
	keys, err := accountKeys(ctx, db.pool, accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list API keys: %w", err)
	}
	return keys, nil
}

// accountKeys reads the account's keys (every key for "") in creation order.
func accountKeys(ctx context.Context, q querier, accountID string) ([]references.APIKey, error) {
	if accountID == "" {
		return readKeys(ctx, q, "SELECT "+keyColumns+" FROM api_keys ORDER BY created_at, id")
	}
	return readKeys(ctx, q, "SELECT "+keyColumns+" FROM api_keys WHERE account_id = $1 ORDER BY created_at, id", accountID)
}

// readKeys runs a query of keyColumns and decodes its rows.
func readKeys(ctx context.Context, q querier, sql string, args ...any) ([]references.APIKey, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (references.APIKey, error) {
		var data []byte
		var used *time.Time
		var k references.APIKey
		if err := row.Scan(&data, &used); err != nil {
			return k, err
		}
		if err := json.Unmarshal(data, &k); err != nil {
			return k, fmt.Errorf("decode API key: %w", err)
		}
		if used != nil {
			u := used.UTC()
			k.LastUsedAt = &u
		}
		return k, nil
	})
}

// RevokeAPIKey revokes the key r names (an id, or the start of exactly one key's
// prefix) at r.At; it stops working at once. The account's row is locked first, so
// revocations in one account take turns across instances: each reads the account's
// keys after the previous one committed, and references.CheckRevoke decides on what
// is stored, so two revocations at once cannot both take an account's last admin
// keys. Revoking a revoked key is not an error and writes nothing.
func (db *DB) RevokeAPIKey(ctx context.Context, r references.KeyRevocation) (references.APIKey, error) {
	var key references.APIKey
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// Which key: keys never change accounts, so it may be picked before the lock.
		candidates, err := accountKeys(ctx, tx, r.AccountID)
		if err != nil {
			return err
		}
		if key, err = references.PickKey(candidates, r.Key); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", key.AccountID); err != nil {
			return fmt.Errorf("postgres: lock account %s: %w", key.AccountID, err)
		}
		siblings, err := accountKeys(ctx, tx, key.AccountID) // as committed before the lock was ours
		if err != nil {
			return err
		}
		for _, k := range siblings {
			if k.Hash == key.Hash {
				key = k
			}
		}
		if key.RevokedAt != nil {
			return nil
		}
		if err := references.CheckRevoke(key, siblings, r.At); err != nil {
			return err
		}
		at := r.At.UTC()
		key.RevokedAt = &at
		stored := key
		stored.LastUsedAt = nil
		data, err := json.Marshal(&stored)
		if err != nil {
			return fmt.Errorf("postgres: encode API key: %w", err)
		}
		if _, err := tx.Exec(ctx, "UPDATE api_keys SET revoked_at = $2, data = $3 WHERE hash = $1", key.Hash, at, data); err != nil {
			return fmt.Errorf("postgres: revoke API key %s: %w", key.ID, err)
		}
		_, err = db.appendAudit(ctx, tx, references.AuditEntry{
			AccountID: key.AccountID, At: at, Actor: r.Actor, Action: references.AuditKeyRevoked, TargetID: key.ID,
		})
		return err
	})
	if err != nil {
		return references.APIKey{}, fmt.Errorf("postgres: revoke API key: %w", err)
	}
	return key, nil
}

// RecordAPIKeyUse sets each key's last-used time, unless it holds a later one, in one
// statement whatever the number of keys. Keys that no longer exist are passed over.
func (db *DB) RecordAPIKeyUse(ctx context.Context, uses []references.APIKeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	hashes := make([]string, len(uses))
	ats := make([]time.Time, len(uses))
	for i, u := range uses {
		hashes[i], ats[i] = u.Hash, u.At.UTC()
	}
	_, err := db.pool.Exec(ctx, `UPDATE api_keys k SET last_used_at = u.at
		FROM (SELECT hash, max(at) AS at FROM unnest($1::text[], $2::timestamptz[]) AS t(hash, at) GROUP BY hash) u
		WHERE k.hash = u.hash AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`, hashes, ats)
	if err != nil {
		return fmt.Errorf("postgres: record the use of %d API keys: %w", len(uses), err)
	}
	return nil
}

// CountAPIKeys returns how many keys are not revoked (a store holds them by the
// hundred: the count reads them all).
func (db *DB) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL").Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count API keys: %w", err)
	}
	return n, nil
}
