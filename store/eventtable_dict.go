package store

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Since schema 7, a reference's value in the shipments bucket takes format 4: the
// table of format 3 (see formatTable) preceded by the reference's dictionary of
// strings, with each event's strings written as their number in it. The events of
// one voyage name the same few places, terminals, vessels, codes and containers again
// and again: in a voyage of the load tool an event took about 135 bytes, 100 of them
// strings that other events of the table repeat, and the table was a third of the
// store. An event's id, unique, stays in the event, packed to its 16 bytes when it is
// a UUID, as carriers' DCSA event ids are.
//
//	formatDict
//	uvarint(strings), then per string uvarint(len) and its bytes
//	the table and current snapshot as in format 3 (slots, presence byte, snapshot),
//	  each slot's event written by appendDictEvent
//
// The dictionary is only appended to while events are added (so the number of a
// string never changes under the events that use it) and rebuilt from the events
// left when retention empties slots (reclaimEvents), so that it holds the strings of
// the events kept, not of every event the reference ever had. The updates are those
// of format 3: they refer to events by slot, whatever the table's format. A table of
// format 3 is read as it is and takes format 4 when its reference next changes.
const formatDict byte = 4

// tableDict is the dictionary of a table of format 4.
type tableDict struct {
	raw [][]byte // each string's bytes; they alias the stored value until rebuilt
	// strs holds the strings decoded so far (decoded[i] says so): a snapshot or an
	// update needs some of the table's events, and those few of its strings.
	strs    []string
	decoded []bool
	// index finds the number of a string, for the writer; made on its first use.
	index map[string]uint64
	// last is, per field of an event (see appendDictEvent), the string numbered last
	// and its number: events in a row mostly repeat the vessel, the place, the
	// container of the one before, and a comparison costs less than a map lookup.
	last [eventFields]struct {
		s string
		n uint64
	}
}

// eventFields is the number of string fields of an event that appendDictEvent writes
// as numbers.
const eventFields = 13

// numberAt is number for the string s of the event field f (0 to eventFields-1).
func (t *tableDict) numberAt(f int, s string) uint64 {
	if s == "" {
		return 0
	}
	if l := &t.last[f]; l.n != 0 && l.s == s {
		return l.n
	}
	n := t.number(s)
	t.last[f].s, t.last[f].n = s, n
	return n
}

// dictScan is the size of a dictionary up to which number looks strings up one by
// one rather than in a map: a voyage's table has some 40, and making the map (a
// string of each) cost a changed poll more than the scans.
const dictScan = 64

// number returns the number of s in the dictionary plus one, adding s when it is not
// there, or 0 for the empty string.
func (t *tableDict) number(s string) uint64 {
	if s == "" {
		return 0
	}
	if t.index == nil && len(t.raw) < dictScan {
		for i, b := range t.raw {
			if len(b) == len(s) && string(b) == s {
				return uint64(i) + 1
			}
		}
		return t.add(s)
	}
	if t.index == nil {
		t.index = make(map[string]uint64, len(t.raw)+8)
		for i, b := range t.raw {
			if _, dup := t.index[string(b)]; !dup {
				t.index[string(b)] = uint64(i)
			}
		}
	}
	if i, ok := t.index[s]; ok {
		return i + 1
	}
	t.index[s] = uint64(len(t.raw))
	return t.add(s)
}

// add appends s to the dictionary and returns its number plus one. The strings
// decoded so far, if any, stay in step with the dictionary.
func (t *tableDict) add(s string) uint64 {
	t.raw = append(t.raw, []byte(s))
	if t.strs != nil {
		t.strs = append(t.strs, s)
		t.decoded = append(t.decoded, true)
	}
	return uint64(len(t.raw))
}

// str returns the string numbered n (as number returned it), false for a number the
// dictionary does not have.
func (t *tableDict) str(n uint64) (string, bool) {
	if n == 0 {
		return "", true
	}
	i := n - 1
	if i >= uint64(len(t.raw)) {
		return "", false
	}
	if t.strs == nil {
		t.strs = make([]string, len(t.raw))
		t.decoded = make([]bool, len(t.raw))
	}
	if !t.decoded[i] {
		if s, ok := known(t.raw[i]); ok {
			t.strs[i] = s
		} else {
			t.strs[i] = string(t.raw[i])
		}
		t.decoded[i] = true
	}
	return t.strs[i], true
}

// dict reads a dictionary as appendDict wrote it; the strings alias the decoded bytes.
func (d *decoder) dict() *tableDict {
	n := d.uvarint()
	if n > uint64(len(d.b)) { // a string takes a byte at least
		d.fail("dictionary length")
		return &tableDict{}
	}
	t := &tableDict{raw: make([][]byte, n)}
	for i := range t.raw {
		t.raw[i] = d.rawStr()
		if d.err != nil {
			return &tableDict{}
		}
	}
	return t
}

