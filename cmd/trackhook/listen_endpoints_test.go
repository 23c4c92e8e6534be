package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// listen and account endpoints: batches, operational events, svix headers, and the
// secrets of several destinations.

const listenEndpointSecret = "whsec_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=" // bytes 32..63

func TestListen_PrintsABatchAsItsUpdates(t *testing.T) {
	b := setupListen(t, listenConfig{}, nil)
	body, err := webhook.EncodeBatch([]references.Update{
		listenUpdate(4, "Loaded at Shanghai"), listenUpdate(5, "Departed Shanghai"), listenUpdate(6, "ETA at Rotterdam moved"),
	})
	if err != nil {
		t.Fatal(err)
	}
	id := references.BatchID("ep_1", "ref_K3", 4, 6)
	if got := b.postBody(t, id, body, references.HeadersStandard, []string{listenSecret}, listenNow, nil); got != http.StatusNoContent {
		t.Fatalf("status %d; stderr %s", got, b.stderr)
	}
	want := strings.Join([]string{
		"12:00:03 verified upd_4 ref_K3 MSCU1234566 shipment.updated #4 -> 204 (in a batch of 3)  Loaded at Shanghai",
		"12:00:03 verified upd_5 ref_K3 MSCU1234566 shipment.updated #5 -> 204 (in a batch of 3)  Departed Shanghai",
		"12:00:03 verified upd_6 ref_K3 MSCU1234566 shipment.updated #6 -> 204 (in a batch of 3)  ETA at Rotterdam moved",
	}, "\n") + "\n"
	if got := b.stdout.String(); got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
	// A retry of the batch (same webhook-id) is marked on each line.
	b.stdout.Reset()
	b.postBody(t, id, body, references.HeadersStandard, []string{listenSecret}, listenNow, nil)
	if n := strings.Count(b.stdout.String(), "(in a batch of 3) (again: already received)"); n != 3 {
		t.Errorf("the retried batch:\n%s", b.stdout)
	}
}

