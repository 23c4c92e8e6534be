package tracking

import (
	"slices"
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Derive returns the snapshot s made canonical: a copy of its events, with times in
// UTC and sorted into a deterministic order (event time, then type, code, location,
// id, then every other field), and the derived fields computed from them. s is not
// modified and may be nil (an empty snapshot). The derived fields s already holds are
// ignored: sources fill in Events only, and a stored snapshot derives to itself.
//
// The derived fields:
//   - Status: how far the actual (ACT) events have taken the shipment; see
//     references.ShipmentStatus. No events at all is unknown; events but no actual
//     progress (plans, estimates, document events, an empty container picked up) is
//     booked. The status only moves forward, except that in_transit and transshipment
//     alternate while the container changes vessels.
//   - Origin: the location of the first load or departure, whatever its classifier.
//   - Destination: the location of the last arrival or discharge, whatever its
//     classifier, so a plan names the destination before the voyage starts.
//   - CurrentLocation: the location of the latest actual event that has one.
//   - CurrentVessel: the transport call of the latest actual vessel event (a transport
//     event or a load); before any, the next planned or estimated one. Calls by truck
//     or rail are not vessels and are skipped.
//   - ETA: the arrival (or, when the source reports no arrival, the discharge) at the
//     destination: the actual time once there is one, else the latest estimate, else
//     the latest plan.
//
// Derive is pure: the same events in any order give an identical result.
func Derive(s *references.Shipment) *references.Shipment {
	out := &references.Shipment{Events: []references.Event{}}
	if s != nil {
		out.Events = make([]references.Event, len(s.Events))
		for i := range s.Events {
			out.Events[i] = cloneEvent(&s.Events[i])
		}
	}
	slices.SortFunc(out.Events, func(a, b references.Event) int { return compareEvents(&a, &b) })

	ev := out.Events
	out.Origin = cloneLocation(firstLocation(ev, references.CodeLoad, references.CodeDeparture))
	out.Destination = cloneLocation(lastLocation(ev, references.CodeArrival, references.CodeDischarge))
	out.Status = deriveStatus(ev, out.Origin, out.Destination)
	out.CurrentLocation = cloneLocation(currentLocation(ev))
	out.CurrentVessel = cloneTransportCall(currentVessel(ev))
	out.ETA = deriveETA(ev, out.Destination)
	return out
}

// TerminalEvent describes an actual event that ends tracking. Code is required; the
// other fields narrow the match and match anything when empty or false.
type TerminalEvent struct {
	Type           references.EventType // TRANSPORT, EQUIPMENT or SHIPMENT
	Code           string               // DCSA event code, e.g. GTIN
	EmptyIndicator string               // EMPTY or LADEN
	// AfterArrival requires the shipment to have reached its destination before the
	// event, so that an empty gate-in left over from the container's previous trip, or
	// the one at the origin depot, does not end tracking.
	AfterArrival bool
}

// TerminalRule lists the events that end tracking: a snapshot is complete once any of
// them occurred (as ACT). A nil or empty rule means DefaultTerminalRule.
type TerminalRule []TerminalEvent

// DefaultTerminalRule returns the rule that ends tracking when the empty container is
// returned: an actual empty gate-in (GTIN, EMPTY) after the container was at the
// destination. It is the same condition that makes Derive report empty_returned.
func DefaultTerminalRule() TerminalRule {
	return TerminalRule{{Code: references.CodeGateIn, EmptyIndicator: "EMPTY", AfterArrival: true}}
}

// IsComplete reports whether the snapshot s shows that tracking is complete under the
// rule (nil means DefaultTerminalRule). s need not have been derived: IsComplete orders
// the events and finds the destination itself.
func IsComplete(s *references.Shipment, rule TerminalRule) bool {
	if s == nil || len(s.Events) == 0 {
		return false
	}
	if len(rule) == 0 {
		rule = DefaultTerminalRule()
	}
	d := Derive(s)
	p := progress{origin: d.Origin, dest: d.Destination, status: references.ShipmentBooked}
	for i := range d.Events {
		e := &d.Events[i]
		if e.Classifier != references.ClassifierActual {
			continue
		}
		for _, t := range rule {
			if t.matches(e, p.status) {
				return true
			}
		}
		p.observe(e)
	}
	return false
}

// matches reports whether the actual event e, seen when the shipment had reached
// status, is this terminal event.
func (t TerminalEvent) matches(e *references.Event, status references.ShipmentStatus) bool {
	switch {
	case !strings.EqualFold(t.Code, e.Code):
		return false
	case t.Type != "" && !strings.EqualFold(string(t.Type), string(e.Type)):
		return false
	case t.EmptyIndicator != "" && !strings.EqualFold(t.EmptyIndicator, e.EmptyIndicator):
		return false
	case t.AfterArrival && statusRank(status) < statusRank(references.ShipmentArrived):
		return false
	}
	return true
}

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
	empty := strings.EqualFold(e.EmptyIndicator, "EMPTY")
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

func firstLocation(events []references.Event, codes ...string) *references.Location {
	for i := range events {
		if events[i].Location != nil && slices.Contains(codes, strings.ToUpper(events[i].Code)) {
			return events[i].Location
		}
	}
	return nil
}

func lastLocation(events []references.Event, codes ...string) *references.Location {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Location != nil && slices.Contains(codes, strings.ToUpper(events[i].Code)) {
			return events[i].Location
		}
	}
	return nil
}

