package api

import (
	"net/http"
	"slices"
	"testing"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

func TestEventTypes_ListEveryNameOnce(t *testing.T) {
	b := setup(t)
	resp, body := b.do(t, http.MethodGet, "/event-types", b.keyA, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	list := decode[EventTypeList](t, body).EventTypes
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
		if e.Description == "" {
			t.Errorf("%s has no description", e.Name)
		}
		// Every name but batch and the test event is something event_types accepts.
		err := references.ValidateEventTypePattern(e.Name)
		if subscribable := e.Name != "batch" && e.Name != references.EventEndpointTest; subscribable != (err == nil) {
			t.Errorf("%s (%s): event_types accepts it: %v", e.Name, e.Kind, err)
		}
	}
	want := append(references.EventTypeNames(), references.EventEndpointTest, "batch")
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("catalogue %v, want %v", names, want)
	}
	kinds := map[string]webhook.CatalogueKind{
		"shipment.updated": webhook.KindType, "reference.unsubscribed": webhook.KindType, "batch": webhook.KindType, references.TagMilestoneActual: webhook.KindTag,
		references.EventEndpointDisabled: webhook.KindOperational, references.EventEndpointTest: webhook.KindOperational,
	}
	for _, e := range list {
		if k, ok := kinds[e.Name]; ok && e.Kind != k {
			t.Errorf("%s is of kind %s, want %s", e.Name, e.Kind, k)
		}
	}

	resp, body = b.do(t, http.MethodGet, "/event-types", "", nil)
	wantError(t, resp, body, http.StatusUnauthorized, references.CodeUnauthorized, "")
}
