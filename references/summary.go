package references

import "time"

// LateAfter is how far an ETA may move past the first ETA seen before the shipment
// counts as late (see ShipmentSummary.Late).
const LateAfter = 24 * time.Hour

// ShipmentSummary is what a list of references shows and filters on of each one's
// latest snapshot: where it goes, where it stands, and how its ETA moved. Backends
// keep it beside the snapshot (see Summarize) so that a list never reads snapshots.
type ShipmentSummary struct {
	Status      ShipmentStatus
	Origin      *Location
	Destination *Location
	ETA         *time.Time
	// FirstETA is the first ETA any snapshot of the reference gave; it stays when
	// later snapshots move the ETA, or give none.
	FirstETA *time.Time
}

// Summarize returns the summary of snapshot s, given the summary of the snapshot
// before it (nil for the first).
func Summarize(prev *ShipmentSummary, s *Shipment) ShipmentSummary {
	sum := ShipmentSummary{Status: s.Status, Origin: s.Origin, Destination: s.Destination, ETA: s.ETA}
	switch {
	case prev != nil && prev.FirstETA != nil:
		sum.FirstETA = prev.FirstETA
	case s.ETA != nil:
		sum.FirstETA = s.ETA
	}
	return sum
}

// Arrived reports whether the shipment has reached its destination.
func (s *ShipmentSummary) Arrived() bool {
	switch s.Status {
	case ShipmentArrived, ShipmentDelivered, ShipmentEmptyReturned:
		return true
	}
	return false
}

// ETAMove is how far the ETA moved from the first one seen (positive: later); 0
// without both.
func (s *ShipmentSummary) ETAMove() time.Duration {
	if s.ETA == nil || s.FirstETA == nil {
		return 0
	}
	return s.ETA.Sub(*s.FirstETA)
}

// Late reports whether the shipment is late at now: its ETA is more than LateAfter
// after the first ETA seen (arrived or not: it came late), or its ETA has passed and
// it has not arrived.
func (s *ShipmentSummary) Late(now time.Time) bool {
	if s.ETA == nil {
		return false
	}
	return s.ETAMove() > LateAfter || s.ETA.Before(now) && !s.Arrived()
}
