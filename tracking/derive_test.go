package tracking

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

func TestDerive_StatusFollowsTheActualEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events []eventBuilder
		want   references.ShipmentStatus
	}{
		{"nothing reported", nil, references.ShipmentUnknown},
		{"only plans", transshippedVoyage(0), references.ShipmentBooked},
		{"booking confirmed", []eventBuilder{mkEvent("CONF", clsACT, 0).kind(references.EventShipment)}, references.ShipmentBooked},
		{"empty container picked up", transshippedVoyage(1), references.ShipmentBooked},
		{"stuffed", transshippedVoyage(2), references.ShipmentAtOrigin},
		{"gated in", transshippedVoyage(3), references.ShipmentAtOrigin},
		{"loaded at origin", transshippedVoyage(4), references.ShipmentAtOrigin},
		{"departed", transshippedVoyage(5), references.ShipmentInTransit},
		{"arrived at the hub", transshippedVoyage(6), references.ShipmentInTransit},
		{"discharged at the hub", transshippedVoyage(7), references.ShipmentTransshipment},
		{"loaded at the hub", transshippedVoyage(8), references.ShipmentTransshipment},
		{"departed the hub", transshippedVoyage(9), references.ShipmentInTransit},
		{"arrived", transshippedVoyage(10), references.ShipmentArrived},
		{"discharged", transshippedVoyage(11), references.ShipmentArrived},
		{"gated out full", transshippedVoyage(12), references.ShipmentDelivered},
		{"stripped", transshippedVoyage(13), references.ShipmentDelivered},
		{"empty returned", transshippedVoyage(14), references.ShipmentEmptyReturned},
		{
			"an empty gate-in before the trip is not the return",
			[]eventBuilder{mkEvent("GTIN", clsACT, -100).at("CNSHA").empty(), mkEvent("LOAD", clsEST, 40).at("CNSHA"), mkEvent("ARRI", clsEST, 700).at("NLRTM")},
			references.ShipmentBooked,
		},
		{
			"a late-reported gate-in does not take the status back",
			append(transshippedVoyage(5), mkEvent("GTIN", clsACT, 60).at("CNSHA").laden().id("late")),
			references.ShipmentInTransit,
		},
		{
			"a load without location before departure is at the origin",
			[]eventBuilder{mkEvent("LOAD", clsACT, 40), mkEvent("ARRI", clsEST, 700).at("NLRTM")},
			references.ShipmentAtOrigin,
		},
		{
			"an estimated arrival is not an arrival",
			append(transshippedVoyage(9), mkEvent("ARRI", clsEST, 10).at("NLRTM").id("early-estimate")),
			references.ShipmentInTransit,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Derive(mkShipment(tt.events...)).Status; got != tt.want {
				t.Errorf("status = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDerive_Fields(t *testing.T) {
	t.Parallel()
	at := func(h int) *time.Time { v := evTime0.Add(time.Duration(h) * time.Hour); return &v }
	tests := []struct {
		name                string
		events              []eventBuilder
		origin, dest, where string
		vessel              string // IMO
		eta                 *time.Time
	}{
		{name: "nothing reported"},
		{
			name:   "before departure the vessel is the next planned one",
			events: transshippedVoyage(3),
			origin: "CNSHA", dest: "NLRTM", where: "CNSHA", vessel: "9815903", eta: at(700),
		},
		{
			name:   "at the hub the vessel is still the one that brought the container",
			events: transshippedVoyage(7),
			origin: "CNSHA", dest: "NLRTM", where: "SGSIN", vessel: "9815903", eta: at(700),
		},
		{
			name:   "loaded on the second vessel",
			events: transshippedVoyage(8),
			origin: "CNSHA", dest: "NLRTM", where: "SGSIN", vessel: "9526019", eta: at(700),
		},
		{
			name:   "the actual arrival is the ETA, not a later estimate",
			events: append(transshippedVoyage(10), mkEvent("ARRI", clsEST, 720).at("NLRTM").on("NORDIC AURORA", "9526019", "051W").id("stale")),
			origin: "CNSHA", dest: "NLRTM", where: "NLRTM", vessel: "9526019", eta: at(700),
		},
		{
			name: "an estimate beats a plan",
			events: []eventBuilder{
				mkEvent("LOAD", clsPLN, 40).at("CNSHA").on("A", "1", "1W"),
				mkEvent("ARRI", clsPLN, 700).at("NLRTM").on("A", "1", "1W"),
				mkEvent("ARRI", clsEST, 690).at("NLRTM").on("A", "1", "1W").id("clsEST"),
			},
			origin: "CNSHA", dest: "NLRTM", vessel: "1", eta: at(690),
		},
		{
			name: "without arrivals the discharge gives the ETA",
			events: []eventBuilder{
				mkEvent("LOAD", clsACT, 40).at("CNSHA").on("A", "1", "1W"),
				mkEvent("DISC", clsEST, 710).at("NLRTM").on("A", "1", "1W"),
			},
			origin: "CNSHA", dest: "NLRTM", where: "CNSHA", vessel: "1", eta: at(710),
		},
		{
			name: "a truck is not a vessel",
			events: []eventBuilder{
				mkEvent("LOAD", clsACT, 40).at("CNSHA").on("A", "1", "1W"),
				mkEvent("DEPA", clsACT, 50).at("CNSHA").on("A", "1", "1W"),
				mkEvent("ARRI", clsACT, 700).at("NLRTM").on("A", "1", "1W"),
				func() eventBuilder {
					b := mkEvent("DEPA", clsACT, 720).at("NLRTM").on("", "", "TRK1")
					b.TransportCall.ModeOfTransport = "TRUCK"
					return b
				}(),
			},
			origin: "CNSHA", dest: "NLRTM", where: "NLRTM", vessel: "1", eta: at(700),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := Derive(mkShipment(tt.events...))
			if got := LocationKey(d.Origin); got != tt.origin {
				t.Errorf("origin = %q, want %q", got, tt.origin)
			}
			if got := LocationKey(d.Destination); got != tt.dest {
				t.Errorf("destination = %q, want %q", got, tt.dest)
			}
			if got := LocationKey(d.CurrentLocation); got != tt.where {
				t.Errorf("current location = %q, want %q", got, tt.where)
			}
			if got := vesselKey(d.CurrentVessel); got != tt.vessel {
				t.Errorf("current vessel = %q, want %q", got, tt.vessel)
			}
			if !sameInstant(d.ETA, tt.eta) {
				t.Errorf("ETA = %v, want %v", d.ETA, tt.eta)
			}
		})
	}
}

func TestDerive_SortsIntoCanonicalOrder(t *testing.T) {
	t.Parallel()
	s := mkShipment(
		mkEvent("DEPA", clsEST, 50).at("CNSHA").id("b"),
		mkEvent("LOAD", clsACT, 40).at("CNSHA").id("z"),
		mkEvent("DEPA", clsEST, 50).at("CNSHA").id("a"),
		mkEvent("ARRI", clsEST, 50).at("SGSIN"),
	)
	d := Derive(s)
	var got []string
	for _, e := range d.Events {
		got = append(got, e.ID)
	}
	want := []string{"z", "ARRI-EST-SGSIN", "a", "b"} // time; then code ARRI < DEPA; then id
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func TestDerive_IgnoresSourceOrderAndTimeZones(t *testing.T) {
	t.Parallel()
	base := mkShipment(append(transshippedVoyage(7), mkEvent("CONF", clsACT, -20).kind(references.EventShipment))...)
	want := Derive(base)
	rng := rand.New(rand.NewPCG(1, 2))
	shanghai := time.FixedZone("CST", 8*3600)
	for i := range 20 {
		s := mkShipment(append(transshippedVoyage(7), mkEvent("CONF", clsACT, -20).kind(references.EventShipment))...)
		rng.Shuffle(len(s.Events), func(a, b int) { s.Events[a], s.Events[b] = s.Events[b], s.Events[a] })
		if i%2 == 1 {
			for j := range s.Events {
				s.Events[j].Time = s.Events[j].Time.In(shanghai)
			}
		}
		if got := Derive(s); !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffle %d derived differently:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

func TestDerive_LeavesItsInputAlone(t *testing.T) {
	t.Parallel()
	s := mkShipment(transshippedVoyage(6)...)
	s.Events[0], s.Events[5] = s.Events[5], s.Events[0]
	before, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	d := Derive(s)
	d.Events[0].Location.UNLocode = "XXXXX"
	d.Events[0].TransportCall = nil
	d.CurrentLocation.Name = "changed"
	after, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("Derive or its result changed the input:\nbefore %s\nafter  %s", before, after)
	}
}

func TestDerive_OfDerivedIsTheSame(t *testing.T) {
	t.Parallel()
	for n := range 15 {
		d := Derive(mkShipment(transshippedVoyage(n)...))
		if again := Derive(d); !reflect.DeepEqual(again, d) {
			t.Errorf("%d events happened: Derive(Derive(x)) != Derive(x)", n)
		}
	}
	if d := Derive(nil); d.Status != references.ShipmentUnknown || d.Events == nil {
		t.Errorf("Derive(nil) = %+v, want unknown status and empty events", d)
	}
}

func TestMostDefinite(t *testing.T) {
	rtm := &references.Location{UNLocode: "nlrtm", Name: "Rotterdam"}
	events := mkShipment(
		mkEvent("ARRI", clsPLN, 690).at("NLRTM").id("arri-pln-late"),
		mkEvent("ARRI", clsEST, 700).at("NLRTM").id("arri-est"),
		mkEvent("ARRI", clsEST, 705).at("NLRTM").id("arri-est-later"),
		mkEvent("ARRI", clsACT, 650).at("SGSIN").id("arri-act-sin"),
		mkEvent("ARRI", clsEST, 660).at("SGSIN").id("arri-est-sin-later"),
		mkEvent("DISC", clsACT, 710).at("NLRTM").id("disc-act"),
		mkEvent("DEPA", clsACT, 50).id("depa-nowhere"),
	).Events
	tests := []struct {
		name  string
		loc   *references.Location
		codes []string
		want  string // event id, "" for none
	}{
		{"estimated over planned, the latest of equals, only at the place", rtm, []string{"ARRI", "DISC"}, "arri-est-later"},
		{"actual over a later estimate", &references.Location{UNLocode: "SGSIN"}, []string{"ARRI"}, "arri-act-sin"},
		{"the first code that has any", rtm, []string{"DISC", "ARRI"}, "disc-act"},
		{"codes without events are passed over", rtm, []string{"GTOT", "disc"}, "disc-act"},
		{"none", rtm, []string{"DEPA"}, ""},
		{"an event without a location is at no place", &references.Location{}, []string{"DEPA"}, ""},
		{"nil location", nil, []string{"ARRI"}, ""},
	}
	for _, tt := range tests {
		var got string
		if e := MostDefinite(events, tt.loc, tt.codes...); e != nil {
			got = e.ID
		}
		if got != tt.want {
			t.Errorf("%s: MostDefinite = %q, want %q", tt.name, got, tt.want)
		}
	}
}
