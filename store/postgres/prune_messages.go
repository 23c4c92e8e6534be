package postgres

// Retention of endpoint messages: "retention wins", on enabled and disabled endpoints
// alike. A message still to be sent when its time is up is failed as expired, its log
// saying so, and leaves its stream; a finished one goes once its log is old too.

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// pruneMessages applies retention to endpoint messages created before cutoff, oldest
// first across endpoints, at most max of them: a pending or sending one is failed as
// expired at now and leaves its stream (a stream left with nothing loses its row,
// unless a lease holder is at work on it: its next job request deletes it); a
// finished one whose last attempt was before cutoff as well is deleted with its
// queued resend. (An expired one thus stays, showing why it was never sent, for a
// retention period after it expired.) Each kind is written with a few statements
// whatever max is.
func (db *DB) pruneMessages(ctx context.Context, tx pgx.Tx, cutoff, now time.Time, max int) (deleted, expired int64, err error) {
	if max <= 0 || cutoff.IsZero() {
		return 0, 0, nil
	}
	rows, err := tx.Query(ctx, `SELECT endpoint_id, stream, seq, status IN ($3, $4) FROM messages
		WHERE created_at < $1 AND (status IN ($3, $4) OR last_attempt_at IS NULL OR last_attempt_at < $1)
		ORDER BY created_at, endpoint_id, stream, seq LIMIT $2`,
		cutoff, max, string(references.MessagePending), string(references.MessageSending))
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: find messages before %v: %w", cutoff, err)
	}
	var done, open messageKeys
	var e, s string
	var q int64
	var unfinished bool
	_, err = pgx.ForEachRow(rows, []any{&e, &s, &q, &unfinished}, func() error {
		if unfinished {
			open.add(e, s, q)
		} else {
			done.add(e, s, q)
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: find messages before %v: %w", cutoff, err)
	}
	if deleted, err = deleteFinishedMessages(ctx, tx, done, cutoff); err != nil {
		return 0, 0, err
	}
	if expired, err = expireOldMessages(ctx, tx, open, cutoff, now); err != nil {
		return deleted, 0, err
	}
	return deleted, expired, nil
}

// messageKeys are the primary keys of some messages, as statement arguments.
type messageKeys struct {
	endpoints, streams []string
	seqs               []int64
}

func (k *messageKeys) add(endpointID, stream string, seq int64) {
	k.endpoints, k.streams, k.seqs = append(k.endpoints, endpointID), append(k.streams, stream), append(k.seqs, seq)
}

// deleteFinishedMessages deletes the given messages that are finished and whose last
// attempt was before cutoff as they are now (a resend may have been logged
// meanwhile), with their queued resends.
func deleteFinishedMessages(ctx context.Context, tx pgx.Tx, keys messageKeys, cutoff time.Time) (int64, error) {
	if len(keys.seqs) == 0 {
		return 0, nil
	}
	rows, err := tx.Query(ctx, `DELETE FROM messages m USING unnest($1::text[], $2::text[], $3::bigint[]) AS x(e, s, q)
		WHERE m.endpoint_id = x.e AND m.stream = x.s AND m.seq = x.q
			AND m.status NOT IN ($5, $6) AND (m.last_attempt_at IS NULL OR m.last_attempt_at < $4)
		RETURNING m.endpoint_id, m.stream, m.id`,
		keys.endpoints, keys.streams, keys.seqs, cutoff, string(references.MessagePending), string(references.MessageSending))
	if err != nil {
		return 0, fmt.Errorf("postgres: delete old messages: %w", err)
	}
	var gone struct{ endpoints, streams, ids []string }
	var e, s, id string
	tag, err := pgx.ForEachRow(rows, []any{&e, &s, &id}, func() error {
		gone.endpoints, gone.streams, gone.ids = append(gone.endpoints, e), append(gone.streams, s), append(gone.ids, id)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: delete old messages: %w", err)
	}
	n := tag.RowsAffected()
	if n > 0 {
		_, err = tx.Exec(ctx, `DELETE FROM redeliveries r USING unnest($1::text[], $2::text[], $3::text[]) AS x(e, s, i)
			WHERE r.destination = x.e AND r.stream = x.s AND r.message_id = x.i`, gone.endpoints, gone.streams, gone.ids)
		if err != nil {
			return 0, fmt.Errorf("postgres: delete the resends of old messages: %w", err)
		}
	}
	return n, nil
}

// expireOldMessages fails the given messages that are still unfinished, and created
// before cutoff, as expired at now, takes them out of their streams and moves the
// streams on. The streams' rows are locked first, in key order, then the messages.
func expireOldMessages(ctx context.Context, tx pgx.Tx, keys messageKeys, cutoff, now time.Time) (int64, error) {
	if len(keys.seqs) == 0 {
		return 0, nil
	}
	_, err := tx.Exec(ctx, `SELECT 1 FROM delivery_streams d
		WHERE (d.destination, d.stream) IN (SELECT * FROM unnest($1::text[], $2::text[]))
		ORDER BY d.destination, d.stream FOR UPDATE`, keys.endpoints, keys.streams)
	if err != nil {
		return 0, fmt.Errorf("postgres: lock the streams of old messages: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT m.queued, m.data FROM messages m
		WHERE (m.endpoint_id, m.stream, m.seq) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]))
			AND m.status IN ($5, $6) AND m.created_at < $4
		ORDER BY m.endpoint_id, m.stream, m.seq FOR UPDATE`,
		keys.endpoints, keys.streams, keys.seqs, cutoff, string(references.MessagePending), string(references.MessageSending))
	if err != nil {
		return 0, fmt.Errorf("postgres: read old messages: %w", err)
	}
	var writes []messageWrite
	var left []leftStream
	var queued bool
	var data []byte
	_, err = pgx.ForEachRow(rows, []any{&queued, &data}, func() error {
		m, err := decodeMessage(data)
		if err != nil {
			return err
		}
		a := references.DeliveryAttempt{
			Destination: m.EndpointID, ReferenceID: m.ReferenceID, UpdateID: m.ID, Sequence: m.Sequence,
			At: now, Outcome: references.OutcomeExpired, Error: whyRetention,
		}
		next, _ := references.AfterMessageAttempt(m, a)
		writes = append(writes, messageWrite{m: next, leave: true})
		stream := messageStream(&m)
		if queued && (len(left) == 0 || left[len(left)-1].endpointID != m.EndpointID || left[len(left)-1].stream != stream) {
			left = append(left, leftStream{endpointID: m.EndpointID, stream: stream, first: int64(m.Sequence)}) // rows come in key order
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: read old messages: %w", err)
	}
	if err := saveMessages(ctx, tx, writes); err != nil {
		return 0, err
	}
	drained, err := moveStreamsOn(ctx, tx, left)
	if err != nil {
		return 0, err
	}
	if err := deleteDrainedStreams(ctx, tx, drained, now); err != nil {
		return 0, err
	}
	return int64(len(writes)), nil
}

// deleteDrainedStreams deletes the rows of streams left with nothing to send, but for
// those a lease holder is at work on: its next job request finds the stream drained
// and deletes the row then.
func deleteDrainedStreams(ctx context.Context, tx pgx.Tx, drained []leftStream, now time.Time) error {
	if len(drained) == 0 {
		return nil
	}
	eps, streams := make([]string, len(drained)), make([]string, len(drained))
	for i, d := range drained {
		eps[i], streams[i] = d.endpointID, d.stream
	}
	_, err := tx.Exec(ctx, `DELETE FROM delivery_streams d USING unnest($1::text[], $2::text[]) AS x(e, s)
		WHERE d.destination = x.e AND d.stream = x.s AND (d.lease_until IS NULL OR d.lease_until <= $3)`,
		eps, streams, now)
	if err != nil {
		return fmt.Errorf("postgres: delete drained streams: %w", err)
	}
	return nil
}
