package references

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func etaChange(oldT, newT string) Change {
	return Change{Type: ChangeETAChanged, Old: oldT, New: newT}
}

func TestUpdateTags(t *testing.T) {
	actual := &Event{Classifier: ClassifierActual}
	planned := &Event{Classifier: ClassifierPlanned}
	tests := []struct {
		name    string
		changes []Change
		minETA  time.Duration
		want    []string
	}{
		{"NoChanges", nil, 0, nil},
		{"ETAMove", []Change{etaChange("2026-03-01T10:00:00Z", "2026-03-01T16:00:00Z")}, 0, []string{TagETAChanged}},
		{"ETAMoveAtTheMinimum", []Change{etaChange("2026-03-01T10:00:00Z", "2026-03-01T16:00:00Z")}, 6 * time.Hour, []string{TagETAChanged}},
		{"ETAMoveBelowTheMinimum", []Change{etaChange("2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z")}, 6 * time.Hour, nil},
		{"ETAMoveBackwards", []Change{etaChange("2026-03-02T10:00:00Z", "2026-03-01T10:00:00Z")}, 6 * time.Hour, []string{TagETAChanged}},
		{"ETAAppearedIsAlwaysBig", []Change{etaChange("", "2026-03-01T10:00:00Z")}, 6 * time.Hour, []string{TagETAChanged}},
		{"FractionalSeconds", []Change{etaChange("2026-03-01T10:00:00.5Z", "2026-03-01T10:00:01Z")}, time.Second, nil},
		{"EstimateMoveBelowTheMinimum", []Change{{Type: ChangeEstimateChanged, Old: "2026-03-01T10:00:00Z", New: "2026-03-01T10:30:00Z"}}, time.Hour, nil},
		{"ActualMilestones", []Change{{Type: ChangeActualized, Event: actual}, {Type: ChangeEventAdded, Event: actual}}, 0, []string{TagMilestoneActual}},
		{"ExpectedMilestone", []Change{{Type: ChangeEventAdded, Event: planned}}, 0, []string{TagMilestoneExpected}},
		{
			"InCatalogueOrderOnce",
			[]Change{{Type: ChangeVesselChanged}, {Type: ChangeEventRemoved}, etaChange("", "x"), {Type: ChangeVesselChanged}},
			0, []string{TagETAChanged, TagMilestoneRemoved, TagVesselChanged},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := Update{Type: UpdateShipment, Changes: tt.changes}
			if got := u.Tags(tt.minETA); !slices.Equal(got, tt.want) {
				t.Errorf("Tags = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEveryChangeTypeHasATag(t *testing.T) {
	for _, ct := range ChangeTypes {
		if tag := changeTag(&Change{Type: ct}, 0); !slices.Contains(Tags, tag) {
			t.Errorf("change %s has no tag in Tags (got %q)", ct, tag)
		}
	}
}

func TestMatchEventType(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "shipment.updated", true},
		{"*", "endpoint.disabled", true},
		{"shipment.updated", "shipment.updated", true},
		{"shipment.*", "shipment.updated", true},
		{"shipment.*", "shipment.milestone.actual", true},
		{"shipment.milestone.*", "shipment.milestone.actual", true},
		{"shipment.milestone.*", "shipment.eta_changed", false},
		{"shipment.*", "tracking.failed", false},
		{"ship*", "shipment.updated", false}, // wildcards stand for whole name parts
		{"shipment.", "shipment.updated", false},
		{"", "shipment.updated", false},
	}
	for _, tt := range tests {
		if got := MatchEventType(tt.pattern, tt.name); got != tt.want {
			t.Errorf("MatchEventType(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestValidateEventTypePattern(t *testing.T) {
	for _, ok := range []string{"*", "shipment.*", "shipment.milestone.*", "endpoint.*", "message.*", "tracking.failed", TagETAChanged, EventEndpointDisabled} {
		if err := ValidateEventTypePattern(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "shipment", "shipment.", "ship*", "container.*", "shipment.updated.*", "SHIPMENT.UPDATED", "*.updated", "endpoint.test"} {
		if err := ValidateEventTypePattern(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzValidateEventTypePattern(f *testing.F) {
	for _, s := range []string{"*", "shipment.*", "shipment.updated", "x.*", "\x00", "shipment.milestone.*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		if ValidateEventTypePattern(pattern) != nil {
			return
		}
		// An accepted pattern matches at least one name, and only names it names or
		// covers with its wildcard.
		matched := 0
		for _, name := range EventTypeNames() {
			if MatchEventType(pattern, name) {
				matched++
				if pattern != "*" && pattern != name && !strings.HasPrefix(name, strings.TrimSuffix(pattern, "*")) {
					t.Fatalf("%q matched %q", pattern, name)
				}
			}
		}
		if matched == 0 {
			t.Fatalf("accepted %q matches nothing", pattern)
		}
	})
}

func TestEndpointMatches(t *testing.T) {
	ref := &Reference{ID: "ref_1", CarrierCode: "MAEU", Metadata: map[string]string{"customer": "acme", "lane": "asia-eu"}}
	smallETA := Update{Type: UpdateShipment, Changes: []Change{etaChange("2026-03-01T10:00:00Z", "2026-03-01T10:30:00Z")}}
	bigETA := Update{Type: UpdateShipment, Changes: []Change{etaChange("2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z")}}
	smallETAAndVessel := Update{Type: UpdateShipment, Changes: []Change{smallETA.Changes[0], {Type: ChangeVesselChanged}}}
	firstSnapshot := Update{Type: UpdateShipment, Changes: []Change{}}
	actual := Update{Type: UpdateShipment, Changes: []Change{{Type: ChangeActualized, Event: &Event{Classifier: ClassifierActual}}}}
	failed := Update{Type: UpdateTrackingFailed}
	tests := []struct {
		name string
		ep   Endpoint
		u    Update
		want bool
	}{
		{"AllByDefault", Endpoint{Enabled: true}, failed, true},
		{"Disabled", Endpoint{}, failed, false},
		{"TypeNamed", Endpoint{Enabled: true, EventTypes: []string{"tracking.failed"}}, failed, true},
		{"TypeNotNamed", Endpoint{Enabled: true, EventTypes: []string{"reference.unsubscribed"}}, failed, false},
		{"TagNamed", Endpoint{Enabled: true, EventTypes: []string{TagMilestoneActual}}, actual, true},
		{"TagNotThere", Endpoint{Enabled: true, EventTypes: []string{TagMilestoneActual}}, bigETA, false},
		{"Wildcard", Endpoint{Enabled: true, EventTypes: []string{"shipment.milestone.*"}}, actual, true},
		{"Star", Endpoint{Enabled: true, EventTypes: []string{"*"}}, failed, true},
		{"CarrierIn", Endpoint{Enabled: true, Filter: EndpointFilter{CarrierCodes: []string{"CMDU", "MAEU"}}}, failed, true},
		{"CarrierOut", Endpoint{Enabled: true, Filter: EndpointFilter{CarrierCodes: []string{"CMDU"}}}, failed, false},
		{"MetadataIn", Endpoint{Enabled: true, Filter: EndpointFilter{Metadata: map[string]string{"customer": "acme"}}}, failed, true},
		{"MetadataOtherValue", Endpoint{Enabled: true, Filter: EndpointFilter{Metadata: map[string]string{"customer": "globex"}}}, failed, false},
		{"MetadataMissingKey", Endpoint{Enabled: true, Filter: EndpointFilter{Metadata: map[string]string{"team": "x"}}}, failed, false},
		{"SmallETAMoveIsNoise", Endpoint{Enabled: true, MinETAChange: time.Hour}, smallETA, false},
		{"BigETAMovePasses", Endpoint{Enabled: true, MinETAChange: time.Hour}, bigETA, true},
		{"SmallETAMoveWithOtherNews", Endpoint{Enabled: true, MinETAChange: time.Hour}, smallETAAndVessel, true},
		{"SmallETAMoveNotTagged", Endpoint{Enabled: true, MinETAChange: time.Hour, EventTypes: []string{TagETAChanged}}, smallETAAndVessel, false},
		{"FirstSnapshotHasNoChangesButIsSent", Endpoint{Enabled: true, MinETAChange: time.Hour}, firstSnapshot, true},
		{"MinETAChangeLeavesOtherTypes", Endpoint{Enabled: true, MinETAChange: time.Hour}, failed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ep.Matches(ref, &tt.u); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEndpointMatchesEvent(t *testing.T) {
	disabled := &AccountEvent{Type: EventEndpointDisabled, EndpointID: "ep_other"}
	tests := []struct {
		name string
		ep   Endpoint
		want bool
	}{
		{"EmptyTypesDoNotSubscribe", Endpoint{ID: "ep_1", Enabled: true}, false},
		{"Named", Endpoint{ID: "ep_1", Enabled: true, EventTypes: []string{EventEndpointDisabled}}, true},
		{"Wildcard", Endpoint{ID: "ep_1", Enabled: true, EventTypes: []string{"endpoint.*"}}, true},
		{"Star", Endpoint{ID: "ep_1", Enabled: true, EventTypes: []string{"*"}}, true},
		{"ShipmentOnly", Endpoint{ID: "ep_1", Enabled: true, EventTypes: []string{"shipment.*"}}, false},
		{"NotAboutItself", Endpoint{ID: "ep_other", Enabled: true, EventTypes: []string{"*"}}, false},
		{"Disabled", Endpoint{ID: "ep_1", EventTypes: []string{"*"}}, false},
	}
	for _, tt := range tests {
		if got := tt.ep.MatchesEvent(disabled); got != tt.want {
			t.Errorf("%s: MatchesEvent = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestAfterMessageAttempt(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	retry := at.Add(time.Minute)
	pending := Message{ID: "upd_1", Status: MessagePending}
	tests := []struct {
		name          string
		m             Message
		a             DeliveryAttempt
		wantStatus    MessageStatus
		wantReason    AttemptOutcome
		wantNext      *time.Time
		wantExhausted bool
	}{
		{"Delivered", pending, DeliveryAttempt{At: at, Outcome: OutcomeDelivered}, MessageSucceeded, "", nil, false},
		{"FailedRetries", pending, DeliveryAttempt{At: at, Outcome: OutcomeFailed, NextRetryAt: &retry}, MessageSending, "", &retry, false},
		{"DisabledWaitsForReEnabling", pending, DeliveryAttempt{At: at, Outcome: OutcomeFailed, NextRetryAt: &retry, Disable: DisabledByReceiver}, MessageSending, "", &at, false},
		{"GoneWaitsToo", pending, DeliveryAttempt{At: at, Outcome: OutcomeGone, Disable: DisabledGone}, MessageSending, "", &at, false},
		{"GaveUp", pending, DeliveryAttempt{At: at, Outcome: OutcomeGaveUp}, MessageFailed, OutcomeGaveUp, nil, true},
		{"Aborted", pending, DeliveryAttempt{At: at, Outcome: OutcomeAborted}, MessageFailed, OutcomeAborted, nil, false},
		{"Expired", pending, DeliveryAttempt{At: at, Outcome: OutcomeExpired}, MessageFailed, OutcomeExpired, nil, false},
		{"ResendOfFailedDelivers", Message{Status: MessageFailed, FailReason: OutcomeGaveUp}, DeliveryAttempt{At: at, Outcome: OutcomeDelivered, Redelivery: true}, MessageSucceeded, "", nil, false},
		{"ResendOfFailedFails", Message{Status: MessageFailed, FailReason: OutcomeGaveUp}, DeliveryAttempt{At: at, Outcome: OutcomeFailed, Redelivery: true}, MessageFailed, OutcomeGaveUp, nil, false},
		{"ResendOfSucceededFails", Message{Status: MessageSucceeded}, DeliveryAttempt{At: at, Outcome: OutcomeFailed, Redelivery: true}, MessageSucceeded, "", nil, false},
		{"ResendOfPendingLeavesItInTheStream", Message{Status: MessageSending, NextAttemptAt: &retry}, DeliveryAttempt{At: at, Outcome: OutcomeDelivered, Redelivery: true}, MessageSending, "", &retry, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.m.Attempts)
			got, exhausted := AfterMessageAttempt(tt.m, tt.a)
			if got.Status != tt.wantStatus || got.FailReason != tt.wantReason || exhausted != tt.wantExhausted {
				t.Errorf("got status %s reason %q exhausted %v, want %s %q %v", got.Status, got.FailReason, exhausted, tt.wantStatus, tt.wantReason, tt.wantExhausted)
			}
			if (got.NextAttemptAt == nil) != (tt.wantNext == nil) || (got.NextAttemptAt != nil && !got.NextAttemptAt.Equal(*tt.wantNext)) {
				t.Errorf("next attempt %v, want %v", got.NextAttemptAt, tt.wantNext)
			}
			if len(got.Attempts) != before+1 || got.LastAttempt().Outcome != tt.a.Outcome {
				t.Errorf("attempt not appended: %+v", got.Attempts)
			}
		})
	}
}

func TestAfterMessageAttemptLeavesTheCallersAttemptsAlone(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	attempts := make([]DeliveryAttempt, 1, 4)
	m := Message{Status: MessageSending, Attempts: attempts}
	AfterMessageAttempt(m, DeliveryAttempt{At: at, Outcome: OutcomeDelivered})
	AfterMessageAttempt(m, DeliveryAttempt{At: at, Outcome: OutcomeFailed})
	if extended := attempts[:2]; extended[1].Outcome != "" {
		t.Errorf("AfterMessageAttempt wrote into the caller's array: %+v", extended)
	}
}

func TestEndpointFailingAndDisable(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ep := Endpoint{ID: "ep_1", Enabled: true}
	if got := EndpointFailing(&ep, OutcomeFailed, t0); got == nil || !got.Equal(t0) {
		t.Fatalf("first failure: %v", got)
	}
	ep.FailingSince = &t0
	if got := EndpointFailing(&ep, OutcomeFailed, t0.Add(time.Hour)); !got.Equal(t0) {
		t.Errorf("a later failure moved failing_since to %v", got)
	}
	if got := EndpointFailing(&ep, OutcomeDelivered, t0.Add(time.Hour)); got != nil {
		t.Errorf("a delivery left failing_since %v", got)
	}
	if !ep.Disable(DisabledGone, t0) || ep.Enabled || ep.DisabledReason != DisabledGone {
		t.Fatalf("Disable: %+v", ep)
	}
	if ep.Disable(DisabledFailing, t0.Add(time.Hour)) || ep.DisabledReason != DisabledGone {
		t.Errorf("a second Disable changed the reason to %s", ep.DisabledReason)
	}
	ev := DisabledEvent(&ep, t0)
	if ev.Type != EventEndpointDisabled || ev.EndpointID != "ep_1" || ev.DisabledReason != DisabledGone || !strings.HasPrefix(ev.ID, "evt_") {
		t.Errorf("DisabledEvent = %+v", ev)
	}
}
