package dcsa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/trackhook/trackhook/references"
)

// The wire types mirror the parts of the DCSA T&T v2.2 event (TransportEvent,
// EquipmentEvent, ShipmentEvent) that trackhook uses. Unknown fields are ignored, so a
// carrier's extensions or a later minor version do not break parsing.
type wireEvent struct {
	EventID             text `json:"eventID"`
	EventType           text `json:"eventType"`
	EventClassifierCode text `json:"eventClassifierCode"`
	EventDateTime       text `json:"eventDateTime"`
	// EventCreatedDateTime is when the carrier made this event: a revised estimate
	// comes as a new event, so it orders the revisions of one milestone.
	EventCreatedDateTime text `json:"eventCreatedDateTime"`

	TransportEventTypeCode text `json:"transportEventTypeCode"`
	EquipmentEventTypeCode text `json:"equipmentEventTypeCode"`
	ShipmentEventTypeCode  text `json:"shipmentEventTypeCode"`
	EventTypeCode          text `json:"eventTypeCode"` // deprecated in v2, still sent by some carriers

	EquipmentReference text               `json:"equipmentReference"`
	ISOEquipmentCode   text               `json:"ISOEquipmentCode"`
	EmptyIndicatorCode text               `json:"emptyIndicatorCode"`
	EventLocation      *wireLocation      `json:"eventLocation"`
	TransportCall      *wireTransportCall `json:"transportCall"`

	DocumentTypeCode           text `json:"documentTypeCode"`
	Reason                     text `json:"reason"`
	ChangeRemark               text `json:"changeRemark"`
	VesselScheduleChangeRemark text `json:"vesselScheduleChangeRemark"` // deprecated form of changeRemark
}

type wireLocation struct {
	LocationName   text `json:"locationName"`
	UNLocationCode text `json:"UNLocationCode"`
}

type wireTransportCall struct {
	CarrierVoyageNumber       text          `json:"carrierVoyageNumber"` // deprecated in v2.2
	ExportVoyageNumber        text          `json:"exportVoyageNumber"`
	ImportVoyageNumber        text          `json:"importVoyageNumber"`
	CarrierExportVoyageNumber text          `json:"carrierExportVoyageNumber"` // v3 spelling
	CarrierImportVoyageNumber text          `json:"carrierImportVoyageNumber"` // v3 spelling
	ModeOfTransport           text          `json:"modeOfTransport"`
	UNLocationCode            text          `json:"UNLocationCode"`
	Location                  *wireLocation `json:"location"`
	Vessel                    *wireVessel   `json:"vessel"`
}

type wireVessel struct {
	VesselIMONumber text `json:"vesselIMONumber"`
	VesselName      text `json:"vesselName"`
}

// text is a JSON string field that also takes a number or a boolean as its literal text
// (carriers send IMO and voyage numbers both ways) and null as empty. An object or an
// array is an error, which makes the event it is in skipped.
type text string

var errNotString = errors.New("expected a string, got an object or an array")

func (t *text) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0:
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case b[0] == '{' || b[0] == '[':
		return errNotString
	case bytes.Equal(b, []byte("null")):
		*t = ""
	default: // number or boolean
		*t = text(b)
	}
	return nil
}

// Limits on what one event may carry into the store and the webhooks. DCSA's own
// maximum lengths are far below them, so only a broken or hostile server is cut.
const (
	maxIDLen   = 128
	maxTextLen = 256
)

// page is the result of parsing one response body.
type page struct {
	events  []references.Event
	total   int      // array elements seen, skipped ones included
	skipped []string // why elements were skipped, at most maxSkipReasons
	nSkip   int
}

const maxSkipReasons = 5

// errTooManyEvents is returned when a body holds more events than parseEvents may read.
var errTooManyEvents = errors.New("too many events")

