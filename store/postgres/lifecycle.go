package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// The changes of a reference's life after its creation: unsubscribe, patch, pause,
// resume and a poll on demand. Each locks the reference's row first, then what else it
// changes (the account's counters, the delivery streams), in the order of tx.go.

// UnsubscribeReference stops tracking and appends the final update, in one
// transaction; unsubscribing twice appends nothing (see references.ReferenceStore).
func (db *DB) UnsubscribeReference(ctx context.Context, accountID, id string, reason references.UnsubscribeReason, at time.Time) (references.Reference, error) {
	var ref references.Reference
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if ref, err = getAccountReference(ctx, tx, accountID, id, true); err != nil {
			return err
		}
		if !ref.Subscribed() {
			return nil
		}
		now, err := db.now(ctx, tx)
		if err != nil {
			return err
		}
		return db.endTracking(ctx, tx, &ref, reason, at, now)
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("postgres: unsubscribe %s: %w", id, err)
	}
	return ref, nil
}

// endTracking unsubscribes ref (its row held by tx) for reason at at, appends the final
// reference.unsubscribed update and writes ref: the ends of tracking that do not come
// from a poll (which brings its own final update), a user's DELETE, and a callback
// gone or failing (RecordAttempt). After the latter two the update is not delivered
// to the callback, but the feed has it and the account's endpoints that match it get
// it. now is the backend's clock.
func (db *DB) endTracking(ctx context.Context, tx pgx.Tx, ref *references.Reference, reason references.UnsubscribeReason, at, now time.Time) error {
	if err := db.unsubscribe(ctx, tx, ref, reason, at); err != nil {
		return err
	}
	final := []references.Update{references.UnsubscribedUpdate(reason, at)}
	if err := db.appendUpdates(ctx, tx, ref, final, now); err != nil {
		return err
	}
	return saveReference(ctx, tx, ref)
}

// unsubscribe marks ref (its row held by tx) unsubscribed, which frees its identifier
// and takes it out of the poll schedule and the quota's count; the caller writes ref.
// A paused reference's streams are let go first, so that what is pending (and a
// final update appended after this) is delivered. The receiver's unsubscribe (gone,
// failing) also drops what is pending for the callback. The reference's push
// subscription, if it has one, is queued for deletion at its carrier: every end of
// tracking comes here, so none leaves a subscription alive there.
func (db *DB) unsubscribe(ctx context.Context, tx pgx.Tx, ref *references.Reference, reason references.UnsubscribeReason, at time.Time) error {
	if err := addActive(ctx, tx, ref.AccountID, -1); err != nil {
		return err
	}
	if ref.Push != nil && ref.Push.ID != "" {
		if err := db.queuePushDeletion(ctx, tx, ref.Push, ref.ID, ref.AccountID); err != nil {
			return err
		}
	}
	if ref.Paused() {
		if _, err := references.Resume(ref, at); err != nil {
			return err
		}
		if err := db.holdStreams(ctx, tx, ref.ID, false, at); err != nil {
			return err
		}
	}
	ref.Status = references.StatusUnsubscribed
	ref.UnsubscribeReason = reason
	ref.UnsubscribedAt = &at
	ref.NextPollAt = nil
	ref.UpdatedAt = at
	if references.StopsDelivery(reason) {
		return dropCallback(ctx, tx, ref.ID)
	}
	return nil
}

// dropCallback removes the reference's callback stream and its requested
// redeliveries: nothing more goes to its callback.
func dropCallback(ctx context.Context, tx pgx.Tx, refID string) error {
	_, err := tx.Exec(ctx, `WITH s AS (DELETE FROM delivery_streams WHERE destination = $2 AND stream = $1)
		DELETE FROM redeliveries WHERE destination = $2 AND stream = $1`, refID, references.DestinationCallback)
	if err != nil {
		return fmt.Errorf("postgres: drop the callback stream of %s: %w", refID, err)
	}
	return nil
}

