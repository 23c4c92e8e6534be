package dcsa3

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/tracking"
	"github.com/trackhook/trackhook/webhook"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dcsa3", name))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestFixtures_MatchTheSpec checks the fixtures that no fake server serves against
// the spec's schemas, additional properties refused.
func TestFixtures_MatchTheSpec(t *testing.T) {
	doc := loadSpec(t)
	for name, schemaName := range map[string]string{
		"push_events.json": "PostEventsRequest",
		"error_400.json":   "GetEventsError",
		"bl_page1.json":    "GetEventsResponse",
	} {
		if err := validJSON(t, doc, schemaName, readFixture(t, name)); err != nil {
			t.Errorf("%s is not a %s: %v", name, schemaName, err)
		}
	}
	// And the check can fail: a misspelt field is refused.
	if validJSON(t, doc, "PostEventsRequest", []byte(`{"events": [{"eventId": "x"}]}`)) == nil {
		t.Error("a misspelt field passes the schema")
	}
}

func TestParsePush_ReadsAPostEventsRequest(t *testing.T) {
	p, err := ParsePush(readFixture(t, "push_events.json"))
	if err != nil {
		t.Fatalf("ParsePush: %v", err)
	}
	// The arrival, the discharge in Rotterdam (the estimate sent after it is an
	// older version), the retraction; the IoT event ignored; the event without a
	// classifier refused.
	if p.Total != 6 || len(p.Records) != 3 {
		t.Errorf("total %d, %d records, want 6 and 3", p.Total, len(p.Records))
	}
	if got := eventIDs(p.Events()); fmt.Sprint(got) != "[tr-2103S-NLRTM-ARRI eq-APZU4812090-DISC-NLRTM]" {
		t.Errorf("events %v", got)
	}
	if p.Events()[1].Classifier != references.ClassifierActual {
		t.Errorf("the discharge is %s: the older estimate replaced the actual", p.Events()[1].Classifier)
	}
	if got := p.Retracted(); fmt.Sprint(got) != "[eq-APZU4812091-LOAD]" {
		t.Errorf("retracted %v", got)
	}
	checkGolden(t, "push_events.golden.json", p)
}

func TestParsePush_RefusesBadBodies(t *testing.T) {
	ev := `{"eventID": "a", "eventDateTime": "2025-01-01T00:00:00Z", "eventClassification": {"eventTypeCode": "SHIPMENT", "eventClassifierCode": "ACT", "shipmentEventTypeCode": "CONF"}}`
	tests := []struct {
		name string
		body []byte
		want error
		text string
	}{
		{"too large", []byte(`{"events": []}` + strings.Repeat(" ", MaxPushBytes)), ErrPushTooLarge, "push body too large: over 4194304 bytes"},
		{"too many events", []byte(`{"events": [` + strings.Repeat(ev+",", MaxPushEvents) + ev + `]}`), ErrPushTooLarge, "push body too large: over 1000 events"},
		{"not JSON", []byte(`events=1`), ErrPushInvalid, "invalid push body: malformed JSON: invalid character 'e' looking for beginning of value"},
		{"empty", nil, ErrPushInvalid, "invalid push body: malformed JSON: unexpected end of the body"},
		{"events not an array", []byte(`{"events": "a"}`), ErrPushInvalid, `invalid push body: malformed body: "events" is not an array`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePush(tt.body)
			if !errors.Is(err, tt.want) || err.Error() != tt.text {
				t.Errorf("err = %v, want %q (%v)", err, tt.text, tt.want)
			}
		})
	}
	// At the bounds, it is read.
	if p, err := ParsePush([]byte(`{"events": [` + strings.Repeat(ev+",", MaxPushEvents-1) + ev + `]}`)); err != nil || p.Total != MaxPushEvents {
		t.Errorf("%d events: %v", MaxPushEvents, err)
	}
	if _, err := ParsePush([]byte(`{"events": []}` + strings.Repeat(" ", MaxPushBytes-14))); err != nil {
		t.Errorf("%d bytes: %v", MaxPushBytes, err)
	}
}

