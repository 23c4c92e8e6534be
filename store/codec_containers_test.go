package store

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// containerShipment is a snapshot of a bill of lading as Derive makes it: two
// containers whose milestones and last events are copies of its events, the vessel's
// departure shared by both.
func containerShipment() *references.Shipment {
	at := time.Date(2026, 3, 6, 18, 0, 0, 0, time.UTC)
	rtm := &references.Location{UNLocode: "NLRTM", Name: "Rotterdam"}
	vessel := &references.TransportCall{VesselName: "PACIFIC MERIDIAN", VesselIMO: "9815903", Voyage: "412W", ModeOfTransport: "VESSEL"}
	load := func(id, number string, h int) references.Event {
		return references.Event{
			ID: id, Type: references.EventEquipment, Classifier: references.ClassifierActual, Code: references.CodeLoad,
			Time: at.Add(time.Duration(h) * time.Hour), Location: rtm, TransportCall: vessel,
			EquipmentReference: number, ISOEquipmentCode: "45G1", EmptyIndicator: references.EmptyIndicatorLaden,
		}
	}
	events := []references.Event{
		load("evt-1", "MSCU1234566", -12),
		load("evt-2", "TRHU4716245", -11),
		{ID: "evt-3", Type: references.EventTransport, Classifier: references.ClassifierActual, Code: references.CodeDeparture, Time: at, Location: rtm, TransportCall: vessel},
		{ID: "evt-4", Type: references.EventEquipment, Classifier: references.ClassifierPlanned, Code: references.CodeDischarge, Time: at.Add(700 * time.Hour), EquipmentReference: "TRHU4716245"},
	}
	last := events[2]
	return &references.Shipment{
		Events: events, Status: references.ShipmentInTransit, CurrentLocation: rtm, CurrentVessel: vessel,
		Containers: []references.Container{
			{Number: "MSCU1234566", ISOEquipmentCode: "45G1", Status: references.ShipmentInTransit, CurrentLocation: rtm, LastEvent: &last, Milestones: []references.Event{events[0]}},
			{Number: "TRHU4716245", ISOEquipmentCode: "45G1", Status: references.ShipmentInTransit, CurrentLocation: rtm, LastEvent: &last, Milestones: []references.Event{events[1], events[3]}},
		},
	}
}

// TestCodec_ContainersNameTheirEvents: a container's milestones and last event are
// written as indexes into the snapshot's events, so containers add a few bytes, not a
// second copy of the events; they read back as they were.
func TestCodec_ContainersNameTheirEvents(t *testing.T) {
	s := containerShipment()
	data := encodeShipment(s)
	if data[0] != formatBinary2 {
		t.Fatalf("format %d, want 2", data[0])
	}
	var back references.Shipment
	if err := decodeShipment(data, &back); err != nil {
		t.Fatal(err)
	}
	if got, want := asJSON(t, &back), viaJSON(t, s); !bytes.Equal(got, want) {
		t.Fatalf("read back:\n got %s\nwant %s", got, want)
	}
	// Each event of a container is one byte more than a container without events.
	bare := *s
	bare.Containers = nil
	refs := 0
	for _, c := range s.Containers {
		refs += len(c.Milestones) + 1 // and the last event
		c.LastEvent, c.Milestones = nil, []references.Event{}
		bare.Containers = append(bare.Containers, c)
	}
	if got, want := len(data)-len(encodeShipment(&bare)), refs; got != want {
		t.Errorf("the containers' events take %d bytes, want %d: one index each", got, want)
	}

	// A milestone that is not among the events is written in full.
	s.Containers[0].Milestones = append(s.Containers[0].Milestones, references.Event{ID: "evt-elsewhere", Code: "GTOT", Time: time.Unix(1e9, 0).UTC()})
	s.Containers[1].Milestones[0].Description = "changed after it was copied"
	data = encodeShipment(s)
	back = references.Shipment{}
	if err := decodeShipment(data, &back); err != nil {
		t.Fatal(err)
	}
	if got, want := asJSON(t, &back), viaJSON(t, s); !bytes.Equal(got, want) {
		t.Fatalf("with events not among the snapshot's:\n got %s\nwant %s", got, want)
	}
}

// TestCodec_Format1UnlessContainerFields: values without the fields that came with
// containers are written in format 1 as before; values of format 1 read with them
// empty; an update whose changes name containers is written in format 2 even when its
// snapshot was encoded in format 1 already.
func TestCodec_Format1UnlessContainerFields(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	u := &references.Update{}
	fill(rng, reflect.ValueOf(u).Elem())
	clearContainerFields(u)
	if f := encodeUpdate(u)[0]; f != formatBinary1 {
		t.Errorf("an update without container fields in format %d", f)
	}
	if f := encodeShipment(u.Shipment)[0]; f != formatBinary1 {
		t.Errorf("a snapshot without container fields in format %d", f)
	}

	var back references.Update
	if err := decodeUpdate(encodeUpdate(u), &back); err != nil {
		t.Fatal(err)
	}
	if back.Shipment.Containers != nil || back.Changes[0].Container != "" || back.Shipment.Events[0].ISOEquipmentCode != "" {
		t.Errorf("format 1 read with container fields: %+v", back)
	}

	shipment := encodeShipment(u.Shipment) // format 1
	u.Changes[0].Container = "MSCU1234566"
	data := encodeUpdateWith(u, shipment)
	if data[0] != formatBinary2 {
		t.Fatalf("an update with a change's container in format %d", data[0])
	}
	back = references.Update{}
	if err := decodeUpdate(data, &back); err != nil {
		t.Fatal(err)
	}
	if got, want := asJSON(t, &back), viaJSON(t, u); !bytes.Equal(got, want) {
		t.Fatalf("read back:\n got %s\nwant %s", got, want)
	}
}

func clearContainerFields(u *references.Update) {
	for i := range u.Changes {
		u.Changes[i].Container = ""
		if u.Changes[i].Event != nil {
			u.Changes[i].Event.ISOEquipmentCode = ""
		}
	}
	u.Shipment.Containers = nil
	for i := range u.Shipment.Events {
		u.Shipment.Events[i].ISOEquipmentCode = ""
	}
}

func TestCodec_BadEventIndexIsCorrupt(t *testing.T) {
	s := containerShipment()
	s.Events = s.Events[:3]
	s.Containers[1].Milestones = s.Containers[1].Milestones[:1] // evt-2, index 2
	data := encodeShipment(s)
	i := bytes.LastIndexByte(data, 2) // the index of evt-2 plus one, the last byte
	if i != len(data)-1 {
		t.Fatalf("the value does not end with the milestone's index: %x", data)
	}
	data[i] = 9
	var back references.Shipment
	if err := decodeShipment(data, &back); !errors.Is(err, errCorrupt) {
		t.Fatalf("an index beyond the events: got %v, want errCorrupt", err)
	}
}
