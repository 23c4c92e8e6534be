package references

import (
	"maps"
	"slices"
)

// The DCSA Track & Trace (v2.2) code tables that trackhook reads from sources, stores
// and describes to people: each code is spelled here once, with the words it gets in
// change descriptions. Lookups are exact: callers normalise case first.

// EventType is the DCSA event type (eventType).
type EventType string

// DCSA event types.
const (
	EventTransport EventType = "TRANSPORT"
	EventEquipment EventType = "EQUIPMENT"
	EventShipment  EventType = "SHIPMENT"
)

// Classifier says whether an event is planned, estimated or actual (DCSA eventClassifierCode).
type Classifier string

// DCSA event classifiers.
const (
	ClassifierPlanned   Classifier = "PLN"
	ClassifierEstimated Classifier = "EST"
	ClassifierActual    Classifier = "ACT"
)

// DCSA transport event codes (transportEventTypeCode): a vessel's call at a port.
const (
	CodeArrival   = "ARRI"
	CodeDeparture = "DEPA"
)

// DCSA equipment event codes (equipmentEventTypeCode): what happens to a container.
const (
	CodeLoad      = "LOAD"
	CodeDischarge = "DISC"
	CodeGateIn    = "GTIN"
	CodeGateOut   = "GTOT"
	CodeStuffing  = "STUF"
	CodeStripping = "STRP"
)

// DCSA shipment event codes (shipmentEventTypeCode): the status of a document such as
// the booking or the bill of lading.
const (
	CodeReceived        = "RECE"
	CodeDrafted         = "DRFT"
	CodePendingApproval = "PENA"
	CodePendingUpdate   = "PENU"
	CodeRejected        = "REJE"
	CodeApproved        = "APPR"
	CodeIssued          = "ISSU"
	CodeSurrendered     = "SURR"
	CodeSubmitted       = "SUBM"
	CodeVoided          = "VOID"
	CodeConfirmed       = "CONF"
	CodeRequested       = "REQS"
	CodeCompleted       = "CMPL"
	CodeOnHold          = "HOLD"
	CodeReleased        = "RELS"
)

// DCSA empty indicators (emptyIndicatorCode) of equipment events.
const (
	EmptyIndicatorEmpty = "EMPTY"
	EmptyIndicatorLaden = "LADEN"
)

// DCSA modes of transport (modeOfTransport) of a transport call.
const (
	ModeVessel = "VESSEL"
	ModeRail   = "RAIL"
	ModeTruck  = "TRUCK"
	ModeBarge  = "BARGE"
)

var classifierWords = map[Classifier]string{
	ClassifierPlanned:   "planned",
	ClassifierEstimated: "estimated",
	ClassifierActual:    "actual",
}

// eventCodeWords covers the transport and equipment event codes.
var eventCodeWords = map[string]string{
	CodeArrival:   "vessel arrival",
	CodeDeparture: "vessel departure",
	CodeLoad:      "load",
	CodeDischarge: "discharge",
	CodeGateIn:    "gate-in",
	CodeGateOut:   "gate-out",
	CodeStuffing:  "stuffing",
	CodeStripping: "stripping",
}

// documentStatusWords covers the shipment event codes.
var documentStatusWords = map[string]string{
	CodeReceived:        "received",
	CodeDrafted:         "drafted",
	CodePendingApproval: "pending approval",
	CodePendingUpdate:   "pending update",
	CodeRejected:        "rejected",
	CodeApproved:        "approved",
	CodeIssued:          "issued",
	CodeSurrendered:     "surrendered",
	CodeSubmitted:       "submitted",
	CodeVoided:          "voided",
	CodeConfirmed:       "confirmed",
	CodeRequested:       "requested",
	CodeCompleted:       "completed",
	CodeOnHold:          "on hold",
	CodeReleased:        "released",
}

var emptyIndicatorWords = map[string]string{
	EmptyIndicatorEmpty: "empty",
	EmptyIndicatorLaden: "laden",
}

// documentTypeNames names the DCSA document type codes (documentTypeCode) that
// shipment events are about. No domain field holds these codes: only the names reach
// an event, in its description.
var documentTypeNames = map[string]string{
	"CBR": "Booking request",
	"BKG": "Booking",
	"SHI": "Shipping instruction",
	"SRM": "Shipment release",
	"TRD": "Transport document",
	"ARN": "Arrival notice",
	"VGM": "Verified gross mass",
	"CAS": "Cargo survey",
	"CUS": "Customs inspection",
	"DGD": "Dangerous goods declaration",
	"OOG": "Out of gauge declaration",
}

// Word returns the classifier in words ("planned", "estimated", "actual"), or "" for
// a code outside the DCSA table.
func (c Classifier) Word() string { return classifierWords[c] }

// EventCodeWord returns a transport or equipment event code in words ("vessel
// arrival", "gate-in"), or "" for any other code.
func EventCodeWord(code string) string { return eventCodeWords[code] }

// DocumentStatusWord returns a shipment event code, the status of a document, in words
// ("confirmed", "on hold"), or "" for any other code.
func DocumentStatusWord(code string) string { return documentStatusWords[code] }

// EmptyIndicatorWord returns an empty indicator in words ("empty", "laden"), or "" for
// any other value.
func EmptyIndicatorWord(indicator string) string { return emptyIndicatorWords[indicator] }

// DocumentTypeName returns the name of a DCSA document type code, capitalised to start
// a sentence ("Booking", "Transport document"), or "" for an unknown code.
func DocumentTypeName(code string) string { return documentTypeNames[code] }

// Codes returns every code of the vocabulary above, sorted: the event types,
// classifiers, event codes, empty indicators and modes of transport (not the document
// type codes, which no domain field holds). They are the values that repeat in every
// stored event.
func Codes() []string {
	codes := []string{
		string(EventTransport), string(EventEquipment), string(EventShipment),
		ModeVessel, ModeRail, ModeTruck, ModeBarge,
	}
	for c := range classifierWords {
		codes = append(codes, string(c))
	}
	codes = slices.AppendSeq(codes, maps.Keys(eventCodeWords))
	codes = slices.AppendSeq(codes, maps.Keys(documentStatusWords))
	codes = slices.AppendSeq(codes, maps.Keys(emptyIndicatorWords))
	slices.Sort(codes)
	return codes
}
