package postgres

// What the service needs of a store beyond the contract (references.Backend), as the
// bbolt store has it: the oldest waiting update for `trackhook status` and
// /admin/status, and a callback stream claimed on demand (notifier.Store).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
		JOIN updates u ON u.ref_id = r.id AND u.seq = COALESCE((r.data->>'DeliveredSequence')::bigint, 0) + 1
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

// ClaimDelivery leases the callback stream of one reference to owner now, with its
// next job, due or not: for a delivery on demand (notifier.DeliverNext). It fails
// with references.ErrNothingToDeliver when nothing waits, and references.ErrBusy
// while another lease on the stream is live, as the bbolt store does.
func (db *DB) ClaimDelivery(ctx context.Context, owner, refID string, lease time.Duration) (references.DeliveryClaim, error) {
	key := references.DeliveryLeaseKey(references.DestinationCallback, refID)
	var l references.Lease
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		now, err := db.now(ctx, tx)
		if err != nil {
			return err
		}
		var until *time.Time
		err = tx.QueryRow(ctx, `SELECT lease_until FROM delivery_streams
			WHERE destination = $1 AND stream = $2 FOR UPDATE`, references.DestinationCallback, refID).Scan(&until)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return references.ErrNothingToDeliver
		case err != nil:
			return fmt.Errorf("postgres: claim delivery of %s: %w", refID, err)
		case until != nil && until.After(now):
			return fmt.Errorf("postgres: claim delivery of %s: %w", refID, references.ErrBusy)
		}
		end := now.Add(lease)
		var token int64
		err = tx.QueryRow(ctx, `UPDATE delivery_streams
			SET lease_owner = $3, lease_token = nextval('lease_tokens'), lease_until = $4
			WHERE destination = $1 AND stream = $2 RETURNING lease_token`,
			references.DestinationCallback, refID, owner, end).Scan(&token)
		if err != nil {
			return fmt.Errorf("postgres: claim delivery of %s: %w", refID, err)
		}
		l = grantLease(key, owner, token, end)
		return nil
	})
	if err != nil {
		return references.DeliveryClaim{}, err
	}
	job, err := db.NextDelivery(ctx, l)
	if err != nil {
		if rerr := db.ReleaseLease(context.WithoutCancel(ctx), l); rerr != nil {
			db.log.Warn("releasing a delivery claimed on demand", "reference_id", refID, "err", rerr)
		}
		return references.DeliveryClaim{}, err
	}
	return references.DeliveryClaim{Lease: l, Job: job}, nil
}
