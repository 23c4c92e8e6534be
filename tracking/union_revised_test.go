package tracking

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// TestUnionEvents_KeepsTheLaterRevision: where both sides say when the source
// revised an event (RevisedAt), the later revision stands whichever side it arrived
// on; where either does not, or both say the same time, the newer side's does, as
// before revision times were kept. T&T 2.2 revises an estimate under a new id (its
// eventCreatedDateTime), CT 3.0 under the same id (its eventUpdatedDateTime).
func TestUnionEvents_KeepsTheLaterRevision(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rev := func(hours int) time.Time {
		if hours == 0 {
			return time.Time{}
		}
		return at.Add(-72*time.Hour + time.Duration(hours)*time.Hour)
	}
	// est is an estimated arrival at minutes past at, revised at hours (0: not said).
	est := func(id string, minutes, hours int) references.Event {
		return references.Event{ID: id, Type: references.EventTransport, Classifier: references.ClassifierEstimated, Code: "ARRI",
			Time: at.Add(time.Duration(minutes) * time.Minute), RevisedAt: rev(hours), Location: &references.Location{UNLocode: "NLRTM"}}
	}
	act := func(id string, minutes, hours int) references.Event {
		e := est(id, minutes, hours)
		e.Classifier = references.ClassifierActual
		return e
	}
	tests := []struct {
		name        string
		base, newer []references.Event
		want        []string // id@minutes, in order
	}{
		// T&T 2.2: each revision under its own id.
		{"TNTOlderAfterNewer", []references.Event{est("e2", 30, 2)}, []references.Event{est("e1", 60, 1)}, []string{"e2@30"}},
		{"TNTNewerAfterOlder", []references.Event{est("e1", 60, 1)}, []references.Event{est("e2", 30, 2)}, []string{"e2@30"}},
		{"TNTEqualTimes", []references.Event{est("e1", 60, 1)}, []references.Event{est("e2", 30, 1)}, []string{"e2@30"}},
		{"TNTBaseTimeZero", []references.Event{est("e2", 30, 0)}, []references.Event{est("e1", 60, 1)}, []string{"e1@60"}},
		{"TNTNewerTimeZero", []references.Event{est("e2", 30, 2)}, []references.Event{est("e1", 60, 0)}, []string{"e1@60"}},
		{"TNTBothZero", []references.Event{est("e2", 30, 0)}, []references.Event{est("e1", 60, 0)}, []string{"e1@60"}},
		// A poll listing the older revision with the newer one keeps both, as before:
		// its latest revision is as late as base's.
		{"TNTPollListsBoth", []references.Event{est("e2", 30, 2)}, []references.Event{est("e1", 60, 1), est("e2", 30, 2)}, []string{"e2@30", "e1@60"}},
		// An actual event is a fact: no estimate's revision takes it away.
		{"TNTActualStays", []references.Event{act("a1", 50, 1), est("e2", 30, 3)}, []references.Event{est("e1", 60, 2)}, []string{"e2@30", "a1@50"}},

		// CT 3.0: one id, a new eventUpdatedDateTime.
		{"CTOlderAfterNewer", []references.Event{est("x", 30, 2)}, []references.Event{est("x", 60, 1)}, []string{"x@30"}},
		{"CTNewerAfterOlder", []references.Event{est("x", 60, 1)}, []references.Event{est("x", 30, 2)}, []string{"x@30"}},
		{"CTEqualTimes", []references.Event{est("x", 60, 1)}, []references.Event{est("x", 30, 1)}, []string{"x@30"}},
		{"CTBaseTimeZero", []references.Event{est("x", 30, 0)}, []references.Event{est("x", 60, 1)}, []string{"x@60"}},
		{"CTNewerTimeZero", []references.Event{est("x", 30, 2)}, []references.Event{est("x", 60, 0)}, []string{"x@60"}},
		{"CTActualOlderAfterNewer", []references.Event{act("x", 30, 2)}, []references.Event{act("x", 60, 1)}, []string{"x@30"}},
		{"CTActualNewerAfterOlder", []references.Event{act("x", 60, 1)}, []references.Event{act("x", 30, 2)}, []string{"x@30"}},
		// The estimate became actual under the same id, then a late estimate came.
		{"CTLateEstimateAfterActual", []references.Event{act("x", 40, 3)}, []references.Event{est("x", 60, 2)}, []string{"x@40"}},
		{"CTActualAfterEstimate", []references.Event{est("x", 60, 2)}, []references.Event{act("x", 40, 3)}, []string{"x@40"}},
		// Other events of either side are kept whatever the revisions.
		{"OthersKept", []references.Event{est("x", 30, 2), act("d", 0, 1)}, []references.Event{est("x", 60, 1), act("g", 10, 1)}, []string{"d@0", "g@10", "x@30"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base, newer := slices.Clone(tc.base), slices.Clone(tc.newer)
			var got []string
			for _, ev := range UnionEvents(tc.base, tc.newer) {
				got = append(got, ev.ID+"@"+strconv.Itoa(int(ev.Time.Sub(at)/time.Minute)))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("union = %v, want %v", got, tc.want)
			}
			if !slices.EqualFunc(base, tc.base, eventsEqual) || !slices.EqualFunc(newer, tc.newer, eventsEqual) {
				t.Fatal("the union modified its inputs")
			}
		})
	}
}

