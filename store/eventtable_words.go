package store

import (
	"encoding/binary"
	"time"
	"unicode/utf8"

	"github.com/trackhook/trackhook/references"
)

// The values of format 3 spend fewer bytes than those of formats 1 and 2 on what
// every update repeats: the names of types, statuses and reasons, written as their
// number in storedWords; the times that changes and their descriptions spell out,
// written as numbers (text); and the places and vessels of a snapshot, which are
// those of its events, written as the number of the event (place, vessel).

// storedWords are the words a value of format 3 writes as their number here (plus
// one). The list is part of the format: words are only ever appended.
var storedWords = [...]string{
	"shipment.updated", "tracking.failed", "reference.unsubscribed",
	"event_added", "event_removed", "estimate_changed", "estimate_actual", "actual_corrected",
	"vessel_changed", "voyage_changed", "status_changed", "eta_changed", "location_changed",
	"container_added", "container_removed",
	"unknown", "booked", "at_origin", "in_transit", "transshipment", "arrived", "delivered", "empty_returned",
	"user", "tracking_complete", "max_age", "not_found", "callback_gone", "callback_failing",
}

// word writes s as its number in storedWords plus one, or as 0 and the string.
func (e *encoder) word(s string) {
	for i, w := range storedWords {
		if w == s {
			e.uvarint(uint64(i) + 1)
			return
		}
	}
	e.uvarint(0)
	e.str(s)
}

// word reads what encoder.word wrote.
func (d *decoder) word() string {
	i := d.uvarint()
	switch {
	case i == 0:
		return d.str()
	case i > uint64(len(storedWords)):
		d.fail("word")
		return ""
	}
	return storedWords[i-1]
}

// textTime is the form of the times text packs: RFC 3339 in UTC, to the second.
const (
	textTime    = "2006-01-02T15:04:05Z"
	textTimeLen = len(textTime)
	// timeMark stands for a packed time in a text; it never occurs in UTF-8.
	timeMark = 0xff
)

// timeAt reports whether s holds, at i, a time in the form textTime that formats back
// to the same bytes, and returns its Unix seconds.
func timeAt(s string, i int) (int64, bool) {
	if i+textTimeLen > len(s) || s[i+4] != '-' || s[i+10] != 'T' || s[i+19] != 'Z' {
		return 0, false
	}
	t, err := time.Parse(textTime, s[i:i+textTimeLen])
	if err != nil || t.Unix() < 0 {
		return 0, false
	}
	var buf [textTimeLen]byte
	if string(t.AppendFormat(buf[:0], textTime)) != s[i:i+textTimeLen] {
		return 0, false
	}
	return t.Unix(), true
}

// text writes s as str does, or, when it is UTF-8 and holds times in the form
// textTime, with each of them packed as timeMark and its Unix seconds (a uvarint): the
// length says which (times two, plus one when packed).
func (e *encoder) text(s string) {
	packed := 0 // its length once packed
	times := 0
	if len(s) >= textTimeLen && utf8.ValidString(s) {
		for i := 0; i < len(s); {
			if sec, ok := timeAt(s, i); ok {
				packed += 1 + uvarintLen(uint64(sec))
				times++
				i += textTimeLen
				continue
			}
			packed++
			i++
		}
	}
	if times == 0 {
		e.uvarint(uint64(len(s)) << 1)
		e.b = append(e.b, s...)
		return
	}
	e.uvarint(uint64(packed)<<1 | 1)
	for i := 0; i < len(s); {
		if sec, ok := timeAt(s, i); ok {
			e.b = append(e.b, timeMark)
			e.uvarint(uint64(sec))
			i += textTimeLen
			continue
		}
		e.b = append(e.b, s[i])
		i++
	}
}

func uvarintLen(v uint64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], v)
}

// text reads what encoder.text wrote.
func (d *decoder) text() string {
	n := d.uvarint()
	size := n >> 1
	if size > uint64(len(d.b)) {
		d.fail("text length")
		return ""
	}
	if n&1 == 0 {
		s := string(d.b[:size])
		d.b = d.b[size:]
		return s
	}
	in := d.b[:size]
	d.b = d.b[size:]
	out := make([]byte, 0, len(in)+textTimeLen)
	for len(in) > 0 {
		if in[0] != timeMark {
			out = append(out, in[0])
			in = in[1:]
			continue
		}
		sec, k := binary.Uvarint(in[1:])
		if k <= 0 || sec > 253402300799 { // after 9999-12-31T23:59:59Z
			d.fail("time in a text")
			return ""
		}
		out = time.Unix(int64(sec), 0).UTC().AppendFormat(out, textTime)
		in = in[1+k:]
	}
	return string(out)
}

// place writes the location l of a snapshot whose events are events: 0 for none, the
// number of an event at the same place plus two, or 1 and the location.
func (e *encoder) place(l *references.Location, events []references.Event) {
	if l == nil {
		e.uvarint(0)
		return
	}
	for i := len(events) - 1; i >= 0; i-- {
		if p := events[i].Location; p != nil && *p == *l {
			e.uvarint(uint64(i) + 2)
			return
		}
	}
	e.uvarint(1)
	e.str(l.UNLocode)
	e.str(l.Name)
}

// place reads what encoder.place wrote; a location of an event is shared with it.
func (d *decoder) place(events []references.Event) *references.Location {
	switch i := d.uvarint(); {
	case i == 0:
		return nil
	case i == 1:
		return &references.Location{UNLocode: d.str(), Name: d.str()}
	case i-2 < uint64(len(events)) && events[i-2].Location != nil:
		return events[i-2].Location
	}
	d.fail("place")
	return nil
}

// vessel is place for a transport call.
func (e *encoder) vessel(tc *references.TransportCall, events []references.Event) {
	if tc == nil {
		e.uvarint(0)
		return
	}
	for i := len(events) - 1; i >= 0; i-- {
		if p := events[i].TransportCall; p != nil && *p == *tc {
			e.uvarint(uint64(i) + 2)
			return
		}
	}
	e.uvarint(1)
	e.str(tc.VesselName)
	e.str(tc.VesselIMO)
	e.str(tc.Voyage)
	e.str(tc.ModeOfTransport)
}

// vessel reads what encoder.vessel wrote.
func (d *decoder) vessel(events []references.Event) *references.TransportCall {
	switch i := d.uvarint(); {
	case i == 0:
		return nil
	case i == 1:
		return &references.TransportCall{VesselName: d.str(), VesselIMO: d.str(), Voyage: d.str(), ModeOfTransport: d.str()}
	case i-2 < uint64(len(events)) && events[i-2].TransportCall != nil:
		return events[i-2].TransportCall
	}
	d.fail("vessel")
	return nil
}

// skipWord passes over what encoder.word wrote.
func (d *decoder) skipWord() {
	if d.uvarint() == 0 {
		d.skipStr()
	}
}

// skipText passes over what encoder.text wrote.
func (d *decoder) skipText() {
	size := d.uvarint() >> 1
	if size > uint64(len(d.b)) {
		d.fail("text length")
		return
	}
	d.b = d.b[size:]
}
