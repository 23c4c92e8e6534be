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
//   - Containers: one for each container the events name by equipment reference (upper
//     case), in order of number, nil when none does. Each is derived like the
//     shipment from the events that concern it: its own milestones and the events that
//     name no container. The shipment's Status is then that of the container that has
//     come least far, so a bill of lading is delivered once every container is. (With
//     one container every event concerns it, and its status is the one above.)
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
	if out.Containers = deriveContainers(ev); out.Containers != nil {
		out.Status = leastAdvanced(out.Containers)
	}
	return out
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
	case "", references.ModeVessel, references.ModeBarge:
	default:
		return false
	}
	return e.Type == references.EventTransport || strings.EqualFold(e.Code, references.CodeLoad)
}

func deriveETA(events []references.Event, dest *references.Location) *time.Time {
	if dest == nil {
		return nil
	}
	best := MostDefinite(events, dest, references.CodeArrival, references.CodeDischarge)
	if best == nil {
		return nil
	}
	t := best.Time
	return &t
}

// MostDefinite returns the most definite event (actual over estimated over planned)
// at loc with the first of codes that any event at loc has, the latest of the events
// equally definite; nil when there is none. The derived ETA and the console's route
// pick the time of a port alike with it: MostDefinite(events, dest, "ARRI", "DISC")
// is the arrival, else the discharge.
func MostDefinite(events []references.Event, loc *references.Location, codes ...string) *references.Event {
	for _, code := range codes {
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
		if best != nil {
			return best
		}
	}
	return nil
}

// sameLocation compares by UN/LOCODE when both have one, else by name.
func sameLocation(a, b *references.Location) bool {
	if a == nil || b == nil {
		return false
	}
	ka, kb := LocationKey(a), LocationKey(b)
	return ka != "" && ka == kb
}

// LocationKey identifies a location: its UN/LOCODE, or its name where it has none,
// upper case; "" for nil. Two locations are the same place when their keys are equal
// and not empty.
func LocationKey(l *references.Location) string {
	if l == nil {
		return ""
	}
	if c := strings.TrimSpace(l.UNLocode); c != "" {
		return strings.ToUpper(c)
	}
	return strings.ToUpper(strings.TrimSpace(l.Name))
}
