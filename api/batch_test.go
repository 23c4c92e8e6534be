package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/references"
)

// postBatch sends POST /references/batch with items and decodes a 200 answer.
func (b *testBundle) postBatch(t *testing.T, key string, items []map[string]any, headers ...string) (*http.Response, BatchResults) {
	t.Helper()
	resp, body := b.do(t, http.MethodPost, "/references/batch", key, map[string]any{"references": items}, headers...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("batch: status %d: %s", resp.StatusCode, body)
	}
	out := decode[BatchResults](t, body)
	if len(out.Results) != len(items) {
		t.Fatalf("%d results for %d items: %s", len(out.Results), len(items), body)
	}
	for i, r := range out.Results {
		if r.Index != i {
			t.Fatalf("result %d has index %d", i, r.Index)
		}
	}
	return resp, out
}

func TestCreateBatch_ResultsPerItemInOrder(t *testing.T) {
	b := setup(t, func(c *setupConfig) {
		c.service.CheckCallback = func(_ context.Context, raw string) error {
			if strings.Contains(raw, "internal.example") {
				return errors.New("resolves to a private address")
			}
			return nil
		}
	})
	existing := b.create(t, b.keyA, map[string]any{"container_id": containerID(1), "carrier_code": "MSCU"})
	items := []map[string]any{
		{"container_id": containerID(2), "carrier_code": "MSCU", "metadata": map[string]string{"po": "7"}},
		{"container_id": strings.ToLower(containerID(1)), "carrier_code": "mscu"},
		{"container_id": "MSCU1234567", "carrier_code": "MSCU"}, // wrong check digit
		{"container_id": containerID(2), "carrier_code": "MSCU"},
		{"container_id": containerID(3), "poll_interval": "soon"},
		{"container_id": containerID(4)}, // carrier detected from MSCU
		{"container_id": containerID(5), "callback_url": "https://internal.example/hook"},
		{"booking_number": "BK123456", "carrier_code": "MAEU", "callback_url": "https://hooks.example/in", "event_types": []string{"shipment.updated"}},
	}
	_, res := b.postBatch(t, b.keyA, items)
	want := []struct {
		status      int
		code, field string
		conflictID  string
	}{
		{status: 201},
		{409, references.CodeConflict, "", existing.ID},
		{422, references.CodeInvalid, "container_id", ""},
		{409, references.CodeConflict, "", "item0"},
		{422, references.CodeInvalid, "poll_interval", ""},
		{status: 201},
		{422, references.CodeInvalid, "callback_url", ""},
		{status: 201},
	}
	for i, w := range want {
		r := res.Results[i]
		if w.conflictID == "item0" {
			w.conflictID = res.Results[0].Reference.ID
		}
		if r.Status != w.status {
			t.Errorf("item %d: status %d, want %d: %+v", i, r.Status, w.status, r.Error)
			continue
		}
		if w.status == 201 {
			if r.Reference == nil || r.Reference.ID == "" || r.Reference.AccountID != accountA || r.Error != nil {
				t.Errorf("item %d: %+v, want a reference of account A", i, r)
			}
			continue
		}
		if r.Reference != nil || r.Error == nil || r.Error.Code != w.code || r.Error.Field != w.field || r.Error.Message == "" || r.ReferenceID != w.conflictID {
			t.Errorf("item %d: %+v error %+v; want %s on %q naming %q", i, r, r.Error, w.code, w.field, w.conflictID)
		}
	}
	if r := res.Results[5].Reference; r == nil || r.CarrierCode != "MSCU" || !r.CarrierDetected {
		t.Errorf("detected carrier: %+v", r)
	}
	got := b.get(t, b.keyA, res.Results[0].Reference.ID)
	if got.Metadata["po"] != "7" || got.Status != references.StatusActive {
		t.Errorf("stored item 0: %+v", got)
	}
}

// get reads one reference and fails the test unless it is 200.
func (b *testBundle) get(t *testing.T, key, id string) Reference {
	t.Helper()
	resp, body := b.do(t, http.MethodGet, "/references/"+id, key, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get %s: %d %s", id, resp.StatusCode, body)
	}
	return decode[Reference](t, body)
}

