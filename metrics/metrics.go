// Package metrics exports trackhook's Prometheus metrics: what the poller and the
// notifier report as they work (polls, updates, delivery attempts and their latency)
// and what is read at scrape time (references by status, the delivery queue, the
// store's size, circuit breaker states).
//
// Labels stay bounded: no reference, update, account id or receiving host is ever a
// label. Sources are labelled by the tracking source a carrier is routed to (see
// Options.SourceLabel), outcomes and breaker states by a fixed set of words:
// delivery destinations are counted by the state of their breakers, not listed one
// series each, which grew with every callback host ever used.
//
// Nothing in trackhook imports this package but the binary in cmd/trackhook, which
// passes ObservePoll and ObserveDelivery to the poller and the notifier.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "trackhook"

// Options configures New. Every field is optional: what is not given is not exported.
type Options struct {
	// Stats reads the store's counters at scrape time (references by status, the
	// delivery queue, the file size). It must be cheap: it runs on every scrape.
	Stats StatsFunc
	// Destinations counts the delivery destinations' circuit breakers by state
	// (notifier.Breakers implements it).
	Destinations DestinationBreakers
	// Sources are the tracking sources behind circuit breakers (poller.GuardedSource).
	Sources []SourceBreaker
	// SourceLabel maps the carrier code of a polled reference to the "source" label.
	// Carrier codes are whatever users typed, so the default folds them all into
	// "default"; the binary passes a function naming the configured source instead.
	SourceLabel func(carrier string) string
	// PushSources names the sources that take carrier pushes, with their push model
	// ("subscription", "receiver"): their trackhook_inbound_pushes_total series exist
	// at zero from the start, before the first push.
	PushSources map[string]string
	// ScrapeTimeout bounds the Stats call of one scrape (default 5s).
	ScrapeTimeout time.Duration
	// Logger receives scrape errors (default: discarded).
	Logger *slog.Logger
}

// Metrics records trackhook's metrics into one registry. It is safe for concurrent
// use; the Observe methods are cheap enough to call on every poll and attempt.
type Metrics struct {
	gatherer prometheus.Gatherer
	log      *slog.Logger
	source   func(string) string

	polls           *prometheus.CounterVec
	pollDuration    *prometheus.HistogramVec
	updates         *prometheus.CounterVec
	attempts        *prometheus.CounterVec
	attemptDuration prometheus.Histogram
	deliveryLatency prometheus.Histogram
	inboundPushes   *prometheus.CounterVec
}

// Poll outcomes, as poller.PollReport names them. They are created at zero for each
// source that reports, so a rate over them exists from the first poll on.
var pollOutcomes = []string{"changed", "unchanged", "failed", "not_found", "unsubscribed"}

// New registers trackhook's metrics in reg and returns the Metrics to report to. It
// fails when reg already holds metrics of the same names.
func New(reg *prometheus.Registry, opts Options) (*Metrics, error) {
	if opts.SourceLabel == nil {
		opts.SourceLabel = func(string) string { return "default" }
	}
	if opts.ScrapeTimeout <= 0 {
		opts.ScrapeTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		gatherer: reg,
		log:      opts.Logger,
		source:   opts.SourceLabel,
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "polls_total",
			Help: "Polls of tracking sources, by source and outcome (changed, unchanged, failed, not_found, unsubscribed).",
		}, []string{"source", "outcome"}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "poll_duration_seconds",
			Help:    "Time one poll took, from reading the reference to recording the result, by source.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"source"}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "updates_total",
			Help: "Updates appended to reference feeds by polls, by source.",
		}, []string{"source"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "delivery_attempts_total",
			Help: "Webhook delivery attempts, by outcome (delivered, failed and retried later, gave_up, gone).",
		}, []string{"outcome"}),
		attemptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "delivery_attempt_duration_seconds",
			Help:    "Time one webhook POST took, until the response was read or the attempt failed.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		deliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "delivery_latency_seconds",
			Help: "Time from an update's creation to the 2xx that delivered it, retries included " +
				"(redeliveries asked for through the API are not counted).",
			Buckets: []float64{0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 72 * 3600},
		}),
		inboundPushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "inbound_pushes_total",
			Help: "Pushes carriers sent to /inbound, by source, push model (subscription: DCSA T&T 2.2, receiver: DCSA CT 3.0) and outcome " +
				"(applied, duplicate, not_tracked, bad_signature, unknown_subscription, unauthorized, malformed, too_large, error).",
		}, []string{"source", "model", "outcome"}),
	}
	scrape := newScrapeCollector(opts)
	for _, c := range []prometheus.Collector{m.polls, m.pollDuration, m.updates, m.attempts, m.attemptDuration, m.deliveryLatency, m.inboundPushes, scrape} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	for _, o := range attemptOutcomes {
		m.attempts.WithLabelValues(o)
	}
	for source, model := range opts.PushSources {
		m.inboundSeries(source, model)
	}
	return m, nil
}

// Handler serves the registry in the Prometheus text format. A metric that cannot be
// read (the store failing, say) is left out and logged; the others are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{
		ErrorLog:            slogPrintln{m.log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
	})
}

// slogPrintln adapts slog to promhttp's Println logger.
type slogPrintln struct{ l *slog.Logger }

func (s slogPrintln) Println(v ...any) {
	s.l.Error("metrics scrape", "err", fmt.Sprint(v...))
}
