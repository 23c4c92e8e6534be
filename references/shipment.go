package references

import "time"

// Shipment is the normalised snapshot of what a tracking source reports for one
// reference, modelled on the DCSA Track & Trace event model. Events are the source's
// facts; the remaining fields are derived from them (see tracking.Derive).
type Shipment struct {
	Events []Event

	Status          ShipmentStatus
	Origin          *Location
	Destination     *Location
	CurrentLocation *Location
	CurrentVessel   *TransportCall
	ETA             *time.Time // estimated arrival at Destination
}

// ShipmentStatus is the overall progress of a shipment, derived from its events.
type ShipmentStatus string

// Shipment statuses in the order a shipment normally goes through them.
const (
	ShipmentUnknown       ShipmentStatus = "unknown"        // no actual event yet
	ShipmentBooked        ShipmentStatus = "booked"         // planned, nothing happened yet
	ShipmentAtOrigin      ShipmentStatus = "at_origin"      // gated in or loaded at the origin
	ShipmentInTransit     ShipmentStatus = "in_transit"     // departed the origin
	ShipmentTransshipment ShipmentStatus = "transshipment"  // discharged at an intermediate port
	ShipmentArrived       ShipmentStatus = "arrived"        // arrived or discharged at the destination
	ShipmentDelivered     ShipmentStatus = "delivered"      // gated out full at the destination
	ShipmentEmptyReturned ShipmentStatus = "empty_returned" // the empty container came back: tracking is complete
)

// Event is one fact about a shipment.
type Event struct {
	// ID is the source's id for the event. It is stable for one fact but a source may
	// publish a revised estimate under a new id, so the diff does not rely on it alone.
	ID         string
	Type       EventType
	Classifier Classifier
	Code       string
	Time       time.Time

	Location      *Location
	TransportCall *TransportCall

	EquipmentReference string
	EmptyIndicator     string // EMPTY or LADEN, equipment events
	Description        string
}

// Location is a place, identified by its UN/LOCODE where known.
type Location struct {
	UNLocode string
	Name     string
}

// TransportCall is the vessel and voyage an event belongs to.
type TransportCall struct {
	VesselName      string
	VesselIMO       string
	Voyage          string
	ModeOfTransport string // VESSEL, RAIL, TRUCK, BARGE
}
