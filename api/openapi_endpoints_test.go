package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// endpointConformance drives the endpoint routes, the operational feed and the
// catalogue through their success and error answers, for
// TestOpenAPI_RealResponsesMatchTheSpec (which checks every operation was answered
// with success).
func endpointConformance(t *testing.T, seen map[string][]int) {
	b := setup(t, withEveryRoute)
	c := newConformance(t, loadSpec(t), b, seen)
	post := func(name, path, body string, status int, invalid bool) []byte {
		return c.run(t, call{name: name, method: http.MethodPost, path: path, key: b.keyA, body: body, status: status, invalidRequest: invalid})
	}
	get := func(name, path, key string, status int, invalid bool) []byte {
		return c.run(t, call{name: name, method: http.MethodGet, path: path, key: key, status: status, invalidRequest: invalid})
	}

	full := decode[Endpoint](t, post("create endpoint", "/endpoints", `{"url":"https://example.com/eta","description":"ETAs",`+
		`"event_types":["shipment.eta_changed","shipment.milestone.*"],"min_eta_change":"2h","filter":{"carrier_codes":["MSCU"],"metadata":{"order":"4711"}},`+
		`"format":"batch","batch_size":10,"headers":"svix","max_attempts":5,"disable_after":"0s"}`, 201, false))
	ep := decode[Endpoint](t, post("create endpoint with defaults", "/endpoints", `{"url":"https://example.com/all"}`, 201, false))
	ops := decode[Endpoint](t, post("create operational endpoint", "/endpoints", `{"url":"https://example.com/ops","event_types":["endpoint.disabled","message.attempt.exhausted"],"retry_window":"24h"}`, 201, false))
	ref := b.create(t, b.keyA, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU", "metadata": map[string]string{"order": "4711"}})
	pollWithDemo(t, b, ref.ID)
	ups, err := b.db.ListUpdates(context.Background(), accountA, ref.ID, 0, 10)
	if err != nil || len(ups) == 0 {
		t.Fatalf("feed: %d updates, %v", len(ups), err)
	}
	b.recordEndpointAttempt(t, ep.ID, false, b.failed(12))
	b.clock.Advance(time.Minute)
	b.recordEndpointAttempt(t, ep.ID, false, references.DeliveryAttempt{StatusCode: 500, Outcome: references.OutcomeGaveUp, Disable: references.DisabledFailing})
	opsMessages, _ := b.messages(t, ops.ID, "")
	if len(opsMessages.Messages) == 0 {
		t.Fatal("the operational endpoint got no event")
	}
	epPath, at := "/endpoints/"+ep.ID, func(d time.Duration) string { return b.clock.Now().Add(d).Format(time.RFC3339) }

	post("create endpoint http", "/endpoints", `{"url":"http://example.com/h"}`, 422, false)
	post("create endpoint without url", "/endpoints", `{"description":"x"}`, 422, true)
	post("create endpoint unknown field", "/endpoints", `{"url":"https://example.com/h","secret":"x"}`, 400, true)
	post("create endpoint wrong type", "/endpoints", `{"url":5}`, 400, true)
	post("create endpoint unknown format", "/endpoints", `{"url":"https://example.com/h","format":"xml"}`, 422, true)
	post("create endpoint bad duration", "/endpoints", `{"url":"https://example.com/h","min_eta_change":"often"}`, 422, false)

	get("list endpoints", "/endpoints?limit=2", b.keyA, 200, false)
	get("list endpoints bad limit", "/endpoints?limit=0", b.keyA, 422, true)
	get("get endpoint", epPath, b.keyA, 200, false)
	get("get endpoint of another account", epPath, b.keyB, 404, false)
	get("get endpoint unknown", "/endpoints/ep_NOSUCH", b.keyA, 404, false)

	patch := func(name, path, body string, status int, invalid bool) {
		c.run(t, call{name: name, method: http.MethodPatch, path: path, key: b.keyA, body: body, status: status, invalidRequest: invalid})
	}
	patch("patch endpoint", epPath, `{"enabled":true,"description":"everything"}`, 200, false)
	patch("patch endpoint nothing", epPath, `{}`, 422, true)
	patch("patch endpoint bad duration", epPath, `{"min_eta_change":"often"}`, 422, false)
	patch("patch endpoint wrong type", epPath, `{"batch_size":"10"}`, 400, true)
	patch("patch endpoint unknown field", epPath, `{"colour":"red"}`, 400, true)
	patch("patch endpoint unknown", "/endpoints/ep_NOSUCH", `{"enabled":true}`, 404, false)

	get("endpoint secret", epPath+"/secret", b.keyA, 200, false)
	get("endpoint secret of another account", epPath+"/secret", b.keyB, 404, false)
	post("rotate endpoint secret", epPath+"/secret/rotate", `{"grace_seconds":0}`, 200, false)
	post("rotate endpoint secret without body", epPath+"/secret/rotate", ``, 200, false)
	post("rotate endpoint secret grace too long", epPath+"/secret/rotate", `{"grace_seconds":604801}`, 422, true)
	post("rotate endpoint secret unknown", "/endpoints/ep_NOSUCH/secret/rotate", `{"grace_seconds":0}`, 404, false)

	get("messages", epPath+"/messages", b.keyA, 200, false)
	get("messages filtered", epPath+"/messages?status=failed&after="+at(-30*24*time.Hour)+"&before="+at(time.Hour)+"&limit=1", b.keyA, 200, false)
	get("messages bad status", epPath+"/messages?status=lost", b.keyA, 422, true)
	get("messages unknown endpoint", "/endpoints/ep_NOSUCH/messages", b.keyA, 404, false)
	get("message", epPath+"/messages/"+ups[0].ID, b.keyA, 200, false)
	get("event message", "/endpoints/"+ops.ID+"/messages/"+opsMessages.Messages[0].ID, b.keyA, 200, false)
	get("message unknown", epPath+"/messages/upd_NOSUCH", b.keyA, 404, false)
	post("resend", epPath+"/messages/"+ups[0].ID+"/resend", ``, 202, false)
	post("resend unknown", epPath+"/messages/upd_NOSUCH/resend", ``, 404, false)
	post("recover", epPath+"/recover", `{"since":"`+at(-references.MaxRecoverAge+time.Minute)+`"}`, 202, false)
	post("recover without since", epPath+"/recover", `{}`, 422, true)
	post("recover too far back", epPath+"/recover", `{"since":"`+at(-15*24*time.Hour)+`"}`, 422, false)
	post("recover since as a number", epPath+"/recover", `{"since":1772366400}`, 400, true)
	post("test without a test sender", epPath+"/test", ``, 503, false)
	post("test unknown", "/endpoints/ep_NOSUCH/test", ``, 404, false)
	get("stats", epPath+"/stats", b.keyA, 200, false)
	get("stats unknown", "/endpoints/ep_NOSUCH/stats", b.keyA, 404, false)

	get("account events", "/account/events", b.keyA, 200, false)
	get("account events page", "/account/events?after=1&limit=1", b.keyA, 200, false)
	get("account events bad after", "/account/events?after=-1", b.keyA, 422, true)
	get("event types", "/event-types", b.keyA, 200, false)

	c.run(t, call{name: "delete endpoint", method: http.MethodDelete, path: "/endpoints/" + full.ID, key: b.keyA, status: 204})
	c.run(t, call{name: "delete endpoint again", method: http.MethodDelete, path: "/endpoints/" + full.ID, key: b.keyA, status: 404})

	// Answers that need a server configured otherwise.
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, "ok")
	}))
	defer receiver.Close()
	sender := setup(t, withEveryRoute, withTestSend)
	sc := newConformance(t, loadSpec(t), sender, seen)
	target := sender.createEndpoint(t, sender.keyA, map[string]any{"url": receiver.URL})
	sc.run(t, call{name: "test", method: http.MethodPost, path: "/endpoints/" + target.ID + "/test", key: sender.keyA, status: 200})

	limited := setup(t, func(c *setupConfig) {
		c.service.MaxEndpointsPerAccount = 1
		c.api.RotationLimit, c.api.RotationBurst = 0.001, 1
	})
	lc := newConformance(t, loadSpec(t), limited, seen)
	one := decode[Endpoint](t, lc.run(t, call{name: "create endpoint within the quota", method: http.MethodPost, path: "/endpoints", key: limited.keyA, body: `{"url":"https://example.com/h"}`, status: 201}))
	lc.run(t, call{name: "create endpoint beyond the quota", method: http.MethodPost, path: "/endpoints", key: limited.keyA, body: `{"url":"https://example.com/h"}`, status: 403})
	lc.run(t, call{name: "rotate endpoint secret at once", method: http.MethodPost, path: "/endpoints/" + one.ID + "/secret/rotate", key: limited.keyA, body: `{"grace_seconds":0}`, status: 200})
	lc.run(t, call{name: "endpoint rotations over the limit", method: http.MethodPost, path: "/endpoints/" + one.ID + "/secret/rotate", key: limited.keyA, status: 429})
}

