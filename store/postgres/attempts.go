package postgres

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// The durable record of delivery attempts: RecordAttempt moves a stream on by the
// rules of references.AfterAttempt (AfterMessageAttempt for an endpoint's, in
// recordEndpointAttempt), and the delivery log of callbacks (delivery_attempts),
// newest first per reference.

// RecordAttempt logs a delivery attempt and moves its stream on, in one transaction
// under the lease (see references.DeliveryQueue). A callback's attempt goes into the
// reference's delivery log and its stream's state into the reference
// (DeliveredSequence, DeliveryState, FailingSince) and the stream's row (attempts,
// when next); unsubscribe, when set, also unsubscribes the reference. An attempt the
// stream has moved past (the URL was changed, a dead callback unsubscribed) is only
// logged. A stream's lease stays held, even when it is drained: its owner's
// NextDelivery then says so and removes the row. A redelivery's lease ends.
func (db *DB) RecordAttempt(ctx context.Context, lease references.Lease, job references.DeliveryJob, a references.DeliveryAttempt, unsubscribe references.UnsubscribeReason) (references.Reference, error) {
	if want := attemptLeaseKey(&job); lease.Key != want {
		return references.Reference{}, fmt.Errorf("postgres: record attempt for %s: %w: the lease is on %q, not this job", job.MessageID(), references.ErrLeaseLost, lease.Key)
	}
	var ref references.Reference
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		switch {
		case isEndpointJob(&job):
			ref, err = db.recordEndpoint(ctx, tx, lease, job, a)
		case job.Redelivery:
			ref, err = db.recordRedelivery(ctx, tx, lease, job, a)
		default:
			ref, err = db.recordCallback(ctx, tx, lease, job, a, unsubscribe)
		}
		return err
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("postgres: record attempt for %s: %w", job.MessageID(), err)
	}
	return ref, nil
}

// attemptLeaseKey is the key of the lease a job is recorded under.
func attemptLeaseKey(job *references.DeliveryJob) string {
	switch {
	case isEndpointJob(job) && job.Redelivery:
		return references.RedeliveryLeaseKey(job.Destination, jobStream(job), job.MessageID())
	case isEndpointJob(job):
		return references.DeliveryLeaseKey(job.Destination, jobStream(job))
	case job.Redelivery:
		return references.RedeliveryLeaseKey(references.DestinationCallback, job.Reference.ID, job.Update.ID)
	}
	return references.DeliveryLeaseKey(references.DestinationCallback, job.Reference.ID)
}

// isEndpointJob reports whether a job goes to an account endpoint rather than to its
// reference's callback.
func isEndpointJob(job *references.DeliveryJob) bool {
	return job.Destination != "" && job.Destination != references.DestinationCallback
}

// jobStream is the stream an endpoint's job belongs to: its reference, or the
// endpoint's operational events.
func jobStream(job *references.DeliveryJob) string {
	if job.Event != nil {
		return references.AccountStream
	}
	return job.Update.ReferenceID
}

