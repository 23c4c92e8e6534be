package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/trackhook/trackhook/references"
)

// The values read or written on every poll and every delivery, the reference, its
// shipment snapshot, the feed's updates (which carry a snapshot too) and the delivery
// state, are stored in a compact binary form rather than JSON: decoding a snapshot of 15 events takes about
// 4µs instead of 40µs, encoding 2µs instead of 12µs, and it is 40% of the size (see
// BENCHMARKS.md). The other values (accounts, keys, the delivery log) stay JSON (see
// records.go).
//
// A binary value starts with its format byte; a JSON value starts with '{', so values
// written before this format, or by hand, are still read (records_fallback.go). The encoding of each type
// lists its fields in declaration order, except a field added later, which goes at the
// end so that values written before it still read (Reference.CarrierDetected);
// TestCodec_CoversEveryField fails when a field is added to one of these types and not here.
//
// Format 2 is format 1 with the fields that came with containers, each at the end of
// its type: an event's ISOEquipmentCode, a change's Container, a shipment's
// Containers. A field inside a list cannot be told apart from the next item by what
// follows, as CarrierDetected at the very end of a reference can, so the format byte
// says whether they are there. A value that has none of them is written in format 1,
// byte for byte as before; values of format 1 read with them empty.
//
// A container's milestones and last event are events of the shipment's Events: each
// is written as its index there (plus one), or as 0 followed by the event where it is
// not among them, so that containers do not double the size of a snapshot.
//
// Format 3 (schema 6, eventtable.go) is the form of a reference's value in the
// shipments bucket, its event table and current snapshot, and of the updates that
// refer to that table instead of carrying their snapshot's events; its events are
// encoded here, with the fields of format 2.
//
// Encoding: strings and byte counts as uvarint lengths and bytes; integers as varints;
// a pointer as a presence byte then the value; a slice as uvarint(len+1), 0 for nil,
// so that nil and empty come back as they went in (JSON tells "null" from "[]"); a
// time as Unix seconds, nanoseconds and zone offset in seconds, which keeps what a
// JSON round trip keeps: the instant and the offset.
//
// This file is longer than most on purpose: the encoder and the decoder of each type
// stand together, field by field in the same order, so a reader checks one against
// the other without switching files.
const (
	formatBinary1 byte = 1
	formatBinary2 byte = 2
)

// errCorrupt is wrapped by every decoding error of a binary value.
var errCorrupt = errors.New("corrupt binary value")

// encodeShipment returns the stored form of s.
func encodeShipment(s *references.Shipment) []byte {
	e := newEncoder(64+130*len(s.Events)+32*len(s.Containers), shipmentNeeds2(s))
	e.shipment(s)
	return e.b
}

// decodeShipment reads a snapshot in any stored form: a reference's value of format 3
// (see formatTable) gives its current snapshot, or errNoSnapshot.
func decodeShipment(data []byte, s *references.Shipment) error {
	if isTable(data) {
		return decodeTableShipment(data, s)
	}
	if isJSON(data) {
		var r shipmentRecord
		err := json.Unmarshal(data, &r)
		*s = *r.shipment()
		return err
	}
	d := newDecoder(data)
	d.shipment(s)
	return d.finish(data)
}

// encodeUpdate returns the stored form of u.
func encodeUpdate(u *references.Update) []byte { return encodeUpdateWith(u, nil) }

// encodeUpdateWith is encodeUpdate when u.Shipment is already encoded as shipment
// (by encodeShipment): the poller's update carries the snapshot it stores.
func encodeUpdateWith(u *references.Update, shipment []byte) []byte {
	format2 := updateNeeds2(u)
	if shipment != nil && (shipment[0] == formatBinary2) != format2 {
		shipment = nil // a change has a field of format 2 and the snapshot none: written again
	}
	n := 256 + len(shipment)
	if u.Shipment != nil && shipment == nil {
		n += 128 * len(u.Shipment.Events)
	}
	e := newEncoder(n+160*len(u.Changes), format2)
	e.update(u, shipment)
	return e.b
}

