package webhook

import (
	"encoding/json"
	"fmt"

	"github.com/trackhook/trackhook/references"
)

// CatalogueKind says what a catalogue entry names.
type CatalogueKind string

// Kinds of catalogue entries.
const (
	// KindType: the type of a delivery's body (an update type, or batch).
	KindType CatalogueKind = "type"
	// KindTag: a finer kind of shipment.updated, listed in an update's tags.
	KindTag CatalogueKind = "tag"
	// KindOperational: an operational event (or endpoint.test).
	KindOperational CatalogueKind = "operational"
)

// CatalogueEntry describes one name a webhook may carry, with an example body made
// by the same encoders as real deliveries.
type CatalogueEntry struct {
	Name        string          `json:"name"`
	Kind        CatalogueKind   `json:"kind"`
	Description string          `json:"description"`
	Example     json.RawMessage `json:"example"`
}

// Catalogue lists every update type, tag and operational event type (the names an
// endpoint's event_types may select), plus endpoint.test and batch, which are not
// selected but may be received: in that order, each with a one-sentence description
// and an example body. GET /event-types serves it.
func Catalogue() []CatalogueEntry {
	var out []CatalogueEntry
	for _, t := range references.UpdateTypes {
		out = append(out, entry(string(t), KindType, typeDescription(t), mustJSON(Encode(typeExample(t)))))
	}
	out = append(out, entry(BatchType, KindType,
		"The body of a POST to an endpoint whose format is batch: up to batch_size consecutive updates of one reference in data, in sequence order.",
		mustJSON(EncodeBatch([]references.Update{typeExample(references.UpdateShipment), tagExample(references.TagVesselChanged)}))))
	for _, tag := range references.Tags {
		out = append(out, entry(tag, KindTag, tagDescription(tag), mustJSON(Encode(tagExample(tag)))))
	}
	for _, typ := range references.OperationalEventTypes {
		out = append(out, entry(typ, KindOperational, operationalDescription(typ), mustJSON(EncodeEvent(operationalExample(typ)))))
	}
	out = append(out, entry(references.EventEndpointTest, KindOperational,
		"An example event that POST /endpoints/{id}/test sends at once, to check that a receiver gets and verifies webhooks; it is never recorded.",
		mustJSON(NewTestEvent("evt_example_test", exampleEndpointID, exampleTime).Encode())))
	return out
}

func entry(name string, kind CatalogueKind, description string, example []byte) CatalogueEntry {
	return CatalogueEntry{Name: name, Kind: kind, Description: description, Example: example}
}

// mustJSON returns an example body. The examples are fixed values the encoders always
// take, so an error is a bug in this file, found by its tests.
func mustJSON(b []byte, err error) []byte {
	if err != nil {
		panic(fmt.Sprintf("webhook catalogue example: %v", err))
	}
	return b
}

func typeDescription(t references.UpdateType) string {
	switch t {
	case references.UpdateShipment:
		return "The shipment's tracking data changed: changes lists what changed, tags the finer kinds, and shipment is the whole new snapshot."
	case references.UpdateTrackingFailed:
		return "The carrier source could not be polled several times in a row; error says why, and trackhook keeps polling."
	case references.UpdateUnsubscribed:
		return "Tracking of the reference stopped, for the reason in unsubscribe_reason; it is the last update of the reference's feed."
	}
	return "An update of type " + string(t) + "."
}

func tagDescription(tag string) string {
	switch tag {
	case references.TagETAChanged:
		return "The estimated time of arrival at the destination moved (endpoints with min_eta_change ignore smaller moves)."
	case references.TagEstimateChanged:
		return "The estimated time of a milestone that has not happened yet moved."
	case references.TagMilestoneActual:
		return "A milestone happened: the source reported an actual event, or an estimated one became actual."
	case references.TagMilestoneExpected:
		return "A planned or estimated milestone appeared in the shipment's schedule."
	case references.TagMilestoneRemoved:
		return "A milestone disappeared from what the source reports."
	case references.TagActualCorrected:
		return "The source corrected the time of a milestone that had already happened."
	case references.TagVesselChanged:
		return "The shipment's current vessel changed, for example at a transshipment or after a vessel swap."
	case references.TagVoyageChanged:
		return "The voyage number of the current leg changed."
	case references.TagStatusChanged:
		return "The shipment's overall status, or the status of one of its containers, changed, for example from in_transit to arrived."
	case references.TagLocationChanged:
		return "The shipment's current location, or that of one of its containers, changed."
	case references.TagContainersChanged:
		return "A container was added to the shipment (every container on the first update), or the source no longer lists one."
	}
	return "A shipment.updated update tagged " + tag + "."
}

func operationalDescription(typ string) string {
	switch typ {
	case references.EventEndpointDisabled:
		return "An endpoint of the account was disabled (by a user, a 410 answer, a webhook-delivery: disable header, or failing past its policy); disabled_reason says which."
	case references.EventMessageAttemptExhausted:
		return "An endpoint gave a message up after its last attempt failed; the message stays in the endpoint's log, where it can be resent."
	}
	return "An operational event of type " + typ + "."
}
