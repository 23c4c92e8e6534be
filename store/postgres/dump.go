package postgres

// Dump: the whole store as the neutral records of storecopy, for `trackhook store
// copy`, from one REPEATABLE READ transaction (one snapshot of every table). Every
// table is either read here or derived from what is (see load.go, which builds the
// same tables from the records):
//
//	read: accounts, api_keys (data and last_used_at), audit, endpoints, refs (data,
//	  and the summary's first ETA when it is not the snapshot's), shipments, updates,
//	  idempotency, delivery_attempts, account_events, messages
//	  (data and queued), delivery_streams (but the leases and the two waiting flags),
//	  redeliveries (but the leases), push_deletions (but the leases and the ids, given
//	  again in the order queued), account_counters.update_seq, audit_counters,
//	  account_event_counters, store_stats
//	derived: refs' columns beside data (refColumns', and eta, summary, first_eta and
//	  arrived from the latest snapshot and the first ETA its record carries),
//	  ref_numbers, ref_status_counts (the triggers of refs), messages' columns beside data,
//	  account_counters.active_refs, delivery_streams.ref_paused and endpoint_disabled,
//	  the sequence numbering delivery_attempts
//	not copied: leases (the services are stopped), lease_tokens, sessions (console
//	  sign-ins last hours at most: after a copy, people sign in again)

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/store/storecopy"
)

// Dump calls emit with every record of the store in the order of storecopy.Kinds
// (see storecopy.Backend).
func (db *DB) Dump(ctx context.Context, emit func(storecopy.Record) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: dump: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, q := range dumpQueries {
		if err := dumpRows(ctx, tx, q, emit); err != nil {
			return err
		}
	}
	return nil
}

// dumpQuery reads the records of one kind: a query and how to make a record of
// each of its rows. The orders keep each feed together and in sequence order, and
// make two dumps of the same content list it alike.
type dumpQuery struct {
	kind storecopy.Kind
	sql  string
	scan func(pgx.Rows) (storecopy.Record, error)
}

