package dcsa

import (
	"errors"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// TestClient_CheckReference: an identifier longer than DCSA Track & Trace v2.2 takes
// is refused before any request, with the limit in the text; the longest one it takes
// passes.
func TestClient_CheckReference(t *testing.T) {
	c, _ := setup(t, Config{})
	tests := []struct {
		name string
		ref  references.Reference
		want string // "" when the client can track it
	}{
		{"container", references.Reference{ContainerID: "MSCU1234566", CarrierCode: "MAEU"}, ""},
		{"bill of lading of 20", references.Reference{BillOfLading: strings.Repeat("B", 20), CarrierCode: "MAEU"}, ""},
		{"bill of lading of 21", references.Reference{BillOfLading: strings.Repeat("B", 21), CarrierCode: "MAEU"},
			"carrier MAEU is tracked through its DCSA Track & Trace 2.2 API, which takes a bill of lading number (transportDocumentReference) of at most 20 characters; this one has 21"},
		{"bill of lading of 35", references.Reference{BillOfLading: strings.Repeat("B", 35), CarrierCode: "HLCU"},
			"carrier HLCU is tracked through its DCSA Track & Trace 2.2 API, which takes a bill of lading number (transportDocumentReference) of at most 20 characters; this one has 35"},
		{"booking of 35", references.Reference{BookingNumber: strings.Repeat("K", 35), CarrierCode: "MAEU"}, ""},
		{"booking of 36", references.Reference{BookingNumber: strings.Repeat("K", 36), CarrierCode: "MAEU"},
			"carrier MAEU is tracked through its DCSA Track & Trace 2.2 API, which takes a booking number (carrierBookingReference) of at most 35 characters; this one has 36"},
		{"equipment of 16", references.Reference{ContainerID: strings.Repeat("E", 16), CarrierCode: "MAEU"},
			"carrier MAEU is tracked through its DCSA Track & Trace 2.2 API, which takes a container number (equipmentReference) of at most 15 characters; this one has 16"},
		{"no identifier", references.Reference{CarrierCode: "MAEU"}, "the reference has no identifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.CheckReference(tt.ref)
			if got := errText(err); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestClient_FetchDoesNotAskForAnIdentifierTheAPIRefuses: a reference created before
// the limit was checked fails its polls as a bad request (which does not open the
// breaker) without calling the carrier.
func TestClient_FetchDoesNotAskForAnIdentifierTheAPIRefuses(t *testing.T) {
	c, f := setup(t, Config{})
	ref := references.Reference{ID: "ref_1", BillOfLading: "MAEU12345678901234567890", CarrierCode: "MAEU"}
	_, err := c.Fetch(t.Context(), ref)
	if !errors.Is(err, references.ErrSourceBadRequest) || !strings.Contains(err.Error(), "at most 20 characters; this one has 24") {
		t.Fatalf("Fetch: %v, want a bad request naming the limit", err)
	}
	if n := len(f.recorded()); n != 0 {
		t.Errorf("the carrier got %d requests, want none", n)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
