package webhook

import "github.com/trackhook/trackhook/references"

// The conversions keep nil apart from empty, as the JSON does ("null" and "[]"), and
// share maps rather than copy them: a wire value is made to be encoded at once.

// NewUpdate returns the wire form of an update.
func NewUpdate(u references.Update) Update {
	return Update{
		ID:                u.ID,
		ReferenceID:       u.ReferenceID,
		Sequence:          u.Sequence,
		Type:              u.Type,
		Tags:              u.Tags(0),
		CreatedAt:         u.CreatedAt,
		Reference:         newSummary(u.Reference),
		Changes:           NewChanges(u.Changes),
		Shipment:          NewShipment(u.Shipment),
		Error:             u.Error,
		UnsubscribeReason: u.UnsubscribeReason,
	}
}

// NewUpdates returns the wire form of a list of updates.
func NewUpdates(us []references.Update) []Update {
	if us == nil {
		return nil
	}
	out := make([]Update, len(us))
	for i := range us {
		out[i] = NewUpdate(us[i])
	}
	return out
}

func newSummary(s references.ReferenceSummary) ReferenceSummary {
	return ReferenceSummary{
		ID:            s.ID,
		ContainerID:   s.ContainerID,
		BillOfLading:  s.BillOfLading,
		BookingNumber: s.BookingNumber,
		CarrierCode:   s.CarrierCode,
		Metadata:      s.Metadata,
	}
}

// NewChanges returns the wire form of a list of changes.
func NewChanges(cs []references.Change) []Change {
	if cs == nil {
		return nil
	}
	out := make([]Change, len(cs))
	for i, c := range cs {
		out[i] = Change{Type: c.Type, Description: c.Description, Old: c.Old, New: c.New}
		if c.Event != nil {
			e := newEvent(c.Event)
			out[i].Event = &e
		}
	}
	return out
}

// NewShipment returns the wire form of a snapshot; nil for nil.
func NewShipment(s *references.Shipment) *Shipment {
	if s == nil {
		return nil
	}
	out := &Shipment{
		Status:          s.Status,
		Origin:          newLocation(s.Origin),
		Destination:     newLocation(s.Destination),
		CurrentLocation: newLocation(s.CurrentLocation),
		CurrentVessel:   newTransportCall(s.CurrentVessel),
		ETA:             s.ETA,
	}
	if s.Events != nil {
		out.Events = make([]Event, len(s.Events))
		for i := range s.Events {
			out.Events[i] = newEvent(&s.Events[i])
		}
	}
	return out
}

func newEvent(e *references.Event) Event {
	return Event{
		ID:                 e.ID,
		Type:               e.Type,
		Classifier:         e.Classifier,
		Code:               e.Code,
		Time:               e.Time,
		Location:           newLocation(e.Location),
		TransportCall:      newTransportCall(e.TransportCall),
		EquipmentReference: e.EquipmentReference,
		EmptyIndicator:     e.EmptyIndicator,
		Description:        e.Description,
	}
}

func newLocation(l *references.Location) *Location {
	if l == nil {
		return nil
	}
	return &Location{UNLocode: l.UNLocode, Name: l.Name}
}

func newTransportCall(tc *references.TransportCall) *TransportCall {
	if tc == nil {
		return nil
	}
	return &TransportCall{VesselName: tc.VesselName, VesselIMO: tc.VesselIMO, Voyage: tc.Voyage, ModeOfTransport: tc.ModeOfTransport}
}

// Domain returns the update as trackhook's domain type, for programs that hand a
// received update to trackhook's own packages (tools, tests).
func (u *Update) Domain() references.Update {
	out := references.Update{
		ID:          u.ID,
		ReferenceID: u.ReferenceID,
		Sequence:    u.Sequence,
		Type:        u.Type,
		CreatedAt:   u.CreatedAt,
		Reference: references.ReferenceSummary{
			ID:            u.Reference.ID,
			ContainerID:   u.Reference.ContainerID,
			BillOfLading:  u.Reference.BillOfLading,
			BookingNumber: u.Reference.BookingNumber,
			CarrierCode:   u.Reference.CarrierCode,
			Metadata:      u.Reference.Metadata,
		},
		Shipment:          u.Shipment.Domain(),
		Error:             u.Error,
		UnsubscribeReason: u.UnsubscribeReason,
	}
	if u.Changes != nil {
		out.Changes = make([]references.Change, len(u.Changes))
		for i, c := range u.Changes {
			out.Changes[i] = references.Change{Type: c.Type, Description: c.Description, Old: c.Old, New: c.New}
			if c.Event != nil {
				e := c.Event.domain()
				out.Changes[i].Event = &e
			}
		}
	}
	return out
}

// Domain returns the snapshot as trackhook's domain type; nil for nil.
func (s *Shipment) Domain() *references.Shipment {
	if s == nil {
		return nil
	}
	out := &references.Shipment{
		Status:          s.Status,
		Origin:          s.Origin.domain(),
		Destination:     s.Destination.domain(),
		CurrentLocation: s.CurrentLocation.domain(),
		CurrentVessel:   s.CurrentVessel.domain(),
		ETA:             s.ETA,
	}
	if s.Events != nil {
		out.Events = make([]references.Event, len(s.Events))
		for i := range s.Events {
			out.Events[i] = s.Events[i].domain()
		}
	}
	return out
}

func (e *Event) domain() references.Event {
	return references.Event{
		ID:                 e.ID,
		Type:               e.Type,
		Classifier:         e.Classifier,
		Code:               e.Code,
		Time:               e.Time,
		Location:           e.Location.domain(),
		TransportCall:      e.TransportCall.domain(),
		EquipmentReference: e.EquipmentReference,
		EmptyIndicator:     e.EmptyIndicator,
		Description:        e.Description,
	}
}

func (l *Location) domain() *references.Location {
	if l == nil {
		return nil
	}
	return &references.Location{UNLocode: l.UNLocode, Name: l.Name}
}

func (tc *TransportCall) domain() *references.TransportCall {
	if tc == nil {
		return nil
	}
	return &references.TransportCall{VesselName: tc.VesselName, VesselIMO: tc.VesselIMO, Voyage: tc.Voyage, ModeOfTransport: tc.ModeOfTransport}
}
