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

	// Containers are the containers the events name by their equipment reference,
	// each with its own journey, in order of number; nil when no event names one. A
	// bill of lading or a booking lists every container the source reports; a
	// container reference has one, itself (or none).
	Containers []Container
}

// Container is one container of a shipment and how far it has come. Its events are
// copies of events in the shipment's Events.
type Container struct {
	// Number is the container's number as its events give it (the equipment
	// reference, upper case), such as MSCU1234566.
	Number string
	// ISOEquipmentCode is its ISO 6346 size and type code, such as 22G1 (20 ft
	// general purpose) or 45R1 (40 ft high cube reefer); "" where the source gives none.
	ISOEquipmentCode string
	// Status is the container's own progress: Shipment.Status from its milestones
	// and the events of the whole shipment (the vessel's arrivals and departures).
	Status          ShipmentStatus
	CurrentLocation *Location
	// LastEvent is the latest actual move that concerns the container: one of its
	// milestones or an event of the whole shipment's vessel (not a document's
	// status); nil before any.
	LastEvent *Event
	// Milestones are the events whose equipment reference is this container, in the
	// order of Events.
	Milestones []Event
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
	// RevisedAt is when the source last revised this event, where it says so: DCSA
	// T&T's eventCreatedDateTime (a revised estimate comes as a new event), Container
	// Tracking's eventUpdatedDateTime (a revision keeps the event's id); zero when the
	// source gives none. Of two revisions of one fact, the later RevisedAt wins,
	// whatever order they arrive in (tracking.UnionEvents); a revision alone is not a
	// change (tracking.Diff compares the facts, not this).
	RevisedAt time.Time

	Location      *Location
	TransportCall *TransportCall

	// EquipmentReference is the container an equipment event is about; events
	// without one (a vessel's arrival, a document's issue) concern every container.
	EquipmentReference string
	// ISOEquipmentCode is the container's ISO 6346 size and type code, where the
	// source gives it (DCSA's ISOEquipmentCode, on equipment events).
	ISOEquipmentCode string
	EmptyIndicator   string // EMPTY or LADEN, equipment events
	Description      string
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
