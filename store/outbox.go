package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// deliveryState is where a reference's ordered delivery stands: the update being
// sent (the one after DeliveredSequence), how often it was tried, and when next.
type deliveryState struct {
	DueAt          time.Time  `json:"due_at"`
	Attempts       int        `json:"attempts"`
	FirstAttemptAt *time.Time `json:"first_attempt_at,omitempty"`
}

// scheduleDelivery puts the reference in the outbox, due at at, unless it is there
// already (an update in flight keeps its own schedule: order is per reference).
func scheduleDelivery(tx *bolt.Tx, ref *references.Reference, at time.Time) error {
	b := tx.Bucket(bucketDelivery)
	if b.Get([]byte(ref.ID)) != nil {
		return nil
	}
	return setDeliveryState(tx, ref.ID, nil, &deliveryState{DueAt: at.UTC()})
}

// setDeliveryState replaces old (nil: none) with st (nil: none) and moves the
// outbox entry to match.
func setDeliveryState(tx *bolt.Tx, refID string, old, st *deliveryState) error {
	outbox := tx.Bucket(bucketOutbox)
	switch {
	case old == nil && st != nil:
		if err := addCount(tx, countPending, 1); err != nil {
			return err
		}
	case old != nil && st == nil:
		if err := addCount(tx, countPending, -1); err != nil {
			return err
		}
	}
	if old != nil {
		if err := outbox.Delete(dueKey(old.DueAt, refID)); err != nil {
			return err
		}
	}
	if st == nil {
		return tx.Bucket(bucketDelivery).Delete([]byte(refID))
	}
	if err := outbox.Put(dueKey(st.DueAt, refID), nil); err != nil {
		return err
	}
	return tx.Bucket(bucketDelivery).Put([]byte(refID), encodeDeliveryState(st))
}

func getDeliveryState(tx *bolt.Tx, refID string) (*deliveryState, error) {
	data := tx.Bucket(bucketDelivery).Get([]byte(refID))
	if data == nil {
		return nil, nil
	}
	var st deliveryState
	if err := decodeDeliveryState(data, &st); err != nil {
		return nil, fmt.Errorf("decode delivery state of %s: %w", refID, err)
	}
	return &st, nil
}

// clearOutbox drops the reference's pending ordered delivery and its redelivery requests.
func clearOutbox(tx *bolt.Tx, refID string) error {
	st, err := getDeliveryState(tx, refID)
	if err != nil {
		return err
	}
	if st != nil {
		if err := setDeliveryState(tx, refID, st, nil); err != nil {
			return err
		}
	}
	prefix := str(refID)
	c := tx.Bucket(bucketRedeliver).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// DueDeliveries returns the ids of up to limit references with an update due for
// delivery at or before now, most overdue first.
func (db *DB) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	end := timeKey(now)
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) <= 0 && len(ids) < limit; k, _ = c.Next() {
			ids = append(ids, string(k[8:]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	return ids, nil
}

// NextDelivery returns the reference's next update to send, in sequence order.
// Updates its event_types filter excludes are passed over (they stay in the feed);
// when nothing is left the reference leaves the outbox and references.ErrNothingToDeliver is
// returned.
//
// It only reads, in the common case where the next update is the one after
// DeliveredSequence: a write transaction (and its fsync) per delivery would cost as
// much as the delivery's own durable record. Passing over filtered updates and taking
// a drained reference out of the outbox are written, in a shared commit. A job read
// here can be stale by the time its attempt is recorded; RecordAttempt checks the
// sequence and only logs an attempt the stream has moved past.
func (db *DB) NextDelivery(ctx context.Context, refID string, now time.Time) (references.DeliveryJob, error) {
	var job references.DeliveryJob
	nothing, needsWrite := false, false
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		nothing, needsWrite, err = db.nextDelivery(tx, refID, now, &job, false)
		return err
	})
	if err == nil && needsWrite {
		err = db.batch(ctx, func(tx *bolt.Tx) error {
			var err error
			nothing, _, err = db.nextDelivery(tx, refID, now, &job, true)
			return err
		})
	}
	if err != nil {
		return references.DeliveryJob{}, fmt.Errorf("next delivery of %s: %w", refID, err)
	}
	if nothing {
		return references.DeliveryJob{}, references.ErrNothingToDeliver
	}
	return job, nil
}

