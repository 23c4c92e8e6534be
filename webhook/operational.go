package webhook

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/trackhook/trackhook/references"
)

// OperationalEvent is the body of an operational event sent to an endpoint that
// subscribed to it (endpoint.disabled, message.attempt.exhausted), and of the
// endpoint.test event:
//
//	{"id": "evt_...", "type": "endpoint.disabled", "created_at": "...", "data": {...}}
//
// ID is also the webhook-id. It is named apart from [Event], which is a shipment's
// milestone.
type OperationalEvent struct {
	ID        string               `json:"id"`
	Type      string               `json:"type"`
	CreatedAt time.Time            `json:"created_at"`
	Data      OperationalEventData `json:"data"`
}

// OperationalEventData says what the event is about; fields that do not apply to
// its type are absent.
type OperationalEventData struct {
	EndpointID  string `json:"endpoint_id,omitempty"`
	EndpointURL string `json:"endpoint_url,omitempty"`
	// DisabledReason is set on endpoint.disabled: user, gone, receiver_disabled or
	// failing.
	DisabledReason references.DisabledReason `json:"disabled_reason,omitempty"`
	// On message.attempt.exhausted: the message given up (an update's id), its
	// reference, how many attempts were made and what the last one got.
	MessageID      string `json:"message_id,omitempty"`
	ReferenceID    string `json:"reference_id,omitempty"`
	Attempts       int    `json:"attempts,omitempty"`
	LastStatusCode int    `json:"last_status_code,omitempty"`
	LastError      string `json:"last_error,omitempty"`
	// Message is set on endpoint.test: a sentence saying it is a test.
	Message string `json:"message,omitempty"`
}

// TestEventMessage is the message of every endpoint.test event.
const TestEventMessage = "This is a test event from trackhook: your endpoint received and can verify its webhooks. Nothing happened to any shipment."

// NewOperationalEvent returns the wire form of an operational event.
func NewOperationalEvent(e references.AccountEvent) OperationalEvent {
	return OperationalEvent{
		ID: e.ID, Type: e.Type, CreatedAt: e.CreatedAt.UTC(),
		Data: OperationalEventData{
			EndpointID: e.EndpointID, EndpointURL: e.EndpointURL, DisabledReason: e.DisabledReason,
			MessageID: e.MessageID, ReferenceID: e.ReferenceID, Attempts: e.Attempts,
			LastStatusCode: e.LastStatusCode, LastError: e.LastError,
		},
	}
}

// NewTestEvent returns the endpoint.test event with id (evt_...) for the endpoint
// endpointID, made at at.
func NewTestEvent(id, endpointID string, at time.Time) OperationalEvent {
	return OperationalEvent{
		ID: id, Type: references.EventEndpointTest, CreatedAt: at.UTC(),
		Data: OperationalEventData{EndpointID: endpointID, Message: TestEventMessage},
	}
}

// EncodeEvent returns the webhook body of an operational event, as compact JSON. Sign
// and send these exact bytes.
func EncodeEvent(e references.AccountEvent) ([]byte, error) {
	return NewOperationalEvent(e).Encode()
}

// Encode returns the event as compact JSON, the body to sign and send.
func (e OperationalEvent) Encode() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode operational event %s: %w", e.ID, err)
	}
	return b, nil
}

// DecodeEvent reads an operational event body. Call it after [Verifier.Verify] has
// accepted the same bytes. Unknown fields are ignored; a body without id, type or
// created_at is an error wrapping [ErrInvalidPayload].
func DecodeEvent(body []byte) (*OperationalEvent, error) {
	var e OperationalEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
	}
	switch {
	case e.ID == "":
		return nil, fmt.Errorf("%w: no id", ErrInvalidPayload)
	case e.Type == "":
		return nil, fmt.Errorf("%w: no type", ErrInvalidPayload)
	case e.CreatedAt.IsZero():
		return nil, fmt.Errorf("%w: no created_at", ErrInvalidPayload)
	}
	return &e, nil
}
