package store

// Requested redeliveries: one update of a reference sent again to its callback, or
// one message resent to an endpoint, outside the ordered stream, claimed alongside
// the streams in the order they were asked for.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// RequestRedelivery queues one update of the account's reference to be sent again.
func (db *DB) RequestRedelivery(ctx context.Context, accountID, refID, updateID string, at time.Time) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var ref references.Reference
		if err := getRef(tx, accountID, refID, &ref); err != nil {
			return err
		}
		if !ref.Active() && references.StopsDelivery(ref.UnsubscribeReason) {
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
		if err := decodeStoredUpdate(tx, k, v, &u); err != nil {
			return u, err
		}
		if u.ID == updateID {
			return u, nil
		}
	}
	return u, references.Errorf(references.CodeNotFound, "update %s not found in the feed of %s", updateID, refID)
}

// queuedRedelivery is a requested redelivery (to a callback) or resend (to an
// endpoint): of which update or message, asked for when.
type queuedRedelivery struct {
	// endpointID is the endpoint of a resend, "" for a callback's redelivery.
	endpointID string
	// refID and updateID name a callback's redelivery; a resend has only its message's
	// id in updateID.
	refID, updateID string
	at              time.Time
}

// queuedRedeliveries returns the requested redeliveries and resends in the order
// they were asked for. They are few (a person asks for each, or for a recovery), so
// they are read whole and sorted.
func queuedRedeliveries(tx *bolt.Tx) []queuedRedelivery {
	var out []queuedRedelivery
	for _, b := range [][]byte{bucketRedeliver, bucketEndpointResend} {
		c := tx.Bucket(b).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			i := bytes.IndexByte(k, sep)
			r := queuedRedelivery{refID: string(k[:i]), updateID: string(k[i+1:])}
			if bytes.Equal(b, bucketEndpointResend) {
				r.endpointID, r.refID = r.refID, ""
			}
			if len(v) == 8 {
				r.at = keyTime(v)
			}
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b queuedRedelivery) int { return a.at.Compare(b.at) })
	return out
}

// claimRedelivery leases one requested redelivery (or resend) with its job. gone
// reports that its update (or reference) no longer exists; a zero claim that the
// redelivery is leased already, or waits (a resend to a disabled endpoint).
func (db *DB) claimRedelivery(tx *bolt.Tx, r queuedRedelivery, owner string, now, until time.Time, mark claimMark) (claim references.DeliveryClaim, gone bool, err error) {
	if r.endpointID != "" {
		return db.claimResend(tx, r, owner, now, until, mark)
	}
	l, ok := db.leases.grant(references.RedeliveryLeaseKey(references.DestinationCallback, r.refID, r.updateID), owner, now, until, mark)
	if !ok {
		return claim, false, nil
	}
	job := references.DeliveryJob{Destination: references.DestinationCallback, Redelivery: true, Attempt: 1}
	err = getRef(tx, anyAccount, r.refID, &job.Reference)
	if err == nil && job.Reference.Paused() {
		db.leases.ungrant(l)
		return claim, false, nil // waits until the reference is resumed
	}
	if err == nil {
		job.Update, err = findUpdate(tx, r.refID, r.updateID, job.Reference.LastSequence)
	}
	if err == nil {
		job.Secrets, err = db.liveSecrets(tx, job.Reference.AccountID, now)
	}
	if err != nil {
		db.leases.ungrant(l)
		if errors.Is(err, references.ErrNotFound) {
			return claim, true, nil
		}
		return claim, false, err
	}
	return references.DeliveryClaim{Lease: l, Job: job}, false, nil
}

