package postgres

// What `trackhook status` and /admin/status need of a store beyond the contract
// (references.Backend), as the bbolt store has it: the oldest waiting update.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// OldestUndelivered returns the oldest update still waiting for delivery to its
// reference's callback, or nil when none is: for each callback stream with something
// to deliver, the update after the reference's DeliveredSequence. As on bbolt it
// looks at callbacks only (an endpoint's messages have their own status) and reads
// every stream waiting: an operator's look, not a hot path.
func (db *DB) OldestUndelivered(ctx context.Context) (*references.Update, error) {
	var data []byte
	err := db.pool.QueryRow(ctx, `
		SELECT u.data FROM delivery_streams s
		JOIN refs r ON r.id = s.stream
		JOIN updates u ON u.ref_id = r.id AND u.seq = r.delivered_seq + 1
		WHERE s.destination = $1
		ORDER BY u.created_at, u.ref_id
		LIMIT 1`, references.DestinationCallback).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: oldest undelivered update: %w", err)
	}
	var u references.Update
	if err := json.Unmarshal(data, &u); err != nil {
		return nil, fmt.Errorf("postgres: oldest undelivered update: %w", err)
	}
	return &u, nil
}
