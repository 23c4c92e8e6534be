package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/trackhook/trackhook/webhook"
)

// TestOpenAPI_WebhooksMatchTheCallback checks what a callback_url receives against
// the createReference callback of the spec: the bodies the notifier sends for real
// updates (webhook.Encode) and the headers it signs them with.
func TestOpenAPI_WebhooksMatchTheCallback(t *testing.T) {
	doc := loadSpec(t)
	tighten(doc)
	cb := doc.Paths.Find("/references").Post.Callbacks["update"].Value.Value("{$request.body#/callback_url}").Post
	schema := cb.RequestBody.Value.Content.Get("application/json").Schema.Value

	b := setup(t)
	ref := b.create(t, b.keyA, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU", "callback_url": "https://example.com/hooks"})
	pollWithDemo(t, b, ref.ID)
	ups, err := b.db.ListUpdates(context.Background(), ref.AccountID, ref.ID, 0, 100)
	if err != nil || len(ups) == 0 {
		t.Fatalf("feed: %d updates, %v", len(ups), err)
	}
	// A bill of lading of three containers (the demo draws them from its number):
	// changes that name containers, and their own status and location.
	bl := b.create(t, b.keyA, map[string]any{"bill_of_lading": "MAEU240000013", "carrier_code": "MAEU", "callback_url": "https://example.com/hooks"})
	pollWithDemo(t, b, bl.ID)
	blUps, err := b.db.ListUpdates(context.Background(), bl.AccountID, bl.ID, 0, 100)
	if err != nil || len(blUps) == 0 || len(blUps[len(blUps)-1].Shipment.Containers) != 3 {
		t.Fatalf("feed of the bill of lading: %d updates, %v", len(blUps), err)
	}
	ups = append(ups, blUps...)
	for _, u := range ups {
		body, err := webhook.Encode(u)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		if err := schema.VisitJSON(v, openapi3.VisitAsRequest(), openapi3.MultiErrors()); err != nil {
			t.Errorf("update %d: the webhook body does not match the callback's schema: %v", u.Sequence, err)
		}
		h := http.Header{}
		if err := webhook.SetHeaders(h, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, u.ID, time.Now(), body); err != nil {
			t.Fatal(err)
		}
		for _, p := range cb.Parameters {
			if p.Value.In == openapi3.ParameterInHeader && p.Value.Required && h.Get(p.Value.Name) == "" {
				t.Errorf("the spec requires header %s, which the notifier does not send", p.Value.Name)
			}
		}
	}
}
