package postgres

// The accounts' operational feeds (GET /account/events): endpoint.disabled and
// message.attempt.exhausted, appended where they happen (endpoint_attempts.go) and
// sent to the account's endpoints that subscribe.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// ListAccountEvents returns up to limit operational events of the account with a
// sequence above after, in sequence order (limit 0: references.DefaultPageSize).
func (db *DB) ListAccountEvents(ctx context.Context, accountID string, after uint64, limit int) ([]references.AccountEvent, error) {
	out := []references.AccountEvent{}
	if after >= math.MaxInt64 {
		return out, nil // nothing follows: sequences are bigints
	}
	rows, err := db.pool.Query(ctx, "SELECT data FROM account_events WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
		accountID, int64(after), references.PageSize(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: list the operational events of %s: %w", accountID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		var e references.AccountEvent
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("postgres: list the operational events of %s: %w", accountID, err)
		}
		if err := decodeJSON(data, &e, "operational event"); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list the operational events of %s: %w", accountID, err)
	}
	return out, nil
}

// appendEvent appends e to its account's operational feed with the account's next
// sequence, and queues it as a message of each of eps (the account's enabled
// endpoints) that subscribes to it, in tx. The subscribers' stream rows are locked
// before the feed's counter row, so that the counter is held for as short a time as
// the transaction allows. The counter makes the sequence gapless across instances:
// a second writer waits on its lock until the first commits or rolls back.
func (db *DB) appendEvent(ctx context.Context, tx pgx.Tx, e *references.AccountEvent, eps []references.Endpoint, now time.Time) error {
	var to []*references.Endpoint
	var ids []string
	for i := range eps {
		if eps[i].MatchesEvent(e) {
			to = append(to, &eps[i])
			ids = append(ids, eps[i].ID)
		}
	}
	if len(ids) > 0 {
		if err := openStreams(ctx, tx, e.AccountID, references.AccountStream, ids, false, now); err != nil {
			return err
		}
	}
	var seq int64
	err := tx.QueryRow(ctx, `INSERT INTO account_event_counters (account_id, seq) VALUES ($1, 1)
		ON CONFLICT (account_id) DO UPDATE SET seq = account_event_counters.seq + 1 RETURNING seq`, e.AccountID).Scan(&seq)
	if err != nil {
		return fmt.Errorf("postgres: number an operational event of %s: %w", e.AccountID, err)
	}
	e.Sequence = uint64(seq)
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("postgres: encode operational event %s: %w", e.ID, err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO account_events (account_id, seq, id, created_at, data) VALUES ($1, $2, $3, $4, $5)",
		e.AccountID, seq, e.ID, e.CreatedAt, data); err != nil {
		return fmt.Errorf("postgres: append %s to the operational feed of %s: %w", e.Type, e.AccountID, err)
	}
	if len(to) == 0 {
		return nil
	}
	msgs := make([]references.Message, len(to))
	for i, ep := range to {
		msgs[i] = newMessage(ep, "", e.ID, e.Sequence, e.Type, nil, e.CreatedAt)
	}
	return insertMessages(ctx, tx, msgs)
}