func TestParsePush_FeedbackNamesEachUnusableEvent(t *testing.T) {
	var events []string
	for range 7 {
		events = append(events, `{"eventID": "x"}`)
	}
	p, err := ParsePush([]byte(`{"events": [` + strings.Join(events, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Feedback{
		{SeverityError, "event not processed: no eventClassification", "$.events[0]"},
		{SeverityError, "event not processed: no eventClassification", "$.events[1]"},
		{SeverityError, "event not processed: no eventClassification", "$.events[2]"},
		{SeverityError, "event not processed: no eventClassification", "$.events[3]"},
		{SeverityError, "event not processed: no eventClassification", "$.events[4]"},
		{SeverityError, "2 more events not processed", ""},
	}
	if !reflect.DeepEqual(p.Feedback, want) || len(p.Records) != 0 {
		t.Errorf("feedback %+v, records %d", p.Feedback, len(p.Records))
	}
}

func TestPush_ForPicksTheReferencesRecords(t *testing.T) {
	p, err := ParsePush(readFixture(t, "push_events.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref  references.Reference
		want string // record ids
	}{
		{blRef(), "[tr-2103S-NLRTM-ARRI eq-APZU4812090-DISC-NLRTM eq-APZU4812091-LOAD]"},
		{containerRef(fixtureContainer), "[eq-APZU4812090-DISC-NLRTM eq-APZU4812091-LOAD]"},
		{containerRef("apzu4812090"), "[eq-APZU4812090-DISC-NLRTM eq-APZU4812091-LOAD]"},
		{containerRef(fixtureContainer2), "[eq-APZU4812091-LOAD]"},
		{references.Reference{BookingNumber: fixtureBooking}, "[eq-APZU4812091-LOAD]"},
		{references.Reference{BillOfLading: "OTHER"}, "[eq-APZU4812091-LOAD]"},
	}
	for _, tt := range tests {
		var ids []string
		for _, r := range p.For(tt.ref) {
			ids = append(ids, r.ID)
		}
		if fmt.Sprint(ids) != tt.want {
			t.Errorf("For(%+v) = %v, want %s", tt.ref, ids, tt.want)
		}
	}
}

// TestMerge_PushIntoAPolledSnapshot plays a push into the snapshot a poll stored,
// then checks what tracking.Diff makes of it.
func TestMerge_PushIntoAPolledSnapshot(t *testing.T) {
	c, _ := setup(t, Config{})
	snap, err := c.Snapshot(t.Context(), blRef())
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePush(readFixture(t, "push_events.json"))
	if err != nil {
		t.Fatal(err)
	}
	events, versions := Merge(snap.Shipment.Events, snap.Versions, p.For(blRef()))
	merged := tracking.Derive(&references.Shipment{Events: events})
	checkGolden(t, "push_merged.golden.json", webhook.NewShipment(merged))

	var kinds []string
	for _, ch := range tracking.Diff(tracking.Derive(snap.Shipment), merged) {
		kinds = append(kinds, string(ch.Type))
	}
	// The estimated arrival became actual, the discharge is new, the load of the other
	// container was retracted; the shipment arrived.
	for _, want := range []string{"estimate_actual", "event_added", "actual_corrected", "status_changed"} {
		if !strings.Contains(fmt.Sprint(kinds), want) {
			t.Errorf("changes %v: no %s", kinds, want)
		}
	}
	if !versions["eq-APZU4812091-LOAD"].Retracted || len(snap.Versions) == len(versions) && reflect.DeepEqual(snap.Versions, versions) {
		t.Errorf("versions %v: want the retraction recorded, and the stored map untouched", versions)
	}
	if snap.Versions["eq-APZU4812091-LOAD"].Retracted {
		t.Error("Merge changed the stored versions")
	}

	// The same push again changes nothing: a carrier's retry.
	again, _ := Merge(events, versions, p.For(blRef()))
	if changes := tracking.Diff(merged, tracking.Derive(&references.Shipment{Events: again})); len(changes) != 0 {
		t.Errorf("a repeated push made changes: %+v", changes)
	}
}

func TestMerge_Rules(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2025, 1, d, 0, 0, 0, 0, time.UTC) }
	ev := func(id, code string, updated time.Time) Record {
		return Record{ID: id, UpdatedAt: updated, Event: references.Event{ID: id, Code: code, Type: "TRANSPORT", Classifier: "EST", Time: day(20)},
			Identifiers: Identifiers{BillsOfLading: []string{fixtureBL}}}
	}
	retract := func(id string, updated time.Time) Record { return Record{ID: id, UpdatedAt: updated, Retracted: true} }
	stored := []references.Event{ev("a", "a1", day(1)).Event, ev("b", "b1", day(1)).Event}
	storedVersions := Versions{"a": {UpdatedAt: day(1)}, "b": {UpdatedAt: day(1)}, "gone": {UpdatedAt: day(5), Retracted: true}}
	tests := []struct {
		name     string
		versions Versions
		pushed   []Record
		want     string // codes
		wantVer  map[string]Version
	}{
		{"a new event is added", storedVersions, []Record{ev("c", "c1", day(2))}, "[a1 b1 c1]", map[string]Version{"c": {UpdatedAt: day(2)}}},
		{"a later version replaces", storedVersions, []Record{ev("a", "a2", day(2))}, "[b1 a2]", map[string]Version{"a": {UpdatedAt: day(2)}}},
		{"an older version is ignored", Versions{"a": {UpdatedAt: day(3)}}, []Record{ev("a", "a0", day(2))}, "[a1 b1]", map[string]Version{"a": {UpdatedAt: day(3)}}},
		{"the same version twice is ignored", storedVersions, []Record{ev("a", "ax", day(1))}, "[a1 b1]", nil},
		{"out of order in one push", storedVersions, []Record{ev("a", "a3", day(3)), ev("a", "a2", day(2))}, "[b1 a3]", map[string]Version{"a": {UpdatedAt: day(3)}}},
		{"a retraction removes and is remembered", storedVersions, []Record{retract("a", day(2)), ev("a", "a1", day(1))}, "[b1]",
			map[string]Version{"a": {UpdatedAt: day(2), Retracted: true}}},
		{"an earlier version after a stored retraction stays out", storedVersions, []Record{ev("gone", "g", day(4))}, "[a1 b1]", nil},
		{"a later one revives it", storedVersions, []Record{ev("gone", "g", day(6))}, "[a1 b1 g]", map[string]Version{"gone": {UpdatedAt: day(6)}}},
		{"without stored versions the push wins", nil, []Record{ev("a", "a0", day(0))}, "[b1 a0]", map[string]Version{"a": {UpdatedAt: day(0)}}},
		{"another reference's retraction is not remembered", storedVersions, []Record{retract("zzz", day(2))}, "[a1 b1]", map[string]Version{"zzz": {}}},
		{"an event without id, twice", storedVersions, []Record{ev("", "n", day(1)), ev("", "n", day(1))}, "[a1 b1 n]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fmt.Sprint(tt.versions)
			events, versions := Merge(stored, tt.versions, tt.pushed)
			var codes []string
			for _, e := range events {
				codes = append(codes, e.Code)
			}
			if fmt.Sprint(codes) != tt.want {
				t.Errorf("events %v, want %s", codes, tt.want)
			}
			for id, want := range tt.wantVer {
				if got, ok := versions[id]; want == (Version{}) && ok || want != (Version{}) && got != want {
					t.Errorf("version of %s = %+v (%v), want %+v", id, got, ok, want)
				}
			}
			if fmt.Sprint(tt.versions) != before || len(stored) != 2 || stored[0].Code != "a1" {
				t.Error("Merge changed its arguments")
			}
		})
	}
}

func FuzzParsePush(f *testing.F) {
	for _, name := range []string{"push_events.json", "bl_page2.json", "error_400.json"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(`{"events": [{"eventID": "a", "isRetracted": true}, {"eventID": "a", "isRetracted": "false"}]}`))
	f.Add([]byte(`{"events": [{"eventID": "` + strings.Repeat("\u00ff", 300) + `", "isRetracted": true}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePush(body)
		if err != nil {
			if !errors.Is(err, ErrPushInvalid) && !errors.Is(err, ErrPushTooLarge) {
				t.Fatalf("error %v is neither ErrPushInvalid nor ErrPushTooLarge", err)
			}
			return
		}
		if p.Total > MaxPushEvents || len(p.Records) > p.Total {
			t.Fatalf("total %d, records %d", p.Total, len(p.Records))
		}
		seen := map[string]bool{}
		for _, r := range p.Records {
			checkRecordInvariants(t, r)
			if r.ID != "" && seen[r.ID] {
				t.Fatalf("id %q twice after resolving", r.ID)
			}
			seen[r.ID] = true
		}
		for _, fb := range p.Feedback {
			if fb.Severity != SeverityError && fb.Severity != SeverityInfo || fb.Message == "" {
				t.Fatalf("feedback %+v", fb)
			}
		}
		// Merging it twice is merging it once.
		once, v := Merge(nil, nil, p.Records)
		twice, _ := Merge(once, v, p.Records)
		if len(once) != len(twice) {
			t.Fatalf("merged twice: %d events, once: %d", len(twice), len(once))
		}
	})
}