// parseEvents reads a DCSA event array. It streams the array so that a body of many
// tiny elements cannot allocate more than maxEvents events. An element that is not a
// usable event (no time, no type, a wrong type of value) is skipped and counted; a body
// that is not a JSON array, or has more than maxEvents elements, is an error. JSON null
// is read as an empty array.
func parseEvents(r io.Reader, maxEvents int) (*page, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return nil, ReadError(err)
	}
	p := &page{}
	if tok == nil {
		return p, ExpectEnd(dec, "the event array")
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errors.New("malformed response: expected a JSON array of events")
	}
	for dec.More() {
		if p.total >= maxEvents {
			return nil, errTooManyEvents
		}
		p.total++
		var w wireEvent
		if err := dec.Decode(&w); err != nil {
			var typeErr *json.UnmarshalTypeError
			if !errors.As(err, &typeErr) && !errors.Is(err, errNotString) {
				return nil, ReadError(err)
			}
			// A value of the wrong type: the decoder has consumed the element, so the
			// rest of the array can still be read.
			p.skip(p.total, err)
			continue
		}
		ev, err := w.event()
		if err != nil {
			p.skip(p.total, err)
			continue
		}
		p.events = append(p.events, ev)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, ReadError(err)
	}
	return p, ExpectEnd(dec, "the event array")
}

// ExpectEnd reads the end of a body whose JSON value (what) dec has read: anything
// after it is malformed JSON. The dcsa3 parser shares it.
func ExpectEnd(dec *json.Decoder, what string) error {
	switch _, err := dec.Token(); {
	case err == io.EOF:
		return nil
	case err == nil:
		return errors.New("malformed JSON: data after " + what)
	default:
		return ReadError(err)
	}
}

// ReadError describes an error met while reading a JSON body. Reader errors such as
// errBodyTooLarge pass through as they are. The dcsa3 parser shares it.
func ReadError(err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("malformed JSON: %w", err)
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return errors.New("malformed JSON: unexpected end of the body")
	default:
		return err
	}
}

func (p *page) skip(n int, err error) {
	p.nSkip++
	if len(p.skipped) < maxSkipReasons {
		p.skipped = append(p.skipped, fmt.Sprintf("event %d: %v", n, err))
	}
}

// event maps one wire event to the domain's Event. The event type, classifier, type
// code and time are required; without any of them the event is useless to the diff and
// an error is returned. Everything else is optional.
func (w *wireEvent) event() (references.Event, error) {
	ev := references.Event{
		ID:                 clean(string(w.EventID), maxIDLen),
		EquipmentReference: clean(string(w.EquipmentReference), maxTextLen),
	}
	switch t := references.EventType(w.EventType); t {
	case references.EventTransport, references.EventEquipment, references.EventShipment:
		ev.Type = t
	case "":
		return ev, errors.New("no eventType")
	default:
		return ev, fmt.Errorf("unsupported eventType %q", clean(string(t), 16))
	}
	switch c := references.Classifier(w.EventClassifierCode); c {
	case references.ClassifierPlanned, references.ClassifierEstimated, references.ClassifierActual:
		ev.Classifier = c
	default:
		return ev, fmt.Errorf("eventClassifierCode %q is not PLN, EST or ACT", clean(string(c), 16))
	}
	code, err := w.typeCode(ev.Type)
	if err != nil {
		return ev, err
	}
	ev.Code = code
	if ev.Time, err = parseTime(string(w.EventDateTime)); err != nil {
		return ev, fmt.Errorf("eventDateTime: %w", err)
	}
	// One that does not parse counts as none: it only orders revisions, and the
	// event is still a fact.
	if created, err := parseTime(string(w.EventCreatedDateTime)); err == nil {
		ev.RevisedAt = created
	}
	if e := string(w.EmptyIndicatorCode); e == references.EmptyIndicatorEmpty || e == references.EmptyIndicatorLaden {
		ev.EmptyIndicator = e
	}
	ev.ISOEquipmentCode = isoEquipmentCode(string(w.ISOEquipmentCode))
	ev.Location = w.location()
	ev.TransportCall = w.transportCall()
	ev.Description = w.description()
	return ev, nil
}

