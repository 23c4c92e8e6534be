package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sony/gobreaker/v2"

	"github.com/trackhook/trackhook/metrics"
	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
)

// scraped is one scrape of /metrics, parsed.
type scraped map[string]*dto.MetricFamily

// scrape serves m over loopback HTTP and reads /metrics once, as Prometheus would.
func scrape(t testing.TB, m *metrics.Metrics) scraped {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return families
}

// metric returns the series of family name with exactly the given labels (name, value
// pairs), or nil.
func (s scraped) metric(name string, labels ...string) *dto.Metric {
	f := s[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			found := false
			for i := 0; i+1 < len(labels); i += 2 {
				found = found || (labels[i] == l.GetName() && labels[i+1] == l.GetValue())
			}
			match = match && found
		}
		if match {
			return m
		}
	}
	return nil
}

// value returns a counter's or gauge's value, failing the test when the series is missing.
func (s scraped) value(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	m := s.metric(name, labels...)
	switch {
	case m == nil:
		t.Fatalf("no series %s%v in the scrape", name, labels)
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s%v is neither a counter nor a gauge", name, labels)
	return 0
}

// histogram returns a histogram's sample count and sum.
func (s scraped) histogram(t testing.TB, name string, labels ...string) (uint64, float64) {
	t.Helper()
	m := s.metric(name, labels...)
	if m == nil || m.Histogram == nil {
		t.Fatalf("no histogram %s%v in the scrape", name, labels)
	}
	return m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()
}

func newMetrics(t testing.TB, opts metrics.Options) *metrics.Metrics {
	t.Helper()
	m, err := metrics.New(prometheus.NewRegistry(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestObservePoll_CountsBySourceAndOutcome(t *testing.T) {
	t.Parallel()
	m := newMetrics(t, metrics.Options{SourceLabel: func(carrier string) string {
		if carrier == "MAEU" {
			return "MAEU"
		}
		return "default"
	}})
	reports := []poller.PollReport{
		{ReferenceID: "ref_1", Carrier: "MAEU", Outcome: "changed", Updates: 1, Duration: 200 * time.Millisecond},
		{ReferenceID: "ref_2", Carrier: "MAEU", Outcome: "unchanged", Duration: 100 * time.Millisecond},
		{ReferenceID: "ref_1", Carrier: "MAEU", Outcome: "changed", Updates: 2, Duration: 300 * time.Millisecond},
		{ReferenceID: "ref_3", Carrier: "ZIMU", Outcome: "failed", Duration: time.Second},
		{ReferenceID: "ref_4", Carrier: "XXXX", Outcome: "unsubscribed", Updates: 1, Duration: time.Second},
	}
	for _, r := range reports {
		m.ObservePoll(r)
	}
	s := scrape(t, m)

	tests := []struct {
		source, outcome string
		want            float64
	}{
		{"MAEU", "changed", 2}, {"MAEU", "unchanged", 1}, {"MAEU", "failed", 0}, {"MAEU", "not_found", 0},
		{"default", "failed", 1}, {"default", "unsubscribed", 1}, {"default", "changed", 0},
	}
	for _, tt := range tests {
		if got := s.value(t, "trackhook_polls_total", "source", tt.source, "outcome", tt.outcome); got != tt.want {
			t.Errorf("polls_total{source=%q,outcome=%q} = %v, want %v", tt.source, tt.outcome, got, tt.want)
		}
	}
	if got := s.value(t, "trackhook_updates_total", "source", "MAEU"); got != 3 {
		t.Errorf("updates_total{source=MAEU} = %v, want 3", got)
	}
	if got := s.value(t, "trackhook_updates_total", "source", "default"); got != 1 {
		t.Errorf("updates_total{source=default} = %v, want 1", got)
	}
	n, sum := s.histogram(t, "trackhook_poll_duration_seconds", "source", "MAEU")
	if n != 3 || sum < 0.599 || sum > 0.601 {
		t.Errorf("poll_duration_seconds{source=MAEU}: count %d sum %v, want 3 and 0.6", n, sum)
	}
	// Carrier codes users typed never become label values of their own.
	for _, f := range s {
		for _, series := range f.GetMetric() {
			for _, l := range series.GetLabel() {
				if l.GetValue() == "ZIMU" || l.GetValue() == "XXXX" || strings.HasPrefix(l.GetValue(), "ref_") {
					t.Errorf("%s has the label %s=%q", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestObserveDelivery_OutcomesAndLatencyFromCreationTo2xx(t *testing.T) {
	t.Parallel()
	m := newMetrics(t, metrics.Options{})
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	job := references.DeliveryJob{Update: references.Update{ID: "upd_1", CreatedAt: created}}
	attempt := func(outcome references.AttemptOutcome, after time.Duration, ms int64) references.DeliveryAttempt {
		return references.DeliveryAttempt{UpdateID: "upd_1", At: created.Add(after), LatencyMS: ms, Outcome: outcome}
	}
	m.ObserveDelivery(job, attempt(references.OutcomeFailed, time.Second, 1500))
	m.ObserveDelivery(job, attempt(references.OutcomeFailed, 6*time.Second, 2000))
	m.ObserveDelivery(job, attempt(references.OutcomeDelivered, 30*time.Second, 500)) // 30.5 s after creation
	redelivery := job
	redelivery.Redelivery = true
	m.ObserveDelivery(redelivery, attempt(references.OutcomeDelivered, 48*time.Hour, 100))
	m.ObserveDelivery(job, attempt(references.OutcomeGone, 40*time.Second, 100))

	s := scrape(t, m)
	for outcome, want := range map[string]float64{"delivered": 2, "failed": 2, "gone": 1, "gave_up": 0} {
		if got := s.value(t, "trackhook_delivery_attempts_total", "outcome", outcome); got != want {
			t.Errorf("delivery_attempts_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
	n, sum := s.histogram(t, "trackhook_delivery_latency_seconds")
	if n != 1 || sum != 30.5 {
		t.Errorf("delivery_latency_seconds: count %d sum %v, want one sample of 30.5 (failures and redeliveries left out)", n, sum)
	}
	n, sum = s.histogram(t, "trackhook_delivery_attempt_duration_seconds")
	if n != 5 || sum < 4.199 || sum > 4.201 {
		t.Errorf("delivery_attempt_duration_seconds: count %d sum %v, want 5 and 4.2", n, sum)
	}
}

// destinations is a fixed count of destination breakers by state.
type destinations map[gobreaker.State]int

func (d destinations) StateCounts() map[gobreaker.State]int { return d }

// downSource always fails, as a carrier API that is down.
type downSource struct{}

func (downSource) Fetch(context.Context, references.Reference) (*references.Shipment, error) {
	return nil, errors.New("connection refused")
}

func TestScrape_ReadsStoreStatsAndBreakerStates(t *testing.T) {
	t.Parallel()
	down := poller.Guard("MAEU", downSource{}, poller.GuardOptions{Failures: 2, OpenFor: time.Hour})
	for range 2 {
		_, _ = down.Fetch(context.Background(), references.Reference{ID: "ref_1"})
	}
	up := poller.Guard("default", downSource{}, poller.GuardOptions{})
	var calls atomic.Int32
	m := newMetrics(t, metrics.Options{
		Stats: func(ctx context.Context) (references.Stats, error) {
			calls.Add(1)
			return references.Stats{ActiveReferences: 7, UnsubscribedReferences: 3, PendingDeliveries: 2, FileBytes: 65536}, nil
		},
		Destinations: destinations{gobreaker.StateOpen: 1, gobreaker.StateClosed: 3, gobreaker.StateHalfOpen: 2},
		Sources:      []metrics.SourceBreaker{down, up, down}, // a source serving two carriers appears twice
	})
	s := scrape(t, m)
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"trackhook_references", []string{"status", "active"}, 7},
		{"trackhook_references", []string{"status", "unsubscribed"}, 3},
		{"trackhook_delivery_queue_references", nil, 2},
		{"trackhook_store_file_bytes", nil, 65536},
		{"trackhook_destination_breakers", []string{"state", "open"}, 1},
		{"trackhook_destination_breakers", []string{"state", "half_open"}, 2},
		{"trackhook_destination_breakers", []string{"state", "closed"}, 3},
		{"trackhook_source_breaker_state", []string{"source", "MAEU"}, 2},
		{"trackhook_source_breaker_state", []string{"source", "default"}, 0},
	}
	for _, tt := range tests {
		if got := s.value(t, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if n := len(s["trackhook_source_breaker_state"].GetMetric()); n != 2 {
		t.Errorf("%d source breaker series, want 2", n)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("Stats read %d times in one scrape, want 1", n)
	}
}

// TestScrape_DestinationBreakersAreCountsNotASeriesPerHost gives the real breakers
// 3,000 destinations, as 3,000 callback changes do: the scrape has three series, one
// per state, whatever the number of hosts.
func TestScrape_DestinationBreakersAreCountsNotASeriesPerHost(t *testing.T) {
	t.Parallel()
	breakers := notifier.NewBreakers(notifier.BreakerSettings{FailuresToOpen: 1, OpenFor: time.Hour})
	const hosts = 3000
	for i := range hosts {
		res := notifier.Result{StatusCode: http.StatusOK}
		if i%100 == 0 {
			res = notifier.Result{StatusCode: http.StatusServiceUnavailable, Err: &notifier.StatusError{StatusCode: 503}}
		}
		breakers.Do(fmt.Sprintf("192.0.2.%d:%d", i%250, 1000+i), func() notifier.Result { return res })
	}
	s := scrape(t, newMetrics(t, metrics.Options{Destinations: breakers}))
	if n := len(s["trackhook_destination_breakers"].GetMetric()); n != 3 {
		t.Fatalf("%d destination breaker series for %d hosts, want 3", n, hosts)
	}
	if got := s.value(t, "trackhook_destination_breakers", "state", "open"); got != hosts/100 {
		t.Errorf("open = %v, want %d", got, hosts/100)
	}
	if got := s.value(t, "trackhook_destination_breakers", "state", "closed"); got != hosts-hosts/100 {
		t.Errorf("closed = %v, want %d", got, hosts-hosts/100)
	}
	for name, f := range s {
		for _, series := range f.GetMetric() {
			for _, l := range series.GetLabel() {
				if strings.HasPrefix(l.GetValue(), "192.0.2.") {
					t.Fatalf("%s has a series per host: %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// syncBuffer collects log output written from the handler's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestScrape_StoreErrorLeavesTheOtherMetrics(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	m := newMetrics(t, metrics.Options{
		Stats: func(context.Context) (references.Stats, error) {
			return references.Stats{}, errors.New("database not open")
		},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	m.ObservePoll(poller.PollReport{Carrier: "MAEU", Outcome: "changed", Updates: 1})
	s := scrape(t, m)
	if s["trackhook_references"] != nil {
		t.Error("references reported although the store could not be read")
	}
	if got := s.value(t, "trackhook_polls_total", "source", "default", "outcome", "changed"); got != 1 {
		t.Errorf("polls_total = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "database not open") {
		t.Errorf("scrape error not logged:\n%s", logs.String())
	}
}

func TestNew_RefusesARegistryThatHasTheMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, metrics.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(reg, metrics.Options{}); err == nil {
		t.Fatal("a second New on the same registry succeeded")
	}
}
