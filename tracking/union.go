package tracking

import (
	"slices"
	"strings"

	"github.com/trackhook/trackhook/references"
)

// UnionEvents returns the events of newer and those of base that newer lacks, sorted
// by time (events of one time: newer's first, then base's, each in its order). A
// carrier that pushes events makes a snapshot from two sources that lag each other:
// a push must not lose what a poll saw, nor a poll that lags the carrier a pushed
// event. An event is matched by its id, and newer's version wins; one without an id
// by its type, classifier, code, time, place and container, as close as it can be.
// Neither input is modified.
func UnionEvents(base, newer []references.Event) []references.Event {
	ids := make(map[string]bool, len(newer))
	alike := map[eventKey]bool{}
	for i := range newer {
		if e := &newer[i]; e.ID != "" {
			ids[e.ID] = true
		} else {
			alike[keyOfEvent(e)] = true
		}
	}
	out := slices.Clone(newer)
	for i := range base {
		e := &base[i]
		if e.ID != "" && ids[e.ID] || e.ID == "" && alike[keyOfEvent(e)] {
			continue
		}
		out = append(out, *e)
	}
	slices.SortStableFunc(out, func(a, b references.Event) int { return a.Time.Compare(b.Time) })
	return out
}

// eventKey is what tells apart two events that have no id.
type eventKey struct {
	typ, classifier, code, place, container string
	at                                      int64
}

func keyOfEvent(e *references.Event) eventKey {
	k := eventKey{
		typ: string(e.Type), classifier: string(e.Classifier), code: strings.ToUpper(e.Code),
		container: strings.ToUpper(e.EquipmentReference), at: e.Time.UnixNano(),
	}
	if e.Location != nil {
		k.place = e.Location.UNLocode + "|" + e.Location.Name
	}
	return k
}
