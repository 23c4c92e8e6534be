package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/metrics"
	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
	"github.com/trackhook/trackhook/webhook"
)

// receiver answers webhooks with the statuses it is given in turn (then 200), and
// checks every signature against the account's secret.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	answers  []int
	received int
	badSigs  []error
}

func newReceiver(t *testing.T, secret string, answers ...int) *receiver {
	t.Helper()
	r := &receiver{answers: answers}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		err := webhook.Verify([]string{secret}, req.Header, body, 0, time.Now())
		r.mu.Lock()
		defer r.mu.Unlock()
		r.received++
		if err != nil {
			r.badSigs = append(r.badSigs, err)
		}
		status := http.StatusOK
		if len(r.answers) > 0 {
			status, r.answers = r.answers[0], r.answers[1:]
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

// TestMetrics_AfterRealWork runs the real poller with the demo carrier and the real
// notifier against loopback receivers over a real store, then scrapes /metrics.
func TestMetrics_AfterRealWork(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	// The store, the poller and the demo carrier share a clock that stands still, so
	// a second poll finds nothing new. The notifier runs on the real clock: the
	// delivery latency is measured against the time the test really takes.
	clk := clock.NewFake(start)
	db, err := store.Open(filepath.Join(t.TempDir(), "metrics.db"), store.Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	const account = "acct_metrics"
	acct, err := db.EnsureAccount(ctx, account, references.NewWebhookSecret(), start)
	if err != nil {
		t.Fatal(err)
	}
	secret := acct.WebhookSecrets[0].Secret
	flaky := newReceiver(t, secret, http.StatusServiceUnavailable) // fails once, then takes everything
	down := newReceiver(t, secret, 500, 500, 500)

	svc := references.NewService(db, references.ServiceOptions{AllowInsecureCallbacks: true, Now: clk.Now})
	create := func(container, callback string) references.Reference {
		t.Helper()
		ref, _, err := svc.Create(ctx, account, references.CreateRequest{ContainerID: container, CarrierCode: "MSCU", CallbackURL: callback}, "")
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	refFlaky := create("MSCU1234566", flaky.URL+"/hooks")
	refDown := create("CSQU3054383", down.URL+"/hooks")

	// The demo carrier's clock stands still, so a second poll finds nothing new.
	source := poller.Guard("default", demo.New(demo.Options{Speed: 3600, Clock: clock.NewFake(start)}), poller.GuardOptions{})
	breakers := notifier.NewBreakers(notifier.BreakerSettings{FailuresToOpen: 2, OpenFor: time.Hour})
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Options{
		Stats:        db.Stats,
		Destinations: breakers,
		Sources:      []metrics.SourceBreaker{source},
	})
	if err != nil {
		t.Fatal(err)
	}
	polls, err := poller.New(db, poller.Options{Router: poller.Router{Default: source}, Clock: clk, Observe: m.ObservePoll})
	if err != nil {
		t.Fatal(err)
	}
	deliveries := notifier.New(db, notifier.NewSender(notifier.SenderOptions{AllowPrivate: true}), notifier.Options{Breakers: breakers, Observe: m.ObserveDelivery})

	for _, ref := range []references.Reference{refFlaky, refDown} {
		if err := polls.PollOne(ctx, ref.ID); err != nil {
			t.Fatal(err)
		}
	}
	deliver := func(refID string, want references.AttemptOutcome) {
		t.Helper()
		got, err := deliveries.DeliverNext(ctx, refID)
		if err != nil || got != want {
			t.Fatalf("DeliverNext(%s) = %q, %v; want %q", refID, got, err, want)
		}
	}
	deliver(refFlaky.ID, references.OutcomeFailed)
	deliver(refDown.ID, references.OutcomeFailed)

	s := scrape(t, m)
	if got := s.value(t, "trackhook_delivery_queue_references"); got != 2 {
		t.Errorf("delivery_queue_references after two failures = %v, want 2", got)
	}
	if got := s.value(t, "trackhook_delivery_attempts_total", "outcome", "failed"); got != 2 {
		t.Errorf("failed attempts = %v, want 2", got)
	}

	deliver(refFlaky.ID, references.OutcomeDelivered) // the retry goes through
	deliver(refDown.ID, references.OutcomeFailed)     // the second failure opens its breaker
	if _, err := deliveries.DeliverNext(ctx, refDown.ID); err != nil {
		t.Fatal(err) // refused by the open breaker: postponed, not an attempt
	}
	if err := polls.PollOne(ctx, refFlaky.ID); err != nil {
		t.Fatal(err)
	}

	s = scrape(t, m)
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"trackhook_polls_total", []string{"source", "default", "outcome", "changed"}, 2},
		{"trackhook_polls_total", []string{"source", "default", "outcome", "unchanged"}, 1},
		{"trackhook_polls_total", []string{"source", "default", "outcome", "failed"}, 0},
		{"trackhook_updates_total", []string{"source", "default"}, 2}, // one per changed poll
		{"trackhook_delivery_attempts_total", []string{"outcome", "delivered"}, 1},
		{"trackhook_delivery_attempts_total", []string{"outcome", "failed"}, 3},
		{"trackhook_references", []string{"status", "active"}, 2},
		{"trackhook_references", []string{"status", "unsubscribed"}, 0},
		{"trackhook_delivery_queue_references", nil, 1},                    // the flaky one is done; the down one waits
		{"trackhook_destination_breakers", []string{"state", "closed"}, 1}, // the flaky receiver's
		{"trackhook_destination_breakers", []string{"state", "half_open"}, 0},
		{"trackhook_destination_breakers", []string{"state", "open"}, 1}, // the down one's
		{"trackhook_source_breaker_state", []string{"source", "default"}, 0},
	}
	for _, tt := range tests {
		if got := s.value(t, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if got := s.value(t, "trackhook_store_file_bytes"); got <= 0 {
		t.Errorf("store_file_bytes = %v", got)
	}
	n, sum := s.histogram(t, "trackhook_delivery_latency_seconds")
	if elapsed := time.Since(start).Seconds(); n != 1 || sum <= 0 || sum > elapsed {
		t.Errorf("delivery_latency_seconds: count %d sum %v, want one sample between 0 and %v s", n, sum, elapsed)
	}
	if n, _ := s.histogram(t, "trackhook_poll_duration_seconds", "source", "default"); n != 3 {
		t.Errorf("poll_duration_seconds count %d, want 3", n)
	}
	if n, _ := s.histogram(t, "trackhook_delivery_attempt_duration_seconds"); n != 4 {
		t.Errorf("delivery_attempt_duration_seconds count %d, want 4", n)
	}
	for _, r := range []*receiver{flaky, down} {
		r.mu.Lock()
		if len(r.badSigs) > 0 {
			t.Errorf("receiver got badly signed webhooks: %v", errors.Join(r.badSigs...))
		}
		r.mu.Unlock()
	}
}
