package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// Rows of delivery_streams: one per (destination, stream) with something to deliver,
// a destination being the reference's callback or an endpoint, a stream a reference
// or an endpoint's operational events. The row holds the stream's retry state (the
// attempts of what it sends now, when next) and its lease: a stream is claimed, and
// so worked in order, by one owner at a time.
//
// A row is removed only by the holder of its lease, once it finds the stream drained
// (NextDelivery, or the claim's first job), with the row locked. Whoever adds work to
// a stream writes the work first and then puts the row in with queueStream, whose
// ON CONFLICT DO UPDATE waits for that lock: either the remover saw the new work, or
// the row it removed is put back. No update is ever left without its stream.

// streamState is a stream's retry state: when it is due, how often its current update
// (or message, or batch) was tried and when first.
type streamState struct {
	DueAt          time.Time
	Attempts       int
	FirstAttemptAt *time.Time
}

// queueCallback puts ref's callback stream in delivery_streams, due at at, unless it
// is there already or ref does not deliver (see Reference.Delivers): called after
// updates were appended to ref's feed, in the same transaction. A stream there
// already keeps its schedule: an update in flight goes first. A paused reference's
// stream (its URL changed while paused) is put in to wait for the resume.
func (db *DB) queueCallback(ctx context.Context, tx pgx.Tx, ref *references.Reference, at time.Time) error {
	if stoppedDelivering(ref) {
		return nil
	}
	return queueStream(ctx, tx, references.DestinationCallback, ref.ID, ref.AccountID, at, ref.Paused(), false)
}

// queueStream puts the stream of destination in delivery_streams due at at, or leaves
// the row that is there as it is, in tx, after the caller wrote the stream's new work.
// The conflict clause updates nothing (WHERE false) but locks the existing row, so it
// waits for a holder that is deciding whether the stream is drained, and inserts the
// row again when that holder removed it (see above). A new row waits, out of the
// claims, while its reference is paused or its endpoint disabled.
func queueStream(ctx context.Context, tx pgx.Tx, destination, stream, accountID string, at time.Time, paused, disabled bool) error {
	_, err := tx.Exec(ctx, `INSERT INTO delivery_streams (destination, stream, account_id, due_at, ref_paused, endpoint_disabled)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (destination, stream) DO UPDATE SET due_at = delivery_streams.due_at WHERE false`,
		destination, stream, accountID, at.UTC(), paused, disabled)
	if err != nil {
		return fmt.Errorf("postgres: queue stream %s of %s: %w", stream, destination, err)
	}
	return nil
}

// holdStreams marks every delivery stream of the reference (callback and endpoint
// streams) paused or not; on resume the streams are due at at, or at the later retry
// time one had: they go on where they stopped, with the attempts counted so far.
// A paused reference's requested redeliveries wait too: the claim reads its status.
func (db *DB) holdStreams(ctx context.Context, tx pgx.Tx, refID string, paused bool, at time.Time) error {
	var err error
	if paused {
		_, err = tx.Exec(ctx, "UPDATE delivery_streams SET ref_paused = true WHERE stream = $1", refID)
	} else {
		_, err = tx.Exec(ctx, `UPDATE delivery_streams SET ref_paused = false, due_at = greatest(due_at, $2)
			WHERE stream = $1`, refID, at.UTC())
	}
	if err != nil {
		return fmt.Errorf("postgres: hold the delivery streams of %s: %w", refID, err)
	}
	return nil
}

// errWorkGone is ErrLeaseLost when the row of the leased work is gone: the stream
// was drained or dropped, the redelivery made or dropped. RecordAttempt tells it from
// a lease that ran out, for an attempt the stream has moved past.
var errWorkGone = fmt.Errorf("%w: the work is no longer queued", references.ErrLeaseLost)

// holdStream checks in tx that lease holds the stream's row and locks it until tx
// ends, and returns the stream's state with the clock's now, in one round trip;
// ErrLeaseLost when the lease ran out or was granted again, errWorkGone when the row
// is gone.
func (db *DB) holdStream(ctx context.Context, tx pgx.Tx, destination, stream string, lease references.Lease) (streamState, time.Time, error) {
	var st streamState
	var token *int64
	var until *time.Time
	var now time.Time
	err := tx.QueryRow(ctx, `
		SELECT due_at, attempts, first_attempt_at, lease_token, lease_until, COALESCE($3::timestamptz, now())
		FROM delivery_streams WHERE destination = $1 AND stream = $2
		FOR UPDATE`, destination, stream, db.clockArg()).Scan(&st.DueAt, &st.Attempts, &st.FirstAttemptAt, &token, &until, &now)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, now, errWorkGone
	}
	if err != nil {
		return st, now, fmt.Errorf("postgres: check lease %s: %w", lease.Key, err)
	}
	if !holds(lease, token, until, now) {
		return st, now, references.ErrLeaseLost
	}
	st.DueAt = st.DueAt.UTC()
	if st.FirstAttemptAt != nil {
		t := st.FirstAttemptAt.UTC()
		st.FirstAttemptAt = &t
	}
	return st, now.UTC(), nil
}

// holds reports whether lease is the one a row's lease columns hold at now.
func holds(lease references.Lease, token *int64, until *time.Time, now time.Time) bool {
	return token != nil && until != nil && uint64(*token) == lease.Token && until.After(now)
}

// setStreamState writes a held stream's retry state.
func setStreamState(ctx context.Context, tx pgx.Tx, destination, stream string, st streamState) error {
	_, err := tx.Exec(ctx, `UPDATE delivery_streams SET due_at = $3, attempts = $4, first_attempt_at = $5
		WHERE destination = $1 AND stream = $2`, destination, stream, st.DueAt.UTC(), st.Attempts, st.FirstAttemptAt)
	if err != nil {
		return fmt.Errorf("postgres: write stream %s of %s: %w", stream, destination, err)
	}
	return nil
}

// deleteStream removes the row of a drained stream, its lease with it; tx holds it.
func deleteStream(ctx context.Context, tx pgx.Tx, destination, stream string) error {
	_, err := tx.Exec(ctx, "DELETE FROM delivery_streams WHERE destination = $1 AND stream = $2", destination, stream)
	if err != nil {
		return fmt.Errorf("postgres: remove stream %s of %s: %w", stream, destination, err)
	}
	return nil
}

// parkStream keeps a held stream whose reference is paused out of the claims until
// holdStreams lets it go (a claim that raced the pause found it), and ends its lease.
func parkStream(ctx context.Context, tx pgx.Tx, destination, stream string) error {
	_, err := tx.Exec(ctx, `UPDATE delivery_streams SET ref_paused = true, lease_owner = NULL, lease_token = NULL, lease_until = NULL
		WHERE destination = $1 AND stream = $2`, destination, stream)
	if err != nil {
		return fmt.Errorf("postgres: park stream %s of %s: %w", stream, destination, err)
	}
	return nil
}
