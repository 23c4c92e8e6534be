package store

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// Since schema 6, a reference's events are stored once, in its event table, and its
// snapshots and updates refer to them by number. A voyage's feed holds dozens of
// updates, each with a snapshot of 15 to 60 events that differ from the one before by
// a few; when every update carried its whole snapshot, the feed took about 4.5 KB of
// pages per update (BenchmarkStoreSize). An update of format 3 keeps its own fields and
// changes, and its snapshot as the snapshot's own fields plus the numbers of its events
// in the table.
//
// The table lives in the reference's value of the shipments bucket, before the
// current snapshot, which refers to it too:
//
//	formatTable
//	uvarint(slots), then per slot uvarint(len) and the event's encoding (encoder.event
//	  with the fields of format 2), or a length of 0 for a slot retention reclaimed
//	presence byte, then the current snapshot: encoder.snapshotRefs
//
// Slots are only appended, so a number, once given, names the same event for good;
// retention empties the slots of events that no update it keeps nor the current
// snapshot uses (reclaimEvents). Values of formats 1 and 2, which carry whole
// snapshots, are read as before and never rewritten in place: a store of schema 5
// needs no conversion at Open.
const formatTable byte = 3

// errNoSnapshot is returned by decodeShipment for a table that has no current
// snapshot yet (an update carried events before the first snapshot was recorded).
var errNoSnapshot = errors.New("no current snapshot")

// eventTable is a reference's event table, read from its stored value or being built.
type eventTable struct {
	slots [][]byte // each event's encoding; nil for a reclaimed slot
	// dict is the dictionary of a table of format 4 (see formatDict), nil in one of
	// format 3.
	dict *tableDict
	// cache keeps the events decoded, in events where decoded says so, so that each
	// is decoded once for all the snapshots of a page of updates; without, an event
	// is decoded where it goes, as one update alone needs it.
	cache   bool
	events  []references.Event
	decoded []bool
	// used, when not nil, collects the slots event is asked for instead of decoding
	// them (see markUpdateEvents).
	used []bool
	// dec decodes the events, one after the other: its strings read last are shared
	// (the same ports and vessels come back in event after event).
	dec decoder
}

// event sets *ev to the event of slot i.
func (t *eventTable) event(i uint64, ev *references.Event) error {
	if i >= uint64(len(t.slots)) || t.slots[i] == nil {
		return fmt.Errorf("%w: no event %d in a table of %d", errCorrupt, i, len(t.slots))
	}
	if t.used != nil {
		t.used[i] = true
		return nil
	}
	if !t.cache {
		return t.decode(i, ev)
	}
	if t.events == nil {
		t.events = make([]references.Event, len(t.slots))
		t.decoded = make([]bool, len(t.slots))
	}
	if !t.decoded[i] {
		if err := t.decode(i, &t.events[i]); err != nil {
			return err
		}
		t.decoded[i] = true
	}
	*ev = t.events[i]
	return nil
}

// decode decodes the event of slot i into ev.
func (t *eventTable) decode(i uint64, ev *references.Event) error {
	d := &t.dec
	d.b, d.format2, d.err = t.slots[i], true, nil
	if t.dict != nil {
		d.dictEvent(ev, t.dict)
	} else {
		d.event(ev)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("event length")
	}
	if d.err != nil {
		return fmt.Errorf("event %d: %w", i, d.err)
	}
	return nil
}

// table reads an event table (see formatTable). The slots alias the decoded bytes.
func (d *decoder) table() *eventTable {
	n := d.uvarint()
	if n > uint64(len(d.b)) { // a slot takes a byte at least
		d.fail("event table length")
		return &eventTable{}
	}
	t := &eventTable{slots: make([][]byte, n)}
	for i := range t.slots {
		size := d.uvarint()
		if size > uint64(len(d.b)) {
			d.fail("event length")
			return &eventTable{}
		}
		if size > 0 {
			t.slots[i] = d.b[:size:size]
		}
		d.b = d.b[size:]
	}
	return t
}