func currentLocation(events []references.Event) *references.Location {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Classifier == references.ClassifierActual && events[i].Location != nil {
			return events[i].Location
		}
	}
	return nil
}

func currentVessel(events []references.Event) *references.TransportCall {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Classifier == references.ClassifierActual && isVesselEvent(&events[i]) {
			return events[i].TransportCall
		}
	}
	for i := range events {
		if events[i].Classifier != references.ClassifierActual && isVesselEvent(&events[i]) {
			return events[i].TransportCall
		}
	}
	return nil
}

// isVesselEvent reports whether e puts the cargo on a vessel or moves a vessel.
func isVesselEvent(e *references.Event) bool {
	tc := e.TransportCall
	if tc == nil || (tc.VesselIMO == "" && tc.VesselName == "" && tc.Voyage == "") {
		return false
	}
	switch strings.ToUpper(tc.ModeOfTransport) {
	case "", "VESSEL", "BARGE":
	default:
		return false
	}
	return e.Type == references.EventTransport || strings.EqualFold(e.Code, references.CodeLoad)
}

func deriveETA(events []references.Event, dest *references.Location) *time.Time {
	if dest == nil {
		return nil
	}
	best := bestAt(events, dest, references.CodeArrival)
	if best == nil {
		best = bestAt(events, dest, references.CodeDischarge)
	}
	if best == nil {
		return nil
	}
	t := best.Time
	return &t
}

// bestAt returns the most definite event with code at loc, the latest among equals.
func bestAt(events []references.Event, loc *references.Location, code string) *references.Event {
	var best *references.Event
	for i := range events {
		e := &events[i]
		if !strings.EqualFold(e.Code, code) || !sameLocation(e.Location, loc) {
			continue
		}
		if best == nil || classifierRank(e.Classifier) >= classifierRank(best.Classifier) {
			best = e
		}
	}
	return best
}

// sameLocation compares by UN/LOCODE when both have one, else by name.
func sameLocation(a, b *references.Location) bool {
	if a == nil || b == nil {
		return false
	}
	ka, kb := locationKey(a), locationKey(b)
	return ka != "" && ka == kb
}

// locationKey identifies a location: its UN/LOCODE, or its name where it has none.
func locationKey(l *references.Location) string {
	if l == nil {
		return ""
	}
	if c := strings.TrimSpace(l.UNLocode); c != "" {
		return strings.ToUpper(c)
	}
	return strings.ToUpper(strings.TrimSpace(l.Name))
}

// compareEvents is the canonical order: time, type, code, location, id, and then every
// remaining field, so that only identical events compare equal and sorting is
// deterministic whatever order the source used.
func compareEvents(a, b *references.Event) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	fields := [...][2]string{
		{string(a.Type), string(b.Type)},
		{a.Code, b.Code},
		{locCode(a.Location), locCode(b.Location)},
		{locName(a.Location), locName(b.Location)},
		{a.ID, b.ID},
		{string(a.Classifier), string(b.Classifier)},
		{a.EquipmentReference, b.EquipmentReference},
		{a.EmptyIndicator, b.EmptyIndicator},
		{tcField(a.TransportCall, 0), tcField(b.TransportCall, 0)},
		{tcField(a.TransportCall, 1), tcField(b.TransportCall, 1)},
		{tcField(a.TransportCall, 2), tcField(b.TransportCall, 2)},
		{tcField(a.TransportCall, 3), tcField(b.TransportCall, 3)},
		{a.Description, b.Description},
	}
	for _, f := range fields {
		if c := strings.Compare(f[0], f[1]); c != 0 {
			return c
		}
	}
	// A nil location or transport call sorts before an empty one.
	if c := compareNil(a.Location == nil, b.Location == nil); c != 0 {
		return c
	}
	return compareNil(a.TransportCall == nil, b.TransportCall == nil)
}

func compareNil(aNil, bNil bool) int {
	switch {
	case aNil == bNil:
		return 0
	case aNil:
		return -1
	}
	return 1
}

func locCode(l *references.Location) string {
	if l == nil {
		return ""
	}
	return l.UNLocode
}

func locName(l *references.Location) string {
	if l == nil {
		return ""
	}
	return l.Name
}

func tcField(tc *references.TransportCall, i int) string {
	if tc == nil {
		return ""
	}
	return [...]string{tc.VesselIMO, tc.VesselName, tc.Voyage, tc.ModeOfTransport}[i]
}

// cloneEvent copies e deeply, so a derived snapshot shares nothing with its source,
// and puts its time in UTC so equal instants print alike.
func cloneEvent(e *references.Event) references.Event {
	c := *e
	c.Time = e.Time.UTC()
	c.Location = cloneLocation(e.Location)
	c.TransportCall = cloneTransportCall(e.TransportCall)
	return c
}

func cloneLocation(l *references.Location) *references.Location {
	if l == nil {
		return nil
	}
	c := *l
	return &c
}

func cloneTransportCall(tc *references.TransportCall) *references.TransportCall {
	if tc == nil {
		return nil
	}
	c := *tc
	return &c
}
