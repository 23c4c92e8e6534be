package tracking

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/trackhook/trackhook/references"
)

func TestIsComplete(t *testing.T) {
	t.Parallel()
	cmpl := TerminalRule{{Type: references.EventShipment, Code: "CMPL"}}
	anyEmptyGateIn := TerminalRule{{Code: "GTIN", EmptyIndicator: "EMPTY"}}
	tests := []struct {
		name   string
		s      *references.Shipment
		rule   TerminalRule
		wanted bool
	}{
		{"nil snapshot", nil, nil, false},
		{"no events", &references.Shipment{}, nil, false},
		{"delivered but not returned", mkShipment(transshippedVoyage(13)...), nil, false},
		{"empty returned", mkShipment(transshippedVoyage(14)...), nil, true},
		{"empty return only estimated", mkShipment(transshippedVoyage(13)...), DefaultTerminalRule(), false},
		{
			"empty gate-in left from the previous trip",
			mkShipment(mkEvent("GTIN", clsACT, -50).at("NLRTM").empty(), mkEvent("LOAD", clsEST, 40).at("CNSHA"), mkEvent("ARRI", clsEST, 700).at("NLRTM")),
			nil, false,
		},
		{
			"same, with a rule that does not ask for arrival first",
			mkShipment(mkEvent("GTIN", clsACT, -50).at("NLRTM").empty(), mkEvent("LOAD", clsEST, 40).at("CNSHA"), mkEvent("ARRI", clsEST, 700).at("NLRTM")),
			anyEmptyGateIn, true,
		},
		{
			"a configured document code",
			mkShipment(append(transshippedVoyage(5), mkEvent("CMPL", clsACT, 60).kind(references.EventShipment))...),
			cmpl, true,
		},
		{
			"the configured code of another event type",
			mkShipment(append(transshippedVoyage(5), mkEvent("CMPL", clsACT, 60))...),
			cmpl, false,
		},
		{
			"codes match whatever their case",
			mkShipment(append(transshippedVoyage(5), mkEvent("cmpl", clsACT, 60).kind(references.EventShipment))...),
			cmpl, true,
		},
		{"order does not matter", reversedEvents(mkShipment(transshippedVoyage(14)...)), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := IsComplete(tt.s, tt.rule); got != tt.wanted {
				t.Errorf("IsComplete = %v, want %v", got, tt.wanted)
			}
		})
	}
}

// TestIsComplete_AgreesWithStatus checks on every fixture that the default rule and
// the empty_returned status are the same condition.
func TestIsComplete_AgreesWithStatus(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "diff", "*", "[0-9][0-9].json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	completes := 0
	for _, f := range files {
		s := readShipmentFixture(t, f)
		returned := Derive(s).Status == references.ShipmentEmptyReturned
		if IsComplete(s, nil) != returned {
			t.Errorf("%s: IsComplete = %v but status empty_returned = %v", f, !returned, returned)
		}
		if returned {
			completes++
		}
	}
	if completes == 0 {
		t.Error("no fixture reaches empty_returned; the check proves nothing")
	}
}

func TestParseTerminalRule(t *testing.T) {
	tests := []struct {
		in      string
		want    string // String() of the rule; "" for an error
		wantErr bool
	}{
		{"", "GTIN:EMPTY", false},
		{"GTIN:EMPTY", "GTIN:EMPTY", false},
		{"gtin:empty, strp", "GTIN:EMPTY,STRP", false},
		{"GTOT:LADEN", "GTOT:LADEN", false},
		{"GTI", "", true},
		{"GTIN:FULL", "", true},
		{"GT1N", "", true},
		{",", "", true},
	}
	for _, tt := range tests {
		rule, err := ParseTerminalRule(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && rule.String() != tt.want) {
			t.Errorf("%q: got %q, %v", tt.in, rule, err)
		}
	}
	def, _ := ParseTerminalRule("")
	if !reflect.DeepEqual(def, DefaultTerminalRule()) {
		t.Fatalf("empty rule %v is not the default %v", def, DefaultTerminalRule())
	}
}

func FuzzParseTerminalRule(f *testing.F) {
	for _, s := range []string{"GTIN:EMPTY", "gtin:empty,STRP", "", ",,", "GTIN:", ":EMPTY"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rule, err := ParseTerminalRule(s)
		if err != nil {
			return
		}
		again, err := ParseTerminalRule(rule.String())
		if err != nil || !reflect.DeepEqual(again, rule) {
			t.Fatalf("%q -> %q does not read back: %v", s, rule, err)
		}
	})
}