// enumOf returns the enum of a component schema, or of one of its properties.
func enumOf(t *testing.T, doc *openapi3.T, schema, property string) []string {
	t.Helper()
	ref := doc.Components.Schemas[schema]
	if ref == nil {
		t.Fatalf("no schema %s", schema)
	}
	s := ref.Value
	if property != "" {
		s = s.Properties[property].Value
	}
	var out []string
	for _, v := range s.Enum {
		out = append(out, v.(string))
	}
	slices.Sort(out)
	return out
}

func sortedStrings[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	slices.Sort(out)
	return out
}

// TestOpenAPI_EndpointEnumsAreTheDomains keeps the spec's lists of values equal to
// those the domain has.
func TestOpenAPI_EndpointEnumsAreTheDomains(t *testing.T) {
	doc := loadSpec(t)
	tests := []struct {
		schema, property string
		want             []string
	}{
		{"Tag", "", sortedStrings(references.Tags)},
		{"Change", "type", sortedStrings(references.ChangeTypes)},
		{"OperationalEventType", "", sortedStrings(references.OperationalEventTypes)},
		{"MessageStatus", "", sortedStrings(references.MessageStatuses)},
		{"DeliveryFormat", "", sortedStrings([]references.DeliveryFormat{references.FormatStandard, references.FormatBatch})},
		{"HeaderStyle", "", sortedStrings([]references.HeaderStyle{references.HeadersStandard, references.HeadersSvix})},
		{"DisabledReason", "", sortedStrings([]references.DisabledReason{references.DisabledByUser, references.DisabledGone, references.DisabledByReceiver, references.DisabledFailing})},
		{"EventType", "kind", sortedStrings([]string{string(webhook.KindType), string(webhook.KindTag), string(webhook.KindOperational)})},
		{"TestWebhookPayload", "type", []string{references.EventEndpointTest}},
	}
	for _, tt := range tests {
		if got := enumOf(t, doc, tt.schema, tt.property); !slices.Equal(got, tt.want) {
			t.Errorf("%s %s lists %v; the domain has %v", tt.schema, tt.property, got, tt.want)
		}
	}
}

