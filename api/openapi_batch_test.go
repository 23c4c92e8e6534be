package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// batchConformance checks POST /references/batch's answers against the spec: each
// per-item outcome, the refusals of the whole batch, and another account's view.
func batchConformance(t *testing.T, seen map[string][]int) {
	b := setup(t, func(c *setupConfig) {
		c.service.MaxActivePerAccount = 3
		c.service.CheckCallback = func(_ context.Context, raw string) error {
			if strings.Contains(raw, "slow-dns") {
				return references.Temporary(errors.New("lookup timed out"))
			}
			return nil
		}
	})
	c := newConformance(t, loadSpec(t), b, seen)
	post := func(name, key, body string, status int, invalid bool, headers ...string) []byte {
		return c.run(t, call{name: name, method: http.MethodPost, path: "/references/batch", key: key, body: body, status: status, invalidRequest: invalid, headers: headers})
	}
	mixed := `{"references":[{"container_id":"MSCU1234566","carrier_code":"MSCU"},{"container_id":"MSCU1234566","carrier_code":"MSCU"},` +
		`{"container_id":"MSCU1234567","carrier_code":"MSCU"},{"booking_number":"BK100001","carrier_code":"MAEU"},` +
		`{"booking_number":"BK100002","carrier_code":"MAEU"},{"booking_number":"BK100003","carrier_code":"MAEU"}]}`
	res := decode[BatchResults](t, post("batch of every outcome", b.keyA, mixed, 200, false, "Idempotency-Key", "b1"))
	var statuses []int
	for _, r := range res.Results {
		statuses = append(statuses, r.Status)
	}
	if fmt.Sprint(statuses) != "[201 409 422 201 201 403]" {
		t.Errorf("statuses %v, want [201 409 422 201 201 403]", statuses)
	}
	post("batch replayed", b.keyA, mixed, 200, false, "Idempotency-Key", "b1")
	post("batch, key reused", b.keyA, `{"references":[{"booking_number":"BK900009","carrier_code":"MAEU"}]}`, 422, false, "Idempotency-Key", "b1")
	post("batch of another account", b.keyB, `{"references":[{"container_id":"MSCU1234566","carrier_code":"MSCU"}]}`, 200, false)
	post("batch empty", b.keyA, `{"references":[]}`, 422, true)
	post("batch unknown field", b.keyA, `{"references":[{"colour":"red"}]}`, 400, true)
	post("batch without key", "", `{"references":[{"booking_number":"BK900009","carrier_code":"MAEU"}]}`, 401, false)
	post("batch as form", b.keyA, `{}`, 415, true, "Content-Type", "application/x-www-form-urlencoded")
	many := `{"references":[` + strings.Repeat(`{"booking_number":"BK900009","carrier_code":"MAEU"},`, references.MaxBatchCreate) + `{"booking_number":"BK900009","carrier_code":"MAEU"}]}`
	post("batch over 1,000", b.keyA, many, 413, true)
	post("batch with an unresolvable callback", b.keyB, `{"references":[{"booking_number":"BK900009","carrier_code":"MAEU","callback_url":"https://slow-dns.example/h"}]}`, 503, false)
	for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
		if resp, body := b.do(t, m, "/references/batch", b.keyA, nil); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /references/batch: %d %s, want 405", m, resp.StatusCode, body)
		}
	}

	read := setup(t, withEveryRoute)
	readKey, stored := references.NewAPIKey(accountA, []references.Scope{references.ScopeRead}, read.clock.Now())
	if err := read.db.CreateAPIKey(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	rc := newConformance(t, loadSpec(t), read, seen)
	rc.run(t, call{name: "batch with a read key", method: http.MethodPost, path: "/references/batch", key: readKey, body: `{"references":[{"booking_number":"BK900009","carrier_code":"MAEU"}]}`, status: 403})
	limited := setup(t, func(c *setupConfig) { c.api.RateLimit, c.api.RateBurst = 0.001, 1 })
	lc := newConformance(t, loadSpec(t), limited, seen)
	lc.run(t, call{name: "batch within the rate", method: http.MethodPost, path: "/references/batch", key: limited.keyA, body: `{"references":[{"booking_number":"BK900009","carrier_code":"MAEU"}]}`, status: 200})
	lc.run(t, call{name: "batch over the rate", method: http.MethodPost, path: "/references/batch", key: limited.keyA, body: `{"references":[{"booking_number":"BK800008","carrier_code":"MAEU"}]}`, status: 429})
}
