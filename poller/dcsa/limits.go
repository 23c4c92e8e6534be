package dcsa

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/trackhook/trackhook/references"
)

// The longest identifiers DCSA Track & Trace v2.2 takes as filters of GET /v2/events:
// the maxLength of the schemas equipmentReference, carrierBookingReference and
// transportDocumentReference in TNT v2.2.0 (TNT_v2.2.0-resolved.yaml, as published in
// dcsaorg/Conformance-Gateway). A conforming server answers a longer one with an
// error, on every poll; trackhook itself takes bills of lading and bookings of up to
// 35 characters, and container numbers of 11.
const (
	MaxEquipmentReference         = 15
	MaxCarrierBookingReference    = 35
	MaxTransportDocumentReference = 20
)

// param returns the query parameter of GET /v2/events that filters by an identifier
// of the kind, and the longest value the API takes.
func param(kind references.IdentifierKind) (name string, maxLen int) {
	switch kind {
	case references.KindContainer:
		return "equipmentReference", MaxEquipmentReference
	case references.KindBooking:
		return "carrierBookingReference", MaxCarrierBookingReference
	case references.KindBillOfLading:
		return "transportDocumentReference", MaxTransportDocumentReference
	}
	return "", 0
}

// CheckReference reports whether the client can poll ref: DCSA Track & Trace v2.2
// limits the length of the identifiers it filters by (see MaxTransportDocumentReference),
// and the error names the limit. It fetches nothing; poller.Router.Check asks it, so
// that a reference the API cannot track is refused when it is created rather than
// failing every poll.
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
		return nil, fmt.Errorf("carrier %s is tracked through its DCSA Track & Trace 2.2 API, which takes a %s (%s) of at most %d characters; this one has %d",
			ref.CarrierCode, kindName(kind), name, maxLen, len(value))
	}
	return url.Values{name: {value}}, nil
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
