package metrics

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/trackhook/trackhook/references"
)

// StatsFunc reads the store's counters at every scrape; store.DB.Stats is one.
type StatsFunc func(ctx context.Context) (references.Stats, error)

// DestinationBreakers reports how many delivery destinations' circuit breakers are
// in each state. notifier.Breakers implements it.
type DestinationBreakers interface {
	StateCounts() map[gobreaker.State]int
}

// SourceBreaker is a tracking source behind a circuit breaker. poller.GuardedSource
// implements it.
type SourceBreaker interface {
	Name() string
	State() gobreaker.State
}

// Breaker states as gauge values: 0 closed, 1 half-open, 2 open.
const (
	breakerClosed   = 0
	breakerHalfOpen = 1
	breakerOpen     = 2
)

// breakerStates are the state label values of the destination breaker counts.
var breakerStates = []struct {
	state gobreaker.State
	label string
}{{gobreaker.StateClosed, "closed"}, {gobreaker.StateHalfOpen, "half_open"}, {gobreaker.StateOpen, "open"}}

func breakerValue(s gobreaker.State) float64 {
	switch s {
	case gobreaker.StateOpen:
		return breakerOpen
	case gobreaker.StateHalfOpen:
		return breakerHalfOpen
	}
	return breakerClosed
}

// scrapeCollector reads, at scrape time, what is cheaper to ask for than to track:
// the store's counters and the breakers' states.
type scrapeCollector struct {
	opts Options

	references, queue, fileBytes *prometheus.Desc
	destinations, sources        *prometheus.Desc
}

func newScrapeCollector(opts Options) *scrapeCollector {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "", n) }
	return &scrapeCollector{
		opts: opts,
		references: prometheus.NewDesc(name("references"),
			"References in the store, by status (active, unsubscribed).", []string{"status"}, nil),
		queue: prometheus.NewDesc(name("delivery_queue_references"),
			"References with at least one update waiting for delivery, first attempt or retry.", nil, nil),
		fileBytes: prometheus.NewDesc(name("store_file_bytes"),
			"Size of the store file.", nil, nil),
		destinations: prometheus.NewDesc(name("destination_breakers"),
			"Webhook destinations (address:port) with a circuit breaker, by its state (closed, half_open, open).", []string{"state"}, nil),
		sources: prometheus.NewDesc(name("source_breaker_state"),
			"Circuit breaker state of each tracking source (0 closed, 1 half-open, 2 open).", []string{"source"}, nil),
	}
}

// Describe sends the descriptions of what is configured.
func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	if c.opts.Stats != nil {
		ch <- c.references
		ch <- c.queue
		ch <- c.fileBytes
	}
	if c.opts.Destinations != nil {
		ch <- c.destinations
	}
	if len(c.opts.Sources) > 0 {
		ch <- c.sources
	}
}

// Collect reads the current values.
func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	if c.opts.Stats != nil {
		c.collectStats(ch)
	}
	if c.opts.Destinations != nil {
		counts := c.opts.Destinations.StateCounts()
		for _, s := range breakerStates {
			ch <- prometheus.MustNewConstMetric(c.destinations, prometheus.GaugeValue, float64(counts[s.state]), s.label)
		}
	}
	seen := map[string]bool{}
	for _, s := range c.opts.Sources {
		if seen[s.Name()] {
			continue // one source may serve several carriers
		}
		seen[s.Name()] = true
		ch <- prometheus.MustNewConstMetric(c.sources, prometheus.GaugeValue, breakerValue(s.State()), s.Name())
	}
}

func (c *scrapeCollector) collectStats(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.ScrapeTimeout)
	defer cancel()
	st, err := c.opts.Stats(ctx)
	if err != nil {
		err = fmt.Errorf("read store stats: %w", err)
		for _, d := range []*prometheus.Desc{c.references, c.queue, c.fileBytes} {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	ch <- prometheus.MustNewConstMetric(c.references, prometheus.GaugeValue, float64(st.ActiveReferences), "active")
	ch <- prometheus.MustNewConstMetric(c.references, prometheus.GaugeValue, float64(st.UnsubscribedReferences), "unsubscribed")
	ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(st.PendingDeliveries))
	ch <- prometheus.MustNewConstMetric(c.fileBytes, prometheus.GaugeValue, float64(st.FileBytes))
}
