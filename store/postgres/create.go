package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// Creates take the account's counters row first (lockCounters): the creates of one
// account take turns, so the identifier conflict, the quota and an idempotency key are
// each checked against what the previous create committed, on any instance.

// idempotencyRecord is what an Idempotency-Key remembers: the reference a create made,
// or every item's outcome of a batch create.
type idempotencyRecord struct {
	ReferenceID string         `json:"reference_id,omitempty"`
	RequestHash string         `json:"request_hash"`
	Batch       []batchOutcome `json:"batch,omitempty"`
}

// batchOutcome is one item's outcome of a batch create: the reference it created, or
// the error it was refused with.
type batchOutcome struct {
	ReferenceID string `json:"reference_id,omitempty"`
	Code        string `json:"code,omitempty"`
	Field       string `json:"field,omitempty"`
	Message     string `json:"message,omitempty"`
	ConflictID  string `json:"conflict_id,omitempty"`
}

// CreateReference stores a new active reference, or replays the one an earlier create
// under the same Idempotency-Key made (see references.ReferenceStore).
func (db *DB) CreateReference(ctx context.Context, ref references.Reference, opts references.CreateOptions) (references.Reference, bool, error) {
	idem := opts.Idempotency
	var out references.Reference
	var replayed bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		out, replayed = references.Reference{}, false
		active, err := lockCounters(ctx, tx, ref.AccountID)
		if err != nil {
			return err
		}
		if idem != nil {
			rec, found, err := db.getIdempotency(ctx, tx, ref.AccountID, idem.Key)
			if err != nil {
				return err
			}
			if found {
				if rec.Batch != nil || rec.ReferenceID == "" || !idem.Matches(rec.RequestHash) {
					return idempotencyMismatch(idem)
				}
				out, err = getAccountReference(ctx, tx, ref.AccountID, rec.ReferenceID, false)
				if !errors.Is(err, references.ErrNotFound) {
					replayed = err == nil
					return err
				}
				// Retention deleted the reference the key made: the key is free again.
			}
		}
		created := ref
		if err := insertNew(ctx, tx, &created, opts.MaxActive, &active); err != nil {
			return err
		}
		if err := addActive(ctx, tx, ref.AccountID, 1); err != nil {
			return err
		}
		if idem != nil {
			rec := idempotencyRecord{ReferenceID: created.ID, RequestHash: idem.RequestHash}
			if err := putIdempotency(ctx, tx, ref.AccountID, idem, &rec); err != nil {
				return err
			}
		}
		out = created
		return nil
	})
	if err != nil {
		return references.Reference{}, false, fmt.Errorf("postgres: create reference: %w", err)
	}
	return out, replayed, nil
}

// CreateReferences stores a batch of references in one transaction, each item as
// CreateReference would (see references.ReferenceStore).
func (db *DB) CreateReferences(ctx context.Context, accountID string, items []references.BatchItem, opts references.CreateOptions) ([]references.CreateResult, bool, error) {
	idem := opts.Idempotency
	var results []references.CreateResult
	var replayed bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		results, replayed = nil, false
		active, err := lockCounters(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if idem != nil {
			rec, found, err := db.getIdempotency(ctx, tx, accountID, idem.Key)
			if err != nil {
				return err
			}
			if found {
				if rec.Batch == nil || !idem.Matches(rec.RequestHash) {
					return idempotencyMismatch(idem)
				}
				results, err = replayBatch(ctx, tx, accountID, rec.Batch)
				if !errors.Is(err, references.ErrNotFound) {
					replayed = err == nil
					return err
				}
				// Retention deleted a reference the key made: the key is free again.
			}
		}
		results = make([]references.CreateResult, len(items))
		outcomes := make([]batchOutcome, len(items))
		before := active
		for i, item := range items {
			if item.Err == nil {
				ref := item.Reference
				ref.AccountID = accountID // a batch creates in the caller's account only
				err := insertNew(ctx, tx, &ref, opts.MaxActive, &active)
				var refused *references.Error
				switch {
				case err == nil:
					results[i].Reference = ref
					outcomes[i].ReferenceID = ref.ID
					continue
				case errors.As(err, &refused):
					item.Err = refused
				default:
					return fmt.Errorf("item %d: %w", i, err)
				}
			}
			results[i].Err = item.Err
			outcomes[i] = batchOutcome{Code: item.Err.Code, Field: item.Err.Field, Message: item.Err.Message, ConflictID: item.Err.ReferenceID}
		}
		if err := addActive(ctx, tx, accountID, active-before); err != nil {
			return err
		}
		if idem == nil {
			return nil
		}
		return putIdempotency(ctx, tx, accountID, idem, &idempotencyRecord{RequestHash: idem.RequestHash, Batch: outcomes})
	})
	if err != nil {
		return nil, false, fmt.Errorf("postgres: create %d references: %w", len(items), err)
	}
	return results, replayed, nil
}

