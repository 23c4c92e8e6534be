package dcsa3

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/references"
)

// The wire types mirror the parts of the CT 3.0 Event (TNT v3.0.0) that trackhook
// uses. Unknown fields are ignored, so a carrier's extensions, the IoT and reefer
// details and the event routing do not break parsing.
type wireEvent struct {
	EventID              dcsa.Text           `json:"eventID"`
	IsRetracted          boolean             `json:"isRetracted"`
	EventDateTime        dcsa.Text           `json:"eventDateTime"`
	EventUpdatedDateTime dcsa.Text           `json:"eventUpdatedDateTime"`
	EventLocation        *wireLocation       `json:"eventLocation"`
	EventClassification  *wireClassification `json:"eventClassification"`
	ShipmentDetails      *wireShipment       `json:"shipmentDetails"`
	TransportDetails     *wireTransport      `json:"transportDetails"`
	EquipmentDetails     *wireEquipment      `json:"equipmentDetails"`
}

// wireVersion is the part of an event that says which version of which event it
// is: all that a retraction needs, read on its own when the rest of the event does
// not parse ("any event data other than the eventID is irrelevant").
type wireVersion struct {
	EventID              dcsa.Text `json:"eventID"`
	IsRetracted          boolean   `json:"isRetracted"`
	EventUpdatedDateTime dcsa.Text `json:"eventUpdatedDateTime"`
}

type wireClassification struct {
	EventTypeCode          dcsa.Text `json:"eventTypeCode"`
	EventClassifierCode    dcsa.Text `json:"eventClassifierCode"`
	ShipmentEventTypeCode  dcsa.Text `json:"shipmentEventTypeCode"`
	TransportEventTypeCode dcsa.Text `json:"transportEventTypeCode"`
	EquipmentEventTypeCode dcsa.Text `json:"equipmentEventTypeCode"`
}

type wireLocation struct {
	LocationName   dcsa.Text `json:"locationName"`
	UNLocationCode dcsa.Text `json:"UNLocationCode"`
	Facility       *struct {
		FacilityName dcsa.Text `json:"facilityName"`
	} `json:"facility"`
}

type wireShipment struct {
	DocumentReference             *wireDocument     `json:"documentReference"`
	AdditionalDocumentReferences  []wireDocument    `json:"additionalDocumentReferences"`
	DocumentReferenceReplacements []wireReplacement `json:"documentReferenceReplacements"`
	ShipmentReferences            []wireDocument    `json:"shipmentReferences"` // typeCode EQ names a container
	Reason                        dcsa.Text         `json:"reason"`
}

// wireDocument is a DocumentReference, and the same shape of a ShipmentReference.
type wireDocument struct {
	TypeCode  dcsa.Text `json:"typeCode"`
	Reference dcsa.Text `json:"reference"`
}

type wireReplacement struct {
	OldReferences []wireDocument `json:"oldReferences"`
	NewReferences []wireDocument `json:"newReferences"`
}

type wireTransport struct {
	ChangeRemark  dcsa.Text          `json:"changeRemark"`
	TransportCall *wireTransportCall `json:"transportCall"`
}

type wireTransportCall struct {
	ModeOfTransport               dcsa.Text   `json:"modeOfTransport"`
	ExportVoyageNumberOrReference *wireVoyage `json:"exportVoyageNumberOrReference"`
	ImportVoyageNumberOrReference *wireVoyage `json:"importVoyageNumberOrReference"`
	VesselTransport               *struct {
		VesselIMONumber dcsa.Text `json:"vesselIMONumber"`
		VesselName      dcsa.Text `json:"vesselName"`
	} `json:"vesselTransport"`
}

type wireVoyage struct {
	CarrierVoyageNumber      dcsa.Text `json:"carrierVoyageNumber"`
	UniversalVoyageReference dcsa.Text `json:"universalVoyageReference"`
}

type wireEquipment struct {
	EquipmentReference dcsa.Text `json:"equipmentReference"`
	ISOEquipmentCode   dcsa.Text `json:"ISOEquipmentCode"`
	EmptyIndicatorCode dcsa.Text `json:"emptyIndicatorCode"`
}

// boolean is a JSON boolean that also takes "true" and "false" as strings, and null as
// false.
type boolean bool

