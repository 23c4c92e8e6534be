// Package fakecarrier is a carrier for tests and for the benchmark: one HTTP handler
// that plays container voyages for a set of references and offers both DCSA push
// models, with faults on demand.
//
//   - DCSA Track & Trace v2.2: GET /v2/events (filters, limit and cursor with a
//     Next-Page header), the subscriptions of /v2/event-subscriptions (POST, GET,
//     PUT, DELETE, and PUT .../{id}/secret), and signed notifications POSTed to each
//     subscription's callbackUrl as the voyages advance.
//   - DCSA Container Tracking 3.0 (TNT v3.0.0 in dcsaorg/Conformance-Gateway): GET
//     /events (filters, limit and cursor with a Next-Page-Cursor header), and POST of
//     {"events": [...]} to the subscribers set with AddCTSubscriber, with the header
//     each was given (the standard leaves registration and authentication to the
//     parties). An event keeps its eventID when it changes (a new eventUpdatedDateTime),
//     and one that disappears is sent again retracted.
//
// The voyages are poller/demo's, in simulated time that follows the injected clock:
// the same reference always gets the same voyage. Nothing is pushed until Step is
// called (or Run, which calls it on the clock's timers): a Step observes every
// voyage at the clock's time and pushes what changed since the last, through the
// faults configured for the reference or by rate, drawn from a seeded generator so
// that a run can be replayed. Polls see the voyages at the time of the request.
//
// The inspection methods (Subscriptions, Pushes, Stats...) say what the carrier did.
package fakecarrier

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

// Defaults of Options.
const (
	DefaultPageSize    = 20
	DefaultPushTimeout = 10 * time.Second
)

// Options configures a Carrier. The zero value is usable: real clock, speed 1, no
// faults, pages of DefaultPageSize events, one event per push.
type Options struct {
	// Clock drives the voyages (and Run). Tests give a *clock.Fake and call Step after
	// moving it; nil means the real clock.
	Clock clock.Clock
	// Speed is how many simulated seconds pass per second of Clock (see demo.Options).
	Speed float64
	// Seed seeds the draws of the faults given as rates.
	Seed uint64
	// Faults applies to every reference that has none of its own (see SetFaults).
	Faults Faults
	// PageSize is the most events a page of GET /v2/events or GET /events holds,
	// whatever limit the client asks for.
	PageSize int
	// Bundle is the most events one push carries; 0 means 1, so that each event is a
	// push of its own and faults hit events one by one.
	Bundle int
	// Concurrency is how many subscriptions are pushed to at once during a Step; 0
	// means 1. A subscription's own pushes are always sent one after the other.
	Concurrency int
	// Auth, when set, holds headers every API request must carry (an API key): a
	// request without them is answered 401.
	Auth http.Header
	// HTTPClient sends the pushes; nil means a client with DefaultPushTimeout.
	HTTPClient *http.Client
}

// Faults are the push faults of a reference, each the probability (0 to 1) that it
// hits one push. Draws are made for every planned push in a fixed order, so the same
// seed and the same pushes give the same faults.
type Faults struct {
	// Drop: the push is not sent at all (a safety-net poll must heal it).
	Drop float64
	// Duplicate: the push is sent twice in a row, byte for byte, as a carrier's retry.
	Duplicate float64
	// Reorder: the push is sent after the next push to the same subscription (held to
	// the next Step when it is the last of this one).
	Reorder float64
	// StaleSecret: after a secret update, the push is still signed with the previous
	// secret, as a carrier whose update has not reached every sender.
	StaleSecret float64
	// BadSignature: the push is signed with a random key.
	BadSignature float64
	// LoseSubscription: at each Step, the carrier forgets a subscription of the
	// reference (GET answers 404, pushes stop), so the client must repair it.
	LoseSubscription float64
}

func (f Faults) validate() error {
	for name, p := range map[string]float64{"Drop": f.Drop, "Duplicate": f.Duplicate, "Reorder": f.Reorder,
		"StaleSecret": f.StaleSecret, "BadSignature": f.BadSignature, "LoseSubscription": f.LoseSubscription} {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("fakecarrier: fault %s: %v is not a probability", name, p)
		}
	}
	return nil
}

