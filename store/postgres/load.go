package postgres

// Load: the store built from storecopy's records, for `trackhook store copy` into
// PostgreSQL, in one transaction (a failed load leaves the database as it was). Rows
// go in with COPY, loadBatch at a time; what the records leave out is derived at the
// end by a few statements over what was loaded (see the list in dump.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/storecopy"
)

// loadBatch is how many rows one COPY writes.
const loadBatch = 5000

// Load writes the records into the store, which is empty (see storecopy.Backend).
func (db *DB) Load(ctx context.Context, records iter.Seq2[storecopy.Record, error]) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: load: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	l := &loader{tx: tx}
	for r, err := range records {
		if err != nil {
			return err
		}
		if err := l.add(ctx, r); err != nil {
			return fmt.Errorf("postgres: load %s: %w", r.Kind(), err)
		}
	}
	if err := l.finish(ctx); err != nil {
		return fmt.Errorf("postgres: load: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: load: commit: %w", err)
	}
	return nil
}

// loader gathers the rows of one table at a time (records come kind by kind) and
// copies them in batches.
type loader struct {
	tx   pgx.Tx
	rows *tableRows
	// What the last statements need: each account's last numbers and retention's
	// counts.
	sequences []storecopy.Sequences
	retention *storecopy.Retention
	// What the list and the search know of the snapshots of the batch being
	// gathered: each one's ETA and summary, and its container numbers.
	etaRefs, numberRefs, numbers []string
	etas, firstETAs              []*time.Time
	summaries                    [][]byte
	arrived                      []bool
}

// tableRows are rows waiting to be copied into table.
type tableRows struct {
	table   string
	columns []string
	rows    [][]any
}

// Columns of each table a record kind fills.
var (
	copyAccountColumns  = []string{"id", "created_at", "data"}
	copyApiKeyColumns   = []string{"hash", "id", "account_id", "prefix", "created_at", "revoked_at", "last_used_at", "data"}
	copyAuditColumns    = []string{"account_id", "seq", "at", "data"}
	copyEndpointColumns = []string{"id", "account_id", "created_at", "enabled", "data"}
	// refColumns' (A's, in refs.go) first: the columns that change with a reference.
	copyRefColumns = []string{"id", "status", "updated_at", "next_poll_at", "unsubscribed_at", "delivers",
		"delivered_seq", "last_seq", "data", "account_id", "created_at", "ident_kind", "ident_value", "carrier_code"}
	copyShipmentColumns = []string{"ref_id", "data"}
	copyUpdateColumns   = []string{"ref_id", "seq", "id", "account_id", "account_seq", "created_at", "data"}
	copyIdemColumns     = []string{"account_id", "key", "expires_at", "data"}
	copyAttemptColumns  = []string{"ref_id", "n", "attempted_at", "data"}
	copyEventColumns    = []string{"account_id", "seq", "id", "created_at", "data"}
	copyMessageColumns  = []string{"endpoint_id", "stream", "seq", "id", "account_id", "created_at", "status", "queued",
		"last_attempt_at", "data"}
	copyStreamColumns     = []string{"destination", "stream", "account_id", "due_at", "attempts", "first_attempt_at", "batch_id", "batch_end"}
	copyRedeliveryColumns = []string{"destination", "stream", "message_id", "account_id", "requested_at"}
	copyPushDelColumns    = []string{"source", "subscription_id", "reference_id", "account_id", "queued_at", "due_at",
		"attempts", "last_error"}
)