func TestListen_PrintsOperationalAndTestEvents(t *testing.T) {
	at := listenNow.Add(-time.Second)
	tests := []struct {
		name  string
		event webhook.OperationalEvent
		want  string
	}{
		{"endpoint disabled", webhook.NewOperationalEvent(references.AccountEvent{
			ID: "evt_1", Type: references.EventEndpointDisabled, CreatedAt: at,
			EndpointID: "ep_1", EndpointURL: "https://hooks.example.com/a", DisabledReason: references.DisabledFailing,
		}), "12:00:03 verified evt_1 endpoint.disabled -> 204  endpoint ep_1 https://hooks.example.com/a; disabled: failing"},
		{"message attempt exhausted", webhook.NewOperationalEvent(references.AccountEvent{
			ID: "evt_2", Type: references.EventMessageAttemptExhausted, CreatedAt: at, EndpointID: "ep_1",
			MessageID: "upd_9", ReferenceID: "ref_K3", Attempts: 5, LastStatusCode: 503, LastError: "receiver answered 503 Service Unavailable",
		}), "12:00:03 verified evt_2 message.attempt.exhausted -> 204  endpoint ep_1; gave up upd_9 of ref_K3 after 5 attempts; last: receiver answered 503 Service Unavailable"},
		{"exhausted with a status only", webhook.NewOperationalEvent(references.AccountEvent{
			ID: "evt_3", Type: references.EventMessageAttemptExhausted, CreatedAt: at, EndpointID: "ep_1",
			MessageID: "evt_2", Attempts: 1, LastStatusCode: 500,
		}), "12:00:03 verified evt_3 message.attempt.exhausted -> 204  endpoint ep_1; gave up evt_2 after 1 attempts; last: 500"},
		{"endpoint test", webhook.NewTestEvent("evt_4", "ep_1", at),
			"12:00:03 verified evt_4 endpoint.test -> 204  endpoint ep_1; " + webhook.TestEventMessage[:listenChangesWidth-3-len("endpoint ep_1; ")] + "..."},
		{"a type of a later version", webhook.OperationalEvent{ID: "evt_5", Type: "endpoint.created", CreatedAt: at,
			Data: webhook.OperationalEventData{EndpointID: "ep_2"}}, "12:00:03 verified evt_5 endpoint.created -> 204  endpoint ep_2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setupListen(t, listenConfig{secrets: []string{listenEndpointSecret}}, nil)
			body, err := tt.event.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if got := b.postBody(t, tt.event.ID, body, references.HeadersStandard, []string{listenEndpointSecret}, listenNow, nil); got != http.StatusNoContent {
				t.Fatalf("status %d; stderr %s", got, b.stderr)
			}
			if got := strings.TrimSuffix(b.stdout.String(), "\n"); got != tt.want {
				t.Errorf("line:\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestListen_VerifiesDeliveriesWithSvixHeadersAlone(t *testing.T) {
	onlySvix := func(r *http.Request) {
		for _, name := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
			r.Header.Del(name)
		}
	}
	b := setupListen(t, listenConfig{secrets: []string{listenEndpointSecret}}, nil)
	body, err := webhook.Encode(listenUpdate(3, "Departed Rotterdam"))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.postBody(t, "upd_3", body, references.HeadersSvix, []string{listenEndpointSecret}, listenNow, onlySvix); got != http.StatusNoContent {
		t.Fatalf("status %d; stderr %s", got, b.stderr)
	}
	if want := "12:00:03 verified upd_3 ref_K3 MSCU1234566 shipment.updated #3 -> 204  Departed Rotterdam\n"; b.stdout.String() != want {
		t.Errorf("stdout %q, want %q", b.stdout, want)
	}
	// Signed with another secret: refused, and the line names the svix-id.
	if got := b.postBody(t, "upd_4", body, references.HeadersSvix, []string{listenOtherSecret}, listenNow, onlySvix); got != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", got)
	}
	if !strings.HasPrefix(b.stderr.String(), "12:00:03 NOT VERIFIED upd_4 -> 401: no matching webhook signature") {
		t.Errorf("stderr %q", b.stderr)
	}
}

// One listen for the account's callbacks and two endpoints, one of them rotating:
// every delivery verifies with one of the secrets given.
func TestListen_SecretsOfSeveralDestinations(t *testing.T) {
	e, _, _ := newTestEnv(nil)
	c, err := parseListenFlags([]string{"--secret", listenSecret, "--secret", listenEndpointSecret + "," + listenOtherSecret}, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.secrets) != 3 {
		t.Fatalf("secrets %d, want 3", len(c.secrets))
	}
	b := setupListen(t, c, nil)
	batch, err := webhook.EncodeBatch([]references.Update{listenUpdate(7, "x")})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		signWith []string
		style    references.HeaderStyle
	}{
		{[]string{listenSecret}, references.HeadersStandard},                                     // a callback: the account's secret
		{[]string{listenEndpointSecret}, references.HeadersSvix},                                 // an endpoint
		{[]string{references.NewWebhookSecret(), listenOtherSecret}, references.HeadersStandard}, // another endpoint, in its rotation's grace
	} {
		if got := b.postBody(t, references.BatchID("ep_x", "ref_K3", 7, 7)+string(rune('a'+i)), batch, tc.style, tc.signWith, listenNow, nil); got != http.StatusNoContent {
			t.Errorf("delivery %d: status %d; stderr %s", i, got, b.stderr)
		}
	}
	if got := b.postBody(t, "upd_9", batch, references.HeadersStandard, []string{references.NewWebhookSecret()}, listenNow, nil); got != http.StatusUnauthorized {
		t.Errorf("a secret not given: status %d", got)
	}
}

// TestListen_VerifiesWhatTheNotifierSendsToEndpoints has trackhook's sender post a
// svix-style batch, as it does for an endpoint, to listen.
func TestListen_VerifiesWhatTheNotifierSendsToEndpoints(t *testing.T) {
	var out bytes.Buffer
	rcv, err := newReceiver(listenConfig{secrets: []string{listenEndpointSecret}, failStatus: 503, tolerance: webhook.DefaultTolerance},
		&syncWriter{w: &out}, io.Discard, time.Now, scriptedRand())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	body, err := webhook.EncodeBatch([]references.Update{listenUpdate(1, "Gate in"), listenUpdate(2, "Loaded")})
	if err != nil {
		t.Fatal(err)
	}
	sender := notifier.NewSender(notifier.SenderOptions{AllowPrivate: true})
	defer sender.CloseIdleConnections()
	res := sender.Send(context.Background(), notifier.Request{URL: srv.URL, UpdateID: references.BatchID("ep_1", "ref_K3", 1, 2), Body: body,
		Secrets: []string{listenEndpointSecret}, Headers: references.HeadersSvix})
	if res.Outcome != references.OutcomeDelivered {
		t.Fatalf("send: %+v", res)
	}
	for _, want := range []string{"verified upd_1 ref_K3 MSCU1234566 shipment.updated #1 -> 204 (in a batch of 2)  Gate in", "#2 -> 204 (in a batch of 2)  Loaded"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
