package metrics_test

import (
	"testing"

	"github.com/trackhook/trackhook/inbound"
	"github.com/trackhook/trackhook/metrics"
	"github.com/trackhook/trackhook/poller"
)

func TestObserveInbound_CountsBySourceModelAndOutcome(t *testing.T) {
	t.Parallel()
	m := newMetrics(t, metrics.Options{PushSources: map[string]string{"MAEU": "subscription", "CMDU": "receiver"}})
	reports := []inbound.Report{
		{Source: "MAEU", Model: poller.PushSubscription, Outcome: inbound.OutcomeApplied, Updates: 2},
		{Source: "MAEU", Model: poller.PushSubscription, Outcome: inbound.OutcomeApplied, Updates: 1},
		{Source: "MAEU", Model: poller.PushSubscription, Outcome: inbound.OutcomeBadSignature},
		{Source: inbound.UnknownSource, Model: poller.PushReceiver, Outcome: inbound.OutcomeUnknownSubscription},
	}
	for _, r := range reports {
		m.ObserveInbound(r)
	}
	s := scrape(t, m)
	tests := []struct {
		source, model, outcome string
		want                   float64
	}{
		{"MAEU", "subscription", "applied", 2},
		{"MAEU", "subscription", "bad_signature", 1},
		{"MAEU", "subscription", "duplicate", 0},
		{"CMDU", "receiver", "unauthorized", 0}, // configured: at zero before any push
		{"CMDU", "receiver", "applied", 0},
		{"unknown", "receiver", "unknown_subscription", 1},
	}
	for _, tt := range tests {
		got := s.value(t, "trackhook_inbound_pushes_total", "source", tt.source, "model", tt.model, "outcome", tt.outcome)
		if got != tt.want {
			t.Errorf("inbound_pushes_total{source=%q,model=%q,outcome=%q} = %v, want %v", tt.source, tt.model, tt.outcome, got, tt.want)
		}
	}
	if f := s["trackhook_inbound_pushes_total"]; len(f.GetMetric()) != 3*len(inbound.Outcomes) {
		t.Errorf("%d series, want %d: every outcome of the 3 source and model pairs", len(f.GetMetric()), 3*len(inbound.Outcomes))
	}
}
