package api

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// EventType is one name of the catalogue GET /event-types serves: an update type, a
// tag, an operational event type or the test event, which an endpoint's event_types
// may name (all but the test event) or match with a wildcard.
type EventType struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Description string `json:"description"`
	// Example is a webhook body of this type, when the catalogue has one.
	Example json.RawMessage `json:"example,omitempty"`
}

// Kinds of catalogue entries.
const (
	kindUpdate      = "update"      // an update's type
	kindTag         = "tag"         // a finer kind of shipment.updated, in the update's tags
	kindOperational = "operational" // an event of the account's operational feed
	kindTest        = "test"        // sent by POST /endpoints/{id}/test only
)

// EventTypeList is the answer of GET /event-types.
type EventTypeList struct {
	EventTypes []EventType `json:"event_types"`
}

// eventTypes is GET /event-types.
func (s *server) eventTypes(c echo.Context) error {
	return c.JSON(http.StatusOK, EventTypeList{EventTypes: eventCatalogue()})
}

// eventCatalogue lists every name an endpoint may subscribe to, in the order of
// references.EventTypeNames, then the test event.
func eventCatalogue() []EventType {
	names := append(references.EventTypeNames(), references.EventEndpointTest)
	out := make([]EventType, len(names))
	for i, name := range names {
		out[i] = EventType{Name: name, Kind: eventKind(name), Description: eventDescriptions[name]}
	}
	return out
}

func eventKind(name string) string {
	switch {
	case slices.Contains(references.UpdateTypes, references.UpdateType(name)):
		return kindUpdate
	case slices.Contains(references.Tags, name):
		return kindTag
	case slices.Contains(references.OperationalEventTypes, name):
		return kindOperational
	}
	return kindTest
}

// eventDescriptions says what each name of the catalogue means, for people choosing
// an endpoint's event_types.
var eventDescriptions = map[string]string{
	string(references.UpdateShipment):       "Something changed in the shipment: the update lists the changes and carries the whole snapshot. Its tags name the finer kinds of change.",
	string(references.UpdateTrackingFailed): "The tracking source could not be polled; error says why. Tracking goes on.",
	string(references.UpdateUnsubscribed):   "Tracking stopped; unsubscribe_reason says why. The last update of a reference.",
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
