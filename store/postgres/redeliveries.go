package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// Requested redeliveries: one update of a reference sent again to its callback, or
// one message resent to an endpoint, outside the ordered stream, one row each in
// redeliveries with its own lease. They are claimed with the streams, from the time
// they were asked for; the row is deleted once the attempt is recorded.

// whyUpdateGone is the error of the delivery log entry of a dropped redelivery.
const whyUpdateGone = "the update is no longer in the feed (removed by retention): nothing was sent"

// RequestRedelivery queues one update of the account's reference to be sent again to
// its callback. Asking again for one queued already only moves its time.
func (db *DB) RequestRedelivery(ctx context.Context, accountID, refID, updateID string, at time.Time) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		ref, err := getAccountReference(ctx, tx, accountID, refID, true)
		if err != nil {
			return err
		}
		if !ref.Active() && references.StopsDelivery(ref.UnsubscribeReason) {
			return references.Errorf(references.CodeConflict, "reference %s was unsubscribed (%s): nothing is delivered for it", refID, ref.UnsubscribeReason)
		}
		var exists bool
		err = tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM updates WHERE ref_id = $1 AND id = $2)", refID, updateID).Scan(&exists)
		if err != nil {
			return err
		}
		if !exists {
			return references.Errorf(references.CodeNotFound, "update %s not found in the feed of %s", updateID, refID)
		}
		_, err = tx.Exec(ctx, `INSERT INTO redeliveries (destination, stream, message_id, account_id, requested_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (destination, stream, message_id) DO UPDATE SET requested_at = EXCLUDED.requested_at`,
			references.DestinationCallback, refID, updateID, ref.AccountID, at.UTC())
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: redeliver %s: %w", updateID, err)
	}
	return nil
}

// redeliveryJob reads the job of a claimed redelivery (or resend, by
// endpointResendJob), in tx. ok is false when there is none: the redelivery is
// dropped when its update (or reference, or message) is gone, with an entry in the
// delivery log for an update, or when its callback stopped delivering (the URL
// removed, a dead callback); it waits, its lease given back, when its reference was
// paused meanwhile.
func (db *DB) redeliveryJob(ctx context.Context, tx pgx.Tx, w *claimedWork, now time.Time) (job references.DeliveryJob, ok bool, err error) {
	if w.destination != references.DestinationCallback {
		found, err := db.endpointResendJob(ctx, tx, w.destination, w.stream, w.messageID, now, &job)
		if err != nil || found {
			return job, found, err
		}
		_, err = dropRedelivery(ctx, tx, w)
		return job, false, err
	}
	ref, err := getReference(ctx, tx, w.stream, false)
	if errors.Is(err, references.ErrNotFound) {
		_, err = dropRedelivery(ctx, tx, w)
		return job, false, err
	}
	if err != nil {
		return job, false, err
	}
	switch {
	case ref.Paused():
		return job, false, endRedeliveryLease(ctx, tx, w.destination, w.stream, w.messageID, w.lease)
	case stoppedDelivering(&ref):
		_, err = dropRedelivery(ctx, tx, w)
		return job, false, err
	}
	found, err := updateByID(ctx, tx, ref.ID, w.messageID, &job.Update)
	if err != nil {
		return job, false, err
	}
	if !found {
		return job, false, db.dropMissingUpdate(ctx, tx, w, now)
	}
	job.Destination, job.Reference, job.Redelivery, job.Attempt = references.DestinationCallback, ref, true, 1
	job.Secrets, err = liveSecrets(ctx, tx, ref.AccountID, now)
	return job, err == nil, err
}

// stoppedDelivering reports whether nothing more goes to ref's callback: it has none,
// or it was unsubscribed for being dead (see references.StopsDelivery).
func stoppedDelivering(ref *references.Reference) bool {
	return ref.CallbackURL == "" || !ref.Subscribed() && references.StopsDelivery(ref.UnsubscribeReason)
}

