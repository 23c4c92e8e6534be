package tracking

import (
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// events decodes a fuzzer's bytes into events: each pair of bytes is an id (0 for
// none) and a time, so that ids and times repeat often.
func events(b []byte) []references.Event {
	base := time.Date(2025, 2, 10, 0, 0, 0, 0, time.UTC)
	var out []references.Event
	for i := 0; i+1 < len(b) && len(out) < 64; i += 2 {
		e := references.Event{Type: references.EventType("EQUIPMENT"), Code: "GTIN", Time: base.Add(time.Duration(b[i+1]%8) * time.Hour)}
		if id := b[i] % 8; id != 0 {
			e.ID = string(rune('a' + id))
		}
		e.Description = string(rune('A' + b[i+1]%3)) // a new version of an id may tell it otherwise
		e.Classifier = []references.Classifier{references.ClassifierActual, references.ClassifierEstimated}[b[i]/8%2]
		out = append(out, e)
	}
	return out
}

// FuzzUnionEvents: merging a notification (newer) into a snapshot (base) keeps every
// stored event whose id it does not bring and that it does not revise (an estimate of
// the same milestone), takes the pushed version of each id it brings, holds each id once
// (when the stored snapshot did), is sorted by time, and changes nothing when the same
// notification comes again.
func FuzzUnionEvents(f *testing.F) {
	f.Add([]byte{1, 0, 2, 1}, []byte{2, 3, 3, 2})
	f.Add([]byte{0, 1, 0, 1}, []byte{0, 1, 0, 2})
	f.Add([]byte{}, []byte{1, 1, 1, 2})
	f.Add([]byte{1, 7, 2, 6, 3, 5}, []byte{})
	f.Fuzz(func(t *testing.T, storedBytes, pushedBytes []byte) {
		stored, pushed := events(storedBytes), events(pushedBytes)
		// A parsed notification holds each id once (dcsa.ParseNotification), and so
		// does a snapshot.
		stored = uniqueIDs(stored)
		pushed = uniqueIDs(pushed)
		storedCopy := slices.Clone(stored)
		got := UnionEvents(stored, pushed)
		if !slices.EqualFunc(stored, storedCopy, sameEvent) {
			t.Fatal("the stored events were modified")
		}
		if !slices.IsSortedFunc(got, func(a, b references.Event) int { return a.Time.Compare(b.Time) }) {
			t.Fatal("not sorted by time")
		}
		seen := map[string]bool{}
		for _, e := range got {
			if e.ID != "" && seen[e.ID] {
				t.Fatalf("id %s twice", e.ID)
			}
			seen[e.ID] = true
		}
		for _, p := range pushed {
			if !slices.ContainsFunc(got, func(e references.Event) bool { return sameEvent(e, p) }) {
				t.Fatalf("pushed event %+v missing", p)
			}
		}
		for _, s := range stored {
			brought := s.ID != "" && slices.ContainsFunc(pushed, func(p references.Event) bool { return p.ID == s.ID })
			revised := s.Classifier != references.ClassifierActual && slices.ContainsFunc(pushed, func(p references.Event) bool {
				return p.Classifier == s.Classifier && keyOf(&p) == keyOf(&s)
			})
			// An event without an id is matched by what keyOfEvent reads, not by every
			// field: one that newer tells otherwise (another description) is newer's.
			alike := s.ID == "" && slices.ContainsFunc(pushed, func(p references.Event) bool { return p.ID == "" && keyOfEvent(&p) == keyOfEvent(&s) })
			if !brought && !revised && !alike && !slices.ContainsFunc(got, func(e references.Event) bool { return sameEvent(e, s) }) {
				t.Fatalf("stored event %+v lost", s)
			}
		}
		if again := UnionEvents(got, pushed); !slices.EqualFunc(again, got, sameEvent) {
			t.Fatalf("the same notification again changed the snapshot:\n%+v\n%+v", got, again)
		}
	})
}

func uniqueIDs(in []references.Event) []references.Event {
	seen := map[string]bool{}
	return slices.DeleteFunc(in, func(e references.Event) bool {
		if e.ID == "" {
			return false
		}
		dup := seen[e.ID]
		seen[e.ID] = true
		return dup
	})
}

// sameEvent reports whether a and b tell the same fact alike.
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
