package poller

import (
	"context"

	"github.com/trackhook/trackhook/references"
)

// Source fetches the current shipment snapshot for a reference. The returned Shipment
// has Events set; the poller derives the rest. A source that does not know the shipment
// returns an error wrapping references.ErrShipmentNotFound.
type Source interface {
	Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error)
}

// Router picks the source for a reference by its carrier code, falling back to a default.
type Router struct {
	ByCarrier map[string]Source
	Default   Source
}

// For returns the source that tracks carrier, or nil when there is none.
func (r Router) For(carrier string) Source {
	if s, ok := r.ByCarrier[carrier]; ok {
		return s
	}
	return r.Default
}
