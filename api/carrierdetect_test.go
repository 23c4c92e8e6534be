package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// TestCreateReference_DetectsTheCarrier: without carrier_code the reference shows the
// detected code and carrier_detected; with it, no carrier_detected. Requests and
// responses are checked against openapi.yaml on the way.
func TestCreateReference_DetectsTheCarrier(t *testing.T) {
	b := setup(t)
	c := newConformance(t, loadSpec(t), b, map[string][]int{})

	body := c.run(t, call{name: "detected", method: http.MethodPost, path: "/references", key: b.keyA,
		body: `{"container_id":"msku 123456-5"}`, status: http.StatusCreated})
	ref := decode[Reference](t, body)
	if ref.CarrierCode != "MAEU" || !ref.CarrierDetected || !strings.Contains(string(body), `"carrier_detected":true`) {
		t.Errorf("created without carrier_code: %s; want carrier_code MAEU, carrier_detected true", body)
	}
	got := c.run(t, call{name: "get detected", method: http.MethodGet, path: "/references/" + ref.ID, key: b.keyA, status: http.StatusOK})
	if r := decode[Reference](t, got); r.CarrierCode != "MAEU" || !r.CarrierDetected {
		t.Errorf("read back: %s", got)
	}

	body = c.run(t, call{name: "given", method: http.MethodPost, path: "/references", key: b.keyA,
		body: `{"bill_of_lading":"MEDU2603451","carrier_code":"MSCU"}`, status: http.StatusCreated})
	if ref := decode[Reference](t, body); ref.CarrierCode != "MSCU" || strings.Contains(string(body), "carrier_detected") {
		t.Errorf("created with carrier_code: %s; want carrier_code MSCU and no carrier_detected", body)
	}

	resp, raw := b.do(t, http.MethodPost, "/references", b.keyA, `{"container_id":"TGHU1234567"}`)
	if e := wantError(t, resp, raw, http.StatusUnprocessableEntity, references.CodeInvalid, "carrier_code"); !strings.Contains(e.Message, "belongs to no carrier") {
		t.Errorf("a leased box without carrier_code: %q", e.Message)
	}
}

// A create without carrier_code replays with its Idempotency-Key; naming the carrier
// it detected makes it another request, as it is one.
func TestCreateReference_IdempotencyWithoutCarrierCode(t *testing.T) {
	b := setup(t)
	idem := []string{"Idempotency-Key", "k-detect"}
	resp1, body1 := b.do(t, http.MethodPost, "/references", b.keyA, map[string]any{"bill_of_lading": "MEDU2603451"}, idem...)
	resp2, body2 := b.do(t, http.MethodPost, "/references", b.keyA, map[string]any{"bill_of_lading": "medu2603451"}, idem...)
	if resp1.StatusCode != http.StatusCreated || resp2.StatusCode != http.StatusCreated || resp2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("create and retry: %d %s, %d %s (replayed %q)", resp1.StatusCode, body1, resp2.StatusCode, body2, resp2.Header.Get("Idempotent-Replayed"))
	}
	if r1, r2 := decode[Reference](t, body1), decode[Reference](t, body2); r1.ID != r2.ID || !r2.CarrierDetected || r2.CarrierCode != "MSCU" {
		t.Errorf("replay %s; want %s, detected MSCU", body2, r1.ID)
	}
	resp, body := b.do(t, http.MethodPost, "/references", b.keyA, map[string]any{"bill_of_lading": "MEDU2603451", "carrier_code": "MSCU"}, idem...)
	wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeIdempotencyMismatch, "")
}
