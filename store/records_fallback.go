package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/trackhook/trackhook/references"
)

// References, snapshots and updates are written in the binary form of codec.go, but
// files written before it hold them as JSON, which the codec still reads: these are
// the records of that JSON. The codec tests also use them to check that the binary
// form keeps what a JSON round trip kept.

// referenceRecord is a reference in its JSON form.
type referenceRecord struct {
	ID                string                       `json:"id"`
	AccountID         string                       `json:"account_id"`
	ContainerID       string                       `json:"container_id,omitempty"`
	BillOfLading      string                       `json:"bill_of_lading,omitempty"`
	BookingNumber     string                       `json:"booking_number,omitempty"`
	CarrierCode       string                       `json:"carrier_code"`
	CarrierDetected   bool                         `json:"carrier_detected,omitempty"`
	CallbackURL       string                       `json:"callback_url,omitempty"`
	EventTypes        []string                     `json:"event_types,omitempty"`
	Metadata          map[string]string            `json:"metadata,omitempty"`
	PollInterval      durationRecord               `json:"poll_interval,omitempty"`
	Status            references.Status            `json:"status"`
	UnsubscribeReason references.UnsubscribeReason `json:"unsubscribe_reason,omitempty"`
	UnsubscribedAt    *time.Time                   `json:"unsubscribed_at,omitempty"`
	CreatedAt         time.Time                    `json:"created_at"`
	UpdatedAt         time.Time                    `json:"updated_at"`

	LastPolledAt        *time.Time `json:"last_polled_at,omitempty"`
	NextPollAt          *time.Time `json:"next_poll_at,omitempty"`
	LastPollError       string     `json:"last_poll_error,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures,omitempty"`
	NotFoundSince       *time.Time `json:"not_found_since,omitempty"`

	LastSequence      uint64                   `json:"last_sequence"`
	DeliveredSequence uint64                   `json:"delivered_sequence,omitempty"`
	DeliveryState     references.DeliveryState `json:"delivery_state,omitempty"`
	FailingSince      *time.Time               `json:"failing_since,omitempty"`

	PausedAt      *time.Time     `json:"paused_at,omitempty"`
	PausedFor     durationRecord `json:"paused_for,omitempty"`
	LastRefreshAt *time.Time     `json:"last_refresh_at,omitempty"`

	// Push came after references were stored in binary: no JSON value holds one. It
	// is here so that the JSON form says everything the binary one does, which the
	// codec's tests compare.
	Push *references.PushSubscription `json:"push,omitempty"`
}

// durationRecord is a duration written as a Go duration string ("15m0s").
type durationRecord time.Duration

// MarshalJSON writes the duration as a string such as "15m0s".
func (d durationRecord) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string such as "15m0s".
func (d *durationRecord) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"15m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationRecord(v)
	return nil
}

func newReferenceRecord(r *references.Reference) *referenceRecord {
	return &referenceRecord{
		ID: r.ID, AccountID: r.AccountID, ContainerID: r.ContainerID, BillOfLading: r.BillOfLading,
		BookingNumber: r.BookingNumber, CarrierCode: r.CarrierCode, CarrierDetected: r.CarrierDetected, CallbackURL: r.CallbackURL,
		EventTypes: r.EventTypes, Metadata: r.Metadata, PollInterval: durationRecord(r.PollInterval),
		Status: r.Status, UnsubscribeReason: r.UnsubscribeReason, UnsubscribedAt: r.UnsubscribedAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		LastPolledAt: r.LastPolledAt, NextPollAt: r.NextPollAt, LastPollError: r.LastPollError,
		ConsecutiveFailures: r.ConsecutiveFailures, NotFoundSince: r.NotFoundSince,
		LastSequence: r.LastSequence, DeliveredSequence: r.DeliveredSequence,
		DeliveryState: r.DeliveryState, FailingSince: r.FailingSince,
		PausedAt: r.PausedAt, PausedFor: durationRecord(r.PausedFor), LastRefreshAt: r.LastRefreshAt,
		Push: r.Push,
	}
}

func (r *referenceRecord) reference() references.Reference {
	return references.Reference{
		ID: r.ID, AccountID: r.AccountID, ContainerID: r.ContainerID, BillOfLading: r.BillOfLading,
		BookingNumber: r.BookingNumber, CarrierCode: r.CarrierCode, CarrierDetected: r.CarrierDetected, CallbackURL: r.CallbackURL,
		EventTypes: r.EventTypes, Metadata: r.Metadata, PollInterval: references.Duration(r.PollInterval),
		Status: r.Status, UnsubscribeReason: r.UnsubscribeReason, UnsubscribedAt: r.UnsubscribedAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		LastPolledAt: r.LastPolledAt, NextPollAt: r.NextPollAt, LastPollError: r.LastPollError,
		ConsecutiveFailures: r.ConsecutiveFailures, NotFoundSince: r.NotFoundSince,
		LastSequence: r.LastSequence, DeliveredSequence: r.DeliveredSequence,
		DeliveryState: r.DeliveryState, FailingSince: r.FailingSince,
		PausedAt: r.PausedAt, PausedFor: time.Duration(r.PausedFor), LastRefreshAt: r.LastRefreshAt,
		Push: r.Push,
	}
}

