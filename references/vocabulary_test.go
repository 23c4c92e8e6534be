package references_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/references"
)

func TestVocabulary_Words(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"classifier", references.ClassifierEstimated.Word(), "estimated"},
		{"unknown classifier", references.Classifier("XYZ").Word(), ""},
		{"transport event code", references.EventCodeWord(references.CodeArrival), "vessel arrival"},
		{"equipment event code", references.EventCodeWord(references.CodeGateOut), "gate-out"},
		{"shipment code is no equipment code", references.EventCodeWord(references.CodeConfirmed), ""},
		{"lookups are exact", references.EventCodeWord("arri"), ""},
		{"document status", references.DocumentStatusWord(references.CodeOnHold), "on hold"},
		{"equipment code is no document status", references.DocumentStatusWord(references.CodeLoad), ""},
		{"empty indicator", references.EmptyIndicatorWord(references.EmptyIndicatorLaden), "laden"},
		{"document type", references.DocumentTypeName("TRD"), "Transport document"},
		{"unknown document type", references.DocumentTypeName("XYZ"), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestCodes_ListEveryCodeOnce(t *testing.T) {
	t.Parallel()
	codes := references.Codes()
	if !slices.IsSorted(codes) || len(slices.Compact(slices.Clone(codes))) != len(codes) {
		t.Fatalf("codes are not sorted and unique: %q", codes)
	}
	// 3 event types, 3 classifiers, 2 transport, 6 equipment and 15 shipment event
	// codes, 2 empty indicators, 4 modes of transport.
	if len(codes) != 35 {
		t.Errorf("got %d codes, want 35: %q", len(codes), codes)
	}
	for _, c := range codes {
		if c == "" || strings.ToUpper(c) != c {
			t.Errorf("code %q is not an upper-case word", c)
		}
	}
	for _, c := range []string{string(references.EventShipment), string(references.ClassifierActual),
		references.CodeStripping, references.CodeReleased, references.EmptyIndicatorEmpty, references.ModeBarge} {
		if !slices.Contains(codes, c) {
			t.Errorf("Codes() lacks %s", c)
		}
	}
}
