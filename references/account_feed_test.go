package references

import (
	"slices"
	"strings"
	"testing"
)

func TestParseUpdateTypes(t *testing.T) {
	tests := []struct {
		raw     string
		want    []string
		invalid bool
	}{
		{"", nil, false},
		{"shipment.updated", []string{"shipment.updated"}, false},
		{" shipment.eta_changed , reference.* ", []string{"shipment.eta_changed", "reference.*"}, false},
		{"*", []string{"*"}, false},
		{"shipment.sunk", nil, true},
		{"endpoint.disabled", nil, true}, // operational events are not in the account feed
		{"shipment.updated,", nil, true},
		{"ship*", nil, true},
		{strings.Repeat("*,", 513), nil, true},
	}
	for _, tc := range tests {
		got, err := ParseUpdateTypes(tc.raw)
		if tc.invalid {
			if ErrorCode(err) != CodeInvalid {
				t.Errorf("ParseUpdateTypes(%q) = %v, %v; want invalid", tc.raw, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseUpdateTypes(%q) = %v, %v; want %v", tc.raw, got, err, tc.want)
		}
	}
}

// FuzzParseUpdateTypes: the types filter comes from the query string. Whatever it
// accepts, each pattern matches an update type or tag.
func FuzzParseUpdateTypes(f *testing.F) {
	for _, seed := range []string{"", "*", "shipment.*,tracking.failed", "shipment.eta_changed", ",", "a.*", "shipment.updated, reference.unsubscribed"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		patterns, err := ParseUpdateTypes(raw)
		if err != nil {
			return
		}
		for _, p := range patterns {
			matched := false
			for _, name := range append(slices.Clone(Tags), string(UpdateShipment), string(UpdateTrackingFailed), string(UpdateUnsubscribed)) {
				matched = matched || MatchEventType(p, name)
			}
			if !matched {
				t.Fatalf("accepted %q, which matches no update type or tag", p)
			}
		}
	})
}
