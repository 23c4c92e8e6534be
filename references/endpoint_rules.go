package references

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The rules of endpoints every backend and the notifier apply: which updates an
// endpoint gets, and how an attempt moves a message on.

// Tags: the finer kinds of a shipment.updated update, derived from its changes. They
// are listed in the update's tags and matched by endpoints' event_types; the update's
// type stays shipment.updated.
const (
	TagETAChanged        = "shipment.eta_changed"
	TagEstimateChanged   = "shipment.estimate_changed"
	TagMilestoneActual   = "shipment.milestone.actual"
	TagMilestoneExpected = "shipment.milestone.expected" // a planned or estimated milestone appeared
	TagMilestoneRemoved  = "shipment.milestone.removed"
	TagActualCorrected   = "shipment.actual_corrected"
	TagVesselChanged     = "shipment.vessel_changed"
	TagVoyageChanged     = "shipment.voyage_changed"
	TagStatusChanged     = "shipment.status_changed"
	TagLocationChanged   = "shipment.location_changed"
	TagContainersChanged = "shipment.containers_changed" // a container added to or removed from a shipment
)

// Tags lists every tag, in the order Update.Tags gives them.
var Tags = []string{
	TagETAChanged, TagEstimateChanged, TagMilestoneActual, TagMilestoneExpected, TagMilestoneRemoved,
	TagActualCorrected, TagVesselChanged, TagVoyageChanged, TagStatusChanged, TagLocationChanged,
	TagContainersChanged,
}

// Tags returns the tags of u's changes, each once, in the order of the Tags list.
// Moves of an ETA or an estimate smaller than minETA give no tag.
func (u *Update) Tags(minETA time.Duration) []string {
	var set [11]bool // one per tag
	for i := range u.Changes {
		if tag := changeTag(&u.Changes[i], minETA); tag != "" {
			set[slices.Index(Tags, tag)] = true
		}
	}
	var out []string
	for i, on := range set {
		if on {
			out = append(out, Tags[i])
		}
	}
	return out
}

func changeTag(c *Change, minETA time.Duration) string {
	switch c.Type {
	case ChangeETAChanged:
		if timeMove(c) < minETA {
			return ""
		}
		return TagETAChanged
	case ChangeEstimateChanged:
		if timeMove(c) < minETA {
			return ""
		}
		return TagEstimateChanged
	case ChangeActualized:
		return TagMilestoneActual
	case ChangeEventAdded:
		if c.Event != nil && c.Event.Classifier == ClassifierActual {
			return TagMilestoneActual
		}
		return TagMilestoneExpected
	case ChangeEventRemoved:
		return TagMilestoneRemoved
	case ChangeActualCorrected:
		return TagActualCorrected
	case ChangeVesselChanged:
		return TagVesselChanged
	case ChangeVoyageChanged:
		return TagVoyageChanged
	case ChangeStatusChanged:
		return TagStatusChanged
	case ChangeLocationChanged:
		return TagLocationChanged
	case ChangeContainerAdded, ChangeContainerRemoved:
		return TagContainersChanged
	}
	return ""
}

// timeMove is how far a change moved a time: its old and new values as RFC 3339. A
// time that appeared or vanished, or that cannot be read, moved without bound.
func timeMove(c *Change) time.Duration {
	old, err1 := time.Parse(time.RFC3339, c.Old)
	now, err2 := time.Parse(time.RFC3339, c.New)
	if err1 != nil || err2 != nil {
		return time.Duration(1<<63 - 1)
	}
	d := now.Sub(old)
	if d < 0 {
		d = -d
	}
	return d
}

// Matches reports whether the update of ref is sent to the endpoint: the endpoint is
// enabled, ref passes its filter, and the update's type or one of its tags matches
// its event types. A shipment.updated update whose changes are all moves smaller than
// MinETAChange is not sent.
func (ep *Endpoint) Matches(ref *Reference, u *Update) bool {
	if !ep.Enabled || !ep.Filter.Admits(ref) {
		return false
	}
	var tags []string
	if u.Type == UpdateShipment {
		tags = u.Tags(ep.MinETAChange)
		if ep.MinETAChange > 0 && len(tags) == 0 && len(u.Changes) > 0 {
			return false // only small ETA moves: the noise the setting is for
		}
	}
	return len(ep.EventTypes) == 0 || matchesAny(ep.EventTypes, string(u.Type), tags)
}

// matchesAny reports whether one of patterns matches the type or one of the tags.
func matchesAny(patterns []string, typ string, tags []string) bool {
	for _, pattern := range patterns {
		if MatchEventType(pattern, typ) {
			return true
		}
		for _, tag := range tags {
			if MatchEventType(pattern, tag) {
				return true
			}
		}
	}
	return false
}

// MatchesEvent reports whether the operational event is sent to the endpoint: it is
// enabled, is not the endpoint the event is about, and names the event's type (or a
// wildcard matching it) in its event types. Empty event types do not subscribe to
// operational events.
func (ep *Endpoint) MatchesEvent(e *AccountEvent) bool {
	if !ep.Enabled || e.EndpointID == ep.ID {
		return false
	}
	for _, pattern := range ep.EventTypes {
		if MatchEventType(pattern, e.Type) {
			return true
		}
	}
	return false
}

