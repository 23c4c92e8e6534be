package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
	"github.com/trackhook/trackhook/webhook"
)

// testOwner names the tests in the store's leases when they claim work directly, as
// the poller and the notifier would.
const testOwner = "test"

// seedUpdates appends n shipment updates to the reference's feed, as a poll would.
func (b *testBundle) seedUpdates(t testing.TB, refID string, n int) []webhook.Update {
	t.Helper()
	now := b.clock.Now()
	res := references.PollResult{PolledAt: now, NextPollAt: now.Add(15 * time.Minute)}
	for i := 0; i < n; i++ {
		res.Updates = append(res.Updates, references.Update{
			Type:      references.UpdateShipment,
			CreatedAt: now,
			Changes:   []references.Change{{Type: references.ChangeStatusChanged, Description: fmt.Sprintf("change %d", i), New: "in_transit"}},
		})
	}
	ctx := context.Background()
	claim, err := b.db.ClaimPoll(ctx, testOwner, refID, time.Minute)
	if err != nil {
		t.Fatalf("claim poll: %v", err)
	}
	if _, err := b.db.RecordPoll(ctx, claim.Lease, res); err != nil {
		t.Fatalf("record poll: %v", err)
	}
	resp, body := b.do(t, http.MethodGet, "/references/"+refID+"/updates?limit=500", b.keyA, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list updates: %d %s", resp.StatusCode, body)
	}
	return decode[UpdatePage](t, body).Updates
}

// seedAttempts records n failed delivery attempts of the reference's first pending
// update, as the notifier would.
func (b *testBundle) seedAttempts(t testing.TB, refID string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		now := b.clock.Now()
		claim, err := b.db.ClaimDelivery(ctx, testOwner, refID, time.Minute)
		if err != nil {
			t.Fatalf("claim delivery: %v", err)
		}
		job := claim.Job
		retry := now.Add(time.Minute)
		a := references.DeliveryAttempt{
			ReferenceID: refID, UpdateID: job.Update.ID, Sequence: job.Update.Sequence, Attempt: job.Attempt,
			URL: job.Reference.CallbackURL, At: now, StatusCode: 500, Outcome: references.OutcomeFailed, NextRetryAt: &retry,
		}
		if _, err := b.db.RecordAttempt(ctx, claim.Lease, job, a, ""); err != nil {
			t.Fatalf("record attempt: %v", err)
		}
		if err := b.db.ReleaseLease(ctx, claim.Lease); err != nil {
			t.Fatalf("release lease: %v", err)
		}
		b.clock.Advance(time.Minute)
	}
}

func TestCreateReference_ReturnsNormalisedReference(t *testing.T) {
	b := setup(t)
	resp, body := b.do(t, http.MethodPost, "/references", b.keyA, map[string]any{
		"container_id":  "csqu 305438-3",
		"carrier_code":  "maeu",
		"callback_url":  "https://example.com/hooks",
		"event_types":   []string{"shipment.updated", "shipment.updated"},
		"metadata":      map[string]string{"po": "4711"},
		"poll_interval": "30m",
	})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	ref := decode[Reference](t, body)
	if !strings.HasPrefix(ref.ID, "ref_") || ref.AccountID != accountA || ref.Status != references.StatusActive {
		t.Errorf("reference %+v", ref)
	}
	if ref.ContainerID != "CSQU3054383" || ref.CarrierCode != "MAEU" {
		t.Errorf("not normalised: container %q carrier %q", ref.ContainerID, ref.CarrierCode)
	}
	if len(ref.EventTypes) != 1 || ref.Metadata["po"] != "4711" || time.Duration(ref.PollInterval) != 30*time.Minute {
		t.Errorf("reference %+v", ref)
	}
	if got := resp.Header.Get("Location"); got != "/references/"+ref.ID {
		t.Errorf("Location %q", got)
	}
	if resp.Header.Get("Idempotent-Replayed") != "" {
		t.Error("Idempotent-Replayed set on a first create")
	}
}

