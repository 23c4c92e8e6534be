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

// Rows of refs: the reference as JSON in data, and the columns queries use, written
// from it by the same statement.

// anyAccount makes getReference skip the account check, for the poller and the
// workers that hold a reference's id from a claim. Account ids never contain NUL.
const anyAccount = "\x00"

// notFound is the error of a reference that does not exist in the caller's account.
func notFound(id string) error {
	return references.Errorf(references.CodeNotFound, "reference %s not found", id)
}

// getReference reads one reference; ErrNotFound when it does not exist. With lock,
// the row stays locked (FOR UPDATE) until q's transaction ends: every read that is
// followed by a write of the reference locks it, so concurrent instances take turns.
func getReference(ctx context.Context, q querier, id string, lock bool) (references.Reference, error) {
	return getAccountReference(ctx, q, anyAccount, id, lock)
}

// getAccountReference is getReference for a caller of accountID (or anyAccount):
// another account's reference is not found.
func getAccountReference(ctx context.Context, q querier, accountID, id string, lock bool) (references.Reference, error) {
	sql := "SELECT account_id, data FROM refs WHERE id = $1"
	if lock {
		sql += " FOR UPDATE"
	}
	var owner string
	var data []byte
	if err := q.QueryRow(ctx, sql, id).Scan(&owner, &data); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return references.Reference{}, notFound(id)
		}
		return references.Reference{}, fmt.Errorf("postgres: read reference %s: %w", id, err)
	}
	if accountID != anyAccount && owner != accountID {
		return references.Reference{}, notFound(id)
	}
	return decodeReference(data)
}

func decodeReference(data []byte) (references.Reference, error) {
	var ref references.Reference
	if err := json.Unmarshal(data, &ref); err != nil {
		return ref, fmt.Errorf("postgres: decode reference: %w", err)
	}
	return ref, nil
}

// insertReference writes a new reference row.
func insertReference(ctx context.Context, tx pgx.Tx, ref *references.Reference) error {
	cols, err := refColumns(ref)
	if err != nil {
		return err
	}
	kind, value := ref.Identifier()
	_, err = tx.Exec(ctx, `INSERT INTO refs (id, status, updated_at, next_poll_at, unsubscribed_at, delivers,
		delivered_seq, last_seq, data, account_id, created_at, ident_kind, ident_value, carrier_code)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		append(cols, ref.AccountID, ref.CreatedAt, string(kind), value, ref.CarrierCode)...)
	if err != nil {
		return fmt.Errorf("postgres: insert reference %s: %w", ref.ID, err)
	}
	return nil
}

// saveReference writes a changed reference over its row (locked by the caller). The
// poll lease columns are left as they are. Every change of a reference is written
// through here (or savePolled), so that the columns never disagree with data.
func saveReference(ctx context.Context, tx pgx.Tx, ref *references.Reference) error {
	return updateReference(ctx, tx, ref, "")
}

// updateReference writes ref's changeable columns and data over its row, with extra
// assignments (SQL) in the same statement, whose arguments args are $10 on.
func updateReference(ctx context.Context, tx pgx.Tx, ref *references.Reference, extra string, args ...any) error {
	cols, err := refColumns(ref)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE refs SET status = $2, updated_at = $3, next_poll_at = $4, unsubscribed_at = $5,
		delivers = $6, delivered_seq = $7, last_seq = $8, data = $9`+extra+` WHERE id = $1`, append(cols, args...)...)
	if err != nil {
		return fmt.Errorf("postgres: save reference %s: %w", ref.ID, err)
	}
	return nil
}

// refColumns are the values of the columns of refs that change with the reference,
// in the order id, status, updated_at, next_poll_at, unsubscribed_at, delivers,
// delivered_seq, last_seq, data.
func refColumns(ref *references.Reference) ([]any, error) {
	data, err := json.Marshal(ref)
	if err != nil {
		return nil, fmt.Errorf("postgres: encode reference: %w", err)
	}
	return []any{ref.ID, string(ref.Status), ref.UpdatedAt, dueColumn(ref), ref.UnsubscribedAt, ref.OwesDelivery(),
		int64(ref.DeliveredSequence), int64(ref.LastSequence), data}, nil
}

// dueColumn is the reference's next_poll_at column: its next poll while it is polled.
func dueColumn(ref *references.Reference) *time.Time {
	if !ref.Active() {
		return nil
	}
	return ref.NextPollAt
}
