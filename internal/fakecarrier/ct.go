package fakecarrier

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
)

// ctAPIVersion is the API-Version the CT 3.0 side answers and pushes with.
const ctAPIVersion = "3.0.0"

// ctEvent is the Event schema of DCSA CT 3.0 (TNT_v3.0.0.yaml). A retracted event
// carries only its id, isRetracted and eventUpdatedDateTime.
type ctEvent struct {
	EventID              string              `json:"eventID"`
	IsRetracted          bool                `json:"isRetracted,omitempty"`
	EventDateTime        string              `json:"eventDateTime,omitempty"`
	EventUpdatedDateTime string              `json:"eventUpdatedDateTime"`
	EventLocation        *ctLocation         `json:"eventLocation,omitempty"`
	EventClassification  *ctClassification   `json:"eventClassification,omitempty"`
	ShipmentDetails      *ctShipmentDetails  `json:"shipmentDetails,omitempty"`
	TransportDetails     *ctTransportDetails `json:"transportDetails,omitempty"`
	EquipmentDetails     *ctEquipmentDetails `json:"equipmentDetails,omitempty"`
}

type ctLocation struct {
	LocationName   string `json:"locationName,omitempty"`
	UNLocationCode string `json:"UNLocationCode,omitempty"`
}

type ctClassification struct {
	EventTypeCode          string `json:"eventTypeCode"`
	EventClassifierCode    string `json:"eventClassifierCode"`
	ShipmentEventTypeCode  string `json:"shipmentEventTypeCode,omitempty"`
	TransportEventTypeCode string `json:"transportEventTypeCode,omitempty"`
	EquipmentEventTypeCode string `json:"equipmentEventTypeCode,omitempty"`
}

type ctShipmentDetails struct {
	DocumentReference *ctDocumentReference `json:"documentReference,omitempty"`
}

type ctDocumentReference struct {
	TypeCode  string `json:"typeCode"`
	Reference string `json:"reference"`
}

type ctTransportDetails struct {
	ChangeRemark  string           `json:"changeRemark,omitempty"`
	TransportCall *ctTransportCall `json:"transportCall,omitempty"`
}

type ctTransportCall struct {
	ModeOfTransport               string    `json:"modeOfTransport,omitempty"`
	ExportVoyageNumberOrReference *ctVoyage `json:"exportVoyageNumberOrReference,omitempty"`
	VesselTransport               *ctVessel `json:"vesselTransport,omitempty"`
}

type ctVoyage struct {
	CarrierVoyageNumber string `json:"carrierVoyageNumber"`
}

type ctVessel struct {
	VesselIMONumber string `json:"vesselIMONumber,omitempty"`
	VesselName      string `json:"vesselName,omitempty"`
}

type ctEquipmentDetails struct {
	EquipmentReference string `json:"equipmentReference,omitempty"`
	ISOEquipmentCode   string `json:"ISOEquipmentCode,omitempty"`
	EmptyIndicatorCode string `json:"emptyIndicatorCode,omitempty"`
}

// ctWireEvent writes event e of shipment sh as CT 3.0 publishes it under id, without
// its eventUpdatedDateTime (the caller knows when it changed).
func ctWireEvent(sh *shipment, id string, e references.Event) ctEvent {
	w := ctEvent{
		EventID:             id,
		EventDateTime:       formatTime(e.Time),
		EventClassification: &ctClassification{EventTypeCode: string(e.Type), EventClassifierCode: string(e.Classifier)},
	}
	switch e.Type {
	case references.EventTransport:
		w.EventClassification.TransportEventTypeCode = e.Code
	case references.EventEquipment:
		w.EventClassification.EquipmentEventTypeCode = e.Code
	case references.EventShipment:
		w.EventClassification.ShipmentEventTypeCode = e.Code
	}
	if e.Location != nil {
		w.EventLocation = &ctLocation{LocationName: e.Location.Name, UNLocationCode: e.Location.UNLocode}
	}
	switch {
	case e.Type == references.EventShipment:
		typ, ref := documentOf(sh, e.Code)
		w.ShipmentDetails = &ctShipmentDetails{DocumentReference: &ctDocumentReference{TypeCode: typ, Reference: ref}}
	case sh.kind == references.KindBillOfLading:
		w.ShipmentDetails = &ctShipmentDetails{DocumentReference: &ctDocumentReference{TypeCode: "TRD", Reference: sh.ident}}
	case sh.kind == references.KindBooking:
		w.ShipmentDetails = &ctShipmentDetails{DocumentReference: &ctDocumentReference{TypeCode: "BKG", Reference: sh.ident}}
	}
	if tc := e.TransportCall; tc != nil || e.Description != "" {
		w.TransportDetails = &ctTransportDetails{ChangeRemark: e.Description}
		if tc != nil {
			call := &ctTransportCall{ModeOfTransport: tc.ModeOfTransport}
			if tc.Voyage != "" {
				call.ExportVoyageNumberOrReference = &ctVoyage{CarrierVoyageNumber: tc.Voyage}
			}
			if tc.VesselIMO != "" || tc.VesselName != "" {
				call.VesselTransport = &ctVessel{VesselIMONumber: tc.VesselIMO, VesselName: tc.VesselName}
			}
			w.TransportDetails.TransportCall = call
		}
	}
	if e.EquipmentReference != "" || e.Type == references.EventEquipment {
		w.EquipmentDetails = &ctEquipmentDetails{EquipmentReference: e.EquipmentReference, ISOEquipmentCode: e.ISOEquipmentCode, EmptyIndicatorCode: e.EmptyIndicator}
	}
	return w
}

