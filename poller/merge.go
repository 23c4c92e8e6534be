package poller

import (
	"strings"

	"github.com/trackhook/trackhook/references"
)

// unionEvents returns the events a poll of a pushed reference records: those fetched,
// and those of the stored snapshot the fetch lacks, so that a GET that lags the
// carrier's pushes never takes back a pushed event. An event is matched by its id;
// the fetched version wins. A stored event without an id is kept unless the fetch has
// one alike (same type, classifier, code, time, place and container), which is as
// close as such an event can be matched.
func unionEvents(stored, fetched *references.Shipment) *references.Shipment {
	if stored == nil || len(stored.Events) == 0 {
		return fetched
	}
	if fetched == nil {
		fetched = &references.Shipment{}
	}
	ids := make(map[string]bool, len(fetched.Events))
	alike := map[eventKey]bool{}
	for i := range fetched.Events {
		e := &fetched.Events[i]
		if e.ID != "" {
			ids[e.ID] = true
		} else {
			alike[keyOfEvent(e)] = true
		}
	}
	out := &references.Shipment{Events: append([]references.Event(nil), fetched.Events...)}
	for i := range stored.Events {
		e := &stored.Events[i]
		switch {
		case e.ID != "" && ids[e.ID]:
		case e.ID == "" && alike[keyOfEvent(e)]:
		default:
			out.Events = append(out.Events, *e)
		}
	}
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
