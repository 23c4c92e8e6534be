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
		out[i] = Change{Type: c.Type, Description: c.Description, Old: c.Old, New: c.New, Container: c.Container, Event: newEventPtr(c.Event)}
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
	out.Events = newEvents(s.Events)
	if s.Containers != nil {
		out.Containers = make([]Container, len(s.Containers))
		for i, c := range s.Containers {
			out.Containers[i] = Container{
				Number:           c.Number,
				ISOEquipmentCode: c.ISOEquipmentCode,
				Status:           c.Status,
				CurrentLocation:  newLocation(c.CurrentLocation),
				LastEvent:        newEventPtr(c.LastEvent),
				Milestones:       newEvents(c.Milestones),
			}
		}
	}
	return out
}

func newEvents(es []references.Event) []Event {
	if es == nil {
		return nil
	}
	out := make([]Event, len(es))
	// The events' locations and transport calls go in one array each rather than one
	// allocation apiece: a snapshot has dozens, and the notifier converts one for
	// every delivery.
	nl, nc := 0, 0
	for i := range es {
		if es[i].Location != nil {
			nl++
		}
		if es[i].TransportCall != nil {
			nc++
		}
	}
	locs, calls := make([]Location, nl), make([]TransportCall, nc)
	for i := range es {
		e := &es[i]
		bare := *e
		bare.Location, bare.TransportCall = nil, nil // set below, from the arrays
		out[i] = newEvent(&bare)
		if l := e.Location; l != nil {
			locs[0] = Location{UNLocode: l.UNLocode, Name: l.Name}
			out[i].Location, locs = &locs[0], locs[1:]
		}
		if tc := e.TransportCall; tc != nil {
			calls[0] = TransportCall{VesselName: tc.VesselName, VesselIMO: tc.VesselIMO, Voyage: tc.Voyage, ModeOfTransport: tc.ModeOfTransport}
			out[i].TransportCall, calls = &calls[0], calls[1:]
		}
	}
	return out
}

func newEventPtr(e *references.Event) *Event {
	if e == nil {
		return nil
	}
	w := newEvent(e)
	return &w
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
		ISOEquipmentCode:   e.ISOEquipmentCode,
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
			out.Changes[i] = references.Change{Type: c.Type, Description: c.Description, Old: c.Old, New: c.New, Container: c.Container, Event: c.Event.domainPtr()}
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
	out.Events = domainEvents(s.Events)
	if s.Containers != nil {
		out.Containers = make([]references.Container, len(s.Containers))
		for i, c := range s.Containers {
			out.Containers[i] = references.Container{
				Number:           c.Number,
				ISOEquipmentCode: c.ISOEquipmentCode,
				Status:           c.Status,
				CurrentLocation:  c.CurrentLocation.domain(),
				LastEvent:        c.LastEvent.domainPtr(),
				Milestones:       domainEvents(c.Milestones),
			}
		}
	}
	return out
}

func domainEvents(es []Event) []references.Event {
	if es == nil {
		return nil
	}
	out := make([]references.Event, len(es))
	for i := range es {
		out[i] = es[i].domain()
	}
	return out
}

func (e *Event) domainPtr() *references.Event {
	if e == nil {
		return nil
	}
	d := e.domain()
	return &d
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
		ISOEquipmentCode:   e.ISOEquipmentCode,
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
