package tracking

import (
	"slices"
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Diff returns what changed from the snapshot old to the snapshot cur, both as Derive
// returns them; no change gives an empty (nil) slice. The order in which a source lists
// events does not matter.
//
// Events are matched by milestone, not by id, because sources republish a revised
// estimate under a new id. A milestone is identified by (see milestoneKey): event type,
// code, location (UN/LOCODE, else name), vessel (IMO, else name) and voyage of the
// transport call, equipment reference and empty indicator; not by classifier or time,
// so that a planned departure and the actual one are the same milestone. A milestone
// moved to another vessel or voyage is another milestone: the old one is reported
// removed and the new one added. When a
// snapshot holds several events of one milestone (a source listing both the plan and
// the estimate, say), the most definite one stands for it (ACT over EST over PLN), and
// among equally definite ones the last in canonical order.
//
// Per milestone:
//   - new: event_added;
//   - gone, and it was planned or estimated: event_removed;
//   - gone, and it was actual: actual_corrected with an empty New (the source
//     withdrew it);
//   - planned or estimated, now actual: estimate_actual;
//   - planned or estimated at another time: estimate_changed (a plan becoming an
//     estimate at the same time is no change);
//   - actual at another time, or no longer actual: actual_corrected.
//
// Then the containers (see Derive), in order of number: container_added for one the
// source lists now, container_removed for one it no longer lists and, when the
// shipment has several, status_changed and location_changed for a container's own
// progress. Then the shipment-level fields, in this order: status_changed,
// location_changed, vessel_changed and voyage_changed (both when a transshipment
// brings another vessel on another voyage), eta_changed. Event changes come first, in
// the canonical order of their events (see Derive).
//
// Change.Container names the container a change concerns: the container of its event
// (none for an event of the whole shipment), the container added or removed, or whose
// own status or location changed; it is "" for the shipment-level fields. An old
// snapshot stored before snapshots had containers gets them derived from its events.
//
// old may be nil: the first poll. Every event is then event_added, every container
// container_added, and each shipment-level field that is known (a status other than
// unknown, a location, a vessel, a voyage, an ETA) is reported as a change with an
// empty Old, so the first update carries the starting point. A nil cur is an empty
// snapshot.
//
// Old and New hold times in RFC 3339 (UTC), statuses, UN/LOCODEs (else location
// names), vessels as "NAME (IMO 1234567)", voyage numbers and container numbers. Change.Event is a copy of
// the event in cur (in old for a removal), nil for shipment-level changes.
func Diff(old, cur *references.Shipment) []references.Change {
	if old == nil {
		old = &references.Shipment{}
	}
	if cur == nil {
		cur = &references.Shipment{}
	}
	if old.Containers == nil && namesContainers(old.Events) {
		// Stored before snapshots had containers: derive them, so that the first poll
		// after an upgrade does not report every container as added.
		old = Derive(old)
	}
	changes := diffEvents(old.Events, cur.Events)
	changes = diffContainers(changes, old.Containers, cur.Containers)
	return diffShipment(changes, old, cur)
}

// milestoneKey identifies one milestone of a shipment across snapshots. Text is trimmed
// and upper-cased, because sources are not consistent about case.
type milestoneKey struct {
	typ       string
	code      string
	location  string // UN/LOCODE, else name
	vessel    string // IMO number, else vessel name
	voyage    string
	equipment string
	empty     string // EMPTY, LADEN or nothing
}

func keyOf(e *references.Event) milestoneKey {
	k := milestoneKey{
		typ:       norm(string(e.Type)),
		code:      norm(e.Code),
		location:  LocationKey(e.Location),
		equipment: norm(e.EquipmentReference),
		empty:     norm(e.EmptyIndicator),
	}
	if tc := e.TransportCall; tc != nil {
		k.vessel = vesselKey(tc)
		k.voyage = norm(tc.Voyage)
	}
	return k
}

func norm(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// vesselKey identifies a vessel: its IMO number, or its name where it has none.
func vesselKey(tc *references.TransportCall) string {
	if tc == nil {
		return ""
	}
	if imo := norm(tc.VesselIMO); imo != "" {
		return imo
	}
	return norm(tc.VesselName)
}

// milestones indexes events by milestone, keeping the event that stands for each one.
func milestones(events []references.Event) map[milestoneKey]*references.Event {
	m := make(map[milestoneKey]*references.Event, len(events))
	for i := range events {
		e := &events[i]
		k := keyOf(e)
		if cur, ok := m[k]; !ok || standsBefore(cur, e) {
			m[k] = e
		}
	}
	return m
}

// standsBefore reports whether b rather than a stands for their common milestone.
func standsBefore(a, b *references.Event) bool {
	ra, rb := classifierRank(a.Classifier), classifierRank(b.Classifier)
	if ra != rb {
		return rb > ra
	}
	return compareEvents(b, a) > 0
}

func diffEvents(oldEvents, curEvents []references.Event) []references.Change {
	before, after := milestones(oldEvents), milestones(curEvents)
	var changes []references.Change
	for k, e := range after {
		if o, ok := before[k]; ok {
			if c, changed := eventChange(o, e); changed {
				changes = append(changes, c)
			}
			continue
		}
		changes = append(changes, references.Change{
			Type:        references.ChangeEventAdded,
			Description: "New " + classifierWord(e.Classifier) + " milestone: " + milestone(e) + " on " + stamp(e.Time),
			New:         stamp(e.Time),
			Event:       eventCopy(e),
		})
	}
	for k, o := range before {
		if _, ok := after[k]; ok {
			continue
		}
		if o.Classifier == references.ClassifierActual {
			changes = append(changes, references.Change{
				Type:        references.ChangeActualCorrected,
				Description: capitalize("actual " + milestone(o) + " on " + stamp(o.Time) + " withdrawn by the source"),
				Old:         stamp(o.Time),
				Event:       eventCopy(o),
			})
			continue
		}
		changes = append(changes, references.Change{
			Type:        references.ChangeEventRemoved,
			Description: capitalize(classifierWord(o.Classifier) + " " + milestone(o) + " on " + stamp(o.Time) + " removed"),
			Old:         stamp(o.Time),
			Event:       eventCopy(o),
		})
	}
	// Map iteration is random: sort by the events the changes are about. Each event
	// appears once (one change per milestone), so the order is total.
	slices.SortFunc(changes, func(a, b references.Change) int { return compareEvents(a.Event, b.Event) })
	for i := range changes {
		changes[i].Container = norm(changes[i].Event.EquipmentReference)
	}
	return changes
}

// eventChange compares the old and current event standing for one milestone.
func eventChange(o, e *references.Event) (references.Change, bool) {
	wasActual := o.Classifier == references.ClassifierActual
	isActual := e.Classifier == references.ClassifierActual
	sameTime := o.Time.Equal(e.Time)
	if sameTime && wasActual == isActual {
		return references.Change{}, false // the common case: check it before formatting
	}
	c := references.Change{Old: stamp(o.Time), New: stamp(e.Time), Event: eventCopy(e)}
	switch {
	case !wasActual && isActual:
		c.Type = references.ChangeActualized
		c.Description = capitalize(milestone(e) + " happened on " + c.New + " (" + classifierWord(o.Classifier) + " for " + c.Old + ")")
		if sameTime {
			c.Description = capitalize(milestone(e) + " happened on " + c.New + ", as " + classifierWord(o.Classifier))
		}
	case wasActual && !isActual:
		c.Type = references.ChangeActualCorrected
		c.Description = capitalize("actual " + milestone(e) + " on " + c.Old + " withdrawn by the source, now " + classifierWord(e.Classifier) + " for " + c.New)
	case isActual:
		c.Type = references.ChangeActualCorrected
		c.Description = capitalize("actual " + milestone(e) + " corrected from " + c.Old + " to " + c.New)
	default:
		c.Type = references.ChangeEstimateChanged
		c.Description = capitalize(classifierWord(e.Classifier) + " " + milestone(e) + " moved from " + c.Old + " to " + c.New)
	}
	return c, true
}

// diffShipment appends the changes of the shipment-level fields.
func diffShipment(changes []references.Change, old, cur *references.Shipment) []references.Change {
	if statusKey(old.Status) != statusKey(cur.Status) {
		o, n := string(old.Status), string(cur.Status)
		changes = append(changes, fieldChange(references.ChangeStatusChanged, "status", o, n))
	}
	if o, n := LocationKey(old.CurrentLocation), LocationKey(cur.CurrentLocation); o != n {
		c := fieldChange(references.ChangeLocationChanged, "current location",
			locationLabel(old.CurrentLocation), locationLabel(cur.CurrentLocation))
		c.Old, c.New = o, n
		changes = append(changes, c)
	}
	if o, n := vesselKey(old.CurrentVessel), vesselKey(cur.CurrentVessel); o != n {
		changes = append(changes, fieldChange(references.ChangeVesselChanged, "current vessel",
			VesselLabel(old.CurrentVessel), VesselLabel(cur.CurrentVessel)))
	}
	if o, n := voyageOf(old.CurrentVessel), voyageOf(cur.CurrentVessel); norm(o) != norm(n) {
		changes = append(changes, fieldChange(references.ChangeVoyageChanged, "current voyage", o, n))
	}
	if !sameInstant(old.ETA, cur.ETA) {
		what := "ETA"
		dest := cur.Destination
		if dest == nil {
			dest = old.Destination
		}
		if code := LocationKey(dest); code != "" {
			what += " at " + code
		}
		changes = append(changes, fieldChange(references.ChangeETAChanged, what, stampPtr(old.ETA), stampPtr(cur.ETA)))
	}
	return changes
}

// statusKey makes a missing status and unknown the same: both say nothing is known.
func statusKey(s references.ShipmentStatus) references.ShipmentStatus {
	if s == "" {
		return references.ShipmentUnknown
	}
	return s
}

func sameInstant(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func voyageOf(tc *references.TransportCall) string {
	if tc == nil {
		return ""
	}
	return strings.TrimSpace(tc.Voyage)
}

func eventCopy(e *references.Event) *references.Event {
	c := cloneEvent(e)
	return &c
}

// RevisionsMoved reports whether cur's events carry other revision times
// (references.Event.RevisedAt) than old's, event by event in canonical order, or are
// not the same events at all. Diff does not report a revision alone (it is not news),
// but the snapshot is stored all the same, so that the next push is merged against
// the latest revision: kept back, an older revision pushed later would look newer
// than the stored one and replace it. Both are snapshots as Derive returns them; nil
// is an empty one.
func RevisionsMoved(old, cur *references.Shipment) bool {
	var before, after []references.Event
	if old != nil {
		before = old.Events
	}
	if cur != nil {
		after = cur.Events
	}
	return !slices.EqualFunc(before, after, func(a, b references.Event) bool {
		return a.ID == b.ID && a.RevisedAt.Equal(b.RevisedAt)
	})
}
