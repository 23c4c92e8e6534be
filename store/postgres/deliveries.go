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

// Delivery streams and requested redeliveries handed out with leases: the claim, the
// job each claimed stream sends next, and postponing. A claim is one statement that
// leases the most overdue streams and redeliveries at once with FOR UPDATE SKIP
// LOCKED, so instances claiming together never get the same work; then each claimed
// stream's first job is read as NextDelivery reads it, and a stream found drained (or
// a redelivery whose update is gone) is removed and not handed out.

// maxClaimRounds bounds the claiming statements of one ClaimDueDeliveries: a round
// that hands out less than it leased (drained streams, dropped redeliveries) is
// followed by another for the rest of the limit, so that dead work never takes the
// place of live work, but a claim always ends.
const maxClaimRounds = 8

// claimedWork is one row a claim leased: a stream, or a redelivery (messageID set).
type claimedWork struct {
	destination, stream, messageID string
	due                            time.Time
	lease                          references.Lease
}

// ClaimDueDeliveries leases up to limit due delivery streams (callbacks' and
// endpoints') and requested redeliveries and resends to owner, most overdue first,
// each with its first job (see references.DeliveryQueue). A redelivery is due from
// when it was asked for.
func (db *DB) ClaimDueDeliveries(ctx context.Context, owner string, limit int, lease time.Duration) ([]references.DeliveryClaim, error) {
	var claims []references.DeliveryClaim
	for round := 0; round < maxClaimRounds && len(claims) < limit; round++ {
		work, now, err := db.claimWork(ctx, owner, limit-len(claims), lease)
		if err != nil {
			db.giveBack(ctx, claims, nil)
			return nil, err
		}
		if len(work) == 0 {
			break
		}
		for i := range work {
			job, ok, err := db.firstJob(ctx, &work[i], now)
			if err != nil {
				db.giveBack(ctx, claims, work[i:])
				return nil, fmt.Errorf("postgres: claim due deliveries: %w", err)
			}
			if ok {
				claims = append(claims, references.DeliveryClaim{Lease: work[i].lease, Job: job})
			}
		}
	}
	return claims, nil
}

// claimSQL leases up to $2 due streams and redeliveries together, most overdue first,
// to $3 for $4, at the clock's now ($1, or the database's). A stream is due at its
// due_at unless its reference is paused or its endpoint disabled; a redelivery is due
// from when it was asked for, unless its reference is paused or its endpoint
// disabled. Rows being claimed or written by another transaction are skipped.
const claimSQL = `
WITH now AS (SELECT COALESCE($1::timestamptz, now()) AS t),
s AS (
	SELECT destination, stream, due_at FROM delivery_streams
	WHERE due_at <= (SELECT t FROM now) AND NOT ref_paused AND NOT endpoint_disabled
	  AND (lease_until IS NULL OR lease_until <= (SELECT t FROM now))
	ORDER BY due_at LIMIT $2
	FOR UPDATE OF delivery_streams SKIP LOCKED),
r AS (
	SELECT destination, stream, message_id, requested_at FROM redeliveries
	WHERE (lease_until IS NULL OR lease_until <= (SELECT t FROM now))
	  AND NOT EXISTS (SELECT 1 FROM refs WHERE refs.id = redeliveries.stream AND refs.status = 'paused')
	  AND NOT EXISTS (SELECT 1 FROM endpoints WHERE endpoints.id = redeliveries.destination AND NOT endpoints.enabled)
	ORDER BY requested_at LIMIT $2
	FOR UPDATE OF redeliveries SKIP LOCKED),
pick AS (
	SELECT destination, stream, NULL::text AS message_id, due_at AS due FROM s
	UNION ALL
	SELECT destination, stream, message_id, requested_at FROM r
	ORDER BY due LIMIT $2),
leased_streams AS (
	UPDATE delivery_streams d SET lease_owner = $3, lease_token = nextval('lease_tokens'),
		lease_until = (SELECT t FROM now) + $4::interval
	FROM pick WHERE pick.message_id IS NULL AND d.destination = pick.destination AND d.stream = pick.stream
	RETURNING d.destination, d.stream, pick.message_id, pick.due, d.lease_token, d.lease_until),
leased_redeliveries AS (
	UPDATE redeliveries d SET lease_owner = $3, lease_token = nextval('lease_tokens'),
		lease_until = (SELECT t FROM now) + $4::interval
	FROM pick WHERE d.destination = pick.destination AND d.stream = pick.stream AND d.message_id = pick.message_id
	RETURNING d.destination, d.stream, pick.message_id, pick.due, d.lease_token, d.lease_until)
SELECT *, (SELECT t FROM now) FROM leased_streams
UNION ALL
SELECT *, (SELECT t FROM now) FROM leased_redeliveries`

