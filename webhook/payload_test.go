package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/webhook")

// testUpdate is a shipment.updated update as the poller would produce it.
func testUpdate() references.Update {
	eta := time.Date(2025, 3, 14, 6, 0, 0, 0, time.UTC)
	dep := references.Event{
		ID:         "evt_9f2c",
		Type:       references.EventTransport,
		Classifier: references.ClassifierActual,
		Code:       references.CodeDeparture,
		Time:       time.Date(2025, 3, 1, 8, 55, 0, 0, time.UTC),
		Location:   &references.Location{UNLocode: "NLRTM", Name: "Rotterdam"},
		TransportCall: &references.TransportCall{
			VesselName: "MAERSK ESSEN", VesselIMO: "9456769", Voyage: "512W", ModeOfTransport: "VESSEL",
		},
	}
	return references.Update{
		ID:          "upd_2KWPBgLlAfxdpx2AI54pPJ85f4W",
		ReferenceID: "ref_01HQ3M",
		Sequence:    3,
		Type:        references.UpdateShipment,
		// A non-UTC zone: the payload timestamp is written in UTC whatever the store kept.
		CreatedAt: time.Date(2025, 3, 1, 10, 30, 0, 0, time.FixedZone("CET", 3600)),
		Reference: references.ReferenceSummary{
			ID: "ref_01HQ3M", ContainerID: "MSKU1234565", CarrierCode: "MAEU",
			Metadata: map[string]string{"order": "PO-4471"},
		},
		Changes: []references.Change{{
			Type:        references.ChangeEventAdded,
			Description: "Departed Rotterdam on MAERSK ESSEN voyage 512W",
			New:         "2025-03-01T08:55:00Z",
			Event:       &dep,
		}},
		Shipment: &references.Shipment{
			Events:      []references.Event{dep},
			Status:      references.ShipmentInTransit,
			Origin:      &references.Location{UNLocode: "NLRTM", Name: "Rotterdam"},
			Destination: &references.Location{UNLocode: "USNYC", Name: "New York"},
			ETA:         &eta,
		},
	}
}

func TestEncode_MatchesGoldenFile(t *testing.T) {
	t.Parallel()
	got, err := Encode(testUpdate())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("..", "testdata", "webhook", "payload_shipment_updated.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
		t.Fatalf("Encode differs from %s (rerun with -update if intended):\n got: %s\nwant: %s", golden, got, want)
	}
}

func TestEncodeDecode_RoundTrip(t *testing.T) {
	t.Parallel()
	u := testUpdate()
	body, err := Encode(u)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != references.UpdateShipment {
		t.Errorf("Type = %q, want %q", p.Type, references.UpdateShipment)
	}
	if !p.Timestamp.Equal(u.CreatedAt) || p.Timestamp.Location() != time.UTC {
		t.Errorf("Timestamp = %v, want %v in UTC", p.Timestamp, u.CreatedAt)
	}
	// Times come back in UTC; compare them as instants, then the rest field by field.
	if !p.Data.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("Data.CreatedAt = %v, want %v", p.Data.CreatedAt, u.CreatedAt)
	}
	p.Data.CreatedAt = u.CreatedAt
	if got := p.Data.Domain(); !reflect.DeepEqual(got, u) {
		t.Errorf("Data after the round trip:\n got: %+v\nwant: %+v", got, u)
	}
}

func TestDecode_IgnoresUnknownFields(t *testing.T) {
	t.Parallel()
	p, err := Decode([]byte(`{"type":"shipment.eta_risk","timestamp":"2025-03-01T09:30:00Z","version":2,"data":{"id":"upd_1","future":{"x":1}}}`))
	if err != nil {
		t.Fatalf("Decode() = %v", err)
	}
	if p.Type != "shipment.eta_risk" || p.Data.ID != "upd_1" {
		t.Fatalf("Decode() = %+v", p)
	}
}

func TestDecode_RefusesWhatIsNotAPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
	}{
		{name: "empty", body: ``},
		{name: "not JSON", body: `type=shipment.updated`},
		{name: "array", body: `[{"type":"shipment.updated"}]`},
		{name: "null", body: `null`},
		{name: "no type", body: `{"timestamp":"2025-03-01T09:30:00Z","data":{"id":"upd_1"}}`},
		{name: "no timestamp", body: `{"type":"shipment.updated","data":{"id":"upd_1"}}`},
		{name: "timestamp not RFC 3339", body: `{"type":"shipment.updated","timestamp":"01/03/2025","data":{"id":"upd_1"}}`},
		{name: "timestamp as a number", body: `{"type":"shipment.updated","timestamp":1740821400,"data":{"id":"upd_1"}}`},
		{name: "no data", body: `{"type":"shipment.updated","timestamp":"2025-03-01T09:30:00Z"}`},
		{name: "data without id", body: `{"type":"shipment.updated","timestamp":"2025-03-01T09:30:00Z","data":{}}`},
		{name: "data of the wrong shape", body: `{"type":"shipment.updated","timestamp":"2025-03-01T09:30:00Z","data":{"id":"upd_1","sequence":"three"}}`},
		{name: "trailing garbage", body: `{"type":"shipment.updated","timestamp":"2025-03-01T09:30:00Z","data":{"id":"upd_1"}} {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Decode([]byte(tt.body))
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("Decode() = %+v, %v; want ErrInvalidPayload", p, err)
			}
		})
	}
}

// FuzzDecode must never panic, and what it accepts must survive encoding and decoding
// again with the same type and id.
func FuzzDecode(f *testing.F) {
	seed, err := Encode(testUpdate())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"type":"x","timestamp":"2025-03-01T09:30:00Z","data":{"id":"u"}}`))
	f.Add([]byte(`{"type":"","data":null}`))
	f.Add([]byte(`{"data":{"changes":[{"event":{"event_time":"bad"}}]}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := Decode(body)
		if err != nil {
			if p != nil {
				t.Fatalf("Decode returned both %+v and %v", p, err)
			}
			return
		}
		again, err := Decode(mustMarshal(t, p))
		if err != nil {
			t.Fatalf("re-encoded payload does not decode: %v", err)
		}
		if again.Type != p.Type || again.Data.ID != p.Data.ID || !again.Timestamp.Equal(p.Timestamp) {
			t.Fatalf("round trip changed the payload: %+v -> %+v", p, again)
		}
	})
}

func mustMarshal(t *testing.T, p *Payload) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatalf("marshal %+v: %v", p, err)
	}
	return b
}
