package poller_test

import (
	"context"
	"errors"
	"testing"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

// checkingSource is a Source that refuses references of one carrier code it is given.
type checkingSource struct{ refuse string }

func (checkingSource) Fetch(context.Context, references.Reference) (*references.Shipment, error) {
	return &references.Shipment{}, nil
}

func (s checkingSource) CheckReference(ref references.Reference) error {
	if ref.BillOfLading == s.refuse {
		return errors.New("too long for this API")
	}
	return nil
}

// TestRouter_CheckAsksTheCarriersSource: Check asks the source the carrier is routed
// to, through its guard, and only that one; sources that cannot tell, and carriers
// without a source, pass.
func TestRouter_CheckAsksTheCarriersSource(t *testing.T) {
	long := "BL0123456789012345678"
	r := poller.Router{
		ByCarrier: map[string]poller.Source{
			"MAEU": poller.Guard("MAEU", checkingSource{refuse: long}, poller.GuardOptions{}),
			"HLCU": checkingSource{refuse: long},
		},
		Default: demo.New(demo.Options{}),
	}
	tests := []struct {
		carrier string
		refused bool
	}{{"MAEU", true}, {"HLCU", true}, {"CMDU", false}}
	for _, tt := range tests {
		err := r.Check(references.Reference{BillOfLading: long, CarrierCode: tt.carrier})
		if (err != nil) != tt.refused {
			t.Errorf("%s: Check = %v, want refused %v", tt.carrier, err, tt.refused)
		}
	}
	if err := r.Check(references.Reference{BillOfLading: "BL1", CarrierCode: "MAEU"}); err != nil {
		t.Errorf("an identifier the source takes: %v", err)
	}
	if err := (poller.Router{}).Check(references.Reference{BillOfLading: long, CarrierCode: "MAEU"}); err != nil {
		t.Errorf("no source for the carrier: %v, want nil (the poll says so)", err)
	}
}
