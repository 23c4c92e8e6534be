package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// Leases live in the rows of the work they cover: a poll's in refs, a delivery
// stream's in delivery_streams, a redelivery's in redeliveries, a push subscription's
// deletion in push_deletions. A lease is held while
// its token is the row's and its end is after the clock's now (the database's): an
// owner that stopped renewing loses it without anyone releasing it, and a token from
// the lease_tokens sequence is never granted twice, so an old grant can't record.

// leaseRow locates the row of a lease key: its table, lease columns and key columns.
type leaseRow struct {
	table               string
	owner, token, until string
	where               string // key columns, $1.. bound to args
	args                []any
}

func rowOfLease(key string) (leaseRow, error) {
	kind, rest, _ := strings.Cut(key, "/")
	switch kind {
	case "poll":
		return leaseRow{table: "refs", owner: "poll_owner", token: "poll_token", until: "poll_lease_until",
			where: "id = $1", args: []any{rest}}, nil
	case "deliver":
		dest, stream, ok := strings.Cut(rest, "/")
		if ok {
			return leaseRow{table: "delivery_streams", owner: "lease_owner", token: "lease_token", until: "lease_until",
				where: "destination = $1 AND stream = $2", args: []any{dest, stream}}, nil
		}
	case "redeliver":
		parts := strings.SplitN(rest, "/", 3)
		if len(parts) == 3 {
			return leaseRow{table: "redeliveries", owner: "lease_owner", token: "lease_token", until: "lease_until",
				where: "destination = $1 AND stream = $2 AND message_id = $3", args: []any{parts[0], parts[1], parts[2]}}, nil
		}
	case "pushdel":
		if id, err := pushDeletionID(key); err == nil {
			return leaseRow{table: "push_deletions", owner: "lease_owner", token: "lease_token", until: "lease_until",
				where: "id = $1", args: []any{id}}, nil
		}
	}
	return leaseRow{}, fmt.Errorf("postgres: unknown lease key %q: %w", key, references.ErrLeaseLost)
}

// holdLease checks in tx that lease is still held, and locks its row until tx ends, so
// that the outcome tx records cannot race a new grant. Otherwise ErrLeaseLost.
func (db *DB) holdLease(ctx context.Context, tx pgx.Tx, lease references.Lease) error {
	r, err := rowOfLease(lease.Key)
	if err != nil {
		return err
	}
	now, err := db.now(ctx, tx)
	if err != nil {
		return err
	}
	n := len(r.args)
	sql := fmt.Sprintf("SELECT 1 FROM %s WHERE %s AND %s = $%d AND %s > $%d FOR UPDATE",
		r.table, r.where, r.token, n+1, r.until, n+2)
	var one int
	err = tx.QueryRow(ctx, sql, append(r.args, int64(lease.Token), now)...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return references.ErrLeaseLost
	}
	if err != nil {
		return fmt.Errorf("postgres: check lease %s: %w", lease.Key, err)
	}
	return nil
}

// RenewLease extends a held lease to d from the clock's now, or returns ErrLeaseLost.
func (db *DB) RenewLease(ctx context.Context, lease references.Lease, d time.Duration) (references.Lease, error) {
	r, err := rowOfLease(lease.Key)
	if err != nil {
		return lease, err
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		now, err := db.now(ctx, tx)
		if err != nil {
			return err
		}
		until := now.Add(d)
		n := len(r.args)
		sql := fmt.Sprintf("UPDATE %s SET %s = $%d WHERE %s AND %s = $%d AND %s > $%d",
			r.table, r.until, n+1, r.where, r.token, n+2, r.until, n+3)
		tag, err := tx.Exec(ctx, sql, append(r.args, until, int64(lease.Token), now)...)
		if err != nil {
			return fmt.Errorf("postgres: renew lease %s: %w", lease.Key, err)
		}
		if tag.RowsAffected() == 0 {
			return references.ErrLeaseLost
		}
		lease.Until = until
		return nil
	})
	return lease, err
}

// ReleaseLease ends a lease; the work is claimable again at the due time its row
// holds. Releasing a lease that is no longer held does nothing.
func (db *DB) ReleaseLease(ctx context.Context, lease references.Lease) error {
	r, err := rowOfLease(lease.Key)
	if err != nil {
		return nil
	}
	n := len(r.args)
	sql := fmt.Sprintf("UPDATE %s SET %s = NULL, %s = NULL, %s = NULL WHERE %s AND %s = $%d",
		r.table, r.owner, r.token, r.until, r.where, r.token, n+1)
	if _, err := db.pool.Exec(ctx, sql, append(r.args, int64(lease.Token))...); err != nil {
		return fmt.Errorf("postgres: release lease %s: %w", lease.Key, err)
	}
	return nil
}

// grantLease is the lease a claim hands out for key, from a token the caller drew
// from lease_tokens (nextval in the claiming statement).
func grantLease(key, owner string, token int64, until time.Time) references.Lease {
	return references.Lease{Key: key, Owner: owner, Token: uint64(token), Until: until}
}
