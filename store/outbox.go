package store

// The outbox: which delivery streams have something due, by due time. A stream is one
// destination of one reference: its callback (here) or an account endpoint
// (endpoint_streams.go). A reference's callback stream is its progress on the
// reference record plus the state of the update being sent (attempts, when next);
// references.AfterAttempt decides how an attempt moves it.

import (
	"bytes"
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
		if err := outbox.Delete(outboxKey(old.DueAt, references.DestinationCallback, refID)); err != nil {
			return err
		}
	}
	if st == nil {
		return tx.Bucket(bucketDelivery).Delete([]byte(refID))
	}
	if err := outbox.Put(outboxKey(st.DueAt, references.DestinationCallback, refID), nil); err != nil {
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

// streamOf is the reference's callback stream: its progress lives on the reference,
// the state of the update being sent in the delivery_state bucket.
func streamOf(ref *references.Reference, st *deliveryState) references.DeliveryStream {
	s := references.DeliveryStream{
		DeliveredSequence: ref.DeliveredSequence, LastSequence: ref.LastSequence,
		State: ref.DeliveryState, FailingSince: ref.FailingSince,
	}
	if st != nil {
		s.DueAt, s.Attempts, s.FirstAttemptAt = st.DueAt, st.Attempts, st.FirstAttemptAt
	}
	return s
}

// applyStream writes s back to the reference and returns the delivery state to keep,
// nil when the feed is drained.
func applyStream(ref *references.Reference, s references.DeliveryStream) *deliveryState {
	ref.DeliveredSequence, ref.DeliveryState, ref.FailingSince = s.DeliveredSequence, s.State, s.FailingSince
	if !s.Pending() {
		return nil
	}
	return &deliveryState{DueAt: s.DueAt.UTC(), Attempts: s.Attempts, FirstAttemptAt: s.FirstAttemptAt}
}

// restartDelivery sends the reference's pending updates to its new callback URL from
// the start: the attempts made to the old URL do not count for the new one. Queued
// redeliveries stay queued and go to the new URL.
func restartDelivery(tx *bolt.Tx, ref *references.Reference, at time.Time) error {
	st, err := getDeliveryState(tx, ref.ID)
	if err != nil {
		return err
	}
	if ref.DeliveredSequence >= ref.LastSequence {
		return setDeliveryState(tx, ref.ID, st, nil)
	}
	return setDeliveryState(tx, ref.ID, st, &deliveryState{DueAt: at.UTC()})
}
