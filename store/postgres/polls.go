package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// A poll's lease lives in its reference's row (poll_owner, poll_token,
// poll_lease_until). A claim is one statement that locks the due rows it takes with
// FOR UPDATE SKIP LOCKED, so instances claiming at once never take the same reference,
// and the lease's end is decided by the database's clock (see clockArg).

// clockArg is the test clock's now as a statement argument, or nil in production,
// where statements compare with COALESCE($n::timestamptz, now()): the database's
// clock, read in the same round trip as the work.
func (db *DB) clockArg() any {
	if db.clock == nil {
		return nil
	}
	return db.clock.Now().UTC().Truncate(time.Microsecond)
}

// GetReference returns a reference of the account; another account's is not found.
func (db *DB) GetReference(ctx context.Context, accountID, id string) (references.Reference, error) {
	ref, err := getAccountReference(ctx, db.pool, accountID, id, false)
	if err != nil {
		return references.Reference{}, fmt.Errorf("postgres: get reference: %w", err)
	}
	return ref, nil
}

// ClaimDuePolls leases up to limit due active references to owner, most overdue first,
// in one statement: rows another claim is taking are skipped, not waited for. The
// clock is a scalar of the statement (not a joined CTE) so that it bounds the scan of
// refs_due rather than filtering it.
func (db *DB) ClaimDuePolls(ctx context.Context, owner string, limit int, lease time.Duration) ([]references.PollClaim, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `
		WITH c AS (
			SELECT id FROM refs
			WHERE status = 'active' AND next_poll_at <= COALESCE($1::timestamptz, now())
			  AND (poll_lease_until IS NULL OR poll_lease_until <= COALESCE($1::timestamptz, now()))
			ORDER BY next_poll_at, id
			LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE refs r SET poll_owner = $3, poll_token = nextval('lease_tokens'),
			poll_lease_until = COALESCE($1::timestamptz, now()) + $4::interval
		FROM c WHERE r.id = c.id
		RETURNING r.poll_token, r.poll_lease_until, r.data`,
		db.clockArg(), limit, owner, lease)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim due polls: %w", err)
	}
	claims, err := scanPollClaims(rows, owner)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim due polls: %w", err)
	}
	slices.SortFunc(claims, func(a, b references.PollClaim) int {
		if c := a.Reference.NextPollAt.Compare(*b.Reference.NextPollAt); c != 0 {
			return c
		}
		return strings.Compare(a.Reference.ID, b.Reference.ID)
	})
	return claims, nil
}

// scanPollClaims reads the claims a claiming statement returns (token, lease end,
// reference).
func scanPollClaims(rows pgx.Rows, owner string) ([]references.PollClaim, error) {
	defer rows.Close()
	var claims []references.PollClaim
	for rows.Next() {
		var token int64
		var until time.Time
		var data []byte
		if err := rows.Scan(&token, &until, &data); err != nil {
			return nil, err
		}
		ref, err := decodeReference(data)
		if err != nil {
			return nil, err
		}
		claims = append(claims, references.PollClaim{
			Lease:     grantLease(references.PollLeaseKey(ref.ID), owner, token, until.UTC()),
			Reference: ref,
		})
	}
	return claims, rows.Err()
}

// ClaimPoll leases one active reference's poll to owner now, due or not (a poll on
// demand); ErrBusy while another lease on it is live.
func (db *DB) ClaimPoll(ctx context.Context, owner, refID string, lease time.Duration) (references.PollClaim, error) {
	rows, err := db.pool.Query(ctx, `
		WITH now AS (SELECT COALESCE($1::timestamptz, now()) AS t)
		UPDATE refs SET poll_owner = $3, poll_token = nextval('lease_tokens'),
			poll_lease_until = (SELECT t FROM now) + $4::interval
		WHERE id = $2 AND status = 'active'
		  AND (poll_lease_until IS NULL OR poll_lease_until <= (SELECT t FROM now))
		RETURNING poll_token, poll_lease_until, data`,
		db.clockArg(), refID, owner, lease)
	if err != nil {
		return references.PollClaim{}, fmt.Errorf("postgres: claim poll of %s: %w", refID, err)
	}
	claims, err := scanPollClaims(rows, owner)
	if err != nil {
		return references.PollClaim{}, fmt.Errorf("postgres: claim poll of %s: %w", refID, err)
	}
	if len(claims) == 1 {
		return claims[0], nil
	}
	// Not claimed: say why.
	ref, err := getReference(ctx, db.pool, refID, false)
	switch {
	case err != nil:
		return references.PollClaim{}, fmt.Errorf("postgres: claim poll of %s: %w", refID, err)
	case !ref.Active():
		return references.PollClaim{}, references.Errorf(references.CodeConflict, "reference %s is %s: it is not polled", refID, ref.Status)
	}
	return references.PollClaim{}, fmt.Errorf("postgres: claim poll of %s: %w", refID, references.ErrBusy)
}