// format is the format byte of a value holding the table.
func (t *eventTable) format() byte {
	if t.dict != nil {
		return formatDict
	}
	return formatTable
}

// appendTable writes the table's dictionary, if it has one, and its slots as
// readTable reads them.
func appendTable(b []byte, t *eventTable) []byte {
	if t.dict != nil {
		b = appendDict(b, t.dict)
	}
	var e encoder
	e.b = b
	e.uvarint(uint64(len(t.slots)))
	for _, s := range t.slots {
		e.uvarint(uint64(len(s)))
		e.b = append(e.b, s...)
	}
	return e.b
}

// snapshotRefs writes a snapshot whose events are in the table: their slot numbers in
// idx, then the snapshot's own fields, its places and vessel as those of its events
// (see place), its containers as encoder.shipment writes them (their events as
// indexes into s.Events).
func (e *encoder) snapshotRefs(s *references.Shipment, idx []uint64) {
	e.length(len(s.Events), s.Events == nil)
	for _, i := range idx {
		e.uvarint(i)
	}
	e.word(string(s.Status))
	e.place(s.Origin, s.Events)
	e.place(s.Destination, s.Events)
	e.place(s.CurrentLocation, s.Events)
	e.vessel(s.CurrentVessel, s.Events)
	e.timePtr(s.ETA)
	e.containers(s.Containers, s.Events)
}

// snapshotRefs reads what encoder.snapshotRefs wrote, with the events of t.
func (d *decoder) snapshotRefs(s *references.Shipment, t *eventTable) {
	n, isNil := d.length(1)
	if !isNil {
		s.Events = make([]references.Event, n)
	}
	for i := range s.Events {
		if err := t.event(d.uvarint(), &s.Events[i]); err != nil {
			d.fail("event number")
			return
		}
	}
	s.Status = references.ShipmentStatus(d.word())
	s.Origin = d.place(s.Events)
	s.Destination = d.place(s.Events)
	s.CurrentLocation = d.place(s.Events)
	s.CurrentVessel = d.vessel(s.Events)
	s.ETA = d.timePtr()
	s.Containers = d.containers(s.Events)
}

// readTable reads a reference's value of the shipments bucket of format 3 or 4: its
// table, and the decoder positioned at its current snapshot.
func readTable(data []byte) (*eventTable, decoder) {
	d := decoder{b: data[1:], format2: true}
	var dict *tableDict
	if data[0] == formatDict {
		dict = d.dict()
	}
	t := d.table()
	t.dict = dict
	return t, d
}

// isTable reports whether data, a value of the shipments bucket, holds an event
// table (format 3 or 4).
func isTable(data []byte) bool {
	return len(data) > 0 && (data[0] == formatTable || data[0] == formatDict)
}

// decodeTableShipment reads the current snapshot of a value of format 3 or 4; it returns
// errNoSnapshot when there is none.
func decodeTableShipment(data []byte, s *references.Shipment) error {
	t, d := readTable(data)
	if !d.present() {
		if err := d.finish(data); err != nil {
			return err
		}
		return errNoSnapshot
	}
	d.snapshotRefs(s, t)
	return d.finish(data)
}

// loadTable reads the event table of a reference, empty when it has none (no
// snapshot yet, or one of format 1 or 2).
func loadTable(tx *bolt.Tx, refID string) (*eventTable, error) {
	data := tx.Bucket(bucketShipments).Get([]byte(refID))
	if !isTable(data) {
		return &eventTable{}, nil
	}
	t, d := readTable(data)
	if d.err != nil {
		return nil, fmt.Errorf("event table of %s: %w (%d bytes)", refID, d.err, len(data))
	}
	return t, nil
}