// shipmentRecord is a snapshot in its JSON form.
type shipmentRecord struct {
	Events          []eventRecord             `json:"events"`
	Status          references.ShipmentStatus `json:"status"`
	Origin          *locationRecord           `json:"origin,omitempty"`
	Destination     *locationRecord           `json:"destination,omitempty"`
	CurrentLocation *locationRecord           `json:"current_location,omitempty"`
	CurrentVessel   *transportCallRecord      `json:"current_vessel,omitempty"`
	ETA             *time.Time                `json:"eta,omitempty"`
	Containers      []containerRecord         `json:"containers,omitempty"`
}

type containerRecord struct {
	Number           string                    `json:"number"`
	ISOEquipmentCode string                    `json:"iso_equipment_code,omitempty"`
	Status           references.ShipmentStatus `json:"status"`
	CurrentLocation  *locationRecord           `json:"current_location,omitempty"`
	LastEvent        *eventRecord              `json:"last_event,omitempty"`
	Milestones       []eventRecord             `json:"milestones"`
}

type eventRecord struct {
	ID                 string                `json:"id"`
	Type               references.EventType  `json:"type"`
	Classifier         references.Classifier `json:"classifier"`
	Code               string                `json:"code"`
	Time               time.Time             `json:"event_time"`
	RevisedAt          time.Time             `json:"revised_at,omitzero"`
	Location           *locationRecord       `json:"location,omitempty"`
	TransportCall      *transportCallRecord  `json:"transport_call,omitempty"`
	EquipmentReference string                `json:"equipment_reference,omitempty"`
	ISOEquipmentCode   string                `json:"iso_equipment_code,omitempty"`
	EmptyIndicator     string                `json:"empty_indicator,omitempty"`
	Description        string                `json:"description,omitempty"`
}

type locationRecord struct {
	UNLocode string `json:"unlocode,omitempty"`
	Name     string `json:"name,omitempty"`
}

type transportCallRecord struct {
	VesselName      string `json:"vessel_name,omitempty"`
	VesselIMO       string `json:"vessel_imo,omitempty"`
	Voyage          string `json:"voyage,omitempty"`
	ModeOfTransport string `json:"mode_of_transport,omitempty"`
}

func newShipmentRecord(s *references.Shipment) *shipmentRecord {
	if s == nil {
		return nil
	}
	r := &shipmentRecord{
		Status: s.Status, Origin: newLocationRecord(s.Origin), Destination: newLocationRecord(s.Destination),
		CurrentLocation: newLocationRecord(s.CurrentLocation), CurrentVessel: newTransportCallRecord(s.CurrentVessel), ETA: s.ETA,
	}
	r.Events = newEventRecords(s.Events)
	if s.Containers != nil {
		r.Containers = make([]containerRecord, len(s.Containers))
		for i, c := range s.Containers {
			r.Containers[i] = containerRecord{
				Number: c.Number, ISOEquipmentCode: c.ISOEquipmentCode, Status: c.Status,
				CurrentLocation: newLocationRecord(c.CurrentLocation), LastEvent: newEventRecord(c.LastEvent),
				Milestones: newEventRecords(c.Milestones),
			}
		}
	}
	return r
}

func newEventRecords(es []references.Event) []eventRecord {
	if es == nil {
		return nil
	}
	out := make([]eventRecord, len(es))
	for i := range es {
		out[i] = *newEventRecord(&es[i])
	}
	return out
}

func eventsOfRecords(rs []eventRecord) []references.Event {
	if rs == nil {
		return nil
	}
	out := make([]references.Event, len(rs))
	for i := range rs {
		out[i] = *rs[i].event()
	}
	return out
}

func (r *shipmentRecord) shipment() *references.Shipment {
	if r == nil {
		return nil
	}
	s := &references.Shipment{
		Status: r.Status, Origin: r.Origin.location(), Destination: r.Destination.location(),
		CurrentLocation: r.CurrentLocation.location(), CurrentVessel: r.CurrentVessel.transportCall(), ETA: r.ETA,
	}
	s.Events = eventsOfRecords(r.Events)
	if r.Containers != nil {
		s.Containers = make([]references.Container, len(r.Containers))
		for i, c := range r.Containers {
			s.Containers[i] = references.Container{
				Number: c.Number, ISOEquipmentCode: c.ISOEquipmentCode, Status: c.Status,
				CurrentLocation: c.CurrentLocation.location(), LastEvent: c.LastEvent.event(),
				Milestones: eventsOfRecords(c.Milestones),
			}
		}
	}
	return s
}

func newEventRecord(e *references.Event) *eventRecord {
	if e == nil {
		return nil
	}
	return &eventRecord{
		ID: e.ID, Type: e.Type, Classifier: e.Classifier, Code: e.Code, Time: e.Time, RevisedAt: e.RevisedAt,
		Location: newLocationRecord(e.Location), TransportCall: newTransportCallRecord(e.TransportCall),
		EquipmentReference: e.EquipmentReference, ISOEquipmentCode: e.ISOEquipmentCode,
		EmptyIndicator: e.EmptyIndicator, Description: e.Description,
	}
}