func TestCreateReference_Validation(t *testing.T) {
	b := setup(t)
	tests := []struct {
		name  string
		body  map[string]any
		field string // empty: 201 expected
	}{
		{"container ok", map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU"}, ""},
		{"container lower case with separators", map[string]any{"container_id": "msku 123456-5", "carrier_code": "MAEU"}, ""},
		{"container wrong check digit", map[string]any{"container_id": "CSQU3054384", "carrier_code": "MAEU"}, "container_id"},
		{"container too short", map[string]any{"container_id": "CSQU305438", "carrier_code": "MAEU"}, "container_id"},
		{"container bad category", map[string]any{"container_id": "CSQX3054383", "carrier_code": "MAEU"}, "container_id"},
		{"container digits in owner code", map[string]any{"container_id": "C5QU3054383", "carrier_code": "MAEU"}, "container_id"},
		{"container unicode look-alike", map[string]any{"container_id": "СSQU3054383", "carrier_code": "MAEU"}, "container_id"},
		{"bill of lading ok", map[string]any{"bill_of_lading": "maeu123456789", "carrier_code": "MAEU"}, ""},
		{"bill of lading too short", map[string]any{"bill_of_lading": "AB1", "carrier_code": "MAEU"}, "bill_of_lading"},
		{"bill of lading too long", map[string]any{"bill_of_lading": strings.Repeat("A", 36), "carrier_code": "MAEU"}, "bill_of_lading"},
		{"bill of lading punctuation", map[string]any{"bill_of_lading": "AB-12345", "carrier_code": "MAEU"}, "bill_of_lading"},
		{"booking ok", map[string]any{"booking_number": "BK123456", "carrier_code": "HLCU"}, ""},
		{"booking non-ASCII", map[string]any{"booking_number": "BKÜ23456", "carrier_code": "HLCU"}, "booking_number"},
		{"two identifiers", map[string]any{"container_id": "CSQU3054383", "booking_number": "BK123456", "carrier_code": "MAEU"}, "container_id"},
		{"no identifier", map[string]any{"carrier_code": "MAEU"}, "container_id"},
		{"SCAC missing", map[string]any{"booking_number": "BK200001"}, "carrier_code"},
		{"SCAC two letters ok", map[string]any{"booking_number": "BK200002", "carrier_code": "zi"}, ""},
		{"SCAC one letter", map[string]any{"booking_number": "BK200003", "carrier_code": "M"}, "carrier_code"},
		{"SCAC five letters", map[string]any{"booking_number": "BK200004", "carrier_code": "MAEUX"}, "carrier_code"},
		{"SCAC digit", map[string]any{"booking_number": "BK200005", "carrier_code": "M4EU"}, "carrier_code"},
		{"callback https ok", map[string]any{"booking_number": "BK300001", "carrier_code": "MAEU", "callback_url": "https://example.com/h?x=1"}, ""},
		{"callback http refused", map[string]any{"booking_number": "BK300002", "carrier_code": "MAEU", "callback_url": "http://example.com/h"}, "callback_url"},
		{"callback user-info", map[string]any{"booking_number": "BK300003", "carrier_code": "MAEU", "callback_url": "https://user:pw@example.com/h"}, "callback_url"},
		{"callback too long", map[string]any{"booking_number": "BK300004", "carrier_code": "MAEU", "callback_url": "https://example.com/" + strings.Repeat("a", references.MaxCallbackURLLength)}, "callback_url"},
		{"callback not absolute", map[string]any{"booking_number": "BK300005", "carrier_code": "MAEU", "callback_url": "/hooks"}, "callback_url"},
		{"callback other scheme", map[string]any{"booking_number": "BK300006", "carrier_code": "MAEU", "callback_url": "ftp://example.com/h"}, "callback_url"},
		{"callback no host", map[string]any{"booking_number": "BK300007", "carrier_code": "MAEU", "callback_url": "https:///h"}, "callback_url"},
		{"unknown event type", map[string]any{"booking_number": "BK400001", "carrier_code": "MAEU", "event_types": []string{"shipment.exploded"}}, "event_types"},
		{"poll interval too short", map[string]any{"booking_number": "BK400002", "carrier_code": "MAEU", "poll_interval": "1m"}, "poll_interval"},
		{"poll interval not a duration", map[string]any{"booking_number": "BK400003", "carrier_code": "MAEU", "poll_interval": "often"}, "poll_interval"},
		{"poll interval ok", map[string]any{"booking_number": "BK400004", "carrier_code": "MAEU", "poll_interval": "2h"}, ""},
		{"too much metadata", map[string]any{"booking_number": "BK400005", "carrier_code": "MAEU", "metadata": manyKeys(references.MaxMetadataKeys + 1)}, "metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.do(t, http.MethodPost, "/references", b.keyA, tt.body)
			if tt.field == "" {
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("status %d, want 201: %s", resp.StatusCode, body)
				}
				return
			}
			wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeInvalid, tt.field)
		})
	}
}

func manyKeys(n int) map[string]string {
	m := map[string]string{}
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	return m
}

func TestCreateReference_HTTPCallbackOnlyWhenAllowed(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.service.AllowInsecureCallbacks = true })
	b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU", "callback_url": "http://127.0.0.1:9/h"})
}

func TestCreateReference_UnreadableBodies(t *testing.T) {
	b := setup(t)
	tests := []struct {
		name, body, contentType string
		status                  int
		code, field, inMessage  string
	}{
		{"unknown field", `{"container_id":"CSQU3054383","carrier_code":"MAEU","colour":"red"}`, "", 400, codeBadRequest, "colour", `"colour"`},
		{"unknown field is named even when nested later", `{"carrier_code":"MAEU","metadata":{},"callbackurl":"x"}`, "", 400, codeBadRequest, "callbackurl", "callbackurl"},
		{"string as number", `{"container_id":5,"carrier_code":"MAEU"}`, "", 400, codeBadRequest, "container_id", "container_id must be a string"},
		{"event_types not an array", `{"booking_number":"BK123456","carrier_code":"MAEU","event_types":"shipment.updated"}`, "", 400, codeBadRequest, "event_types", "array of strings"},
		{"metadata value not a string", `{"booking_number":"BK123456","carrier_code":"MAEU","metadata":{"a":1}}`, "", 400, codeBadRequest, "metadata", "each value in metadata must be a string"},
		{"metadata an array", `{"booking_number":"BK123456","carrier_code":"MAEU","metadata":[]}`, "", 400, codeBadRequest, "metadata", "object"},
		{"poll_interval a number", `{"booking_number":"BK123456","carrier_code":"MAEU","poll_interval":900}`, "", 400, codeBadRequest, "poll_interval", "poll_interval"},
		{"malformed", `{"container_id":`, "", 400, codeBadRequest, "", "malformed JSON"},
		{"syntax error", `{"container_id" "x"}`, "", 400, codeBadRequest, "", "malformed JSON"},
		{"trailing object", `{"booking_number":"BK123456","carrier_code":"MAEU"}{"a":1}`, "", 400, codeBadRequest, "", "after the JSON object"},
		{"trailing garbage", `{"booking_number":"BK123456","carrier_code":"MAEU"} x`, "", 400, codeBadRequest, "", "after the JSON object"},
		{"empty", ``, "", 400, codeBadRequest, "", "empty"},
		{"array", `[{"booking_number":"BK123456"}]`, "", 400, codeBadRequest, "", "JSON object"},
		{"null", `null`, "", 400, codeBadRequest, "", "JSON object"},
		{"text content type", `{"booking_number":"BK123456","carrier_code":"MAEU"}`, "text/plain", 415, codeUnsupportedMediaType, "", "application/json"},
		{"form content type", `a=b`, "application/x-www-form-urlencoded", 415, codeUnsupportedMediaType, "", "application/json"},
		{"unparsable content type", `{}`, "application/json; ===", 415, codeUnsupportedMediaType, "", "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			resp, body := b.do(t, http.MethodPost, "/references", b.keyA, tt.body, "Content-Type", ct)
			d := wantError(t, resp, body, tt.status, tt.code, tt.field)
			if !strings.Contains(d.Message, tt.inMessage) {
				t.Errorf("message %q does not contain %q", d.Message, tt.inMessage)
			}
		})
	}
}

