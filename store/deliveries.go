package store

// Delivery streams handed out with leases: claiming due streams (and redeliveries,
// see redeliveries.go), the next job of a held stream, and the durable record of
// each attempt. A stream is one destination of one reference: its callback (the
// functions here) or an account endpoint (endpoint_streams.go), both in the outbox.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// callbackLease is the lease key prefix of a reference's callback stream.
var callbackLease = references.DeliveryLeaseKey(references.DestinationCallback, "")

// deliveryLease is the lease key prefix of every delivery stream.
var deliveryLease = strings.TrimSuffix(references.DeliveryLeaseKey("", ""), "/")

// streamOfLease returns the destination and stream a delivery stream's lease is on.
func streamOfLease(lease references.Lease) (destination, stream string, err error) {
	rest, ok := strings.CutPrefix(lease.Key, deliveryLease)
	if ok {
		destination, stream, ok = strings.Cut(rest, "/")
	}
	if !ok || destination == "" || stream == "" {
		return "", "", fmt.Errorf("%w: %q is not a lease of a delivery stream", references.ErrLeaseLost, lease.Key)
	}
	return destination, stream, nil
}

// isEndpointJob reports whether a job goes to an account endpoint rather than to its
// reference's callback.
func isEndpointJob(job *references.DeliveryJob) bool {
	return job.Destination != "" && job.Destination != references.DestinationCallback
}

// streamID names one delivery stream: a destination and its stream.
type streamID struct{ destination, stream string }

// ClaimDueDeliveries leases up to limit due delivery streams (callbacks' and
// endpoints', in one outbox) and requested redeliveries and resends to owner, most
// overdue first, each with its first job (see references.DeliveryQueue).
func (db *DB) ClaimDueDeliveries(ctx context.Context, owner string, limit int, lease time.Duration) ([]references.DeliveryClaim, error) {
	if limit <= 0 {
		return nil, nil
	}
	db.claiming.Lock()
	defer db.claiming.Unlock()
	mark := db.leases.begin()
	defer db.leases.end()
	now := db.clock.Now()
	until := now.Add(lease)
	var claims []references.DeliveryClaim
	var stale []queuedRedelivery
	var toWrite []streamID // streams to move on in a write before they can be claimed
	err := db.view(ctx, func(tx *bolt.Tx) error {
		// Streams and redeliveries (and resends), most overdue first: a redelivery is
		// due from the moment it was asked for.
		reds := queuedRedeliveries(tx)
		end := timeKey(now)
		c := tx.Bucket(bucketOutbox).Cursor()
		k, _ := c.First()
		for len(claims) < limit {
			streamDue := k != nil && bytes.Compare(k[:8], end) <= 0
			if len(reds) > 0 && (!streamDue || !keyTime(k).Before(reds[0].at)) {
				r := reds[0]
				reds = reds[1:]
				claim, gone, err := db.claimRedelivery(tx, r, owner, now, until, mark)
				switch {
				case err != nil:
					return err
				case gone:
					stale = append(stale, r)
				case claim.Lease.Owner != "":
					claims = append(claims, claim)
				}
				continue
			}
			if !streamDue {
				break
			}
			dest, stream, ok := parseOutboxKey(k)
			if !ok {
				return fmt.Errorf("outbox key %q is not of this schema", k)
			}
			k, _ = c.Next()
			l, ok := db.leases.grant(references.DeliveryLeaseKey(dest, stream), owner, now, until, mark)
			if !ok {
				continue
			}
			var job references.DeliveryJob
			nothing, write, err := db.nextJob(tx, streamID{dest, stream}, now, &job, false)
			if err != nil {
				db.leases.ungrant(l)
				return err
			}
			if nothing || write {
				// Drained, or updates to pass over first: done below, in a write.
				db.leases.ungrant(l)
				if write {
					toWrite = append(toWrite, streamID{dest, stream})
				}
				continue
			}
			claims = append(claims, references.DeliveryClaim{Lease: l, Job: job})
		}
		return nil
	})
	if err != nil {
		for _, c := range claims {
			db.leases.ungrant(c.Lease)
		}
		return nil, fmt.Errorf("claim due deliveries: %w", err)
	}
	if len(stale) > 0 {
		if err := db.dropRedeliveries(ctx, stale, now); err != nil {
			db.log.Error("dropping redeliveries of missing updates", "err", err)
		}
	}
	// Streams whose next update is filtered out or pruned, or that are drained: move
	// them on (a shared commit each), then lease those with something to send.
	for _, s := range toWrite {
		if len(claims) == limit {
			break
		}
		l, ok := db.leases.grant(references.DeliveryLeaseKey(s.destination, s.stream), owner, now, until, mark)
		if !ok {
			continue
		}
		job, err := db.nextDeliveryWrite(ctx, s, now)
		if err != nil {
			db.leases.ungrant(l)
			if errors.Is(err, references.ErrNothingToDeliver) {
				continue
			}
			for _, c := range claims {
				db.leases.ungrant(c.Lease)
			}
			return nil, fmt.Errorf("claim due deliveries: %w", err)
		}
		claims = append(claims, references.DeliveryClaim{Lease: l, Job: job})
	}
	return claims, nil
}

