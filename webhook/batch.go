package webhook

import (
	"encoding/json"
	"fmt"

	"github.com/trackhook/trackhook/references"
)

// BatchType is the type of a batch body.
const BatchType = "batch"

// Batch is the body of a POST to an endpoint whose format is batch: several
// consecutive updates of one reference, in sequence order, signed together:
//
//	{"type": "batch", "data": [{...update...}, {...update...}]}
//
// Each item of Data is an update exactly as a single delivery's data (see [Update]).
// A batch is fixed at its first attempt and retried as it is, so its webhook-id
// (derived from the endpoint, the reference and the first and last sequence) is the
// same on every try.
type Batch struct {
	Type string   `json:"type"`
	Data []Update `json:"data"`
}

// NewBatch returns the batch body of updates, in their wire form.
func NewBatch(updates []references.Update) Batch {
	return Batch{Type: BatchType, Data: NewUpdates(updates)}
}

// EncodeBatch returns the webhook body of a batch of updates, as compact JSON. Sign
// and send these exact bytes. A batch holds at least one update.
func EncodeBatch(updates []references.Update) ([]byte, error) {
	if len(updates) == 0 {
		return nil, fmt.Errorf("encode webhook batch: no update")
	}
	b, err := json.Marshal(NewBatch(updates))
	if err != nil {
		return nil, fmt.Errorf("encode webhook batch of %s: %w", updates[0].ID, err)
	}
	return b, nil
}

// DecodeBatch reads a batch body. Call it after [Verifier.Verify] has accepted the
// same bytes. A body whose type is not "batch", without updates, or with an update
// without an id is an error wrapping [ErrInvalidPayload].
func DecodeBatch(body []byte) (*Batch, error) {
	var b Batch
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
	}
	switch {
	case b.Type != BatchType:
		return nil, fmt.Errorf("%w: type %q is not %q", ErrInvalidPayload, truncate(b.Type, 64), BatchType)
	case len(b.Data) == 0:
		return nil, fmt.Errorf("%w: a batch without updates", ErrInvalidPayload)
	}
	for i := range b.Data {
		if b.Data[i].ID == "" {
			return nil, fmt.Errorf("%w: data[%d] has no id", ErrInvalidPayload, i)
		}
	}
	return &b, nil
}
