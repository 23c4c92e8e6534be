package notifier

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// Deliveries to endpoints, as a receiver gets them: the official libraries verify
// them. Both libraries check webhook-timestamp against the wall clock, so the Sender
// signs with time.Now here.

func endpointUpdates() []references.Update {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var out []references.Update
	for seq := uint64(4); seq <= 6; seq++ {
		out = append(out, references.Update{
			ID: fmt.Sprintf("upd_%d", seq), ReferenceID: "ref_1", Sequence: seq, Type: references.UpdateShipment, CreatedAt: at,
			Reference: references.ReferenceSummary{ID: "ref_1", ContainerID: "MSCU1234566", CarrierCode: "MSCU"},
			Changes:   []references.Change{{Type: references.ChangeVesselChanged, Description: "Current vessel changed", Old: "A", New: "B"}},
		})
	}
	return out
}

func TestSender_SvixStyleBatchVerifiesWithTheSvixLibrary(t *testing.T) {
	t.Parallel()
	b := setupSend(t, SenderOptions{Now: time.Now}, status(http.StatusNoContent))
	body, err := webhook.EncodeBatch(endpointUpdates())
	if err != nil {
		t.Fatal(err)
	}
	id := references.BatchID("ep_1", "ref_1", 4, 6)
	res := b.sender.Send(context.Background(), Request{URL: b.srv.URL, UpdateID: id, Body: body,
		Secrets: []string{sendSecret, sendOldSecret}, Headers: references.HeadersSvix})
	if res.Outcome != references.OutcomeDelivered {
		t.Fatalf("Send() = %+v", res)
	}
	got := b.requests()[0]
	if got.header.Get("svix-id") != id || got.header.Get("webhook-id") != id {
		t.Errorf("ids: svix-id %q, webhook-id %q, want %q", got.header.Get("svix-id"), got.header.Get("webhook-id"), id)
	}
	svixOnly := http.Header{}
	for _, name := range []string{"svix-id", "svix-timestamp", "svix-signature"} {
		svixOnly.Set(name, got.header.Get(name))
	}
	for _, secret := range []string{sendSecret, sendOldSecret} { // either side of a rotation
		wh, err := svix.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(got.body, svixOnly); err != nil {
			t.Errorf("svix: %v", err)
		}
	}
	batch, err := webhook.DecodeBatch(got.body)
	if err != nil || len(batch.Data) != 3 || batch.Data[2].Sequence != 6 {
		t.Errorf("the receiver got %s (%v)", got.body, err)
	}
}

func TestSender_StandardStyleVerifiesWithTheStandardWebhooksLibrary(t *testing.T) {
	t.Parallel()
	b := setupSend(t, SenderOptions{Now: time.Now}, status(http.StatusOK))
	ev := references.AccountEvent{ID: "evt_1", Sequence: 3, Type: references.EventMessageAttemptExhausted, CreatedAt: time.Now(),
		EndpointID: "ep_2", MessageID: "upd_9", Attempts: 5, LastStatusCode: 500}
	event, err := webhook.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := webhook.EncodeBatch(endpointUpdates())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   string
		body []byte
	}{{"evt_1", event}, {references.BatchID("ep_1", "ref_1", 4, 6), batch}} {
		res := b.sender.Send(context.Background(), Request{URL: b.srv.URL, UpdateID: tc.id, Body: tc.body,
			Secrets: []string{sendSecret, sendOldSecret}, Headers: references.HeadersStandard})
		if res.Outcome != references.OutcomeDelivered {
			t.Fatalf("Send() = %+v", res)
		}
	}
	for _, got := range b.requests() {
		if got.header.Get("svix-id") != "" {
			t.Errorf("standard style sent svix headers")
		}
		for _, secret := range []string{sendSecret, sendOldSecret} {
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(got.body, got.header); err != nil {
				t.Errorf("standardwebhooks, %s: %v", got.header.Get("webhook-id"), err)
			}
		}
	}
}

func TestSender_ReadsTheDeliveryControlHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		values []string
		want   Control
	}{
		{"none", 500, nil, Control{}},
		{"abort on a failure", 422, []string{"Abort-Message"}, Control{AbortMessage: true}},
		{"disable on a success", 200, []string{"disable"}, Control{Disable: true}},
		{"both, on two header lines", 503, []string{"disable", "abort-message"}, Control{AbortMessage: true, Disable: true}},
		{"unknown", 503, []string{"later"}, Control{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupSend(t, SenderOptions{}, func(w http.ResponseWriter, r *http.Request) {
				for _, v := range tt.values {
					w.Header().Add("Webhook-Delivery", v)
				}
				w.WriteHeader(tt.status)
			})
			res := b.sender.Send(context.Background(), b.request())
			if res.Control != tt.want || res.StatusCode != tt.status {
				t.Errorf("Send() = %+v, want control %+v", res, tt.want)
			}
		})
	}
}
