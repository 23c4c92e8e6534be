package main

import (
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/trackhook/trackhook/metrics"
	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/poller"
)

// newMetrics builds the metrics served at /metrics: trackhook's own, read from the
// store, the poller's sources and the notifier's breakers, plus the Go runtime's and
// the process's.
func newMetrics(db backend, router poller.Router, breakers *notifier.Breakers, sources *poller.Sources, log *slog.Logger) (*metrics.Metrics, error) {
	reg := prometheus.NewRegistry()
	pushSources := map[string]string{}
	for _, code := range pushCarriers(sources) {
		pushSources[code] = string(sources.Push[code].Model)
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return metrics.New(reg, metrics.Options{
		Stats:        db.Stats,
		Destinations: breakers,
		Sources:      guardedSources(router),
		SourceLabel:  sourceLabel(router),
		PushSources:  pushSources,
		Logger:       log,
	})
}

// guardedSources returns the router's sources that have a circuit breaker, in name
// order (those --sources configures; the built-in demo carrier has none).
func guardedSources(r poller.Router) []metrics.SourceBreaker {
	var out []metrics.SourceBreaker
	for _, s := range append(slices.Collect(maps.Values(r.ByCarrier)), r.Default) {
		if g, ok := s.(metrics.SourceBreaker); ok {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b metrics.SourceBreaker) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// sourceLabel names the source a carrier's polls go to (see poller.Router.SourceName),
// so the label takes one value per configured source.
func sourceLabel(r poller.Router) func(carrier string) string {
	return r.SourceName
}
