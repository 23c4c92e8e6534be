package poller_test

import (
	"context"
	"testing"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

// TestPoller_DemoBillOfLadingEndsWithItsLastContainer polls a bill of lading of the
// demo carrier (three containers, the last held at the terminal) into the real store
// every six simulated hours: tracking goes on while some containers are returned and
// one is not, and ends, tracking_complete, at the poll that sees the last returned.
func TestPoller_DemoBillOfLadingEndsWithItsLastContainer(t *testing.T) {
	ctx := context.Background()
	b := newBundle(t)
	p := b.poller(t, poller.Options{Router: poller.Router{Default: demo.New(demo.Options{Clock: b.clock})}})
	svc := references.NewService(b.db, references.ServiceOptions{Now: b.clock.Now})
	// The demo draws a bill of lading's containers from its number: this one has three.
	ref, _, err := svc.Create(ctx, "acct", references.CreateRequest{BillOfLading: "MAEU240000013", CarrierCode: "MAEU"}, "")
	if err != nil {
		t.Fatal(err)
	}

	partly := 0 // polls that saw some containers returned and not all
	for range 4 * 120 {
		if err := p.PollOne(ctx, ref.ID); err != nil {
			t.Fatal(err)
		}
		got, err := b.db.Reference(ctx, ref.ID)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := b.db.Shipment(ctx, ref.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(sh.Containers) != 3 {
			t.Fatalf("%d containers, want the 3 the demo gives MAEU240000013", len(sh.Containers))
		}
		returned := 0
		for _, c := range sh.Containers {
			if c.Status == references.ShipmentEmptyReturned {
				returned++
			}
		}
		if !got.Active() {
			if got.UnsubscribeReason != references.ReasonTrackingComplete || returned != 3 {
				t.Fatalf("unsubscribed (%s) with %d of 3 containers returned", got.UnsubscribeReason, returned)
			}
			if partly == 0 {
				t.Fatal("the three containers were returned at the same poll: the test proves nothing")
			}
			return
		}
		if returned > 0 {
			partly++
		}
		b.clock.Advance(6 * time.Hour)
	}
	t.Fatal("still tracked after 120 simulated days")
}