// add turns a record into its row (or keeps it for finish).
func (l *loader) add(ctx context.Context, r storecopy.Record) error {
	switch v := r.(type) {
	case storecopy.Account:
		return l.row(ctx, "accounts", copyAccountColumns, v.Account.ID, v.Account.CreatedAt, &v.Account)
	case storecopy.APIKey:
		k := v.Key
		used := k.LastUsedAt
		k.LastUsedAt = nil // its column's
		return l.row(ctx, "api_keys", copyApiKeyColumns, k.Hash, k.ID, k.AccountID, k.Prefix, k.CreatedAt, k.RevokedAt, used, &k)
	case storecopy.AuditEntry:
		e := v.Entry
		e.At = e.At.UTC()
		return l.row(ctx, "audit", copyAuditColumns, e.AccountID, int64(e.Sequence), e.At, &e)
	case storecopy.Endpoint:
		ep := &v.Endpoint
		return l.row(ctx, "endpoints", copyEndpointColumns, ep.ID, ep.AccountID, ep.CreatedAt, ep.Enabled, ep)
	case storecopy.Reference:
		ref := &v.Reference
		cols, err := refColumns(ref)
		if err != nil {
			return err
		}
		kind, value := ref.Identifier()
		return l.row(ctx, "refs", copyRefColumns, append(cols, ref.AccountID, ref.CreatedAt, string(kind), value, ref.CarrierCode)...)
	case storecopy.Shipment:
		if err := l.row(ctx, "shipments", copyShipmentColumns, v.ReferenceID, &v.Shipment); err != nil {
			return err
		}
		// The summary of the snapshot, after the first ETA the record carries when it
		// is not the snapshot's own.
		var prev *references.ShipmentSummary
		if v.FirstETA != nil {
			prev = &references.ShipmentSummary{FirstETA: v.FirstETA}
		}
		sum, err := summarize(prev, &v.Shipment)
		if err != nil {
			return err
		}
		l.etaRefs, l.etas = append(l.etaRefs, v.ReferenceID), append(l.etas, v.Shipment.ETA)
		l.summaries, l.firstETAs, l.arrived = append(l.summaries, sum.json), append(l.firstETAs, sum.firstETA), append(l.arrived, sum.arrived)
		for i := range v.Shipment.Containers {
			l.numberRefs, l.numbers = append(l.numberRefs, v.ReferenceID), append(l.numbers, v.Shipment.Containers[i].Number)
		}
		return nil
	case storecopy.Update:
		u := &v.Update
		return l.row(ctx, "updates", copyUpdateColumns, u.ReferenceID, int64(u.Sequence), u.ID, v.AccountID,
			int64(v.AccountSequence), u.CreatedAt, u)
	case storecopy.Idempotency:
		rec := idempotencyRecord{ReferenceID: v.ReferenceID, RequestHash: v.RequestHash}
		if v.Batch != nil {
			rec.Batch = make([]batchOutcome, len(v.Batch))
			for i, o := range v.Batch {
				rec.Batch[i] = batchOutcome(o)
			}
		}
		return l.row(ctx, "idempotency", copyIdemColumns, v.AccountID, v.Key, v.ExpiresAt, &rec)
	case storecopy.Attempt:
		a := &v.Attempt
		return l.row(ctx, "delivery_attempts", copyAttemptColumns, a.ReferenceID, int64(v.N), a.At.UTC(), a)
	case storecopy.AccountEvent:
		e := &v.Event
		return l.row(ctx, "account_events", copyEventColumns, e.AccountID, int64(e.Sequence), e.ID, e.CreatedAt, e)
	case storecopy.Message:
		m := &v.Message
		var last *time.Time
		if a := m.LastAttempt(); a != nil {
			last = &a.At
		}
		return l.row(ctx, "messages", copyMessageColumns, m.EndpointID, messageStream(m), int64(m.Sequence), m.ID, m.AccountID,
			m.CreatedAt, string(m.Status), v.Pending, last, m)
	case storecopy.Stream:
		var batchID *string
		var batchEnd *int64
		if v.BatchID != "" {
			end := int64(v.BatchEnd)
			batchID, batchEnd = &v.BatchID, &end
		}
		return l.row(ctx, "delivery_streams", copyStreamColumns, v.Destination, v.Stream, v.AccountID, v.DueAt,
			v.Attempts, v.FirstAttemptAt, batchID, batchEnd)
	case storecopy.Redelivery:
		return l.row(ctx, "redeliveries", copyRedeliveryColumns, v.Destination, v.Stream, v.MessageID, v.AccountID, v.RequestedAt)
	case storecopy.PushDeletion:
		d := &v.Deletion
		return l.row(ctx, "push_deletions", copyPushDelColumns, d.Source, d.SubscriptionID, d.ReferenceID, d.AccountID,
			d.QueuedAt, v.DueAt, d.Attempts, d.LastError)
	case storecopy.Sequences:
		l.sequences = append(l.sequences, v)
		return nil
	case storecopy.Retention:
		l.retention = &v
		return nil
	}
	return fmt.Errorf("a record of unknown kind %T", r)
}

// row adds a row to table, copying the rows gathered so far first when they are of
// another table or make a full batch. The last value of a table with a data column,
// the domain value, is encoded as its JSON.
func (l *loader) row(ctx context.Context, table string, columns []string, values ...any) error {
	if l.rows != nil && (l.rows.table != table || len(l.rows.rows) >= loadBatch) {
		if err := l.flush(ctx); err != nil {
			return err
		}
	}
	if n := len(values) - 1; len(columns) > 0 && columns[len(columns)-1] == "data" {
		data, err := json.Marshal(values[n])
		if err != nil {
			return fmt.Errorf("encode a row of %s: %w", table, err)
		}
		values[n] = data
	}
	if l.rows == nil {
		l.rows = &tableRows{table: table, columns: columns}
	}
	l.rows.rows = append(l.rows.rows, values)
	return nil
}

// flush copies the rows gathered.
func (l *loader) flush(ctx context.Context) error {
	t := l.rows
	l.rows = nil
	if t == nil || len(t.rows) == 0 {
		return nil
	}
	if _, err := l.tx.CopyFrom(ctx, pgx.Identifier{t.table}, t.columns, pgx.CopyFromRows(t.rows)); err != nil {
		return fmt.Errorf("copy %d rows into %s: %w", len(t.rows), t.table, err)
	}
	if t.table == "shipments" {
		return l.searchFacts(ctx)
	}
	return nil
}

