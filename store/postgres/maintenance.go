package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// Prune deletes what retention no longer keeps (see references.PruneRequest) in one
// transaction of at most req.Max records: expired idempotency keys, unsubscribed
// references with everything of theirs and updates (pruneReferences), then the
// delivery log (pruneAttempts), then endpoint messages (pruneMessages), then ended
// console sessions of every account (pruneSessions), each oldest first, as the bbolt
// store does. It adds what it deleted to store_stats and records
// the prune's time there, the backend's clock.
//
// The store_stats row is locked first: every instance runs retention, and their
// prunes take turns rather than contend for the same oldest rows; a prune that waited
// reads what the previous one left. Only prunes lock that row, so taking it before
// the rows of the lock order cannot close a cycle.
func (db *DB) Prune(ctx context.Context, req references.PruneRequest) (references.PruneCounts, error) {
	var got references.PruneCounts
	if req.Max <= 0 {
		return got, nil
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		got = references.PruneCounts{}
		var total []byte
		if err := tx.QueryRow(ctx, "SELECT pruned FROM store_stats FOR UPDATE").Scan(&total); err != nil {
			return fmt.Errorf("postgres: lock store_stats: %w", err)
		}
		now, err := db.now(ctx, tx)
		if err != nil {
			return err
		}
		left := func() int { return req.Max - int(got.Total()) }
		if !req.IdempotencyKeys.IsZero() || !req.Unsubscribed.IsZero() || !req.Updates.IsZero() {
			if err := db.pruneReferences(ctx, tx, req, now, req.Max, &got); err != nil {
				return err
			}
		}
		if !req.Attempts.IsZero() && left() > 0 {
			n, err := db.pruneAttempts(ctx, tx, req.Attempts, left())
			if err != nil {
				return err
			}
			got.Attempts += n
		}
		if !req.Messages.IsZero() && left() > 0 {
			deleted, expired, err := db.pruneMessages(ctx, tx, req.Messages, now, left())
			if err != nil {
				return err
			}
			got.Messages += deleted
			got.ExpiredMessages += expired
		}
		if !req.Sessions.IsZero() && left() > 0 {
			n, err := pruneSessions(ctx, tx, req.Sessions, left())
			if err != nil {
				return err
			}
			got.Sessions += n
		}
		var sum references.PruneCounts
		if err := json.Unmarshal(total, &sum); err != nil {
			return fmt.Errorf("postgres: decode store_stats: %w", err)
		}
		sum.Add(got)
		if total, err = json.Marshal(&sum); err != nil {
			return fmt.Errorf("postgres: encode store_stats: %w", err)
		}
		if _, err := tx.Exec(ctx, "UPDATE store_stats SET pruned = $1, last_prune_at = $2", total, now); err != nil {
			return fmt.Errorf("postgres: update store_stats: %w", err)
		}
		return nil
	})
	if err != nil {
		return references.PruneCounts{}, fmt.Errorf("postgres: prune: %w", err)
	}
	return got, nil
}

// Stats returns the store's counts in one statement, at a cost that does not grow with
// the number of references stored:
//
//   - ActiveReferences sums the per-account counters of active (and paused) references
//     that creates and unsubscribes keep in account_counters for the quota: a row per
//     account.
//   - UnsubscribedReferences sums the per-account counts by status that the
//     triggers of refs keep in ref_status_counts (migration 00005): a row per
//     account. (Counting refs_unsubscribed, as before them, took 18 ms for 100,000
//     unsubscribed references on a store of a million.)
//   - PendingDeliveries counts delivery_streams, which holds a row only while a
//     stream has something to deliver (an index-only scan of its primary key): the
//     queue's depth, not the store's size.
//   - FileBytes is pg_database_size, the size of the database's files.
//   - Commits is the number of transaction ids PostgreSQL has handed out since its
//     cluster was created (the next id of pg_current_snapshot). PostgreSQL gives an id
//     only to a transaction that writes, so, as with bbolt, reads and polls that
//     change nothing add none; unlike bbolt's, the count includes the writes of the
//     server's other databases and transactions rolled back. The statistics
//     collector's xact_commit was not chosen: it counts read-only transactions (every
//     query of the pool is one) and restarts from zero when statistics are reset.
//     A counter row of our own would serialise every write of every instance on it.
//   - Pruned and LastPruneAt are store_stats', written by each Prune.
func (db *DB) Stats(ctx context.Context) (references.Stats, error) {
	var s references.Stats
	var pruned []byte
	var lastPrune *time.Time
	err := db.pool.QueryRow(ctx, `SELECT
		(SELECT coalesce(sum(active_refs), 0) FROM account_counters),
		(SELECT coalesce(sum(n), 0) FROM ref_status_counts WHERE status = 'unsubscribed'),
		(SELECT count(*) FROM delivery_streams),
		pg_database_size(current_database()),
		pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
		pruned, last_prune_at
		FROM store_stats`).Scan(&s.ActiveReferences, &s.UnsubscribedReferences, &s.PendingDeliveries,
		&s.FileBytes, &s.Commits, &pruned, &lastPrune)
	if err != nil {
		return references.Stats{}, fmt.Errorf("postgres: stats: %w", err)
	}
	if err := json.Unmarshal(pruned, &s.Pruned); err != nil {
		return references.Stats{}, fmt.Errorf("postgres: decode store_stats: %w", err)
	}
	if lastPrune != nil {
		at := lastPrune.UTC()
		s.LastPruneAt = &at
	}
	return s, nil
}

// Backup is not the backend's to take: a PostgreSQL database is backed up with the
// server's tools (pg_dump, or base backups and WAL archiving), which are consistent
// without stopping the instances. The error wraps errors.ErrUnsupported, which
// /admin/backup answers with 501.
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	return 0, fmt.Errorf("postgres: trackhook takes no backups of a PostgreSQL store: use pg_dump "+
		"(e.g. pg_dump --format=custom --file=trackhook.dump DBNAME) or the server's base backups: %w", errors.ErrUnsupported)
}