// typeCode returns the code of the event's own type (ARRI, LOAD, CONF...), falling back
// to the deprecated eventTypeCode. Codes are short upper-case words; anything else is
// refused rather than passed on to webhooks.
func (w *wireEvent) typeCode(t references.EventType) (string, error) {
	var code, field string
	switch t {
	case references.EventTransport:
		code, field = string(w.TransportEventTypeCode), "transportEventTypeCode"
	case references.EventEquipment:
		code, field = string(w.EquipmentEventTypeCode), "equipmentEventTypeCode"
	default:
		code, field = string(w.ShipmentEventTypeCode), "shipmentEventTypeCode"
	}
	if code == "" {
		code = string(w.EventTypeCode)
	}
	if code == "" {
		return "", fmt.Errorf("no %s", field)
	}
	if len(code) > 8 || strings.IndexFunc(code, func(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') }) >= 0 {
		return "", fmt.Errorf("%s %q is not a code", field, clean(code, 16))
	}
	return code, nil
}

// isoEquipmentCode returns code when it is an ISO 6346 size and type code (four
// letters or digits, such as 22G1 or L5G1), upper case; "" otherwise. A code that is
// not one is dropped rather than the event: the event is still a fact.
func isoEquipmentCode(code string) string {
	code = strings.ToUpper(strings.TrimSpace(code))
	if len(code) != 4 || strings.IndexFunc(code, func(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') }) >= 0 {
		return ""
	}
	return code
}

// location prefers the event's own location and fills what it lacks from the
// transport call (transport events carry their place only there).
func (w *wireEvent) location() *references.Location {
	var loc references.Location
	fill := func(l *wireLocation) {
		if l == nil {
			return
		}
		if loc.UNLocode == "" {
			loc.UNLocode = clean(string(l.UNLocationCode), maxTextLen)
		}
		if loc.Name == "" {
			loc.Name = clean(string(l.LocationName), maxTextLen)
		}
	}
	fill(w.EventLocation)
	if tc := w.TransportCall; tc != nil {
		fill(tc.Location)
		fill(&wireLocation{UNLocationCode: tc.UNLocationCode})
	}
	if loc == (references.Location{}) {
		return nil
	}
	return &loc
}

// transportCall returns the vessel and voyage of the event's transport call. DCSA says
// the export voyage is the one to show when a call has two.
func (w *wireEvent) transportCall() *references.TransportCall {
	tc := w.TransportCall
	if tc == nil {
		return nil
	}
	out := references.TransportCall{
		Voyage:          clean(string(firstOf(tc.ExportVoyageNumber, tc.CarrierExportVoyageNumber, tc.CarrierVoyageNumber, tc.ImportVoyageNumber, tc.CarrierImportVoyageNumber)), maxTextLen),
		ModeOfTransport: clean(string(tc.ModeOfTransport), maxTextLen),
	}
	if v := tc.Vessel; v != nil {
		out.VesselName = clean(string(v.VesselName), maxTextLen)
		out.VesselIMO = clean(string(v.VesselIMONumber), maxTextLen)
	}
	if out == (references.TransportCall{}) {
		return nil
	}
	return &out
}

// description is a short human text: for shipment events what happened to which
// document ("Booking confirmed"), for the others the carrier's remark, if any.
func (w *wireEvent) description() string {
	remark := string(firstOf(w.ChangeRemark, w.VesselScheduleChangeRemark, w.Reason))
	if references.EventType(w.EventType) == references.EventShipment {
		doc := references.DocumentTypeName(string(w.DocumentTypeCode))
		status := references.DocumentStatusWord(string(firstOf(w.ShipmentEventTypeCode, w.EventTypeCode)))
		if doc != "" && status != "" {
			if remark != "" {
				return clean(doc+" "+status+": "+remark, maxTextLen)
			}
			return doc + " " + status
		}
	}
	return clean(remark, maxTextLen)
}

func firstOf(values ...text) text {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// Layouts accepted for eventDateTime: RFC 3339 (what DCSA specifies), and the same
// without seconds, which some carriers send. A time without a zone is refused: it is
// the local time of an unknown place.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"}

// parseTime returns the time in UTC, so that equal instants compare equal after a trip
// through the store.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 1970 || t.Year() > 2200 {
				return time.Time{}, fmt.Errorf("%q is out of range", clean(s, 40))
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date-time", clean(s, 40))
}

// clean trims s, replaces invalid UTF-8 and control characters, and cuts it to at most
// max bytes on a character boundary.
func clean(s string, max int) string {
	s = strings.TrimSpace(s)
	if len(s) > 4*max { // cut early so a huge string is not copied below
		s = s[:4*max]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r):
			return ' '
		case unicode.Is(unicode.Cf, r):
			return -1 // bidi overrides and zero-width characters: invisible, and misleading in a UI
		}
		return r
	}, s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut])
}
