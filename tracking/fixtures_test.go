package tracking

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// evTime0 is the origin of the hour offsets the test events are written with.
var evTime0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// eventBuilder builds a test event; the methods return modified copies.
type eventBuilder references.Event

// mkEvent is an event with code and classifier at hour h after evTime0. Arrivals and departures
// are transport events, the rest equipment events.
func mkEvent(code string, c references.Classifier, h int) eventBuilder {
	e := eventBuilder{ID: code + "-" + string(c), Code: code, Classifier: c, Time: evTime0.Add(time.Duration(h) * time.Hour), Type: references.EventEquipment}
	if code == references.CodeArrival || code == references.CodeDeparture {
		e.Type = references.EventTransport
	}
	return e
}

func (b eventBuilder) at(locode string) eventBuilder {
	b.Location = &references.Location{UNLocode: locode}
	b.ID += "-" + locode
	return b
}

func (b eventBuilder) on(vessel, imo, voyage string) eventBuilder {
	b.TransportCall = &references.TransportCall{VesselName: vessel, VesselIMO: imo, Voyage: voyage}
	b.ID += "-" + imo
	return b
}

func (b eventBuilder) empty() eventBuilder                      { b.EmptyIndicator = "EMPTY"; return b }
func (b eventBuilder) laden() eventBuilder                      { b.EmptyIndicator = "LADEN"; return b }
func (b eventBuilder) id(id string) eventBuilder                { b.ID = id; return b }
func (b eventBuilder) kind(t references.EventType) eventBuilder { b.Type = t; return b }
func (b eventBuilder) e() references.Event                      { return references.Event(b) }

const (
	clsPLN = references.ClassifierPlanned
	clsEST = references.ClassifierEstimated
	clsACT = references.ClassifierActual
)

func mkShipment(events ...eventBuilder) *references.Shipment {
	s := &references.Shipment{}
	for _, b := range events {
		s.Events = append(s.Events, b.e())
	}
	return s
}

// transshippedVoyage is a transshipped trip CNSHA -> SGSIN -> NLRTM where the first n
// milestones happened and the rest are estimated.
func transshippedVoyage(n int) []eventBuilder {
	all := []eventBuilder{
		mkEvent("GTOT", clsACT, 0).at("CNSHA").empty(),
		mkEvent("STUF", clsACT, 10).at("CNSHA"),
		mkEvent("GTIN", clsACT, 20).at("CNSHA").laden(),
		mkEvent("LOAD", clsACT, 40).at("CNSHA").on("PACIFIC MERIDIAN", "9815903", "412W"),
		mkEvent("DEPA", clsACT, 50).at("CNSHA").on("PACIFIC MERIDIAN", "9815903", "412W"),
		mkEvent("ARRI", clsACT, 200).at("SGSIN").on("PACIFIC MERIDIAN", "9815903", "412W"),
		mkEvent("DISC", clsACT, 210).at("SGSIN").on("PACIFIC MERIDIAN", "9815903", "412W"),
		mkEvent("LOAD", clsACT, 260).at("SGSIN").on("NORDIC AURORA", "9526019", "051W"),
		mkEvent("DEPA", clsACT, 270).at("SGSIN").on("NORDIC AURORA", "9526019", "051W"),
		mkEvent("ARRI", clsACT, 700).at("NLRTM").on("NORDIC AURORA", "9526019", "051W"),
		mkEvent("DISC", clsACT, 710).at("NLRTM").on("NORDIC AURORA", "9526019", "051W"),
		mkEvent("GTOT", clsACT, 750).at("NLRTM").laden(),
		mkEvent("STRP", clsACT, 780).at("NLRTM"),
		mkEvent("GTIN", clsACT, 800).at("NLRTM").empty(),
	}
	for i := n; i < len(all); i++ {
		all[i].Classifier = clsEST
		all[i].ID += "-clsEST"
	}
	return all
}

func reversedEvents(s *references.Shipment) *references.Shipment {
	c := &references.Shipment{Events: make([]references.Event, len(s.Events))}
	for i, e := range s.Events {
		c.Events[len(s.Events)-1-i] = e
	}
	return c
}

func readShipmentFixture(t testing.TB, path string) *references.Shipment {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s webhook.Shipment // the fixtures are in the wire form
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s.Domain()
}

// fixtureSnapshots reads every snapshot under testdata/diff.
func fixtureSnapshots(t testing.TB) map[string]*references.Shipment {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "diff", "*", "[0-9][0-9].json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	out := make(map[string]*references.Shipment, len(files))
	for _, f := range files {
		out[f] = readShipmentFixture(t, f)
	}
	return out
}