// shipmentNeeds2 reports whether s has a field of format 2.
func shipmentNeeds2(s *references.Shipment) bool {
	return s.Containers != nil || slices.ContainsFunc(s.Events, func(e references.Event) bool { return e.ISOEquipmentCode != "" })
}

// updateNeeds2 reports whether u has a field of format 2.
func updateNeeds2(u *references.Update) bool {
	for i := range u.Changes {
		if c := &u.Changes[i]; c.Container != "" || (c.Event != nil && c.Event.ISOEquipmentCode != "") {
			return true
		}
	}
	return u.Shipment != nil && shipmentNeeds2(u.Shipment)
}

// decodeUpdate reads an update in any stored form. An update of format 3 refers to
// its reference's event table: decodeStoredUpdate reads it with it; here its events
// are missing (an error, unless it has none).
func decodeUpdate(data []byte, u *references.Update) error {
	if len(data) > 0 && data[0] == formatTable {
		return decodeTableUpdate(data, &eventTable{}, u)
	}
	if isJSON(data) {
		var r updateRecord
		err := json.Unmarshal(data, &r)
		*u = r.update()
		return err
	}
	d := newDecoder(data)
	d.update(u)
	return d.finish(data)
}

// encodeReference returns the stored form of r.
func encodeReference(r *references.Reference) []byte {
	e := encoder{b: make([]byte, 0, 384)}
	e.b = append(e.b, formatBinary1)
	e.reference(r)
	return e.b
}

// decodeReference reads a reference in either stored form.
func decodeReference(data []byte, r *references.Reference) error {
	if isJSON(data) {
		var rec referenceRecord
		err := json.Unmarshal(data, &rec)
		*r = rec.reference()
		return err
	}
	d := decoder{b: data[1:]}
	d.reference(r)
	return d.finish(data)
}

// referenceStatus reads the status of a stored reference without decoding the rest,
// for CountReferences: skipping the fields before it (see encoder.reference) costs
// no allocation, where a whole decode makes a dozen.
func referenceStatus(data []byte) (references.Status, error) {
	if isJSON(data) {
		var r references.Reference
		err := decodeReference(data, &r)
		return r.Status, err
	}
	d := decoder{b: data[1:]}
	for range 7 { // ID to CallbackURL
		d.skipStr()
	}
	n := d.uvarint() // EventTypes
	if n > uint64(len(d.b)) {
		d.fail("event types length")
	}
	for range n {
		d.skipStr()
	}
	n = d.uvarint() // Metadata
	if n > uint64(len(d.b)/2) {
		d.fail("map length")
	}
	for range 2 * n {
		d.skipStr()
	}
	d.varint() // PollInterval
	st := d.statusBytes()
	if d.err != nil {
		return "", fmt.Errorf("%w (%d bytes)", d.err, len(data))
	}
	return st, nil
}

// encodeDeliveryState returns the stored form of st.
func encodeDeliveryState(st *deliveryState) []byte {
	e := encoder{b: make([]byte, 0, 32)}
	e.b = append(e.b, formatBinary1)
	e.time(st.DueAt)
	e.varint(int64(st.Attempts))
	e.timePtr(st.FirstAttemptAt)
	return e.b
}

// decodeDeliveryState reads a delivery state in either stored form.
func decodeDeliveryState(data []byte, st *deliveryState) error {
	if isJSON(data) {
		return json.Unmarshal(data, st)
	}
	d := decoder{b: data[1:]}
	st.DueAt = d.time()
	st.Attempts = int(d.varint())
	st.FirstAttemptAt = d.timePtr()
	return d.finish(data)
}

// isJSON tells a JSON value from a binary one by its first byte; an empty value is
// handed to the JSON decoder, which says what is wrong with it.
func isJSON(data []byte) bool {
	return len(data) == 0 || (data[0] != formatBinary1 && data[0] != formatBinary2 && data[0] != formatTable && data[0] != formatDict)
}

type encoder struct {
	b       []byte
	format2 bool // write the fields of format 2
}

