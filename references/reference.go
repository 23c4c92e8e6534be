// Package references is trackhook's domain: the tracked reference, the shipment
// snapshot a source reports for it, the updates derived from changes, the delivery log,
// accounts and API keys, and the Service that the HTTP layer calls. It depends on no
// transport or storage library and has no wire format: store/ persists these types and
// api/ and webhook/ send them, each in JSON of its own.
package references

import "time"

// Status is whether a reference is still being tracked.
type Status string

// Reference statuses.
const (
	StatusActive       Status = "active"
	StatusUnsubscribed Status = "unsubscribed"
	// StatusPaused: still subscribed (the identifier stays reserved, the feed
	// readable, the quota counted) but neither polled nor delivered until resumed.
	StatusPaused Status = "paused"
)

// UnsubscribeReason says why tracking stopped.
type UnsubscribeReason string

// Reasons a reference stops being tracked.
const (
	ReasonUser             UnsubscribeReason = "user"              // DELETE /references/:id
	ReasonTrackingComplete UnsubscribeReason = "tracking_complete" // a terminal event was seen
	ReasonMaxAge           UnsubscribeReason = "max_age"           // older than the maximum tracking age
	ReasonNotFound         UnsubscribeReason = "not_found"         // the source kept saying not found
	ReasonCallbackGone     UnsubscribeReason = "callback_gone"     // the receiver answered 410 Gone
	ReasonCallbackFailing  UnsubscribeReason = "callback_failing"  // deliveries kept failing
)

// DeliveryState summarises webhook delivery health of a reference with a callback.
type DeliveryState string

// Delivery states. The empty state means nothing was attempted yet.
const (
	DeliveryOK      DeliveryState = "ok"
	DeliveryFailing DeliveryState = "failing"
)

// IdentifierKind names which shipment identifier a reference tracks.
type IdentifierKind string

// Identifier kinds; the values are the names of the identifier fields in the API.
const (
	KindContainer    IdentifierKind = "container_id"
	KindBillOfLading IdentifierKind = "bill_of_lading"
	KindBooking      IdentifierKind = "booking_number"
)

// Reference tracks one shipment identifier for one account. Exactly one of ContainerID,
// BillOfLading and BookingNumber is set.
type Reference struct {
	ID            string
	AccountID     string
	ContainerID   string
	BillOfLading  string
	BookingNumber string
	CarrierCode   string
	// CarrierDetected is true when the client gave no carrier code and CarrierCode
	// was detected from the identifier's prefix (see DetectCarrier).
	CarrierDetected bool
	CallbackURL     string
	EventTypes      []string
	Metadata        map[string]string
	PollInterval    Duration

	Status            Status
	UnsubscribeReason UnsubscribeReason
	UnsubscribedAt    *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time

	// Polling state, kept by the poller.
	LastPolledAt        *time.Time
	NextPollAt          *time.Time
	LastPollError       string
	ConsecutiveFailures int
	NotFoundSince       *time.Time

	// Feed and delivery state. LastSequence is the sequence of the newest update in the
	// feed; DeliveredSequence the newest one delivered or given up on.
	LastSequence      uint64
	DeliveredSequence uint64
	DeliveryState     DeliveryState
	FailingSince      *time.Time

	// Pause and refresh state. PausedAt is set while paused; PausedFor adds up the
	// earlier pauses, which do not count towards the maximum tracking age (see
	// TrackedFor). LastRefreshAt is the last refresh a client asked for (see
	// CheckRefresh).
	PausedAt      *time.Time
	PausedFor     time.Duration
	LastRefreshAt *time.Time

	// Push is the reference's subscription at its carrier's push API; nil when its
	// source has no push or the subscription is not made yet.
	Push *PushSubscription
}

// Identifier returns the kind and value of the identifier the reference tracks.
func (r *Reference) Identifier() (IdentifierKind, string) {
	switch {
	case r.ContainerID != "":
		return KindContainer, r.ContainerID
	case r.BillOfLading != "":
		return KindBillOfLading, r.BillOfLading
	default:
		return KindBooking, r.BookingNumber
	}
}

// Failing reports whether the reference's last poll failed or its callback
// deliveries are failing.
func (r *Reference) Failing() bool {
	return r.LastPollError != "" || r.DeliveryState == DeliveryFailing
}

// Active reports whether the reference is tracked now: polled and delivered. A
// paused reference is not active, but still subscribed.
func (r Reference) Active() bool { return r.Status == StatusActive }

// WantsEvent reports whether an update of type t is to be POSTed to the callback, given
// the reference's event_types filter (empty means all).
func (r *Reference) WantsEvent(t UpdateType) bool {
	if len(r.EventTypes) == 0 {
		return true
	}
	for _, et := range r.EventTypes {
		if et == string(t) {
			return true
		}
	}
	return false
}

// Duration is how often a reference asks to be polled. The API reads and writes it
// as a Go duration string ("15m"); the store as a number of nanoseconds.
type Duration time.Duration
