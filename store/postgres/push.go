package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// Carrier push (see references.PushStore). A reference's subscription is its Push,
// stored in refs.data with the rest of it. The subscriptions to delete at carriers
// are rows of push_deletions, queued by the transaction that unsubscribes their
// reference (unsubscribe, lifecycle.go) and leased in their row like the other work
// (lease.go), under the key pushDeletionLeasePrefix + the row's id.

// pushDeletionLeasePrefix begins the lease key of a queued deletion.
const pushDeletionLeasePrefix = "pushdel/"

// pushDeletionLeaseKey is the lease key of the deletion whose row id is id.
func pushDeletionLeaseKey(id int64) string {
	return pushDeletionLeasePrefix + strconv.FormatInt(id, 10)
}

// pushDeletionID returns the row id a deletion's lease key names; ErrLeaseLost for a
// key of other work, which holds no deletion.
func pushDeletionID(key string) (int64, error) {
	rest, ok := strings.CutPrefix(key, pushDeletionLeasePrefix)
	if ok {
		if id, err := strconv.ParseInt(rest, 10, 64); err == nil {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%w: %q is not the lease of a push deletion", references.ErrLeaseLost, key)
}

// ReferenceByID returns a reference of any account, or ErrNotFound.
func (db *DB) ReferenceByID(ctx context.Context, id string) (references.Reference, error) {
	ref, err := getReference(ctx, db.pool, id, false)
	if err != nil {
		return references.Reference{}, fmt.Errorf("postgres: get reference: %w", err)
	}
	return ref, nil
}

// queuePushDeletion queues the deletion of sub, refID's subscription, in tx, due at
// once on the database's clock. A subscription queued already stays as it is: its
// deletion, pending or under way, removes it at the carrier.
func (db *DB) queuePushDeletion(ctx context.Context, tx pgx.Tx, sub *references.PushSubscription, refID, accountID string) error {
	_, err := tx.Exec(ctx, `INSERT INTO push_deletions (source, subscription_id, reference_id, account_id, queued_at, due_at)
		VALUES ($1, $2, $3, $4, COALESCE($5::timestamptz, now()), COALESCE($5::timestamptz, now()))
		ON CONFLICT (source, subscription_id) DO NOTHING`,
		sub.Source, sub.ID, refID, accountID, db.clockArg())
	if err != nil {
		return fmt.Errorf("postgres: queue the deletion of push subscription %s of %s: %w", sub.ID, refID, err)
	}
	return nil
}

// pushDeletionColumns are the columns of push_deletions that make a PushDeletion, in
// scanPushDeletion's order.
const pushDeletionColumns = "source, subscription_id, reference_id, account_id, queued_at, attempts, last_error"

// scanPushDeletion reads pushDeletionColumns, after the dest given first.
func scanPushDeletion(row pgx.Row, dest ...any) (references.PushDeletion, error) {
	var d references.PushDeletion
	err := row.Scan(append(dest, &d.Source, &d.SubscriptionID, &d.ReferenceID, &d.AccountID, &d.QueuedAt, &d.Attempts, &d.LastError)...)
	d.QueuedAt = d.QueuedAt.UTC()
	return d, err
}

// ClaimPushDeletions leases up to limit due deletions to owner, most overdue first, in
// one statement: rows another claim is taking are skipped, not waited for, and the
// lease ends by the database's clock.
func (db *DB) ClaimPushDeletions(ctx context.Context, owner string, limit int, lease time.Duration) ([]references.PushDeletionClaim, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `
		WITH c AS (
			SELECT id FROM push_deletions
			WHERE due_at <= COALESCE($1::timestamptz, now())
			  AND (lease_until IS NULL OR lease_until <= COALESCE($1::timestamptz, now()))
			ORDER BY due_at, id
			LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE push_deletions p SET lease_owner = $3, lease_token = nextval('lease_tokens'),
			lease_until = COALESCE($1::timestamptz, now()) + $4::interval
		FROM c WHERE p.id = c.id
		RETURNING p.id, p.due_at, p.lease_token, p.lease_until, `+prefixed("p.", pushDeletionColumns),
		db.clockArg(), limit, owner, lease)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim push deletions: %w", err)
	}
	defer rows.Close()
	type claimed struct {
		id    int64
		due   time.Time
		claim references.PushDeletionClaim
	}
	var cs []claimed
	for rows.Next() {
		var c claimed
		var token int64
		var until time.Time
		d, err := scanPushDeletion(rows, &c.id, &c.due, &token, &until)
		if err != nil {
			return nil, fmt.Errorf("postgres: claim push deletions: %w", err)
		}
		c.claim = references.PushDeletionClaim{
			Lease:    grantLease(pushDeletionLeaseKey(c.id), owner, token, until.UTC()),
			Deletion: d,
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: claim push deletions: %w", err)
	}
	// RETURNING keeps no order.
	slices.SortFunc(cs, func(a, b claimed) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	claims := make([]references.PushDeletionClaim, len(cs))
	for i := range cs {
		claims[i] = cs[i].claim
	}
	return claims, nil
}

// prefixed qualifies every column of the comma-separated list cols with prefix.
func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = prefix + parts[i]
	}
	return strings.Join(parts, ", ")
}