// pollSubject returns the reference id of a poll lease.
func pollSubject(lease references.Lease) (string, error) {
	id, ok := strings.CutPrefix(lease.Key, "poll/")
	if !ok || id == "" {
		return "", fmt.Errorf("%w: %q is not a poll lease", references.ErrLeaseLost, lease.Key)
	}
	return id, nil
}

// heldPoll is a reference whose poll lease holdPoll checked: the reference, the
// clock's now, and the summary of its latest snapshot (JSON, nil without one).
type heldPoll struct {
	ref     references.Reference
	now     time.Time
	summary []byte
}

// holdPoll checks in tx that the poll lease is held, locks its reference's row until
// tx ends and returns the reference; ErrLeaseLost otherwise. One round trip.
func (db *DB) holdPoll(ctx context.Context, tx pgx.Tx, refID string, lease references.Lease) (heldPoll, error) {
	var data []byte
	var h heldPoll
	err := tx.QueryRow(ctx, `
		SELECT data, summary, COALESCE($3::timestamptz, now()) FROM refs
		WHERE id = $1 AND poll_token = $2 AND poll_lease_until > COALESCE($3::timestamptz, now())
		FOR UPDATE`, refID, int64(lease.Token), db.clockArg()).Scan(&data, &h.summary, &h.now)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, references.ErrLeaseLost
	}
	if err != nil {
		return h, fmt.Errorf("postgres: check lease %s: %w", lease.Key, err)
	}
	h.now = h.now.UTC()
	h.ref, err = decodeReference(data)
	return h, err
}

// RecordPoll writes the outcome of one claimed poll and ends its lease, in one
// transaction (see references.PollQueue).
func (db *DB) RecordPoll(ctx context.Context, lease references.Lease, res references.PollResult) (references.Reference, error) {
	refID, err := pollSubject(lease)
	if err != nil {
		return references.Reference{}, fmt.Errorf("postgres: record poll: %w", err)
	}
	if res.Quiet() {
		ref, done, err := db.recordQuietPoll(ctx, refID, lease, res)
		if err != nil {
			return references.Reference{}, fmt.Errorf("postgres: record poll of %s: %w", refID, err)
		}
		if done {
			return ref, nil
		}
	}
	var shipment []byte
	if res.Shipment != nil {
		if shipment, err = json.Marshal(res.Shipment); err != nil {
			return references.Reference{}, fmt.Errorf("postgres: encode shipment: %w", err)
		}
	}
	var ref references.Reference
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		held, err := db.holdPoll(ctx, tx, refID, lease)
		if err != nil {
			return err
		}
		ref = held.ref
		now := held.now
		if !ref.Active() { // unsubscribed or paused while polled: left as it is
			if err := db.queueStrayPush(ctx, tx, &ref, &res); err != nil {
				return err
			}
			return endPollLease(ctx, tx, refID)
		}
		res.ApplyTo(&ref) // before an unsubscribe, which queues the subscription it leaves
		polled := *ref.LastPolledAt
		if len(res.Updates) > 0 {
			ups := slices.Clone(res.Updates) // this function may run again
			if err := db.appendUpdates(ctx, tx, &ref, ups, now); err != nil {
				return err
			}
		}
		var snapshot *summaryRow
		if res.Shipment != nil {
			prev, err := decodeSummary(held.summary)
			if err != nil {
				return err
			}
			if snapshot, err = storeSnapshot(ctx, tx, &ref, prev, res.Shipment, shipment); err != nil {
				return err
			}
		}
		if res.EndsTracking() {
			if err := db.unsubscribe(ctx, tx, &ref, res.Unsubscribe, polled); err != nil {
				return err
			}
		}
		return savePolled(ctx, tx, &ref, snapshot)
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("postgres: record poll of %s: %w", refID, err)
	}
	return ref, nil
}

// quietPollFields are the fields of a Reference that a poll bringing nothing new
// changes, named as encoding/json names them in refs.data.
type quietPollFields struct {
	LastPolledAt        *time.Time
	NextPollAt          *time.Time
	LastPollError       string
	ConsecutiveFailures int
	NotFoundSince       *time.Time
	UpdatedAt           time.Time
}

