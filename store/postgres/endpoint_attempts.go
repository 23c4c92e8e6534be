package postgres

// The record of an attempt to an endpoint: the attempt goes into each message the job
// sent (references.AfterMessageAttempt decides the message's next status), the stream
// moves on, the endpoint's health follows (references.EndpointFailing, a.Disable),
// and what that gave up or disabled is appended to the account's operational feed and
// sent to the endpoints that subscribe, all in the caller's transaction.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// recordEndpointAttempt is RecordAttempt's work for a job to an endpoint, in tx, once
// the caller checked the lease (and so holds the row of the job's stream, or of its
// resend). A resend only logs itself, and its redeliveries row is deleted here (or,
// when the endpoint's URL changed during the attempt, kept for the new URL with its
// lease given back). An attempt the stream has moved past meanwhile (a message
// expired, a new batch, a changed URL) is only logged. Attempts to an endpoint deleted
// meanwhile have nothing to be logged in.
func (db *DB) recordEndpointAttempt(ctx context.Context, tx pgx.Tx, job *references.DeliveryJob, a references.DeliveryAttempt, now time.Time) error {
	ep, err := getEndpoint(ctx, tx, "", job.Destination, noLock)
	if errors.Is(err, references.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// Lock what the attempt changes in the lock order: the endpoint's streams when it
	// disables it, the endpoint when its health changes, then the messages.
	disables := a.Disable != "" && ep.Enabled
	failingChanges := !job.Redelivery && !sameTimePtr(references.EndpointFailing(&ep, a.Outcome, a.At), ep.FailingSince)
	if disables {
		if err := lockEndpointStreams(ctx, tx, ep.ID); err != nil {
			return err
		}
	}
	if disables || failingChanges {
		if ep, err = getEndpoint(ctx, tx, "", job.Destination, lockEndpoint); err != nil {
			return err
		}
	}
	stream := jobStream(job)
	msgs, err := lockMessages(ctx, tx, ep.ID, stream, jobSequences(job))
	if err != nil || len(msgs) == 0 {
		return err
	}
	urlChanged := job.Endpoint != nil && job.Endpoint.URL != ep.URL
	if job.Redelivery {
		return db.recordResend(ctx, tx, &ep, stream, msgs[0], a, urlChanged, now)
	}
	st, err := readEndpointStream(ctx, tx, ep.ID, stream)
	if err != nil {
		return err
	}
	var head *int64
	err = tx.QueryRow(ctx, "SELECT min(seq) FROM messages WHERE endpoint_id = $1 AND stream = $2 AND queued",
		ep.ID, stream).Scan(&head)
	if err != nil {
		return fmt.Errorf("postgres: read the head of stream %s of endpoint %s: %w", stream, ep.ID, err)
	}
	if st == nil || head == nil || *head != int64(msgs[0].Sequence) || urlChanged ||
		job.Batch != nil && st.batchID != "" && st.batchID != job.BatchID {
		// The stream moved on meanwhile (the message expired, the batch was re-fixed),
		// or the URL was changed during the attempt: only log.
		return logOnly(ctx, tx, msgs, a)
	}
	var exhausted []references.AccountEvent
	var writes []messageWrite
	finished := false
	for i := range msgs {
		ma := messageAttempt(&msgs[i], a)
		if job.Batch != nil {
			msgs[i].BatchID = job.BatchID
		}
		m, gaveUp := references.AfterMessageAttempt(msgs[i], ma)
		if gaveUp {
			exhausted = append(exhausted, references.ExhaustedEvent(&ep, &m, &ma))
		}
		done := m.Status == references.MessageSucceeded || m.Status == references.MessageFailed
		finished = finished || done
		writes = append(writes, messageWrite{m: m, leave: done})
	}
	if err := saveMessages(ctx, tx, writes); err != nil {
		return err
	}
	// A stream drained by this attempt keeps its row until its lease holder asks for
	// the next job (nextEndpointJob deletes it then), so that the lease stays valid.
	next := &endpointStream{dueAt: a.At} // a finished head: the next one from its first try
	if !finished {
		next = st
		next.attempts++
		if next.firstAttemptAt == nil {
			at := a.At.UTC()
			next.firstAttemptAt = &at
		}
		next.dueAt = a.At
		if a.NextRetryAt != nil && a.Disable == "" {
			next.dueAt = *a.NextRetryAt
		}
		next.batchID, next.batchEnd = "", 0
		if job.Batch != nil {
			next.batchID, next.batchEnd = job.BatchID, int64(msgs[len(msgs)-1].Sequence)
		}
	}
	if err := writeEndpointStream(ctx, tx, ep.ID, stream, next); err != nil {
		return err
	}
	return db.endpointAfterAttempt(ctx, tx, &ep, a, true, exhausted, now)
}

// recordResend logs a resend's attempt in its message and ends the resend (see
// recordEndpointAttempt).
func (db *DB) recordResend(ctx context.Context, tx pgx.Tx, ep *references.Endpoint, stream string, m references.Message, a references.DeliveryAttempt, urlChanged bool, now time.Time) error {
	if urlChanged {
		// Only log: the resend stays queued, for the new URL, and is claimable again.
		_, err := tx.Exec(ctx, `UPDATE redeliveries SET lease_owner = NULL, lease_token = NULL, lease_until = NULL
			WHERE destination = $1 AND stream = $2 AND message_id = $3`, ep.ID, stream, m.ID)
		if err != nil {
			return fmt.Errorf("postgres: requeue the resend of %s to %s: %w", m.ID, ep.ID, err)
		}
		return logOnly(ctx, tx, []references.Message{m}, a)
	}
	_, err := tx.Exec(ctx, "DELETE FROM redeliveries WHERE destination = $1 AND stream = $2 AND message_id = $3",
		ep.ID, stream, m.ID)
	if err != nil {
		return fmt.Errorf("postgres: end the resend of %s to %s: %w", m.ID, ep.ID, err)
	}
	a.Redelivery = true
	next, _ := references.AfterMessageAttempt(m, messageAttempt(&m, a))
	if err := saveMessages(ctx, tx, []messageWrite{{m: next}}); err != nil {
		return err
	}
	return db.endpointAfterAttempt(ctx, tx, ep, a, false, nil, now)
}

// jobSequences are the sequences of the messages a job sends: its batch's, or its one.
func jobSequences(job *references.DeliveryJob) []int64 {
	switch {
	case job.Event != nil:
		return []int64{int64(job.Event.Sequence)}
	case job.Batch != nil:
		seqs := make([]int64, len(job.Batch))
		for i := range job.Batch {
			seqs[i] = int64(job.Batch[i].Sequence)
		}
		return seqs
	}
	return []int64{int64(job.Update.Sequence)}
}

// messageAttempt is a's entry in the log of message m (a batch's attempt is logged
// in each of its messages).
func messageAttempt(m *references.Message, a references.DeliveryAttempt) references.DeliveryAttempt {
	a.Destination, a.ReferenceID, a.UpdateID, a.Sequence = m.EndpointID, m.ReferenceID, m.ID, m.Sequence
	return a
}

// logOnly appends a to the messages' logs without moving them on.
func logOnly(ctx context.Context, tx pgx.Tx, msgs []references.Message, a references.DeliveryAttempt) error {
	writes := make([]messageWrite, len(msgs))
	for i := range msgs {
		m := msgs[i]
		m.Attempts = append(m.Attempts, messageAttempt(&m, a))
		writes[i] = messageWrite{m: m}
	}
	return saveMessages(ctx, tx, writes)
}

// endpointAfterAttempt writes what an attempt changed on the endpoint (locked by the
// caller when it changes): FailingSince, for an attempt of a stream (a resend is
// outside the ordered delivery whose health it tells), and a.Disable, which holds its
// streams. Then it appends the message.attempt.exhausted events and endpoint.disabled
// (when the attempt disabled it) to the account's feed, fanned out to the endpoints
// that subscribe.
func (db *DB) endpointAfterAttempt(ctx context.Context, tx pgx.Tx, ep *references.Endpoint, a references.DeliveryAttempt, ofStream bool, exhausted []references.AccountEvent, now time.Time) error {
	changed := false
	if ofStream {
		failing := references.EndpointFailing(ep, a.Outcome, a.At)
		changed = !sameTimePtr(failing, ep.FailingSince)
		ep.FailingSince = failing
	}
	disabled := a.Disable != "" && ep.Disable(a.Disable, a.At)
	if changed || disabled {
		if err := saveEndpoint(ctx, tx, ep); err != nil {
			return err
		}
	}
	if disabled {
		if err := holdEndpointStreams(ctx, tx, ep.ID, true, now); err != nil {
			return err
		}
	}
	if len(exhausted) == 0 && !disabled {
		return nil
	}
	eps, err := enabledEndpoints(ctx, tx, ep.AccountID)
	if err != nil {
		return err
	}
	// The messages given up come first: giving one up is what disables an endpoint
	// that has failed past its policy.
	for i := range exhausted {
		if err := db.appendEvent(ctx, tx, &exhausted[i], eps, now); err != nil {
			return err
		}
	}
	if disabled {
		e := references.DisabledEvent(ep, a.At)
		if err := db.appendEvent(ctx, tx, &e, eps, now); err != nil {
			return err
		}
		db.log.Warn("endpoint disabled", "endpoint_id", ep.ID, "account_id", ep.AccountID, "reason", ep.DisabledReason)
	}
	return nil
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