func TestCreateBatch_OnlyInTheCallersAccount(t *testing.T) {
	b := setup(t)
	theirs := b.create(t, b.keyB, map[string]any{"container_id": containerID(1), "carrier_code": "MSCU"})
	_, res := b.postBatch(t, b.keyA, []map[string]any{{"container_id": containerID(1), "carrier_code": "MSCU"}})
	r := res.Results[0]
	if r.Status != 201 || r.Reference.AccountID != accountA || r.Reference.ID == theirs.ID || strings.Contains(fmt.Sprint(r), theirs.ID) {
		t.Fatalf("A's batch of B's identifier: %+v", r)
	}
	if resp, body := b.do(t, http.MethodGet, "/references/"+r.Reference.ID, b.keyB, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("B reads A's batch-created reference: %d %s", resp.StatusCode, body)
	}
	// A's own conflict names A's reference, never B's.
	_, res = b.postBatch(t, b.keyA, []map[string]any{{"container_id": containerID(1), "carrier_code": "MSCU"}})
	if res.Results[0].Status != 409 || res.Results[0].ReferenceID != r.Reference.ID {
		t.Errorf("conflict: %+v, want 409 naming %s", res.Results[0], r.Reference.ID)
	}
}

func TestCreateBatch_QuotaMidBatch(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.service.MaxActivePerAccount = 2 })
	_, res := b.postBatch(t, b.keyA, []map[string]any{
		{"container_id": containerID(1), "carrier_code": "MSCU"},
		{"container_id": containerID(2), "carrier_code": "MSCU"},
		{"container_id": containerID(3), "carrier_code": "MSCU"},
	})
	if s := []int{res.Results[0].Status, res.Results[1].Status, res.Results[2].Status}; s[0] != 201 || s[1] != 201 || s[2] != 403 {
		t.Fatalf("statuses %v, want 201 201 403", s)
	}
	if e := res.Results[2].Error; e.Code != references.CodeQuotaExceeded || !strings.Contains(e.Message, "at most 2") {
		t.Errorf("quota error %+v", e)
	}
}

func TestCreateBatch_Idempotency(t *testing.T) {
	b := setup(t)
	items := []map[string]any{
		{"container_id": containerID(1), "carrier_code": "MSCU"},
		{"container_id": "nope", "carrier_code": "MSCU"},
	}
	idem := []string{"Idempotency-Key", "import-2026-03-01"}
	resp1, first := b.postBatch(t, b.keyA, items, idem...)
	items[0]["container_id"] = strings.ToLower(containerID(1)) // the same batch, spelt otherwise
	resp2, again := b.postBatch(t, b.keyA, items, idem...)
	if resp1.Header.Get("Idempotent-Replayed") != "" || resp2.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("Idempotent-Replayed: first %q, replay %q", resp1.Header.Get("Idempotent-Replayed"), resp2.Header.Get("Idempotent-Replayed"))
	}
	if again.Results[0].Status != 201 || again.Results[0].Reference.ID != first.Results[0].Reference.ID ||
		again.Results[1].Status != 422 || again.Results[1].Error.Message != first.Results[1].Error.Message {
		t.Errorf("replay %+v, want the first results %+v", again.Results, first.Results)
	}

	t.Run("same key, different batch", func(t *testing.T) {
		resp, body := b.do(t, http.MethodPost, "/references/batch", b.keyA, map[string]any{"references": items[:1]}, idem...)
		wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeIdempotencyMismatch, "")
	})
	t.Run("a single create under the batch's key", func(t *testing.T) {
		resp, body := b.do(t, http.MethodPost, "/references", b.keyA, items[0], idem...)
		wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeIdempotencyMismatch, "")
	})
	t.Run("same key, other account", func(t *testing.T) {
		_, res := b.postBatch(t, b.keyB, items[:1], idem...)
		if res.Results[0].Status != 201 || res.Results[0].Reference.AccountID != accountB {
			t.Errorf("account B: %+v", res.Results[0])
		}
	})
}

