package fakecarrier

import (
	"net/http"
	"slices"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Model names the push model of a Push.
type Model string

// The two push models.
const (
	ModelTNT Model = "tnt-2.2" // a signed notification to a v2.2 subscription's callbackUrl
	ModelCT  Model = "ct-3.0"  // POST /events to a CT 3.0 subscriber
)

// Push is one planned push and what happened to it.
type Push struct {
	Model Model
	// Target is the v2.2 subscription's id, or the CT subscriber's name.
	Target string
	URL    string
	// Identifiers are those of the shipments whose events the push carries.
	Identifiers []string
	// EventIDs are the ids of the events it carries, in order.
	EventIDs []string
	Body     []byte
	Header   http.Header
	// At is the clock's time of the Step that planned it.
	At time.Time

	// The faults that hit it. A dropped push was not sent; a duplicate is the second
	// sending of the push before it in the list.
	Dropped, Duplicate, Reordered, StaleSecret, BadSignature bool

	// Status is the receiver's answer, 0 when it was not sent or no answer came (then
	// Err says why); Latency is the wall-clock time from sending to the answer.
	Status  int
	Err     string
	Latency time.Duration
}

// Accepted reports whether the receiver answered the push with a 2xx status.
func (p *Push) Accepted() bool { return p.Status >= 200 && p.Status <= 299 }

// Subscription is a T&T v2.2 subscription as the carrier holds it.
type Subscription struct {
	ID          string
	CallbackURL string
	EventTypes  []string
	// Kind and Identifier are its identifier filter; empty when it has none.
	Kind       references.IdentifierKind
	Identifier string
	// Secret is the secret it signs with now.
	Secret        []byte
	Created       time.Time
	SecretUpdates int
}

// Stats counts what the carrier did.
type Stats struct {
	Steps int
	// Sent counts the pushes sent, duplicates included; Accepted those answered 2xx,
	// Failed the others (another status, or no answer).
	Sent, Accepted, Failed int
	// The faults that hit pushes.
	Dropped, Duplicated, Reordered, StaleSigned, BadSigned int
	// Subscriptions created, deleted by their owner, lost by the carrier, and secret
	// updates.
	Created, Deleted, Lost, SecretUpdates int
}

func (s *Stats) count(p Push) {
	switch {
	case p.Dropped:
		s.Dropped++
		return
	case p.Accepted():
		s.Sent++
		s.Accepted++
	default:
		s.Sent++
		s.Failed++
	}
	if p.Duplicate {
		s.Duplicated++
	}
	if p.Reordered {
		s.Reordered++
	}
	if p.StaleSecret {
		s.StaleSigned++
	}
	if p.BadSignature {
		s.BadSigned++
	}
}

// Subscriptions returns the live v2.2 subscriptions, oldest first.
func (c *Carrier) Subscriptions() []Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Subscription, 0, len(c.subOrder))
	for _, id := range c.subOrder {
		out = append(out, c.subs[id].view())
	}
	return out
}

// Subscription returns the live subscription id.
func (c *Carrier) Subscription(id string) (Subscription, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.subs[id]
	if s == nil {
		return Subscription{}, false
	}
	return s.view(), true
}

// Deleted returns the subscriptions ended by DELETE, in the order they were.
func (c *Carrier) Deleted() []Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.deleted)
}

// Lost returns the subscriptions the carrier forgot (LoseSubscription, or the
// LoseSubscription fault), in the order it did.
func (c *Carrier) Lost() []Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lost)
}

// Pushes returns every push planned so far, dropped ones included, in order.
func (c *Carrier) Pushes() []Push {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.pushes)
}

// Stats returns the counts of what the carrier did.
func (c *Carrier) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Requests returns how many requests the route pattern got, as Handler names them:
// "GET /v2/events", "POST /v2/event-subscriptions", "GET /events"...
func (c *Carrier) Requests(pattern string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[pattern]
}