// Carrier is the fake carrier. It is safe for concurrent use; Steps run one at a time.
type Carrier struct {
	opts   Options
	clock  clock.Clock
	demo   *demo.Source
	client *http.Client

	step sync.Mutex // one Step at a time

	mu        sync.Mutex
	rng       *rand.Rand
	shipments []*shipment
	byIdent   map[string]*shipment // upper-case identifier -> shipment
	faults    map[string]Faults    // upper-case identifier -> its faults
	seq       uint64               // observations made
	outbox    []observation
	nextSub   int
	subs      map[string]*subscription
	subOrder  []string
	deleted   []Subscription
	lost      []Subscription
	ct        []*ctSubscriber
	pushes    []Push
	stats     Stats
	requests  map[string]int
}

// New returns a Carrier with no references.
func New(opts Options) (*Carrier, error) {
	if err := opts.Faults.validate(); err != nil {
		return nil, err
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.Bundle <= 0 {
		opts.Bundle = 1
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	c := &Carrier{
		opts:     opts,
		clock:    clock.OrReal(opts.Clock),
		client:   opts.HTTPClient,
		rng:      rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed)),
		byIdent:  map[string]*shipment{},
		faults:   map[string]Faults{},
		subs:     map[string]*subscription{},
		requests: map[string]int{},
	}
	c.demo = demo.New(demo.Options{Speed: opts.Speed, Clock: c.clock})
	if c.client == nil {
		c.client = &http.Client{Timeout: DefaultPushTimeout}
	}
	return c, nil
}

// AddShipment makes the carrier track ref: its container, bill of lading or booking
// is served and pushed from now on, with poller/demo's voyage for it (ref.ID and the
// identifier seed it; ref.CreatedAt, or the clock's time when zero, starts it). A
// bill of lading or a booking carries one to five containers, whose numbers the
// events name. Identifiers are matched without regard to case.
func (c *Carrier) AddShipment(ref references.Reference) error {
	kind, ident := ref.Identifier()
	if ident == "" {
		return errors.New("fakecarrier: the reference has no identifier")
	}
	if ref.CreatedAt.IsZero() {
		ref.CreatedAt = c.clock.Now()
	}
	if ref.ID == "" {
		ref.ID = "ref_" + ident
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := strings.ToUpper(ident)
	if c.byIdent[key] != nil {
		return fmt.Errorf("fakecarrier: %s is tracked already", ident)
	}
	sh := &shipment{ref: ref, kind: kind, ident: ident, seen: map[string]time.Time{}, ct: map[string]*ctState{},
		removed: map[string]bool{}, containers: map[string]bool{}}
	if kind == references.KindContainer {
		sh.containers[key] = true
	}
	c.shipments = append(c.shipments, sh)
	c.byIdent[key] = sh
	return nil
}

// SetFaults sets the faults of the pushes about identifier: a shipment's identifier,
// or a container of one (which wins for a subscription filtered by that container).
func (c *Carrier) SetFaults(identifier string, f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults[strings.ToUpper(identifier)] = f
	return nil
}

// Inject adds e to the events of the shipment tracked as identifier, from the next
// observation on, as a carrier publishing an event of its own (a correction, an event
// the voyage does not have). An event without an id gets one. It returns the id.
func (c *Carrier) Inject(identifier string, e references.Event) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sh := c.byIdent[strings.ToUpper(identifier)]
	if sh == nil {
		return "", fmt.Errorf("fakecarrier: %s is not tracked", identifier)
	}
	if e.ID == "" {
		e.ID = fmt.Sprintf("injected-%d", len(sh.injected)+1)
	}
	e.Time = e.Time.UTC()
	sh.injected = append(sh.injected, e)
	delete(sh.removed, e.ID)
	return e.ID, nil
}

// Retract withdraws the event id of the shipment tracked as identifier: T&T v2.2
// lists it no more (v2.2 has no way to push a withdrawal); CT 3.0 sends it again with
// isRetracted at the next Step. It reports whether the shipment is tracked.
func (c *Carrier) Retract(identifier, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	sh := c.byIdent[strings.ToUpper(identifier)]
	if sh == nil {
		return false
	}
	sh.removed[id] = true
	return true
}