func TestCreateReference_ContentTypeVariantsAccepted(t *testing.T) {
	b := setup(t)
	for i, ct := range []string{"", "application/json; charset=utf-8", "APPLICATION/JSON", "application/vnd.trackhook+json"} {
		t.Run(ct, func(t *testing.T) {
			body := fmt.Sprintf(`{"booking_number":"BK50000%d","carrier_code":"MAEU"}`, i)
			req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/references", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+b.keyA)
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			resp, err := b.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d", resp.StatusCode)
			}
		})
	}
}

func TestCreateReference_BodyLimit(t *testing.T) {
	b := setup(t)
	// A valid body padded with spaces to exactly the limit is read; one byte more is not.
	valid := `{"booking_number":"BK123456","carrier_code":"MAEU"}`
	atLimit := valid + strings.Repeat(" ", DefaultBodyLimit-len(valid))

	resp, body := b.do(t, http.MethodPost, "/references", b.keyA, atLimit)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("body of exactly %d bytes: status %d: %s", len(atLimit), resp.StatusCode, body)
	}
	resp, body = b.do(t, http.MethodPost, "/references", b.keyA, atLimit+" ")
	wantError(t, resp, body, http.StatusRequestEntityTooLarge, codeTooLarge, "")

	// Without a Content-Length the limit holds while reading.
	t.Run("chunked", func(t *testing.T) {
		r, w := io.Pipe()
		go func() {
			_, _ = w.Write([]byte(atLimit + " "))
			_ = w.Close()
		}()
		req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/references", r)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+b.keyA)
		resp, err := b.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if req.ContentLength != -1 && req.ContentLength != 0 {
			t.Fatalf("request has a Content-Length %d; the test needs a streamed body", req.ContentLength)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
	})
}

func TestBodyLimit_Configurable(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.api.BodyLimit = 64 })
	resp, body := b.do(t, http.MethodPost, "/references", b.keyA, `{"booking_number":"BK123456","carrier_code":"MAEU","metadata":{"a":"b"}}`)
	wantError(t, resp, body, http.StatusRequestEntityTooLarge, codeTooLarge, "")
}

func TestCreateReference_ConflictNamesExistingReference(t *testing.T) {
	b := setup(t)
	req := map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU"}
	first := b.create(t, b.keyA, req)

	// Same identifier, written differently: still the same shipment.
	resp, body := b.do(t, http.MethodPost, "/references", b.keyA, map[string]any{"container_id": "csqu3054383", "carrier_code": "maeu"})
	d := wantError(t, resp, body, http.StatusConflict, references.CodeConflict, "")
	if d.ReferenceID != first.ID {
		t.Errorf("reference_id %q, want %q", d.ReferenceID, first.ID)
	}

	// Another carrier, or another account, is another reference.
	b.create(t, b.keyA, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MSCU"})
	b.create(t, b.keyB, req)

	// Once unsubscribed, the identifier can be tracked again.
	if resp, body := b.do(t, http.MethodDelete, "/references/"+first.ID, b.keyA, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	again := b.create(t, b.keyA, req)
	if again.ID == first.ID {
		t.Error("re-created reference has the old id")
	}
}

func TestCreateReference_Idempotency(t *testing.T) {
	b := setup(t)
	req := map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"}
	idem := []string{"Idempotency-Key", "order-4711"}

	resp1, body1 := b.do(t, http.MethodPost, "/references", b.keyA, req, idem...)
	resp2, body2 := b.do(t, http.MethodPost, "/references", b.keyA, req, idem...)
	if resp1.StatusCode != http.StatusCreated || resp2.StatusCode != http.StatusCreated {
		t.Fatalf("statuses %d, %d: %s %s", resp1.StatusCode, resp2.StatusCode, body1, body2)
	}
	ref1, ref2 := decode[Reference](t, body1), decode[Reference](t, body2)
	if ref1.ID != ref2.ID {
		t.Errorf("replay created another reference: %s, %s", ref1.ID, ref2.ID)
	}
	if resp1.Header.Get("Idempotent-Replayed") != "" || resp2.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("Idempotent-Replayed: first %q, replay %q", resp1.Header.Get("Idempotent-Replayed"), resp2.Header.Get("Idempotent-Replayed"))
	}

	t.Run("same key, different body", func(t *testing.T) {
		resp, body := b.do(t, http.MethodPost, "/references", b.keyA, map[string]any{"booking_number": "BK999999", "carrier_code": "MAEU"}, idem...)
		wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeIdempotencyMismatch, "")
	})
	t.Run("same key, other account", func(t *testing.T) {
		ref := b.create(t, b.keyB, req)
		if ref.ID == ref1.ID || ref.AccountID != accountB {
			t.Errorf("account B got %+v", ref)
		}
	})
	t.Run("key too long", func(t *testing.T) {
		resp, body := b.do(t, http.MethodPost, "/references", b.keyA, map[string]any{"booking_number": "BK777777", "carrier_code": "MAEU"},
			"Idempotency-Key", strings.Repeat("k", references.MaxIdempotencyKeyLen+1))
		wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeInvalid, "Idempotency-Key")
	})
}

