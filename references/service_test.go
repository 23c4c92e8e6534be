package references_test

import (
	"context"
	"errors"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// TestService_CreateAsksCheckSource: the source's refusal is a 422 on the identifier's
// field, given the reference as validated, before anything is stored (the service has
// no store here).
func TestService_CreateAsksCheckSource(t *testing.T) {
	var asked references.Reference
	svc := references.NewService(nil, references.ServiceOptions{CheckSource: func(ref references.Reference) error {
		asked = ref
		return errors.New("too long for its API")
	}})
	_, _, err := svc.Create(context.Background(), "acct", references.CreateRequest{BillOfLading: " maeu123456 ", CarrierCode: "maeu"}, "")
	var e *references.Error
	if !errors.As(err, &e) || e.Code != references.CodeInvalid || e.Field != "bill_of_lading" || e.Message != "too long for its API" {
		t.Fatalf("Create = %v, want invalid on bill_of_lading with the source's words", err)
	}
	if asked.BillOfLading != "MAEU123456" || asked.CarrierCode != "MAEU" {
		t.Errorf("CheckSource was given %+v, want the normalised reference", asked)
	}
}
