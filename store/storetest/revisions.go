package storetest

import (
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runRevisions checks that a snapshot keeps when the source revised each event
// (references.Event.RevisedAt): a pushed revision is merged against it, so a
// backend that dropped it would let an older revision pushed late replace a newer
// one. A snapshot recorded without an update (a revision alone is not news) is the
// one read back.
func runRevisions(t *testing.T, open Opener) {
	t.Run("Revisions", func(t *testing.T) {
		t.Run("SnapshotKeepsEachEventsRevisionTime", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			event := func(id string, revised time.Time) references.Event {
				return references.Event{ID: id, Type: references.EventTransport, Classifier: references.ClassifierEstimated, Code: "ARRI",
					Time: Start.Add(72 * time.Hour), RevisedAt: revised, Location: &references.Location{UNLocode: "NLRTM"}}
			}
			for _, revised := range []time.Time{Start.Add(-time.Hour), Start.Add(-time.Minute)} {
				s := &references.Shipment{Status: references.ShipmentBooked, Events: []references.Event{event("est", revised), event("plain", time.Time{})}}
				f.poll(ref.ID, references.PollResult{Shipment: s})
				got, err := f.b.Shipment(f.ctx, ref.ID)
				if err != nil || got == nil || len(got.Events) != 2 {
					t.Fatalf("Shipment = %+v, %v", got, err)
				}
				if !got.Events[0].RevisedAt.Equal(revised) || !got.Events[1].RevisedAt.IsZero() {
					t.Errorf("revision times read back %v and %v, want %v and none", got.Events[0].RevisedAt, got.Events[1].RevisedAt, revised)
				}
			}
		})
	})
}