// replayBatch reads the results of a batch created earlier: its references as they are
// now, and its refusals as they were. ErrNotFound when one of its references is gone.
func replayBatch(ctx context.Context, tx pgx.Tx, accountID string, outcomes []batchOutcome) ([]references.CreateResult, error) {
	var ids []string
	for _, o := range outcomes {
		if o.ReferenceID != "" {
			ids = append(ids, o.ReferenceID)
		}
	}
	refs, err := readReferences(ctx, tx, accountID, ids)
	if err != nil {
		return nil, err
	}
	results := make([]references.CreateResult, len(outcomes))
	for i, o := range outcomes {
		if o.ReferenceID == "" {
			results[i].Err = &references.Error{Code: o.Code, Field: o.Field, Message: o.Message, ReferenceID: o.ConflictID}
			continue
		}
		ref, ok := refs[o.ReferenceID]
		if !ok {
			return nil, notFound(o.ReferenceID)
		}
		results[i].Reference = ref
	}
	return results, nil
}

// readReferences reads the account's references of ids in one statement, by id; those
// that do not exist are missing from the map.
func readReferences(ctx context.Context, q querier, accountID string, ids []string) (map[string]references.Reference, error) {
	out := make(map[string]references.Reference, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, "SELECT data FROM refs WHERE id = ANY($1) AND account_id = $2", ids, accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: read references: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("postgres: read references: %w", err)
		}
		ref, err := decodeReference(data)
		if err != nil {
			return nil, err
		}
		out[ref.ID] = ref
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read references: %w", err)
	}
	return out, nil
}

// insertNew stores a new active reference, unless the account tracks its identifier
// already (a conflict naming that reference) or is at maxActive (above 0) active
// references; *active is the account's count, which it moves on. The caller holds the
// account's counters row and writes the count.
func insertNew(ctx context.Context, tx pgx.Tx, ref *references.Reference, maxActive int, active *int64) error {
	kind, value := ref.Identifier()
	var existing string
	err := tx.QueryRow(ctx, `SELECT id FROM refs WHERE account_id = $1 AND ident_kind = $2 AND ident_value = $3
		AND carrier_code = $4 AND status <> 'unsubscribed'`, ref.AccountID, string(kind), value, ref.CarrierCode).Scan(&existing)
	switch {
	case err == nil:
		return &references.Error{
			Code:        references.CodeConflict,
			Message:     fmt.Sprintf("%s %s with carrier %s is already tracked by %s", kind, value, ref.CarrierCode, existing),
			ReferenceID: existing,
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("postgres: check identifier: %w", err)
	}
	if maxActive > 0 && *active >= int64(maxActive) {
		return references.QuotaExceeded(maxActive)
	}
	if err := insertReference(ctx, tx, ref); err != nil {
		return err
	}
	*active++
	return nil
}

// lockCounters locks the account's counters row, creating it, until tx ends, and
// returns its count of active references.
func lockCounters(ctx context.Context, tx pgx.Tx, accountID string) (int64, error) {
	var active int64
	err := tx.QueryRow(ctx, `INSERT INTO account_counters (account_id) VALUES ($1)
		ON CONFLICT (account_id) DO UPDATE SET account_id = EXCLUDED.account_id
		RETURNING active_refs`, accountID).Scan(&active)
	if err != nil {
		return 0, fmt.Errorf("postgres: lock the counters of %s: %w", accountID, err)
	}
	return active, nil
}

// addActive adds delta to the account's count of active (and paused) references, the
// quota's count, in the transaction that creates or unsubscribes them.
func addActive(ctx context.Context, tx pgx.Tx, accountID string, delta int64) error {
	if delta == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO account_counters (account_id, active_refs) VALUES ($1, $2)
		ON CONFLICT (account_id) DO UPDATE SET active_refs = account_counters.active_refs + EXCLUDED.active_refs`,
		accountID, delta)
	if err != nil {
		return fmt.Errorf("postgres: count the active references of %s: %w", accountID, err)
	}
	return nil
}

func idempotencyMismatch(idem *references.IdempotencyKey) error {
	return references.Errorf(references.CodeIdempotencyMismatch, "Idempotency-Key %q was already used with a different request", idem.Key)
}

// getIdempotency reads the account's key, unless it expired (at the backend's clock).
func (db *DB) getIdempotency(ctx context.Context, tx pgx.Tx, accountID, key string) (idempotencyRecord, bool, error) {
	var rec idempotencyRecord
	now, err := db.now(ctx, tx)
	if err != nil {
		return rec, false, err
	}
	var data []byte
	var expires time.Time
	err = tx.QueryRow(ctx, "SELECT expires_at, data FROM idempotency WHERE account_id = $1 AND key = $2",
		accountID, key).Scan(&expires, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("postgres: read idempotency key: %w", err)
	}
	if now.After(expires) {
		return rec, false, nil
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, false, fmt.Errorf("postgres: decode idempotency key: %w", err)
	}
	return rec, true, nil
}

// putIdempotency remembers rec under the account's key until the key expires,
// replacing an expired or freed record of the same key.
func putIdempotency(ctx context.Context, tx pgx.Tx, accountID string, idem *references.IdempotencyKey, rec *idempotencyRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("postgres: encode idempotency key: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO idempotency (account_id, key, expires_at, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (account_id, key) DO UPDATE SET expires_at = EXCLUDED.expires_at, data = EXCLUDED.data`,
		accountID, idem.Key, idem.ExpiresAt, data)
	if err != nil {
		return fmt.Errorf("postgres: write idempotency key: %w", err)
	}
	return nil
}