func (r *eventRecord) event() *references.Event {
	if r == nil {
		return nil
	}
	return &references.Event{
		ID: r.ID, Type: r.Type, Classifier: r.Classifier, Code: r.Code, Time: r.Time, RevisedAt: r.RevisedAt,
		Location: r.Location.location(), TransportCall: r.TransportCall.transportCall(),
		EquipmentReference: r.EquipmentReference, ISOEquipmentCode: r.ISOEquipmentCode,
		EmptyIndicator: r.EmptyIndicator, Description: r.Description,
	}
}

func newLocationRecord(l *references.Location) *locationRecord {
	if l == nil {
		return nil
	}
	return &locationRecord{UNLocode: l.UNLocode, Name: l.Name}
}

func (r *locationRecord) location() *references.Location {
	if r == nil {
		return nil
	}
	return &references.Location{UNLocode: r.UNLocode, Name: r.Name}
}

func newTransportCallRecord(tc *references.TransportCall) *transportCallRecord {
	if tc == nil {
		return nil
	}
	return &transportCallRecord{VesselName: tc.VesselName, VesselIMO: tc.VesselIMO, Voyage: tc.Voyage, ModeOfTransport: tc.ModeOfTransport}
}

func (r *transportCallRecord) transportCall() *references.TransportCall {
	if r == nil {
		return nil
	}
	return &references.TransportCall{VesselName: r.VesselName, VesselIMO: r.VesselIMO, Voyage: r.Voyage, ModeOfTransport: r.ModeOfTransport}
}

// updateRecord is a feed entry in its JSON form.
type updateRecord struct {
	ID                string                       `json:"id"`
	ReferenceID       string                       `json:"reference_id"`
	Sequence          uint64                       `json:"sequence"`
	Type              references.UpdateType        `json:"type"`
	CreatedAt         time.Time                    `json:"created_at"`
	Reference         summaryRecord                `json:"reference"`
	Changes           []changeRecord               `json:"changes"`
	Shipment          *shipmentRecord              `json:"shipment,omitempty"`
	Error             string                       `json:"error,omitempty"`
	UnsubscribeReason references.UnsubscribeReason `json:"unsubscribe_reason,omitempty"`
}

type summaryRecord struct {
	ID            string            `json:"id"`
	ContainerID   string            `json:"container_id,omitempty"`
	BillOfLading  string            `json:"bill_of_lading,omitempty"`
	BookingNumber string            `json:"booking_number,omitempty"`
	CarrierCode   string            `json:"carrier_code"`
	Metadata      map[string]string `json:"metadata,omitempty"`
}

type changeRecord struct {
	Type        references.ChangeType `json:"type"`
	Description string                `json:"description"`
	Old         string                `json:"old,omitempty"`
	New         string                `json:"new,omitempty"`
	Container   string                `json:"container,omitempty"`
	Event       *eventRecord          `json:"event,omitempty"`
}

func newUpdateRecord(u *references.Update) *updateRecord {
	s := u.Reference
	r := &updateRecord{
		ID: u.ID, ReferenceID: u.ReferenceID, Sequence: u.Sequence, Type: u.Type, CreatedAt: u.CreatedAt,
		Reference: summaryRecord{
			ID: s.ID, ContainerID: s.ContainerID, BillOfLading: s.BillOfLading,
			BookingNumber: s.BookingNumber, CarrierCode: s.CarrierCode, Metadata: s.Metadata,
		},
		Shipment: newShipmentRecord(u.Shipment), Error: u.Error, UnsubscribeReason: u.UnsubscribeReason,
	}
	if u.Changes != nil {
		r.Changes = make([]changeRecord, len(u.Changes))
		for i, c := range u.Changes {
			r.Changes[i] = changeRecord{Type: c.Type, Description: c.Description, Old: c.Old, New: c.New, Container: c.Container, Event: newEventRecord(c.Event)}
		}
	}
	return r
}

func (r *updateRecord) update() references.Update {
	s := r.Reference
	u := references.Update{
		ID: r.ID, ReferenceID: r.ReferenceID, Sequence: r.Sequence, Type: r.Type, CreatedAt: r.CreatedAt,
		Reference: references.ReferenceSummary{
			ID: s.ID, ContainerID: s.ContainerID, BillOfLading: s.BillOfLading,
			BookingNumber: s.BookingNumber, CarrierCode: s.CarrierCode, Metadata: s.Metadata,
		},
		Shipment: r.Shipment.shipment(), Error: r.Error, UnsubscribeReason: r.UnsubscribeReason,
	}
	if r.Changes != nil {
		u.Changes = make([]references.Change, len(r.Changes))
		for i, c := range r.Changes {
			u.Changes[i] = references.Change{Type: c.Type, Description: c.Description, Old: c.Old, New: c.New, Container: c.Container, Event: c.Event.event()}
		}
	}
	return u
}
