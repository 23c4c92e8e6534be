package dcsa3

import (
	"maps"
	"slices"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Version is what is known of the current version of one event: when it was last
// updated, and whether it is retracted (the event is then gone from the snapshot,
// and an earlier version arriving late must not bring it back).
type Version struct {
	UpdatedAt time.Time // zero when the carrier gave none
	Retracted bool
}

// Versions holds the Version of each event of a snapshot by Record.ID, retracted
// ones included. Keep it with the snapshot, so that Merge can tell a pushed event
// from an older copy of one already known; Snapshot returns it for a poll.
type Versions map[string]Version

// supersedes reports whether a version of an event received after cur replaces
// it: when it was updated later or, when either has no eventUpdatedDateTime to tell,
// because it came later. An equal time is the same version again (a retried push).
func supersedes(next Version, cur Version) bool {
	if next.UpdatedAt.IsZero() || cur.UpdatedAt.IsZero() {
		return true
	}
	return next.UpdatedAt.After(cur.UpdatedAt)
}

func (r *Record) version() Version { return Version{UpdatedAt: r.UpdatedAt, Retracted: r.Retracted} }

// resolve applies the override rules to records received in this order: of the
// versions of one event id, the one that supersedes the others stands, a retraction
// included. Records without an id all stand. The order of the first version of each
// event is kept.
func resolve(records []Record) []Record {
	out := make([]Record, 0, len(records))
	at := map[string]int{} // id -> index in out
	for _, r := range records {
		if r.ID == "" {
			out = append(out, r)
			continue
		}
		i, seen := at[r.ID]
		switch {
		case !seen:
			at[r.ID] = len(out)
			out = append(out, r)
		case supersedes(r.version(), out[i].version()):
			out[i] = r
		}
	}
	return out
}

// snapshotOf returns the events that stand among resolved records, and their
// versions.
func snapshotOf(resolved []Record) ([]references.Event, Versions) {
	var events []references.Event
	versions := Versions{}
	for _, r := range resolved {
		if r.ID != "" {
			versions[r.ID] = r.version()
		}
		if !r.Retracted {
			events = append(events, r.Event)
		}
	}
	return events, versions
}

// Merge applies pushed records, in the order received, to the events of a stored
// snapshot and their versions (nil when unknown, as for a snapshot stored before
// versions were kept), and returns the new events, sorted by time, and versions.
// stored and versions are not modified.
//
// A record replaces the stored event of its id unless it is an older or the same
// version of it (see Version): a retried push, or one overtaken by a later one,
// changes nothing. Where versions does not know an event, the stored event's
// RevisedAt (its eventUpdatedDateTime) says which version it is. A retraction removes the event and is remembered, so that an
// earlier version pushed late does not bring it back; one that names no identifier
// (see Push.For) is remembered only where the event was known. A record without an
// id is added unless the snapshot already holds the same event.
func Merge(stored []references.Event, versions Versions, pushed []Record) ([]references.Event, Versions) {
	events := slices.Clone(stored)
	next := maps.Clone(versions)
	if next == nil {
		next = Versions{}
	}
	for _, r := range pushed {
		if r.ID == "" {
			if !r.Retracted && !slices.ContainsFunc(events, func(e references.Event) bool { return sameEvent(e, r.Event) }) {
				events = append(events, r.Event)
			}
			continue
		}
		cur, known := next[r.ID]
		at := slices.IndexFunc(events, func(e references.Event) bool { return e.ID == r.ID })
		held := at >= 0
		if !known && held && !events[at].RevisedAt.IsZero() {
			// The stored event says which version it is.
			cur, known = Version{UpdatedAt: events[at].RevisedAt}, true
		}
		if known && !supersedes(r.version(), cur) {
			continue
		}
		if r.Retracted && !known && !held && r.namesNothing() {
			continue // a retraction of some other reference's event
		}
		events = slices.DeleteFunc(events, func(e references.Event) bool { return e.ID == r.ID })
		if !r.Retracted {
			events = append(events, r.Event)
		}
		next[r.ID] = r.version()
	}
	slices.SortStableFunc(events, func(a, b references.Event) int { return a.Time.Compare(b.Time) })
	return events, next
}

// sameEvent reports whether a and b are the same fact, told alike.
func sameEvent(a, b references.Event) bool {
	return a.ID == b.ID && a.Type == b.Type && a.Classifier == b.Classifier && a.Code == b.Code && a.Time.Equal(b.Time) &&
		equalPtr(a.Location, b.Location) && equalPtr(a.TransportCall, b.TransportCall) &&
		a.EquipmentReference == b.EquipmentReference && a.ISOEquipmentCode == b.ISOEquipmentCode &&
		a.EmptyIndicator == b.EmptyIndicator && a.Description == b.Description
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
