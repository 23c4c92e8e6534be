package tracking

import (
	"strings"

	"github.com/trackhook/trackhook/references"
)

// deriveStatus walks the actual events in order; see Derive for the rules.
func deriveStatus(events []references.Event, origin, dest *references.Location) references.ShipmentStatus {
	if len(events) == 0 {
		return references.ShipmentUnknown
	}
	p := progress{origin: origin, dest: dest, status: references.ShipmentBooked}
	for i := range events {
		if events[i].Classifier == references.ClassifierActual {
			p.observe(&events[i])
		}
	}
	return p.status
}

// progress is the status reached so far while walking actual events in order.
type progress struct {
	origin, dest *references.Location
	status       references.ShipmentStatus
}

// observe moves the status forward for the actual event e. A status never moves back:
// a late-reported gate-in at the origin after departure is a fact about the past.
func (p *progress) observe(e *references.Event) {
	next, ok := p.stage(e)
	if ok && statusRank(next) >= statusRank(p.status) {
		p.status = next
	}
}

// stage returns the status that the actual event e puts the shipment in, given the
// status reached before it; ok is false for events that say nothing about progress.
func (p *progress) stage(e *references.Event) (st references.ShipmentStatus, ok bool) {
	if e.Type == references.EventShipment {
		return "", false // document events (booking, bill of lading) say nothing of the cargo
	}
	arrived := statusRank(p.status) >= statusRank(references.ShipmentArrived)
	atDest := p.dest != nil && sameLocation(e.Location, p.dest)
	empty := strings.EqualFold(e.EmptyIndicator, references.EmptyIndicatorEmpty)
	switch strings.ToUpper(e.Code) {
	case references.CodeStuffing:
		return references.ShipmentAtOrigin, true
	case references.CodeGateIn:
		if !empty {
			return references.ShipmentAtOrigin, true
		}
		if arrived {
			return references.ShipmentEmptyReturned, true
		}
	case references.CodeLoad:
		// Where the location is unknown, a load before departure is taken to be at
		// the origin and a later one to be a transshipment.
		atOrigin := sameLocation(e.Location, p.origin) ||
			(e.Location == nil && statusRank(p.status) < statusRank(references.ShipmentInTransit))
		if atOrigin {
			return references.ShipmentAtOrigin, true
		}
		return references.ShipmentTransshipment, true
	case references.CodeDeparture:
		if !atDest {
			return references.ShipmentInTransit, true
		}
	case references.CodeArrival:
		if atDest {
			return references.ShipmentArrived, true
		}
		return references.ShipmentInTransit, true
	case references.CodeDischarge:
		if atDest {
			return references.ShipmentArrived, true
		}
		return references.ShipmentTransshipment, true
	case references.CodeGateOut:
		if !empty && (atDest || arrived) {
			return references.ShipmentDelivered, true
		}
	case references.CodeStripping:
		if arrived {
			return references.ShipmentDelivered, true
		}
	}
	return "", false
}

// statusRank orders statuses by progress. in_transit and transshipment share a rank so
// that a shipment can go back and forth between them.
func statusRank(s references.ShipmentStatus) int {
	switch s {
	case references.ShipmentBooked:
		return 1
	case references.ShipmentAtOrigin:
		return 2
	case references.ShipmentInTransit, references.ShipmentTransshipment:
		return 3
	case references.ShipmentArrived:
		return 4
	case references.ShipmentDelivered:
		return 5
	case references.ShipmentEmptyReturned:
		return 6
	}
	return 0
}

// classifierRank orders classifiers by how definite they are.
func classifierRank(c references.Classifier) int {
	switch c {
	case references.ClassifierPlanned:
		return 1
	case references.ClassifierEstimated:
		return 2
	case references.ClassifierActual:
		return 3
	}
	return 0
}