// claimWork runs one claiming statement and returns what it leased, most overdue
// first, with the clock's now it was claimed at.
func (db *DB) claimWork(ctx context.Context, owner string, limit int, lease time.Duration) ([]claimedWork, time.Time, error) {
	rows, err := db.pool.Query(ctx, claimSQL, db.clockArg(), limit, owner, lease)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("postgres: claim due deliveries: %w", err)
	}
	defer rows.Close()
	var work []claimedWork
	var now time.Time
	for rows.Next() {
		var w claimedWork
		var messageID *string
		var token int64
		var until time.Time
		if err := rows.Scan(&w.destination, &w.stream, &messageID, &w.due, &token, &until, &now); err != nil {
			return nil, time.Time{}, fmt.Errorf("postgres: claim due deliveries: %w", err)
		}
		key := references.DeliveryLeaseKey(w.destination, w.stream)
		if messageID != nil {
			w.messageID = *messageID
			key = references.RedeliveryLeaseKey(w.destination, w.stream, w.messageID)
		}
		w.lease = grantLease(key, owner, token, until.UTC())
		work = append(work, w)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("postgres: claim due deliveries: %w", err)
	}
	slices.SortFunc(work, func(a, b claimedWork) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return strings.Compare(a.lease.Key, b.lease.Key)
	})
	return work, now.UTC(), nil
}

// firstJob reads the job a claimed stream or redelivery sends first, in a transaction
// of its own. ok is false when there is none: the stream was drained (its row is
// removed), its reference was paused meanwhile (it waits), or the redelivery was
// dropped.
func (db *DB) firstJob(ctx context.Context, w *claimedWork, now time.Time) (job references.DeliveryJob, ok bool, err error) {
	if w.messageID == "" && w.destination == references.DestinationCallback {
		job, ok, err = db.readyCallbackJob(ctx, w.stream, w.lease)
	}
	if err == nil && !ok {
		err = db.inTx(ctx, func(tx pgx.Tx) error {
			var err error
			if w.messageID != "" {
				job, ok, err = db.redeliveryJob(ctx, tx, w, now)
			} else {
				job, ok, err = db.nextJob(ctx, tx, w.destination, w.stream, w.lease)
			}
			return err
		})
	}
	if errors.Is(err, references.ErrLeaseLost) {
		return job, false, nil // the lease ran out already: another claim has it
	}
	return job, ok, err
}

// giveBack releases the leases of claims and of work a failed claim had leased, so
// that they are claimable at once rather than after the lease time.
func (db *DB) giveBack(ctx context.Context, claims []references.DeliveryClaim, work []claimedWork) {
	var leases []references.Lease
	for _, c := range claims {
		leases = append(leases, c.Lease)
	}
	for _, w := range work {
		leases = append(leases, w.lease)
	}
	for _, l := range leases {
		if err := db.ReleaseLease(context.WithoutCancel(ctx), l); err != nil {
			db.log.Warn("releasing a delivery lease after a failed claim", "lease", l.Key, "err", err)
		}
	}
}

