package references

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEndpointApply(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	base := Endpoint{ID: "ep_1", URL: "https://hooks.example.com/a", Enabled: true, Format: FormatStandard,
		Headers: HeadersStandard, DisableAfter: DefaultDisableAfter}
	disabled := base
	disabled.Enabled, disabled.DisabledReason, disabled.DisabledAt, disabled.FailingSince = false, DisabledFailing, &now, &now
	batch := base
	batch.Format, batch.BatchSize = FormatBatch, 20

	tests := []struct {
		name      string
		from      Endpoint
		patch     EndpointPatch
		check     func(t *testing.T, ep Endpoint)
		wantField string // the field of the expected error; "" for none
	}{
		{name: "Description", from: base, patch: EndpointPatch{Description: ptr("ops")},
			check: func(t *testing.T, ep Endpoint) { want(t, ep.Description, "ops") }},
		{name: "DescriptionTooLong", from: base, patch: EndpointPatch{Description: ptr(strings.Repeat("x", MaxEndpointDescriptionLen+1))}, wantField: "description"},
		{name: "DescriptionNotUTF8", from: base, patch: EndpointPatch{Description: ptr("\xff")}, wantField: "description"},
		{name: "EventTypesDeduplicated", from: base, patch: EndpointPatch{EventTypes: ptr([]string{"shipment.*", "tracking.failed", "shipment.*"})},
			check: func(t *testing.T, ep Endpoint) { want(t, ep.EventTypes, []string{"shipment.*", "tracking.failed"}) }},
		{name: "EventTypesEmptyMeansAll", from: base, patch: EndpointPatch{EventTypes: ptr([]string{})},
			check: func(t *testing.T, ep Endpoint) { want(t, len(ep.EventTypes), 0) }},
		{name: "EventTypeUnknown", from: base, patch: EndpointPatch{EventTypes: ptr([]string{"container.arrived"})}, wantField: "event_types"},
		{name: "EventTypesTooMany", from: base, patch: EndpointPatch{EventTypes: ptr(make([]string, MaxEndpointEventTypes+1))}, wantField: "event_types"},
		{name: "MinETAChange", from: base, patch: EndpointPatch{MinETAChange: ptr(2 * time.Hour)},
			check: func(t *testing.T, ep Endpoint) { want(t, ep.MinETAChange, 2*time.Hour) }},
		{name: "MinETAChangeNegative", from: base, patch: EndpointPatch{MinETAChange: ptr(-time.Hour)}, wantField: "min_eta_change"},
		{name: "MinETAChangeTooBig", from: base, patch: EndpointPatch{MinETAChange: ptr(MaxMinETAChange + time.Hour)}, wantField: "min_eta_change"},
		{name: "FilterNormalised", from: base, patch: EndpointPatch{Filter: &EndpointFilter{CarrierCodes: []string{"maeu", "MAEU", " cmdu"}, Metadata: map[string]string{}}},
			check: func(t *testing.T, ep Endpoint) {
				want(t, ep.Filter, EndpointFilter{CarrierCodes: []string{"MAEU", "CMDU"}})
			}},
		{name: "FilterBadCarrier", from: base, patch: EndpointPatch{Filter: &EndpointFilter{CarrierCodes: []string{"MAERSK1"}}}, wantField: "filter.carrier_codes"},
		{name: "FilterMetadataKeyEmpty", from: base, patch: EndpointPatch{Filter: &EndpointFilter{Metadata: map[string]string{"": "x"}}}, wantField: "filter.metadata"},
		{name: "BatchTakesTheDefaultSize", from: base, patch: EndpointPatch{Format: ptr(FormatBatch)},
			check: func(t *testing.T, ep Endpoint) { want(t, ep.BatchSize, DefaultBatchSize) }},
		{name: "BatchWithSize", from: base, patch: EndpointPatch{Format: ptr(FormatBatch), BatchSize: ptr(10)},
			check: func(t *testing.T, ep Endpoint) { want(t, ep.BatchSize, 10) }},
		{name: "BatchSizeAlone", from: batch, patch: EndpointPatch{BatchSize: ptr(5)},
			check: func(t *testing.T, ep Endpoint) { want(t, ep.BatchSize, 5) }},
		{name: "BatchSizeZero", from: batch, patch: EndpointPatch{BatchSize: ptr(0)}, wantField: "batch_size"},
		{name: "BatchSizeTooBig", from: batch, patch: EndpointPatch{BatchSize: ptr(MaxBatchSize + 1)}, wantField: "batch_size"},
		{name: "BatchSizeWithoutBatch", from: base, patch: EndpointPatch{BatchSize: ptr(5)}, wantField: "batch_size"},
		{name: "BackToStandardDropsTheSize", from: batch, patch: EndpointPatch{Format: ptr(FormatStandard)},
			check: func(t *testing.T, ep Endpoint) { want(t, ep.BatchSize, 0) }},
		{name: "FormatUnknown", from: base, patch: EndpointPatch{Format: ptr(DeliveryFormat("zip"))}, wantField: "format"},
		{name: "SvixHeaders", from: base, patch: EndpointPatch{Headers: ptr(HeadersSvix)},
			check: func(t *testing.T, ep Endpoint) { want(t, ep.Headers, HeadersSvix) }},
		{name: "HeadersUnknown", from: base, patch: EndpointPatch{Headers: ptr(HeaderStyle("x-hub"))}, wantField: "headers"},
		{name: "Vision6Policy", from: base, patch: EndpointPatch{MaxAttempts: ptr(5), DisableAfter: ptr(time.Duration(0))},
			check: func(t *testing.T, ep Endpoint) {
				want(t, [2]any{ep.MaxAttempts, ep.DisableAfter}, [2]any{5, time.Duration(0)})
			}},
		{name: "MaxAttemptsTooMany", from: base, patch: EndpointPatch{MaxAttempts: ptr(MaxEndpointAttempts + 1)}, wantField: "max_attempts"},
		{name: "MaxAttemptsNegative", from: base, patch: EndpointPatch{MaxAttempts: ptr(-1)}, wantField: "max_attempts"},
		{name: "RetryWindow", from: base, patch: EndpointPatch{RetryWindow: ptr(6 * time.Hour)},
			check: func(t *testing.T, ep Endpoint) { want(t, ep.RetryWindow, 6*time.Hour) }},
		{name: "RetryWindowTooShort", from: base, patch: EndpointPatch{RetryWindow: ptr(time.Second)}, wantField: "retry_window"},
		{name: "RetryWindowAndMaxAttempts", from: base, patch: EndpointPatch{RetryWindow: ptr(time.Hour), MaxAttempts: ptr(3)}, wantField: "max_attempts"},
		{name: "DisableAfterTooLong", from: base, patch: EndpointPatch{DisableAfter: ptr(MaxDisableAfter + time.Hour)}, wantField: "disable_after"},
		{name: "DisableByUser", from: base, patch: EndpointPatch{Enabled: ptr(false)},
			check: func(t *testing.T, ep Endpoint) {
				want(t, [2]any{ep.Enabled, ep.DisabledReason}, [2]any{false, DisabledByUser})
			}},
		{name: "ReEnableClearsTheReason", from: disabled, patch: EndpointPatch{Enabled: ptr(true)},
			check: func(t *testing.T, ep Endpoint) {
				if !ep.Enabled || ep.DisabledReason != "" || ep.DisabledAt != nil || ep.FailingSince != nil {
					t.Errorf("re-enabled endpoint: %+v", ep)
				}
			}},
		{name: "DisablingADisabledOneKeepsItsReason", from: disabled, patch: EndpointPatch{Enabled: ptr(false)},
			check: func(t *testing.T, ep Endpoint) { want(t, ep.DisabledReason, DisabledFailing) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := tt.from
			err := ep.Apply(tt.patch, now)
			if tt.wantField != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != CodeInvalid || e.Field != tt.wantField {
					t.Fatalf("error %v, want invalid %s", err, tt.wantField)
				}
				if !reflect.DeepEqual(ep, tt.from) {
					t.Errorf("a refused patch changed the endpoint: %+v", ep)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ep.UpdatedAt.Equal(now) {
				t.Errorf("UpdatedAt = %v", ep.UpdatedAt)
			}
			tt.check(t, ep)
		})
	}
}

func want[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