// newEncoder returns an encoder that has written the format byte, with room for size
// bytes.
func newEncoder(size int, format2 bool) encoder {
	e := encoder{b: make([]byte, 0, size), format2: format2}
	if format2 {
		e.b = append(e.b, formatBinary2)
	} else {
		e.b = append(e.b, formatBinary1)
	}
	return e
}

func (e *encoder) reference(r *references.Reference) {
	e.str(r.ID)
	e.str(r.AccountID)
	e.str(r.ContainerID)
	e.str(r.BillOfLading)
	e.str(r.BookingNumber)
	e.str(r.CarrierCode)
	e.str(r.CallbackURL)
	// EventTypes and Metadata are omitted from JSON when empty: nil and empty
	// both come back nil.
	e.uvarint(uint64(len(r.EventTypes)))
	for _, t := range r.EventTypes {
		e.str(t)
	}
	e.metadata(r.Metadata)
	e.varint(int64(r.PollInterval))
	e.str(string(r.Status))
	e.str(string(r.UnsubscribeReason))
	e.timePtr(r.UnsubscribedAt)
	e.time(r.CreatedAt)
	e.time(r.UpdatedAt)
	e.timePtr(r.LastPolledAt)
	e.timePtr(r.NextPollAt)
	e.str(r.LastPollError)
	e.varint(int64(r.ConsecutiveFailures))
	e.timePtr(r.NotFoundSince)
	e.uvarint(r.LastSequence)
	e.uvarint(r.DeliveredSequence)
	e.str(string(r.DeliveryState))
	e.timePtr(r.FailingSince)
	// CarrierDetected, added after the others, comes last and only when true: a
	// reference stored before it existed ends above and reads as false, and one
	// without it is stored byte for byte as before.
	// The pause and refresh fields follow in the same way, only when one is set;
	// the flag above is then written whatever its value.
	// Push, added after them, follows them in the same way: a presence byte and the
	// subscription, only when there is one, so a reference without one is stored as
	// before and one stored before Push existed reads without.
	extra := r.PausedAt != nil || r.PausedFor != 0 || r.LastRefreshAt != nil || r.Push != nil
	if r.CarrierDetected || extra {
		e.present(r.CarrierDetected)
	}
	if extra {
		e.timePtr(r.PausedAt)
		e.varint(int64(r.PausedFor))
		e.timePtr(r.LastRefreshAt)
	}
	if r.Push != nil {
		e.present(true)
		e.push(r.Push)
	}
}

func (e *encoder) push(p *references.PushSubscription) {
	e.str(p.Source)
	e.str(p.ID)
	e.length(len(p.Secrets), p.Secrets == nil)
	for _, s := range p.Secrets {
		e.length(len(s.Key), s.Key == nil)
		e.b = append(e.b, s.Key...)
		e.timePtr(s.Until)
	}
	e.time(p.CreatedAt)
	e.time(p.RotatedAt)
	e.time(p.CheckedAt)
	e.timePtr(p.LastPushAt)
}

func (e *encoder) metadata(m map[string]string) {
	e.uvarint(uint64(len(m)))
	for k, v := range m {
		e.str(k)
		e.str(v)
	}
}

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) present(ok bool) bool {
	if ok {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
	return ok
}

// length writes the length of a slice, telling nil from empty.
func (e *encoder) length(n int, isNil bool) {
	if isNil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(n) + 1)
}

func (e *encoder) time(t time.Time) {
	_, offset := t.Zone()
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
	e.varint(int64(offset))
}

func (e *encoder) timePtr(t *time.Time) {
	if e.present(t != nil) {
		e.time(*t)
	}
}

func (e *encoder) shipment(s *references.Shipment) {
	e.length(len(s.Events), s.Events == nil)
	for i := range s.Events {
		e.event(&s.Events[i])
	}
	e.str(string(s.Status))
	e.location(s.Origin)
	e.location(s.Destination)
	e.location(s.CurrentLocation)
	e.transportCall(s.CurrentVessel)
	e.timePtr(s.ETA)
	if e.format2 {
		e.containers(s.Containers, s.Events)
	}
}