// appendDict writes the dictionary t.
func appendDict(b []byte, t *tableDict) []byte {
	b = appendUvarint(b, uint64(len(t.raw)))
	for _, s := range t.raw {
		b = appendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func appendUvarint(b []byte, v uint64) []byte {
	e := encoder{b: b}
	e.uvarint(v)
	return e.b
}

// appendDictEvent writes ev as an event of a table of format 4 does, its strings
// numbered in dict (which it adds them to), its fields in the order of encoder.event
// with those of format 2.
func appendDictEvent(b []byte, ev *references.Event, dict *tableDict) []byte {
	e := encoder{b: b, format2: true}
	e.eventID(ev.ID)
	e.uvarint(dict.numberAt(0, string(ev.Type)))
	e.uvarint(dict.numberAt(1, string(ev.Classifier)))
	e.uvarint(dict.numberAt(2, ev.Code))
	e.time(ev.Time)
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
		e.uvarint(dict.numberAt(3, ev.Location.UNLocode))
		e.uvarint(dict.numberAt(4, ev.Location.Name))
	}
	if tc := ev.TransportCall; e.present(tc != nil) {
		e.uvarint(dict.numberAt(5, tc.VesselName))
		e.uvarint(dict.numberAt(6, tc.VesselIMO))
		e.uvarint(dict.numberAt(7, tc.Voyage))
		e.uvarint(dict.numberAt(8, tc.ModeOfTransport))
	}
	e.uvarint(dict.numberAt(9, ev.EquipmentReference))
	e.uvarint(dict.numberAt(10, ev.EmptyIndicator))
	e.uvarint(dict.numberAt(11, ev.Description))
	e.uvarint(dict.numberAt(12, ev.ISOEquipmentCode))
	if revised {
		e.time(ev.RevisedAt)
	}
	return e.b
}

// dictEvent reads what appendDictEvent wrote.
func (d *decoder) dictEvent(ev *references.Event, dict *tableDict) {
	s := func() string {
		v, ok := dict.str(d.uvarint())
		if !ok {
			d.fail("string number")
		}
		return v
	}
	ev.ID = d.eventID()
	ev.Type = references.EventType(s())
	ev.Classifier = references.Classifier(s())
	ev.Code = s()
	ev.Time = d.time()
	var flags byte
	if len(d.b) == 0 || d.b[0]&^(eventLocation|eventRevised) != 0 {
		d.fail("event flags")
	} else {
		flags, d.b = d.b[0], d.b[1:]
	}
	ev.Location = nil
	if flags&eventLocation != 0 {
		ev.Location = &references.Location{UNLocode: s(), Name: s()}
	}
	ev.TransportCall = nil
	if d.present() {
		ev.TransportCall = &references.TransportCall{VesselName: s(), VesselIMO: s(), Voyage: s(), ModeOfTransport: s()}
	}
	ev.EquipmentReference = s()
	ev.EmptyIndicator = s()
	ev.Description = s()
	ev.ISOEquipmentCode = s()
	ev.RevisedAt = time.Time{}
	if flags&eventRevised != 0 {
		ev.RevisedAt = d.time()
	}
}

// uuidLen is the length of a UUID in its canonical text form.
const uuidLen = 36

// eventID writes an event id as uvarint(len<<1) and its bytes, or, when it is a UUID
// in canonical lower-case form (which formats back to the same text), as 1 and its
// 16 bytes.
func (e *encoder) eventID(id string) {
	var raw [16]byte
	if packUUID(id, &raw) {
		e.uvarint(1)
		e.b = append(e.b, raw[:]...)
		return
	}
	e.uvarint(uint64(len(id)) << 1)
	e.b = append(e.b, id...)
}

// eventID reads what encoder.eventID wrote.
func (d *decoder) eventID() string {
	n := d.uvarint()
	if n&1 == 0 {
		if n>>1 > uint64(len(d.b)) {
			d.fail("event id length")
			return ""
		}
		s := string(d.b[:n>>1])
		d.b = d.b[n>>1:]
		return s
	}
	if n != 1 || len(d.b) < 16 {
		d.fail("event id")
		return ""
	}
	var buf [uuidLen]byte
	hex.Encode(buf[0:8], d.b[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], d.b[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], d.b[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], d.b[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], d.b[10:16])
	d.b = d.b[16:]
	return string(buf[:])
}

// packUUID reports whether id is a UUID in canonical lower-case form and puts its 16
// bytes in raw.
func packUUID(id string, raw *[16]byte) bool {
	if len(id) != uuidLen || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return false
	}
	j := 0
	for i := 0; i < uuidLen; {
		if id[i] == '-' {
			i++
			continue
		}
		hi, ok1 := lowerHex(id[i])
		lo, ok2 := lowerHex(id[i+1])
		if !ok1 || !ok2 {
			return false
		}
		raw[j] = hi<<4 | lo
		j++
		i += 2
	}
	return true
}

// lowerHex is the value of the lower-case hexadecimal digit c.
func lowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// rebuildTable returns the table t, of format 3 or 4, in format 4 with a dictionary
// of the strings of its events only: the same events in the same slots.
func rebuildTable(t *eventTable) (*eventTable, error) {
	out := &eventTable{slots: make([][]byte, len(t.slots)), dict: &tableDict{}}
	var ev references.Event
	for i, s := range t.slots {
		if s == nil {
			continue
		}
		if err := t.decode(uint64(i), &ev); err != nil {
			return nil, fmt.Errorf("rebuild the event table: %w", err)
		}
		out.slots[i] = appendDictEvent(nil, &ev, out.dict)
	}
	return out, nil
}