// dropRedeliveries removes queued redeliveries whose update no longer exists, each
// with an entry in the reference's delivery log (or the message's) saying so.
func (db *DB) dropRedeliveries(ctx context.Context, stale []queuedRedelivery, now time.Time) error {
	return db.batch(ctx, func(tx *bolt.Tx) error {
		for _, r := range stale {
			if r.endpointID != "" {
				if err := dropResend(tx, r, now); err != nil {
					return err
				}
				continue
			}
			key := join(str(r.refID), []byte(r.updateID))
			if tx.Bucket(bucketRedeliver).Get(key) == nil {
				continue // dropped already (a batch may run this twice)
			}
			if err := tx.Bucket(bucketRedeliver).Delete(key); err != nil {
				return err
			}
			db.log.Warn("redelivery dropped: the update no longer exists", "reference_id", r.refID, "update_id", r.updateID)
			if tx.Bucket(bucketRefs).Get([]byte(r.refID)) == nil {
				continue // the reference is gone too: no log to write to
			}
			a := references.DeliveryAttempt{
				ReferenceID: r.refID, UpdateID: r.updateID, At: now, Redelivery: true,
				Outcome: references.OutcomeDropped,
				Error:   "the update is no longer in the feed (removed by retention): nothing was sent",
			}
			if err := appendAttempt(tx, &a); err != nil {
				return err
			}
		}
		return nil
	})
}

// claimResend leases one requested resend of an endpoint's message with its job: one
// attempt, outside the stream's order, of the message as its stream would send it
// (a batch of one for a batch endpoint). gone reports that the endpoint, the message
// or what it carries no longer exists; a resend to a disabled endpoint waits.
func (db *DB) claimResend(tx *bolt.Tx, r queuedRedelivery, owner string, now, until time.Time, mark claimMark) (claim references.DeliveryClaim, gone bool, err error) {
	ep, err := db.deliveringEndpoint(tx, r.endpointID)
	if err == nil && !ep.Enabled {
		return claim, false, nil
	}
	var m references.Message
	if err == nil {
		m, err = findMessage(tx, r.endpointID, r.updateID)
	}
	if errors.Is(err, references.ErrNotFound) {
		return claim, true, nil
	}
	if err != nil {
		return claim, false, err
	}
	stream := messageStream(&m)
	l, ok := db.leases.grant(references.RedeliveryLeaseKey(ep.ID, stream, m.ID), owner, now, until, mark)
	if !ok {
		return claim, false, nil
	}
	job := references.DeliveryJob{
		Destination: ep.ID, Endpoint: &ep, Redelivery: true, Attempt: len(m.Attempts) + 1,
		Secrets: ep.LiveSecrets(now),
	}
	found := false
	if stream == references.AccountStream {
		var e references.AccountEvent
		if e, found, err = getAccountEvent(tx, ep.AccountID, m.Sequence); found {
			job.Event = &e
		}
	} else {
		found, err = getUpdate(tx, stream, m.Sequence, &job.Update)
		if found && ep.Format == references.FormatBatch {
			job.Batch = []references.Update{job.Update}
			job.BatchID = references.BatchID(ep.ID, stream, m.Sequence, m.Sequence)
		}
		if err == nil {
			if err = getRef(tx, anyAccount, stream, &job.Reference); errors.Is(err, references.ErrNotFound) {
				err = nil
			}
			if err == nil && job.Reference.Paused() {
				db.leases.ungrant(l)
				return claim, false, nil // waits until the reference is resumed
			}
		}
	}
	if err != nil || !found {
		db.leases.ungrant(l)
		return claim, err == nil, err
	}
	return references.DeliveryClaim{Lease: l, Job: job}, false, nil
}

// dropResend removes a queued resend whose message (or what it carries) no longer
// exists, with an entry in the message's log when it is still there.
func dropResend(tx *bolt.Tx, r queuedRedelivery, now time.Time) error {
	key := join(str(r.endpointID), []byte(r.updateID))
	if tx.Bucket(bucketEndpointResend).Get(key) == nil {
		return nil // dropped already (a batch may run this twice)
	}
	if err := tx.Bucket(bucketEndpointResend).Delete(key); err != nil {
		return err
	}
	m, err := findMessage(tx, r.endpointID, r.updateID)
	if errors.Is(err, references.ErrNotFound) {
		return nil // gone with its endpoint, or aged out: no log to write to
	}
	if err != nil {
		return err
	}
	a := references.DeliveryAttempt{
		Destination: m.EndpointID, ReferenceID: m.ReferenceID, UpdateID: m.ID, Sequence: m.Sequence,
		At: now, Redelivery: true, Outcome: references.OutcomeDropped,
		Error: whyContentGone,
	}
	next, _ := references.AfterMessageAttempt(m, a)
	return putMessage(tx, &next, false)
}