func (f *boolean) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true", `"true"`:
		*f = true
	case "false", `"false"`, "null":
		*f = false
	default:
		return errors.New("isRetracted: expected true or false")
	}
	return nil
}

// Record is one CT 3.0 event as the override rules of the standard see it: which
// version of which event it is, and the event. "An event overrides any other event
// that has the same eventID and an earlier eventUpdatedDateTime"; a retracted one
// voids the event and every earlier version of it.
type Record struct {
	// ID is the eventID, or "sha256:" and its digest when it is longer than
	// dcsa.MaxIDLen or holds characters a text may not; "" when the event has none:
	// it is then never overridden nor retracted. An eventID is unique among the
	// events of one publisher, which a source is: the originating party of the
	// event's routing, which completes the key where events are forwarded, is not
	// read.
	ID string
	// UpdatedAt is the eventUpdatedDateTime, in UTC; zero when the event has none (or
	// one that does not parse). Event.RevisedAt holds it too, so that it stays with
	// the event in the stored snapshot.
	UpdatedAt time.Time
	// Retracted is the isRetracted flag. Event is then the zero Event.
	Retracted bool
	// Event is the event mapped as poller/dcsa maps a T&T 2.2 event, so that
	// tracking.Derive and tracking.Diff read both alike.
	Event references.Event
	// Identifiers are the shipment identifiers the event names, to find the
	// references a pushed event concerns; a retraction may name none.
	Identifiers Identifiers
}

// Identifiers are the shipment identifiers an event names, upper case, without
// spaces, each at most once.
type Identifiers struct {
	// Containers: the equipmentReference of the equipment details, and shipment
	// references of type EQ.
	Containers []string
	// BillsOfLading: document references of type TRD (transport document), the
	// replaced and replacing ones included.
	BillsOfLading []string
	// Bookings: document references of type BKG, the replaced and replacing ones
	// included.
	Bookings []string
}

// maxIdentifiers bounds the identifiers kept of one kind for one event.
const maxIdentifiers = 20

// Concerns reports whether the record names ref's identifier.
func (r *Record) Concerns(ref references.Reference) bool {
	kind, value := ref.Identifier()
	value = normalizeIdentifier(value)
	if value == "" {
		return false
	}
	switch kind {
	case references.KindContainer:
		return slices.Contains(r.Identifiers.Containers, value)
	case references.KindBillOfLading:
		return slices.Contains(r.Identifiers.BillsOfLading, value)
	default:
		return slices.Contains(r.Identifiers.Bookings, value)
	}
}

// namesNothing reports whether the record names no identifier, as a retraction may.
func (r *Record) namesNothing() bool {
	return len(r.Identifiers.Containers) == 0 && len(r.Identifiers.BillsOfLading) == 0 && len(r.Identifiers.Bookings) == 0
}

func normalizeIdentifier(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// errIgnored marks an event of a type outside the shipment model (IOT, REEFER):
// neither used nor unusable.
var errIgnored = errors.New("event type outside the shipment model")

// decodeRecord decodes one element of an events array into a Record. An element
// that is not a usable event returns an error saying why; an IoT or reefer event
// returns errIgnored.
func decodeRecord(raw json.RawMessage) (Record, error) {
	var w wireEvent
	err := json.Unmarshal(raw, &w)
	if err != nil {
		// A retraction needs nothing but its version: read that alone.
		var v wireVersion
		if json.Unmarshal(raw, &v) == nil && bool(v.IsRetracted) {
			return retraction(v)
		}
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return Record{}, fmt.Errorf("%s: a JSON %s where the spec has %s", typeErr.Field, typeErr.Value, jsonKind(typeErr.Type.Kind()))
		}
		return Record{}, err
	}
	if w.IsRetracted {
		return retraction(wireVersion{EventID: w.EventID, IsRetracted: true, EventUpdatedDateTime: w.EventUpdatedDateTime})
	}
	ev, err := w.event()
	if err != nil {
		return Record{}, err
	}
	ev.RevisedAt = updatedAt(string(w.EventUpdatedDateTime))
	return Record{
		ID:          eventKey(string(w.EventID)),
		UpdatedAt:   ev.RevisedAt,
		Event:       ev,
		Identifiers: w.identifiers(),
	}, nil
}

// jsonKind names the JSON type a Go kind decodes from.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	}
	return "a number"
}