// ClaimDelivery leases the callback stream of one reference to owner now, with its
// next job, due or not: for a delivery on demand. It fails with
// references.ErrNothingToDeliver when nothing waits, and references.ErrBusy while
// another lease on the stream is live.
func (db *DB) ClaimDelivery(ctx context.Context, owner, refID string, lease time.Duration) (references.DeliveryClaim, error) {
	mark := db.leases.begin()
	defer db.leases.end()
	now := db.clock.Now()
	l, ok := db.leases.grant(callbackLease+refID, owner, now, now.Add(lease), mark)
	if !ok {
		return references.DeliveryClaim{}, fmt.Errorf("claim delivery of %s: %w", refID, references.ErrBusy)
	}
	job, err := db.NextDelivery(ctx, l)
	if err != nil {
		db.leases.ungrant(l)
		return references.DeliveryClaim{}, err
	}
	return references.DeliveryClaim{Lease: l, Job: job}, nil
}

// NextDelivery returns the next job of a leased delivery stream, in sequence order.
// For a callback, updates its event_types filter excludes are passed over (they stay
// in the feed); for an endpoint, messages whose update retention deleted fail as
// expired. When nothing is left the stream leaves the outbox and
// references.ErrNothingToDeliver is returned.
//
// It only reads, in the common case where the next update is the one after
// DeliveredSequence: a write transaction (and its fsync) per delivery would cost as
// much as the delivery's own durable record. Passing over filtered updates and taking
// a drained reference out of the outbox are written, in a shared commit.
func (db *DB) NextDelivery(ctx context.Context, lease references.Lease) (references.DeliveryJob, error) {
	dest, stream, err := streamOfLease(lease)
	if err != nil {
		return references.DeliveryJob{}, fmt.Errorf("next delivery: %w", err)
	}
	s := streamID{dest, stream}
	now := db.clock.Now()
	if !db.leases.live(lease, now) {
		return references.DeliveryJob{}, fmt.Errorf("next delivery of %s: %w", lease.Key, references.ErrLeaseLost)
	}
	var job references.DeliveryJob
	nothing, needsWrite := false, false
	err = db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		nothing, needsWrite, err = db.nextJob(tx, s, now, &job, false)
		return err
	})
	if err != nil {
		return references.DeliveryJob{}, fmt.Errorf("next delivery of %s: %w", lease.Key, err)
	}
	if needsWrite {
		return db.nextDeliveryWrite(ctx, s, now)
	}
	if nothing {
		return references.DeliveryJob{}, references.ErrNothingToDeliver
	}
	return job, nil
}

// nextDeliveryWrite is NextDelivery when the outbox needs a change first.
func (db *DB) nextDeliveryWrite(ctx context.Context, s streamID, now time.Time) (references.DeliveryJob, error) {
	var job references.DeliveryJob
	nothing := false
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		var err error
		nothing, _, err = db.nextJob(tx, s, now, &job, true)
		return err
	})
	if err != nil {
		return references.DeliveryJob{}, fmt.Errorf("next delivery of %s/%s: %w", s.destination, s.stream, err)
	}
	if nothing {
		return references.DeliveryJob{}, references.ErrNothingToDeliver
	}
	return job, nil
}

// nextJob is nextDelivery for a callback stream, nextEndpointJob for an endpoint's.
func (db *DB) nextJob(tx *bolt.Tx, s streamID, now time.Time, job *references.DeliveryJob, write bool) (nothing, needsWrite bool, err error) {
	if s.destination == references.DestinationCallback {
		return db.nextDelivery(tx, s.stream, now, job, write)
	}
	return db.nextEndpointJob(tx, s.destination, s.stream, now, job, write)
}

