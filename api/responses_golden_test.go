package api

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// TestResponses_JSONUnchanged encodes sample answers of every route that returns
// references, updates, deliveries or secrets, and compares them with
// testdata/api/responses.golden.json, which the code before the API had types of its
// own (commit c910a67) wrote by encoding the domain types: the API's JSON must stay
// byte for byte what it was. Do not rewrite the golden file for a change of the API
// that is not meant to be visible.
func TestResponses_JSONUnchanged(t *testing.T) {
	full, minimal, updates, attempts, acct := sampleDomain()
	doc := map[string]any{
		"reference_full":       newReference(full),
		"reference_minimal":    newReference(minimal),
		"reference_page":       newReferencePage(references.ReferencePage{References: []references.Reference{full, minimal}, NextCursor: "cur"}),
		"reference_page_empty": newReferencePage(references.ReferencePage{}),
		"update_page":          newUpdatePage(references.UpdatePage{Updates: updates, NextAfter: 3}),
		"update_page_empty":    newUpdatePage(references.UpdatePage{NextAfter: 9}),
		"delivery_page":        newDeliveryPage(references.DeliveryPage{Deliveries: attempts, NextCursor: "next"}),
		"delivery_page_empty":  newDeliveryPage(references.DeliveryPage{}),
		"secrets":              liveSecrets(acct, time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC)),
	}
	got, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("..", "testdata", "api", "responses.golden.json")
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the API's JSON differs from %s:\n%s", golden, got)
	}
}

// sampleDomain returns domain values with every field set, and with none, for the
// API's JSON golden file.
func sampleDomain() (full, minimal references.Reference, updates []references.Update, attempts []references.DeliveryAttempt, acct references.Account) {
	cet := time.FixedZone("CET", 3600)
	at := func(h int) *time.Time { t := time.Date(2026, 3, 1, h, 30, 15, 500, cet); return &t }
	full = references.Reference{
		ID: "ref_full", AccountID: "acct_a", ContainerID: "MSCU1234566", BillOfLading: "MAEU123456789", BookingNumber: "BK123456",
		CarrierCode: "MSCU", CallbackURL: "https://hooks.example.com/a?b=<c>&d", EventTypes: []string{"shipment.updated", "tracking.failed"},
		Metadata: map[string]string{"order": "PO-4471", "note": "<&> \u2028 é"}, PollInterval: references.Duration(90 * time.Minute),
		Status: references.StatusUnsubscribed, UnsubscribeReason: references.ReasonCallbackFailing, UnsubscribedAt: at(1),
		CreatedAt: *at(2), UpdatedAt: *at(3), LastPolledAt: at(4), NextPollAt: at(5), LastPollError: "source answered 502",
		ConsecutiveFailures: 3, NotFoundSince: at(6), LastSequence: 18446744073709551615, DeliveredSequence: 7,
		DeliveryState: references.DeliveryFailing, FailingSince: at(7),
	}
	minimal = references.Reference{ID: "ref_min", AccountID: "acct_a", BookingNumber: "BK1234", CarrierCode: "HLCU", Status: references.StatusActive, CreatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	ev := references.Event{
		ID: "evt_1", Type: references.EventTransport, Classifier: references.ClassifierActual, Code: "DEPA", Time: *at(8),
		Location:           &references.Location{UNLocode: "NLRTM", Name: "Rotterdam"},
		TransportCall:      &references.TransportCall{VesselName: "MAERSK ESSEN", VesselIMO: "9456769", Voyage: "512W", ModeOfTransport: "VESSEL"},
		EquipmentReference: "MSCU1234566", EmptyIndicator: "LADEN", Description: "Departed",
	}
	bare := references.Event{ID: "evt_2", Type: references.EventEquipment, Classifier: references.ClassifierPlanned, Code: "GTOT", Time: *at(9), Location: &references.Location{}}
	updates = []references.Update{
		{
			ID: "upd_1", ReferenceID: "ref_full", Sequence: 1, Type: references.UpdateShipment, CreatedAt: *at(10),
			Reference: full.Summary(),
			Changes: []references.Change{
				{Type: references.ChangeEventAdded, Description: "Departed Rotterdam", New: "2026-03-01T08:30:15Z", Event: &ev},
				{Type: references.ChangeETAChanged, Description: "ETA moved", Old: "a", New: "b"},
			},
			Shipment: &references.Shipment{
				Events: []references.Event{ev, bare}, Status: references.ShipmentInTransit,
				Origin: &references.Location{UNLocode: "NLRTM"}, Destination: &references.Location{Name: "New York"},
				CurrentLocation: &references.Location{}, CurrentVessel: &references.TransportCall{Voyage: "512W"}, ETA: at(11),
			},
		},
		{ID: "upd_2", ReferenceID: "ref_full", Sequence: 2, Type: references.UpdateTrackingFailed, CreatedAt: *at(12), Reference: minimal.Summary(), Changes: []references.Change{}, Error: "source down"},
		{ID: "upd_3", ReferenceID: "ref_full", Sequence: 3, Type: references.UpdateUnsubscribed, CreatedAt: *at(13), UnsubscribeReason: references.ReasonNotFound,
			Shipment: &references.Shipment{Events: []references.Event{}}},
	}
	attempts = []references.DeliveryAttempt{
		{ReferenceID: "ref_full", UpdateID: "upd_1", Sequence: 1, Attempt: 2, URL: "https://hooks.example.com/a", At: *at(14), StatusCode: 500,
			Error: "receiver answered 500", LatencyMS: 1203, ResponseBody: "<html>oops</html>", Outcome: references.OutcomeFailed, NextRetryAt: at(15), Redelivery: true},
		{ReferenceID: "ref_full", UpdateID: "upd_2", Sequence: 2, Attempt: 1, URL: "https://hooks.example.com/a", At: *at(16), Outcome: references.OutcomeDelivered},
	}
	acct = references.Account{ID: "acct_a", CreatedAt: *at(1), WebhookSecrets: []references.WebhookSecret{
		{Secret: "whsec_old", CreatedAt: *at(1), ExpiresAt: at(20)},
		{Secret: "whsec_expired", CreatedAt: *at(1), ExpiresAt: at(2)},
		{Secret: "whsec_new", CreatedAt: *at(3)},
	}}
	return full, minimal, updates, attempts, acct
}
