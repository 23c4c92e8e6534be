package fakecarrier

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
)

// tntAPIVersion is the API-Version the T&T v2.2 side answers and pushes with.
const tntAPIVersion = "2.2.0"

// The longest identifiers v2.2 takes (maxLength of its schemas).
const (
	maxEquipmentReference         = 15
	maxTransportDocumentReference = 20
	maxCarrierBookingReference    = 35
)

// tntEvent is a T&T v2.2 event (transportEvent, equipmentEvent or shipmentEvent of
// TNT_v2.2.0-resolved.yaml), with the fields each schema requires.
type tntEvent struct {
	EventID              string `json:"eventID"`
	EventType            string `json:"eventType"`
	EventClassifierCode  string `json:"eventClassifierCode"`
	EventDateTime        string `json:"eventDateTime"`
	EventCreatedDateTime string `json:"eventCreatedDateTime"`

	TransportEventTypeCode string `json:"transportEventTypeCode,omitempty"`
	EquipmentEventTypeCode string `json:"equipmentEventTypeCode,omitempty"`
	ShipmentEventTypeCode  string `json:"shipmentEventTypeCode,omitempty"`

	EquipmentReference string            `json:"equipmentReference,omitempty"`
	ISOEquipmentCode   string            `json:"ISOEquipmentCode,omitempty"`
	EmptyIndicatorCode string            `json:"emptyIndicatorCode,omitempty"`
	EventLocation      *tntLocation      `json:"eventLocation,omitempty"`
	TransportCall      *tntTransportCall `json:"transportCall,omitempty"`

	DocumentID         string           `json:"documentID,omitempty"`
	DocumentTypeCode   string           `json:"documentTypeCode,omitempty"`
	DocumentReferences []tntDocumentRef `json:"documentReferences,omitempty"`
	ChangeRemark       string           `json:"changeRemark,omitempty"`
}

type tntLocation struct {
	LocationName   string `json:"locationName,omitempty"`
	UNLocationCode string `json:"UNLocationCode,omitempty"`
}

type tntTransportCall struct {
	TransportCallID    string       `json:"transportCallID"`
	ExportVoyageNumber string       `json:"exportVoyageNumber,omitempty"`
	UNLocationCode     string       `json:"UNLocationCode,omitempty"`
	ModeOfTransport    string       `json:"modeOfTransport"`
	Vessel             *tntVessel   `json:"vessel,omitempty"`
	Location           *tntLocation `json:"location,omitempty"`
}

type tntVessel struct {
	VesselIMONumber string `json:"vesselIMONumber"`
	VesselName      string `json:"vesselName,omitempty"`
}

type tntDocumentRef struct {
	DocumentReferenceType  string `json:"documentReferenceType"`
	DocumentReferenceValue string `json:"documentReferenceValue"`
}

// tntWireEvent writes event e of shipment sh as v2.2 publishes it, created at created.
func tntWireEvent(sh *shipment, e references.Event, created time.Time) tntEvent {
	w := tntEvent{
		EventID:              e.ID,
		EventType:            string(e.Type),
		EventClassifierCode:  string(e.Classifier),
		EventDateTime:        formatTime(e.Time),
		EventCreatedDateTime: formatTime(created),
		EquipmentReference:   e.EquipmentReference,
		ISOEquipmentCode:     e.ISOEquipmentCode,
	}
	if e.Location != nil {
		w.EventLocation = &tntLocation{LocationName: e.Location.Name, UNLocationCode: e.Location.UNLocode}
	}
	if tc := e.TransportCall; tc != nil || e.Type == references.EventTransport {
		w.TransportCall = tntCall(e)
	}
	switch e.Type {
	case references.EventTransport:
		w.TransportEventTypeCode = e.Code
		w.ChangeRemark = e.Description
	case references.EventEquipment:
		w.EquipmentEventTypeCode = e.Code
		w.EmptyIndicatorCode = e.EmptyIndicator
		if w.EmptyIndicatorCode == "" {
			w.EmptyIndicatorCode = references.EmptyIndicatorLaden // required by the schema
		}
	case references.EventShipment:
		w.ShipmentEventTypeCode = e.Code
		w.DocumentTypeCode, w.DocumentID = documentOf(sh, e.Code)
		w.EventCreatedDateTime = w.EventDateTime
	}
	switch sh.kind {
	case references.KindBillOfLading:
		w.DocumentReferences = []tntDocumentRef{{"TRD", sh.ident}}
	case references.KindBooking:
		w.DocumentReferences = []tntDocumentRef{{"BKG", sh.ident}}
	}
	return w
}

// documentOf names the document a shipment event is about: the booking for the
// booking's own states, the transport document for the others.
func documentOf(sh *shipment, code string) (typeCode, id string) {
	switch code {
	case references.CodeReceived, references.CodeConfirmed, references.CodeRejected, references.CodePendingUpdate:
		return "BKG", sh.ident
	default:
		return "TRD", sh.ident
	}
}

