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
// A plan or an estimate of newer also replaces base's plans or estimates of the same
// milestone: carriers publish a revised estimate under a new id, and the old one
// kept would stand for the milestone if its time were later. Actual events are
// facts and stay. Neither input is modified.
func UnionEvents(base, newer []references.Event) []references.Event {
	ids := make(map[string]bool, len(newer))
	alike := map[eventKey]bool{}
	revised := map[revisionKey]bool{}
	for i := range newer {
		e := &newer[i]
		if e.ID != "" {
			ids[e.ID] = true
		} else {
			alike[keyOfEvent(e)] = true
		}
		if e.Classifier != references.ClassifierActual {
			revised[revisionKey{keyOf(e), e.Classifier}] = true
		}
	}
	out := slices.Clone(newer)
	for i := range base {
		e := &base[i]
		switch {
		case e.ID != "" && ids[e.ID], e.ID == "" && alike[keyOfEvent(e)]:
		case e.Classifier != references.ClassifierActual && revised[revisionKey{keyOf(e), e.Classifier}]:
		default:
			out = append(out, *e)
		}
	}
	slices.SortStableFunc(out, func(a, b references.Event) int { return a.Time.Compare(b.Time) })
	return out
}

// revisionKey is what a revised plan or estimate has in common with the one it
// replaces: the milestone and the classifier.
type revisionKey struct {
	milestone  milestoneKey
	classifier references.Classifier
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