// Admits reports whether ref passes the filter.
func (f *EndpointFilter) Admits(ref *Reference) bool {
	if len(f.CarrierCodes) > 0 && !slices.Contains(f.CarrierCodes, ref.CarrierCode) {
		return false
	}
	for k, v := range f.Metadata {
		if got, ok := ref.Metadata[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// MatchEventType reports whether an event_types pattern matches the type or tag name:
// the same name, "*" for all, or a prefix ending in ".*" ("shipment.*" matches
// shipment.updated and shipment.milestone.actual).
func MatchEventType(pattern, name string) bool {
	if pattern == "*" || pattern == name {
		return true
	}
	prefix, ok := strings.CutSuffix(pattern, "*")
	return ok && strings.HasSuffix(prefix, ".") && strings.HasPrefix(name, prefix)
}

// EventTypeNames lists every name an endpoint's event_types may give, besides
// wildcards: update types, tags and operational event types.
func EventTypeNames() []string {
	var out []string
	for _, t := range UpdateTypes {
		out = append(out, string(t))
	}
	out = append(out, Tags...)
	return append(out, OperationalEventTypes...)
}

// ValidateEventTypePattern checks one entry of an endpoint's event_types: a known name,
// "*", or a wildcard "prefix.*" that matches at least one known name.
func ValidateEventTypePattern(pattern string) error {
	for _, name := range EventTypeNames() {
		if MatchEventType(pattern, name) && (pattern == name || strings.HasSuffix(pattern, "*")) {
			return nil
		}
	}
	return fmt.Errorf("%q is not an event type, tag or wildcard matching one (see GET /event-types)", pattern)
}

// AfterMessageAttempt returns the message after an attempt of it: the attempt is
// appended and the status follows its outcome (delivered: succeeded; failed, gone:
// sending, due again at a.NextRetryAt, or at now when the endpoint is disabled by the
// attempt, which then waits for re-enabling; gave_up, aborted, expired: failed). A
// resend (a.Redelivery) only turns a failed message succeeded when it delivers: it is
// outside the stream, which sends a pending message itself. exhausted reports
// that the attempt gave the message up (gave_up), for message.attempt.exhausted.
func AfterMessageAttempt(m Message, a DeliveryAttempt) (next Message, exhausted bool) {
	m.Attempts = append(slices.Clip(m.Attempts), a)
	if a.Redelivery {
		if a.Outcome == OutcomeDelivered && m.Status == MessageFailed {
			m.Status, m.FailReason = MessageSucceeded, ""
		}
		return m, false // a pending message keeps its place in its stream
	}
	switch a.Outcome {
	case OutcomeDelivered:
		m.Status, m.FailReason, m.NextAttemptAt = MessageSucceeded, "", nil
	case OutcomeFailed, OutcomeGone:
		m.Status = MessageSending
		next := a.At
		if a.NextRetryAt != nil && a.Disable == "" {
			next = *a.NextRetryAt
		}
		m.NextAttemptAt = &next
	case OutcomeGaveUp, OutcomeAborted, OutcomeExpired, OutcomeDropped:
		m.Status, m.FailReason, m.NextAttemptAt = MessageFailed, a.Outcome, nil
		return m, a.Outcome == OutcomeGaveUp
	}
	return m, false
}

// EndpointFailing returns the endpoint's FailingSince after an attempt with outcome o
// at at: cleared by a delivery, set by the first failure after one.
func EndpointFailing(ep *Endpoint, o AttemptOutcome, at time.Time) *time.Time {
	switch o {
	case OutcomeDelivered:
		return nil
	case OutcomeFailed, OutcomeGaveUp, OutcomeGone, OutcomeAborted:
		if ep.FailingSince == nil {
			return &at
		}
	}
	return ep.FailingSince
}

// Disable marks the endpoint disabled for reason at at; a disabled endpoint stays as
// it is (its first reason is kept).
func (ep *Endpoint) Disable(reason DisabledReason, at time.Time) (changed bool) {
	if !ep.Enabled {
		return false
	}
	ep.Enabled, ep.DisabledReason, ep.DisabledAt, ep.UpdatedAt = false, reason, &at, at
	return true
}

// DisabledEvent is the endpoint.disabled operational event of ep.
func DisabledEvent(ep *Endpoint, at time.Time) AccountEvent {
	return AccountEvent{
		ID: NewID("evt_"), AccountID: ep.AccountID, Type: EventEndpointDisabled, CreatedAt: at,
		EndpointID: ep.ID, EndpointURL: ep.URL, DisabledReason: ep.DisabledReason,
	}
}

// ExhaustedEvent is the message.attempt.exhausted operational event of a message the
// endpoint gave up after its last attempt a.
func ExhaustedEvent(ep *Endpoint, m *Message, a *DeliveryAttempt) AccountEvent {
	return AccountEvent{
		ID: NewID("evt_"), AccountID: ep.AccountID, Type: EventMessageAttemptExhausted, CreatedAt: a.At,
		EndpointID: ep.ID, EndpointURL: ep.URL, MessageID: m.ID, ReferenceID: m.ReferenceID,
		Attempts: len(m.Attempts), LastStatusCode: a.StatusCode, LastError: a.Error,
	}
}
