package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// createEndpoint posts an endpoint for the key's account and fails the test unless
// it is 201.
func (b *testBundle) createEndpoint(t testing.TB, key string, req map[string]any) Endpoint {
	t.Helper()
	resp, body := b.do(t, http.MethodPost, "/endpoints", key, req)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create endpoint %v: status %d: %s", req, resp.StatusCode, body)
	}
	return decode[Endpoint](t, body)
}

// endpointSecrets returns GET /endpoints/:id/secret, failing the test unless it is 200.
func (b *testBundle) endpointSecrets(t testing.TB, key, id string) secretsBody {
	t.Helper()
	resp, body := b.do(t, http.MethodGet, "/endpoints/"+id+"/secret", key, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("endpoint secret: status %d: %s", resp.StatusCode, body)
	}
	return decode[secretsBody](t, body)
}

const hookURL = "https://hooks.example.com/trackhook"

func TestCreateEndpoint_TakesTheDefaults(t *testing.T) {
	b := setup(t)
	resp, body := b.do(t, http.MethodPost, "/endpoints", b.keyA, map[string]any{"url": hookURL})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	ep := decode[Endpoint](t, body)
	if !strings.HasPrefix(ep.ID, "ep_") || ep.AccountID != accountA || ep.URL != hookURL {
		t.Errorf("endpoint %+v", ep)
	}
	if got := resp.Header.Get("Location"); got != "/endpoints/"+ep.ID {
		t.Errorf("Location %q", got)
	}
	if !ep.Enabled || ep.Format != references.FormatStandard || ep.Headers != references.HeadersStandard || ep.BatchSize != 0 ||
		time.Duration(ep.DisableAfter) != references.DefaultDisableAfter || ep.MaxAttempts != 0 || ep.RetryWindow != 0 || ep.MinETAChange != 0 {
		t.Errorf("defaults %+v", ep)
	}
	if ep.DisabledReason != "" || ep.DisabledAt != nil || ep.FailingSince != nil || !ep.CreatedAt.Equal(b.clock.Now()) {
		t.Errorf("state %+v", ep)
	}
	// Empty settings are [] and {}, never null.
	for _, want := range []string{`"event_types":[]`, `"filter":{"carrier_codes":[],"metadata":{}}`, `"min_eta_change":"0s"`, `"disable_after":"120h0m0s"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %s: %s", want, body)
		}
	}

	// The body shows a hint of the secret, never the secret.
	secrets := b.endpointSecrets(t, b.keyA, ep.ID)
	if !strings.HasPrefix(secrets.Secret, "whsec_") || len(secrets.Secrets) != 1 {
		t.Fatalf("secrets %+v", secrets)
	}
	if want := "whsec_…" + secrets.Secret[len(secrets.Secret)-4:]; ep.SecretHint != want {
		t.Errorf("secret_hint %q, want %q", ep.SecretHint, want)
	}
	secretPart := strings.TrimPrefix(secrets.Secret, "whsec_")
	for _, path := range []string{"/endpoints/" + ep.ID, "/endpoints"} {
		_, got := b.do(t, http.MethodGet, path, b.keyA, nil)
		if strings.Contains(string(got), secretPart[:20]) {
			t.Errorf("GET %s shows the secret: %s", path, got)
		}
	}
	if strings.Contains(string(body), secretPart[:20]) {
		t.Errorf("the create answer shows the secret: %s", body)
	}
	// Account and endpoint secrets are not the same.
	resp, raw := b.do(t, http.MethodGet, "/account/webhook-secret", b.keyA, nil)
	if resp.StatusCode != http.StatusOK || decode[secretsBody](t, raw).Secret == secrets.Secret {
		t.Errorf("the endpoint signs with the account's secret: %s", raw)
	}
}

func TestCreateEndpoint_KeepsEverySetting(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{
		"url":            hookURL,
		"description":    "ETAs for the planning team",
		"event_types":    []string{"shipment.eta_changed", "shipment.milestone.*", "endpoint.disabled", "shipment.eta_changed"},
		"min_eta_change": "2h",
		"enabled":        false,
		"filter":         map[string]any{"carrier_codes": []string{"maeu", "MSCU"}, "metadata": map[string]string{"team": "planning"}},
		"format":         "batch",
		"batch_size":     20,
		"headers":        "svix",
		"max_attempts":   5,
		"disable_after":  "0s",
	})
	if ep.Description != "ETAs for the planning team" || time.Duration(ep.MinETAChange) != 2*time.Hour ||
		ep.Format != references.FormatBatch || ep.BatchSize != 20 || ep.Headers != references.HeadersSvix ||
		ep.MaxAttempts != 5 || ep.DisableAfter != 0 || ep.RetryWindow != 0 {
		t.Errorf("settings %+v", ep)
	}
	if got := strings.Join(ep.EventTypes, ","); got != "shipment.eta_changed,shipment.milestone.*,endpoint.disabled" {
		t.Errorf("event_types %q, want them once each in order", got)
	}
	if got := strings.Join(ep.Filter.CarrierCodes, ","); got != "MAEU,MSCU" || ep.Filter.Metadata["team"] != "planning" {
		t.Errorf("filter %+v", ep.Filter)
	}
	if ep.Enabled || ep.DisabledReason != references.DisabledByUser || ep.DisabledAt == nil {
		t.Errorf("created disabled: %+v", ep)
	}
	resp, body := b.do(t, http.MethodGet, "/endpoints/"+ep.ID, b.keyA, nil)
	if got := decode[Endpoint](t, body); resp.StatusCode != http.StatusOK || got.BatchSize != 20 || got.Filter.Metadata["team"] != "planning" || got.SecretHint != ep.SecretHint {
		t.Errorf("GET: %d %s", resp.StatusCode, body)
	}

	// A batch endpoint without batch_size gets the default; retry_window instead of
	// max_attempts.
	ep = b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL, "format": "batch", "retry_window": "90m"})
	if ep.BatchSize != references.DefaultBatchSize || time.Duration(ep.RetryWindow) != 90*time.Minute {
		t.Errorf("batch default %+v", ep)
	}
}

func TestCreateEndpoint_Validation(t *testing.T) {
	b := setup(t)
	ok := func(extra map[string]any) map[string]any {
		body := map[string]any{"url": hookURL}
		for k, v := range extra {
			body[k] = v
		}
		return body
	}
	many := func(n int, f func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	tests := []struct {
		name  string
		body  map[string]any
		field string // empty: 201 expected
	}{
		{"url only", ok(nil), ""},
		{"url missing", map[string]any{"description": "x"}, "url"},
		{"url http", ok(map[string]any{"url": "http://hooks.example.com/h"}), "url"},
		{"url user-info", ok(map[string]any{"url": "https://u:p@hooks.example.com/h"}), "url"},
		{"url relative", ok(map[string]any{"url": "/hooks"}), "url"},
		{"url other scheme", ok(map[string]any{"url": "ftp://hooks.example.com/h"}), "url"},
		{"url too long", ok(map[string]any{"url": "https://hooks.example.com/" + strings.Repeat("a", references.MaxCallbackURLLength)}), "url"},
		{"url empty", ok(map[string]any{"url": ""}), "url"},
		{"description at the limit", ok(map[string]any{"description": strings.Repeat("d", references.MaxEndpointDescriptionLen)}), ""},
		{"description too long", ok(map[string]any{"description": strings.Repeat("d", references.MaxEndpointDescriptionLen+1)}), "description"},
		{"event type unknown", ok(map[string]any{"event_types": []string{"shipment.sunk"}}), "event_types"},
		{"event type wildcard matching nothing", ok(map[string]any{"event_types": []string{"vessel.*"}}), "event_types"},
		{"event type wildcard in the middle", ok(map[string]any{"event_types": []string{"shipment.*.actual"}}), "event_types"},
		{"event type bare prefix", ok(map[string]any{"event_types": []string{"shipment"}}), "event_types"},
		{"event type prefix without dot", ok(map[string]any{"event_types": []string{"ship*"}}), "event_types"},
		{"event type test", ok(map[string]any{"event_types": []string{"endpoint.test"}}), "event_types"},
		{"event type empty string", ok(map[string]any{"event_types": []string{""}}), "event_types"},
		{"event types all", ok(map[string]any{"event_types": []string{"*"}}), ""},
		{"event types tags and operational", ok(map[string]any{"event_types": []string{"shipment.*", "message.attempt.exhausted"}}), ""},
		{"event types too many", ok(map[string]any{"event_types": many(references.MaxEndpointEventTypes+1, func(int) string { return "*" })}), "event_types"},
		{"min_eta_change not a duration", ok(map[string]any{"min_eta_change": "often"}), "min_eta_change"},
		{"min_eta_change without unit", ok(map[string]any{"min_eta_change": "2"}), "min_eta_change"},
		{"min_eta_change negative", ok(map[string]any{"min_eta_change": "-1h"}), "min_eta_change"},
		{"min_eta_change over 30 days", ok(map[string]any{"min_eta_change": "721h"}), "min_eta_change"},
		{"min_eta_change overflowing", ok(map[string]any{"min_eta_change": "9999999999h"}), "min_eta_change"},
		{"min_eta_change zero", ok(map[string]any{"min_eta_change": "0s"}), ""},
		{"filter carrier code bad", ok(map[string]any{"filter": map[string]any{"carrier_codes": []string{"M4EU"}}}), "filter.carrier_codes"},
		{"filter carrier code too long", ok(map[string]any{"filter": map[string]any{"carrier_codes": []string{"MAEUX"}}}), "filter.carrier_codes"},
		{"filter too many carriers", ok(map[string]any{"filter": map[string]any{"carrier_codes": many(references.MaxFilterCarrierCodes+1, func(i int) string { return fmt.Sprintf("A%c%c", 'A'+i/26, 'A'+i%26) })}}), "filter.carrier_codes"},
		{"filter too much metadata", ok(map[string]any{"filter": map[string]any{"metadata": manyKeys(references.MaxMetadataKeys + 1)}}), "filter.metadata"},
		{"filter metadata empty key", ok(map[string]any{"filter": map[string]any{"metadata": map[string]string{"": "x"}}}), "filter.metadata"},
		{"filter metadata value too long", ok(map[string]any{"filter": map[string]any{"metadata": map[string]string{"k": strings.Repeat("v", 513)}}}), "filter.metadata"},
		{"filter empty", ok(map[string]any{"filter": map[string]any{}}), ""},
		{"format unknown", ok(map[string]any{"format": "xml"}), "format"},
		{"format empty", ok(map[string]any{"format": ""}), "format"},
		{"batch_size zero", ok(map[string]any{"format": "batch", "batch_size": 0}), "batch_size"},
		{"batch_size over the limit", ok(map[string]any{"format": "batch", "batch_size": references.MaxBatchSize + 1}), "batch_size"},
		{"batch_size without batch", ok(map[string]any{"batch_size": 10}), "batch_size"},
		{"batch_size at the limit", ok(map[string]any{"format": "batch", "batch_size": references.MaxBatchSize}), ""},
		{"headers unknown", ok(map[string]any{"headers": "custom"}), "headers"},
		{"retry_window too short", ok(map[string]any{"retry_window": "30s"}), "retry_window"},
		{"retry_window too long", ok(map[string]any{"retry_window": "721h"}), "retry_window"},
		{"retry_window negative", ok(map[string]any{"retry_window": "-1h"}), "retry_window"},
		{"retry_window not a duration", ok(map[string]any{"retry_window": "a day"}), "retry_window"},
		{"max_attempts negative", ok(map[string]any{"max_attempts": -1}), "max_attempts"},
		{"max_attempts over the limit", ok(map[string]any{"max_attempts": references.MaxEndpointAttempts + 1}), "max_attempts"},
		{"max_attempts and retry_window", ok(map[string]any{"max_attempts": 5, "retry_window": "1h"}), "max_attempts"},
		{"disable_after negative", ok(map[string]any{"disable_after": "-1s"}), "disable_after"},
		{"disable_after over 30 days", ok(map[string]any{"disable_after": "721h"}), "disable_after"},
		{"disable_after not a duration", ok(map[string]any{"disable_after": "never"}), "disable_after"},
		{"vision6 policy", ok(map[string]any{"max_attempts": 5, "disable_after": "0s"}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.do(t, http.MethodPost, "/endpoints", b.keyA, tt.body)
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

// The bodies of POST /endpoints and PATCH /endpoints/:id that cannot be read: each is
// refused with 400 and the field at fault, before anything is looked up.
func TestEndpointBodies_Unreadable(t *testing.T) {
	b := setup(t)
	tests := []struct {
		name, body, field, inMessage string
	}{
		{"unknown field", `{"url":"` + hookURL + `","secret":"whsec_x"}`, "secret", `unknown field "secret"`},
		{"unknown field in the filter", `{"url":"` + hookURL + `","filter":{"carriers":["MAEU"]}}`, "carriers", `unknown field "carriers"`},
		{"url a number", `{"url":5}`, "url", "url must be a string"},
		{"description an object", `{"description":{}}`, "description", "description must be a string"},
		{"event_types a string", `{"event_types":"shipment.updated"}`, "event_types", "array of strings"},
		{"event_types of numbers", `{"event_types":[1]}`, "event_types", "event_types must be a string"},
		{"min_eta_change a number", `{"min_eta_change":7200}`, "min_eta_change", "min_eta_change"},
		{"min_eta_change an object", `{"min_eta_change":{"hours":2}}`, "min_eta_change", "min_eta_change"},
		{"enabled a string", `{"enabled":"yes"}`, "enabled", "enabled must be true or false"},
		{"filter an array", `{"filter":[]}`, "filter", "filter must be an object"},
		{"filter carrier_codes a string", `{"filter":{"carrier_codes":"MAEU"}}`, "filter.carrier_codes", "array of strings"},
		{"filter metadata value a number", `{"filter":{"metadata":{"team":1}}}`, "filter.metadata", "each value in filter.metadata must be a string"},
		{"filter metadata an array", `{"filter":{"metadata":["a"]}}`, "filter.metadata", "object"},
		{"format a number", `{"format":1}`, "format", "format must be a string"},
		{"batch_size a string", `{"batch_size":"10"}`, "batch_size", "batch_size must be an integer"},
		{"batch_size a fraction", `{"batch_size":1.5}`, "batch_size", "batch_size must be an integer"},
		{"batch_size overflowing", `{"batch_size":1e30}`, "batch_size", "batch_size must be an integer"},
		{"headers a bool", `{"headers":true}`, "headers", "headers must be a string"},
		{"retry_window a number", `{"retry_window":60}`, "retry_window", "retry_window"},
		{"max_attempts a bool", `{"max_attempts":true}`, "max_attempts", "max_attempts must be an integer"},
		{"disable_after an array", `{"disable_after":["5d"]}`, "disable_after", "disable_after"},
		{"empty", ``, "", "empty"},
		{"not an object", `["url"]`, "", "JSON object"},
		{"trailing data", `{"url":"` + hookURL + `"} {}`, "", "after the JSON object"},
	}
	for _, route := range []struct{ method, path string }{
		{http.MethodPost, "/endpoints"},
		{http.MethodPatch, "/endpoints/ep_NOSUCH"},
	} {
		for _, tt := range tests {
			t.Run(route.method+" "+tt.name, func(t *testing.T) {
				resp, body := b.do(t, route.method, route.path, b.keyA, tt.body, "Content-Type", "application/json")
				d := wantError(t, resp, body, http.StatusBadRequest, codeBadRequest, tt.field)
				if !strings.Contains(d.Message, tt.inMessage) {
					t.Errorf("message %q does not contain %q", d.Message, tt.inMessage)
				}
			})
		}
	}
	resp, body := b.do(t, http.MethodPost, "/endpoints", b.keyA, `{"url":"`+hookURL+`"}`, "Content-Type", "text/plain")
	wantError(t, resp, body, http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "")
}

func TestPatchEndpoint_ChangesOnlyWhatIsGiven(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{
		"url": hookURL, "description": "first", "event_types": []string{"shipment.*"}, "min_eta_change": "1h",
		"filter": map[string]any{"carrier_codes": []string{"MAEU"}, "metadata": map[string]string{"team": "a"}},
	})
	b.clock.Advance(time.Minute)
	patch := func(t *testing.T, body string) Endpoint {
		t.Helper()
		resp, raw := b.do(t, http.MethodPatch, "/endpoints/"+ep.ID, b.keyA, body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PATCH %s: %d %s", body, resp.StatusCode, raw)
		}
		return decode[Endpoint](t, raw)
	}

	got := patch(t, `{"description":"second","event_types":null}`)
	if got.Description != "second" || len(got.EventTypes) != 1 || time.Duration(got.MinETAChange) != time.Hour || got.URL != hookURL ||
		got.Filter.CarrierCodes[0] != "MAEU" || !got.UpdatedAt.Equal(b.clock.Now()) || !got.CreatedAt.Equal(ep.CreatedAt) {
		t.Errorf("after a description change %+v", got)
	}
	got = patch(t, `{"filter":{"metadata":{"team":"b"}},"event_types":[],"url":"https://other.example.com/h"}`)
	if len(got.Filter.CarrierCodes) != 0 || got.Filter.Metadata["team"] != "b" || len(got.EventTypes) != 0 || got.URL != "https://other.example.com/h" {
		t.Errorf("the filter is replaced as a whole, event_types [] means all: %+v", got)
	}
	got = patch(t, `{"format":"batch","batch_size":10,"headers":"svix","max_attempts":3,"disable_after":"1h"}`)
	if got.Format != references.FormatBatch || got.BatchSize != 10 || got.Headers != references.HeadersSvix || got.MaxAttempts != 3 || time.Duration(got.DisableAfter) != time.Hour {
		t.Errorf("delivery settings %+v", got)
	}
	got = patch(t, `{"format":"standard"}`)
	if got.Format != references.FormatStandard || got.BatchSize != 0 {
		t.Errorf("back to standard %+v", got)
	}
	// A refused change writes nothing.
	resp, raw := b.do(t, http.MethodPatch, "/endpoints/"+ep.ID, b.keyA, `{"description":"third","retry_window":"1h"}`)
	wantError(t, resp, raw, http.StatusUnprocessableEntity, references.CodeInvalid, "max_attempts")
	resp, raw = b.do(t, http.MethodGet, "/endpoints/"+ep.ID, b.keyA, nil)
	if now := decode[Endpoint](t, raw); resp.StatusCode != http.StatusOK || now.Description != "second" || now.RetryWindow != 0 {
		t.Errorf("a refused PATCH changed the endpoint: %s", raw)
	}
	got = patch(t, `{"max_attempts":0,"retry_window":"1h"}`)
	if got.MaxAttempts != 0 || time.Duration(got.RetryWindow) != time.Hour {
		t.Errorf("switch to a retry window %+v", got)
	}
}

func TestPatchEndpoint_RefusesEmptyAndInvalidChanges(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL})
	tests := []struct{ name, body, field string }{
		{"nothing", `{}`, "url"},
		{"only nulls", `{"url":null,"filter":null}`, "url"},
		{"url http", `{"url":"http://hooks.example.com/h"}`, "url"},
		{"event type unknown", `{"event_types":["shipment.sunk"]}`, "event_types"},
		{"batch_size on a standard endpoint", `{"batch_size":5}`, "batch_size"},
		{"headers unknown", `{"headers":"Svix"}`, "headers"},
		{"min_eta_change not a duration", `{"min_eta_change":"2 hours"}`, "min_eta_change"},
		{"disable_after too long", `{"disable_after":"800h"}`, "disable_after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.do(t, http.MethodPatch, "/endpoints/"+ep.ID, b.keyA, tt.body)
			wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeInvalid, tt.field)
		})
	}
}

func TestPatchEndpoint_DisableAndReenable(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL})
	b.clock.Advance(time.Hour)
	resp, body := b.do(t, http.MethodPatch, "/endpoints/"+ep.ID, b.keyA, `{"enabled":false}`)
	got := decode[Endpoint](t, body)
	if resp.StatusCode != http.StatusOK || got.Enabled || got.DisabledReason != references.DisabledByUser || got.DisabledAt == nil || !got.DisabledAt.Equal(b.clock.Now()) {
		t.Fatalf("disable: %d %s", resp.StatusCode, body)
	}
	b.clock.Advance(time.Hour)
	resp, body = b.do(t, http.MethodPatch, "/endpoints/"+ep.ID, b.keyA, `{"enabled":true}`)
	got = decode[Endpoint](t, body)
	if resp.StatusCode != http.StatusOK || !got.Enabled || got.DisabledReason != "" || got.DisabledAt != nil || strings.Contains(string(body), "disabled_") {
		t.Fatalf("re-enable: %d %s", resp.StatusCode, body)
	}
}

func TestListEndpoints_PagesInCreationOrder(t *testing.T) {
	b := setup(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, b.createEndpoint(t, b.keyA, map[string]any{"url": fmt.Sprintf("%s/%d", hookURL, i)}).ID)
		b.clock.Advance(time.Second)
	}
	b.createEndpoint(t, b.keyB, map[string]any{"url": hookURL}) // not listed for A

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("more pages than endpoints")
		}
		resp, body := b.do(t, http.MethodGet, "/endpoints?limit=2&cursor="+cursor, b.keyA, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("list: %d %s", resp.StatusCode, body)
		}
		page := decode[EndpointPage](t, body)
		if len(page.Endpoints) > 2 {
			t.Fatalf("page of %d, limit 2", len(page.Endpoints))
		}
		for _, ep := range page.Endpoints {
			got = append(got, ep.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("listed %v, want %v", got, ids)
	}

	resp, body := b.do(t, http.MethodGet, "/endpoints?limit=0", b.keyA, nil)
	wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeInvalid, "limit")
	resp, body = b.do(t, http.MethodGet, "/endpoints?limit=501", b.keyA, nil)
	wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeInvalid, "limit")
	resp, body = b.do(t, http.MethodGet, "/endpoints", b.keyB, nil)
	if page := decode[EndpointPage](t, body); resp.StatusCode != http.StatusOK || len(page.Endpoints) != 1 {
		t.Errorf("account B lists %s", body)
	}
}

func TestDeleteEndpoint_RemovesIt(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL})
	resp, body := b.do(t, http.MethodDelete, "/endpoints/"+ep.ID, b.keyA, nil)
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("delete: %d %q", resp.StatusCode, body)
	}
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/endpoints/" + ep.ID},
		{http.MethodDelete, "/endpoints/" + ep.ID},
		{http.MethodGet, "/endpoints/" + ep.ID + "/secret"},
		{http.MethodGet, "/endpoints/" + ep.ID + "/messages"},
	} {
		resp, body := b.do(t, r.method, r.path, b.keyA, nil)
		wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
	}
	resp, body = b.do(t, http.MethodGet, "/endpoints", b.keyA, nil)
	if page := decode[EndpointPage](t, body); len(page.Endpoints) != 0 {
		t.Errorf("listed after delete: %s", body)
	}
}

func TestCreateEndpoint_QuotaPerAccount(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.service.MaxEndpointsPerAccount = 2 })
	a := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL})
	b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL})
	resp, body := b.do(t, http.MethodPost, "/endpoints", b.keyA, map[string]any{"url": hookURL})
	if d := wantError(t, resp, body, http.StatusForbidden, references.CodeQuotaExceeded, ""); !strings.Contains(d.Message, "2") {
		t.Errorf("the message does not name the limit: %q", d.Message)
	}
	b.createEndpoint(t, b.keyB, map[string]any{"url": hookURL}) // another account has its own quota
	if resp, body := b.do(t, http.MethodDelete, "/endpoints/"+a.ID, b.keyA, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL}) // deleting made room
}

// Every endpoint route answers 404 to another account's key, and changes nothing.
func TestEndpoints_AnotherAccountsAreNotFound(t *testing.T) {
	b := setup(t)
	ep := b.createEndpoint(t, b.keyA, map[string]any{"url": hookURL, "description": "A's"})
	ref := b.create(t, b.keyA, map[string]any{"booking_number": "BK123456", "carrier_code": "MAEU"})
	ups := b.seedUpdates(t, ref.ID, 1)
	msg := "/endpoints/" + ep.ID + "/messages/" + ups[0].ID
	routes := []struct{ method, path, body string }{
		{http.MethodGet, "/endpoints/" + ep.ID, ""},
		{http.MethodPatch, "/endpoints/" + ep.ID, `{"description":"B's now"}`},
		{http.MethodPatch, "/endpoints/" + ep.ID, `{"enabled":false}`},
		{http.MethodGet, "/endpoints/" + ep.ID + "/secret", ""},
		{http.MethodPost, "/endpoints/" + ep.ID + "/secret/rotate", `{"grace_seconds":0}`},
		{http.MethodGet, "/endpoints/" + ep.ID + "/messages", ""},
		{http.MethodGet, msg, ""},
		{http.MethodPost, msg + "/resend", ""},
		{http.MethodPost, "/endpoints/" + ep.ID + "/recover", `{"since":"` + b.clock.Now().Add(-time.Hour).Format(time.RFC3339) + `"}`},
		{http.MethodPost, "/endpoints/" + ep.ID + "/test", ""},
		{http.MethodGet, "/endpoints/" + ep.ID + "/stats", ""},
		{http.MethodDelete, "/endpoints/" + ep.ID, ""},
	}
	before := b.endpointSecrets(t, b.keyA, ep.ID)
	for _, r := range routes {
		var body any
		if r.body != "" {
			body = r.body
		}
		resp, raw := b.do(t, r.method, r.path, b.keyB, body)
		wantError(t, resp, raw, http.StatusNotFound, references.CodeNotFound, "")
	}
	resp, raw := b.do(t, http.MethodGet, "/endpoints/"+ep.ID, b.keyA, nil)
	if got := decode[Endpoint](t, raw); resp.StatusCode != http.StatusOK || got.Description != "A's" || !got.Enabled {
		t.Errorf("A's endpoint after B's requests: %d %s", resp.StatusCode, raw)
	}
	if after := b.endpointSecrets(t, b.keyA, ep.ID); after.Secret != before.Secret || len(after.Secrets) != 1 {
		t.Errorf("B rotated A's secret: %+v", after)
	}
	resp, raw = b.do(t, http.MethodGet, "/endpoints/"+ep.ID+"/messages", b.keyA, nil)
	if page := decode[MessagePage](t, raw); resp.StatusCode != http.StatusOK || len(page.Messages) != 1 || page.Messages[0].Attempts != 0 {
		t.Errorf("A's messages after B's requests: %d %s", resp.StatusCode, raw)
	}
	// A's own message under an endpoint of B is not found either.
	epB := b.createEndpoint(t, b.keyB, map[string]any{"url": hookURL})
	resp, raw = b.do(t, http.MethodGet, "/endpoints/"+epB.ID+"/messages/"+ups[0].ID, b.keyB, nil)
	wantError(t, resp, raw, http.StatusNotFound, references.CodeNotFound, "")
}

func TestEndpoints_JunkIDsAreNotFound(t *testing.T) {
	b := setup(t)
	for _, path := range []string{
		"/endpoints/" + strings.Repeat("e", maxPathIDLen+1),
		"/endpoints/ep%20x",
		"/endpoints/ep_X/messages/upd%2F..",
		"/endpoints/ep_X/messages/" + strings.Repeat("m", maxPathIDLen+1),
	} {
		resp, body := b.do(t, http.MethodGet, path, b.keyA, nil)
		wantError(t, resp, body, http.StatusNotFound, references.CodeNotFound, "")
	}
}
