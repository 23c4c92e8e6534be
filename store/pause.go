package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// PauseReference pauses a reference (see references.PauseStore): it leaves the poll
// schedule and its delivery streams leave the outbox, keeping their state.
func (db *DB) PauseReference(ctx context.Context, accountID, id string, at time.Time) (references.Reference, error) {
	var ref references.Reference
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := getRef(tx, accountID, id, &ref); err != nil {
			return err
		}
		db.withSchedule(&ref) // keep a last poll the schedule knows of
		dueKey := db.dueKeyOf(&ref)
		from := ref.Status
		changed, err := references.Pause(&ref, at)
		if err != nil || !changed {
			return err
		}
		if err := moveStatus(tx, ref.AccountID, from, ref.Status); err != nil {
			return err
		}
		if dueKey != nil {
			if err := tx.Bucket(bucketDue).Delete(dueKey); err != nil {
				return err
			}
		}
		if err := db.parkStreams(tx, &ref); err != nil {
			return err
		}
		if err := putRef(tx, &ref); err != nil {
			return err
		}
		db.sched.remove(ref.ID)
		return nil
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("pause %s: %w", id, err)
	}
	return ref, nil
}

// ResumeReference makes a paused reference active, due at once, with its delivery
// streams back in the outbox (see references.PauseStore).
func (db *DB) ResumeReference(ctx context.Context, accountID, id string, at time.Time) (references.Reference, error) {
	var ref references.Reference
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := getRef(tx, accountID, id, &ref); err != nil {
			return err
		}
		from := ref.Status
		changed, err := references.Resume(&ref, at)
		if err != nil || !changed {
			return err
		}
		if err := moveStatus(tx, ref.AccountID, from, ref.Status); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDue).Put(dueKey(at, ref.ID), nil); err != nil {
			return err
		}
		if err := db.unparkStreams(tx, &ref, at); err != nil {
			return err
		}
		if err := putRef(tx, &ref); err != nil {
			return err
		}
		// Not handed to the poller before the commit makes it active.
		db.sched.put(ref.ID, at, true)
		tx.OnCommit(func() { db.sched.confirm(ref.ID) })
		return nil
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("resume %s: %w", id, err)
	}
	db.withSchedule(&ref)
	return ref, nil
}

// RequestPoll makes an active reference due at at, once references.CheckRefresh
// allowed it, and records the refresh on the reference (see references.PauseStore).
// A poll running meanwhile sets the next due time when it is recorded: the refresh
// is then answered by that poll.
func (db *DB) RequestPoll(ctx context.Context, accountID, id string, at time.Time) (references.Reference, error) {
	var ref references.Reference
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := getRef(tx, accountID, id, &ref); err != nil {
			return err
		}
		if err := references.CheckRefresh(&ref, at); err != nil {
			return err
		}
		db.withSchedule(&ref) // the last poll the schedule knows of is written now
		due := tx.Bucket(bucketDue)
		if k := db.dueKeyOf(&ref); k != nil {
			if err := due.Delete(k); err != nil {
				return err
			}
		}
		if err := due.Put(dueKey(at, ref.ID), nil); err != nil {
			return err
		}
		ref.NextPollAt, ref.LastRefreshAt = &at, &at
		if err := putRef(tx, &ref); err != nil {
			return err
		}
		db.sched.put(ref.ID, at, false)
		return nil
	})
	if err != nil {
		return references.Reference{}, fmt.Errorf("request a poll of %s: %w", id, err)
	}
	return ref, nil
}

// parkStreams takes a paused reference's delivery streams out of the outbox, with
// their state kept: the callback's and each endpoint's. A stream put back meanwhile
// (an attempt recorded, an endpoint enabled again) is parked again by the claim that
// finds it (see nextDelivery and nextEndpointJob).
func (db *DB) parkStreams(tx *bolt.Tx, ref *references.Reference) error {
	st, err := getDeliveryState(tx, ref.ID)
	if err != nil {
		return err
	}
	if st != nil {
		if err := parkDelivery(tx, ref.ID, st); err != nil {
			return err
		}
	}
	return db.eachEndpointStream(tx, ref, func(ep *references.Endpoint, st *streamState) error {
		return setStreamState(tx, ep.ID, false, ref.ID, st, st)
	})
}

// eachEndpointStream calls fn with each endpoint of ref's account that has a stream of
// ref, and the stream's state.
func (db *DB) eachEndpointStream(tx *bolt.Tx, ref *references.Reference, fn func(*references.Endpoint, *streamState) error) error {
	eps, err := db.accountEndpoints(tx, ref.AccountID)
	if err != nil {
		return err
	}
	for i := range eps {
		st, err := getStreamState(tx, eps[i].ID, ref.ID)
		if err != nil {
			return err
		}
		if st != nil {
			if err := fn(&eps[i], st); err != nil {
				return err
			}
		}
	}
	return nil
}

// parkDelivery takes a callback stream out of the outbox and keeps its state.
func parkDelivery(tx *bolt.Tx, refID string, st *deliveryState) error {
	return tx.Bucket(bucketOutbox).Delete(outboxKey(st.DueAt, references.DestinationCallback, refID))
}

// unparkStreams puts a resumed (or unsubscribed) reference's delivery streams back
// in the outbox, due at at or at a later retry time they had: they go on where they
// stopped, with the attempts counted so far. A disabled endpoint's stream stays out
// until the endpoint is enabled.
func (db *DB) unparkStreams(tx *bolt.Tx, ref *references.Reference, at time.Time) error {
	st, err := getDeliveryState(tx, ref.ID)
	if err != nil {
		return err
	}
	if st != nil {
		next := *st
		next.DueAt = laterOf(st.DueAt, at)
		if err := setDeliveryState(tx, ref.ID, st, &next); err != nil {
			return err
		}
	}
	return db.eachEndpointStream(tx, ref, func(ep *references.Endpoint, st *streamState) error {
		next := *st
		next.DueAt = laterOf(st.DueAt, at)
		return setStreamState(tx, ep.ID, ep.Enabled, ref.ID, st, &next)
	})
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a.UTC()
	}
	return b.UTC()
}

// streamRefPaused reports whether a reference's stream is to wait: its reference is
// paused. A stream that is not a reference's (an endpoint's operational events) never
// waits for one.
func streamRefPaused(tx *bolt.Tx, refID string) (bool, error) {
	if refID == references.AccountStream {
		return false, nil
	}
	var ref references.Reference
	err := getRef(tx, anyAccount, refID, &ref)
	if errors.Is(err, references.ErrNotFound) {
		return false, nil
	}
	return ref.Paused(), err
}
