package dcsa

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// TestPoller_BillOfLadingOfThreeContainersEndsWhenAllAreReturned polls the fake
// carrier's bill of lading of three containers through the poller into a real store,
// on an injected clock: each poll sees what happened by then. Two containers returned
// empty while the third is held at the terminal do not end tracking; the third's
// return does, with reason tracking_complete.
func TestPoller_BillOfLadingOfThreeContainersEndsWhenAllAreReturned(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2024, 2, 28, 0, 0, 0, 0, time.UTC))
	f := newFakeDCSA(t)
	f.asOf = clk.Now
	client, err := New("MAEU", Config{BaseURL: f.baseURL()}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "trackhook.db"), store.Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := references.NewService(db, references.ServiceOptions{Now: clk.Now})
	ref, _, err := svc.Create(ctx, "acct", references.CreateRequest{BillOfLading: fixtureBL3, CarrierCode: "MAEU"}, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := poller.New(db, poller.Options{Router: poller.Router{Default: client}, Clock: clk, Rand: func() float64 { return 0.5 }})
	if err != nil {
		t.Fatal(err)
	}

	const held = "MSKU5510738"
	steps := []struct {
		name     string
		at       time.Time
		statuses map[string]references.ShipmentStatus
		status   references.ShipmentStatus // the shipment's
		active   bool
	}{
		{
			"all three gated in at Shanghai", time.Date(2024, 3, 4, 12, 0, 0, 0, time.UTC),
			map[string]references.ShipmentStatus{"MSKU7261948": "at_origin", "MRKU2945078": "at_origin", held: "at_origin"}, "at_origin", true,
		},
		{
			"two returned empty, one held at the terminal", time.Date(2024, 4, 12, 0, 0, 0, 0, time.UTC),
			map[string]references.ShipmentStatus{"MSKU7261948": "empty_returned", "MRKU2945078": "empty_returned", held: "arrived"}, "arrived", true,
		},
		{
			"the third delivered", time.Date(2024, 4, 15, 0, 0, 0, 0, time.UTC),
			map[string]references.ShipmentStatus{"MSKU7261948": "empty_returned", "MRKU2945078": "empty_returned", held: "delivered"}, "delivered", true,
		},
		{
			"the third returned empty", time.Date(2024, 4, 17, 0, 0, 0, 0, time.UTC),
			map[string]references.ShipmentStatus{"MSKU7261948": "empty_returned", "MRKU2945078": "empty_returned", held: "empty_returned"}, "empty_returned", false,
		},
	}
	for _, st := range steps {
		clk.Set(st.at)
		if err := p.PollOne(ctx, ref.ID); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := db.Reference(ctx, ref.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Active() != st.active || got.LastPollError != "" {
			t.Fatalf("%s: status %s (%s), error %q; want active %v", st.name, got.Status, got.UnsubscribeReason, got.LastPollError, st.active)
		}
		sh, err := db.Shipment(ctx, ref.ID)
		if err != nil {
			t.Fatal(err)
		}
		if sh.Status != st.status || len(sh.Containers) != len(st.statuses) {
			t.Fatalf("%s: shipment %s with %d containers, want %s with %d", st.name, sh.Status, len(sh.Containers), st.status, len(st.statuses))
		}
		for _, c := range sh.Containers {
			if c.Status != st.statuses[c.Number] || c.ISOEquipmentCode == "" || len(c.Milestones) != 8 {
				t.Errorf("%s: container %s %s (%q, %d milestones), want %s, its size and type, 8 milestones", st.name, c.Number, c.Status, c.ISOEquipmentCode, len(c.Milestones), st.statuses[c.Number])
			}
		}
	}

	got, err := db.Reference(ctx, ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UnsubscribeReason != references.ReasonTrackingComplete {
		t.Fatalf("unsubscribed with reason %q, want tracking_complete", got.UnsubscribeReason)
	}
	ups, err := db.ListUpdates(ctx, "acct", ref.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ups); n != len(steps)+1 || ups[n-1].Type != references.UpdateUnsubscribed || ups[n-1].UnsubscribeReason != references.ReasonTrackingComplete {
		t.Fatalf("%d updates, the last %s %q; want one per poll and reference.unsubscribed (tracking_complete)", len(ups), ups[len(ups)-1].Type, ups[len(ups)-1].UnsubscribeReason)
	}
	named := false
	for _, c := range ups[len(ups)-2].Changes {
		if c.Type == references.ChangeStatusChanged && c.Container == held && c.New == string(references.ShipmentEmptyReturned) {
			named = true
		}
		if c.Container != "" && c.Container != held {
			t.Errorf("the last poll changed %s of %s, which was done", c.Type, c.Container)
		}
	}
	if !named {
		t.Errorf("the last shipment.updated does not say %s was returned: %+v", held, ups[len(ups)-2].Changes)
	}
}

// TestClient_ContainerReferenceKeepsItsOwnEvents: a server that answers an
// equipmentReference query with every container of the bill of lading gives a
// container reference its own events and those of the whole shipment only.
func TestClient_ContainerReferenceKeepsItsOwnEvents(t *testing.T) {
	c, f := setup(t, Config{})
	f.events = func(w http.ResponseWriter, r *http.Request) { f.serveFile(w, "bl_three_containers.json") }
	tests := []struct {
		container string
		want      int // its 8 moves, the vessel's departure and arrival, the bill of lading's issue
		err       error
	}{
		{"MRKU2945078", 11, nil},
		{"MSKU5510738", 11, nil},
		{"CSQU3054383", 0, references.ErrShipmentNotFound}, // not among them
	}
	for _, tt := range tests {
		got, err := c.Fetch(t.Context(), containerRef(tt.container))
		if !errors.Is(err, tt.err) {
			t.Fatalf("%s: error %v, want %v", tt.container, err, tt.err)
		}
		if err != nil {
			continue
		}
		if len(got.Events) != tt.want {
			t.Errorf("%s: %d events, want %d", tt.container, len(got.Events), tt.want)
		}
		for _, e := range got.Events {
			if e.EquipmentReference != "" && e.EquipmentReference != tt.container {
				t.Errorf("%s: an event of %s", tt.container, e.EquipmentReference)
			}
		}
	}
	// A bill of lading keeps them all.
	got, err := c.Fetch(t.Context(), references.Reference{ID: "ref_bl", BillOfLading: fixtureBL3, CarrierCode: "MAEU"})
	if err != nil || len(got.Events) != 27 {
		t.Fatalf("bill of lading: %v events, %v; want all 27", len(got.Events), err)
	}
}