// recordCallback is RecordAttempt for an attempt of a callback stream. The
// reference's row is locked before the stream's, in the order of the transactions
// that append updates.
func (db *DB) recordCallback(ctx context.Context, tx pgx.Tx, lease references.Lease, job references.DeliveryJob, a references.DeliveryAttempt, unsubscribe references.UnsubscribeReason) (references.Reference, error) {
	ref, err := getReference(ctx, tx, job.Reference.ID, true)
	if err != nil {
		return ref, err
	}
	st, now, err := db.holdStream(ctx, tx, references.DestinationCallback, ref.ID, lease)
	if errors.Is(err, errWorkGone) && movedPast(&ref, &job) {
		return ref, appendAttempt(ctx, tx, &a) // the stream was dropped during the attempt
	}
	if err != nil {
		return ref, err
	}
	if err := appendAttempt(ctx, tx, &a); err != nil {
		return ref, err
	}
	stream := references.DeliveryStream{
		DeliveredSequence: ref.DeliveredSequence, LastSequence: ref.LastSequence,
		DueAt: st.DueAt, Attempts: st.Attempts, FirstAttemptAt: st.FirstAttemptAt,
		State: ref.DeliveryState, FailingSince: ref.FailingSince,
	}
	if movedPast(&ref, &job) || !stream.Expects(job.Update.Sequence) {
		return ref, nil // only logged: the new URL, or nobody, gets the update
	}
	next, reason, err := references.AfterAttempt(stream, a)
	if err != nil {
		return ref, err
	}
	if reason == "" {
		reason = unsubscribe
	}
	if reason == references.ReasonCallbackGone {
		if !ref.Subscribed() {
			return ref, dropCallback(ctx, tx, ref.ID) // a user's unsubscribe: its stream ends
		}
		return ref, db.endTracking(ctx, tx, &ref, reason, a.At, now)
	}
	ref.DeliveredSequence, ref.DeliveryState, ref.FailingSince = next.DeliveredSequence, next.State, next.FailingSince
	err = setStreamState(ctx, tx, references.DestinationCallback, ref.ID, streamState{
		DueAt: next.DueAt, Attempts: next.Attempts, FirstAttemptAt: next.FirstAttemptAt,
	})
	if err != nil {
		return ref, err
	}
	if reason != "" && ref.Subscribed() {
		return ref, db.endTracking(ctx, tx, &ref, reason, a.At, now)
	}
	return ref, saveReference(ctx, tx, &ref)
}

// movedPast reports whether the callback a job was sent to no longer gets the
// reference's updates: its URL was changed or removed, or it was unsubscribed for
// being dead. An attempt of such a job is only logged.
func movedPast(ref *references.Reference, job *references.DeliveryJob) bool {
	return job.Reference.CallbackURL != ref.CallbackURL || stoppedDelivering(ref)
}

// recordRedelivery is RecordAttempt for a requested redelivery to a callback: it is
// logged, and leaves the queue unless the URL was changed during the attempt (it is
// then sent again, to the new URL). A 410 unsubscribes the reference.
func (db *DB) recordRedelivery(ctx context.Context, tx pgx.Tx, lease references.Lease, job references.DeliveryJob, a references.DeliveryAttempt) (references.Reference, error) {
	ref, err := getReference(ctx, tx, job.Reference.ID, true)
	if err != nil {
		return ref, err
	}
	now, err := db.holdRedelivery(ctx, tx, references.DestinationCallback, ref.ID, job.Update.ID, lease)
	if errors.Is(err, errWorkGone) && movedPast(&ref, &job) {
		return ref, appendAttempt(ctx, tx, &a) // dropped with the callback during the attempt
	}
	if err != nil {
		return ref, err
	}
	if err := appendAttempt(ctx, tx, &a); err != nil {
		return ref, err
	}
	if movedPast(&ref, &job) {
		return ref, endRedeliveryLease(ctx, tx, references.DestinationCallback, ref.ID, job.Update.ID, lease)
	}
	if err := deleteRedelivery(ctx, tx, references.DestinationCallback, ref.ID, job.Update.ID); err != nil {
		return ref, err
	}
	if a.Outcome == references.OutcomeGone && ref.Subscribed() {
		return ref, db.endTracking(ctx, tx, &ref, references.ReasonCallbackGone, a.At, now)
	}
	return ref, nil
}

// recordEndpoint is RecordAttempt for a job to an endpoint: recordEndpointAttempt
// writes it once the lease is checked, and ends a resend there (its row deleted, or
// its lease given back when it stays queued). It returns the job's reference as
// stored, zero for an operational event or a reference retention deleted. An attempt
// whose endpoint was deleted meanwhile, with its streams, has nothing to be logged in.
func (db *DB) recordEndpoint(ctx context.Context, tx pgx.Tx, lease references.Lease, job references.DeliveryJob, a references.DeliveryAttempt) (references.Reference, error) {
	stream := jobStream(&job)
	var now time.Time
	var err error
	if job.Redelivery {
		now, err = db.holdRedelivery(ctx, tx, job.Destination, stream, job.MessageID(), lease)
	} else {
		_, now, err = db.holdStream(ctx, tx, job.Destination, stream, lease)
	}
	if errors.Is(err, errWorkGone) {
		var exists bool
		if qerr := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM endpoints WHERE id = $1)", job.Destination).Scan(&exists); qerr != nil {
			return references.Reference{}, qerr
		}
		if !exists {
			return references.Reference{}, nil
		}
	}
	if err != nil {
		return references.Reference{}, err
	}
	if err := db.recordEndpointAttempt(ctx, tx, &job, a, now); err != nil {
		return references.Reference{}, err
	}
	if job.Reference.ID == "" {
		return references.Reference{}, nil
	}
	ref, err := getReference(ctx, tx, job.Reference.ID, false)
	if errors.Is(err, references.ErrNotFound) {
		return references.Reference{}, nil
	}
	return ref, err
}