func tntCall(e references.Event) *tntTransportCall {
	tc := &tntTransportCall{ModeOfTransport: references.ModeVessel}
	if e.TransportCall != nil {
		tc.ExportVoyageNumber = e.TransportCall.Voyage
		if e.TransportCall.ModeOfTransport != "" {
			tc.ModeOfTransport = e.TransportCall.ModeOfTransport
		}
		if e.TransportCall.VesselIMO != "" {
			tc.Vessel = &tntVessel{VesselIMONumber: e.TransportCall.VesselIMO, VesselName: e.TransportCall.VesselName}
		}
	}
	var place string
	if e.Location != nil {
		tc.UNLocationCode = e.Location.UNLocode
		place = e.Location.UNLocode
	}
	tc.TransportCallID = "TC-" + tc.ExportVoyageNumber + "-" + place
	return tc
}

// tntFilter reads the filters of GET /v2/events and of a subscription's body.
func tntFilter(equipment, document, booking string, eventTypes []string) (filter, error) {
	f := filter{equipment: equipment, document: document, booking: booking}
	switch {
	case len(equipment) > maxEquipmentReference:
		return f, fmt.Errorf("equipmentReference is over %d characters", maxEquipmentReference)
	case len(document) > maxTransportDocumentReference:
		return f, fmt.Errorf("transportDocumentReference is over %d characters", maxTransportDocumentReference)
	case len(booking) > maxCarrierBookingReference:
		return f, fmt.Errorf("carrierBookingReference is over %d characters", maxCarrierBookingReference)
	}
	for _, t := range eventTypes {
		switch et := references.EventType(strings.TrimSpace(t)); et {
		case references.EventTransport, references.EventEquipment, references.EventShipment:
			f.eventTypes = append(f.eventTypes, et)
		default:
			return f, fmt.Errorf("eventType %q is not SHIPMENT, TRANSPORT or EQUIPMENT", t)
		}
	}
	return f, nil
}

func commaList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// serveTNTEvents is GET /v2/events: the current events of the tracked shipments that
// pass the query's filters, a page at a time.
func (c *Carrier) serveTNTEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("bookingReference") != "" && q.Get("carrierBookingReference") == "" {
		q.Set("carrierBookingReference", q.Get("bookingReference")) // deprecated spelling
	}
	f, err := tntFilter(q.Get("equipmentReference"), q.Get("transportDocumentReference"), q.Get("carrierBookingReference"), commaList(q.Get("eventType")))
	if err != nil {
		c.writeTNTError(w, r, http.StatusBadRequest, "invalidQuery", err.Error())
		return
	}
	offset, size, err := c.paging(q)
	if err != nil {
		c.writeTNTError(w, r, http.StatusBadRequest, "invalidQuery", err.Error())
		return
	}
	c.mu.Lock()
	var all []tntEvent
	for _, sh := range c.shipments {
		for _, e := range c.observe(r.Context(), sh) {
			if f.matches(sh, &e) {
				all = append(all, tntWireEvent(sh, e, sh.seen[e.ID]))
			}
		}
	}
	c.mu.Unlock()
	page, next := pageOf(all, offset, size)
	w.Header().Set("Current-Page", cursor(offset))
	if next >= 0 {
		w.Header().Set("Next-Page", cursor(next))
	}
	writeJSON(w, http.StatusOK, tntAPIVersion, page)
}

// paging reads limit and cursor: the offset of the page and its size.
func (c *Carrier) paging(q url.Values) (offset, size int, err error) {
	size = c.opts.PageSize
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return 0, 0, errors.New("limit must be a positive integer")
		}
		size = min(size, n)
	}
	if cur := q.Get("cursor"); cur != "" {
		b, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil || !strings.HasPrefix(string(b), "offset:") {
			return 0, 0, errors.New("unknown cursor")
		}
		if offset, err = strconv.Atoi(strings.TrimPrefix(string(b), "offset:")); err != nil || offset < 0 {
			return 0, 0, errors.New("unknown cursor")
		}
	}
	return offset, size, nil
}

// cursor is the opaque cursor of the page at offset: stateless, as CT 3.0 allows.
func cursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset)))
}

// pageOf returns the page of all at offset, and the offset of the next page, or -1
// when this one is the last. An offset past the end is an empty last page.
func pageOf[T any](all []T, offset, size int) ([]T, int) {
	if offset >= len(all) {
		return []T{}, -1
	}
	end := min(len(all), offset+size)
	if end == len(all) {
		return all[offset:end], -1
	}
	return all[offset:end], end
}

func writeJSON(w http.ResponseWriter, status int, apiVersion string, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("API-Version", apiVersion)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeTNTError answers with the error schema of v2.2.
func (c *Carrier) writeTNTError(w http.ResponseWriter, r *http.Request, status int, reason, message string) {
	writeJSON(w, status, tntAPIVersion, map[string]any{
		"httpMethod":     r.Method,
		"requestUri":     r.URL.RequestURI(),
		"statusCode":     status,
		"statusCodeText": http.StatusText(status),
		"errorDateTime":  formatTime(c.clock.Now()),
		"errors":         []map[string]string{{"reason": reason, "message": message}},
	})
}
