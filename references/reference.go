// Package references is trackhook's domain: the tracked reference, the shipment
// snapshot a source reports for it, the updates derived from changes, the delivery log,
// accounts and API keys, and the Service that the HTTP layer calls. It depends on no
// transport or storage library; store/ persists these types and api/ serves them.
package references

import (
	"encoding/json"
	"fmt"
	"time"
)

// Status is whether a reference is still being tracked.
type Status string

// Reference statuses.
const (
	StatusActive       Status = "active"
	StatusUnsubscribed Status = "unsubscribed"
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

// Identifier kinds; the values are the JSON field names.
const (
	KindContainer    IdentifierKind = "container_id"
	KindBillOfLading IdentifierKind = "bill_of_lading"
	KindBooking      IdentifierKind = "booking_number"
)

// Reference tracks one shipment identifier for one account. Exactly one of ContainerID,
// BillOfLading and BookingNumber is set.
type Reference struct {
	ID            string            `json:"id"`
	AccountID     string            `json:"account_id"`
	ContainerID   string            `json:"container_id,omitempty"`
	BillOfLading  string            `json:"bill_of_lading,omitempty"`
	BookingNumber string            `json:"booking_number,omitempty"`
	CarrierCode   string            `json:"carrier_code"`
	CallbackURL   string            `json:"callback_url,omitempty"`
	EventTypes    []string          `json:"event_types,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	PollInterval  Duration          `json:"poll_interval,omitempty"`

	Status            Status            `json:"status"`
	UnsubscribeReason UnsubscribeReason `json:"unsubscribe_reason,omitempty"`
	UnsubscribedAt    *time.Time        `json:"unsubscribed_at,omitempty"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`

	// Polling state, kept by the poller.
	LastPolledAt        *time.Time `json:"last_polled_at,omitempty"`
	NextPollAt          *time.Time `json:"next_poll_at,omitempty"`
	LastPollError       string     `json:"last_poll_error,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures,omitempty"`
	NotFoundSince       *time.Time `json:"not_found_since,omitempty"`

	// Feed and delivery state. LastSequence is the sequence of the newest update in the
	// feed; DeliveredSequence the newest one delivered or given up on.
	LastSequence      uint64        `json:"last_sequence"`
	DeliveredSequence uint64        `json:"delivered_sequence,omitempty"`
	DeliveryState     DeliveryState `json:"delivery_state,omitempty"`
	FailingSince      *time.Time    `json:"failing_since,omitempty"`
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

// Active reports whether the reference is still tracked.
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

// Duration is a time.Duration that reads and writes JSON as a Go duration string
// ("15m", "1h30m"), the form people write in requests.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "15m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string such as "15m" or "2h".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"15m\" or \"2h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"15m\" or \"2h\"", s)
	}
	*d = Duration(v)
	return nil
}
