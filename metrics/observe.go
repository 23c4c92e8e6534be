package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackhook/trackhook/inbound"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
)

// attemptOutcomes are the outcomes a delivery attempt is counted under, created at zero.
var attemptOutcomes = []string{
	string(references.OutcomeDelivered), string(references.OutcomeFailed),
	string(references.OutcomeGaveUp), string(references.OutcomeGone),
}

// ObservePoll records one finished poll: its outcome, its duration and the updates it
// appended. Pass it (with the notifier's Wake) as poller.Options.Observe.
func (m *Metrics) ObservePoll(r poller.PollReport) {
	source := m.source(r.Carrier)
	polls := m.polls.MustCurryWith(prometheus.Labels{"source": source})
	for _, o := range pollOutcomes {
		polls.WithLabelValues(o) // zero series for every outcome of a source seen
	}
	polls.WithLabelValues(r.Outcome).Inc()
	m.pollDuration.WithLabelValues(source).Observe(r.Duration.Seconds())
	if r.Updates > 0 {
		m.updates.WithLabelValues(source).Add(float64(r.Updates))
	} else {
		m.updates.WithLabelValues(source)
	}
}

// ObserveDelivery records one delivery attempt of job: its outcome and duration and,
// when it delivered an update of the ordered stream, the time from the update's
// creation to the 2xx. Pass it as notifier.Options.Observe.
func (m *Metrics) ObserveDelivery(job references.DeliveryJob, a references.DeliveryAttempt) {
	m.attempts.WithLabelValues(string(a.Outcome)).Inc()
	took := time.Duration(a.LatencyMS) * time.Millisecond
	m.attemptDuration.Observe(took.Seconds())
	// A redelivery is a user asking for an old update again: its age says nothing
	// about how fast trackhook delivers.
	if a.Outcome != references.OutcomeDelivered || job.Redelivery || job.Update.CreatedAt.IsZero() {
		return
	}
	latency := a.At.Add(took).Sub(job.Update.CreatedAt)
	m.deliveryLatency.Observe(max(latency, 0).Seconds())
}

// ObserveInbound records one push a carrier sent, as it was answered. Pass it as
// inbound.Options.Observe. The source is a configured source's name or
// inbound.UnknownSource, never what a URL says, so the label stays bounded.
func (m *Metrics) ObserveInbound(r inbound.Report) {
	m.inboundSeries(r.Source, string(r.Model)).WithLabelValues(r.Outcome).Inc()
}

// inboundSeries creates the series of every outcome of source and model at zero, so
// that a rate over them exists from the first push on, and returns them by outcome.
func (m *Metrics) inboundSeries(source, model string) *prometheus.CounterVec {
	pushes := m.inboundPushes.MustCurryWith(prometheus.Labels{"source": source, "model": model})
	for _, o := range inbound.Outcomes {
		pushes.WithLabelValues(o)
	}
	return pushes
}