func TestCreateBatch_RefusedAsAWhole(t *testing.T) {
	b := setup(t, func(c *setupConfig) {
		c.service.CheckCallback = func(_ context.Context, raw string) error {
			if strings.Contains(raw, "slow-dns") {
				return references.Temporary(errors.New("lookup timed out"))
			}
			return nil
		}
	})
	item := map[string]any{"container_id": containerID(1), "carrier_code": "MSCU"}
	many := make([]map[string]any, references.MaxBatchCreate+1)
	for i := range many {
		many[i] = map[string]any{"container_id": containerID(i + 10), "carrier_code": "MSCU"}
	}
	readKey, stored := references.NewAPIKey(accountA, []references.Scope{references.ScopeRead}, b.clock.Now())
	if err := b.db.CreateAPIKey(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		key         string
		body        any
		status      int
		code, field string
	}{
		{"empty list", b.keyA, map[string]any{"references": []any{}}, 422, references.CodeInvalid, "references"},
		{"no list", b.keyA, map[string]any{}, 422, references.CodeInvalid, "references"},
		{"over 1,000 items", b.keyA, map[string]any{"references": many}, 413, codeTooLarge, ""},
		{"unknown field in an item", b.keyA, map[string]any{"references": []any{map[string]any{"container": "x"}}}, 400, codeBadRequest, ""},
		{"not a list", b.keyA, `{"references": {}}`, 400, codeBadRequest, ""},
		{"a callback that cannot be checked now", b.keyA, map[string]any{"references": []any{item,
			map[string]any{"container_id": containerID(2), "carrier_code": "MSCU", "callback_url": "https://slow-dns.example/h"}}}, 503, references.CodeUnavailable, "references[1].callback_url"},
		{"a read-only key", readKey, map[string]any{"references": []any{item}}, 403, codeForbidden, ""},
		{"no key", "", map[string]any{"references": []any{item}}, 401, references.CodeUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.do(t, http.MethodPost, "/references/batch", tt.key, tt.body)
			wantError(t, resp, body, tt.status, tt.code, tt.field)
		})
	}
	if st, err := b.db.Stats(context.Background()); err != nil || st.ActiveReferences != 0 {
		t.Errorf("%d active references after refused batches (%v), want 0", st.ActiveReferences, err)
	}
}

// A batch of 1,000 fits the default body limit and costs 10 requests of the rate
// limit; one of 100 costs one.
func TestCreateBatch_CountsOneRequestPer100Items(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.api.RateLimit, c.api.RateBurst = rate.Limit(0.001), 12 })
	items := func(from, n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"container_id": containerID(from + i), "carrier_code": "MSCU",
				"callback_url": "https://hooks.example/in", "metadata": map[string]string{"order": fmt.Sprint("PO-", from+i)}}
		}
		return out
	}
	_, res := b.postBatch(t, b.keyA, items(0, 1000)) // 10 of 12 tokens
	if res.Results[999].Status != 201 {
		t.Fatalf("item 999: %+v", res.Results[999])
	}
	b.postBatch(t, b.keyA, items(1000, 100)) // 1 more
	resp, _ := b.do(t, http.MethodGet, "/references?limit=1", b.keyA, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the 12th token: %d", resp.StatusCode)
	}
	resp, body := b.do(t, http.MethodPost, "/references/batch", b.keyA, map[string]any{"references": items(2000, 1)})
	wantError(t, resp, body, http.StatusTooManyRequests, codeRateLimited, "")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
}

func TestCreateBatch_ABatchBeyondTheBucketIsNotRefusedForever(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.api.RateLimit, c.api.RateBurst = rate.Limit(0.001), 3 })
	items := make([]map[string]any, 1000)
	for i := range items {
		items[i] = map[string]any{"container_id": containerID(i), "carrier_code": "MSCU"}
	}
	b.postBatch(t, b.keyA, items) // costs the whole bucket of 3
	resp, body := b.do(t, http.MethodGet, "/references", b.keyA, nil)
	wantError(t, resp, body, http.StatusTooManyRequests, codeRateLimited, "")
}