// nextDelivery fills job with the reference's next update to send, or reports that
// there is nothing. When the outbox needs a change first (updates to pass over, an
// entry to remove) it makes it if write is set, and otherwise changes nothing and
// reports needsWrite.
func (db *DB) nextDelivery(tx *bolt.Tx, refID string, now time.Time, job *references.DeliveryJob, write bool) (nothing, needsWrite bool, err error) {
	*job = references.DeliveryJob{Destination: references.DestinationCallback}
	ref := &job.Reference
	if err := getRef(tx, anyAccount, refID, ref); err != nil {
		if errors.Is(err, references.ErrNotFound) {
			return true, false, nil
		}
		return false, false, err
	}
	st, err := getDeliveryState(tx, refID)
	if err != nil {
		return false, false, err
	}
	if st == nil {
		return true, false, nil
	}
	if ref.Paused() {
		// It waits out of the outbox, with its state, until the reference is resumed.
		if !write {
			return false, true, nil
		}
		return true, false, parkDelivery(tx, refID, st)
	}
	if !ref.Delivers() {
		if !write {
			return false, true, nil
		}
		return true, false, setDeliveryState(tx, refID, st, nil)
	}
	skipped := false
	for ref.DeliveredSequence < ref.LastSequence {
		found, err := getUpdate(tx, refID, ref.DeliveredSequence+1, &job.Update)
		if err != nil {
			return false, false, err
		}
		if found && ref.WantsEvent(job.Update.Type) {
			break
		}
		if !write {
			return false, true, nil
		}
		ref.DeliveredSequence++ // filtered out (or pruned): nothing to send
		skipped = true
	}
	if skipped {
		if err := putRef(tx, ref); err != nil {
			return false, false, err
		}
	}
	if ref.DeliveredSequence >= ref.LastSequence {
		if !write {
			return false, true, nil
		}
		return true, false, setDeliveryState(tx, refID, st, nil)
	}
	job.Attempt = st.Attempts + 1
	if st.FirstAttemptAt != nil {
		job.FirstAttemptAt = *st.FirstAttemptAt
	}
	job.Secrets, err = db.liveSecrets(tx, ref.AccountID, now)
	return false, false, err
}

// liveSecrets returns the account's signing secrets live at now.
func (db *DB) liveSecrets(tx *bolt.Tx, accountID string, now time.Time) ([]string, error) {
	data := tx.Bucket(bucketAccounts).Get([]byte(accountID))
	if data == nil {
		return nil, fmt.Errorf("account %s not found", accountID)
	}
	acct, err := db.accounts.get(accountID, data)
	if err != nil {
		return nil, fmt.Errorf("decode account %s: %w", accountID, err)
	}
	return acct.LiveSecrets(now), nil
}

// PostponeDelivery makes the leased stream due at until without counting an attempt,
// for when the destination's circuit breaker is open, and ends the lease.
func (db *DB) PostponeDelivery(ctx context.Context, lease references.Lease, until time.Time) error {
	dest, refID, err := streamOfLease(lease)
	if err != nil {
		return fmt.Errorf("postpone delivery: %w", err)
	}
	if !db.leases.record(lease, db.clock.Now()) {
		return fmt.Errorf("postpone delivery of %s: %w", lease.Key, references.ErrLeaseLost)
	}
	defer db.leases.release(lease)
	err = db.batch(ctx, func(tx *bolt.Tx) error {
		if dest != references.DestinationCallback {
			return postponeEndpointStream(tx, dest, refID, until)
		}
		st, err := getDeliveryState(tx, refID)
		if err != nil || st == nil {
			return err
		}
		next := *st
		next.DueAt = until.UTC()
		return setDeliveryState(tx, refID, st, &next)
	})
	if err != nil {
		return fmt.Errorf("postpone delivery of %s: %w", lease.Key, err)
	}
	return nil
}