// Issue 11, item 12: the same booking in lower case with the same Idempotency-Key was
// refused as another request (422), though the service stores it in capitals.
func TestCreateReference_IdempotencyComparesTheNormalisedRequest(t *testing.T) {
	b := setup(t)
	tests := []struct {
		name          string
		first, retry  map[string]any
		wantMismatch  bool
		idempotencyID string
	}{
		{"lower-case booking", map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"},
			map[string]any{"booking_number": "bk123456", "carrier_code": "maeu"}, false, "k-booking"},
		{"container as printed", map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU"},
			map[string]any{"container_id": "mscu 123456-6", "carrier_code": " mscu "}, false, "k-container"},
		{"repeated event type", map[string]any{"bill_of_lading": "MAEU123456789", "carrier_code": "MAEU", "event_types": []string{"tracking.failed"}},
			map[string]any{"bill_of_lading": "MAEU123456789", "carrier_code": "MAEU", "event_types": []string{"tracking.failed", "tracking.failed"}}, false, "k-types"},
		{"another booking", map[string]any{"booking_number": "BK777777", "carrier_code": "MAEU"},
			map[string]any{"booking_number": "bk777778", "carrier_code": "maeu"}, true, "k-other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idem := []string{"Idempotency-Key", tt.idempotencyID}
			resp, body := b.do(t, http.MethodPost, "/references", b.keyA, tt.first, idem...)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("first: %d %s", resp.StatusCode, body)
			}
			first := decode[Reference](t, body)
			resp, body = b.do(t, http.MethodPost, "/references", b.keyA, tt.retry, idem...)
			if tt.wantMismatch {
				wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeIdempotencyMismatch, "")
				return
			}
			if resp.StatusCode != http.StatusCreated || resp.Header.Get("Idempotent-Replayed") != "true" || decode[Reference](t, body).ID != first.ID {
				t.Errorf("retry in another spelling: %d, replayed %q: %s; want the first reference replayed", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), body)
			}
		})
	}
}

// A key stored by a version that hashed the body as sent still replays that body.
func TestCreateReference_IdempotencyKeyOfAnEarlierVersionStillReplays(t *testing.T) {
	b := setup(t)
	const sent = `{"booking_number":"bk123456","carrier_code":"maeu"}`
	var raw createBody
	if err := parseJSON([]byte(sent), &raw, false); err != nil {
		t.Fatal(err)
	}
	earlier, _, err := b.svc.Create(context.Background(), accountA, references.CreateRequest{
		BookingNumber: "BK123456", CarrierCode: "MAEU", RequestHash: raw.requestHash(nil), // as earlier versions stored it
	}, "k-upgrade")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := b.do(t, http.MethodPost, "/references", b.keyA, sent, "Idempotency-Key", "k-upgrade")
	if resp.StatusCode != http.StatusCreated || decode[Reference](t, body).ID != earlier.ID {
		t.Fatalf("retry after the upgrade: %d %s; want %s replayed", resp.StatusCode, body, earlier.ID)
	}
}

func TestReferenceRoutes_OwnAccount(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU", "callback_url": "https://example.com/h"})
	ups := b.seedUpdates(t, ref.ID, 2)
	b.seedAttempts(t, ref.ID, 1)

	tests := []struct {
		method, path string
		body         any
		status       int
	}{
		{http.MethodGet, "/references/" + ref.ID, nil, http.StatusOK},
		{http.MethodPatch, "/references/" + ref.ID, map[string]any{"event_types": []string{"shipment.updated"}}, http.StatusOK},
		{http.MethodGet, "/references/" + ref.ID + "/updates", nil, http.StatusOK},
		{http.MethodGet, "/references/" + ref.ID + "/deliveries", nil, http.StatusOK},
		{http.MethodPost, "/references/" + ref.ID + "/updates/" + ups[1].ID + "/redeliver", nil, http.StatusAccepted},
		{http.MethodDelete, "/references/" + ref.ID, nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := b.do(t, tt.method, tt.path, b.keyA, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
		})
	}
}

