package tracking

import (
	"testing"

	"github.com/trackhook/trackhook/references"
)

func TestVesselLabel(t *testing.T) {
	tests := []struct {
		name string
		tc   *references.TransportCall
		want string
	}{
		{"nil", nil, ""},
		{"none known", &references.TransportCall{Voyage: "412W"}, ""},
		{"name and IMO", &references.TransportCall{VesselName: " NORDIC AURORA ", VesselIMO: "9434761 "}, "NORDIC AURORA (IMO 9434761)"},
		{"name only", &references.TransportCall{VesselName: "NORDIC AURORA"}, "NORDIC AURORA"},
		{"IMO only", &references.TransportCall{VesselIMO: "9434761"}, "IMO 9434761"},
	}
	for _, tt := range tests {
		if got := VesselLabel(tt.tc); got != tt.want {
			t.Errorf("%s: VesselLabel = %q, want %q", tt.name, got, tt.want)
		}
	}
}