var dumpQueries = []dumpQuery{
	{storecopy.KindAccount, "SELECT data FROM accounts ORDER BY id", func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.Account
		err := scanJSON(r, &v.Account)
		return v, err
	}},
	{storecopy.KindAPIKey, "SELECT data, last_used_at FROM api_keys ORDER BY hash", func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.APIKey
		var data []byte
		var used *time.Time
		if err := r.Scan(&data, &used); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &v.Key); err != nil {
			return nil, err
		}
		v.Key.LastUsedAt = utcPtr(used) // its column is authoritative
		return v, nil
	}},
	{storecopy.KindAudit, "SELECT data FROM audit ORDER BY account_id, seq", func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.AuditEntry
		err := scanJSON(r, &v.Entry)
		return v, err
	}},
	{storecopy.KindEndpoint, "SELECT data FROM endpoints ORDER BY id", func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.Endpoint
		err := scanJSON(r, &v.Endpoint)
		return v, err
	}},
	{storecopy.KindReference, "SELECT data FROM refs ORDER BY id", func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.Reference
		err := scanJSON(r, &v.Reference)
		return v, err
	}},
	{storecopy.KindShipment, `SELECT s.ref_id, s.data, r.summary FROM shipments s JOIN refs r ON r.id = s.ref_id
		ORDER BY s.ref_id`, func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.Shipment
		var data, summary []byte
		if err := r.Scan(&v.ReferenceID, &data, &summary); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &v.Shipment); err != nil {
			return nil, err
		}
		// The first ETA, when it is not the snapshot's (read from the summary's JSON,
		// to the nanosecond, as the snapshot's is).
		sum, err := decodeSummary(summary)
		if err != nil {
			return nil, err
		}
		if sum != nil && sum.FirstETA != nil && (v.Shipment.ETA == nil || !sum.FirstETA.Equal(*v.Shipment.ETA)) {
			v.FirstETA = utcPtr(sum.FirstETA)
		}
		return v, nil
	}},
	{storecopy.KindUpdate, "SELECT account_id, account_seq, data FROM updates ORDER BY ref_id, seq", func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.Update
		var seq int64
		var data []byte
		if err := r.Scan(&v.AccountID, &seq, &data); err != nil {
			return nil, err
		}
		v.AccountSequence = uint64(seq)
		err := json.Unmarshal(data, &v.Update)
		return v, err
	}},
	{storecopy.KindIdempotency, "SELECT account_id, key, expires_at, data FROM idempotency ORDER BY account_id, key", func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.Idempotency
		var data []byte
		if err := r.Scan(&v.AccountID, &v.Key, &v.ExpiresAt, &data); err != nil {
			return nil, err
		}
		var rec idempotencyRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, err
		}
		v.ExpiresAt, v.RequestHash, v.ReferenceID = v.ExpiresAt.UTC(), rec.RequestHash, rec.ReferenceID
		if rec.Batch != nil {
			v.Batch = make([]storecopy.BatchOutcome, len(rec.Batch))
			for i, o := range rec.Batch {
				v.Batch[i] = storecopy.BatchOutcome(o)
			}
		}
		return v, nil
	}},
	{storecopy.KindAttempt, "SELECT n, data FROM delivery_attempts ORDER BY ref_id, n", func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.Attempt
		var n int64
		var data []byte
		if err := r.Scan(&n, &data); err != nil {
			return nil, err
		}
		v.N = uint64(n)
		err := json.Unmarshal(data, &v.Attempt)
		return v, err
	}},
	{storecopy.KindAccountEvent, "SELECT data FROM account_events ORDER BY account_id, seq", func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.AccountEvent
		err := scanJSON(r, &v.Event)
		return v, err
	}},
	{storecopy.KindMessage, "SELECT queued, data FROM messages ORDER BY endpoint_id, stream, seq", func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.Message
		var data []byte
		if err := r.Scan(&v.Pending, &data); err != nil {
			return nil, err
		}
		err := json.Unmarshal(data, &v.Message)
		return v, err
	}},
	{storecopy.KindStream, `SELECT destination, stream, account_id, due_at, attempts, first_attempt_at,
		coalesce(batch_id, ''), coalesce(batch_end, 0) FROM delivery_streams ORDER BY destination, stream`,
		func(r pgx.Rows) (storecopy.Record, error) {
			var v storecopy.Stream
			var end int64
			if err := r.Scan(&v.Destination, &v.Stream, &v.AccountID, &v.DueAt, &v.Attempts, &v.FirstAttemptAt, &v.BatchID, &end); err != nil {
				return nil, err
			}
			v.DueAt, v.FirstAttemptAt, v.BatchEnd = v.DueAt.UTC(), utcPtr(v.FirstAttemptAt), uint64(end)
			return v, nil
		}},
	{storecopy.KindRedelivery, `SELECT destination, stream, message_id, account_id, requested_at FROM redeliveries
		ORDER BY destination, stream, message_id`, func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.Redelivery
		if err := r.Scan(&v.Destination, &v.Stream, &v.MessageID, &v.AccountID, &v.RequestedAt); err != nil {
			return nil, err
		}
		v.RequestedAt = v.RequestedAt.UTC()
		return v, nil
	}},
	{storecopy.KindPushDeletion, "SELECT due_at, " + pushDeletionColumns + " FROM push_deletions ORDER BY queued_at, id",
		func(r pgx.Rows) (storecopy.Record, error) {
			var v storecopy.PushDeletion
			d, err := scanPushDeletion(r, &v.DueAt)
			v.Deletion, v.DueAt = d, v.DueAt.UTC()
			return v, err
		}},
	{storecopy.KindSequences, `SELECT account_id, max(u), max(a), max(e) FROM (
			SELECT account_id, update_seq AS u, 0 AS a, 0 AS e FROM account_counters
			UNION ALL SELECT account_id, 0, seq, 0 FROM audit_counters
			UNION ALL SELECT account_id, 0, 0, seq FROM account_event_counters) c
		GROUP BY account_id HAVING max(u) > 0 OR max(a) > 0 OR max(e) > 0 ORDER BY account_id`,
		func(r pgx.Rows) (storecopy.Record, error) {
			var v storecopy.Sequences
			var u, a, e int64
			if err := r.Scan(&v.AccountID, &u, &a, &e); err != nil {
				return nil, err
			}
			v.Updates, v.Audit, v.Events = uint64(u), uint64(a), uint64(e)
			return v, nil
		}},
	{storecopy.KindRetention, "SELECT pruned, last_prune_at FROM store_stats", func(r pgx.Rows) (storecopy.Record, error) {
		var v storecopy.Retention
		var pruned []byte
		if err := r.Scan(&pruned, &v.LastPruneAt); err != nil {
			return nil, err
		}
		v.LastPruneAt = utcPtr(v.LastPruneAt)
		err := json.Unmarshal(pruned, &v.Pruned)
		return v, err
	}},
}

// dumpRows runs q in tx and emits a record of each row.
func dumpRows(ctx context.Context, tx pgx.Tx, q dumpQuery, emit func(storecopy.Record) error) error {
	rows, err := tx.Query(ctx, q.sql)
	if err != nil {
		return fmt.Errorf("postgres: dump %s: %w", q.kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := q.scan(rows)
		if err != nil {
			return fmt.Errorf("postgres: dump %s: %w", q.kind, err)
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: dump %s: %w", q.kind, err)
	}
	return nil
}

// scanJSON decodes a row of one JSON column into v.
func scanJSON(r pgx.Rows, v any) error {
	var data []byte
	if err := r.Scan(&data); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
