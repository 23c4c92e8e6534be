package tracking

import (
	"fmt"
	"strings"

	"github.com/trackhook/trackhook/references"
)

// TerminalEvent describes an actual event that ends tracking. Code is required; the
// other fields narrow the match and match anything when empty or false.
type TerminalEvent struct {
	Type           references.EventType // TRANSPORT, EQUIPMENT or SHIPMENT
	Code           string               // DCSA event code, e.g. GTIN
	EmptyIndicator string               // EMPTY or LADEN
	// AfterArrival requires the shipment to have reached its destination before the
	// event, so that an empty gate-in left over from the container's previous trip, or
	// the one at the origin depot, does not end tracking.
	AfterArrival bool
}

// TerminalRule lists the events that end tracking: a snapshot is complete once any of
// them occurred (as ACT). A nil or empty rule means DefaultTerminalRule.
type TerminalRule []TerminalEvent

// DefaultTerminalRule returns the rule that ends tracking when the empty container is
// returned: an actual empty gate-in (GTIN, EMPTY) after the container was at the
// destination. It is the same condition that makes Derive report empty_returned.
func DefaultTerminalRule() TerminalRule {
	return TerminalRule{{Code: references.CodeGateIn, EmptyIndicator: references.EmptyIndicatorEmpty, AfterArrival: true}}
}

// IsComplete reports whether the snapshot s shows that tracking is complete under the
// rule (nil means DefaultTerminalRule). s need not have been derived: IsComplete orders
// the events and finds the destination itself.
//
// When the events name containers (see Derive), tracking is complete once every one
// of them has reached a terminal event, each judged on the events that concern it: a
// bill of lading with one container held at the terminal is not complete however many
// others were returned. A shipment of one container, or none, is judged on all its
// events.
func IsComplete(s *references.Shipment, rule TerminalRule) bool {
	if s == nil || len(s.Events) == 0 {
		return false
	}
	if len(rule) == 0 {
		rule = DefaultTerminalRule()
	}
	d := Derive(s)
	if len(d.Containers) <= 1 {
		return rule.reached(d.Events, d.Origin, d.Destination)
	}
	for _, c := range d.Containers {
		ev := eventsOf(c.Number, d.Events)
		origin := firstLocation(ev, references.CodeLoad, references.CodeDeparture)
		dest := lastLocation(ev, references.CodeArrival, references.CodeDischarge)
		if !rule.reached(ev, origin, dest) {
			return false
		}
	}
	return true
}

// reached reports whether a terminal event of the rule is among the events, in
// canonical order, of a journey from origin to dest.
func (r TerminalRule) reached(events []references.Event, origin, dest *references.Location) bool {
	p := progress{origin: origin, dest: dest, status: references.ShipmentBooked}
	for i := range events {
		e := &events[i]
		if e.Classifier != references.ClassifierActual {
			continue
		}
		for _, t := range r {
			if t.matches(e, p.status) {
				return true
			}
		}
		p.observe(e)
	}
	return false
}

// matches reports whether the actual event e, seen when the shipment had reached
// status, is this terminal event.
func (t TerminalEvent) matches(e *references.Event, status references.ShipmentStatus) bool {
	switch {
	case !strings.EqualFold(t.Code, e.Code):
		return false
	case t.Type != "" && !strings.EqualFold(string(t.Type), string(e.Type)):
		return false
	case t.EmptyIndicator != "" && !strings.EqualFold(t.EmptyIndicator, e.EmptyIndicator):
		return false
	case t.AfterArrival && statusRank(status) < statusRank(references.ShipmentArrived):
		return false
	}
	return true
}

// ParseTerminalRule reads a terminal rule from its command-line form: a comma-separated
// list of CODE or CODE:EMPTY / CODE:LADEN, each an actual event that ends tracking once
// the shipment has reached its destination. "GTIN:EMPTY" is the default rule; "" means
// the default too.
func ParseTerminalRule(s string) (TerminalRule, error) {
	if strings.TrimSpace(s) == "" {
		return DefaultTerminalRule(), nil
	}
	var rule TerminalRule
	for _, part := range strings.Split(s, ",") {
		code, empty, _ := strings.Cut(strings.TrimSpace(part), ":")
		code, empty = strings.ToUpper(code), strings.ToUpper(empty)
		if len(code) != 4 || strings.Trim(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return nil, fmt.Errorf("terminal event %q: the code must be 4 letters such as GTIN", part)
		}
		if empty != "" && empty != references.EmptyIndicatorEmpty && empty != references.EmptyIndicatorLaden {
			return nil, fmt.Errorf("terminal event %q: after the colon give EMPTY or LADEN", part)
		}
		rule = append(rule, TerminalEvent{Code: code, EmptyIndicator: empty, AfterArrival: true})
	}
	return rule, nil
}

// String writes the rule in the form ParseTerminalRule reads.
func (r TerminalRule) String() string {
	parts := make([]string, len(r))
	for i, t := range r {
		parts[i] = t.Code
		if t.EmptyIndicator != "" {
			parts[i] += ":" + t.EmptyIndicator
		}
	}
	return strings.Join(parts, ",")
}
