package references_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

const detectAccount = "acct_detect"

// detectBundle is a Service over a real store, with what it asked CheckSource.
type detectBundle struct {
	svc     *references.Service
	db      *store.DB
	checked []references.Reference
}

func setupDetect(t *testing.T) *detectBundle {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	db, err := store.Open(filepath.Join(t.TempDir(), "trackhook.db"), store.Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.EnsureAccount(context.Background(), detectAccount, references.NewWebhookSecret(), clk.Now()); err != nil {
		t.Fatal(err)
	}
	b := &detectBundle{db: db}
	b.svc = references.NewService(db, references.ServiceOptions{
		Now: clk.Now,
		CheckSource: func(ref references.Reference) error {
			b.checked = append(b.checked, ref)
			return nil
		},
	})
	return b
}

func TestService_CreateDetectsTheCarrier(t *testing.T) {
	tests := []struct {
		name         string
		req          references.CreateRequest
		wantCarrier  string
		wantDetected bool
	}{
		{"container of a carrier, as printed", references.CreateRequest{ContainerID: "msku 123456-5"}, "MAEU", true},
		{"container, blank carrier code", references.CreateRequest{ContainerID: "CMAU1234564", CarrierCode: " "}, "CMDU", true},
		{"bill of lading with MSC's prefix", references.CreateRequest{BillOfLading: "medu123456"}, "MSCU", true},
		{"bill of lading with a SCAC prefix", references.CreateRequest{BillOfLading: "HLCUHAM2603451"}, "HLCU", true},
		// The client's code is kept even when the box is another carrier's: a
		// carrier may well move a box it does not own.
		{"explicit code kept", references.CreateRequest{ContainerID: "MSKU7654328", CarrierCode: "mscu"}, "MSCU", false},
		{"explicit code on a leased box", references.CreateRequest{ContainerID: "TGHU1234567", CarrierCode: "ONEY"}, "ONEY", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setupDetect(t)
			ctx := context.Background()
			created, _, err := b.svc.Create(ctx, detectAccount, tt.req, "")
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			read, err := b.svc.Get(ctx, detectAccount, created.ID)
			if err != nil {
				t.Fatal(err)
			}
			for name, ref := range map[string]references.Reference{"returned": created, "read back": read} {
				if ref.CarrierCode != tt.wantCarrier || ref.CarrierDetected != tt.wantDetected {
					t.Errorf("%s: carrier %q, detected %t; want %q, %t", name, ref.CarrierCode, ref.CarrierDetected, tt.wantCarrier, tt.wantDetected)
				}
			}
			// The source is chosen by the code as stored, detected or given.
			if len(b.checked) != 1 || b.checked[0].CarrierCode != tt.wantCarrier {
				t.Errorf("CheckSource was asked about %+v, want carrier %s", b.checked, tt.wantCarrier)
			}
		})
	}
}

func TestService_CreateWithoutADetectableCarrierAsksForIt(t *testing.T) {
	tests := []struct {
		name      string
		req       references.CreateRequest
		wantField string
		wantMsg   string
	}{
		{"leasing company's box", references.CreateRequest{ContainerID: "tghu1234567"}, "carrier_code", "owner prefix TGHU belongs to no carrier"},
		{"unknown owner", references.CreateRequest{ContainerID: "QQQU1234560"}, "carrier_code", "a leasing company's box, or an owner trackhook does not know"},
		{"bill of lading of no known prefix", references.CreateRequest{BillOfLading: "LHV1234567"}, "carrier_code", "does not start with a carrier's prefix"},
		{"booking number", references.CreateRequest{BookingNumber: "MAEU12345678"}, "carrier_code", "booking numbers carry no carrier prefix"},
		// The check digit is verified before anything is detected.
		{"carrier's box with a wrong check digit", references.CreateRequest{ContainerID: "MSKU1234566"}, "container_id", "check digit of MSKU123456 is 5"},
		{"invalid explicit code", references.CreateRequest{ContainerID: "MSKU1234565", CarrierCode: "M4EU"}, "carrier_code", "must be a SCAC code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setupDetect(t)
			_, _, err := b.svc.Create(context.Background(), detectAccount, tt.req, "")
			var e *references.Error
			if !errors.As(err, &e) || e.Code != references.CodeInvalid || e.Field != tt.wantField || !strings.Contains(e.Message, tt.wantMsg) {
				t.Fatalf("Create = %v; want invalid on %s containing %q", err, tt.wantField, tt.wantMsg)
			}
			if tt.wantField == "carrier_code" && tt.req.CarrierCode == "" && !strings.Contains(e.Message, "give the carrier's SCAC code") {
				t.Errorf("the message does not ask for carrier_code: %q", e.Message)
			}
			page, err := b.svc.List(context.Background(), detectAccount, references.ListQuery{})
			if err != nil || len(page.References) != 0 {
				t.Errorf("after a refused create: %d references, %v", len(page.References), err)
			}
		})
	}
}

// An Idempotency-Key replays a create without carrier_code, with the detected
// reference; the same key with the detected code named is another request.
func TestService_CreateWithoutCarrierCodeReplays(t *testing.T) {
	b := setupDetect(t)
	ctx := context.Background()
	req := references.CreateRequest{ContainerID: "MSKU1234565", RequestHash: "hash-without-code"}
	first, replayed, err := b.svc.Create(ctx, detectAccount, req, "k1")
	if err != nil || replayed {
		t.Fatalf("first create: replayed %t, %v", replayed, err)
	}
	again, replayed, err := b.svc.Create(ctx, detectAccount, req, "k1")
	if err != nil || !replayed || again.ID != first.ID || !again.CarrierDetected || again.CarrierCode != "MAEU" {
		t.Fatalf("retry: %+v, replayed %t, %v; want %s replayed, detected MAEU", again, replayed, err, first.ID)
	}
	named := references.CreateRequest{ContainerID: "MSKU1234565", CarrierCode: "MAEU", RequestHash: "hash-with-code"}
	if _, _, err := b.svc.Create(ctx, detectAccount, named, "k1"); references.ErrorCode(err) != references.CodeIdempotencyMismatch {
		t.Fatalf("same key naming the carrier: %v, want %s", err, references.CodeIdempotencyMismatch)
	}
}
