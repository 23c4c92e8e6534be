package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/trackhook/trackhook/references"
)

func TestDecodeDelivery_TellsTheKindsApart(t *testing.T) {
	t.Parallel()
	update, err := Encode(testUpdate())
	if err != nil {
		t.Fatal(err)
	}
	batch, err := EncodeBatch([]references.Update{testUpdate()})
	if err != nil {
		t.Fatal(err)
	}
	event, err := NewTestEvent("evt_1", "ep_1", testTime).Encode()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		body []byte
		kind string
	}{
		{"update", update, "update"},
		{"batch", batch, "batch"},
		{"operational event", event, "event"},
		{"an update type unknown to this version", []byte(`{"type":"shipment.eta_risk","timestamp":"2025-03-01T09:30:00Z","data":{"id":"upd_1"}}`), "update"},
		{"an operational type unknown to this version", []byte(`{"id":"evt_1","type":"endpoint.created","created_at":"2025-03-01T09:30:00Z","data":{}}`), "event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := DecodeDelivery(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if got := deliveryKind(d); got != tt.kind {
				t.Fatalf("DecodeDelivery gave a %s, want a %s: %+v", got, tt.kind, d)
			}
		})
	}
}

func TestDecodeDelivery_RefusesWhatIsNotADelivery(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"empty":                ``,
		"array":                `[]`,
		"null":                 `null`,
		"batch of nothing":     `{"type":"batch","data":[]}`,
		"event without a type": `{"id":"evt_1","created_at":"2025-03-01T09:30:00Z"}`,
		"update without data":  `{"type":"shipment.updated","timestamp":"2025-03-01T09:30:00Z"}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if d, err := DecodeDelivery([]byte(body)); !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("DecodeDelivery = %+v, %v; want ErrInvalidPayload", d, err)
			}
		})
	}
}

// deliveryKind names the one field set, or says that not exactly one is.
func deliveryKind(d *Delivery) string {
	var kinds []string
	if d.Update != nil {
		kinds = append(kinds, "update")
	}
	if d.Batch != nil {
		kinds = append(kinds, "batch")
	}
	if d.Event != nil {
		kinds = append(kinds, "event")
	}
	if len(kinds) != 1 {
		return fmt.Sprintf("delivery with %d kinds", len(kinds))
	}
	return kinds[0]
}

// FuzzDecodeDelivery must never panic, must set exactly one kind on success, and what
// it accepts must decode to the same kind and id once encoded again.
func FuzzDecodeDelivery(f *testing.F) {
	for _, e := range Catalogue() {
		f.Add([]byte(e.Example))
	}
	f.Add([]byte(`{"type":"batch","data":[{"id":"u"}]}`))
	f.Add([]byte(`{"id":null,"type":"x","created_at":"2025-03-01T09:30:00Z"}`))
	f.Add([]byte(`{"id":"e","type":"batch"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := DecodeDelivery(body)
		if err != nil {
			if d != nil || !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("DecodeDelivery returned %+v, %v", d, err)
			}
			return
		}
		kind := deliveryKind(d)
		var again []byte
		switch kind {
		case "update":
			again, err = json.Marshal(d.Update)
		case "batch":
			again, err = json.Marshal(d.Batch)
		case "event":
			again, err = json.Marshal(d.Event)
		default:
			t.Fatalf("DecodeDelivery set %s", kind)
		}
		if err != nil {
			t.Fatal(err)
		}
		d2, err := DecodeDelivery(again)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v\n%s", kind, err, again)
		}
		if k := deliveryKind(d2); k != kind {
			t.Fatalf("a %s came back as a %s", kind, k)
		}
	})
}