// restartCallback sends what is pending for the callback again from its first try,
// due at at (the URL changed): the stream's retry state starts over, its lease (if
// any) is kept so its owner's attempt is logged as one the stream moved past. A
// stream with nothing pending is removed.
func (db *DB) restartCallback(ctx context.Context, tx pgx.Tx, ref *references.Reference, at time.Time) error {
	if ref.DeliveredSequence >= ref.LastSequence {
		_, err := tx.Exec(ctx, "DELETE FROM delivery_streams WHERE destination = $2 AND stream = $1",
			ref.ID, references.DestinationCallback)
		if err != nil {
			return fmt.Errorf("postgres: restart the callback stream of %s: %w", ref.ID, err)
		}
		return nil
	}
	tag, err := tx.Exec(ctx, `UPDATE delivery_streams SET due_at = $3, attempts = 0, first_attempt_at = NULL,
		batch_id = NULL, batch_end = NULL WHERE destination = $2 AND stream = $1`,
		ref.ID, references.DestinationCallback, at)
	if err != nil {
		return fmt.Errorf("postgres: restart the callback stream of %s: %w", ref.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return db.queueCallback(ctx, tx, ref, at)
	}
	return nil
}

// PatchReference changes the callback URL and event filter of a subscribed
// reference; what is pending goes to the new URL, and removing the URL stops delivery.
func (db *DB) PatchReference(ctx context.Context, accountID, id string, p references.Patch, at time.Time) (references.Reference, error) {
	var ref references.Reference
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if ref, err = getAccountReference(ctx, tx, accountID, id, true); err != nil {
			return err
		}
		change, err := ref.ApplyPatch(p, at)
		if err != nil {
			return err
		}
		switch change {
		case references.CallbackRemoved:
			if err := dropCallback(ctx, tx, ref.ID); err != nil {
				return err
			}
		case references.CallbackMoved:
			if err := db.restartCallback(ctx, tx, &ref, at); err != nil {
				return err
			}
		}
		return saveReference(ctx, tx, &ref)
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("postgres: patch %s: %w", id, err)
	}
	return ref, nil
}

// PauseReference pauses a reference: it leaves the poll schedule and its delivery
// streams wait, keeping their state (see references.PauseStore).
func (db *DB) PauseReference(ctx context.Context, accountID, id string, at time.Time) (references.Reference, error) {
	return db.setPaused(ctx, accountID, id, at, true)
}

// ResumeReference makes a paused reference active, due at once, with its delivery
// streams due at once (see references.PauseStore).
func (db *DB) ResumeReference(ctx context.Context, accountID, id string, at time.Time) (references.Reference, error) {
	return db.setPaused(ctx, accountID, id, at, false)
}

// setPaused pauses or resumes the reference by the domain's rule (references.Pause,
// Resume), holding or releasing its delivery streams in the same transaction.
func (db *DB) setPaused(ctx context.Context, accountID, id string, at time.Time, pause bool) (references.Reference, error) {
	change, verb := references.Resume, "resume"
	if pause {
		change, verb = references.Pause, "pause"
	}
	var ref references.Reference
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if ref, err = getAccountReference(ctx, tx, accountID, id, true); err != nil {
			return err
		}
		changed, err := change(&ref, at)
		if err != nil || !changed {
			return err
		}
		if err := db.holdStreams(ctx, tx, ref.ID, pause, at); err != nil {
			return err
		}
		return saveReference(ctx, tx, &ref)
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("postgres: %s %s: %w", verb, id, err)
	}
	return ref, nil
}

// RequestPoll makes an active reference due at at once references.CheckRefresh
// allowed it against the reference as this transaction reads it, so instances share
// the limit. A poll running meanwhile sets the next due time when it is recorded: the
// refresh is then answered by that poll.
func (db *DB) RequestPoll(ctx context.Context, accountID, id string, at time.Time) (references.Reference, error) {
	var ref references.Reference
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if ref, err = getAccountReference(ctx, tx, accountID, id, true); err != nil {
			return err
		}
		if err := references.CheckRefresh(&ref, at); err != nil {
			return err
		}
		ref.NextPollAt, ref.LastRefreshAt = &at, &at
		return saveReference(ctx, tx, &ref)
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("postgres: request a poll of %s: %w", id, err)
	}
	return ref, nil
}