// ClaimDelivery leases the callback stream of one reference to owner now, with its
// next job, due or not: a delivery on demand (notifier.DeliverNext). It fails with
// references.ErrNothingToDeliver when nothing waits, and references.ErrBusy while
// another lease on the stream is live.
func (db *DB) ClaimDelivery(ctx context.Context, owner, refID string, lease time.Duration) (references.DeliveryClaim, error) {
	var token int64
	var until time.Time
	err := db.pool.QueryRow(ctx, `
		WITH now AS (SELECT COALESCE($1::timestamptz, now()) AS t)
		UPDATE delivery_streams SET lease_owner = $4, lease_token = nextval('lease_tokens'),
			lease_until = (SELECT t FROM now) + $5::interval
		WHERE destination = $2 AND stream = $3 AND (lease_until IS NULL OR lease_until <= (SELECT t FROM now))
		RETURNING lease_token, lease_until`,
		db.clockArg(), references.DestinationCallback, refID, owner, lease).Scan(&token, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		var queued bool
		err = db.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM delivery_streams WHERE destination = $1 AND stream = $2)",
			references.DestinationCallback, refID).Scan(&queued)
		if err == nil && queued {
			err = references.ErrBusy
		} else if err == nil {
			err = references.ErrNothingToDeliver
		}
	}
	if err != nil {
		return references.DeliveryClaim{}, fmt.Errorf("postgres: claim delivery of %s: %w", refID, err)
	}
	l := grantLease(references.DeliveryLeaseKey(references.DestinationCallback, refID), owner, token, until.UTC())
	job, err := db.NextDelivery(ctx, l)
	if err != nil {
		if rerr := db.ReleaseLease(context.WithoutCancel(ctx), l); rerr != nil {
			db.log.Warn("releasing a delivery lease", "lease", l.Key, "err", rerr)
		}
		return references.DeliveryClaim{}, err
	}
	return references.DeliveryClaim{Lease: l, Job: job}, nil
}

// NextDelivery returns the next job of a leased delivery stream, in sequence order.
// For a callback, updates its event_types filter excludes are passed over (they stay
// in the feed); an endpoint's stream is read by nextEndpointJob. When nothing is left
// the stream's row is removed and references.ErrNothingToDeliver is returned; so it
// is when the row was removed already (the stream was dropped).
func (db *DB) NextDelivery(ctx context.Context, lease references.Lease) (references.DeliveryJob, error) {
	destination, stream, err := streamOfLease(lease)
	if err != nil {
		return references.DeliveryJob{}, fmt.Errorf("postgres: next delivery: %w", err)
	}
	var job references.DeliveryJob
	found := false
	if destination == references.DestinationCallback {
		job, found, err = db.readyCallbackJob(ctx, stream, lease)
	}
	if err == nil && !found {
		err = db.inTx(ctx, func(tx pgx.Tx) error {
			var err error
			job, found, err = db.nextJob(ctx, tx, destination, stream, lease)
			return err
		})
	}
	if errors.Is(err, errWorkGone) {
		// The stream's row went with what it had to send (a dead callback's, a
		// deleted endpoint's): for this lease it is drained. A stream queued again
		// since has a row of its own, which this lease does not hold.
		return references.DeliveryJob{}, references.ErrNothingToDeliver
	}
	if err != nil {
		return references.DeliveryJob{}, fmt.Errorf("postgres: next delivery of %s: %w", lease.Key, err)
	}
	if !found {
		return references.DeliveryJob{}, references.ErrNothingToDeliver
	}
	return job, nil
}

// streamOfLease returns the destination and stream a delivery stream's lease is on;
// ErrLeaseLost for a lease of other work.
func streamOfLease(lease references.Lease) (destination, stream string, err error) {
	rest, ok := strings.CutPrefix(lease.Key, "deliver/")
	if ok {
		destination, stream, ok = strings.Cut(rest, "/")
	}
	if !ok || destination == "" || stream == "" {
		return "", "", fmt.Errorf("%w: %q is not a lease of a delivery stream", references.ErrLeaseLost, lease.Key)
	}
	return destination, stream, nil
}