func TestReferenceRoutes_OtherAccountIsNotFound(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU", "callback_url": "https://example.com/h"})
	ups := b.seedUpdates(t, ref.ID, 1)
	b.seedAttempts(t, ref.ID, 1)

	tests := []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/references/" + ref.ID, nil},
		{http.MethodDelete, "/references/" + ref.ID, nil},
		{http.MethodPatch, "/references/" + ref.ID, map[string]any{"callback_url": "https://evil.example/h"}},
		{http.MethodGet, "/references/" + ref.ID + "/updates", nil},
		{http.MethodGet, "/references/" + ref.ID + "/deliveries", nil},
		{http.MethodGet, "/references/" + ref.ID + "/shipment", nil},
		{http.MethodPost, "/references/" + ref.ID + "/updates/" + ups[0].ID + "/redeliver", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := b.do(t, tt.method, tt.path, b.keyB, tt.body)
			wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
		})
	}

	// None of it touched A's reference, and B's list does not show it.
	resp, body := b.do(t, http.MethodGet, "/references/"+ref.ID, b.keyA, nil)
	got := decode[Reference](t, body)
	if resp.StatusCode != http.StatusOK || got.Status != references.StatusActive || got.CallbackURL != "https://example.com/h" {
		t.Errorf("A's reference after B's requests: %d %s", resp.StatusCode, body)
	}
	resp, body = b.do(t, http.MethodGet, "/references", b.keyB, nil)
	if page := decode[ReferencePage](t, body); resp.StatusCode != http.StatusOK || len(page.References) != 0 {
		t.Errorf("B's list: %d %s", resp.StatusCode, body)
	}
}

func TestReferenceRoutes_JunkIDsAreNotFound(t *testing.T) {
	b := setup(t)
	ids := []string{
		strings.Repeat("A", maxPathIDLen+1),
		"ref_..",
		url.PathEscape("../../etc/passwd"),
		"ref%00x",
		url.PathEscape("réf_1"),
		"ref_X%2Fupdates",
	}
	for _, id := range ids {
		for _, suffix := range []string{"", "/updates", "/deliveries", "/shipment", "/updates/upd_X/redeliver"} {
			method := http.MethodGet
			if strings.HasSuffix(suffix, "redeliver") {
				method = http.MethodPost
			}
			t.Run(id+suffix, func(t *testing.T) {
				resp, body := b.do(t, method, "/references/"+id+suffix, b.keyA, nil)
				d := wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
				// The guard's own message: the store was not asked.
				if d.Message != "reference not found" {
					t.Errorf("message %q", d.Message)
				}
			})
		}
	}
	t.Run("junk update id", func(t *testing.T) {
		resp, body := b.do(t, http.MethodPost, "/references/ref_X/updates/"+strings.Repeat("u", 65)+"/redeliver", b.keyA, nil)
		d := wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
		if d.Message != "update not found" {
			t.Errorf("message %q", d.Message)
		}
	})
	t.Run("well-formed unknown id reaches the store", func(t *testing.T) {
		resp, body := b.do(t, http.MethodGet, "/references/ref_NOSUCH", b.keyA, nil)
		d := wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
		if !strings.Contains(d.Message, "ref_NOSUCH") {
			t.Errorf("message %q", d.Message)
		}
	})
}

func TestListReferences_WalksAllPagesInCreationOrder(t *testing.T) {
	b := setup(t)
	var created []string
	for i := 0; i < 23; i++ {
		created = append(created, b.create(t, b.keyA, map[string]any{"container_id": containerID(i), "carrier_code": "MAEU"}).ID)
		b.create(t, b.keyB, map[string]any{"container_id": containerID(i), "carrier_code": "MAEU"})
		b.clock.Advance(time.Second)
	}

	walk := func(t *testing.T, query string, limit int) []string {
		t.Helper()
		var ids []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 30 {
				t.Fatal("pagination does not end")
			}
			q := url.Values{"limit": {fmt.Sprint(limit)}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			resp, body := b.do(t, http.MethodGet, "/references?"+q.Encode()+query, b.keyA, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			page := decode[ReferencePage](t, body)
			if len(page.References) > limit {
				t.Fatalf("page of %d with limit %d", len(page.References), limit)
			}
			for _, r := range page.References {
				if r.AccountID != accountA {
					t.Fatalf("account B's reference %s in A's list", r.ID)
				}
				ids = append(ids, r.ID)
			}
			if page.NextCursor == "" {
				return ids
			}
			cursor = page.NextCursor
		}
	}

	for _, limit := range []int{1, 5, 23, 500} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			got := walk(t, "", limit)
			if strings.Join(got, ",") != strings.Join(created, ",") {
				t.Errorf("walk gave\n%v\nwant creation order\n%v", got, created)
			}
		})
	}

	t.Run("status filter", func(t *testing.T) {
		for _, id := range created[3:6] {
			if resp, body := b.do(t, http.MethodDelete, "/references/"+id, b.keyA, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("delete: %s", body)
			}
		}
		active, gone := walk(t, "&status=active", 4), walk(t, "&status=unsubscribed", 4)
		if len(active) != 20 || strings.Join(gone, ",") != strings.Join(created[3:6], ",") {
			t.Errorf("active %d, unsubscribed %v", len(active), gone)
		}
	})

	t.Run("empty list is an empty array", func(t *testing.T) {
		other := setup(t)
		_, body := other.do(t, http.MethodGet, "/references", other.keyA, nil)
		if !strings.Contains(string(body), `"references":[]`) {
			t.Errorf("body %s", body)
		}
	})
}

func TestListRoutes_BadQueryParameters(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"})
	base := "/references/" + ref.ID
	tests := []struct{ path, field string }{
		{"/references?limit=0", "limit"},
		{"/references?limit=-1", "limit"},
		{"/references?limit=501", "limit"},
		{"/references?limit=ten", "limit"},
		{"/references?status=lost", "status"},
		{"/references?cursor=%21%21", "cursor"},
		{base + "/updates?limit=501", "limit"},
		{base + "/updates?after=-1", "after"},
		{base + "/updates?after=x", "after"},
		{base + "/deliveries?limit=0", "limit"},
		{base + "/deliveries?cursor=nope", "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := b.do(t, http.MethodGet, tt.path, b.keyA, nil)
			wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeInvalid, tt.field)
		})
	}
}