// TestOpenAPI_WebhooksMatchTheEndpointCallback checks what an endpoint receives
// against the createEndpoint callback of the spec: standard bodies of real updates
// (webhook.Encode), batch bodies, operational events and the test event, with the
// headers of both styles.
func TestOpenAPI_WebhooksMatchTheEndpointCallback(t *testing.T) {
	doc := loadSpec(t)
	tighten(doc)
	cb := doc.Paths.Find("/endpoints").Post.Callbacks["message"].Value.Value("{$request.body#/url}").Post
	schema := cb.RequestBody.Value.Content.Get("application/json").Schema.Value

	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU", "callback_url": "https://example.com/hooks"})
	pollWithDemo(t, b, ref.ID)
	ups, err := b.db.ListUpdates(context.Background(), ref.AccountID, ref.ID, 0, 100)
	if err != nil || len(ups) < 2 {
		t.Fatalf("feed: %d updates, %v", len(ups), err)
	}
	ep := references.Endpoint{ID: "ep_X", AccountID: accountA, URL: "https://example.com/h", DisabledReason: references.DisabledFailing}
	now := b.clock.Now()
	disabled := references.DisabledEvent(&ep, now)
	disabled.Sequence = 1
	m := references.Message{ID: ups[0].ID, ReferenceID: ref.ID, Attempts: make([]references.DeliveryAttempt, 5)}
	exhausted := references.ExhaustedEvent(&ep, &m, &references.DeliveryAttempt{At: now, StatusCode: 500, Error: "boom"})
	exhausted.Sequence = 2

	must := func(raw []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	bodies := map[string][]byte{
		"batch":                     must(webhook.EncodeBatch(ups)),
		"endpoint.disabled":         must(webhook.EncodeEvent(disabled)),
		"message.attempt.exhausted": must(webhook.EncodeEvent(exhausted)),
		"endpoint.test":             must(webhook.NewTestEvent("evt_test", ep.ID, now).Encode()),
	}
	for _, u := range ups {
		raw, err := webhook.Encode(u)
		if err != nil {
			t.Fatal(err)
		}
		bodies[fmt.Sprintf("update %d", u.Sequence)] = raw
	}
	for name, body := range bodies {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		if err := schema.VisitJSON(v, openapi3.VisitAsRequest(), openapi3.MultiErrors()); err != nil {
			t.Errorf("%s: the body does not match the endpoint callback's schema: %v\n%s", name, err, body)
		}
	}
	// Not vacuous: an empty batch, and an event of a type there is not, are refused.
	for _, body := range []string{`{"type":"batch","data":[]}`, `{"id":"evt_x","type":"endpoint.created","created_at":"2026-03-01T12:00:00Z","data":{}}`} {
		var v any
		_ = json.Unmarshal([]byte(body), &v)
		if err := schema.VisitJSON(v, openapi3.VisitAsRequest()); err == nil {
			t.Errorf("%s passes the endpoint callback's schema", body)
		}
	}

	declared := map[string]bool{}
	for _, p := range cb.Parameters {
		if p.Value.In == openapi3.ParameterInHeader {
			declared[p.Value.Name] = p.Value.Required
		}
	}
	for name, required := range map[string]bool{
		"webhook-id": true, "webhook-timestamp": true, "webhook-signature": true,
		"svix-id": false, "svix-timestamp": false, "svix-signature": false,
	} {
		if got, ok := declared[name]; !ok || got != required {
			t.Errorf("header %s: declared %v, required %v; want declared, required %v", name, ok, got, required)
		}
	}
	h := http.Header{}
	if err := webhook.SetHeaders(h, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, ups[0].ID, now, bodies["batch"]); err != nil {
		t.Fatal(err)
	}
	for name, required := range declared {
		if required && h.Get(name) == "" {
			t.Errorf("the spec requires header %s, which the signer does not set", name)
		}
	}
	control := cb.Responses.Value("2XX").Value.Headers["webhook-delivery"].Value.Schema.Value
	var got []string
	for _, v := range control.Enum {
		got = append(got, v.(string))
	}
	if !slices.Equal(got, []string{"abort-message", "disable"}) {
		t.Errorf("webhook-delivery values %v", got)
	}
}