// RecordAttempt logs a delivery attempt and moves the reference's delivery on in the
// same transaction, by the rules of references.AfterAttempt. unsubscribe, when set,
// also unsubscribes the reference (callback_failing). Redeliveries are logged but do
// not move the ordered stream. Nothing is marked delivered before this returns. The
// lease stays held: its owner goes on with NextDelivery, then releases it. A job to
// an endpoint is recorded in its messages instead (see recordEndpointAttempt), and
// unsubscribe does not apply to it.
//
// The attempt has been made when this is called, so its caller can wait a little:
// concurrent calls are committed together with patience (see attemptPatience).
func (db *DB) RecordAttempt(ctx context.Context, lease references.Lease, job references.DeliveryJob, a references.DeliveryAttempt, unsubscribeReason references.UnsubscribeReason) (references.Reference, error) {
	want := callbackLease + job.Reference.ID
	switch {
	case isEndpointJob(&job) && job.Redelivery:
		want = references.RedeliveryLeaseKey(job.Destination, jobStream(&job), job.MessageID())
	case isEndpointJob(&job):
		want = references.DeliveryLeaseKey(job.Destination, jobStream(&job))
	case job.Redelivery:
		want = references.RedeliveryLeaseKey(references.DestinationCallback, job.Reference.ID, job.Update.ID)
	}
	if lease.Key != want {
		return references.Reference{}, fmt.Errorf("record attempt for %s: %w: the lease is on %q, not this job", job.MessageID(), references.ErrLeaseLost, lease.Key)
	}
	if !db.leases.record(lease, db.clock.Now()) {
		return references.Reference{}, fmt.Errorf("record attempt for %s: %w", job.MessageID(), references.ErrLeaseLost)
	}
	if job.Redelivery {
		defer db.leases.release(lease) // one attempt is all a redelivery is
	} else {
		defer db.leases.unrecord(lease)
	}
	if isEndpointJob(&job) {
		return db.recordEndpoint(ctx, job, a)
	}
	var ref references.Reference
	err := db.patientBatch(ctx, func(tx *bolt.Tx) error {
		ref = references.Reference{}
		if err := getRef(tx, anyAccount, job.Reference.ID, &ref); err != nil {
			return err
		}
		if err := appendAttempt(tx, &a); err != nil {
			return err
		}
		if job.Redelivery {
			if job.Reference.CallbackURL != ref.CallbackURL {
				// The callback URL was changed during the attempt: only log. The
				// redelivery stays queued, for the new URL (see PatchReference).
				return nil
			}
			if err := tx.Bucket(bucketRedeliver).Delete(join(str(ref.ID), []byte(job.Update.ID))); err != nil {
				return err
			}
			if a.Outcome == references.OutcomeGone && ref.Subscribed() {
				return db.endTracking(tx, &ref, references.ReasonCallbackGone, a.At)
			}
			return nil
		}
		st, err := getDeliveryState(tx, ref.ID)
		if err != nil {
			return err
		}
		stream := streamOf(&ref, st)
		if st == nil || !stream.Expects(job.Update.Sequence) || job.Reference.CallbackURL != ref.CallbackURL {
			// The stream moved on meanwhile (unsubscribe), or the callback URL was
			// changed during the attempt: only log. The new URL still gets the update.
			return nil
		}
		next, unsubscribe, err := references.AfterAttempt(stream, a)
		if err != nil {
			return err
		}
		if unsubscribe == "" {
			unsubscribe = unsubscribeReason
		}
		if unsubscribe == references.ReasonCallbackGone {
			return db.endTracking(tx, &ref, unsubscribe, a.At)
		}
		if err := setDeliveryState(tx, ref.ID, st, applyStream(&ref, next)); err != nil {
			return err
		}
		if unsubscribe != "" && ref.Subscribed() {
			return db.endTracking(tx, &ref, unsubscribe, a.At)
		}
		return putRef(tx, &ref)
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("record attempt for %s: %w", job.Update.ID, err)
	}
	return ref, nil
}

// recordEndpoint is RecordAttempt for a job to an endpoint (see
// recordEndpointAttempt); it returns the job's reference as stored, zero for an
// operational event or a reference retention deleted.
func (db *DB) recordEndpoint(ctx context.Context, job references.DeliveryJob, a references.DeliveryAttempt) (references.Reference, error) {
	var ref references.Reference
	err := db.patientBatch(ctx, func(tx *bolt.Tx) error {
		ref = references.Reference{}
		if err := db.recordEndpointAttempt(tx, &job, a); err != nil {
			return err
		}
		if job.Reference.ID == "" {
			return nil
		}
		if err := getRef(tx, anyAccount, job.Reference.ID, &ref); !errors.Is(err, references.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("record attempt for %s to %s: %w", job.MessageID(), job.Destination, err)
	}
	return ref, nil
}