func (e *encoder) containers(cs []references.Container, events []references.Event) {
	e.length(len(cs), cs == nil)
	for i := range cs {
		c := &cs[i]
		e.str(c.Number)
		e.str(c.ISOEquipmentCode)
		e.str(string(c.Status))
		e.location(c.CurrentLocation)
		if e.present(c.LastEvent != nil) {
			e.eventRef(c.LastEvent, events, len(events)-1)
		}
		e.length(len(c.Milestones), c.Milestones == nil)
		next := 0
		for j := range c.Milestones {
			next = e.eventRef(&c.Milestones[j], events, next)
		}
	}
}

// eventRef writes ev as its index in events plus one, or as 0 and the event when it is
// not there. The search starts at from, where the next one usually is (milestones are
// in the order of events), and goes round; it returns where to start the next.
func (e *encoder) eventRef(ev *references.Event, events []references.Event, from int) int {
	for k := range events {
		i := (from + k) % len(events)
		if sameEvent(ev, &events[i]) {
			e.uvarint(uint64(i) + 1)
			return i + 1
		}
	}
	e.uvarint(0)
	e.event(ev)
	return from
}

// sameEvent reports whether a and b encode alike.
func sameEvent(a, b *references.Event) bool {
	_, oa := a.Time.Zone()
	_, ob := b.Time.Zone()
	return a.ID == b.ID && a.Type == b.Type && a.Classifier == b.Classifier && a.Code == b.Code &&
		a.Time.Equal(b.Time) && oa == ob &&
		(a.Location == nil) == (b.Location == nil) && (a.Location == nil || *a.Location == *b.Location) &&
		(a.TransportCall == nil) == (b.TransportCall == nil) && (a.TransportCall == nil || *a.TransportCall == *b.TransportCall) &&
		a.EquipmentReference == b.EquipmentReference && a.ISOEquipmentCode == b.ISOEquipmentCode &&
		a.EmptyIndicator == b.EmptyIndicator && a.Description == b.Description &&
		sameTime(a.RevisedAt, b.RevisedAt)
}

// sameTime reports whether a and b encode alike: the same instant and zone offset.
func sameTime(a, b time.Time) bool {
	_, oa := a.Zone()
	_, ob := b.Zone()
	return a.Equal(b) && oa == ob
}

func (e *encoder) event(ev *references.Event) {
	e.str(ev.ID)
	e.str(string(ev.Type))
	e.str(string(ev.Classifier))
	e.str(ev.Code)
	e.time(ev.Time)
	// The Location's presence byte also says whether RevisedAt follows at the end
	// (eventRevised): it came after format 2, and this way an event without one is
	// written byte for byte as before and an event of either format reads as
	// unrevised, with no format of its own.
	flags := byte(0)
	if ev.Location != nil {
		flags |= eventLocation
	}
	revised := !ev.RevisedAt.IsZero()
	if revised {
		flags |= eventRevised
	}
	e.b = append(e.b, flags)
	if ev.Location != nil {
		e.str(ev.Location.UNLocode)
		e.str(ev.Location.Name)
	}
	e.transportCall(ev.TransportCall)
	e.str(ev.EquipmentReference)
	e.str(ev.EmptyIndicator)
	e.str(ev.Description)
	if e.format2 {
		e.str(ev.ISOEquipmentCode)
	}
	if revised {
		e.time(ev.RevisedAt)
	}
}

// The bits of an event's flags byte, which stands where a presence byte of its
// Location stood before RevisedAt.
const (
	eventLocation byte = 1 << iota // a Location follows
	eventRevised                   // a RevisedAt ends the event
)

func (e *encoder) location(l *references.Location) {
	if e.present(l != nil) {
		e.str(l.UNLocode)
		e.str(l.Name)
	}
}

func (e *encoder) transportCall(tc *references.TransportCall) {
	if e.present(tc != nil) {
		e.str(tc.VesselName)
		e.str(tc.VesselIMO)
		e.str(tc.Voyage)
		e.str(tc.ModeOfTransport)
	}
}

