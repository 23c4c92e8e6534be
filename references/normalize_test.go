package references

import (
	"reflect"
	"testing"
)

func TestCreateRequest_Normalized(t *testing.T) {
	tests := []struct {
		name    string
		in, out CreateRequest
	}{
		{"CapitalsAndSpaces",
			CreateRequest{ContainerID: "mscu 123456-6", CarrierCode: " mscu ", EventTypes: []string{"tracking.failed", "tracking.failed"}},
			CreateRequest{ContainerID: "MSCU1234566", CarrierCode: "MSCU", EventTypes: []string{"tracking.failed"}}},
		{"DocumentNumbers",
			CreateRequest{BillOfLading: " maeu123456789", BookingNumber: "bk123456", CarrierCode: "maeu"},
			CreateRequest{BillOfLading: "MAEU123456789", BookingNumber: "BK123456", CarrierCode: "MAEU"}},
		{"InvalidValuesAreLeftForCreateToRefuse",
			CreateRequest{ContainerID: "mscu1234567", CarrierCode: "m4eu", EventTypes: []string{"x", "x"}, CallbackURL: "Https://A.example"},
			CreateRequest{ContainerID: "mscu1234567", CarrierCode: "m4eu", EventTypes: []string{"x", "x"}, CallbackURL: "Https://A.example"}},
		{"NothingToDo", CreateRequest{}, CreateRequest{}},
		// Detection is Create's: a request without a carrier code stays without one, so
		// it is another request than one that names the carrier it would detect.
		{"NoCarrierCodeIsNotDetectedHere",
			CreateRequest{ContainerID: "msku1234565"},
			CreateRequest{ContainerID: "MSKU1234565"}},
		{"BlankCarrierCodeIsNone",
			CreateRequest{BillOfLading: "medu123456", CarrierCode: "  "},
			CreateRequest{BillOfLading: "MEDU123456"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.Normalized(); !reflect.DeepEqual(got, tc.out) {
				t.Errorf("Normalized() = %+v, want %+v", got, tc.out)
			}
		})
	}
}

func TestIdempotencyKey_Matches(t *testing.T) {
	k := IdempotencyKey{RequestHash: "new", LegacyRequestHash: "old"}
	for stored, want := range map[string]bool{"new": true, "old": true, "other": false, "": false} {
		if got := k.Matches(stored); got != want {
			t.Errorf("Matches(%q) = %t, want %t", stored, got, want)
		}
	}
	if (&IdempotencyKey{RequestHash: "new"}).Matches("") {
		t.Error("a key without a legacy hash matches an empty stored hash")
	}
}
