package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// defaultEndpoint is an endpoint as POST /endpoints starts one before the request's
// settings are applied.
func defaultEndpoint(now time.Time) references.Endpoint {
	return references.Endpoint{
		ID: "ep_FUZZ", AccountID: accountA, Enabled: true,
		Format: references.FormatStandard, Headers: references.HeadersStandard, DisableAfter: references.DefaultDisableAfter,
		Secrets:   []references.WebhookSecret{{Secret: "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: now}},
		CreatedAt: now, UpdatedAt: now,
	}
}

// applyBody reads body as POST /endpoints does (without the URL's checks, which are
// the Service's) and applies it to a default endpoint.
func applyBody(body []byte, now time.Time) (references.Endpoint, error) {
	var b endpointBody
	if err := parseJSON(body, &b, false); err != nil {
		return references.Endpoint{}, err
	}
	p, err := b.patch()
	if err != nil {
		return references.Endpoint{}, err
	}
	ep := defaultEndpoint(now)
	return ep, ep.Apply(p, now)
}

func TestEndpointBody_Durations(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		body        string
		code, field string // empty: applied
		check       func(references.Endpoint) bool
	}{
		{`{"min_eta_change":"90m"}`, "", "", func(ep references.Endpoint) bool { return ep.MinETAChange == 90*time.Minute }},
		{`{"min_eta_change":"1h30m0s"}`, "", "", func(ep references.Endpoint) bool { return ep.MinETAChange == 90*time.Minute }},
		{`{"min_eta_change":null}`, "", "", func(ep references.Endpoint) bool { return ep.MinETAChange == 0 }},
		{`{"retry_window":"1m"}`, "", "", func(ep references.Endpoint) bool { return ep.RetryWindow == time.Minute }},
		{`{"retry_window":"0s"}`, "", "", func(ep references.Endpoint) bool { return ep.RetryWindow == 0 }},
		{`{"disable_after":"0"}`, "", "", func(ep references.Endpoint) bool { return ep.DisableAfter == 0 }},
		{`{"disable_after":null}`, "", "", func(ep references.Endpoint) bool { return ep.DisableAfter == references.DefaultDisableAfter }},
		{`{"min_eta_change":"2 h"}`, references.CodeInvalid, "min_eta_change", nil},
		{`{"min_eta_change":""}`, references.CodeInvalid, "min_eta_change", nil},
		{`{"min_eta_change":true}`, codeBadRequest, "min_eta_change", nil},
		{`{"retry_window":"59s"}`, references.CodeInvalid, "retry_window", nil},
		{`{"retry_window":1e3}`, codeBadRequest, "retry_window", nil},
		{`{"disable_after":"1d"}`, references.CodeInvalid, "disable_after", nil},
		{`{"disable_after":"720h0m1s"}`, references.CodeInvalid, "disable_after", nil},
	}
	for _, tt := range tests {
		ep, err := applyBody([]byte(tt.body), now)
		if tt.code == "" {
			if err != nil || !tt.check(ep) {
				t.Errorf("%s: %+v, %v", tt.body, ep, err)
			}
			continue
		}
		var e *references.Error
		if !errors.As(err, &e) || e.Code != tt.code || e.Field != tt.field {
			t.Errorf("%s: error %v, want %s on %s", tt.body, err, tt.code, tt.field)
		}
	}
}

// FuzzEndpointBody reads arbitrary bodies of POST and PATCH /endpoints, filter and
// durations included: an error is always an *references.Error the API can answer
// with (400 or 422, naming a field when it is about one), and an accepted body gives
// an endpoint whose wire form, sent back as a request, gives the same endpoint.
func FuzzEndpointBody(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://example.com/h","description":"d","event_types":["shipment.*","endpoint.disabled"],"min_eta_change":"2h","enabled":false}`,
		`{"filter":{"carrier_codes":["maeu","MSCU","maeu"],"metadata":{"team":"a","po":""}},"format":"batch","batch_size":500}`,
		`{"headers":"svix","max_attempts":5,"disable_after":"0s"}`,
		`{"retry_window":"72h","disable_after":"120h","format":"standard"}`,
		`{"filter":{}}`, `{"filter":null,"event_types":[]}`, `{"event_types":["*","*"]}`,
		`{"min_eta_change":"-1ns"}`, `{"min_eta_change":"9223372036854775807ns"}`, `{"retry_window":"1.5h"}`,
		`{"filter":{"metadata":{"a":1}}}`, `{"filter":{"carrier_codes":"MAEU"}}`, `{"filter":{"x":1}}`,
		`{"batch_size":1e99}`, `{"description":"\ud800"}`, `{}`, `[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		ep, err := applyBody(body, now)
		if err != nil {
			var e *references.Error
			if !errors.As(err, &e) || (e.Code != codeBadRequest && e.Code != references.CodeInvalid) || e.Message == "" {
				t.Fatalf("body %q: error %v (%T), want a bad_request or invalid *references.Error", body, err, err)
			}
			if e.Code == references.CodeInvalid && e.Field == "" {
				t.Fatalf("body %q: invalid without a field: %v", body, err)
			}
			return
		}
		if ep.Format == references.FormatBatch && (ep.BatchSize < 1 || ep.BatchSize > references.MaxBatchSize) ||
			ep.Format == references.FormatStandard && ep.BatchSize != 0 ||
			ep.MaxAttempts > 0 && ep.RetryWindow > 0 || ep.MinETAChange < 0 || ep.DisableAfter < 0 {
			t.Fatalf("body %q gave an endpoint against the rules: %+v", body, ep)
		}
		wire := newEndpoint(ep, now)
		again, err := applyBody(settingsOf(t, wire), now)
		if err != nil {
			t.Fatalf("body %q: the wire form %+v is refused as a request: %v", body, wire, err)
		}
		first, _ := json.Marshal(wire)
		second, _ := json.Marshal(newEndpoint(again, now))
		if string(first) != string(second) {
			t.Fatalf("body %q: round trip\n%s\n%s", body, first, second)
		}
	})
}

// settingsOf returns the request body that sets what the wire form shows.
func settingsOf(t *testing.T, ep Endpoint) []byte {
	t.Helper()
	body := map[string]any{
		"description": ep.Description, "event_types": ep.EventTypes, "min_eta_change": ep.MinETAChange,
		"filter": ep.Filter, "format": ep.Format, "headers": ep.Headers, "max_attempts": ep.MaxAttempts,
		"retry_window": ep.RetryWindow, "disable_after": ep.DisableAfter, "enabled": ep.Enabled,
	}
	if ep.Format == references.FormatBatch {
		body["batch_size"] = ep.BatchSize
	}
	if ep.URL != "" {
		body["url"] = ep.URL
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestSecretHint_ShowsOnlyTheEnd(t *testing.T) {
	for _, tt := range []struct{ secret, want string }{
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAbCd1234=", "whsec_…234="},
		{"whsec_abcd", "whsec_…"},
		{"", "whsec_…"},
	} {
		if got := secretHint(tt.secret); got != tt.want {
			t.Errorf("secretHint(%q) = %q, want %q", tt.secret, got, tt.want)
		}
	}
	if h := secretHint("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); strings.Contains(h, "MfKQ") {
		t.Errorf("the hint %q shows the start of the key", h)
	}
}
