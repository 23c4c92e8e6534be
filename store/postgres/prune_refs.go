package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// Retention of references, their feeds and idempotency keys: set-based deletes, oldest
// first through the time indexes, bounded by what the prune may still delete.

// forgetBatch is how many unsubscribed references one step of pruneUnsubscribed reads.
const forgetBatch = 500

// pruneReferences applies retention to idempotency keys, unsubscribed references and
// updates, in that order (see references.PruneRequest), deleting at most max records
// and adding them to counts.
func (db *DB) pruneReferences(ctx context.Context, tx pgx.Tx, req references.PruneRequest, now time.Time, max int, counts *references.PruneCounts) error {
	left := int64(max)
	if !req.IdempotencyKeys.IsZero() && left > 0 {
		n, err := execCount(ctx, tx, `WITH v AS (
				SELECT account_id, key FROM idempotency WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)
			DELETE FROM idempotency i USING v WHERE i.account_id = v.account_id AND i.key = v.key`,
			req.IdempotencyKeys, left)
		if err != nil {
			return fmt.Errorf("postgres: prune idempotency keys: %w", err)
		}
		counts.IdempotencyKeys += n
		left -= n
	}
	if !req.Unsubscribed.IsZero() && left > 0 {
		if err := db.pruneUnsubscribed(ctx, tx, req.Unsubscribed, &left, counts); err != nil {
			return fmt.Errorf("postgres: prune unsubscribed references: %w", err)
		}
	}
	if !req.Updates.IsZero() && left > 0 {
		// Kept: updates still to be delivered to the callback (Reference.Delivers, in
		// the delivers column) and those queued for redelivery.
		n, err := execCount(ctx, tx, `WITH v AS (
				SELECT u.ref_id, u.seq FROM updates u JOIN refs r ON r.id = u.ref_id
				WHERE u.created_at < $1 AND NOT (r.delivers AND u.seq > r.delivered_seq)
				  AND NOT EXISTS (SELECT 1 FROM redeliveries d
					WHERE d.destination = $3 AND d.stream = u.ref_id AND d.message_id = u.id)
				ORDER BY u.created_at LIMIT $2)
			DELETE FROM updates u USING v WHERE u.ref_id = v.ref_id AND u.seq = v.seq`,
			req.Updates, left, references.DestinationCallback)
		if err != nil {
			return fmt.Errorf("postgres: prune updates: %w", err)
		}
		counts.Updates += n
	}
	return nil
}

// pruneUnsubscribed deletes references unsubscribed before cutoff that
// Reference.Forgettable lets go and that have no redelivery queued, oldest unsubscribe
// first, each with everything of its. A reference with more records than the prune
// may still delete loses its delivery log and feed first and goes whole at a later
// prune: it stays unsubscribed and readable meanwhile.
func (db *DB) pruneUnsubscribed(ctx context.Context, tx pgx.Tx, cutoff time.Time, left *int64, counts *references.PruneCounts) error {
	var afterAt time.Time
	afterID := ""
	for *left > 0 {
		batch := min(*left, forgetBatch)
		// Rows locked by work in flight are passed over: a later prune takes them.
		rows, err := tx.Query(ctx, `SELECT unsubscribed_at, data FROM refs r
			WHERE status = 'unsubscribed' AND unsubscribed_at < $1 AND (unsubscribed_at, id) > ($2, $3)
			  AND (NOT delivers OR delivered_seq >= last_seq)
			  AND NOT EXISTS (SELECT 1 FROM redeliveries d WHERE d.destination = $4 AND d.stream = r.id)
			ORDER BY unsubscribed_at, id LIMIT $5
			FOR UPDATE SKIP LOCKED`, cutoff, afterAt, afterID, references.DestinationCallback, batch)
		if err != nil {
			return err
		}
		var ids []string
		read := 0
		for rows.Next() {
			var data []byte
			if err := rows.Scan(&afterAt, &data); err != nil {
				rows.Close()
				return err
			}
			read++
			ref, err := decodeReference(data)
			if err != nil {
				rows.Close()
				return err
			}
			afterID = ref.ID
			if ref.Forgettable(cutoff) {
				ids = append(ids, ref.ID)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := db.forgetReferences(ctx, tx, ids, left, counts); err != nil {
			return err
		}
		if int64(read) < batch {
			return nil // none left to read
		}
	}
	return nil
}

// forgetReferences deletes the unsubscribed references ids (locked by tx), in order,
// with their delivery logs, feeds, snapshots, delivery streams and queued
// redeliveries, and their messages' places in the endpoints' streams, while the prune
// may delete more. The first that does not fit loses as much of its log and feed as
// fits, and stays.
func (db *DB) forgetReferences(ctx context.Context, tx pgx.Tx, ids []string, left *int64, counts *references.PruneCounts) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT r.id,
			(SELECT count(*) FROM updates u WHERE u.ref_id = r.id),
			(SELECT count(*) FROM delivery_attempts a WHERE a.ref_id = r.id)
		FROM unnest($1::text[]) WITH ORDINALITY AS r(id, n) ORDER BY r.n`, ids)
	if err != nil {
		return err
	}
	var whole []string
	partial := ""
	budget := *left
	for rows.Next() {
		var id string
		var updates, attempts int64
		if err := rows.Scan(&id, &updates, &attempts); err != nil {
			rows.Close()
			return err
		}
		if partial != "" {
			continue
		}
		if need := updates + attempts + 1; need <= budget {
			whole = append(whole, id)
			budget -= need
		} else {
			partial = id
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(whole) > 0 {
		n, err := execCount(ctx, tx, "DELETE FROM delivery_attempts WHERE ref_id = ANY($1)", whole)
		if err != nil {
			return err
		}
		counts.Attempts += n
		*left -= n
		if n, err = execCount(ctx, tx, "DELETE FROM updates WHERE ref_id = ANY($1)", whole); err != nil {
			return err
		}
		counts.Updates += n
		*left -= n
		for _, id := range whole {
			if err := db.forgetMessagesOf(ctx, tx, id); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `WITH s AS (DELETE FROM delivery_streams WHERE stream = ANY($1))
			DELETE FROM redeliveries WHERE destination = $2 AND stream = ANY($1)`, whole, references.DestinationCallback)
		if err != nil {
			return err
		}
		// Its snapshot and search entries go with it (ON DELETE CASCADE).
		if n, err = execCount(ctx, tx, "DELETE FROM refs WHERE id = ANY($1)", whole); err != nil {
			return err
		}
		counts.References += n
		*left -= n
	}
	if partial != "" && *left > 0 {
		n, err := execCount(ctx, tx, `DELETE FROM delivery_attempts WHERE ctid IN (
			SELECT ctid FROM delivery_attempts WHERE ref_id = $1 LIMIT $2)`, partial, *left)
		if err != nil {
			return err
		}
		counts.Attempts += n
		*left -= n
		if *left > 0 {
			if n, err = execCount(ctx, tx, `DELETE FROM updates WHERE (ref_id, seq) IN (
				SELECT ref_id, seq FROM updates WHERE ref_id = $1 ORDER BY seq LIMIT $2)`, partial, *left); err != nil {
				return err
			}
			counts.Updates += n
			*left -= n
		}
		*left = 0 // the reference itself did not fit: this prune is done
	}
	return nil
}

// execCount runs a statement and returns how many rows it changed.
func execCount(ctx context.Context, tx pgx.Tx, sql string, args ...any) (int64, error) {
	tag, err := tx.Exec(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
