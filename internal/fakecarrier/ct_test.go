package fakecarrier_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/fakecarrier"
	"github.com/trackhook/trackhook/references"
)

// ctEvent is the part of a CT 3.0 event the tests read.
type ctEvent struct {
	EventID              string `json:"eventID"`
	IsRetracted          bool   `json:"isRetracted"`
	EventDateTime        string `json:"eventDateTime"`
	EventUpdatedDateTime string `json:"eventUpdatedDateTime"`
	EventClassification  struct {
		EventTypeCode       string `json:"eventTypeCode"`
		EventClassifierCode string `json:"eventClassifierCode"`
	} `json:"eventClassification"`
	ShipmentDetails *struct {
		DocumentReference struct {
			TypeCode  string `json:"typeCode"`
			Reference string `json:"reference"`
		} `json:"documentReference"`
	} `json:"shipmentDetails"`
	EquipmentDetails *struct {
		EquipmentReference string `json:"equipmentReference"`
	} `json:"equipmentDetails"`
}

// ctPages reads every page of GET /events with query, checking each against the
// spec, and returns the events and the number of pages.
func ctPages(t *testing.T, b *bundle, ct *spec, query url.Values) ([]ctEvent, int) {
	t.Helper()
	var all []ctEvent
	pages := 0
	for {
		resp, body := get(t, b.srv.URL+"/events?"+query.Encode(), nil)
		ct.checkResponse(t, resp.Request, resp.StatusCode, resp.Header, body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /events?%s: %d %s", query.Encode(), resp.StatusCode, body)
		}
		if resp.Header.Get("API-Version") != "3.0.0" {
			t.Errorf("API-Version %q", resp.Header.Get("API-Version"))
		}
		var page struct {
			Events []ctEvent `json:"events"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Events...)
		pages++
		next := resp.Header.Get("Next-Page-Cursor")
		if next == "" {
			return all, pages
		}
		if pages > 100 {
			t.Fatal("the pages do not end")
		}
		query.Set("cursor", next)
	}
}

func TestCarrier_CTEventsPageWithTheCursorAndFilter(t *testing.T) {
	b := setup(t, fakecarrier.Options{PageSize: 5}, blRef, containerRef)
	ct := loadSpec(t, "TNT_v3.0.0.yaml")
	b.clk.Advance(25 * 24 * time.Hour)
	want := demoEvents(t, b.clk, blRef)

	all, pages := ctPages(t, b, ct, url.Values{"transportDocumentReference": {blRef.BillOfLading}, "limit": {"3"}})
	if len(all) != len(want) || pages < len(want)/3 {
		t.Errorf("%d events in %d pages, want the %d milestones of the voyage in pages of 3", len(all), pages, len(want))
	}
	seen := map[string]bool{}
	for _, e := range all {
		if seen[e.EventID] {
			t.Errorf("event %s on two pages", e.EventID)
		}
		seen[e.EventID] = true
		if e.ShipmentDetails == nil || e.ShipmentDetails.DocumentReference.Reference != blRef.BillOfLading {
			t.Errorf("event %s is not linked to the bill of lading", e.EventID)
		}
	}

	var container string
	for _, e := range want {
		if e.EquipmentReference != "" {
			container = e.EquipmentReference
		}
	}
	tests := []struct {
		name  string
		query url.Values
		check func(ctEvent) bool
	}{
		{"a container of the bill", url.Values{"transportDocumentReference": {blRef.BillOfLading}, "equipmentReference": {container}}, func(e ctEvent) bool {
			return e.EquipmentDetails == nil || e.EquipmentDetails.EquipmentReference == container
		}},
		{"transport events", url.Values{"equipmentReference": {containerRef.ContainerID}, "eventTypes": {"TRANSPORT"}}, func(e ctEvent) bool {
			return e.EventClassification.EventTypeCode == "TRANSPORT"
		}},
	}
	for _, tc := range tests {
		got, _ := ctPages(t, b, ct, tc.query)
		if len(got) == 0 {
			t.Errorf("%s: no events", tc.name)
		}
		for _, e := range got {
			if !tc.check(e) {
				t.Errorf("%s: event %+v passed the filter", tc.name, e)
			}
		}
	}
	later := b.clk.Now().Add(1000 * 24 * time.Hour).Format(time.RFC3339)
	if got, _ := ctPages(t, b, ct, url.Values{"carrierBookingReference": {"NONE"}}); len(got) != 0 {
		t.Errorf("an unknown booking: %d events, want an empty 200", len(got))
	}
	if got, _ := ctPages(t, b, ct, url.Values{"transportDocumentReference": {blRef.BillOfLading}, "eventUpdatedDateTimeMin": {later}}); len(got) != 0 {
		t.Errorf("events updated after %s: %d", later, len(got))
	}
	resp, body := get(t, b.srv.URL+"/events?eventUpdatedDateTimeMin=yesterday", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad date: %d", resp.StatusCode)
	}
	ct.checkResponse(t, resp.Request, resp.StatusCode, resp.Header, body)
	resp, body = get(t, b.srv.URL+"/events?cursor=nonsense", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown cursor: %d", resp.StatusCode)
	}
	ct.checkResponse(t, resp.Request, resp.StatusCode, resp.Header, body)
}

func TestCarrier_CTPushesNewVersionsAndRetractionsWithTheConfiguredHeader(t *testing.T) {
	b := setup(t, fakecarrier.Options{Bundle: 3}, blRef, containerRef)
	ct := loadSpec(t, "TNT_v3.0.0.yaml")
	r := newReceiver(t, http.StatusOK)
	err := b.carrier.AddCTSubscriber(fakecarrier.CTSubscriber{Name: "trackhook", URL: r.srv.URL + "/events",
		Header: http.Header{"Authorization": {"Bearer t0k3n-for-tests"}}, Identifiers: []string{blRef.BillOfLading}})
	if err != nil {
		t.Fatal(err)
	}
	b.play(t, 2, 12*time.Hour, nil)
	wrong := references.Event{Type: references.EventEquipment, Classifier: references.ClassifierActual, Code: references.CodeGateIn,
		Time: b.clk.Now().Add(-time.Hour), EquipmentReference: "WRNU0000001", EmptyIndicator: references.EmptyIndicatorLaden}
	id, err := b.carrier.Inject(blRef.BillOfLading, wrong)
	if err != nil {
		t.Fatal(err)
	}
	b.play(t, 1, 12*time.Hour, nil)
	if !b.carrier.Retract(blRef.BillOfLading, id) {
		t.Fatal("Retract: the bill of lading is not tracked")
	}
	b.play(t, 80, 12*time.Hour, nil)

	schema := ct.requestSchema(http.MethodPost, "/events")
	versions := map[string][]ctEvent{}
	var order []string
	for _, g := range r.received("/events") {
		if g.Header.Get("Authorization") != "Bearer t0k3n-for-tests" || g.Header.Get("API-Version") != "3.0.0" {
			t.Fatalf("a push without the configured header: %v", g.Header)
		}
		checkBody(t, "a CT push", schema, g.Body)
		var body struct {
			Events []ctEvent `json:"events"`
		}
		if err := json.Unmarshal(g.Body, &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Events) == 0 || len(body.Events) > 3 {
			t.Errorf("a push of %d events, want 1 to 3", len(body.Events))
		}
		for _, e := range body.Events {
			if !e.IsRetracted && (e.ShipmentDetails == nil || e.ShipmentDetails.DocumentReference.Reference != blRef.BillOfLading) {
				t.Errorf("the subscriber of %s got %+v", blRef.BillOfLading, e)
			}
			if versions[e.EventID] == nil {
				order = append(order, e.EventID)
			}
			versions[e.EventID] = append(versions[e.EventID], e)
		}
	}
	if len(order) == 0 {
		t.Fatal("no pushes")
	}
	updated := 0
	for _, eid := range order {
		vs := versions[eid]
		for i := 1; i < len(vs); i++ {
			if vs[i].EventUpdatedDateTime <= vs[i-1].EventUpdatedDateTime {
				t.Errorf("event %s: version %d updated at %s, not after %s", eid, i, vs[i].EventUpdatedDateTime, vs[i-1].EventUpdatedDateTime)
			}
		}
		if len(vs) > 1 && vs[0].EventClassification.EventClassifierCode != vs[len(vs)-1].EventClassification.EventClassifierCode {
			updated++
		}
	}
	if updated == 0 {
		t.Error("no event was pushed again with another classifier (a plan becoming an actual)")
	}
	injected := versions[id]
	if len(injected) != 2 || injected[0].IsRetracted || !injected[1].IsRetracted {
		t.Errorf("the injected event was pushed as %+v, want it and then its retraction", injected)
	}
	if slices.ContainsFunc(b.carrier.Pushes(), func(p fakecarrier.Push) bool {
		return p.Model == fakecarrier.ModelCT && slices.Contains(p.Identifiers, containerRef.ContainerID)
	}) {
		t.Error("the subscriber got events of a shipment it does not follow")
	}
	if st := b.carrier.Stats(); st.Accepted != len(r.received("/events")) || st.Failed != 0 {
		t.Errorf("Stats = %+v", st)
	}

	// GET lists the retraction too.
	all, _ := ctPages(t, b, ct, url.Values{"transportDocumentReference": {blRef.BillOfLading}})
	if !slices.ContainsFunc(all, func(e ctEvent) bool { return e.EventID == id && e.IsRetracted }) {
		t.Error("GET /events does not list the retraction")
	}
}

func TestCarrier_CTFaultsApplyToo(t *testing.T) {
	b := setup(t, fakecarrier.Options{Faults: fakecarrier.Faults{Drop: 1}}, blRef)
	r := newReceiver(t, http.StatusOK)
	if err := b.carrier.AddCTSubscriber(fakecarrier.CTSubscriber{URL: r.srv.URL + "/events"}); err != nil {
		t.Fatal(err)
	}
	if err := b.carrier.AddCTSubscriber(fakecarrier.CTSubscriber{URL: r.srv.URL + "/events"}); err == nil {
		t.Error("a second subscriber of the same name was taken")
	}
	if err := b.carrier.AddCTSubscriber(fakecarrier.CTSubscriber{Name: "x", URL: "/events"}); err == nil {
		t.Error("a relative URL was taken")
	}
	pushes := b.play(t, 10, 12*time.Hour, nil)
	if len(pushes) == 0 || len(r.received("/events")) != 0 || b.carrier.Stats().Dropped != len(pushes) {
		t.Errorf("%d planned, %d received, Stats %+v: want every push dropped", len(pushes), len(r.received("/events")), b.carrier.Stats())
	}
	if !b.carrier.RemoveCTSubscriber(r.srv.URL + "/events") {
		t.Error("RemoveCTSubscriber found nothing")
	}
	if got := b.play(t, 10, 12*time.Hour, nil); len(got) != 0 {
		t.Errorf("%d pushes after the subscriber was removed", len(got))
	}
}
