package notifier_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// scripted is a loopback receiver that answers every request with status and the
// given webhook-delivery header, keeping what it got.
type scripted struct {
	*httptest.Server
	mu      sync.Mutex
	headers []http.Header
	bodies  [][]byte
}

func newScripted(t *testing.T, status int, control string) *scripted {
	s := &scripted{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.headers, s.bodies = append(s.headers, r.Header.Clone()), append(s.bodies, body)
		s.mu.Unlock()
		if control != "" {
			w.Header().Set("webhook-delivery", control)
		}
		w.WriteHeader(status)
		io.WriteString(w, `{"ok":"test seen"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *scripted) requests() ([]http.Header, [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.headers...), append([][]byte(nil), s.bodies...)
}

// testEndpoint is an endpoint of account "acct" at url, with a secret rotated an hour
// ago whose grace runs for a day more: both sign.
func testEndpoint(url string, style references.HeaderStyle) (references.Endpoint, []string) {
	oldSecret, newSecret := references.NewWebhookSecret(), references.NewWebhookSecret()
	graceUntil := epoch.Add(24 * time.Hour)
	return references.Endpoint{
		ID: "ep_test", AccountID: "acct", URL: url, Headers: style, Enabled: true, DisableAfter: references.DefaultDisableAfter,
		Secrets: []references.WebhookSecret{
			{Secret: oldSecret, CreatedAt: epoch.Add(-48 * time.Hour), ExpiresAt: &graceUntil},
			{Secret: newSecret, CreatedAt: epoch.Add(-time.Hour)},
		},
	}, []string{oldSecret, newSecret}
}

func TestNotifier_TestEndpointSendsASignedTestEventAndReturnsTheAnswer(t *testing.T) {
	n, b := setup(t, notifier.Options{})
	rcv := newScripted(t, http.StatusOK, "")
	ep, secrets := testEndpoint(rcv.URL+"/hooks", references.HeadersSvix)

	a, err := n.TestEndpoint(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	if a.Outcome != references.OutcomeDelivered || a.StatusCode != http.StatusOK || a.ResponseBody != `{"ok":"test seen"}` ||
		a.Error != "" || a.Disable != "" || a.LatencyMS < 0 || a.Destination != ep.ID || a.URL != ep.URL || !a.At.Equal(epoch) {
		t.Errorf("attempt %+v", a)
	}
	headers, bodies := rcv.requests()
	if len(bodies) != 1 {
		t.Fatalf("the receiver got %d requests", len(bodies))
	}
	ev, err := webhook.DecodeEvent(bodies[0])
	if err != nil || ev.Type != references.EventEndpointTest || ev.Data.EndpointID != ep.ID || ev.Data.Message == "" || ev.ID != a.UpdateID {
		t.Fatalf("the receiver got %s (%v), attempt id %s", bodies[0], err, a.UpdateID)
	}
	h := headers[0]
	if h.Get("svix-id") != ev.ID || h.Get("webhook-id") != ev.ID || h.Get("svix-timestamp") != strconv.FormatInt(epoch.Unix(), 10) {
		t.Errorf("headers %v", h)
	}
	// Both secrets of the rotation sign: a receiver configured with either verifies,
	// with Svix's library (the notifier's clock is fake: its timestamp is not checked
	// here) and with package webhook at the fake time.
	svixOnly := http.Header{"Svix-Id": h.Values("svix-id"), "Svix-Timestamp": h.Values("svix-timestamp"), "Svix-Signature": h.Values("svix-signature")}
	for _, secret := range secrets {
		wh, err := svix.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.VerifyIgnoringTimestamp(bodies[0], svixOnly); err != nil {
			t.Errorf("svix: %v", err)
		}
		if err := webhook.Verify([]string{secret}, h, bodies[0], 0, epoch); err != nil {
			t.Errorf("webhook.Verify: %v", err)
		}
	}
	if b.store.records() != 0 || b.store.claims() != 0 {
		t.Errorf("a test send touched the delivery queue: %d records, %d claims", b.store.records(), b.store.claims())
	}
}

func TestNotifier_TestEndpointShowsWhatTheReceiverAskedFor(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		control string
		want    references.AttemptOutcome
		disable references.DisabledReason
	}{
		{"failure", http.StatusServiceUnavailable, "", references.OutcomeFailed, ""},
		{"abort-message", http.StatusUnprocessableEntity, "abort-message", references.OutcomeAborted, ""},
		{"disable on a success", http.StatusOK, "Disable", references.OutcomeDelivered, references.DisabledByReceiver},
		{"410", http.StatusGone, "", references.OutcomeGone, references.DisabledGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, b := setup(t, notifier.Options{})
			rcv := newScripted(t, tt.status, tt.control)
			ep, _ := testEndpoint(rcv.URL, references.HeadersStandard)
			a, err := n.TestEndpoint(context.Background(), ep)
			if err != nil {
				t.Fatal(err)
			}
			if a.Outcome != tt.want || a.Disable != tt.disable || a.StatusCode != tt.status {
				t.Errorf("attempt %+v; want %s, disable %q", a, tt.want, tt.disable)
			}
			if tt.status >= 300 && !strings.Contains(a.Error, strconv.Itoa(tt.status)) {
				t.Errorf("error %q does not name the status", a.Error)
			}
			if headers, _ := rcv.requests(); len(headers) != 1 || headers[0].Get("svix-id") != "" {
				t.Errorf("standard style: %d requests, svix-id %q", len(headers), headers[0].Get("svix-id"))
			}
			if b.store.records() != 0 {
				t.Errorf("a test send was recorded")
			}
		})
	}
}

func TestNotifier_TestEndpointGoesThroughTheHostsBreaker(t *testing.T) {
	breakers := notifier.NewBreakers(notifier.BreakerSettings{FailuresToOpen: 1, OpenFor: time.Hour})
	n, _ := setup(t, notifier.Options{Breakers: breakers})
	rcv := newScripted(t, http.StatusBadGateway, "")
	ep, _ := testEndpoint(rcv.URL, references.HeadersStandard)
	if a, err := n.TestEndpoint(context.Background(), ep); err != nil || a.StatusCode != http.StatusBadGateway {
		t.Fatalf("first test: %+v, %v", a, err)
	}
	a, err := n.TestEndpoint(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	if a.StatusCode != 0 || a.Outcome != references.OutcomeFailed || !strings.Contains(a.Error, "not sent") {
		t.Errorf("with the host's breaker open: %+v", a)
	}
	if headers, _ := rcv.requests(); len(headers) != 1 {
		t.Errorf("the open breaker let %d requests through", len(headers)-1)
	}
}

func TestNotifier_TestEndpointIsSSRFGuarded(t *testing.T) {
	_, b := setup(t, notifier.Options{})
	rcv := newScripted(t, http.StatusOK, "")
	guarded := notifier.New(b.db, notifier.NewSender(notifier.SenderOptions{Now: b.clock.Now, Timeout: 2 * time.Second}), notifier.Options{Clock: b.clock})
	ep, _ := testEndpoint(rcv.URL, references.HeadersStandard)
	a, err := guarded.TestEndpoint(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	if a.Outcome != references.OutcomeFailed || a.StatusCode != 0 || a.Error == "" {
		t.Errorf("a test send to loopback without --allow-private-callbacks: %+v", a)
	}
	if headers, _ := rcv.requests(); len(headers) != 0 {
		t.Errorf("the private receiver got %d requests", len(headers))
	}
}

func TestNotifier_TestEndpointStopsWithItsContext(t *testing.T) {
	n, _ := setup(t, notifier.Options{})
	ep, _ := testEndpoint("http://127.0.0.1:1/", references.HeadersStandard)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if a, err := n.TestEndpoint(ctx, ep); err == nil {
		t.Errorf("TestEndpoint with an ended context = %+v, nil", a)
	}
}