// appendAttempt adds an entry to the delivery log of the attempt's reference.
func appendAttempt(ctx context.Context, tx pgx.Tx, a *references.DeliveryAttempt) error {
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("postgres: encode attempt: %w", err)
	}
	_, err = tx.Exec(ctx, "INSERT INTO delivery_attempts (ref_id, attempted_at, data) VALUES ($1, $2, $3)",
		a.ReferenceID, a.At.UTC(), data)
	if err != nil {
		return fmt.Errorf("postgres: log the attempt of %s: %w", a.UpdateID, err)
	}
	return nil
}

// ListDeliveries returns a page of the reference's delivery log, newest first. The
// cursor is the number of the last entry returned: entries are numbered in the order
// they were logged.
func (db *DB) ListDeliveries(ctx context.Context, accountID, refID string, q references.DeliveryQuery) (references.DeliveryPage, error) {
	page := references.DeliveryPage{Deliveries: []references.DeliveryAttempt{}}
	below := int64(-1) // no cursor: from the newest
	if q.Cursor != "" {
		n, err := decodeAttemptCursor(q.Cursor)
		if err != nil {
			return page, fmt.Errorf("postgres: list deliveries of %s: %w", refID, err)
		}
		below = n
	}
	if _, err := getAccountReference(ctx, db.pool, accountID, refID, false); err != nil {
		return page, fmt.Errorf("postgres: list deliveries of %s: %w", refID, err)
	}
	limit := max(q.Limit, 0)
	rows, err := db.pool.Query(ctx, `SELECT n, data FROM delivery_attempts
		WHERE ref_id = $1 AND ($2 < 0 OR n < $2) ORDER BY n DESC LIMIT $3`, refID, below, limit+1)
	if err != nil {
		return page, fmt.Errorf("postgres: list deliveries of %s: %w", refID, err)
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		var n int64
		var data []byte
		if err := rows.Scan(&n, &data); err != nil {
			return page, fmt.Errorf("postgres: list deliveries of %s: %w", refID, err)
		}
		if len(page.Deliveries) == limit {
			page.NextCursor = encodeAttemptCursor(last)
			break
		}
		var a references.DeliveryAttempt
		if err := json.Unmarshal(data, &a); err != nil {
			return page, fmt.Errorf("postgres: decode an attempt of %s: %w", refID, err)
		}
		page.Deliveries = append(page.Deliveries, a)
		last = n
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("postgres: list deliveries of %s: %w", refID, err)
	}
	return page, nil
}

func encodeAttemptCursor(n int64) string {
	return base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, uint64(n)))
}

func decodeAttemptCursor(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 8 || binary.BigEndian.Uint64(b) > 1<<62 {
		return 0, references.Invalidf("cursor", "is not a cursor this server returned")
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// pruneAttempts deletes up to max delivery log entries made before cutoff, oldest
// first.
func (db *DB) pruneAttempts(ctx context.Context, tx pgx.Tx, cutoff time.Time, max int) (int64, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM delivery_attempts d USING (
			SELECT ref_id, n FROM delivery_attempts WHERE attempted_at < $1 ORDER BY attempted_at LIMIT $2
		) old WHERE d.ref_id = old.ref_id AND d.n = old.n`, cutoff.UTC(), max)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune the delivery log: %w", err)
	}
	return tag.RowsAffected(), nil
}
