package api

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// EventType is one name of the catalogue GET /event-types serves: an update type or
// the batch body's type, a tag, an operational event type or the test event. An
// endpoint's event_types may name (all but batch and the test event) or match with
// a wildcard each of them.
type EventType struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Description string `json:"description"`
	// Example is a webhook body of this type, when the catalogue has one.
	Example json.RawMessage `json:"example,omitempty"`
}

// Kinds of catalogue entries.
const (
	kindType        = "type"        // the type of a delivery's body: an update type, or batch
	kindTag         = "tag"         // a finer kind of shipment.updated, in the update's tags
	kindOperational = "operational" // an operational event, or endpoint.test
)

// batchType is the type of a batch endpoint's body.
const batchType = "batch"

// EventTypeList is the answer of GET /event-types.
type EventTypeList struct {
	EventTypes []EventType `json:"event_types"`
}

// eventTypes is GET /event-types.
func (s *server) eventTypes(c echo.Context) error {
	return c.JSON(http.StatusOK, EventTypeList{EventTypes: eventCatalogue()})
}

// eventCatalogue lists the update types, batch, the tags, the operational event
// types and endpoint.test, in that order.
func eventCatalogue() []EventType {
	var names []string
	for _, t := range references.UpdateTypes {
		names = append(names, string(t))
	}
	names = append(names, batchType)
	names = append(names, references.Tags...)
	names = append(names, references.OperationalEventTypes...)
	names = append(names, references.EventEndpointTest)
	out := make([]EventType, len(names))
	for i, name := range names {
		out[i] = EventType{Name: name, Kind: eventKind(name), Description: eventDescriptions[name]}
	}
	return out
}

func eventKind(name string) string {
	switch {
	case slices.Contains(references.Tags, name):
		return kindTag
	case slices.Contains(references.OperationalEventTypes, name), name == references.EventEndpointTest:
		return kindOperational
	}
	return kindType
}

// eventDescriptions says what each name of the catalogue means, for people choosing
// an endpoint's event_types.
var eventDescriptions = map[string]string{
	string(references.UpdateShipment):       "Something changed in the shipment: the update lists the changes and carries the whole snapshot. Its tags name the finer kinds of change.",
	string(references.UpdateTrackingFailed): "The tracking source could not be polled; error says why. Tracking goes on.",
	string(references.UpdateUnsubscribed):   "Tracking stopped; unsubscribe_reason says why. The last update of a reference.",
	batchType:                               "The body of a POST to an endpoint whose format is batch: up to batch_size consecutive updates of one reference. Not subscribed to: it carries the updates the endpoint's event_types select.",
	references.TagETAChanged:                "The estimated arrival at the destination moved (by at least the endpoint's min_eta_change).",
	references.TagEstimateChanged:           "The planned or estimated time of a milestone moved (by at least the endpoint's min_eta_change).",
	references.TagMilestoneActual:           "A milestone happened: an actual event appeared, or an estimate became actual.",
	references.TagMilestoneExpected:         "A planned or estimated milestone appeared.",
	references.TagMilestoneRemoved:          "A planned or estimated milestone disappeared.",
	references.TagActualCorrected:           "The source corrected the time of a milestone that had happened.",
	references.TagVesselChanged:             "The current vessel changed.",
	references.TagVoyageChanged:             "The current voyage changed.",
	references.TagStatusChanged:             "The shipment's overall status changed (booked, in transit, arrived ...).",
	references.TagLocationChanged:           "The shipment's current location changed.",
	references.EventEndpointDisabled:        "An endpoint of the account was disabled (410, the receiver asked, or it failed past its policy). Not sent to the endpoint it is about.",
	references.EventMessageAttemptExhausted: "An endpoint gave a message up after its last attempt. Not sent to the endpoint it is about.",
	references.EventEndpointTest:            "The example event POST /endpoints/{id}/test sends; it cannot be subscribed to.",
}