// eventWriter adds a reference's new events to its table and writes the updates and
// the current snapshot that refer to them, in one write transaction. It reads the
// stored table on first use; flush writes the value back if it changed.
type eventWriter struct {
	tx     *bolt.Tx
	refID  string
	loaded bool
	tab    *eventTable
	// cur is the current snapshot's part of the value: its presence byte and
	// encoder.snapshotRefs.
	cur   []byte
	dirty bool
	next  int // where the search of the next event starts (see intern)
	// ship is the snapshot encoded last, with its encoding (snapshotRefs): the
	// poller's update carries the snapshot it records.
	ship     *references.Shipment
	shipRefs []byte
	scratch  encoder
}

func newEventWriter(tx *bolt.Tx, refID string) *eventWriter {
	return &eventWriter{tx: tx, refID: refID}
}

// load reads the stored table and current snapshot. A snapshot of format 1 or 2 is
// taken into the table, and a table of format 3 rewritten in format 4 (the same
// events in the same slots), so that the value written back is of format 4.
func (w *eventWriter) load() error {
	if w.loaded {
		return nil
	}
	return w.loadFrom(w.tx.Bucket(bucketShipments).Get([]byte(w.refID)))
}

// loadFrom is load from data, the reference's value of the shipments bucket (nil for
// none), read by the caller: the table aliases data, which must stay as it is while
// the writer is used.
func (w *eventWriter) loadFrom(data []byte) error {
	w.loaded = true
	switch {
	case data == nil:
		w.tab, w.cur = &eventTable{dict: &tableDict{}}, []byte{0}
	case isTable(data):
		t, d := readTable(data)
		if d.err != nil {
			return fmt.Errorf("event table of %s: %w (%d bytes)", w.refID, d.err, len(data))
		}
		w.tab, w.cur = t, d.b
		if t.dict == nil {
			var err error
			if w.tab, err = rebuildTable(t); err != nil {
				return fmt.Errorf("event table of %s: %w", w.refID, err)
			}
			w.dirty = true
		}
	default:
		var s references.Shipment
		if err := decodeShipment(data, &s); err != nil {
			return fmt.Errorf("shipment of %s: %w", w.refID, err)
		}
		w.tab = &eventTable{dict: &tableDict{}}
		w.cur = append([]byte{1}, w.refs(&s)...)
		w.dirty = true
	}
	return nil
}

// intern returns the slot of ev in the table, appending it when it is not there.
// The search starts where the last one ended: a snapshot's events are in the order
// of the one before, so it usually finds them at once.
func (w *eventWriter) intern(ev *references.Event) uint64 {
	w.scratch.b = appendDictEvent(w.scratch.b[:0], ev, w.tab.dict)
	enc := w.scratch.b
	slots := w.tab.slots
	for k := range slots {
		i := (w.next + k) % len(slots)
		if bytes.Equal(slots[i], enc) {
			w.next = i + 1
			return uint64(i)
		}
	}
	w.tab.slots = append(w.tab.slots, bytes.Clone(enc))
	w.dirty = true
	w.next = 0
	return uint64(len(w.tab.slots) - 1)
}

// refs interns the events of s and returns its encoder.snapshotRefs.
func (w *eventWriter) refs(s *references.Shipment) []byte {
	if s == w.ship {
		return w.shipRefs
	}
	idx := make([]uint64, len(s.Events))
	for i := range s.Events {
		idx[i] = w.intern(&s.Events[i])
	}
	e := encoder{b: make([]byte, 0, 64+3*len(idx)+32*len(s.Containers)), format2: true}
	e.snapshotRefs(s, idx)
	w.ship, w.shipRefs = s, e.b
	return e.b
}

// setCurrent makes s the reference's current snapshot.
func (w *eventWriter) setCurrent(s *references.Shipment) error {
	if err := w.load(); err != nil {
		return err
	}
	refs := w.refs(s)
	if len(w.cur) == 1+len(refs) && w.cur[0] == 1 && bytes.Equal(w.cur[1:], refs) {
		return nil // the same snapshot: the value changes only if the table does
	}
	w.cur = append([]byte{1}, refs...)
	w.dirty = true
	return nil
}