// recordQuietPoll records a poll that brought nothing to store (see
// references.PollResult.Quiet) in one statement, without a transaction: the polling fields merged
// into data, the next due time, the lease ended, provided the lease is held and the
// reference active. done is false when it is not; RecordPoll's transaction then says
// why (a lost lease, or a reference unsubscribed or paused while it was polled).
func (db *DB) recordQuietPoll(ctx context.Context, refID string, lease references.Lease, res references.PollResult) (references.Reference, bool, error) {
	polled, next := res.PolledAt.UTC(), res.NextPollAt.UTC()
	patch, err := json.Marshal(quietPollFields{
		LastPolledAt: &polled, NextPollAt: &next, LastPollError: res.Error,
		ConsecutiveFailures: res.ConsecutiveFailures, NotFoundSince: res.NotFoundSince, UpdatedAt: polled,
	})
	if err != nil {
		return references.Reference{}, false, fmt.Errorf("postgres: encode poll: %w", err)
	}
	var data []byte
	err = db.pool.QueryRow(ctx, `UPDATE refs SET data = data || $3::jsonb, updated_at = $4, next_poll_at = $5,
			poll_owner = NULL, poll_token = NULL, poll_lease_until = NULL
		WHERE id = $1 AND poll_token = $2 AND poll_lease_until > COALESCE($6::timestamptz, now()) AND status = 'active'
		RETURNING data`, refID, int64(lease.Token), patch, polled, next, db.clockArg()).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return references.Reference{}, false, nil
	}
	if err != nil {
		return references.Reference{}, false, fmt.Errorf("postgres: save reference %s: %w", refID, err)
	}
	ref, err := decodeReference(data)
	return ref, err == nil, err
}

// endPollLease ends the poll lease of a reference whose row tx holds.
func endPollLease(ctx context.Context, tx pgx.Tx, refID string) error {
	_, err := tx.Exec(ctx, "UPDATE refs SET poll_owner = NULL, poll_token = NULL, poll_lease_until = NULL WHERE id = $1", refID)
	if err != nil {
		return fmt.Errorf("postgres: end the poll lease of %s: %w", refID, err)
	}
	return nil
}

// savePolled is saveReference for a recorded poll: it also ends the poll's lease
// and, when the poll stored a snapshot, writes its ETA and summary, in the same
// statement.
func savePolled(ctx context.Context, tx pgx.Tx, ref *references.Reference, snapshot *summaryRow) error {
	const endLease = ", poll_owner = NULL, poll_token = NULL, poll_lease_until = NULL"
	if snapshot == nil {
		return updateReference(ctx, tx, ref, endLease)
	}
	return updateReference(ctx, tx, ref, endLease+", eta = $10, summary = $11, first_eta = $12, arrived = $13",
		snapshot.sum.ETA, snapshot.json, snapshot.firstETA, snapshot.arrived)
}

// storeSnapshot makes s (encoded: data) ref's latest snapshot, with its container
// numbers in ref_numbers for the search, and returns its summary (after prev, the
// stored one), which the caller writes with ref's row (see savePolled).
func storeSnapshot(ctx context.Context, tx pgx.Tx, ref *references.Reference, prev *references.ShipmentSummary, s *references.Shipment, data []byte) (*summaryRow, error) {
	sum, err := summarize(prev, s)
	if err != nil {
		return nil, err
	}
	numbers := make([]string, 0, len(s.Containers))
	for i := range s.Containers {
		numbers = append(numbers, s.Containers[i].Number)
	}
	_, err = tx.Exec(ctx, `
		WITH s AS (
			INSERT INTO shipments (ref_id, data) VALUES ($1, $2)
			ON CONFLICT (ref_id) DO UPDATE SET data = EXCLUDED.data),
		d AS (
			DELETE FROM ref_numbers WHERE ref_id = $1 AND NOT (number = ANY($4::text[])))
		INSERT INTO ref_numbers (account_id, number, ref_id)
		SELECT DISTINCT $3, n, $1 FROM unnest($4::text[]) AS n
		ON CONFLICT DO NOTHING`,
		ref.ID, data, ref.AccountID, numbers)
	if err != nil {
		return nil, fmt.Errorf("postgres: store the snapshot of %s: %w", ref.ID, err)
	}
	return &sum, nil
}

// Shipment returns the reference's last stored snapshot, or nil before the first
// successful poll.
func (db *DB) Shipment(ctx context.Context, refID string) (*references.Shipment, error) {
	var data []byte
	err := db.pool.QueryRow(ctx, "SELECT data FROM shipments WHERE ref_id = $1", refID).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: shipment of %s: %w", refID, err)
	}
	var s references.Shipment
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("postgres: decode the shipment of %s: %w", refID, err)
	}
	return &s, nil
}