// nextDelivery fills job with the reference's next update to send, or reports that
// there is nothing. When the outbox needs a change first (updates to pass over, an
// entry to remove) it makes it if write is set, and otherwise changes nothing and
// reports needsWrite.
func (db *DB) nextDelivery(tx *bolt.Tx, refID string, now time.Time, job *references.DeliveryJob, write bool) (nothing, needsWrite bool, err error) {
	*job = references.DeliveryJob{}
	ref := &job.Reference
	if err := getRef(tx, anyAccount, refID, ref); err != nil {
		return false, false, err
	}
	st, err := getDeliveryState(tx, refID)
	if err != nil {
		return false, false, err
	}
	if st == nil {
		return true, false, nil
	}
	if ref.CallbackURL == "" || (!ref.Active() && stopsDelivery(ref.UnsubscribeReason)) {
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

// PostponeDelivery moves the reference's pending delivery to until without counting an
// attempt, for when the destination's circuit breaker is open.
func (db *DB) PostponeDelivery(ctx context.Context, refID string, until time.Time) error {
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		st, err := getDeliveryState(tx, refID)
		if err != nil || st == nil {
			return err
		}
		next := *st
		next.DueAt = until.UTC()
		return setDeliveryState(tx, refID, st, &next)
	})
	if err != nil {
		return fmt.Errorf("postpone delivery of %s: %w", refID, err)
	}
	return nil
}

// RecordAttempt logs a delivery attempt and moves the reference's delivery on in the
// same transaction, according to a.Outcome:
//   - delivered: the update is done; the next one (if any) is due now.
//   - failed: the same update is due again at a.NextRetryAt.
//   - gave_up: the retry window ran out; the update stays in the feed, the reference is
//     marked failing and the next update is due now.
//   - gone: the receiver answered 410; the reference is unsubscribed (callback_gone).
//
// unsubscribe, when set with a failed or gave_up outcome, also unsubscribes the
// reference (callback_failing). Redeliveries are logged but do not move the ordered
// stream. Nothing is marked delivered before this returns.
//
// The attempt has been made when this is called, so its caller can wait a little:
// concurrent calls are committed together with patience (see attemptPatience).
func (db *DB) RecordAttempt(ctx context.Context, job references.DeliveryJob, a references.DeliveryAttempt, unsubscribeReason references.UnsubscribeReason) (references.Reference, error) {
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
			if err := tx.Bucket(bucketRedeliver).Delete(join(str(ref.ID), []byte(job.Update.ID))); err != nil {
				return err
			}
			if a.Outcome == references.OutcomeGone && ref.Active() {
				return db.unsubscribe(tx, &ref, references.ReasonCallbackGone, a.At)
			}
			return nil
		}
		st, err := getDeliveryState(tx, ref.ID)
		if err != nil {
			return err
		}
		if st == nil || job.Update.Sequence != ref.DeliveredSequence+1 || job.Reference.CallbackURL != ref.CallbackURL {
			// The stream moved on meanwhile (unsubscribe), or the callback URL was
			// changed during the attempt: only log. The new URL still gets the update.
			return nil
		}
		switch a.Outcome {
		case references.OutcomeDelivered:
			ref.DeliveredSequence = job.Update.Sequence
			ref.DeliveryState, ref.FailingSince = references.DeliveryOK, nil
			if err := setDeliveryState(tx, ref.ID, st, nextPending(&ref, a.At)); err != nil {
				return err
			}
		case references.OutcomeFailed:
			next := *st
			next.Attempts++
			if next.FirstAttemptAt == nil {
				first := a.At
				next.FirstAttemptAt = &first
			}
			if a.NextRetryAt != nil {
				next.DueAt = a.NextRetryAt.UTC()
			}
			if ref.FailingSince == nil {
				since := a.At
				ref.FailingSince = &since
			}
			if err := setDeliveryState(tx, ref.ID, st, &next); err != nil {
				return err
			}
		case references.OutcomeGaveUp:
			ref.DeliveredSequence = job.Update.Sequence
			ref.DeliveryState = references.DeliveryFailing
			if ref.FailingSince == nil {
				since := a.At
				ref.FailingSince = &since
			}
			if err := setDeliveryState(tx, ref.ID, st, nextPending(&ref, a.At)); err != nil {
				return err
			}
		case references.OutcomeGone:
			if err := db.unsubscribe(tx, &ref, references.ReasonCallbackGone, a.At); err != nil {
				return err
			}
			return nil
		default:
			return fmt.Errorf("unknown attempt outcome %q", a.Outcome)
		}
		if unsubscribeReason != "" && ref.Active() {
			return db.unsubscribe(tx, &ref, unsubscribeReason, a.At)
		}
		return putRef(tx, &ref)
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("record attempt for %s: %w", job.Update.ID, err)
	}
	return ref, nil
}

// nextPending is the delivery state for the update after the one just finished, or
// nil when the feed is drained.
func nextPending(ref *references.Reference, at time.Time) *deliveryState {
	if ref.DeliveredSequence >= ref.LastSequence {
		return nil
	}
	return &deliveryState{DueAt: at.UTC()}
}

