package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// TestCreateReference_BeyondTheQuotaIs403QuotaExceeded: with a quota of 2 active
// references per account, a third create answers 403 quota_exceeded naming the
// limit; a replay of an earlier create under its Idempotency-Key is not refused;
// another account has room of its own; an unsubscribe makes room.
func TestCreateReference_BeyondTheQuotaIs403QuotaExceeded(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.service.MaxActivePerAccount = 2 })
	first := map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU"}
	resp, body := b.do(t, http.MethodPost, "/references", b.keyA, first, "Idempotency-Key", "order-1")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("first create: %d %s", resp.StatusCode, body)
	}
	created := decode[Reference](t, body)
	b.create(t, b.keyA, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU"})

	third := map[string]any{"booking_number": "BK123456", "carrier_code": "HLCU"}
	resp, body = b.do(t, http.MethodPost, "/references", b.keyA, third)
	d := wantError(t, resp, body, http.StatusForbidden, references.CodeQuotaExceeded, "")
	if !strings.Contains(d.Message, "at most 2 active references") {
		t.Errorf("message %q does not name the limit", d.Message)
	}

	resp, body = b.do(t, http.MethodPost, "/references", b.keyA, first, "Idempotency-Key", "order-1")
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Idempotent-Replayed") != "true" || decode[Reference](t, body).ID != created.ID {
		t.Errorf("replay at the quota: %d %s (replayed %q), want 201 with %s", resp.StatusCode, body, resp.Header.Get("Idempotent-Replayed"), created.ID)
	}
	b.create(t, b.keyB, third) // account B has room of its own

	if resp, body := b.do(t, http.MethodDelete, "/references/"+created.ID, b.keyA, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("unsubscribe: %d %s", resp.StatusCode, body)
	}
	b.create(t, b.keyA, third)
}
