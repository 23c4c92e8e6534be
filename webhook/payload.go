package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Payload is the JSON body of every webhook trackhook sends, in the envelope the
// Standard Webhooks specification recommends:
//
//	{"type": "shipment.updated", "timestamp": "2025-03-01T09:30:00Z", "data": {...}}
//
// Type repeats Data.Type so that a receiver can route before looking further;
// Timestamp is when the update was created, which stays the same across retries
// (unlike the webhook-timestamp header, which is the time of the attempt). Data is the
// update exactly as GET /references/:id/updates returns it (see [Update]).
//
// New update types and new fields may appear in later versions: a receiver should
// ignore a type it does not know rather than fail.
type Payload struct {
	Type      references.UpdateType `json:"type"`
	Timestamp time.Time             `json:"timestamp"`
	Data      Update                `json:"data"`
}

// ErrInvalidPayload is returned (wrapped, with the reason) by [Decode] for a body that
// is not a webhook payload.
var ErrInvalidPayload = errors.New("invalid webhook payload")

// NewPayload wraps an update, in its wire form, in the webhook envelope.
func NewPayload(u references.Update) Payload {
	return Payload{Type: u.Type, Timestamp: u.CreatedAt.UTC(), Data: NewUpdate(u)}
}

// Encode returns the webhook body for an update: [NewPayload] as compact JSON, the
// bytes json.Marshal would give. Sign and send these exact bytes.
func Encode(u references.Update) ([]byte, error) {
	p := NewPayload(u)
	size := 1024
	if u.Shipment != nil {
		size += 400 * (len(u.Shipment.Events) + len(u.Changes)) // about one event's JSON each
	}
	b, err := appendPayload(make([]byte, 0, size), &p)
	if err != nil {
		return nil, fmt.Errorf("encode webhook payload for %s: %w", u.ID, err)
	}
	return b, nil
}

// Decode reads a webhook body. Call it after [Verifier.Verify] has accepted the same
// bytes. Unknown fields are ignored; a body that is not a JSON object, or that lacks
// type, timestamp or data.id, is an error wrapping [ErrInvalidPayload].
func Decode(body []byte) (*Payload, error) {
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
	}
	switch {
	case p.Type == "":
		return nil, fmt.Errorf("%w: no type", ErrInvalidPayload)
	case p.Timestamp.IsZero():
		return nil, fmt.Errorf("%w: no timestamp", ErrInvalidPayload)
	case p.Data.ID == "":
		return nil, fmt.Errorf("%w: no data.id", ErrInvalidPayload)
	}
	return &p, nil
}