// updateByID reads one update of a reference's feed by its id.
func updateByID(ctx context.Context, q querier, refID, updateID string, u *references.Update) (found bool, err error) {
	var data []byte
	err = q.QueryRow(ctx, "SELECT data FROM updates WHERE ref_id = $1 AND id = $2", refID, updateID).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres: read update %s of %s: %w", updateID, refID, err)
	}
	if err := json.Unmarshal(data, u); err != nil {
		return false, fmt.Errorf("postgres: decode update %s of %s: %w", updateID, refID, err)
	}
	return true, nil
}

// dropMissingUpdate drops a claimed redelivery whose update no longer exists, with an
// entry in the reference's delivery log saying that nothing was sent.
func (db *DB) dropMissingUpdate(ctx context.Context, tx pgx.Tx, w *claimedWork, now time.Time) error {
	dropped, err := dropRedelivery(ctx, tx, w)
	if err != nil || !dropped {
		return err
	}
	db.log.Warn("redelivery dropped: the update no longer exists", "reference_id", w.stream, "update_id", w.messageID)
	return appendAttempt(ctx, tx, &references.DeliveryAttempt{
		Destination: references.DestinationCallback, ReferenceID: w.stream, UpdateID: w.messageID,
		At: now, Redelivery: true, Outcome: references.OutcomeDropped, Error: whyUpdateGone,
	})
}

// dropRedelivery deletes a claimed redelivery's row, unless its lease was lost
// meanwhile; dropped reports whether it did.
func dropRedelivery(ctx context.Context, tx pgx.Tx, w *claimedWork) (dropped bool, err error) {
	tag, err := tx.Exec(ctx, `DELETE FROM redeliveries WHERE destination = $1 AND stream = $2 AND message_id = $3
		AND lease_token = $4`, w.destination, w.stream, w.messageID, int64(w.lease.Token))
	if err != nil {
		return false, fmt.Errorf("postgres: drop redelivery of %s to %s: %w", w.messageID, w.destination, err)
	}
	return tag.RowsAffected() == 1, nil
}

// endRedeliveryLease gives a redelivery's lease back, leaving it queued.
func endRedeliveryLease(ctx context.Context, tx pgx.Tx, destination, stream, messageID string, lease references.Lease) error {
	_, err := tx.Exec(ctx, `UPDATE redeliveries SET lease_owner = NULL, lease_token = NULL, lease_until = NULL
		WHERE destination = $1 AND stream = $2 AND message_id = $3 AND lease_token = $4`,
		destination, stream, messageID, int64(lease.Token))
	if err != nil {
		return fmt.Errorf("postgres: end the lease of the redelivery of %s to %s: %w", messageID, destination, err)
	}
	return nil
}

// holdRedelivery checks in tx that lease holds the redelivery's row and locks it
// until tx ends, and returns the clock's now; ErrLeaseLost when the lease ran out or
// was granted again, errWorkGone when the row is gone (made or dropped already).
func (db *DB) holdRedelivery(ctx context.Context, tx pgx.Tx, destination, stream, messageID string, lease references.Lease) (time.Time, error) {
	var token *int64
	var until *time.Time
	var now time.Time
	err := tx.QueryRow(ctx, `
		SELECT lease_token, lease_until, COALESCE($4::timestamptz, now()) FROM redeliveries
		WHERE destination = $1 AND stream = $2 AND message_id = $3
		FOR UPDATE`, destination, stream, messageID, db.clockArg()).Scan(&token, &until, &now)
	if errors.Is(err, pgx.ErrNoRows) {
		return now, errWorkGone
	}
	if err != nil {
		return now, fmt.Errorf("postgres: check lease %s: %w", lease.Key, err)
	}
	if !holds(lease, token, until, now) {
		return now, references.ErrLeaseLost
	}
	return now.UTC(), nil
}

// deleteRedelivery removes a redelivery whose attempt was recorded; tx holds it.
func deleteRedelivery(ctx context.Context, tx pgx.Tx, destination, stream, messageID string) error {
	_, err := tx.Exec(ctx, "DELETE FROM redeliveries WHERE destination = $1 AND stream = $2 AND message_id = $3",
		destination, stream, messageID)
	if err != nil {
		return fmt.Errorf("postgres: remove the redelivery of %s to %s: %w", messageID, destination, err)
	}
	return nil
}