// FinishPushDeletion removes a claimed deletion, in one statement that checks the
// lease: ErrLeaseLost when it is not held.
func (db *DB) FinishPushDeletion(ctx context.Context, lease references.Lease) error {
	id, err := pushDeletionID(lease.Key)
	if err != nil {
		return fmt.Errorf("postgres: finish push deletion: %w", err)
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM push_deletions
		WHERE id = $1 AND lease_token = $2 AND lease_until > COALESCE($3::timestamptz, now())`,
		id, int64(lease.Token), db.clockArg())
	if err != nil {
		return fmt.Errorf("postgres: finish push deletion %s: %w", lease.Key, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: finish push deletion %s: %w", lease.Key, references.ErrLeaseLost)
	}
	return nil
}

// RetryPushDeletion records a failed deletion and makes it due at until, ending its
// lease, in one statement that checks the lease: ErrLeaseLost when it is not held.
func (db *DB) RetryPushDeletion(ctx context.Context, lease references.Lease, until time.Time, lastError string) error {
	id, err := pushDeletionID(lease.Key)
	if err != nil {
		return fmt.Errorf("postgres: retry push deletion: %w", err)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE push_deletions SET attempts = attempts + 1, last_error = $4, due_at = $5,
			lease_owner = NULL, lease_token = NULL, lease_until = NULL
		WHERE id = $1 AND lease_token = $2 AND lease_until > COALESCE($3::timestamptz, now())`,
		id, int64(lease.Token), db.clockArg(), lastError, until.UTC())
	if err != nil {
		return fmt.Errorf("postgres: retry push deletion %s: %w", lease.Key, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: retry push deletion %s: %w", lease.Key, references.ErrLeaseLost)
	}
	return nil
}

// ListPushDeletions returns the queued deletions in the order they were queued, at
// most limit, leased or not.
func (db *DB) ListPushDeletions(ctx context.Context, limit int) ([]references.PushDeletion, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, "SELECT "+pushDeletionColumns+" FROM push_deletions ORDER BY queued_at, id LIMIT $1", limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list push deletions: %w", err)
	}
	defer rows.Close()
	var ds []references.PushDeletion
	for rows.Next() {
		d, err := scanPushDeletion(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list push deletions: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list push deletions: %w", err)
	}
	return ds, nil
}

// queueStrayPush queues the deletion of the subscription a poll made at the carrier
// when its result is not recorded (its reference was unsubscribed or paused while it
// was polled), so that no subscription is left there that nothing names. One the
// reference holds is not: its unsubscribe queued it, or the paused reference keeps it.
func (db *DB) queueStrayPush(ctx context.Context, tx pgx.Tx, ref *references.Reference, res *references.PollResult) error {
	p := res.Push
	if p == nil || p.ID == "" || ref.Push != nil && ref.Push.Source == p.Source && ref.Push.ID == p.ID {
		return nil
	}
	return db.queuePushDeletion(ctx, tx, p, ref.ID, ref.AccountID)
}