// nextJob reads the next job of a stream leased by lease, in tx, writing what that
// takes first (updates passed over, a drained stream's row removed); found is false
// when there is nothing to send. A callback's reference row is locked before the
// stream's, in the order of the transactions that append updates.
func (db *DB) nextJob(ctx context.Context, tx pgx.Tx, destination, stream string, lease references.Lease) (job references.DeliveryJob, found bool, err error) {
	if destination != references.DestinationCallback {
		_, now, err := db.holdStream(ctx, tx, destination, stream, lease)
		if err != nil {
			return job, false, err
		}
		// The seam removes a drained stream's row itself, and keeps a held one's.
		found, err := db.nextEndpointJob(ctx, tx, destination, stream, now, &job)
		return job, found, err
	}
	ref, err := getReference(ctx, tx, stream, true)
	gone := errors.Is(err, references.ErrNotFound)
	if err != nil && !gone {
		return job, false, err
	}
	st, now, err := db.holdStream(ctx, tx, destination, stream, lease)
	if err != nil {
		return job, false, err
	}
	if gone {
		return job, false, deleteStream(ctx, tx, destination, stream)
	}
	return db.callbackJob(ctx, tx, &ref, st, now)
}

// readyCallbackJob reads the next job of a leased callback stream in the common case,
// in one statement that locks and writes nothing (so commits nothing): the update
// after DeliveredSequence is in the feed and the reference's filter lets it through.
// ok is false when the case is not that one (an update to pass over, a drained or
// paused stream): nextJob then writes what it takes. An attempt of the job is checked
// again when it is recorded, under the lease and the locks.
func (db *DB) readyCallbackJob(ctx context.Context, refID string, lease references.Lease) (job references.DeliveryJob, ok bool, err error) {
	var refData, updateData, accountData []byte
	var st streamState
	var token *int64
	var until *time.Time
	var now time.Time
	err = db.pool.QueryRow(ctx, `
		SELECT r.data, u.data, a.data, s.attempts, s.first_attempt_at, s.lease_token, s.lease_until,
			COALESCE($3::timestamptz, now())
		FROM delivery_streams s
		JOIN refs r ON r.id = s.stream
		JOIN accounts a ON a.id = r.account_id
		LEFT JOIN updates u ON u.ref_id = r.id AND u.seq = r.delivered_seq + 1
		WHERE s.destination = $1 AND s.stream = $2 AND r.delivers AND r.status <> 'paused'
		  AND r.delivered_seq < r.last_seq`,
		references.DestinationCallback, refID, db.clockArg()).Scan(&refData, &updateData, &accountData,
		&st.Attempts, &st.FirstAttemptAt, &token, &until, &now)
	if errors.Is(err, pgx.ErrNoRows) {
		return job, false, nil
	}
	if err != nil {
		return job, false, fmt.Errorf("postgres: read the next job of %s: %w", refID, err)
	}
	if !holds(lease, token, until, now) {
		return job, false, references.ErrLeaseLost
	}
	if updateData == nil {
		return job, false, nil
	}
	if job.Reference, err = decodeReference(refData); err != nil {
		return job, false, err
	}
	if err := json.Unmarshal(updateData, &job.Update); err != nil {
		return job, false, fmt.Errorf("postgres: decode an update of %s: %w", refID, err)
	}
	if !job.Reference.WantsEvent(job.Update.Type) {
		return references.DeliveryJob{}, false, nil
	}
	acct, err := decodeAccount(accountData)
	if err != nil {
		return job, false, err
	}
	job.Destination = references.DestinationCallback
	job.Attempt = st.Attempts + 1
	if st.FirstAttemptAt != nil {
		job.FirstAttemptAt = st.FirstAttemptAt.UTC()
	}
	job.Secrets = acct.LiveSecrets(now.UTC())
	return job, true, nil
}