func (e *encoder) update(u *references.Update, shipment []byte) {
	e.str(u.ID)
	e.str(u.ReferenceID)
	e.uvarint(u.Sequence)
	e.str(string(u.Type))
	e.time(u.CreatedAt)
	e.summary(&u.Reference)
	e.length(len(u.Changes), u.Changes == nil)
	for i := range u.Changes {
		e.change(&u.Changes[i])
	}
	if e.present(u.Shipment != nil) {
		if shipment != nil {
			e.b = append(e.b, shipment[1:]...) // without its format byte
		} else {
			e.shipment(u.Shipment)
		}
	}
	e.str(u.Error)
	e.str(string(u.UnsubscribeReason))
}

func (e *encoder) summary(s *references.ReferenceSummary) {
	e.str(s.ID)
	e.str(s.ContainerID)
	e.str(s.BillOfLading)
	e.str(s.BookingNumber)
	e.str(s.CarrierCode)
	e.metadata(s.Metadata) // omitted from JSON when empty: nil and empty come back nil
}

func (e *encoder) change(c *references.Change) {
	e.str(string(c.Type))
	e.str(c.Description)
	e.str(c.Old)
	e.str(c.New)
	if e.present(c.Event != nil) {
		e.event(c.Event)
	}
	if e.format2 {
		e.str(c.Container)
	}
}

// decoder reads a binary value. The first error stops it: every later read returns
// zero values, and finish reports the error.
type decoder struct {
	b       []byte
	format2 bool // read the fields of format 2
	err     error
	// recent holds the last short strings read: a snapshot names the same ports,
	// vessels and voyages in many events, and sharing them saves allocations (and
	// garbage collection) on every poll and delivery.
	recent [16]string
	next   int
}

// newDecoder returns a decoder of the binary value data, past its format byte.
func newDecoder(data []byte) decoder {
	return decoder{b: data[1:], format2: data[0] == formatBinary2}
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", errCorrupt, what)
	}
	d.b = nil
}

// finish returns the error of the decoding of data, if any, or complains about bytes
// left over.
func (d *decoder) finish(data []byte) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d bytes left over", errCorrupt, len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("%w (%d bytes)", d.err, len(data))
	}
	return nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("unsigned number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// rawStr reads a string's bytes without copying them: they alias the stored data.
// nil when its length runs past the end (d failed).
func (d *decoder) rawStr() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string length")
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) str() string {
	b := d.rawStr()
	if s, ok := known(b); ok {
		return s
	}
	if len(b) > 64 {
		return string(b)
	}
	for _, s := range d.recent {
		if s == string(b) { // compiled without a conversion
			return s
		}
	}
	s := string(b)
	d.recent[d.next] = s
	d.next = (d.next + 1) % len(d.recent)
	return s
}

// skipStr passes over a string.
func (d *decoder) skipStr() { d.rawStr() }

// statusBytes reads a reference's status, as one of the known values without
// allocating.
func (d *decoder) statusBytes() references.Status {
	b := d.rawStr()
	for _, st := range []references.Status{references.StatusActive, references.StatusPaused, references.StatusUnsubscribed} {
		if string(b) == string(st) {
			return st
		}
	}
	return references.Status(b)
}

func (d *decoder) present() bool {
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail("presence byte")
		return false
	}
	ok := d.b[0] == 1
	d.b = d.b[1:]
	return ok
}

// length reads a slice length written by encoder.length; each element takes at
// least minSize bytes, which bounds what a corrupt length can make us allocate.
func (d *decoder) length(minSize int) (n int, isNil bool) {
	v := d.uvarint()
	if v == 0 {
		return 0, true
	}
	if v-1 > uint64(len(d.b)/minSize) {
		d.fail("length")
		return 0, true
	}
	return int(v - 1), false
}

// maxZoneOffset bounds a zone offset, in seconds: less than a day, as JSON requires.
const maxZoneOffset = 24*3600 - 1

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	offset := d.varint()
	if nsec >= uint64(time.Second) || offset < -maxZoneOffset || offset > maxZoneOffset {
		d.fail("time")
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec))
	if offset != 0 {
		t = t.In(time.FixedZone("", int(offset)))
	} else {
		t = t.UTC()
	}
	if y := t.Year(); y < 0 || y > 9999 {
		// Not a time this store writes: JSON, which the API answers in, cannot say it.
		d.fail("time")
		return time.Time{}
	}
	return t
}

