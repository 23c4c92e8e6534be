package webhook

import (
	"time"

	"github.com/trackhook/trackhook/references"
)

// The fixed values the catalogue's examples are made of: one container on its way
// from Shanghai to Rotterdam, and one endpoint.

var exampleTime = time.Date(2026, 3, 10, 14, 30, 0, 0, time.UTC)

const (
	exampleEndpointID  = "ep_example"
	exampleEndpointURL = "https://hooks.example.com/trackhook"
	exampleReferenceID = "ref_example"
)

var (
	shanghai  = references.Location{UNLocode: "CNSHA", Name: "Shanghai container terminal"}
	rotterdam = references.Location{UNLocode: "NLRTM", Name: "Rotterdam container terminal"}
	meridian  = references.TransportCall{VesselName: "PACIFIC MERIDIAN", VesselIMO: "9815903", Voyage: "412W", ModeOfTransport: "VESSEL"}
	aurora    = references.TransportCall{VesselName: "NORDIC AURORA", VesselIMO: "9526019", Voyage: "051W", ModeOfTransport: "VESSEL"}
)

func exampleEvent(id string, classifier references.Classifier, code string, at string, loc references.Location, tc references.TransportCall) *references.Event {
	t, _ := time.Parse(time.RFC3339, at) // a constant of this file
	return &references.Event{
		ID: id, Type: references.EventTransport, Classifier: classifier, Code: code, Time: t,
		Location: &loc, TransportCall: &tc,
	}
}

// exampleShipment is the snapshot every example update carries.
func exampleShipment() *references.Shipment {
	eta := time.Date(2026, 4, 7, 13, 0, 0, 0, time.UTC)
	current := shanghai
	return &references.Shipment{
		Events: []references.Event{
			*exampleEvent("evt_depa_cnsha", references.ClassifierActual, references.CodeDeparture, "2026-03-06T20:00:00Z", shanghai, meridian),
			*exampleEvent("evt_arri_nlrtm", references.ClassifierEstimated, references.CodeArrival, "2026-04-07T13:00:00Z", rotterdam, meridian),
		},
		Status: references.ShipmentInTransit, Origin: &shanghai, Destination: &rotterdam,
		CurrentLocation: &current, CurrentVessel: &meridian, ETA: &eta,
	}
}

// exampleUpdate is an update of the example reference.
func exampleUpdate(id string, seq uint64, typ references.UpdateType, changes ...references.Change) references.Update {
	if changes == nil {
		changes = []references.Change{}
	}
	return references.Update{
		ID: id, ReferenceID: exampleReferenceID, Sequence: seq, Type: typ, CreatedAt: exampleTime,
		Reference: references.ReferenceSummary{
			ID: exampleReferenceID, ContainerID: "MSCU1234566", CarrierCode: "MSCU",
			Metadata: map[string]string{"order": "PO-4471"},
		},
		Changes: changes, Shipment: exampleShipment(),
	}
}

// typeExample is an example update of type t.
func typeExample(t references.UpdateType) references.Update {
	switch t {
	case references.UpdateTrackingFailed:
		u := exampleUpdate("upd_example_failed", 9, t)
		u.Shipment, u.Error = nil, "the carrier's API answered 503 Service Unavailable"
		return u
	case references.UpdateUnsubscribed:
		u := exampleUpdate("upd_example_unsubscribed", 10, t)
		u.Shipment, u.UnsubscribeReason = nil, references.ReasonTrackingComplete
		return u
	}
	return exampleUpdate("upd_example_updated", 7, t, tagChange(references.TagMilestoneActual), tagChange(references.TagETAChanged))
}

// tagExample is an example shipment.updated update whose tags hold tag.
func tagExample(tag string) references.Update {
	return exampleUpdate("upd_example_"+tagSuffix(tag), 8, references.UpdateShipment, tagChange(tag))
}

// tagSuffix makes a tag usable in a webhook-id, which may not hold full stops.
func tagSuffix(tag string) string {
	b := []byte(tag)
	for i, c := range b {
		if c == '.' {
			b[i] = '_'
		}
	}
	return string(b)
}

