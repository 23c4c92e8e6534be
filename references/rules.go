package references

import (
	"fmt"
	"time"
)

// The state rules every backend applies. A backend reads the state, calls these, and
// writes what they return in the same transaction.

// DestinationCallback is the destination of a reference's own callback_url.
const DestinationCallback = "callback"

// StopsDelivery reports whether unsubscribing for reason stops the delivery of the
// updates in the reference's feed at once. Only a dead callback does (gone, failing):
// after a user's DELETE, as after the automatic ends of tracking (complete, not found,
// too old), the callback still gets what is pending and the final
// reference.unsubscribed update.
func StopsDelivery(reason UnsubscribeReason) bool {
	switch reason {
	case ReasonCallbackGone, ReasonCallbackFailing:
		return true
	}
	return false
}

// Delivers reports whether the reference's callback stream is still worked: it has a
// callback URL and is active or ended in a way that delivers its last updates. A
// paused reference's stream waits, with its state, until it is resumed.
func (r *Reference) Delivers() bool {
	return r.OwesDelivery() && !r.Paused()
}

// OwesDelivery reports whether the reference's callback is still owed the updates
// after DeliveredSequence: it delivers them now, or will once resumed. Retention keeps
// those updates.
func (r *Reference) OwesDelivery() bool {
	return r.CallbackURL != "" && (r.Subscribed() || !StopsDelivery(r.UnsubscribeReason))
}

// EndsTracking reports whether recording the poll result unsubscribes the reference.
func (res *PollResult) EndsTracking() bool { return res.Unsubscribe != "" }

// Quiet reports whether the poll brought nothing to store: no snapshot, no update, no
// unsubscribe and no change of the push subscription. A backend may then keep only its
// schedule, if the reference's stored error state is the one res carries (see
// SameErrorState).
func (res *PollResult) Quiet() bool {
	return res.Shipment == nil && len(res.Updates) == 0 && res.Unsubscribe == "" && res.Push == nil
}

// SameErrorState reports whether recording res would leave the reference's polling
// error fields as they are.
func (res *PollResult) SameErrorState(ref *Reference) bool {
	return ref.LastPollError == res.Error && ref.ConsecutiveFailures == res.ConsecutiveFailures &&
		sameTime(ref.NotFoundSince, res.NotFoundSince)
}

// ApplyTo sets what recording res changes on the reference itself: when it was
// polled and is due next, its polling error state, and its push subscription (a
// copy, sharing no secret with res; one without an ID ends the subscription, and
// none leaves it as it is). Snapshots, updates and an unsubscribe are the
// backend's to write.
func (res *PollResult) ApplyTo(ref *Reference) {
	polled, next := res.PolledAt.UTC(), res.NextPollAt.UTC()
	ref.LastPolledAt, ref.NextPollAt = &polled, &next
	ref.LastPollError = res.Error
	ref.ConsecutiveFailures = res.ConsecutiveFailures
	ref.NotFoundSince = res.NotFoundSince
	ref.UpdatedAt = polled
	switch {
	case res.Push == nil:
	case res.Push.ID == "":
		ref.Push = nil
	default:
		ref.Push = res.Push.clone()
	}
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// DeliveryStream is where one destination's ordered delivery of a reference's feed
// stands: what was delivered (or given up on), which update is being tried and how
// often, and the health the API shows.
type DeliveryStream struct {
	// DeliveredSequence is the newest update delivered or given up on; the update
	// being sent is the one after it.
	DeliveredSequence uint64
	// LastSequence is the newest update in the feed.
	LastSequence uint64
	// DueAt is when the next attempt is due.
	DueAt time.Time
	// Attempts counts the tries of the update being sent; FirstAttemptAt is the first.
	Attempts       int
	FirstAttemptAt *time.Time
	State          DeliveryState
	FailingSince   *time.Time
}

// Pending reports whether an update waits for delivery.
func (s *DeliveryStream) Pending() bool { return s.DeliveredSequence < s.LastSequence }

// Expects reports whether an attempt of the update with sequence seq moves the stream
// on: it is the update being sent. An attempt the stream has moved past is only logged.
func (s *DeliveryStream) Expects(seq uint64) bool { return seq == s.DeliveredSequence+1 }

// AfterAttempt returns the stream after an attempt of its current update, according
// to a.Outcome:
//   - delivered: the update is done; the next one (if any) is due now.
//   - failed: the same update is due again at a.NextRetryAt.
//   - gave_up: the retry window ran out; the update stays in the feed, the stream is
//     marked failing and the next update is due now.
//   - gone: the receiver answered 410; the reference is to be unsubscribed
//     (callback_gone) and the stream ends.
//
// unsubscribe is the reason the reference is to be unsubscribed, or "".
func AfterAttempt(s DeliveryStream, a DeliveryAttempt) (next DeliveryStream, unsubscribe UnsubscribeReason, err error) {
	at := a.At.UTC()
	switch a.Outcome {
	case OutcomeDelivered:
		s.DeliveredSequence = a.Sequence
		s.State, s.FailingSince = DeliveryOK, nil
		s.Attempts, s.FirstAttemptAt, s.DueAt = 0, nil, at
	case OutcomeFailed:
		s.Attempts++
		if s.FirstAttemptAt == nil {
			s.FirstAttemptAt = &a.At
		}
		if a.NextRetryAt != nil {
			s.DueAt = a.NextRetryAt.UTC()
		}
		if s.FailingSince == nil {
			s.FailingSince = &a.At
		}
	case OutcomeGaveUp:
		s.DeliveredSequence = a.Sequence
		s.State = DeliveryFailing
		if s.FailingSince == nil {
			s.FailingSince = &a.At
		}
		s.Attempts, s.FirstAttemptAt, s.DueAt = 0, nil, at
	case OutcomeGone:
		return s, ReasonCallbackGone, nil
	default:
		return s, "", fmt.Errorf("unknown attempt outcome %q", a.Outcome)
	}
	return s, "", nil
}