func (d *decoder) timePtr() *time.Time {
	if !d.present() {
		return nil
	}
	t := d.time()
	return &t
}

func (d *decoder) shipment(s *references.Shipment) {
	n, isNil := d.length(minEventSize)
	if !isNil {
		s.Events = make([]references.Event, n)
	}
	for i := range s.Events {
		d.event(&s.Events[i])
	}
	s.Status = references.ShipmentStatus(d.str())
	s.Origin = d.location()
	s.Destination = d.location()
	s.CurrentLocation = d.location()
	s.CurrentVessel = d.transportCall()
	s.ETA = d.timePtr()
	if d.format2 {
		s.Containers = d.containers(s.Events)
	}
}

// minContainerSize is the fewest bytes an encoded container takes.
const minContainerSize = 6

func (d *decoder) containers(events []references.Event) []references.Container {
	n, isNil := d.length(minContainerSize)
	if isNil {
		return nil
	}
	cs := make([]references.Container, n)
	for i := range cs {
		c := &cs[i]
		c.Number = d.str()
		c.ISOEquipmentCode = d.str()
		c.Status = references.ShipmentStatus(d.str())
		c.CurrentLocation = d.location()
		if d.present() {
			ev := d.eventRef(events)
			c.LastEvent = &ev
		}
		m, isNil := d.length(1)
		if !isNil {
			c.Milestones = make([]references.Event, m)
		}
		for j := range c.Milestones {
			c.Milestones[j] = d.eventRef(events)
		}
	}
	return cs
}

// eventRef reads an event written by encoder.eventRef. An event of events is copied,
// sharing its Location and TransportCall, as Derive's containers do.
func (d *decoder) eventRef(events []references.Event) references.Event {
	i := d.uvarint()
	switch {
	case i == 0:
		var ev references.Event
		d.event(&ev)
		return ev
	case i > uint64(len(events)):
		d.fail("event index")
		return references.Event{}
	}
	return events[i-1]
}

// minEventSize is the fewest bytes an encoded event takes.
const minEventSize = 12

func (d *decoder) event(ev *references.Event) {
	ev.ID = d.str()
	ev.Type = references.EventType(d.str())
	ev.Classifier = references.Classifier(d.str())
	ev.Code = d.str()
	ev.Time = d.time()
	var flags byte
	if len(d.b) == 0 || d.b[0]&^(eventLocation|eventRevised) != 0 {
		d.fail("event flags")
	} else {
		flags, d.b = d.b[0], d.b[1:]
	}
	ev.Location = nil
	if flags&eventLocation != 0 {
		ev.Location = &references.Location{UNLocode: d.str(), Name: d.str()}
	}
	ev.TransportCall = d.transportCall()
	ev.EquipmentReference = d.str()
	ev.EmptyIndicator = d.str()
	ev.Description = d.str()
	if d.format2 {
		ev.ISOEquipmentCode = d.str()
	}
	ev.RevisedAt = time.Time{}
	if flags&eventRevised != 0 {
		ev.RevisedAt = d.time()
	}
}

func (d *decoder) location() *references.Location {
	if !d.present() {
		return nil
	}
	return &references.Location{UNLocode: d.str(), Name: d.str()}
}

func (d *decoder) transportCall() *references.TransportCall {
	if !d.present() {
		return nil
	}
	return &references.TransportCall{VesselName: d.str(), VesselIMO: d.str(), Voyage: d.str(), ModeOfTransport: d.str()}
}

func (d *decoder) update(u *references.Update) {
	u.ID = d.str()
	u.ReferenceID = d.str()
	u.Sequence = d.uvarint()
	u.Type = references.UpdateType(d.str())
	u.CreatedAt = d.time()
	d.summary(&u.Reference)
	n, isNil := d.length(minChangeSize)
	if !isNil {
		u.Changes = make([]references.Change, n)
	}
	for i := range u.Changes {
		d.change(&u.Changes[i])
	}
	if d.present() {
		u.Shipment = &references.Shipment{}
		d.shipment(u.Shipment)
	}
	u.Error = d.str()
	u.UnsubscribeReason = references.UnsubscribeReason(d.str())
}

