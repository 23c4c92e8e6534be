package fakecarrier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
)

// shipment is one tracked reference and what the carrier has published of it.
type shipment struct {
	ref   references.Reference
	kind  references.IdentifierKind
	ident string

	injected []references.Event
	removed  map[string]bool // event ids withdrawn by Retract
	// containers are the container numbers the shipment's events name (upper case).
	containers map[string]bool

	// seen holds the T&T events published so far: id -> eventCreatedDateTime.
	seen map[string]time.Time
	// ct holds the CT events published so far, by eventID, in ctOrder.
	ct      map[string]*ctState
	ctOrder []string
}

// ctState is the last published version of one CT event.
type ctState struct {
	wire   ctEvent          // eventUpdatedDateTime included
	source references.Event // the event's last content: to see changes, and to filter its retraction
}

// observation is something published at one observation, waiting in the outbox for
// the next Step to push it: a new T&T event, or a new version of a CT event.
type observation struct {
	seq uint64
	sh  *shipment
	// T&T v2.2
	event   *references.Event
	created time.Time
	// CT 3.0: a version of an event, and its last content for the filters
	ct       *ctEvent
	ctSource references.Event
}

// simulated returns the shipment's voyage time now.
func (c *Carrier) simulated(sh *shipment) time.Time {
	return c.demo.SimulatedTime(sh.ref.CreatedAt).UTC()
}