func retraction(v wireVersion) (Record, error) {
	id := eventKey(string(v.EventID))
	if id == "" {
		return Record{}, errors.New("a retracted event without eventID")
	}
	return Record{ID: id, UpdatedAt: updatedAt(string(v.EventUpdatedDateTime)), Retracted: true}, nil
}

// updatedAt reads eventUpdatedDateTime; one that does not parse counts as none: it
// only orders versions, and the event is still a fact.
func updatedAt(s string) time.Time {
	t, err := dcsa.ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// eventKey returns the key of an eventID: itself when it fits an event's id as
// trackhook stores it, else a digest, so that two long ids sharing a beginning stay
// two events (the spec allows 500 characters).
func eventKey(id string) string {
	trimmed := strings.TrimSpace(id)
	if trimmed == "" {
		return ""
	}
	if len(trimmed) <= dcsa.MaxIDLen && dcsa.Clean(trimmed, dcsa.MaxIDLen) == trimmed {
		return trimmed
	}
	sum := sha256.Sum256([]byte(trimmed))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// event maps the wire event to the domain's Event. The event type, classifier, type
// code and time are required, as for T&T 2.2; everything else is optional.
func (w *wireEvent) event() (references.Event, error) {
	c := w.EventClassification
	if c == nil {
		return references.Event{}, errors.New("no eventClassification")
	}
	var ev references.Event
	switch t := references.EventType(c.EventTypeCode); t {
	case references.EventTransport, references.EventEquipment, references.EventShipment:
		ev.Type = t
	case "IOT", "REEFER":
		return ev, errIgnored
	case "":
		return ev, errors.New("no eventClassification.eventTypeCode")
	default:
		return ev, fmt.Errorf("unsupported eventTypeCode %q", dcsa.Clean(string(t), 16))
	}
	switch cl := references.Classifier(c.EventClassifierCode); cl {
	case references.ClassifierPlanned, references.ClassifierEstimated, references.ClassifierActual:
		ev.Classifier = cl
	default:
		return ev, fmt.Errorf("eventClassifierCode %q is not PLN, EST or ACT", dcsa.Clean(string(cl), 16))
	}
	code, err := c.typeCode(ev.Type)
	if err != nil {
		return ev, err
	}
	ev.Code = code
	if ev.Time, err = dcsa.ParseTime(string(w.EventDateTime)); err != nil {
		return ev, fmt.Errorf("eventDateTime: %w", err)
	}
	ev.ID = eventKey(string(w.EventID))
	if e := w.EquipmentDetails; e != nil {
		ev.EquipmentReference = dcsa.Clean(string(e.EquipmentReference), dcsa.MaxTextLen)
		ev.ISOEquipmentCode = dcsa.ISOEquipmentCode(string(e.ISOEquipmentCode))
		if ind := string(e.EmptyIndicatorCode); ind == references.EmptyIndicatorEmpty || ind == references.EmptyIndicatorLaden {
			ev.EmptyIndicator = ind
		}
	}
	ev.Location = w.location()
	ev.TransportCall = w.transportCall()
	ev.Description = w.description()
	return ev, nil
}

// typeCode returns the code of the event's own type (ARRI, LOAD, CONF...). Codes
// are short upper-case words; anything else is refused rather than passed on to
// webhooks.
func (c *wireClassification) typeCode(t references.EventType) (string, error) {
	var code, field string
	switch t {
	case references.EventTransport:
		code, field = string(c.TransportEventTypeCode), "transportEventTypeCode"
	case references.EventEquipment:
		code, field = string(c.EquipmentEventTypeCode), "equipmentEventTypeCode"
	default:
		code, field = string(c.ShipmentEventTypeCode), "shipmentEventTypeCode"
	}
	switch {
	case code == "":
		return "", fmt.Errorf("no %s", field)
	case len(code) > 8 || strings.IndexFunc(code, func(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') }) >= 0:
		return "", fmt.Errorf("%s %q is not a code", field, dcsa.Clean(code, 16))
	}
	return code, nil
}

// location is the event's location: its UN/LOCODE and its name, else its facility's.
// CT 3.0 gives a transport call no location of its own: a transport event's place is
// its eventLocation.
func (w *wireEvent) location() *references.Location {
	l := w.EventLocation
	if l == nil {
		return nil
	}
	loc := references.Location{
		UNLocode: dcsa.Clean(string(l.UNLocationCode), dcsa.MaxTextLen),
		Name:     dcsa.Clean(string(l.LocationName), dcsa.MaxTextLen),
	}
	if loc.Name == "" && l.Facility != nil {
		loc.Name = dcsa.Clean(string(l.Facility.FacilityName), dcsa.MaxTextLen)
	}
	if loc == (references.Location{}) {
		return nil
	}
	return &loc
}

// transportCall returns the vessel and voyage of the event's transport call. As for
// T&T 2.2, the export voyage is the one shown when a call has two; a carrier's own
// voyage number before the universal voyage reference, which fewer people know.
func (w *wireEvent) transportCall() *references.TransportCall {
	if w.TransportDetails == nil || w.TransportDetails.TransportCall == nil {
		return nil
	}
	tc := w.TransportDetails.TransportCall
	var voyages []dcsa.Text
	for _, v := range []*wireVoyage{tc.ExportVoyageNumberOrReference, tc.ImportVoyageNumberOrReference} {
		if v != nil {
			voyages = append(voyages, v.CarrierVoyageNumber)
		}
	}
	for _, v := range []*wireVoyage{tc.ExportVoyageNumberOrReference, tc.ImportVoyageNumberOrReference} {
		if v != nil {
			voyages = append(voyages, v.UniversalVoyageReference)
		}
	}
	out := references.TransportCall{
		Voyage:          dcsa.Clean(string(firstOf(voyages...)), dcsa.MaxTextLen),
		ModeOfTransport: dcsa.Clean(string(tc.ModeOfTransport), dcsa.MaxTextLen),
	}
	if v := tc.VesselTransport; v != nil {
		out.VesselName = dcsa.Clean(string(v.VesselName), dcsa.MaxTextLen)
		out.VesselIMO = dcsa.Clean(string(v.VesselIMONumber), dcsa.MaxTextLen)
	}
	if out == (references.TransportCall{}) {
		return nil
	}
	return &out
}

// description is a short human text, as for T&T 2.2: for shipment events what
// happened to which document ("Booking confirmed"), for the others the carrier's
// remark, if any.
func (w *wireEvent) description() string {
	var remark, docType dcsa.Text
	if t := w.TransportDetails; t != nil {
		remark = t.ChangeRemark
	}
	if s := w.ShipmentDetails; s != nil {
		remark = firstOf(remark, s.Reason)
		if s.DocumentReference != nil {
			docType = s.DocumentReference.TypeCode
		}
	}
	if references.EventType(w.EventClassification.EventTypeCode) == references.EventShipment {
		doc := references.DocumentTypeName(string(docType))
		status := references.DocumentStatusWord(string(w.EventClassification.ShipmentEventTypeCode))
		if doc != "" && status != "" {
			if remark != "" {
				return dcsa.Clean(doc+" "+status+": "+string(remark), dcsa.MaxTextLen)
			}
			return doc + " " + status
		}
	}
	return dcsa.Clean(string(remark), dcsa.MaxTextLen)
}

// identifiers collects the shipment identifiers the event names.
func (w *wireEvent) identifiers() Identifiers {
	var ids Identifiers
	add := func(list *[]string, s dcsa.Text) {
		v := normalizeIdentifier(dcsa.Clean(string(s), MaxDocumentReference))
		if v != "" && len(*list) < maxIdentifiers && !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	document := func(d wireDocument) {
		switch d.TypeCode {
		case "TRD":
			add(&ids.BillsOfLading, d.Reference)
		case "BKG":
			add(&ids.Bookings, d.Reference)
		}
	}
	if e := w.EquipmentDetails; e != nil {
		add(&ids.Containers, e.EquipmentReference)
	}
	if s := w.ShipmentDetails; s != nil {
		if s.DocumentReference != nil {
			document(*s.DocumentReference)
		}
		for _, d := range s.AdditionalDocumentReferences {
			document(d)
		}
		for _, r := range s.DocumentReferenceReplacements {
			for _, d := range slices.Concat(r.OldReferences, r.NewReferences) {
				document(d)
			}
		}
		for _, d := range s.ShipmentReferences {
			if d.TypeCode == "EQ" {
				add(&ids.Containers, d.Reference)
			}
		}
	}
	return ids
}

func firstOf(values ...dcsa.Text) dcsa.Text {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