// LoseSubscription makes the carrier forget subscription id, as a carrier that loses
// a subscription: it answers 404 for it and pushes to it no more. It reports whether
// the subscription was alive.
func (c *Carrier) LoseSubscription(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loseLocked(id)
}

func (c *Carrier) loseLocked(id string) bool {
	s := c.subs[id]
	if s == nil {
		return false
	}
	c.removeSub(id)
	c.lost = append(c.lost, s.view())
	c.stats.Lost++
	return true
}

func (c *Carrier) removeSub(id string) {
	delete(c.subs, id)
	c.subOrder = slices.DeleteFunc(c.subOrder, func(s string) bool { return s == id })
}

// Handler serves both APIs: GET /v2/events and /v2/event-subscriptions (T&T v2.2),
// and GET /events (CT 3.0). The base URL of both is the server's root.
func (c *Carrier) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/events", c.serveTNTEvents)
	mux.HandleFunc("POST /v2/event-subscriptions", c.serveCreateSubscription)
	mux.HandleFunc("GET /v2/event-subscriptions", c.serveListSubscriptions)
	mux.HandleFunc("GET /v2/event-subscriptions/{id}", c.serveGetSubscription)
	mux.HandleFunc("PUT /v2/event-subscriptions/{id}", c.serveUpdateSubscription)
	mux.HandleFunc("DELETE /v2/event-subscriptions/{id}", c.serveDeleteSubscription)
	mux.HandleFunc("PUT /v2/event-subscriptions/{id}/secret", c.serveUpdateSecret)
	mux.HandleFunc("GET /events", c.serveCTEvents)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		c.mu.Lock()
		c.requests[pattern]++
		c.mu.Unlock()
		for name := range c.opts.Auth {
			if r.Header.Get(name) != c.opts.Auth.Get(name) {
				if strings.HasPrefix(r.URL.Path, "/v2/") {
					c.writeTNTError(w, r, http.StatusUnauthorized, "unauthorized", "missing or wrong "+name)
				} else {
					writeCTError(w, http.StatusUnauthorized, "missing or wrong "+name)
				}
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// Step observes every voyage at the clock's time and pushes what changed since the
// last observation: new T&T events to the subscriptions they match, new, changed and
// retracted CT events to the CT subscribers, through the faults. It returns the
// pushes of this Step, dropped ones included, in the order they were planned, once
// every push has been answered (or has failed).
func (c *Carrier) Step(ctx context.Context) []Push {
	c.step.Lock()
	defer c.step.Unlock()

	c.mu.Lock()
	c.stats.Steps++
	for _, sh := range c.shipments {
		c.observe(ctx, sh)
	}
	for _, id := range slices.Clone(c.subOrder) {
		s := c.subs[id]
		if c.draw(c.faultsOf(&s.filter, c.shipmentOf(&s.filter)).LoseSubscription) {
			c.loseLocked(id)
		}
	}
	at := c.clock.Now()
	plan := append(c.planTNT(at), c.planCT(at)...)
	c.outbox = c.outbox[:0]
	c.mu.Unlock()

	done := c.send(ctx, plan)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.pushes = append(c.pushes, done...)
	for _, p := range done {
		c.stats.count(p)
	}
	return done
}

// Run calls Step every interval of the clock until ctx ends, for a server that plays
// on its own (the benchmark). It returns ctx's error.
func (c *Carrier) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return errors.New("fakecarrier: Run needs a positive interval")
	}
	for {
		t := c.clock.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
		}
		c.Step(ctx)
	}
}

// draw reports whether an event of probability p happens. It always consumes one
// draw, so that the sequence of draws does not depend on the outcomes.
func (c *Carrier) draw(p float64) bool {
	return c.rng.Float64() < p
}

// faultsFor returns the faults of the first identifier that has some, or the default.
func (c *Carrier) faultsFor(identifiers ...string) Faults {
	for _, id := range identifiers {
		if f, ok := c.faults[strings.ToUpper(id)]; ok {
			return f
		}
	}
	return c.opts.Faults
}