// callbackJob reads the next job of ref's callback stream (its row and ref's held by
// tx): the first update after DeliveredSequence that the reference's filter lets
// through. Updates passed over (filtered out, or gone) count as delivered, and the
// stream's retry state starts over with the update it sends now. A paused
// reference's stream waits out of the claims; a drained one is removed.
func (db *DB) callbackJob(ctx context.Context, tx pgx.Tx, ref *references.Reference, st streamState, now time.Time) (references.DeliveryJob, bool, error) {
	job := references.DeliveryJob{Destination: references.DestinationCallback}
	switch {
	case ref.Paused():
		return job, false, parkStream(ctx, tx, references.DestinationCallback, ref.ID)
	case !ref.Delivers():
		return job, false, deleteStream(ctx, tx, references.DestinationCallback, ref.ID)
	}
	delivered := ref.DeliveredSequence
	found, err := nextWantedUpdate(ctx, tx, ref, &job.Update)
	if err != nil {
		return job, false, err
	}
	if ref.DeliveredSequence != delivered {
		if err := saveReference(ctx, tx, ref); err != nil {
			return job, false, err
		}
		st = streamState{DueAt: st.DueAt}
		if found {
			if err := setStreamState(ctx, tx, references.DestinationCallback, ref.ID, st); err != nil {
				return job, false, err
			}
		}
	}
	if !found {
		return job, false, deleteStream(ctx, tx, references.DestinationCallback, ref.ID)
	}
	job.Reference = *ref
	job.Attempt = st.Attempts + 1
	if st.FirstAttemptAt != nil {
		job.FirstAttemptAt = *st.FirstAttemptAt
	}
	job.Secrets, err = liveSecrets(ctx, tx, ref.AccountID, now)
	return job, err == nil, err
}

// nextWantedUpdate reads into u the first update of ref's feed after
// DeliveredSequence that ref.WantsEvent, moving DeliveredSequence past those it does
// not want and those missing from the feed; found is false when none is left, and
// DeliveredSequence is then LastSequence.
func nextWantedUpdate(ctx context.Context, q querier, ref *references.Reference, u *references.Update) (found bool, err error) {
	batch := 1 // without a filter the first update is the one
	if len(ref.EventTypes) > 0 {
		batch = 64
	}
	for ref.DeliveredSequence < ref.LastSequence {
		ups, err := readUpdates(ctx, q, ref.ID, ref.DeliveredSequence, ref.LastSequence, batch)
		if err != nil {
			return false, err
		}
		if len(ups) == 0 {
			ref.DeliveredSequence = ref.LastSequence // the rest is gone
			break
		}
		for i := range ups {
			if ref.WantsEvent(ups[i].Type) {
				ref.DeliveredSequence = ups[i].Sequence - 1
				*u = ups[i]
				return true, nil
			}
			ref.DeliveredSequence = ups[i].Sequence
		}
	}
	return false, nil
}

// readUpdates reads up to limit updates of a reference's feed with a sequence in
// (after, last], in sequence order.
func readUpdates(ctx context.Context, q querier, refID string, after, last uint64, limit int) ([]references.Update, error) {
	rows, err := q.Query(ctx, "SELECT data FROM updates WHERE ref_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
		refID, int64(after), int64(last), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read the feed of %s: %w", refID, err)
	}
	defer rows.Close()
	var ups []references.Update
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("postgres: read the feed of %s: %w", refID, err)
		}
		var u references.Update
		if err := json.Unmarshal(data, &u); err != nil {
			return nil, fmt.Errorf("postgres: decode an update of %s: %w", refID, err)
		}
		ups = append(ups, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read the feed of %s: %w", refID, err)
	}
	return ups, nil
}

// liveSecrets returns the account's signing secrets live at now, newest first.
func liveSecrets(ctx context.Context, q querier, accountID string, now time.Time) ([]string, error) {
	acct, err := getAccount(ctx, q, accountID, false)
	if err != nil {
		return nil, err
	}
	return acct.LiveSecrets(now), nil
}

// PostponeDelivery makes the leased stream due at until without counting an attempt,
// for when the destination's circuit breaker is open, and ends the lease.
func (db *DB) PostponeDelivery(ctx context.Context, lease references.Lease, until time.Time) error {
	destination, stream, err := streamOfLease(lease)
	if err != nil {
		return fmt.Errorf("postgres: postpone delivery: %w", err)
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		if _, _, err := db.holdStream(ctx, tx, destination, stream, lease); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE delivery_streams SET due_at = $3, lease_owner = NULL, lease_token = NULL, lease_until = NULL
			WHERE destination = $1 AND stream = $2`, destination, stream, until.UTC())
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: postpone delivery of %s: %w", lease.Key, err)
	}
	return nil
}