// minChangeSize is the fewest bytes an encoded change takes.
const minChangeSize = 5

func (d *decoder) summary(s *references.ReferenceSummary) {
	s.ID = d.str()
	s.ContainerID = d.str()
	s.BillOfLading = d.str()
	s.BookingNumber = d.str()
	s.CarrierCode = d.str()
	s.Metadata = d.metadata()
}

func (d *decoder) metadata() map[string]string {
	n := d.uvarint()
	if n > uint64(len(d.b)/2) { // an entry takes two bytes at least
		d.fail("map length")
		return nil
	}
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

func (d *decoder) reference(r *references.Reference) {
	r.ID = d.str()
	r.AccountID = d.str()
	r.ContainerID = d.str()
	r.BillOfLading = d.str()
	r.BookingNumber = d.str()
	r.CarrierCode = d.str()
	r.CallbackURL = d.str()
	n := d.uvarint()
	if n > uint64(len(d.b)) { // an entry takes a byte at least
		d.fail("event types length")
		return
	}
	if n > 0 {
		r.EventTypes = make([]string, n)
	}
	for i := range r.EventTypes {
		r.EventTypes[i] = d.str()
	}
	r.Metadata = d.metadata()
	r.PollInterval = references.Duration(d.varint())
	r.Status = references.Status(d.str())
	r.UnsubscribeReason = references.UnsubscribeReason(d.str())
	r.UnsubscribedAt = d.timePtr()
	r.CreatedAt = d.time()
	r.UpdatedAt = d.time()
	r.LastPolledAt = d.timePtr()
	r.NextPollAt = d.timePtr()
	r.LastPollError = d.str()
	r.ConsecutiveFailures = int(d.varint())
	r.NotFoundSince = d.timePtr()
	r.LastSequence = d.uvarint()
	r.DeliveredSequence = d.uvarint()
	r.DeliveryState = references.DeliveryState(d.str())
	r.FailingSince = d.timePtr()
	if len(d.b) == 0 { // the trailing fields are optional, see encoder.reference
		return
	}
	r.CarrierDetected = d.present()
	if len(d.b) == 0 {
		if !r.CarrierDetected {
			d.fail("carrier detected flag") // false is written only before more fields
		}
		return
	}
	r.PausedAt = d.timePtr()
	r.PausedFor = time.Duration(d.varint())
	r.LastRefreshAt = d.timePtr()
	if len(d.b) == 0 {
		return
	}
	if !d.present() {
		d.fail("push presence") // written only for a subscription
		return
	}
	r.Push = d.push()
}

// minSecretSize is the fewest bytes an encoded push secret takes.
const minSecretSize = 2

func (d *decoder) push() *references.PushSubscription {
	p := &references.PushSubscription{Source: d.str(), ID: d.str()}
	n, isNil := d.length(minSecretSize)
	if !isNil {
		p.Secrets = make([]references.PushSecret, n)
	}
	for i := range p.Secrets {
		p.Secrets[i].Key = d.bytes()
		p.Secrets[i].Until = d.timePtr()
	}
	p.CreatedAt = d.time()
	p.RotatedAt = d.time()
	p.CheckedAt = d.time()
	p.LastPushAt = d.timePtr()
	return p
}

// bytes reads a byte slice written with its length (nil or not) and copies it: the
// value being decoded may be the file's memory, which is gone after the transaction.
func (d *decoder) bytes() []byte {
	n, isNil := d.length(1)
	if isNil || d.err != nil {
		return nil
	}
	b := make([]byte, n)
	copy(b, d.b[:n])
	d.b = d.b[n:]
	return b
}

func (d *decoder) change(c *references.Change) {
	c.Type = references.ChangeType(d.str())
	c.Description = d.str()
	c.Old = d.str()
	c.New = d.str()
	if d.present() {
		c.Event = &references.Event{}
		d.event(c.Event)
	}
	if d.format2 {
		c.Container = d.str()
	}
}