func appendAttempt(tx *bolt.Tx, a *references.DeliveryAttempt) error {
	b := tx.Bucket(bucketAttempts)
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	return putJSON(b, join(str(a.ReferenceID), u64(n)), newAttemptRecord(a))
}

// ListDeliveries returns a page of the reference's delivery log, newest first.
func (db *DB) ListDeliveries(ctx context.Context, accountID, refID string, q references.DeliveryQuery) (references.DeliveryPage, error) {
	page := references.DeliveryPage{Deliveries: []references.DeliveryAttempt{}}
	prefix := str(refID)
	var lastN uint64
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var ref references.Reference
		if err := getRef(tx, accountID, refID, &ref); err != nil {
			return err
		}
		// Attempt keys grow with time: walk backwards from below the cursor (the key
		// number of the last attempt already returned) or from the newest.
		below := ^uint64(0)
		if q.Cursor != "" {
			n, err := decodeCursor(q.Cursor)
			if err != nil {
				return err
			}
			below = n
		}
		c := tx.Bucket(bucketAttempts).Cursor()
		k, v := c.Seek(join(prefix, u64(below)))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if len(page.Deliveries) == q.Limit {
				page.NextCursor = encodeCursor(lastN)
				return nil
			}
			var a attemptRecord
			if err := unmarshal(v, &a); err != nil {
				return err
			}
			page.Deliveries = append(page.Deliveries, a.attempt())
			lastN = binary.BigEndian.Uint64(k[len(prefix):])
		}
		return nil
	})
	if err != nil {
		return references.DeliveryPage{}, fmt.Errorf("list deliveries of %s: %w", refID, err)
	}
	return page, nil
}

// RequestRedelivery queues one update of the account's reference to be sent again.
func (db *DB) RequestRedelivery(ctx context.Context, accountID, refID, updateID string, at time.Time) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var ref references.Reference
		if err := getRef(tx, accountID, refID, &ref); err != nil {
			return err
		}
		if !ref.Active() && stopsDelivery(ref.UnsubscribeReason) {
			return references.Errorf(references.CodeConflict, "reference %s was unsubscribed (%s): nothing is delivered for it", refID, ref.UnsubscribeReason)
		}
		if _, err := findUpdate(tx, refID, updateID, ref.LastSequence); err != nil {
			return err
		}
		return tx.Bucket(bucketRedeliver).Put(join(str(refID), []byte(updateID)), timeKey(at))
	})
	if err != nil {
		return fmt.Errorf("redeliver %s: %w", updateID, err)
	}
	return nil
}

// findUpdate looks an update up by id. Ids are not indexed (redelivery is rare), so it
// scans the reference's feed, newest first.
func findUpdate(tx *bolt.Tx, refID, updateID string, last uint64) (references.Update, error) {
	var u references.Update
	prefix := str(refID)
	c := tx.Bucket(bucketUpdates).Cursor()
	c.Seek(join(prefix, u64(last+1)))
	for k, v := c.Prev(); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		if !bytes.Contains(v, []byte(updateID)) {
			continue
		}
		if err := decodeUpdate(v, &u); err != nil {
			return u, err
		}
		if u.ID == updateID {
			return u, nil
		}
	}
	return u, references.Errorf(references.CodeNotFound, "update %s not found in the feed of %s", updateID, refID)
}

// Redeliveries returns up to limit queued redeliveries, each ready to send.
func (db *DB) Redeliveries(ctx context.Context, now time.Time, limit int) ([]references.DeliveryJob, error) {
	var jobs []references.DeliveryJob
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRedeliver).Cursor()
		for k, _ := c.First(); k != nil && len(jobs) < limit; k, _ = c.Next() {
			i := bytes.IndexByte(k, sep)
			refID, updateID := string(k[:i]), string(k[i+1:])
			job := references.DeliveryJob{Redelivery: true, Attempt: 1}
			if err := getRef(tx, anyAccount, refID, &job.Reference); err != nil {
				return err
			}
			u, err := findUpdate(tx, refID, updateID, job.Reference.LastSequence)
			if err != nil {
				return err
			}
			job.Update = u
			if job.Secrets, err = db.liveSecrets(tx, job.Reference.AccountID, now); err != nil {
				return err
			}
			jobs = append(jobs, job)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redeliveries: %w", err)
	}
	return jobs, nil
}

func encodeCursor(n uint64) string { return base64.RawURLEncoding.EncodeToString(u64(n)) }

func decodeCursor(s string) (uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, references.Invalidf("cursor", "is not a cursor this server returned")
	}
	return binary.BigEndian.Uint64(b), nil
}
