package dcsa3

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/trackhook/trackhook/references"
)

// Bounds of one push. The standard sets none; a carrier pushes events as they happen,
// a few at a time, so these leave room for a backlog sent at once.
const (
	MaxPushBytes  = 4 << 20
	MaxPushEvents = 1000
)

// Errors of ParsePush, for the route to answer with: a body over the bounds (413),
// and one that is not a PostEventsRequest (400).
var (
	ErrPushTooLarge = errors.New("push body too large")
	ErrPushInvalid  = errors.New("invalid push body")
)

// Push is the content of a POST /events body that a carrier sent (PostEventsRequest).
type Push struct {
	// Records are the pushed events that can be used, in the order of the body, the
	// override rules applied among them: at most one record per event id, the latest
	// version (see Merge for how they apply to a stored snapshot).
	Records []Record
	// Feedback says which events of the body were not used and why (an ERROR with the
	// path of each unusable event, an INFO for the IoT and reefer events trackhook
	// does not track), for the answer's feedbackElements: the standard asks for a 200
	// with them when some events of a push were processed.
	Feedback []Feedback
	// Total is the number of events in the body.
	Total int
}

// ParsePush reads the body of a POST /events that a carrier pushed: a
// PostEventsRequest ({"events": [...]}) of at most MaxPushBytes and MaxPushEvents
// events. A body over the bounds is an error wrapping ErrPushTooLarge; one that is
// not JSON of that shape, ErrPushInvalid. An event that cannot be used does not
// refuse the others: it is left out and named in Feedback.
func ParsePush(body []byte) (*Push, error) {
	if len(body) > MaxPushBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrPushTooLarge, MaxPushBytes)
	}
	p, err := parseBody(bytes.NewReader(body), MaxPushEvents)
	switch {
	case errors.Is(err, errTooManyEvents):
		return nil, fmt.Errorf("%w: over %d events", ErrPushTooLarge, MaxPushEvents)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrPushInvalid, err)
	}
	push := &Push{Records: resolve(p.records), Total: p.total}
	for _, s := range p.skips {
		push.Feedback = append(push.Feedback, Feedback{
			Severity: SeverityError, Message: "event not processed: " + s.reason, PropertyPath: fmt.Sprintf("$.events[%d]", s.index),
		})
	}
	if more := p.nSkip - len(p.skips); more > 0 {
		push.Feedback = append(push.Feedback, Feedback{Severity: SeverityError, Message: fmt.Sprintf("%d more events not processed", more)})
	}
	if p.ignored > 0 {
		push.Feedback = append(push.Feedback, Feedback{Severity: SeverityInfo,
			Message: fmt.Sprintf("%d IOT or REEFER events ignored: only SHIPMENT, TRANSPORT and EQUIPMENT events are tracked", p.ignored)})
	}
	return push, nil
}

// Events returns the events of the push that are not retracted, in the order of the
// body.
func (p *Push) Events() []references.Event {
	var out []references.Event
	for _, r := range p.Records {
		if !r.Retracted {
			out = append(out, r.Event)
		}
	}
	return out
}

// Retracted returns the ids of the events the push retracts.
func (p *Push) Retracted() []string {
	var out []string
	for _, r := range p.Records {
		if r.Retracted {
			out = append(out, r.ID)
		}
	}
	return out
}

// For returns the records of the push that concern ref, to Merge into its snapshot:
// those that name its identifier (see Identifiers), and the retractions that name
// none, which the standard allows (Merge applies those only where the event is
// known). A container reference takes the events that name its container; an event
// that names only a bill of lading or a booking (a vessel's departure, say) reaches
// the references of those, and the container's at its next poll.
func (p *Push) For(ref references.Reference) []Record {
	var out []Record
	for _, r := range p.Records {
		if r.Concerns(ref) || r.Retracted && r.namesNothing() {
			out = append(out, r)
		}
	}
	return out
}
