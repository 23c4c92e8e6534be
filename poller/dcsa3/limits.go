package dcsa3

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/trackhook/trackhook/references"
)

// The longest identifiers a CT 3.0 event holds, which are therefore the longest
// worth asking GET /events for: the maxLength of EquipmentDetails.equipmentReference
// and of DocumentReference.reference (transport documents and bookings alike) in
// TNT v3.0.0 (dcsaorg/Conformance-Gateway). The query parameters themselves have no
// maxLength; trackhook takes containers of 11 characters and the other identifiers
// of up to 35, so only a reference built around the service layer meets these.
const (
	MaxEquipmentReference = 11
	MaxDocumentReference  = 100
)

// Query parameters of GET /events.
const (
	paramEquipment  = "equipmentReference"
	paramBooking    = "carrierBookingReference"
	paramTransport  = "transportDocumentReference"
	paramEventTypes = "eventTypes"
	paramLimit      = "limit"
	paramCursor     = "cursor"
)

// trackedEventTypes are the event types the shipment model holds; IOT and REEFER
// events (door openings, temperatures) are not asked for. The spec requires every
// publisher to take this filter with each identifier filter.
var trackedEventTypes = strings.Join([]string{
	string(references.EventShipment), string(references.EventTransport), string(references.EventEquipment),
}, ",")

// param returns the query parameter of GET /events that filters by an identifier of
// the kind, and the longest value worth asking for. CT 3.0 filters by all three
// kinds trackhook tracks.
func param(kind references.IdentifierKind) (name string, maxLen int) {
	switch kind {
	case references.KindContainer:
		return paramEquipment, MaxEquipmentReference
	case references.KindBooking:
		return paramBooking, MaxDocumentReference
	case references.KindBillOfLading:
		return paramTransport, MaxDocumentReference
	}
	return "", 0
}

// CheckReference reports whether the client can poll ref: it has an identifier no
// longer than a CT 3.0 event can hold. It fetches nothing; poller.Router.Check asks
// it, so that a reference the API cannot track is refused when it is created rather
// than failing every poll.
func (c *Client) CheckReference(ref references.Reference) error {
	_, err := filter(ref)
	return err
}

// filter returns the query selecting the reference's events, or an error when the
// API cannot be asked for its identifier.
func filter(ref references.Reference) (url.Values, error) {
	kind, value := ref.Identifier()
	name, maxLen := param(kind)
	switch {
	case value == "":
		return nil, errors.New("the reference has no identifier")
	case len(value) > maxLen:
		return nil, fmt.Errorf("carrier %s is tracked through its DCSA Container Tracking 3.0 API, whose events hold a %s (%s) of at most %d characters; this one has %d",
			ref.CarrierCode, kindName(kind), name, maxLen, len(value))
	}
	return url.Values{name: {value}, paramEventTypes: {trackedEventTypes}}, nil
}

// kindName names an identifier kind for people.
func kindName(kind references.IdentifierKind) string {
	switch kind {
	case references.KindContainer:
		return "container number"
	case references.KindBooking:
		return "booking number"
	default:
		return "bill of lading number"
	}
}

// describe names the filter of a query for error texts: "equipmentReference MSKU1234565".
func describe(query url.Values) string {
	for _, k := range []string{paramEquipment, paramBooking, paramTransport} {
		if v := query.Get(k); v != "" {
			return k + " " + v
		}
	}
	return "the reference"
}
