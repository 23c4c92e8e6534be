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

// ReferenceChecker is a Source that can tell, without fetching anything, that it
// cannot track a reference: an identifier longer than its API takes, say (see
// dcsa.Client.CheckReference). Its error says why, for the person creating it.
type ReferenceChecker interface {
	CheckReference(ref references.Reference) error
}

// Check returns why the source that tracks ref's carrier cannot track ref. It is nil
// when the source can, when it cannot tell (it is no ReferenceChecker), and when no
// source serves the carrier. references.ServiceOptions.CheckSource takes it, so that
// such a reference is refused at create instead of failing every poll.
func (r Router) Check(ref references.Reference) error {
	if c, ok := r.For(ref.CarrierCode).(ReferenceChecker); ok {
		return c.CheckReference(ref)
	}
	return nil
}

// SourceName names the source that tracks carrier, for logs and metric labels, so
// that they take one value per configured source rather than one per carrier code
// users type: the name of its guard (the carrier code of the sources file),
// "default" for an unguarded default source, "none" when no source serves it.
func (r Router) SourceName(carrier string) string {
	switch s := r.For(carrier).(type) {
	case nil:
		return "none"
	case interface{ Name() string }:
		return s.Name()
	}
	return "default"
}
