package dcsa3

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/trackhook/trackhook/poller/dcsa"
)

// page is the result of parsing one body: a GET /events answer or a POST /events
// request.
type page struct {
	records []Record
	total   int // array elements seen, skipped and ignored ones included
	ignored int // IoT and reefer events
	// skips says which elements could not be used and why, at most maxSkipReasons;
	// nSkip counts them all.
	skips []skip
	nSkip int
}

type skip struct {
	index  int // in the events array, from 0
	reason string
}

const maxSkipReasons = 5

// errTooManyEvents is returned when a body holds more events than may be read.
var errTooManyEvents = errors.New("too many events")

// parseBody reads a body holding events: a GetEventsResponse or PostEventsRequest
// ({"events": [...], ...}; the other members, such as feedbackElements, are not
// read), or a bare array of events, which some publishers send as T&T 2.2 did. JSON
// null, or an object without events, holds none. It streams the array so that a body
// of many tiny elements cannot allocate more than maxEvents records. An element that
// is not a usable event is skipped and counted; a body that is not JSON of that
// shape, or has more than maxEvents elements, is an error.
func parseBody(r io.Reader, maxEvents int) (*page, error) {
	dec := json.NewDecoder(r)
	p := &page{}
	tok, err := dec.Token()
	if err != nil {
		return nil, dcsa.ReadError(err)
	}
	switch tok {
	case nil:
	case json.Delim('['):
		if err := p.readArray(dec, maxEvents); err != nil {
			return nil, err
		}
	case json.Delim('{'):
		if err := p.readObject(dec, maxEvents); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New(`malformed body: expected an object with "events"`)
	}
	return p, dcsa.ExpectEnd(dec, "the body")
}

// readObject reads the members of the body's object, its opening brace read.
func (p *page) readObject(dec *json.Decoder, maxEvents int) error {
	seen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return dcsa.ReadError(err)
		}
		key, _ := tok.(string)
		if !strings.EqualFold(key, "events") { // case-insensitive, as encoding/json matches
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return dcsa.ReadError(err)
			}
			continue
		}
		if seen {
			return errors.New(`malformed body: "events" given twice`)
		}
		seen = true
		tok, err = dec.Token()
		switch {
		case err != nil:
			return dcsa.ReadError(err)
		case tok == nil:
		case tok == json.Delim('['):
			if err := p.readArray(dec, maxEvents); err != nil {
				return err
			}
		default:
			return errors.New(`malformed body: "events" is not an array`)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return dcsa.ReadError(err)
	}
	return nil
}

// readArray reads the elements of an events array, its opening bracket read, and
// the closing one.
func (p *page) readArray(dec *json.Decoder, maxEvents int) error {
	for dec.More() {
		if p.total >= maxEvents {
			return errTooManyEvents
		}
		index := p.total
		p.total++
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return dcsa.ReadError(err)
		}
		rec, err := decodeRecord(raw)
		switch {
		case errors.Is(err, errIgnored):
			p.ignored++
		case err != nil:
			p.nSkip++
			if len(p.skips) < maxSkipReasons {
				p.skips = append(p.skips, skip{index: index, reason: err.Error()})
			}
		default:
			p.records = append(p.records, rec)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return dcsa.ReadError(err)
	}
	return nil
}

// skipped lists why events were skipped, for logs and errors.
func (p *page) skipped() []string {
	out := make([]string, len(p.skips))
	for i, s := range p.skips {
		out[i] = fmt.Sprintf("event %d: %s", s.index+1, s.reason)
	}
	return out
}
