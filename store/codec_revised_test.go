package store

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// TestCodec_RevisedAtIsOptionalAtTheEndOfAnEvent: an event's RevisedAt, added after
// format 2, is said by a bit of the byte that told whether a Location follows and
// written at the end of the event only when set, so an event without one is stored
// byte for byte as before (in format 1 or 2; TestCodec_ReencodesAV1StoreFileByteForByte
// checks stored values), and one with it reads back in either format, in the
// snapshot, a container's milestones and a change.
func TestCodec_RevisedAtIsOptionalAtTheEndOfAnEvent(t *testing.T) {
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	revised := time.Date(2026, 3, 1, 17, 30, 0, 5, time.FixedZone("", 3600))
	event := func(iso string, rev time.Time) references.Event {
		return references.Event{
			ID: "e1", Type: references.EventTransport, Classifier: references.ClassifierEstimated, Code: "ARRI", Time: at,
			RevisedAt: rev, Location: &references.Location{UNLocode: "NLRTM"}, EquipmentReference: "MSCU1234566", ISOEquipmentCode: iso,
		}
	}
	for _, iso := range []string{"", "45G1"} { // format 1, format 2
		plain := &references.Shipment{Events: []references.Event{event(iso, time.Time{})}, Status: references.ShipmentBooked}
		withRev := &references.Shipment{Events: []references.Event{event(iso, revised)}, Status: references.ShipmentBooked}
		a, b := encodeShipment(plain), encodeShipment(withRev)
		if a[0] != b[0] {
			t.Errorf("iso %q: RevisedAt changed the format byte from %d to %d", iso, a[0], b[0])
		}
		var got references.Shipment
		if err := decodeShipment(b, &got); err != nil {
			t.Fatalf("iso %q: %v", iso, err)
		}
		if !got.Events[0].RevisedAt.Equal(revised) || got.Events[0].Location == nil || got.Events[0].ISOEquipmentCode != iso {
			t.Errorf("iso %q: read back %+v", iso, got.Events[0])
		}
		if err := decodeShipment(a, &got); err != nil || !got.Events[0].RevisedAt.IsZero() {
			t.Errorf("iso %q: unrevised event read back with RevisedAt %v, %v", iso, got.Events[0].RevisedAt, err)
		}
	}

	// A container milestone that differs from the snapshot's event only by its
	// RevisedAt is written in full, not as a reference to that event.
	s := &references.Shipment{Events: []references.Event{event("45G1", time.Time{})}}
	s.Containers = []references.Container{{Number: "MSCU1234566", Milestones: []references.Event{event("45G1", revised)}}}
	u := &references.Update{ID: "u1", Changes: []references.Change{{Type: "eta_changed", Event: &s.Containers[0].Milestones[0]}}, Shipment: s}
	var back references.Update
	if err := decodeUpdate(encodeUpdate(u), &back); err != nil {
		t.Fatal(err)
	}
	if !back.Shipment.Events[0].RevisedAt.IsZero() || !back.Shipment.Containers[0].Milestones[0].RevisedAt.Equal(revised) || !back.Changes[0].Event.RevisedAt.Equal(revised) {
		t.Errorf("read back events %+v, milestones %+v, change %+v", back.Shipment.Events, back.Shipment.Containers[0].Milestones, back.Changes[0].Event)
	}
}

// TestCodec_UnknownEventFlagsAreCorrupt: a flags byte with a bit this version does not
// know is a damaged value, not a Location.
func TestCodec_UnknownEventFlagsAreCorrupt(t *testing.T) {
	s := &references.Shipment{Events: []references.Event{{ID: "e", Time: time.Unix(0, 0).UTC()}}}
	data := encodeShipment(s)
	// format byte, events length, ID "e" (2 bytes), 3 empty strings, a time of 3 bytes.
	i := 1 + 1 + 2 + 3 + 3
	if data[i] != 0 {
		t.Fatalf("byte %d of %x is %d, want the flags byte 0", i, data, data[i])
	}
	bad := bytes.Clone(data)
	bad[i] = 4
	var got references.Shipment
	if err := decodeShipment(bad, &got); !errors.Is(err, errCorrupt) {
		t.Errorf("flags 4: got %v, want errCorrupt", err)
	}
}
