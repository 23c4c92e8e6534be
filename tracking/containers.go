package tracking

import (
	"slices"

	"github.com/trackhook/trackhook/references"
)

// The containers of a shipment. A bill of lading or a booking covers several
// containers, each with its own journey: one may be held at the terminal while the
// others are delivered. Events name their container by equipment reference; an event
// without one (a vessel's departure, a document's issue) concerns every container.

// deriveContainers returns the containers the events (in canonical order) name, in
// order of number, each derived from the events that concern it; nil when no event
// names one. A container's events share their Location and TransportCall with those
// of events: a derived snapshot is read, not changed.
func deriveContainers(events []references.Event) []references.Container {
	numbers := containerNumbers(events)
	if len(numbers) == 0 {
		return nil
	}
	out := make([]references.Container, len(numbers))
	for i, n := range numbers {
		out[i] = deriveContainer(n, events)
	}
	return out
}

// containerNumbers returns the distinct container numbers the events name, sorted.
func containerNumbers(events []references.Event) []string {
	var numbers []string
	for i := range events {
		if n := norm(events[i].EquipmentReference); n != "" && !slices.Contains(numbers, n) {
			numbers = append(numbers, n)
		}
	}
	slices.Sort(numbers)
	return numbers
}

// deriveContainer derives container n the way Derive derives a shipment, from the
// events that concern it.
func deriveContainer(n string, events []references.Event) references.Container {
	concerning := eventsOf(n, events)
	own := 0
	for i := range concerning {
		if norm(concerning[i].EquipmentReference) == n {
			own++
		}
	}
	c := references.Container{Number: n, Milestones: make([]references.Event, 0, own)}
	for i := range concerning {
		e := &concerning[i]
		if norm(e.EquipmentReference) != n {
			continue
		}
		c.Milestones = append(c.Milestones, *e)
		if code := norm(e.ISOEquipmentCode); code != "" {
			c.ISOEquipmentCode = code // the latest the source gave
		}
	}
	origin := firstLocation(concerning, references.CodeLoad, references.CodeDeparture)
	dest := lastLocation(concerning, references.CodeArrival, references.CodeDischarge)
	c.Status = deriveStatus(concerning, origin, dest)
	c.CurrentLocation = currentLocation(concerning)
	for i := len(concerning) - 1; i >= 0; i-- {
		// A document's status (a shipment event) says nothing of where the container is.
		if concerning[i].Classifier == references.ClassifierActual && concerning[i].Type != references.EventShipment {
			last := concerning[i]
			c.LastEvent = &last
			break
		}
	}
	return c
}

// eventsOf returns the events that concern container n, in their order: its own and
// those that name no container. When they all do, as for a container reference, it
// returns events itself.
func eventsOf(n string, events []references.Event) []references.Event {
	concern := func(e *references.Event) bool {
		ref := norm(e.EquipmentReference)
		return ref == "" || ref == n
	}
	count := 0
	for i := range events {
		if concern(&events[i]) {
			count++
		}
	}
	if count == len(events) {
		return events
	}
	out := make([]references.Event, 0, count)
	for i := range events {
		if concern(&events[i]) {
			out = append(out, events[i])
		}
	}
	return out
}

// leastAdvanced returns the status of the container that has come least far: a
// shipment of several containers is delivered once all of them are.
func leastAdvanced(containers []references.Container) references.ShipmentStatus {
	least := containers[0].Status
	for _, c := range containers[1:] {
		if statusRank(c.Status) < statusRank(least) {
			least = c.Status
		}
	}
	return least
}

// namesContainers reports whether any event names a container.
func namesContainers(events []references.Event) bool {
	return slices.ContainsFunc(events, func(e references.Event) bool { return norm(e.EquipmentReference) != "" })
}

// diffContainers appends the changes of the containers: each one added or removed,
// and, when the shipment has several, each one's own status and location. (With one,
// the shipment's status and location are the container's, reported once.) Containers
// come in order of number.
func diffContainers(changes []references.Change, old, cur []references.Container) []references.Change {
	several := len(old) > 1 || len(cur) > 1
	for _, n := range unionOfNumbers(old, cur) {
		o, c := findContainer(old, n), findContainer(cur, n)
		switch {
		case o == nil:
			changes = append(changes, references.Change{
				Type: references.ChangeContainerAdded, Description: "Container " + containerLabel(c) + " added",
				New: n, Container: n,
			})
		case c == nil:
			changes = append(changes, references.Change{
				Type: references.ChangeContainerRemoved, Description: "Container " + containerLabel(o) + " no longer listed by the source",
				Old: n, Container: n,
			})
		case several:
			if statusKey(o.Status) != statusKey(c.Status) {
				ch := fieldChange(references.ChangeStatusChanged, "status of "+n, string(o.Status), string(c.Status))
				ch.Container = n
				changes = append(changes, ch)
			}
			if ol, cl := LocationKey(o.CurrentLocation), LocationKey(c.CurrentLocation); ol != cl {
				ch := fieldChange(references.ChangeLocationChanged, "current location of "+n,
					locationLabel(o.CurrentLocation), locationLabel(c.CurrentLocation))
				ch.Old, ch.New, ch.Container = ol, cl, n
				changes = append(changes, ch)
			}
		}
	}
	return changes
}

func unionOfNumbers(a, b []references.Container) []string {
	numbers := make([]string, 0, len(a)+len(b))
	for _, c := range a {
		numbers = append(numbers, c.Number)
	}
	for _, c := range b {
		numbers = append(numbers, c.Number)
	}
	slices.Sort(numbers)
	return slices.Compact(numbers)
}

func findContainer(cs []references.Container, n string) *references.Container {
	for i := range cs {
		if cs[i].Number == n {
			return &cs[i]
		}
	}
	return nil
}

// containerLabel names a container for people: "MSCU1234566 (45G1)".
func containerLabel(c *references.Container) string {
	if c.ISOEquipmentCode == "" {
		return c.Number
	}
	return c.Number + " (" + c.ISOEquipmentCode + ")"
}