func TestUnsubscribe_IsIdempotent(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"})
	var first Reference
	for i := 0; i < 2; i++ {
		resp, body := b.do(t, http.MethodDelete, "/references/"+ref.ID, b.keyA, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delete %d: status %d: %s", i, resp.StatusCode, body)
		}
		got := decode[Reference](t, body)
		if got.Status != references.StatusUnsubscribed || got.UnsubscribeReason != references.ReasonUser || got.UnsubscribedAt == nil {
			t.Fatalf("delete %d: %s", i, body)
		}
		if i == 0 {
			first = got
			b.clock.Advance(time.Hour)
		} else if !got.UnsubscribedAt.Equal(*first.UnsubscribedAt) {
			t.Errorf("second delete moved unsubscribed_at from %v to %v", first.UnsubscribedAt, got.UnsubscribedAt)
		}
	}
	resp, body := b.do(t, http.MethodGet, "/references/"+ref.ID, b.keyA, nil)
	if got := decode[Reference](t, body); resp.StatusCode != http.StatusOK || got.Status != references.StatusUnsubscribed {
		t.Errorf("get after delete: %d %s", resp.StatusCode, body)
	}
}

// Issue 11, item 25: a user's DELETE emitted no reference.unsubscribed update, and its
// callback heard nothing more, while every automatic end sends one.
func TestUnsubscribe_EndsTheFeedAndTheCallbackGetsItAfterWhatIsPending(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU", "callback_url": "https://example.com/h"})
	ups := b.seedUpdates(t, ref.ID, 1) // not delivered yet
	resp, body := b.do(t, http.MethodDelete, "/references/"+ref.ID, b.keyA, nil)
	if got := decode[Reference](t, body); resp.StatusCode != http.StatusOK || got.LastSequence != 2 {
		t.Fatalf("delete: %d %s; want 200 with the final update counted", resp.StatusCode, body)
	}
	resp, body = b.do(t, http.MethodGet, "/references/"+ref.ID+"/updates", b.keyA, nil)
	feed := decode[UpdatePage](t, body).Updates
	if resp.StatusCode != http.StatusOK || len(feed) != 2 || feed[1].Type != references.UpdateUnsubscribed ||
		feed[1].UnsubscribeReason != references.ReasonUser || feed[1].Sequence != 2 {
		t.Fatalf("feed after delete: %d %s; want the pending update, then reference.unsubscribed (user)", resp.StatusCode, body)
	}

	// The notifier is still handed the pending update, then the final one.
	ctx := context.Background()
	claim, err := b.db.ClaimDelivery(ctx, testOwner, ref.ID, time.Minute)
	if err != nil || claim.Job.Update.ID != ups[0].ID {
		t.Fatalf("claim after delete: %+v, %v; want the pending update", claim.Job.Update, err)
	}
	for _, want := range []string{ups[0].ID, feed[1].ID} {
		job := claim.Job
		if job.Update.ID != want || job.Reference.CallbackURL != "https://example.com/h" {
			t.Fatalf("job %s to %q, want %s to the callback", job.Update.ID, job.Reference.CallbackURL, want)
		}
		a := references.DeliveryAttempt{ReferenceID: ref.ID, UpdateID: job.Update.ID, Sequence: job.Update.Sequence, Attempt: job.Attempt,
			URL: job.Reference.CallbackURL, At: b.clock.Now(), StatusCode: 204, Outcome: references.OutcomeDelivered}
		if _, err := b.db.RecordAttempt(ctx, claim.Lease, job, a, ""); err != nil {
			t.Fatal(err)
		}
		if job, err := b.db.NextDelivery(ctx, claim.Lease); err == nil {
			claim.Job = job
		} else if !errors.Is(err, references.ErrNothingToDeliver) || want != feed[1].ID {
			t.Fatalf("next delivery after %s: %v", want, err)
		}
	}

	// And a redelivery may still be asked for, as after an automatic end.
	resp, body = b.do(t, http.MethodPost, "/references/"+ref.ID+"/updates/"+ups[0].ID+"/redeliver", b.keyA, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("redeliver after delete: %d %s, want 202", resp.StatusCode, body)
	}
}

func TestPatchReference(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU", "event_types": []string{"tracking.failed"}})
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		field  string
		check  func(t *testing.T, r Reference)
	}{
		{"set callback", `{"callback_url":"https://example.com/new"}`, 200, "", "", func(t *testing.T, r Reference) {
			if r.CallbackURL != "https://example.com/new" || len(r.EventTypes) != 1 {
				t.Errorf("%+v", r)
			}
		}},
		{"set event types", `{"event_types":["shipment.updated","reference.unsubscribed"]}`, 200, "", "", func(t *testing.T, r Reference) {
			if len(r.EventTypes) != 2 || r.CallbackURL != "https://example.com/new" {
				t.Errorf("%+v", r)
			}
		}},
		{"clear both", `{"callback_url":"","event_types":[]}`, 200, "", "", func(t *testing.T, r Reference) {
			if r.CallbackURL != "" || len(r.EventTypes) != 0 {
				t.Errorf("%+v", r)
			}
		}},
		{"nothing to change", `{}`, 422, references.CodeInvalid, "callback_url", nil},
		{"bad callback", `{"callback_url":"http://example.com/h"}`, 422, references.CodeInvalid, "callback_url", nil},
		{"bad event type", `{"event_types":["x"]}`, 422, references.CodeInvalid, "event_types", nil},
		{"unknown field", `{"carrier_code":"MSCU"}`, 400, codeBadRequest, "carrier_code", nil},
		{"wrong type", `{"event_types":"shipment.updated"}`, 400, codeBadRequest, "event_types", nil},
		{"empty body", ``, 400, codeBadRequest, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.do(t, http.MethodPatch, "/references/"+ref.ID, b.keyA, tt.body)
			if tt.code != "" {
				wantError(t, resp, body, tt.status, tt.code, tt.field)
				return
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			tt.check(t, decode[Reference](t, body))
		})
	}
	t.Run("unsubscribed reference", func(t *testing.T) {
		b.do(t, http.MethodDelete, "/references/"+ref.ID, b.keyA, nil)
		resp, body := b.do(t, http.MethodPatch, "/references/"+ref.ID, b.keyA, `{"event_types":[]}`)
		wantError(t, resp, body, http.StatusConflict, references.CodeConflict, "")
	})
}