// encodeUpdate returns the stored form of u (format 3), its events in the table.
func (w *eventWriter) encodeUpdate(u *references.Update) ([]byte, error) {
	if err := w.load(); err != nil {
		return nil, err
	}
	e := encoder{b: make([]byte, 0, 192+96*len(u.Changes)), format2: true}
	e.b = append(e.b, formatTable)
	e.str(u.ID)
	e.uvarint(u.Sequence)
	e.word(string(u.Type))
	e.time(u.CreatedAt)
	e.summary(&u.Reference)
	// The reference's id, only where it is not the summary's (it always is).
	if e.present(u.ReferenceID != u.Reference.ID) {
		e.str(u.ReferenceID)
	}
	e.length(len(u.Changes), u.Changes == nil)
	for i := range u.Changes {
		c := &u.Changes[i]
		e.word(string(c.Type))
		e.text(c.Description)
		e.text(c.Old)
		e.text(c.New)
		if c.Event == nil {
			e.uvarint(0)
		} else {
			e.uvarint(w.intern(c.Event) + 1)
		}
		e.str(c.Container)
	}
	if e.present(u.Shipment != nil) {
		e.b = append(e.b, w.refs(u.Shipment)...)
	}
	e.text(u.Error)
	e.word(string(u.UnsubscribeReason))
	return e.b, nil
}

// flush writes the table and the current snapshot back when they changed.
func (w *eventWriter) flush() error {
	if !w.dirty {
		return nil
	}
	size := 1 + len(w.cur) + 4
	for _, s := range w.tab.slots {
		size += len(s) + 2
	}
	for _, s := range w.tab.dict.raw {
		size += len(s) + 1
	}
	v := make([]byte, 1, size)
	v[0] = w.tab.format()
	v = appendTable(v, w.tab)
	v = append(v, w.cur...)
	if err := w.tx.Bucket(bucketShipments).Put([]byte(w.refID), v); err != nil {
		return err
	}
	w.dirty = false
	return nil
}

// decodeTableUpdate reads an update of format 3 with the events of t.
func decodeTableUpdate(data []byte, t *eventTable, u *references.Update) error {
	d := decoder{b: data[1:], format2: true}
	u.ID = d.str()
	u.Sequence = d.uvarint()
	u.Type = references.UpdateType(d.word())
	u.CreatedAt = d.time()
	d.summary(&u.Reference)
	u.ReferenceID = u.Reference.ID
	if d.present() {
		u.ReferenceID = d.str()
	}
	n, isNil := d.length(minChangeSize)
	if !isNil {
		u.Changes = make([]references.Change, n)
	}
	for i := range u.Changes {
		c := &u.Changes[i]
		c.Type = references.ChangeType(d.word())
		c.Description = d.text()
		c.Old = d.text()
		c.New = d.text()
		if n := d.uvarint(); n > 0 {
			c.Event = &references.Event{}
			if err := t.event(n-1, c.Event); err != nil {
				d.fail("event number")
			}
		}
		c.Container = d.str()
	}
	if d.present() {
		u.Shipment = &references.Shipment{}
		d.snapshotRefs(u.Shipment, t)
	}
	u.Error = d.text()
	u.UnsubscribeReason = references.UnsubscribeReason(d.word())
	return d.finish(data)
}

// updateHead reads the fields of a stored update that need no events: its id and
// creation time, for retention.
func updateHead(data []byte) (id string, created time.Time, err error) {
	if len(data) == 0 || data[0] != formatTable {
		var u references.Update
		if err := decodeUpdate(data, &u); err != nil {
			return "", time.Time{}, err
		}
		return u.ID, u.CreatedAt, nil
	}
	d := decoder{b: data[1:], format2: true}
	id = d.str()
	d.uvarint() // Sequence
	d.word()    // Type
	created = d.time()
	if d.err != nil {
		return "", time.Time{}, fmt.Errorf("%w (%d bytes)", d.err, len(data))
	}
	return id, created, nil
}

