package webhook

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/trackhook/trackhook/references"
)

func TestEncodeBatch_IsTheUpdatesInTheirWireForm(t *testing.T) {
	t.Parallel()
	first, second := testUpdate(), testUpdate()
	second.ID, second.Sequence = "upd_second", first.Sequence+1
	body, err := EncodeBatch([]references.Update{first, second})
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Type string            `json:"type"`
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Type != "batch" || len(raw.Data) != 2 {
		t.Fatalf("batch body %s", body)
	}
	// Each item is byte for byte the data of a single delivery of the same update.
	for i, u := range []references.Update{first, second} {
		single, err := Encode(u)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(single, &p); err != nil {
			t.Fatal(err)
		}
		if string(raw.Data[i]) != string(p.Data) {
			t.Errorf("data[%d] = %s\nwant %s", i, raw.Data[i], p.Data)
		}
	}
	b, err := DecodeBatch(body)
	if err != nil {
		t.Fatal(err)
	}
	if b.Data[0].ID != first.ID || b.Data[1].Sequence != second.Sequence {
		t.Errorf("DecodeBatch = %+v", b)
	}
}

func TestEncodeBatch_RefusesAnEmptyBatch(t *testing.T) {
	t.Parallel()
	if b, err := EncodeBatch(nil); err == nil {
		t.Fatalf("EncodeBatch(nil) = %s", b)
	}
}

func TestDecodeBatch_RefusesWhatIsNotABatch(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not JSON":          `batch`,
		"an update":         `{"type":"shipment.updated","timestamp":"2025-03-01T09:30:00Z","data":{"id":"upd_1"}}`,
		"no updates":        `{"type":"batch","data":[]}`,
		"data not a list":   `{"type":"batch","data":{"id":"upd_1"}}`,
		"update without id": `{"type":"batch","data":[{"id":"upd_1"},{"sequence":2}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if b, err := DecodeBatch([]byte(body)); !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("DecodeBatch = %+v, %v; want ErrInvalidPayload", b, err)
			}
		})
	}
}
