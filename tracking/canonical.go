package tracking

import (
	"strings"

	"github.com/trackhook/trackhook/references"
)

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