func TestListUpdates_WalksTheFeed(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"})
	b.seedUpdates(t, ref.ID, 7)

	var seqs []uint64
	after := uint64(0)
	for pages := 0; pages < 10; pages++ {
		resp, body := b.do(t, http.MethodGet, fmt.Sprintf("/references/%s/updates?after=%d&limit=3", ref.ID, after), b.keyA, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		page := decode[UpdatePage](t, body)
		if len(page.Updates) == 0 {
			if page.NextAfter != after {
				t.Errorf("empty page moved next_after from %d to %d", after, page.NextAfter)
			}
			if !strings.Contains(string(body), `"updates":[]`) {
				t.Errorf("empty page body %s", body)
			}
			break
		}
		for _, u := range page.Updates {
			if u.ReferenceID != ref.ID {
				t.Errorf("update of %s in feed of %s", u.ReferenceID, ref.ID)
			}
			seqs = append(seqs, u.Sequence)
		}
		after = page.NextAfter
	}
	if fmt.Sprint(seqs) != "[1 2 3 4 5 6 7]" {
		t.Errorf("sequences %v", seqs)
	}
}

func TestListDeliveries_NewestFirstAcrossPages(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU", "callback_url": "https://example.com/h"})
	b.seedUpdates(t, ref.ID, 1)
	b.seedAttempts(t, ref.ID, 7)

	var attempts []int
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		path := "/references/" + ref.ID + "/deliveries?limit=3"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		resp, body := b.do(t, http.MethodGet, path, b.keyA, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		page := decode[DeliveryPage](t, body)
		for _, d := range page.Deliveries {
			attempts = append(attempts, d.Attempt)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if fmt.Sprint(attempts) != "[7 6 5 4 3 2 1]" {
		t.Errorf("attempts %v, want newest first without duplicates", attempts)
	}

	t.Run("none yet is an empty array", func(t *testing.T) {
		other := b.create(t, b.keyA, map[string]any{"booking_number": "BK654321", "carrier_code": "MAEU"})
		_, body := b.do(t, http.MethodGet, "/references/"+other.ID+"/deliveries", b.keyA, nil)
		if !strings.Contains(string(body), `"deliveries":[]`) {
			t.Errorf("body %s", body)
		}
	})
}

func TestRedeliver(t *testing.T) {
	b := setup(t)
	withCallback := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU", "callback_url": "https://example.com/h"})
	ups := b.seedUpdates(t, withCallback.ID, 2)
	feedOnly := b.create(t, b.keyA, map[string]any{"booking_number": "BK654321", "carrier_code": "MAEU"})
	feedUps := b.seedUpdates(t, feedOnly.ID, 1)

	t.Run("queued", func(t *testing.T) {
		resp, body := b.do(t, http.MethodPost, "/references/"+withCallback.ID+"/updates/"+ups[0].ID+"/redeliver", b.keyA, nil)
		if resp.StatusCode != http.StatusAccepted || decode[queuedBody](t, body).Status != "queued" {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		ctx := context.Background()
		claims, err := b.db.ClaimDueDeliveries(ctx, testOwner, 10, time.Minute)
		var jobs []references.DeliveryJob
		for _, c := range claims {
			if c.Job.Redelivery {
				jobs = append(jobs, c.Job)
			}
			if err := b.db.ReleaseLease(ctx, c.Lease); err != nil {
				t.Errorf("release lease: %v", err)
			}
		}
		if err != nil || len(jobs) != 1 || jobs[0].Update.ID != ups[0].ID {
			t.Errorf("queued redeliveries %+v, %v", jobs, err)
		}
	})
	t.Run("unknown update", func(t *testing.T) {
		resp, body := b.do(t, http.MethodPost, "/references/"+withCallback.ID+"/updates/upd_NOSUCH/redeliver", b.keyA, nil)
		wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
	})
	t.Run("update of another reference", func(t *testing.T) {
		resp, body := b.do(t, http.MethodPost, "/references/"+withCallback.ID+"/updates/"+feedUps[0].ID+"/redeliver", b.keyA, nil)
		wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
	})
	t.Run("no callback", func(t *testing.T) {
		resp, body := b.do(t, http.MethodPost, "/references/"+feedOnly.ID+"/updates/"+feedUps[0].ID+"/redeliver", b.keyA, nil)
		wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeInvalid, "callback_url")
	})
}

func TestStore_ReopenedFileKeepsData(t *testing.T) {
	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU"})
	b.srv.Close()
	if err := b.db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := store.Open(b.path, store.Options{NoSync: true, Clock: b.clock})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	b.db = db
	b.svc = references.NewService(db, references.ServiceOptions{Now: b.clock.Now})
	b.e = New(b.svc, Options{Backup: db, Now: b.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	b.srv = httptest.NewServer(b.e)
	t.Cleanup(b.srv.Close)

	resp, body := b.do(t, http.MethodGet, "/references/"+ref.ID, b.keyA, nil)
	if got := decode[Reference](t, body); resp.StatusCode != http.StatusOK || got.ContainerID != "CSQU3054383" {
		t.Fatalf("after reopen: %d %s", resp.StatusCode, body)
	}
	// The key and the identifier index survived too.
	resp, body = b.do(t, http.MethodPost, "/references", b.keyA, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU"})
	if d := wantError(t, resp, body, http.StatusConflict, references.CodeConflict, ""); d.ReferenceID != ref.ID {
		t.Errorf("conflict names %q, want %q", d.ReferenceID, ref.ID)
	}
}

// Every field of the create body is carried over: a body setting them all gives a
// request setting them all.
func TestCreateBody_CarriesEveryField(t *testing.T) {
	// Lower case, so that normalising changes the request and the legacy hash is set.
	b := createBody{"mscu1234566", "maeu123456789", "bk123456", "maeu", "e", []string{"shipment.updated"}, map[string]string{"g": "h"}, json.RawMessage(`"15m"`)}
	req, err := b.request()
	if err != nil {
		t.Fatal(err)
	}
	rv := reflect.ValueOf(req)
	for i := 0; i < rv.NumField(); i++ {
		if rv.Field(i).IsZero() {
			t.Errorf("request() drops %s", rv.Type().Field(i).Name)
		}
	}
}

// The hash an Idempotency-Key is checked against is stored with the key: it must stay
// what it was when the hash was taken by the service, or a retry after an upgrade
// would be refused as another request. The old hashes below were computed by the
// versions that hashed the body as sent. A body already in normal form keeps its hash;
// one that normalising changes (lower case, spaces) gets the hash of its normal form,
// and carries the old one as LegacyRequestHash, which still matches a stored key.
func TestCreateBody_RequestHashIsUnchanged(t *testing.T) {
	tests := []struct{ body, old, normalised string }{
		{`{"container_id":"mscu 123456-6","carrier_code":"mscu","callback_url":"https://hooks.alpha.example/trackhook","metadata":{"order":"PO-4471"}}`,
			"8479313faf183ee17c569b4ab4138b30bdd90f41108f276085e8ec6e1a818de0",
			"2f52828b146f3466fe9c0f79bb23b2be13fac86ce2e14128e7ebedeea934b777"},
		{`{"poll_interval":"90m","metadata":{"b":"2","a":"<&>"},"event_types":["shipment.updated"],"carrier_code":"HLCU","booking_number":"BK123456"}`,
			"d5423e0974bd1e6be3bddb0c79fdc30f1e90618c07f7d6cd26f6c38ad2f1290b", ""},
		{`{"bill_of_lading":"MAEU123456789","carrier_code":"MAEU","event_types":[],"metadata":{},"poll_interval":null,"callback_url":""}`,
			"2542587e6dab3b10338829378ec9271d1c4fe07b0c253206a1361d92fae54340", ""},
	}
	for _, tt := range tests {
		req := parseCreate(t, tt.body)
		switch {
		case tt.normalised == "" && (req.RequestHash != tt.old || req.LegacyRequestHash != ""):
			t.Errorf("%s: hashes %s, %q; want %s and no legacy one", tt.body, req.RequestHash, req.LegacyRequestHash, tt.old)
		case tt.normalised != "" && (req.RequestHash != tt.normalised || req.LegacyRequestHash != tt.old):
			t.Errorf("%s: hashes %s, %s; want %s, legacy %s", tt.body, req.RequestHash, req.LegacyRequestHash, tt.normalised, tt.old)
		}
	}
	// The normalised hash of the first body is the old hash of the body in capitals.
	upper := parseCreate(t, `{"container_id":"MSCU1234566","carrier_code":"MSCU","callback_url":"https://hooks.alpha.example/trackhook","metadata":{"order":"PO-4471"}}`)
	if upper.RequestHash != tests[0].normalised || upper.LegacyRequestHash != "" {
		t.Errorf("the first body in capitals hashes to %s (legacy %q), want %s", upper.RequestHash, upper.LegacyRequestHash, tests[0].normalised)
	}
}

// parseCreate reads a create body as the handler does.
func parseCreate(t *testing.T, body string) references.CreateRequest {
	t.Helper()
	var b createBody
	if err := parseJSON([]byte(body), &b, false); err != nil {
		t.Fatal(err)
	}
	req, err := b.request()
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func BenchmarkGetReference(b *testing.B) {
	tb := setup(b)
	ref := tb.create(b, tb.keyA, map[string]any{"container_id": "CSQU3054383", "carrier_code": "MAEU"})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/references/"+ref.ID, nil)
		req.Header.Set("Authorization", "Bearer "+tb.keyA)
		tb.e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Body.String())
		}
	}
}

func BenchmarkCreateReference(b *testing.B) {
	tb := setup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		body := fmt.Sprintf(`{"booking_number":"BK%08d","carrier_code":"MAEU"}`, i)
		req := httptest.NewRequest(http.MethodPost, "/references", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tb.keyA)
		tb.e.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatal(rec.Body.String())
		}
	}
}