// tagChange is a change that gives the tag, worded as the differ words it.
func tagChange(tag string) references.Change {
	switch tag {
	case references.TagETAChanged:
		return references.Change{Type: references.ChangeETAChanged, Old: "2026-04-06T07:00:00Z", New: "2026-04-07T13:00:00Z",
			Description: "ETA at NLRTM moved from 2026-04-06T07:00:00Z to 2026-04-07T13:00:00Z"}
	case references.TagEstimateChanged:
		return references.Change{Type: references.ChangeEstimateChanged, Old: "2026-04-06T07:00:00Z", New: "2026-04-07T13:00:00Z",
			Description: "Estimated vessel arrival at NLRTM (PACIFIC MERIDIAN 412W) moved from 2026-04-06T07:00:00Z to 2026-04-07T13:00:00Z",
			Event:       exampleEvent("evt_arri_nlrtm", references.ClassifierEstimated, references.CodeArrival, "2026-04-07T13:00:00Z", rotterdam, meridian)}
	case references.TagMilestoneActual:
		return references.Change{Type: references.ChangeActualized, Old: "2026-03-06T18:00:00Z", New: "2026-03-06T20:00:00Z",
			Description: "Vessel departure at CNSHA (PACIFIC MERIDIAN 412W) happened on 2026-03-06T20:00:00Z (estimated for 2026-03-06T18:00:00Z)",
			Event:       exampleEvent("evt_depa_cnsha", references.ClassifierActual, references.CodeDeparture, "2026-03-06T20:00:00Z", shanghai, meridian)}
	case references.TagMilestoneExpected:
		return references.Change{Type: references.ChangeEventAdded, New: "2026-04-07T13:00:00Z",
			Description: "New estimated milestone: vessel arrival at NLRTM (PACIFIC MERIDIAN 412W) on 2026-04-07T13:00:00Z",
			Event:       exampleEvent("evt_arri_nlrtm", references.ClassifierEstimated, references.CodeArrival, "2026-04-07T13:00:00Z", rotterdam, meridian)}
	case references.TagMilestoneRemoved:
		return references.Change{Type: references.ChangeEventRemoved, Old: "2026-03-15T09:00:00Z",
			Description: "Estimated load at SGSIN (NORDIC AURORA 051W) on 2026-03-15T09:00:00Z removed",
			Event: exampleEvent("evt_load_sgsin", references.ClassifierEstimated, references.CodeLoad, "2026-03-15T09:00:00Z",
				references.Location{UNLocode: "SGSIN", Name: "Singapore container terminal"}, aurora)}
	case references.TagActualCorrected:
		return references.Change{Type: references.ChangeActualCorrected, Old: "2026-03-06T18:00:00Z", New: "2026-03-06T20:00:00Z",
			Description: "Actual vessel departure at CNSHA (PACIFIC MERIDIAN 412W) corrected from 2026-03-06T18:00:00Z to 2026-03-06T20:00:00Z",
			Event:       exampleEvent("evt_depa_cnsha", references.ClassifierActual, references.CodeDeparture, "2026-03-06T20:00:00Z", shanghai, meridian)}
	case references.TagVesselChanged:
		return references.Change{Type: references.ChangeVesselChanged, Old: "PACIFIC MERIDIAN (IMO 9815903)", New: "NORDIC AURORA (IMO 9526019)",
			Description: "Current vessel changed from PACIFIC MERIDIAN (IMO 9815903) to NORDIC AURORA (IMO 9526019)"}
	case references.TagVoyageChanged:
		return references.Change{Type: references.ChangeVoyageChanged, Old: "412W", New: "051W",
			Description: "Current voyage changed from 412W to 051W"}
	case references.TagStatusChanged:
		return references.Change{Type: references.ChangeStatusChanged, Old: "at_origin", New: "in_transit",
			Description: "Status changed from at_origin to in_transit"}
	case references.TagLocationChanged:
		return references.Change{Type: references.ChangeLocationChanged, Old: "CNSHA", New: "SGSIN",
			Description: "Current location changed from CNSHA (Shanghai container terminal) to SGSIN (Singapore container terminal)"}
	case references.TagContainersChanged:
		return references.Change{Type: references.ChangeContainerAdded, New: "MSCU1234566", Container: "MSCU1234566",
			Description: "Container MSCU1234566 (45G1) added"}
	}
	return references.Change{}
}

// operationalExample is an example operational event of type typ.
func operationalExample(typ string) references.AccountEvent {
	e := references.AccountEvent{
		ID: "evt_example_" + tagSuffix(typ), AccountID: "acct_example", Sequence: 1, Type: typ, CreatedAt: exampleTime,
		EndpointID: exampleEndpointID, EndpointURL: exampleEndpointURL,
	}
	switch typ {
	case references.EventEndpointDisabled:
		e.DisabledReason = references.DisabledFailing
	case references.EventMessageAttemptExhausted:
		e.MessageID, e.ReferenceID = "upd_example_updated", exampleReferenceID
		e.Attempts, e.LastStatusCode, e.LastError = 5, 503, "receiver answered 503 Service Unavailable"
	}
	return e
}