// searchFacts writes what the list and the search know of the snapshots just copied,
// as RecordPoll does for one: each reference's ETA and summary in its row, its
// container numbers in ref_numbers.
func (l *loader) searchFacts(ctx context.Context) error {
	_, err := l.tx.Exec(ctx, `UPDATE refs SET eta = s.eta, summary = s.summary, first_eta = s.first_eta, arrived = s.arrived
		FROM unnest($1::text[], $2::timestamptz[], $3::jsonb[], $4::timestamptz[], $5::boolean[])
			AS s(ref_id, eta, summary, first_eta, arrived)
		WHERE refs.id = s.ref_id`, l.etaRefs, l.etas, l.summaries, l.firstETAs, l.arrived)
	if err != nil {
		return fmt.Errorf("the ETAs and summaries of snapshots: %w", err)
	}
	_, err = l.tx.Exec(ctx, `INSERT INTO ref_numbers (account_id, number, ref_id)
		SELECT DISTINCT r.account_id, s.number, r.id
		FROM unnest($1::text[], $2::text[]) AS s(ref_id, number) JOIN refs r ON r.id = s.ref_id
		ON CONFLICT DO NOTHING`, l.numberRefs, l.numbers)
	if err != nil {
		return fmt.Errorf("the container numbers of snapshots: %w", err)
	}
	l.etaRefs, l.etas, l.numberRefs, l.numbers = nil, nil, nil, nil
	l.summaries, l.firstETAs, l.arrived = nil, nil, nil
	return nil
}

// finish copies the last rows and derives what the records leave out: whether each
// stream waits (for its paused reference, its disabled endpoint), the accounts'
// counters (active references from the references, last numbers from the numbered
// rows and the Sequences records, whichever is higher), the delivery log's sequence,
// and retention's counts.
func (l *loader) finish(ctx context.Context) error {
	if err := l.flush(ctx); err != nil {
		return err
	}
	var accounts []string
	var updates, audit, events []int64
	for _, s := range l.sequences {
		accounts = append(accounts, s.AccountID)
		updates, audit, events = append(updates, int64(s.Updates)), append(audit, int64(s.Audit)), append(events, int64(s.Events))
	}
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"paused references' streams", `UPDATE delivery_streams s SET ref_paused = true
			FROM refs r WHERE r.id = s.stream AND r.status = 'paused'`, nil},
		{"disabled endpoints' streams", `UPDATE delivery_streams s SET endpoint_disabled = true
			FROM endpoints e WHERE e.id = s.destination AND NOT e.enabled`, nil},
		{"account counters", `INSERT INTO account_counters (account_id, active_refs, update_seq)
			SELECT account_id, sum(active), max(seq) FROM (
				SELECT account_id, count(*) FILTER (WHERE status <> 'unsubscribed') AS active, 0 AS seq FROM refs GROUP BY account_id
				UNION ALL SELECT account_id, 0, max(account_seq) FROM updates GROUP BY account_id
				UNION ALL SELECT a, 0, u FROM unnest($1::text[], $2::bigint[]) AS s(a, u)) c
			GROUP BY account_id`, []any{accounts, updates}},
		{"audit counters", `INSERT INTO audit_counters (account_id, seq)
			SELECT account_id, max(seq) FROM (
				SELECT account_id, max(seq) AS seq FROM audit GROUP BY account_id
				UNION ALL SELECT a, n FROM unnest($1::text[], $2::bigint[]) AS s(a, n)) c
			GROUP BY account_id HAVING max(seq) > 0`, []any{accounts, audit}},
		{"operational event counters", `INSERT INTO account_event_counters (account_id, seq)
			SELECT account_id, max(seq) FROM (
				SELECT account_id, max(seq) AS seq FROM account_events GROUP BY account_id
				UNION ALL SELECT a, n FROM unnest($1::text[], $2::bigint[]) AS s(a, n)) c
			GROUP BY account_id HAVING max(seq) > 0`, []any{accounts, events}},
		{"the delivery log's sequence", `SELECT setval(pg_get_serial_sequence('delivery_attempts', 'n'), max(n))
			FROM delivery_attempts HAVING max(n) IS NOT NULL`, nil},
	}
	for _, s := range steps {
		if _, err := l.tx.Exec(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	if r := l.retention; r != nil {
		pruned, err := json.Marshal(&r.Pruned)
		if err != nil {
			return fmt.Errorf("encode retention's counts: %w", err)
		}
		if _, err := l.tx.Exec(ctx, "UPDATE store_stats SET pruned = $1, last_prune_at = $2", pruned, r.LastPruneAt); err != nil {
			return fmt.Errorf("retention's counts: %w", err)
		}
	}
	return nil
}

var _ storecopy.Backend = (*DB)(nil)