// current returns the shipment's events now, sorted by time then id: the voyage's,
// the injected ones, less the retracted ones.
func (c *Carrier) current(ctx context.Context, sh *shipment) []references.Event {
	var events []references.Event
	if s, err := c.demo.Fetch(ctx, sh.ref); err == nil {
		events = s.Events
	}
	events = append(events, sh.injected...)
	events = slices.DeleteFunc(events, func(e references.Event) bool { return sh.removed[e.ID] })
	slices.SortStableFunc(events, func(a, b references.Event) int {
		if n := a.Time.Compare(b.Time); n != 0 {
			return n
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, e := range events {
		if e.EquipmentReference != "" {
			sh.containers[strings.ToUpper(e.EquipmentReference)] = true
		}
	}
	return events
}

// observe publishes what is new in the shipment's events since the last observation:
// T&T events under ids not seen before, CT events that are new, changed or gone. It
// returns the current events, and must be called with c.mu held.
func (c *Carrier) observe(ctx context.Context, sh *shipment) []references.Event {
	events := c.current(ctx, sh)
	at := c.simulated(sh)
	for i := range events {
		e := &events[i]
		if _, ok := sh.seen[e.ID]; ok {
			continue
		}
		created := at
		if e.Type == references.EventShipment {
			// v2.2: a shipment event's eventDateTime is its eventCreatedDateTime.
			created = e.Time
		}
		sh.seen[e.ID] = created
		c.seq++
		ev := *e
		c.outbox = append(c.outbox, observation{seq: c.seq, sh: sh, event: &ev, created: created})
	}

	present := map[string]bool{}
	for i, e := range events {
		id := ctEventID(sh, e, events[:i])
		present[id] = true
		st := sh.ct[id]
		if st != nil && !st.wire.IsRetracted && sameEvent(st.source, e) {
			continue
		}
		w := ctWireEvent(sh, id, e)
		w.EventUpdatedDateTime = formatTime(at)
		if st == nil {
			st = &ctState{}
			sh.ct[id] = st
			sh.ctOrder = append(sh.ctOrder, id)
		}
		st.wire, st.source = w, e
		c.publishCT(sh, st)
	}
	for _, id := range sh.ctOrder {
		st := sh.ct[id]
		if present[id] || st.wire.IsRetracted {
			continue
		}
		st.wire = ctEvent{EventID: id, IsRetracted: true, EventUpdatedDateTime: formatTime(at)}
		c.publishCT(sh, st)
	}
	return events
}

func (c *Carrier) publishCT(sh *shipment, st *ctState) {
	c.seq++
	w := st.wire
	c.outbox = append(c.outbox, observation{seq: c.seq, sh: sh, ct: &w, ctSource: st.source})
}

// ctEventID is the CT eventID of e: stable for one milestone of the voyage, so that a
// plan, its estimates and its actual are versions of one event, as CT 3.0 has them
// (poller/demo gives each of them an id of its own, as T&T v2.2 carriers do).
// Injected events keep their own id. before are the shipment's events before e, to
// tell apart two milestones that would share a key.
func ctEventID(sh *shipment, e references.Event, before []references.Event) string {
	if slices.ContainsFunc(sh.injected, func(i references.Event) bool { return i.ID == e.ID }) {
		return e.ID
	}
	key := milestoneKey(e)
	n := 0
	for _, b := range before {
		if milestoneKey(b) == key {
			n++
		}
	}
	sum := sha256.Sum256([]byte(sh.ident + "\x00" + key + "\x00" + string(rune('0'+n))))
	return "ct-" + hex.EncodeToString(sum[:12])
}

func milestoneKey(e references.Event) string {
	var loc, voyage string
	if e.Location != nil {
		loc = e.Location.UNLocode + "|" + e.Location.Name
	}
	if e.TransportCall != nil {
		voyage = e.TransportCall.VesselIMO + "|" + e.TransportCall.Voyage
	}
	return strings.Join([]string{string(e.Type), e.Code, strings.ToUpper(e.EquipmentReference), loc, voyage}, "\x00")
}

// sameEvent reports whether a and b say the same: a CT event changes when it does not.
func sameEvent(a, b references.Event) bool {
	if (a.Location == nil) != (b.Location == nil) || (a.TransportCall == nil) != (b.TransportCall == nil) {
		return false
	}
	if a.Location != nil && *a.Location != *b.Location || a.TransportCall != nil && *a.TransportCall != *b.TransportCall {
		return false
	}
	// T&T ids change with the classifier and the revision; the CT id does not.
	return a.Type == b.Type && a.Classifier == b.Classifier && a.Code == b.Code && a.Time.Equal(b.Time) &&
		a.EquipmentReference == b.EquipmentReference && a.ISOEquipmentCode == b.ISOEquipmentCode &&
		a.EmptyIndicator == b.EmptyIndicator && a.Description == b.Description
}

// formatTime is RFC 3339 in UTC, as both APIs write date-times.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// filter selects events by the identifiers both APIs filter by. Fields left empty
// select everything.
type filter struct {
	equipment  string // equipmentReference
	document   string // transportDocumentReference
	booking    string // carrierBookingReference
	eventTypes []references.EventType
}

// matches reports whether event e of shipment sh passes f. A container filter takes
// the container's own events and those of its shipments that name no container (a
// vessel's arrival, a document's issue), as DCSA servers commonly answer.
func (f *filter) matches(sh *shipment, e *references.Event) bool {
	if f.document != "" && !(sh.kind == references.KindBillOfLading && strings.EqualFold(sh.ident, f.document)) {
		return false
	}
	if f.booking != "" && !(sh.kind == references.KindBooking && strings.EqualFold(sh.ident, f.booking)) {
		return false
	}
	if f.equipment != "" {
		if !sh.containers[strings.ToUpper(f.equipment)] {
			return false
		}
		if e.EquipmentReference != "" && !strings.EqualFold(e.EquipmentReference, f.equipment) {
			return false
		}
	}
	return len(f.eventTypes) == 0 || slices.Contains(f.eventTypes, e.Type)
}

// identifiers are the shipment identifiers and container numbers a filter names.
func (f *filter) identifiers() []string {
	var out []string
	for _, v := range []string{f.equipment, f.document, f.booking} {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// faultsOf returns the faults of pushes matching f about sh: those of the filter's
// identifiers first (a container's own), then the shipment's, then the default.
func (c *Carrier) faultsOf(f *filter, sh *shipment) Faults {
	ids := f.identifiers()
	if sh != nil {
		ids = append(ids, sh.ident)
	}
	return c.faultsFor(ids...)
}

// shipmentOf returns the first shipment a filter names, for its faults; nil when it
// names none that is tracked.
func (c *Carrier) shipmentOf(f *filter) *shipment {
	g := *f
	g.eventTypes = nil
	for _, sh := range c.shipments {
		e := references.Event{}
		if len(g.identifiers()) > 0 && g.matches(sh, &e) {
			return sh
		}
	}
	return nil
}
