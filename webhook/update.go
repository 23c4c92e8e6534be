package webhook

import (
	"time"

	"github.com/trackhook/trackhook/references"
)

// Update is one update of a reference's feed as a receiver sees it: the data of every
// webhook, and one item of the pull feed GET /references/:id/updates, which has the
// same JSON. Type says which of the optional fields are set: Shipment on
// shipment.updated, Error on tracking.failed, UnsubscribeReason on
// reference.unsubscribed.
type Update struct {
	// ID is the update's id (upd_...), also sent as the webhook-id header. It stays the
	// same across retries: use it to ignore an update already processed.
	ID          string `json:"id"`
	ReferenceID string `json:"reference_id"`
	// Sequence numbers the updates of one reference 1, 2, 3 ... without gaps. Within a
	// reference, updates are delivered in sequence order (a redelivery asked for
	// through the API is the exception).
	Sequence uint64                `json:"sequence"`
	Type     references.UpdateType `json:"type"`
	// Tags are the finer kinds of a shipment.updated update, derived from its changes
	// (shipment.eta_changed, shipment.milestone.actual, ...; see GET /event-types):
	// what an endpoint's event_types may select besides the type. Absent when no
	// change has one.
	Tags      []string  `json:"tags,omitempty"`
	CreatedAt time.Time `json:"created_at"`

	// Reference names the tracked reference, with the metadata given when it was
	// created, so that a receiver can route the update without another call.
	Reference ReferenceSummary `json:"reference"`
	// Changes are what changed since the previous snapshot; empty for types other
	// than shipment.updated.
	Changes []Change `json:"changes"`
	// Shipment is the whole snapshot after the changes.
	Shipment *Shipment `json:"shipment,omitempty"`

	// Error says why the source could not be polled (tracking.failed).
	Error string `json:"error,omitempty"`
	// UnsubscribeReason says why tracking stopped (reference.unsubscribed).
	UnsubscribeReason references.UnsubscribeReason `json:"unsubscribe_reason,omitempty"`
}

// ReferenceSummary identifies the reference an update belongs to. Exactly one of
// ContainerID, BillOfLading and BookingNumber is set.
type ReferenceSummary struct {
	ID            string            `json:"id"`
	ContainerID   string            `json:"container_id,omitempty"`
	BillOfLading  string            `json:"bill_of_lading,omitempty"`
	BookingNumber string            `json:"booking_number,omitempty"`
	CarrierCode   string            `json:"carrier_code"`
	Metadata      map[string]string `json:"metadata,omitempty"`
}

// Change is one difference between two snapshots of a shipment, with the old and new
// values as strings (times in RFC 3339) and a sentence for people.
type Change struct {
	Type        references.ChangeType `json:"type"`
	Description string                `json:"description"`
	Old         string                `json:"old,omitempty"`
	New         string                `json:"new,omitempty"`
	// Container is the number of the container the change concerns (see
	// Shipment.Containers); absent for a change of the whole shipment.
	Container string `json:"container,omitempty"`
	// Event is the event the change is about, as it is in the new snapshot (or in the
	// old one, for a removal); nil for changes of the whole shipment such as its ETA.
	Event *Event `json:"event,omitempty"`
}

// Shipment is a snapshot of what the tracking source reports, modelled on the DCSA
// Track & Trace event model: the events, and what trackhook derives from them.
type Shipment struct {
	Events []Event `json:"events"`

	Status          references.ShipmentStatus `json:"status"`
	Origin          *Location                 `json:"origin,omitempty"`
	Destination     *Location                 `json:"destination,omitempty"`
	CurrentLocation *Location                 `json:"current_location,omitempty"`
	CurrentVessel   *TransportCall            `json:"current_vessel,omitempty"`
	// ETA is the estimated time of arrival at Destination.
	ETA *time.Time `json:"eta,omitempty"`

	// Containers are the containers the events name, each with its own journey, in
	// order of number: every container of a bill of lading or booking that the source
	// reports, or the one container of a container reference. Absent when no event
	// names a container.
	Containers []Container `json:"containers,omitempty"`
}

// Container is one container of a shipment and how far it has come: a bill of lading
// is delivered when all of its containers are, and one of them may be held at the
// terminal while the others are delivered.
type Container struct {
	// Number is the container number (ISO 6346), as the events' equipment_reference.
	Number string `json:"number"`
	// ISOEquipmentCode is the ISO 6346 size and type code, such as 22G1 or 45R1,
	// where the source gives it.
	ISOEquipmentCode string `json:"iso_equipment_code,omitempty"`
	// Status is the container's own progress; the shipment's status is that of the
	// container that has come least far.
	Status          references.ShipmentStatus `json:"status"`
	CurrentLocation *Location                 `json:"current_location,omitempty"`
	// LastEvent is the latest actual move that concerns the container: its own, or
	// one of the whole shipment such as the vessel's departure (not a document's status).
	LastEvent *Event `json:"last_event,omitempty"`
	// Milestones are the container's own events (those whose equipment_reference it
	// is), in the order of the shipment's events.
	Milestones []Event `json:"milestones"`
}

// Event is one fact about a shipment: a DCSA transport, equipment or shipment event,
// planned (PLN), estimated (EST) or actual (ACT).
type Event struct {
	// ID is the source's id for the event. A source may publish a revised estimate
	// under a new id.
	ID         string                `json:"id"`
	Type       references.EventType  `json:"type"`
	Classifier references.Classifier `json:"classifier"`
	// Code is the DCSA event code: ARRI, DEPA, LOAD, DISC, GTIN, GTOT, STUF, STRP, or a
	// document status for shipment events.
	Code string    `json:"code"`
	Time time.Time `json:"event_time"`

	Location      *Location      `json:"location,omitempty"`
	TransportCall *TransportCall `json:"transport_call,omitempty"`

	// EquipmentReference is the container an equipment event is about; an event
	// without one concerns every container of the shipment.
	EquipmentReference string `json:"equipment_reference,omitempty"`
	// ISOEquipmentCode is the container's ISO 6346 size and type code, where the
	// source gives it.
	ISOEquipmentCode string `json:"iso_equipment_code,omitempty"`
	// EmptyIndicator is EMPTY or LADEN, on equipment events.
	EmptyIndicator string `json:"empty_indicator,omitempty"`
	Description    string `json:"description,omitempty"`
}

// Location is a place, identified by its UN/LOCODE where known.
type Location struct {
	UNLocode string `json:"unlocode,omitempty"`
	Name     string `json:"name,omitempty"`
}

// TransportCall is the vessel and voyage an event belongs to.
type TransportCall struct {
	VesselName string `json:"vessel_name,omitempty"`
	VesselIMO  string `json:"vessel_imo,omitempty"`
	Voyage     string `json:"voyage,omitempty"`
	// ModeOfTransport is VESSEL, RAIL, TRUCK or BARGE.
	ModeOfTransport string `json:"mode_of_transport,omitempty"`
}