func eventsEqual(a, b references.Event) bool {
	return a.ID == b.ID && a.Time.Equal(b.Time) && a.RevisedAt.Equal(b.RevisedAt) && a.Classifier == b.Classifier
}

// TestDiff_ARevisionAloneIsNoChange: an event revised with the same content is not
// news, but RevisionsMoved tells the caller to store it all the same.
func TestDiff_ARevisionAloneIsNoChange(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := references.Event{ID: "x", Type: references.EventTransport, Classifier: references.ClassifierEstimated, Code: "ARRI",
		Time: at, Location: &references.Location{UNLocode: "NLRTM"}}
	revised := ev
	revised.RevisedAt = at.Add(-time.Hour)
	later := ev
	later.RevisedAt = at.Add(-time.Minute)
	snap := func(e references.Event) *references.Shipment {
		return Derive(&references.Shipment{Events: []references.Event{e}})
	}
	tests := []struct {
		name     string
		old, cur references.Event
		moved    bool
	}{
		{"SameRevision", revised, revised, false},
		{"NoneThenOne", ev, revised, true},
		{"EarlierThenLater", revised, later, true},
		{"NeitherSays", ev, ev, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, cur := snap(tc.old), snap(tc.cur)
			if changes := Diff(old, cur); len(changes) != 0 {
				t.Errorf("Diff reports %+v", changes)
			}
			if got := RevisionsMoved(old, cur); got != tc.moved {
				t.Errorf("RevisionsMoved = %v, want %v", got, tc.moved)
			}
		})
	}
	if RevisionsMoved(nil, nil) || !RevisionsMoved(nil, snap(ev)) {
		t.Error("RevisionsMoved does not read nil as an empty snapshot")
	}
}

// revisedEvents decodes a fuzzer's bytes into events as events does, each with a
// revision time from a third byte (0 for none).
func revisedEvents(b []byte) []references.Event {
	base := time.Date(2025, 2, 10, 0, 0, 0, 0, time.UTC)
	var out []references.Event
	for i := 0; i+2 < len(b) && len(out) < 64; i += 3 {
		e := events(b[i : i+2])[0]
		if r := b[i+2] % 6; r != 0 {
			e.RevisedAt = base.Add(-time.Duration(r) * time.Minute)
		}
		out = append(out, e)
	}
	return out
}

// FuzzUnionEvents_Revisions: with revision times, the union still holds each id
// once, sorted, in the later revision where both sides date it (else newer's), loses
// no actual event, and changes nothing when the same events come again.
func FuzzUnionEvents_Revisions(f *testing.F) {
	f.Add([]byte{1, 0, 2, 10, 1, 3}, []byte{9, 0, 1, 2, 3, 4})
	f.Add([]byte{9, 1, 5}, []byte{9, 2, 4})
	f.Fuzz(func(t *testing.T, baseBytes, newerBytes []byte) {
		base, newer := uniqueIDs(revisedEvents(baseBytes)), uniqueIDs(revisedEvents(newerBytes))
		got := UnionEvents(base, newer)
		if !slices.IsSortedFunc(got, func(a, b references.Event) int { return a.Time.Compare(b.Time) }) {
			t.Fatal("not sorted by time")
		}
		byID := map[string]references.Event{}
		for _, e := range got {
			if _, twice := byID[e.ID]; e.ID != "" && twice {
				t.Fatalf("id %s twice", e.ID)
			}
			byID[e.ID] = e
		}
		// Each id stands in the version the later revision, else newer, gives it,
		// unless that is a plan or an estimate revised by another of its milestone.
		winner := map[string]references.Event{}
		for _, e := range newer {
			winner[e.ID] = e
		}
		for _, b := range base {
			if n, ok := winner[b.ID]; !ok || laterRevision(b.RevisedAt, n.RevisedAt) {
				winner[b.ID] = b
			}
		}
		for id, want := range winner {
			g, ok := byID[id]
			switch {
			case id == "":
			case ok && (!sameEvent(g, want) || !g.RevisedAt.Equal(want.RevisedAt)):
				t.Fatalf("id %s: got %+v, want %+v", id, g, want)
			case !ok && want.Classifier == references.ClassifierActual:
				t.Fatalf("actual event %+v lost", want)
			}
		}
		if again := UnionEvents(got, newer); !slices.EqualFunc(again, got, sameEvent) {
			t.Fatalf("the same events again changed the union:\n%+v\n%+v", got, again)
		}
	})
}
