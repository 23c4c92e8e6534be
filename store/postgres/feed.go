package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// The feeds: each reference's updates numbered 1, 2, 3 ... in refs.data's
// LastSequence, and the account feed numbered 1, 2, 3 ... per account in
// account_counters.update_seq. Both numbers are given in the transaction that appends
// the update, which holds the reference's row and then the account's counters row:
// concurrent polls of one account take turns at the counter, and a transaction that
// fails gives its numbers back, so the account feed has no gap and no duplicate.

// Bounds on the entries one read of the account feed walks when a types filter drops
// most of them, as bbolt's: max(minAccountFeedScan, accountFeedScanPerItem×limit).
const (
	minAccountFeedScan     = 10_000
	accountFeedScanPerItem = 20
)

// appendUpdates appends ups to ref's feed (sequences after ref.LastSequence, account
// sequences from account_counters), moves ref.LastSequence on, and queues their
// deliveries (queueCallback, fanOutUpdates), in tx. ups are completed in place (id,
// sequences, the reference's summary). The caller holds ref's row and writes ref
// afterwards.
func (db *DB) appendUpdates(ctx context.Context, tx pgx.Tx, ref *references.Reference, ups []references.Update, now time.Time) error {
	if len(ups) == 0 {
		return nil
	}
	var last int64
	err := tx.QueryRow(ctx, `INSERT INTO account_counters (account_id, update_seq) VALUES ($1, $2)
		ON CONFLICT (account_id) DO UPDATE SET update_seq = account_counters.update_seq + EXCLUDED.update_seq
		RETURNING update_seq`, ref.AccountID, len(ups)).Scan(&last)
	if err != nil {
		return fmt.Errorf("postgres: number updates in account %s: %w", ref.AccountID, err)
	}
	first := last - int64(len(ups)) + 1
	seqs := make([]int64, len(ups))
	ids := make([]string, len(ups))
	accountSeqs := make([]int64, len(ups))
	created := make([]time.Time, len(ups))
	data := make([]string, len(ups))
	for i := range ups {
		u := &ups[i]
		ref.LastSequence++
		u.Sequence = ref.LastSequence
		u.ReferenceID = ref.ID
		if u.ID == "" {
			u.ID = references.NewID("upd_")
		}
		u.Reference = ref.Summary()
		b, err := json.Marshal(u)
		if err != nil {
			return fmt.Errorf("postgres: encode update: %w", err)
		}
		seqs[i], ids[i], accountSeqs[i], created[i], data[i] = int64(u.Sequence), u.ID, first+int64(i), u.CreatedAt, string(b)
	}
	_, err = tx.Exec(ctx, `INSERT INTO updates (ref_id, seq, id, account_id, account_seq, created_at, data)
		SELECT $1, s, i, $2, a, c, d::jsonb
		FROM unnest($3::bigint[], $4::text[], $5::bigint[], $6::timestamptz[], $7::text[]) AS u(s, i, a, c, d)`,
		ref.ID, ref.AccountID, seqs, ids, accountSeqs, created, data)
	if err != nil {
		return fmt.Errorf("postgres: append updates to %s: %w", ref.ID, err)
	}
	// The callback's stream before the endpoints' messages: the lock order of tx.go.
	if ref.CallbackURL == "" {
		// No receiver: the update is "delivered" by being readable in the feed.
		ref.DeliveredSequence = ref.LastSequence
	} else if err := db.queueCallback(ctx, tx, ref, now); err != nil {
		return err
	}
	return db.fanOutUpdates(ctx, tx, ref, ups)
}

// ListUpdates returns up to limit updates of the account's reference with a sequence
// above after, in sequence order.
func (db *DB) ListUpdates(ctx context.Context, accountID, refID string, after uint64, limit int) ([]references.Update, error) {
	if _, err := getAccountReference(ctx, db.pool, accountID, refID, false); err != nil {
		return nil, fmt.Errorf("postgres: list updates of %s: %w", refID, err)
	}
	if after >= math.MaxInt64 || limit <= 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, "SELECT data FROM updates WHERE ref_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
		refID, int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list updates of %s: %w", refID, err)
	}
	defer rows.Close()
	var out []references.Update
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("postgres: list updates of %s: %w", refID, err)
		}
		var u references.Update
		if err := json.Unmarshal(b, &u); err != nil {
			return nil, fmt.Errorf("postgres: decode an update of %s: %w", refID, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list updates of %s: %w", refID, err)
	}
	return out, nil
}

// ListAccountUpdates returns a page of the account feed after q.After, in account
// sequence order, reading at most max(minAccountFeedScan, 20×limit) entries when a
// types filter drops some.
func (db *DB) ListAccountUpdates(ctx context.Context, accountID string, q references.AccountUpdateQuery) (references.AccountUpdatePage, error) {
	limit := references.PageSize(q.Limit)
	page := references.AccountUpdatePage{Updates: []references.AccountUpdate{}, NextAfter: q.After}
	var last, oldest int64
	err := db.pool.QueryRow(ctx, `SELECT
		COALESCE((SELECT update_seq FROM account_counters WHERE account_id = $1), 0),
		COALESCE((SELECT account_seq FROM updates WHERE account_id = $1 ORDER BY account_seq LIMIT 1), 0)`,
		accountID).Scan(&last, &oldest)
	if err != nil {
		return page, fmt.Errorf("postgres: list the account feed of %s: %w", accountID, err)
	}
	page.LastSequence, page.OldestAvailable = uint64(last), uint64(oldest)
	if q.After >= page.LastSequence {
		return page, nil
	}
	budget := max(minAccountFeedScan, accountFeedScanPerItem*limit)
	chunk := limit
	if len(q.Types) > 0 {
		chunk = min(budget, max(4*limit, 100)) // the filter may drop many
	}
	after := int64(q.After)
	for read := 0; read < budget && len(page.Updates) < limit; {
		n, err := db.readAccountUpdates(ctx, accountID, q.Types, after, min(chunk, budget-read), limit, &page)
		if err != nil {
			return page, fmt.Errorf("postgres: list the account feed of %s: %w", accountID, err)
		}
		if n == 0 {
			break
		}
		read += n
		after = int64(page.NextAfter)
	}
	return page, nil
}

// readAccountUpdates reads up to n entries of the account feed after after, adding
// those types keeps to page until it holds limit, and moving page.NextAfter past each
// entry read. It returns how many entries it read.
func (db *DB) readAccountUpdates(ctx context.Context, accountID string, types []string, after int64, n, limit int, page *references.AccountUpdatePage) (int, error) {
	rows, err := db.pool.Query(ctx, `SELECT account_seq, data FROM updates
		WHERE account_id = $1 AND account_seq > $2 ORDER BY account_seq LIMIT $3`, accountID, after, n)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	read := 0
	for rows.Next() {
		if len(page.Updates) == limit {
			break
		}
		var seq int64
		var b []byte
		if err := rows.Scan(&seq, &b); err != nil {
			return read, err
		}
		read++
		page.NextAfter = uint64(seq)
		var u references.Update
		if err := json.Unmarshal(b, &u); err != nil {
			return read, fmt.Errorf("decode update %d: %w", seq, err)
		}
		if references.UpdateMatchesTypes(&u, types) {
			page.Updates = append(page.Updates, references.AccountUpdate{AccountSequence: uint64(seq), Update: u})
		}
	}
	return read, rows.Err()
}
