package storetest

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runFeed exercises the FeedStore: the gapless feed of each reference and its snapshot.
func runFeed(t *testing.T, open Opener) {
	t.Run("ListUpdates", func(t *testing.T) {
		t.Run("SequencesAreGaplessFromOneAcrossPolls", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			other := f.create(acctA, nil)
			var made []references.Update
			for _, n := range []int{1, 3, 2} {
				types := slices.Repeat([]references.UpdateType{references.UpdateShipment}, n)
				made = append(made, f.appendUpdates(ref.ID, types...)...)
				f.appendUpdates(other.ID) // another feed in between
				f.clk.Advance(time.Minute)
			}
			got := f.updatesOf(acctA, ref.ID)
			if len(got) != 6 {
				t.Fatalf("feed of %d updates, want 6", len(got))
			}
			ids := map[string]bool{}
			for i, u := range got {
				if u.Sequence != uint64(i+1) || u.ReferenceID != ref.ID || u.ID == "" || ids[u.ID] {
					t.Errorf("update #%d: sequence %d, reference %s, id %q; want sequence %d of %s with a unique id", i+1, u.Sequence, u.ReferenceID, u.ID, i+1, ref.ID)
				}
				ids[u.ID] = true
				if u.ID != made[i].ID {
					t.Errorf("update #%d is %s, want %s (the order the polls appended them)", i+1, u.ID, made[i].ID)
				}
			}
			if r := f.get(acctA, ref.ID); r.LastSequence != 6 {
				t.Errorf("LastSequence = %d, want 6", r.LastSequence)
			}
		})

		t.Run("PagesAfterASequence", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			for range 5 {
				f.appendUpdates(ref.ID)
			}
			for _, tc := range []struct {
				after uint64
				limit int
				want  []uint64
			}{
				{0, 2, []uint64{1, 2}},
				{2, 2, []uint64{3, 4}},
				{4, 2, []uint64{5}},
				{5, 2, []uint64{}},
				{math.MaxUint64, 2, []uint64{}},
			} {
				got, err := f.b.ListUpdates(f.ctx, acctA, ref.ID, tc.after, tc.limit)
				if err != nil {
					t.Fatalf("ListUpdates(after %d): %v", tc.after, err)
				}
				if !slices.Equal(seqs(got), tc.want) {
					t.Errorf("ListUpdates(after %d, limit %d) = %v, want %v", tc.after, tc.limit, seqs(got), tc.want)
				}
			}
		})

		t.Run("UpdateCarriesWhatThePollGave", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			u := f.update(references.UpdateTrackingFailed)
			u.Error = "carrier answered 503"
			u.Shipment = &references.Shipment{Status: references.ShipmentInTransit}
			f.poll(ref.ID, references.PollResult{Updates: []references.Update{u}, Error: u.Error, ConsecutiveFailures: 1})
			got := f.updatesOf(acctA, ref.ID)
			if len(got) != 1 {
				t.Fatalf("feed of %d updates, want 1", len(got))
			}
			g := got[0]
			if g.ID != u.ID || g.Type != u.Type || g.Error != u.Error || !g.CreatedAt.Equal(u.CreatedAt) ||
				len(g.Changes) != 1 || g.Shipment == nil || g.Shipment.Status != references.ShipmentInTransit ||
				g.Reference.ID != ref.ID || g.Reference.ContainerID != ref.ContainerID {
				t.Errorf("stored update %+v, want the one recorded %+v with the reference's summary", g, u)
			}
		})

		t.Run("UnknownReferenceIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			if _, err := f.b.ListUpdates(f.ctx, acctA, "ref_nope", 0, 10); !errors.Is(err, references.ErrNotFound) {
				t.Fatalf("ListUpdates of an unknown reference: %v, want ErrNotFound", err)
			}
		})
	})

	t.Run("Shipment", func(t *testing.T) {
		t.Run("NilBeforeTheFirstSnapshotThenTheLastOne", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			if s, err := f.b.Shipment(f.ctx, ref.ID); err != nil || s != nil {
				t.Fatalf("Shipment before any poll = %v, %v; want nil, nil", s, err)
			}
			f.poll(ref.ID, references.PollResult{Shipment: &references.Shipment{Status: references.ShipmentBooked}})
			f.poll(ref.ID, references.PollResult{Error: "timeout", ConsecutiveFailures: 1}) // no snapshot
			eta := Start.Add(72 * time.Hour)
			f.poll(ref.ID, references.PollResult{Shipment: &references.Shipment{Status: references.ShipmentInTransit, ETA: &eta}})
			s, err := f.b.Shipment(f.ctx, ref.ID)
			if err != nil || s == nil || s.Status != references.ShipmentInTransit || s.ETA == nil || !s.ETA.Equal(eta) {
				t.Fatalf("Shipment = %+v, %v; want the last snapshot (in transit, ETA %v)", s, err, eta)
			}
		})
	})
}