// reclaimEvents empties the slots of the reference's event table that neither its
// current snapshot nor any update left in its feed refers to: retention calls it
// after deleting some of the reference's updates, so that the table holds the events
// of the feed it keeps, not of every snapshot the reference ever had. The slots stay,
// empty (a byte each), so that every number keeps naming the same event.
func reclaimEvents(tx *bolt.Tx, refID string) error {
	data := tx.Bucket(bucketShipments).Get([]byte(refID))
	if !isTable(data) {
		return nil
	}
	t, d := readTable(data)
	if d.err != nil {
		return fmt.Errorf("event table of %s: %w (%d bytes)", refID, d.err, len(data))
	}
	t.used = make([]bool, len(t.slots))
	cur := d.b
	if d.present() {
		d.markEvents(t)
	}
	if d.err != nil {
		return fmt.Errorf("event table of %s: %w (%d bytes)", refID, d.err, len(data))
	}
	prefix := str(refID)
	c := tx.Bucket(bucketUpdates).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) == 0 || v[0] != formatTable {
			continue // carries its snapshot itself
		}
		if err := markUpdateEvents(v, t); err != nil {
			return fmt.Errorf("update %q: %w", k, err)
		}
	}
	reclaimed := false
	for i, used := range t.used {
		if !used && t.slots[i] != nil {
			t.slots[i], reclaimed = nil, true
		}
	}
	if !reclaimed {
		return nil
	}
	if t.dict != nil {
		// The dictionary keeps the strings of the events left only.
		t.used = nil
		var err error
		if t, err = rebuildTable(t); err != nil {
			return fmt.Errorf("event table of %s: %w", refID, err)
		}
	}
	v := appendTable([]byte{t.format()}, t)
	return tx.Bucket(bucketShipments).Put([]byte(refID), append(v, cur...))
}

// markEvents marks in t.used the slots of the events of a snapshot written by
// encoder.snapshotRefs, and reads no further: the rest refers to those events by
// their place in the snapshot, not to the table.
func (d *decoder) markEvents(t *eventTable) {
	n, _ := d.length(1)
	for range n {
		if err := t.event(d.uvarint(), nil); err != nil {
			d.fail("event number")
			return
		}
	}
}

// markUpdateEvents marks in t.used the slots an update of format 3 refers to, reading
// only what comes before them and allocating nothing: retention runs it on every
// update its reference keeps (see reclaimEvents).
func markUpdateEvents(data []byte, t *eventTable) error {
	d := decoder{b: data[1:], format2: true}
	d.skipStr()  // ID
	d.uvarint()  // Sequence
	d.skipWord() // Type
	d.varint()   // CreatedAt
	d.uvarint()
	d.varint()
	for range 5 { // the summary's ID to CarrierCode
		d.skipStr()
	}
	n := d.uvarint() // its Metadata
	if n > uint64(len(d.b)/2) {
		d.fail("map length")
		n = 0 // and skip nothing: a corrupt length can be any number
	}
	for range 2 * n {
		d.skipStr()
	}
	if d.present() {
		d.skipStr() // ReferenceID
	}
	changes, _ := d.length(minChangeSize)
	for range changes {
		d.skipWord()
		for range 3 { // Description, Old, New
			d.skipText()
		}
		if i := d.uvarint(); i > 0 {
			if err := t.event(i-1, nil); err != nil {
				d.fail("event number")
			}
		}
		d.skipStr() // Container
	}
	if d.present() {
		d.markEvents(t)
	}
	if d.err != nil {
		return fmt.Errorf("%w (%d bytes)", d.err, len(data))
	}
	return nil
}
