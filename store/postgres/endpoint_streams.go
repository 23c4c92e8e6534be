package postgres

// The delivery of endpoint messages. Each (endpoint, stream) is one ordered stream, a
// stream being a reference of the endpoint's account or references.AccountStream (its
// operational events). Its messages still to be sent are the queued ones of messages,
// in seq order; its state (the tries of the message or batch at its head, when it is
// due, its lease) is its row of delivery_streams, with destination = the endpoint's
// id, which exists while it has queued messages. The deliveries code claims those rows
// beside the callbacks' and calls the seams here: nextEndpointJob, endpointResendJob
// and recordEndpointAttempt (endpoint_attempts.go).
//
// Lock order: a stream's row before its endpoint's, before its messages. A writer of a
// stream's messages holds its row: the fan-out locks (or creates) it before inserting,
// the lease holder's transactions lock it (holdLease), retention locks it before
// expiring. So a stream found drained under its row's lock stays drained until the
// transaction ends.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// endpointStream is the delivery state of one endpoint stream: its delivery_streams row.
type endpointStream struct {
	dueAt          time.Time
	attempts       int
	firstAttemptAt *time.Time
	// batchID and batchEnd are set when a batch is first handed out, before its first
	// attempt: the batch is the stream's queued messages up to seq batchEnd, retried as
	// is.
	batchID  string
	batchEnd int64
	// Held: claims pass the row by while either is set.
	refPaused, endpointDisabled bool
	leaseUntil                  *time.Time
}

// readEndpointStream reads a stream's row; nil when it has none.
func readEndpointStream(ctx context.Context, q querier, endpointID, stream string) (*endpointStream, error) {
	var st endpointStream
	err := q.QueryRow(ctx, `SELECT due_at, attempts, first_attempt_at, COALESCE(batch_id, ''), COALESCE(batch_end, 0),
		ref_paused, endpoint_disabled, lease_until FROM delivery_streams WHERE destination = $1 AND stream = $2`,
		endpointID, stream).Scan(&st.dueAt, &st.attempts, &st.firstAttemptAt, &st.batchID, &st.batchEnd,
		&st.refPaused, &st.endpointDisabled, &st.leaseUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read stream %s of endpoint %s: %w", stream, endpointID, err)
	}
	return &st, nil
}

// writeEndpointStream writes a stream's retry state and due time over its row; its
// flags and lease stay as they are.
func writeEndpointStream(ctx context.Context, tx pgx.Tx, endpointID, stream string, st *endpointStream) error {
	var batchID *string
	var batchEnd *int64
	if st.batchID != "" {
		batchID, batchEnd = &st.batchID, &st.batchEnd
	}
	_, err := tx.Exec(ctx, `UPDATE delivery_streams SET due_at = $3, attempts = $4, first_attempt_at = $5,
		batch_id = $6, batch_end = $7 WHERE destination = $1 AND stream = $2`,
		endpointID, stream, st.dueAt, st.attempts, st.firstAttemptAt, batchID, batchEnd)
	if err != nil {
		return fmt.Errorf("postgres: write stream %s of endpoint %s: %w", stream, endpointID, err)
	}
	return nil
}

// deleteEndpointStream deletes a drained stream's row.
func deleteEndpointStream(ctx context.Context, tx pgx.Tx, endpointID, stream string) error {
	if _, err := tx.Exec(ctx, "DELETE FROM delivery_streams WHERE destination = $1 AND stream = $2", endpointID, stream); err != nil {
		return fmt.Errorf("postgres: delete stream %s of endpoint %s: %w", stream, endpointID, err)
	}
	return nil
}

// lockEndpointStreams locks every stream row of the endpoint, in key order, before a
// change of the endpoint that changes them too (the lock order puts them first).
func lockEndpointStreams(ctx context.Context, tx pgx.Tx, endpointID string) error {
	_, err := tx.Exec(ctx, "SELECT 1 FROM delivery_streams WHERE destination = $1 ORDER BY stream FOR UPDATE", endpointID)
	if err != nil {
		return fmt.Errorf("postgres: lock the streams of endpoint %s: %w", endpointID, err)
	}
	return nil
}

// holdEndpointStreams holds the streams of a disabled endpoint, with their state, or
// releases those of an endpoint enabled again, due now: they go on where they stopped,
// with the attempts counted so far.
func holdEndpointStreams(ctx context.Context, tx pgx.Tx, endpointID string, disabled bool, now time.Time) error {
	sql := "UPDATE delivery_streams SET endpoint_disabled = true WHERE destination = $1"
	args := []any{endpointID}
	if !disabled {
		sql = "UPDATE delivery_streams SET endpoint_disabled = false, due_at = $2 WHERE destination = $1"
		args = append(args, now)
	}
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("postgres: hold the streams of endpoint %s: %w", endpointID, err)
	}
	return nil
}

