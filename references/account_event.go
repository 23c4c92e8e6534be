package references

import "time"

// Operational event types: what happened to an account's delivery, recorded in its
// operational feed (GET /account/events) and sent to the endpoints that subscribe.
const (
	EventEndpointDisabled        = "endpoint.disabled"
	EventMessageAttemptExhausted = "message.attempt.exhausted"
	// EventEndpointTest is the example event POST /endpoints/:id/test sends; it is
	// not recorded anywhere.
	EventEndpointTest = "endpoint.test"
)

// OperationalEventTypes lists the types of AccountEvent.
var OperationalEventTypes = []string{EventEndpointDisabled, EventMessageAttemptExhausted}

// AccountEvent is one entry of an account's operational feed.
type AccountEvent struct {
	ID        string // evt_...; also the webhook-id
	AccountID string
	Sequence  uint64 // 1, 2, 3 ... per account
	Type      string // one of OperationalEventTypes
	CreatedAt time.Time

	EndpointID  string
	EndpointURL string
	// On endpoint.disabled.
	DisabledReason DisabledReason
	// On message.attempt.exhausted: the message given up and its last attempt.
	MessageID      string
	ReferenceID    string
	Attempts       int
	LastStatusCode int
	LastError      string
}