// serveCTEvents is GET /events of CT 3.0: the last version of every event of the
// tracked shipments that passes the filters, retractions included, a page at a time.
func (c *Carrier) serveCTEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := filter{equipment: q.Get("equipmentReference"), document: q.Get("transportDocumentReference"), booking: q.Get("carrierBookingReference")}
	for _, t := range commaList(q.Get("eventTypes")) {
		f.eventTypes = append(f.eventTypes, references.EventType(strings.TrimSpace(t)))
	}
	var from, to time.Time
	for _, b := range []struct {
		name string
		into *time.Time
	}{{"eventUpdatedDateTimeMin", &from}, {"eventUpdatedDateTimeMax", &to}} {
		if v := q.Get(b.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeCTError(w, http.StatusBadRequest, b.name+" is not an RFC 3339 date-time")
				return
			}
			*b.into = t
		}
	}
	offset, size, err := c.paging(q)
	if err != nil {
		writeCTError(w, http.StatusBadRequest, err.Error())
		return
	}
	c.mu.Lock()
	var all []ctEvent
	for _, sh := range c.shipments {
		c.observe(r.Context(), sh)
		for _, id := range sh.ctOrder {
			st := sh.ct[id]
			updated, _ := time.Parse(time.RFC3339, st.wire.EventUpdatedDateTime)
			if !f.matches(sh, &st.source) || (!from.IsZero() && updated.Before(from)) || (!to.IsZero() && updated.After(to)) {
				continue
			}
			all = append(all, st.wire)
		}
	}
	c.mu.Unlock()
	page, next := pageOf(all, offset, size)
	if next >= 0 {
		w.Header().Set("Next-Page-Cursor", cursor(next))
	}
	writeJSON(w, http.StatusOK, ctAPIVersion, map[string]any{"events": page})
}

func writeCTError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, ctAPIVersion, map[string]any{
		"feedbackElements": []map[string]string{{"severity": "ERROR", "message": message}},
	})
}

// CTSubscriber is an Event Consumer of CT 3.0 to which the carrier POSTs events.
type CTSubscriber struct {
	// Name names it in the records; the URL when empty.
	Name string
	// URL is its POST /events endpoint.
	URL string
	// Header is sent with every push: the authentication the parties agreed on, as
	// the standard leaves it to them ("Authorization: Bearer ...", an API key).
	Header http.Header
	// Identifiers limits the events to those of these shipments or containers; empty
	// means every tracked shipment's.
	Identifiers []string
}

type ctSubscriber struct {
	CTSubscriber
	since uint64
	held  []*delivery
}

// AddCTSubscriber registers a CT 3.0 subscriber: the events published from now on
// that concern it are pushed to it at each Step.
func (c *Carrier) AddCTSubscriber(s CTSubscriber) error {
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("fakecarrier: CT subscriber URL %q is not an absolute http(s) URL", s.URL)
	}
	if s.Name == "" {
		s.Name = s.URL
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if slices.ContainsFunc(c.ct, func(o *ctSubscriber) bool { return o.Name == s.Name }) {
		return errors.New("fakecarrier: a CT subscriber is called " + s.Name + " already")
	}
	s.Header = s.Header.Clone()
	c.ct = append(c.ct, &ctSubscriber{CTSubscriber: s, since: c.seq})
	return nil
}

// RemoveCTSubscriber stops the pushes to the CT subscriber called name. It reports
// whether there was one.
func (c *Carrier) RemoveCTSubscriber(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.ct)
	c.ct = slices.DeleteFunc(c.ct, func(s *ctSubscriber) bool { return s.Name == name })
	return len(c.ct) < n
}

// wants reports whether the subscriber gets the events of o.
func (s *ctSubscriber) wants(o observation) bool {
	if len(s.Identifiers) == 0 {
		return true
	}
	for _, id := range s.Identifiers {
		if strings.EqualFold(id, o.sh.ident) {
			return true
		}
		f := filter{equipment: id}
		if f.matches(o.sh, &o.ctSource) {
			return true
		}
	}
	return false
}

// planCT turns the outbox's CT events into the pushes of each subscriber, and applies
// the faults (a CT push has no signature to spoil). It must be called with c.mu held.
func (c *Carrier) planCT(at time.Time) []*delivery {
	var out []*delivery
	for _, s := range c.ct {
		var events []observation
		for _, o := range c.outbox {
			if o.ct != nil && o.seq > s.since && s.wants(o) {
				events = append(events, o)
			}
		}
		var fresh []*delivery
		for chunk := range slices.Chunk(events, c.opts.Bundle) {
			wire := make([]ctEvent, len(chunk))
			rec := Push{Model: ModelCT, Target: s.Name, URL: s.URL, At: at}
			for i, o := range chunk {
				wire[i] = *o.ct
				rec.EventIDs = append(rec.EventIDs, o.ct.EventID)
				if !slices.Contains(rec.Identifiers, o.sh.ident) {
					rec.Identifiers = append(rec.Identifiers, o.sh.ident)
				}
			}
			body, _ := json.Marshal(map[string]any{"events": wire})
			h := s.Header.Clone()
			if h == nil {
				h = http.Header{}
			}
			h.Set("Content-Type", "application/json")
			h.Set("API-Version", ctAPIVersion)
			d := &delivery{group: "ct:" + s.Name, url: s.URL, body: body, header: h, rec: rec}
			d.rec.Body, d.rec.Header = body, h.Clone()
			fresh = append(fresh, d)
		}
		var held []*delivery
		fresh, held = c.reorder(fresh, &filter{})
		out = append(out, c.dropAndDuplicate(append(fresh, s.held...), &filter{})...)
		s.held = held
	}
	return out
}
