package tracking

import (
	"slices"
	"strings"
	"time"

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
//
// Newer wins because it arrived later, which is all there is to go by where the
// source does not say when it revised its events (references.Event.RevisedAt).
// Where both sides say, the later revision wins whichever side it is on, so that an
// older revision pushed after a newer one does not replace it: base's version of an
// event stays when it was revised later than newer's (CT 3.0 revises under the same
// id), and base's plans or estimates of a milestone stay, and newer's go, when
// base's latest revision of them is later than newer's latest (T&T 2.2 revises under
// a new id). A time that either side lacks, or an equal one, leaves newer's.
func UnionEvents(base, newer []references.Event) []references.Event {
	keepBase, keepNewer := make([]bool, len(base)), make([]bool, len(newer))
	shared := make([]bool, len(base)+len(newer)) // base's, then newer's: the id is on both sides

	// One version of each id the two sides share.
	newerByID := make(map[string]int, len(newer))
	for i := range newer {
		keepNewer[i] = true
		if id := newer[i].ID; id != "" {
			newerByID[id] = i
		}
	}
	for i := range base {
		keepBase[i] = true
		j, ok := newerByID[base[i].ID]
		if base[i].ID == "" || !ok {
			continue
		}
		shared[i], shared[len(base)+j] = true, true
		if laterRevision(base[i].RevisedAt, newer[j].RevisedAt) {
			keepNewer[j] = false
		} else {
			keepBase[i] = false
		}
	}

	// Plans and estimates of a milestone that both sides revise: one side's stand.
	// An event whose id both sides share stays as chosen above, so that no id is
	// lost and the same events again change nothing.
	baseRev, newerRev := latestRevisions(base, keepBase), latestRevisions(newer, keepNewer)
	for i := range newer {
		if k, ok := revisionKeyOf(&newer[i]); ok && keepNewer[i] && !shared[len(base)+i] {
			_, both := baseRev[k]
			keepNewer[i] = !both || !laterRevision(baseRev[k], newerRev[k])
		}
	}
	for i := range base {
		if k, ok := revisionKeyOf(&base[i]); ok && keepBase[i] && !shared[i] {
			_, both := newerRev[k]
			keepBase[i] = !both || laterRevision(baseRev[k], newerRev[k])
		}
	}

	// Events without an id: base's go where newer has one alike.
	alike := map[eventKey]bool{}
	for i := range newer {
		if newer[i].ID == "" && keepNewer[i] {
			alike[keyOfEvent(&newer[i])] = true
		}
	}
	for i := range base {
		if base[i].ID == "" && alike[keyOfEvent(&base[i])] {
			keepBase[i] = false
		}
	}

	out := make([]references.Event, 0, len(newer)+len(base))
	for i := range newer {
		if keepNewer[i] {
			out = append(out, newer[i])
		}
	}
	for i := range base {
		if keepBase[i] {
			out = append(out, base[i])
		}
	}
	slices.SortStableFunc(out, func(a, b references.Event) int { return a.Time.Compare(b.Time) })
	return out
}

// laterRevision reports whether a revision made at a is later than one made at b,
// both known.
func laterRevision(a, b time.Time) bool {
	return !a.IsZero() && !b.IsZero() && a.After(b)
}

// latestRevisions returns, for each milestone and classifier of the plans and
// estimates among the events kept, the latest RevisedAt (zero when none of them has
// one).
func latestRevisions(events []references.Event, keep []bool) map[revisionKey]time.Time {
	out := map[revisionKey]time.Time{}
	for i := range events {
		k, ok := revisionKeyOf(&events[i])
		if !ok || !keep[i] {
			continue
		}
		if at := events[i].RevisedAt; at.After(out[k]) {
			out[k] = at
		} else if _, seen := out[k]; !seen {
			out[k] = time.Time{}
		}
	}
	return out
}

// revisionKey is what a revised plan or estimate has in common with the one it
// replaces: the milestone and the classifier.
type revisionKey struct {
	milestone  milestoneKey
	classifier references.Classifier
}

// revisionKeyOf returns the revision key of a plan or an estimate; an actual event
// has none (ok false): it is a fact, not revised by another.
func revisionKeyOf(e *references.Event) (k revisionKey, ok bool) {
	if e.Classifier == references.ClassifierActual {
		return revisionKey{}, false
	}
	return revisionKey{keyOf(e), e.Classifier}, true
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