// openStreams makes sure each endpoint has a row for stream before messages are
// queued in it, and locks the rows, so that no lease holder finds the stream drained
// and deletes its row meanwhile. A new row is due at due (a time.Time, or nil for the
// database's now: see clockArg); an existing one keeps its schedule (a message in
// flight keeps the stream's: order is per stream). Rows are taken in key order.
func openStreams(ctx context.Context, tx pgx.Tx, accountID, stream string, endpointIDs []string, refPaused bool, due any) error {
	ids := slices.Clone(endpointIDs)
	slices.Sort(ids)
	// DO UPDATE ... WHERE false writes nothing but locks the existing row.
	_, err := tx.Exec(ctx, `INSERT INTO delivery_streams (destination, stream, account_id, due_at, ref_paused)
		SELECT d, $2, $3, COALESCE($4::timestamptz, now()), $5 FROM unnest($1::text[]) AS d ORDER BY d
		ON CONFLICT (destination, stream) DO UPDATE SET due_at = delivery_streams.due_at WHERE false`,
		ids, stream, accountID, due, refPaused)
	if err != nil {
		return fmt.Errorf("postgres: open stream %s of %d endpoints: %w", stream, len(ids), err)
	}
	return nil
}

// fanOutUpdates queues each of ups, just appended to ref's feed, as a message of every
// enabled endpoint of the account that Endpoint.Matches it, in the same transaction:
// the account's endpoints are read once, matched in Go (the rules are the domain's),
// and the streams and messages written with one statement each.
func (db *DB) fanOutUpdates(ctx context.Context, tx pgx.Tx, ref *references.Reference, ups []references.Update) error {
	eps, err := enabledEndpoints(ctx, tx, ref.AccountID)
	if err != nil || len(eps) == 0 {
		return err
	}
	var msgs []references.Message
	var to []string
	for i := range eps {
		ep := &eps[i]
		n := len(msgs)
		for j := range ups {
			u := &ups[j]
			if ep.Matches(ref, u) {
				msgs = append(msgs, newMessage(ep, ref.ID, u.ID, u.Sequence, string(u.Type), u.Tags(ep.MinETAChange), u.CreatedAt))
			}
		}
		if len(msgs) > n {
			to = append(to, ep.ID)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := openStreams(ctx, tx, ref.AccountID, ref.ID, to, ref.Paused(), db.clockArg()); err != nil {
		return err
	}
	return insertMessages(ctx, tx, msgs)
}

// newMessage is a new pending message of ep: an update of refID's feed, or (refID "")
// an operational event.
func newMessage(ep *references.Endpoint, refID, id string, seq uint64, eventType string, tags []string, created time.Time) references.Message {
	due := created.UTC()
	return references.Message{
		EndpointID: ep.ID, AccountID: ep.AccountID, ID: id, ReferenceID: refID, Sequence: seq,
		EventType: eventType, Tags: tags, CreatedAt: created, Status: references.MessagePending, NextAttemptAt: &due,
	}
}

// Why a message is expired, in its log.
const (
	whyContentGone = "what the message carries is no longer kept (removed by retention): nothing was sent"
	whyRetention   = "older than the delivery log's retention period: it was dropped without being sent again"
)

// nextEndpointJob fills job with the next message (or batch, or operational event) of
// the endpoint's stream, whose row the caller holds under its lease, in tx. found is
// false when there is nothing to send now, and the seam has then done what that
// needs, so the caller only reports it (ErrNothingToDeliver, or no claim):
//   - the stream is drained, or its endpoint deleted: its row is deleted here;
//   - the stream is held (its endpoint disabled or its reference paused after the
//     claim): its row is kept, flagged, and its lease given back (lease columns
//     cleared), so that it waits for the endpoint's enabling or the reference's resume.
//
// Queued messages whose update (or event) retention removed are failed as expired on
// the way, and a batch for a FormatBatch endpoint is fixed (batch_id, batch_end) when
// first handed out, so that an attempt whose record a crash lost is sent again as the
// receiver may have got it.
func (db *DB) nextEndpointJob(ctx context.Context, tx pgx.Tx, endpointID, stream string, now time.Time, job *references.DeliveryJob) (found bool, err error) {
	*job = references.DeliveryJob{Destination: endpointID}
	ep, err := getEndpoint(ctx, tx, "", endpointID, noLock)
	if errors.Is(err, references.ErrNotFound) {
		return false, deleteEndpointStream(ctx, tx, endpointID, stream)
	}
	if err != nil {
		return false, err
	}
	st, err := readEndpointStream(ctx, tx, endpointID, stream)
	if err != nil || st == nil {
		return false, err
	}
	if !ep.Enabled || st.endpointDisabled || st.refPaused {
		return false, holdEndpointStream(ctx, tx, endpointID, stream, !ep.Enabled)
	}
	for {
		batch, stale, err := streamBatch(ctx, tx, &ep, stream, st, job)
		if err != nil {
			return false, err
		}
		if len(stale) > 0 {
			drained, err := expireMessages(ctx, tx, endpointID, stream, stale, now, whyContentGone)
			if err != nil {
				return false, err
			}
			if drained {
				return false, deleteEndpointStream(ctx, tx, endpointID, stream)
			}
			if st, err = readEndpointStream(ctx, tx, endpointID, stream); err != nil {
				return false, err
			}
			continue
		}
		if len(batch) > 0 {
			break
		}
		if st.batchID == "" {
			return false, deleteEndpointStream(ctx, tx, endpointID, stream) // drained
		}
		// A fixed batch left without members: the stream goes on from its first try.
		st = &endpointStream{dueAt: st.dueAt}
		if err := writeEndpointStream(ctx, tx, endpointID, stream, st); err != nil {
			return false, err
		}
	}
	job.Endpoint = &ep
	if stream != references.AccountStream {
		job.Reference, err = getReference(ctx, tx, stream, false)
		if err != nil && !errors.Is(err, references.ErrNotFound) {
			return false, err
		}
	}
	if job.Batch != nil {
		job.BatchID = st.batchID
		if job.BatchID == "" {
			first, last := job.Batch[0].Sequence, job.Batch[len(job.Batch)-1].Sequence
			job.BatchID = references.BatchID(endpointID, stream, first, last)
			st.batchID, st.batchEnd = job.BatchID, int64(last)
			if err := writeEndpointStream(ctx, tx, endpointID, stream, st); err != nil {
				return false, err
			}
		}
	}
	job.Attempt = st.attempts + 1
	if st.firstAttemptAt != nil {
		job.FirstAttemptAt = *st.firstAttemptAt
	}
	job.Secrets = ep.LiveSecrets(now)
	return true, nil
}

// holdEndpointStream makes a stream wait, with its state, for its endpoint to be
// enabled (disabled: the endpoint is, though its row did not say so yet) or its
// reference to be resumed, and gives its lease back.
func holdEndpointStream(ctx context.Context, tx pgx.Tx, endpointID, stream string, disabled bool) error {
	_, err := tx.Exec(ctx, `UPDATE delivery_streams SET endpoint_disabled = endpoint_disabled OR $3,
		lease_owner = NULL, lease_token = NULL, lease_until = NULL WHERE destination = $1 AND stream = $2`,
		endpointID, stream, disabled)
	if err != nil {
		return fmt.Errorf("postgres: hold stream %s of endpoint %s: %w", stream, endpointID, err)
	}
	return nil
}

// streamBatch reads what the stream sends next into job (Update and, for a batch
// endpoint, Batch; or Event) and returns its messages: the head, with up to
// BatchSize-1 following ones for a batch endpoint (its fixed batch once handed out).
// Messages whose update or event is gone are returned as stale instead; nothing is
// written. No batch and no stale messages means the stream is drained, or its fixed
// batch has no member left.
func streamBatch(ctx context.Context, tx pgx.Tx, ep *references.Endpoint, stream string, st *endpointStream, job *references.DeliveryJob) (batch, stale []references.Message, err error) {
	size := 1
	batched := ep.Format == references.FormatBatch && stream != references.AccountStream
	if batched {
		size = ep.BatchSize
		if size <= 0 {
			size = references.DefaultBatchSize
		}
	}
	// A batch fixed when first handed out is sent as it was, whatever the endpoint's
	// batch size is now; an endpoint no longer of FormatBatch sends one at a time.
	end := int64(math.MaxInt64)
	if batched && st.batchID != "" {
		end, size = st.batchEnd, math.MaxInt32
	}
	body := "LEFT JOIN updates b ON b.ref_id = m.stream AND b.seq = m.seq"
	if stream == references.AccountStream {
		body = "LEFT JOIN account_events b ON b.account_id = m.account_id AND b.seq = m.seq"
	}
	rows, err := tx.Query(ctx, `SELECT m.data, b.data FROM messages m `+body+`
		WHERE m.endpoint_id = $1 AND m.stream = $2 AND m.queued AND m.seq <= $3 ORDER BY m.seq LIMIT $4`,
		ep.ID, stream, end, size)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: read stream %s of endpoint %s: %w", stream, ep.ID, err)
	}
	defer rows.Close()
	job.Update, job.Batch, job.Event = references.Update{}, nil, nil
	for rows.Next() {
		var mdata, bdata []byte
		if err := rows.Scan(&mdata, &bdata); err != nil {
			return nil, nil, fmt.Errorf("postgres: read stream %s of endpoint %s: %w", stream, ep.ID, err)
		}
		m, err := decodeMessage(mdata)
		if err != nil {
			return nil, nil, err
		}
		if bdata == nil {
			stale = append(stale, m)
			continue
		}
		if stream == references.AccountStream {
			var e references.AccountEvent
			if err := decodeJSON(bdata, &e, "operational event"); err != nil {
				return nil, nil, err
			}
			job.Event = &e
			batch = append(batch, m)
			continue
		}
		var u references.Update
		if err := decodeJSON(bdata, &u, "update"); err != nil {
			return nil, nil, err
		}
		if len(batch) == 0 {
			job.Update = u
		}
		if batched {
			job.Batch = append(job.Batch, u)
		}
		batch = append(batch, m)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("postgres: read stream %s of endpoint %s: %w", stream, ep.ID, err)
	}
	if len(stale) > 0 {
		job.Update, job.Batch, job.Event = references.Update{}, nil, nil // read again once they left
	}
	return batch, stale, nil
}

// expireMessages fails queued messages of one stream that can no longer be sent
// (what they carry is gone, or retention's cutoff passed them) with an OutcomeExpired
// entry in their logs at at, takes them out of the stream and moves the stream on
// (moveStreamsOn). The caller holds the stream's row. drained reports that the stream
// has nothing left; its row is then the caller's to delete.
func expireMessages(ctx context.Context, tx pgx.Tx, endpointID, stream string, msgs []references.Message, at time.Time, why string) (drained bool, err error) {
	seqs := make([]int64, len(msgs))
	for i := range msgs {
		seqs[i] = int64(msgs[i].Sequence)
	}
	locked, err := lockMessages(ctx, tx, endpointID, stream, seqs) // as they are now
	if err != nil {
		return false, err
	}
	var writes []messageWrite
	for i := range locked {
		m := &locked[i]
		a := references.DeliveryAttempt{
			Destination: m.EndpointID, ReferenceID: m.ReferenceID, UpdateID: m.ID, Sequence: m.Sequence,
			At: at, Outcome: references.OutcomeExpired, Error: why,
		}
		next, _ := references.AfterMessageAttempt(*m, a)
		writes = append(writes, messageWrite{m: next, leave: true})
	}
	if err := saveMessages(ctx, tx, writes); err != nil {
		return false, err
	}
	left, err := moveStreamsOn(ctx, tx, []leftStream{{endpointID: endpointID, stream: stream, first: slices.Min(seqs)}})
	return len(left) > 0, err
}

// leftStream is a stream some of whose messages left its order, the first of them at
// sequence first.
type leftStream struct {
	endpointID, stream string
	first              int64
}

// moveStreamsOn moves streams on once messages left their order: a stream whose head
// left goes on with its next message from the first try, unless the head was one of
// a fixed batch that still has members. It returns the streams left with no message
// (their rows are their callers' to delete). One statement for all of them.
func moveStreamsOn(ctx context.Context, tx pgx.Tx, left []leftStream) (drained []leftStream, err error) {
	if len(left) == 0 {
		return nil, nil
	}
	eps, streams, firsts := make([]string, len(left)), make([]string, len(left)), make([]int64, len(left))
	for i, l := range left {
		eps[i], streams[i], firsts[i] = l.endpointID, l.stream, l.first
	}
	rows, err := tx.Query(ctx, `WITH h AS (
			SELECT x.i, x.e, x.s, x.f, (SELECT min(m.seq) FROM messages m
				WHERE m.endpoint_id = x.e AND m.stream = x.s AND m.queued) AS head
			FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS x(e, s, f, i)),
		moved AS (
			UPDATE delivery_streams d SET attempts = 0, first_attempt_at = NULL, batch_id = NULL, batch_end = NULL
			FROM h WHERE d.destination = h.e AND d.stream = h.s AND h.head > h.f
				AND NOT (d.batch_id IS NOT NULL AND h.head <= d.batch_end))
		SELECT i FROM h WHERE head IS NULL`, eps, streams, firsts)
	if err != nil {
		return nil, fmt.Errorf("postgres: move %d streams on: %w", len(left), err)
	}
	var i int64
	_, err = pgx.ForEachRow(rows, []any{&i}, func() error {
		drained = append(drained, left[i-1])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: move %d streams on: %w", len(left), err)
	}
	return drained, nil
}

// endpointResendJob fills job with the message a requested resend (a redeliveries
// row of the endpoint, which the caller holds under its lease) sends: one attempt,
// outside the stream's order, of the message as its stream would send it (a batch of
// one for a batch endpoint). found is false when there is nothing to send:
//   - the endpoint, the message or what it carries is gone: the caller drops the row
//     (a message whose update or event retention removed gets an OutcomeDropped entry
//     in its log here);
//   - the resend waits (its endpoint is disabled, its reference paused): its lease is
//     given back here (lease columns cleared) and the row must stay.
func (db *DB) endpointResendJob(ctx context.Context, tx pgx.Tx, endpointID, stream, messageID string, now time.Time, job *references.DeliveryJob) (found bool, err error) {
	*job = references.DeliveryJob{Destination: endpointID, Redelivery: true}
	ep, err := getEndpoint(ctx, tx, "", endpointID, noLock)
	if errors.Is(err, references.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	m, err := messageByID(ctx, tx, endpointID, messageID, false)
	if errors.Is(err, references.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	stream = messageStream(&m)
	if stream != references.AccountStream {
		job.Reference, err = getReference(ctx, tx, stream, false)
		if err != nil && !errors.Is(err, references.ErrNotFound) {
			return false, err
		}
	}
	if !ep.Enabled || job.Reference.Paused() {
		_, err := tx.Exec(ctx, `UPDATE redeliveries SET lease_owner = NULL, lease_token = NULL, lease_until = NULL
			WHERE destination = $1 AND stream = $2 AND message_id = $3`, endpointID, stream, messageID)
		if err != nil {
			return false, fmt.Errorf("postgres: hold the resend of %s to %s: %w", messageID, endpointID, err)
		}
		return false, nil
	}
	body, err := readMessageBody(ctx, tx, &m)
	if err != nil {
		return false, err
	}
	if body.Update == nil && body.Event == nil {
		return false, dropResend(ctx, tx, &m, now)
	}
	job.Endpoint = &ep
	job.Attempt = len(m.Attempts) + 1
	job.Secrets = ep.LiveSecrets(now)
	if body.Event != nil {
		job.Event = body.Event
		return true, nil
	}
	job.Update = *body.Update
	if ep.Format == references.FormatBatch {
		job.Batch = []references.Update{job.Update}
		job.BatchID = references.BatchID(ep.ID, stream, m.Sequence, m.Sequence)
	}
	return true, nil
}

// dropResend logs in a message that its resend was dropped: what it carries is gone.
func dropResend(ctx context.Context, tx pgx.Tx, m *references.Message, now time.Time) error {
	locked, err := messageByID(ctx, tx, m.EndpointID, m.ID, true)
	if err != nil {
		return err
	}
	a := references.DeliveryAttempt{
		Destination: locked.EndpointID, ReferenceID: locked.ReferenceID, UpdateID: locked.ID, Sequence: locked.Sequence,
		At: now, Redelivery: true, Outcome: references.OutcomeDropped, Error: whyContentGone,
	}
	next, _ := references.AfterMessageAttempt(locked, a)
	return saveMessages(ctx, tx, []messageWrite{{m: next}})
}

// forgetMessagesOf takes a reference that retention deletes out of every endpoint's
// streams: their rows and queued resends go, and its messages leave their streams'
// order (they stay in the endpoints' logs until their own retention). It is called
// before the reference's row is deleted.
func (db *DB) forgetMessagesOf(ctx context.Context, tx pgx.Tx, refID string) error {
	if _, err := tx.Exec(ctx, "DELETE FROM delivery_streams WHERE stream = $1 AND destination <> $2",
		refID, references.DestinationCallback); err != nil {
		return fmt.Errorf("postgres: drop the endpoint streams of %s: %w", refID, err)
	}
	if _, err := tx.Exec(ctx, "UPDATE messages SET queued = false WHERE queued AND stream = $1", refID); err != nil {
		return fmt.Errorf("postgres: take the messages of %s out of their streams: %w", refID, err)
	}
	// Resends of finished messages too: what they would send is gone with it. (By the
	// account's endpoints, so that the redeliveries' key is the index.)
	if _, err := tx.Exec(ctx, `DELETE FROM redeliveries WHERE stream = $1 AND destination IN (
			SELECT e.id FROM endpoints e JOIN refs r ON r.account_id = e.account_id WHERE r.id = $1)`,
		refID); err != nil {
		return fmt.Errorf("postgres: drop the resends of %s: %w", refID, err)
	}
	return nil
}
