package webhook

import (
	"encoding/json"
	"fmt"
)

// Delivery is a webhook body of any kind, decoded: exactly one field is set.
// A reference's callback only ever gets updates; an account endpoint gets updates, or
// batches of them (format batch), and the operational events it subscribed to.
type Delivery struct {
	Update *Payload          // one update: {"type", "timestamp", "data": {update}}
	Batch  *Batch            // {"type": "batch", "data": [update, ...]}
	Event  *OperationalEvent // {"id", "type", "created_at", "data": {...}}
}

// DecodeDelivery reads a webhook body of any kind, telling them apart by their shape:
// the type "batch" is a batch, a body with a top-level "id" an operational event, and
// anything else an update, as [Decode] reads it. Call it after [Verifier.Verify] has
// accepted the same bytes. Errors wrap [ErrInvalidPayload].
func DecodeDelivery(body []byte) (*Delivery, error) {
	var head struct {
		Type string          `json:"type"`
		ID   json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
	}
	switch {
	case head.Type == BatchType:
		b, err := DecodeBatch(body)
		if err != nil {
			return nil, err
		}
		return &Delivery{Batch: b}, nil
	case head.ID != nil:
		e, err := DecodeEvent(body)
		if err != nil {
			return nil, err
		}
		return &Delivery{Event: e}, nil
	}
	p, err := Decode(body)
	if err != nil {
		return nil, err
	}
	return &Delivery{Update: p}, nil
}
