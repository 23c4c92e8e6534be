package dcsa3

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/references"
)

func TestDecodeRecord_MapsEachEvent(t *testing.T) {
	at := time.Date(2025, 3, 5, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		json string
		want Record
	}{
		{
			name: "equipment event with its transport call",
			json: `{"eventID": "e1", "eventDateTime": "2025-03-05T18:00:00+08:00", "eventUpdatedDateTime": "2025-03-05T10:01:00Z",
				"eventLocation": {"locationName": "Yangshan", "UNLocationCode": "CNSHA"},
				"eventClassification": {"eventTypeCode": "EQUIPMENT", "eventClassifierCode": "ACT", "equipmentEventTypeCode": "LOAD"},
				"equipmentDetails": {"equipmentReference": "apzu 4812090", "ISOEquipmentCode": " 45g1", "emptyIndicatorCode": "LADEN"},
				"transportDetails": {"transportCall": {"modeOfTransport": "VESSEL",
					"importVoyageNumberOrReference": {"carrierVoyageNumber": "412E"},
					"exportVoyageNumberOrReference": {"carrierVoyageNumber": "412W", "universalVoyageReference": "2501W"},
					"vesselTransport": {"vesselIMONumber": 9784207, "vesselName": "NORDIC HORIZON"}}}}`,
			want: Record{ID: "e1", UpdatedAt: at.Add(time.Minute),
				Event: references.Event{ID: "e1", Type: "EQUIPMENT", Classifier: "ACT", Code: "LOAD", Time: at, RevisedAt: at.Add(time.Minute),
					Location:           &references.Location{UNLocode: "CNSHA", Name: "Yangshan"},
					TransportCall:      &references.TransportCall{VesselName: "NORDIC HORIZON", VesselIMO: "9784207", Voyage: "412W", ModeOfTransport: "VESSEL"},
					EquipmentReference: "apzu 4812090", ISOEquipmentCode: "45G1", EmptyIndicator: "LADEN"},
				Identifiers: Identifiers{Containers: []string{"APZU4812090"}}},
		},
		{
			name: "transport event: a universal voyage reference when there is no voyage number, a facility's name",
			json: `{"eventDateTime": "2025-03-05T10:00:00Z",
				"eventClassification": {"eventTypeCode": "TRANSPORT", "eventClassifierCode": "EST", "transportEventTypeCode": "ARRI"},
				"eventLocation": {"UNLocationCode": "NLRTM", "facility": {"facilityName": "Maasvlakte II", "facilityCode": "RTM"}},
				"transportDetails": {"changeRemark": "Port congestion", "delayReasonCodes": ["CON"],
					"transportCall": {"importVoyageNumberOrReference": {"universalVoyageReference": "2501E"}}}}`,
			want: Record{Event: references.Event{Type: "TRANSPORT", Classifier: "EST", Code: "ARRI", Time: at,
				Location:      &references.Location{UNLocode: "NLRTM", Name: "Maasvlakte II"},
				TransportCall: &references.TransportCall{Voyage: "2501E"}, Description: "Port congestion"}},
		},
		{
			name: "shipment event naming its documents",
			json: `{"eventID": "s1", "eventDateTime": "2025-03-05T10:00:00.000Z",
				"eventClassification": {"eventTypeCode": "SHIPMENT", "eventClassifierCode": "ACT", "shipmentEventTypeCode": "ISSU"},
				"shipmentDetails": {"documentReference": {"typeCode": "TRD", "reference": "HHL71800000"},
					"additionalDocumentReferences": [{"typeCode": "BKG", "reference": "ABC709951"}, {"typeCode": "INV", "reference": "I-1"}, {"typeCode": "TRD", "reference": "hhl71800000"}],
					"documentReferenceReplacements": [{"oldReferences": [{"typeCode": "BKG", "reference": "ABC70995"}], "newReferences": [{"typeCode": "BKG", "reference": "ABC709951"}]}],
					"shipmentReferences": [{"typeCode": "EQ", "reference": "APZU4812091"}, {"typeCode": "PO", "reference": "PO-9"}]}}`,
			want: Record{ID: "s1", Event: references.Event{ID: "s1", Type: "SHIPMENT", Classifier: "ACT", Code: "ISSU", Time: at, Description: "Transport document issued"},
				Identifiers: Identifiers{Containers: []string{"APZU4812091"}, BillsOfLading: []string{"HHL71800000"}, Bookings: []string{"ABC709951", "ABC70995"}}},
		},
		{
			name: "unknown fields, IoT details, routing, an ISO code that is not one",
			json: `{"eventRouting": {"originatingParty": {"partyCode": "MSK"}}, "eventID": "x", "eventDateTime": "2025-03-05T11:00+01:00",
				"eventClassification": {"eventTypeCode": "EQUIPMENT", "eventClassifierCode": "ACT", "equipmentEventTypeCode": "GTIN"},
				"equipmentDetails": {"ISOEquipmentCode": "40ft HC", "emptyIndicatorCode": "HALF"}, "iotDetails": {"iotEventCode": "DRO"},
				"x-carrier": {"deep": [1, 2, {"a": null}]}}`,
			want: Record{ID: "x", Event: references.Event{ID: "x", Type: "EQUIPMENT", Classifier: "ACT", Code: "GTIN", Time: at}},
		},
		{
			name: "isRetracted false as a string, an updated time that does not parse",
			json: `{"eventID": "y", "isRetracted": "false", "eventDateTime": "2025-03-05T10:00:00Z", "eventUpdatedDateTime": "soon",
				"eventClassification": {"eventTypeCode": "SHIPMENT", "eventClassifierCode": "PLN", "shipmentEventTypeCode": "RECE"}}`,
			want: Record{ID: "y", Event: references.Event{ID: "y", Type: "SHIPMENT", Classifier: "PLN", Code: "RECE", Time: at}},
		},
		{
			name: "retraction: nothing else is read",
			json: `{"eventID": "z", "isRetracted": true, "eventUpdatedDateTime": "2025-03-05T10:00:00Z"}`,
			want: Record{ID: "z", UpdatedAt: at, Retracted: true},
		},
		{
			name: "retraction with data of the wrong types",
			json: `{"eventID": "z", "isRetracted": "true", "eventLocation": "here", "eventClassification": [1]}`,
			want: Record{ID: "z", Retracted: true},
		},
		{
			name: "an eventID of the 500 characters the spec allows becomes a digest",
			json: `{"eventID": "` + strings.Repeat("e", 500) + `", "isRetracted": true}`,
			want: Record{ID: "sha256:", Retracted: true}, // and the digest, checked below
		},
		{
			name: "control characters cleaned",
			json: `{"eventDateTime": "2025-03-05T10:00:00Z",
				"eventClassification": {"eventTypeCode": "EQUIPMENT", "eventClassifierCode": "ACT", "equipmentEventTypeCode": "GTOT"},
				"eventLocation": {"locationName": "  Port\u0000of\nX\u00ff  "}}`,
			want: Record{Event: references.Event{Type: "EQUIPMENT", Classifier: "ACT", Code: "GTOT", Time: at,
				Location: &references.Location{Name: "Port of X\u00ff"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRecord([]byte(tt.json))
			if err != nil {
				t.Fatalf("decodeRecord: %v", err)
			}
			if tt.want.ID == "sha256:" {
				// The digest is whatever SHA-256 says: check its shape and that a shorter
				// id sharing the beginning gets another, then compare the rest.
				if !strings.HasPrefix(got.ID, "sha256:") || len(got.ID) != len("sha256:")+64 || got.ID == eventKey(strings.Repeat("e", 499)) {
					t.Errorf("id %q", got.ID)
				}
				got.ID, tt.want.ID = "", ""
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("record:\n got %s\nwant %s", describeRecord(got), describeRecord(tt.want))
			}
		})
	}
}

func describeRecord(r Record) string {
	s := fmt.Sprintf("%+v", r)
	if l := r.Event.Location; l != nil {
		s += fmt.Sprintf(" location %+v", *l)
	}
	if tc := r.Event.TransportCall; tc != nil {
		s += fmt.Sprintf(" transport call %+v", *tc)
	}
	return s
}

func TestDecodeRecord_RefusesUnusableEvents(t *testing.T) {
	valid := `"eventDateTime": "2025-03-05T10:00:00Z", "eventClassification": {"eventTypeCode": "TRANSPORT", "eventClassifierCode": "ACT", "transportEventTypeCode": "ARRI"}`
	tests := []struct {
		name, json, want string
	}{
		{"not an object", `"x"`, "json: cannot unmarshal string into Go value of type dcsa3.wireEvent"},
		{"no classification", `{"eventDateTime": "2025-03-05T10:00:00Z"}`, "no eventClassification"},
		{"no type", `{"eventDateTime": "2025-03-05T10:00:00Z", "eventClassification": {"eventClassifierCode": "ACT"}}`, "no eventClassification.eventTypeCode"},
		{"unknown type", `{"eventClassification": {"eventTypeCode": "CUSTOMS"}}`, `unsupported eventTypeCode "CUSTOMS"`},
		{"bad classifier", `{"eventClassification": {"eventTypeCode": "TRANSPORT", "eventClassifierCode": "REQ"}}`, `eventClassifierCode "REQ" is not PLN, EST or ACT`},
		{"no code", `{"eventClassification": {"eventTypeCode": "TRANSPORT", "eventClassifierCode": "ACT"}}`, "no transportEventTypeCode"},
		{"a code that is not one", `{"eventClassification": {"eventTypeCode": "EQUIPMENT", "eventClassifierCode": "ACT", "equipmentEventTypeCode": "<b>x"}}`,
			`equipmentEventTypeCode "<b>x" is not a code`},
		{"no time", `{"eventClassification": {"eventTypeCode": "TRANSPORT", "eventClassifierCode": "ACT", "transportEventTypeCode": "ARRI"}}`, "eventDateTime: missing"},
		{"local time", `{` + strings.Replace(valid, "10:00:00Z", "10:00:00", 1) + `}`, `eventDateTime: "2025-03-05T10:00:00" is not an RFC 3339 date-time`},
		{"an object for a string", `{` + valid + `, "eventLocation": {"UNLocationCode": {"a": 1}}}`, "expected a string, got an object or an array"},
		{"a string for an object", `{` + valid + `, "transportDetails": "VESSEL"}`, "transportDetails: a JSON string where the spec has an object"},
		{"a retraction without eventID", `{"isRetracted": true}`, "a retracted event without eventID"},
		{"isRetracted neither true nor false", `{` + valid + `, "isRetracted": 1}`, "isRetracted: expected true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeRecord([]byte(tt.json))
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	for _, typ := range []string{"IOT", "REEFER"} {
		if _, err := decodeRecord([]byte(`{"eventClassification": {"eventTypeCode": "` + typ + `"}}`)); err != errIgnored {
			t.Errorf("%s event: %v, want it ignored", typ, err)
		}
	}
}

func TestParseBody_Shapes(t *testing.T) {
	ev := `{"eventID": "a", "eventDateTime": "2025-01-01T00:00:00Z", "eventClassification": {"eventTypeCode": "SHIPMENT", "eventClassifierCode": "ACT", "shipmentEventTypeCode": "CONF"}}`
	tests := []struct {
		name    string
		body    string
		records int
		want    string // error
	}{
		{"object", `{"events": [` + ev + `], "feedbackElements": [{"severity": "INFO", "message": "m"}]}`, 1, ""},
		{"feedback first, key in another case", `{"feedbackElements": [], "Events": [` + ev + `]}`, 1, ""},
		{"bare array", `[` + ev + `, ` + ev + `]`, 2, ""},
		{"null", `null`, 0, ""},
		{"no events", `{}`, 0, ""},
		{"null events", `{"events": null}`, 0, ""},
		{"events twice", `{"events": [], "events": []}`, 0, `malformed body: "events" given twice`},
		{"a string", `"events"`, 0, `malformed body: expected an object with "events"`},
		{"trailing data", `{"events": []} {}`, 0, "malformed JSON: data after the body"},
		{"cut short", `{"events": [` + ev, 0, "malformed JSON: unexpected end of the body"},
		{"syntax", `{"events": [}`, 0, "malformed JSON: invalid character '}' looking for beginning of value"},
		{"too many", `[` + strings.Repeat(ev+",", 3) + ev + `]`, 0, "too many events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseBody(strings.NewReader(tt.body), 3)
			if errText(err) != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if err == nil && len(p.records) != tt.records {
				t.Errorf("%d records, want %d", len(p.records), tt.records)
			}
		})
	}
}

// TestResolve_OverridesAndRetractions holds the rules of the standard: "an event
// overrides any other event that has the same eventID and an earlier
// eventUpdatedDateTime", and a retracted event voids all its earlier versions.
func TestResolve_OverridesAndRetractions(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2025, 1, d, 0, 0, 0, 0, time.UTC) }
	ev := func(id, code string, updated time.Time) Record {
		return Record{ID: id, UpdatedAt: updated, Event: references.Event{ID: id, Code: code, Type: "TRANSPORT", Classifier: "EST", Time: day(20)}}
	}
	retract := func(id string, updated time.Time) Record { return Record{ID: id, UpdatedAt: updated, Retracted: true} }
	tests := []struct {
		name    string
		records []Record
		want    []string // codes of the events that stand, in order
		gone    []string // ids retracted
	}{
		{"a later update replaces", []Record{ev("a", "v1", day(1)), ev("a", "v2", day(2))}, []string{"v2"}, nil},
		{"an earlier version arriving late does not", []Record{ev("a", "v2", day(2)), ev("a", "v1", day(1))}, []string{"v2"}, nil},
		{"the same version twice stays once", []Record{ev("a", "v1", day(1)), ev("a", "v1", day(1))}, []string{"v1"}, nil},
		{"without times, the later one", []Record{ev("a", "v1", time.Time{}), ev("a", "v2", time.Time{})}, []string{"v2"}, nil},
		{"a retraction voids", []Record{ev("a", "v1", day(1)), retract("a", day(2)), ev("b", "b1", day(1))}, []string{"b1"}, []string{"a"}},
		{"a retraction before what it retracts", []Record{retract("a", day(3)), ev("a", "v2", day(2))}, nil, []string{"a"}},
		{"a version after the retraction revives it", []Record{ev("a", "v1", day(1)), retract("a", day(2)), ev("a", "v3", day(3))}, []string{"v3"}, nil},
		{"a retraction without time voids what came before", []Record{ev("a", "v1", day(1)), retract("a", time.Time{})}, nil, []string{"a"}},
		{"events without id are all kept", []Record{ev("", "x", day(1)), ev("", "y", day(1))}, []string{"x", "y"}, nil},
		{"the order of first appearance is kept", []Record{ev("a", "a1", day(1)), ev("b", "b1", day(1)), ev("a", "a2", day(2))}, []string{"a2", "b1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, versions := snapshotOf(resolve(tt.records))
			var codes []string
			for _, e := range events {
				codes = append(codes, e.Code)
			}
			if fmt.Sprint(codes) != fmt.Sprint(tt.want) {
				t.Errorf("events %v, want %v", codes, tt.want)
			}
			for _, id := range tt.gone {
				if !versions[id].Retracted {
					t.Errorf("version of %s = %+v, want retracted", id, versions[id])
				}
			}
		})
	}
}

func FuzzParseBody(f *testing.F) {
	for _, name := range []string{"bl_page1.json", "bl_page2.json", "bl_page3.json", "push_events.json", "error_400.json"} {
		body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dcsa3", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte(`{"events": [{"eventID": "a", "isRetracted": "true", "eventClassification": 1}, null, 1, "x", [[]]]}`))
	f.Add([]byte(`[{"eventClassification": {"eventTypeCode": "TRANSPORT", "eventClassifierCode": "ACT", "transportEventTypeCode": "ARRI"},
		"eventDateTime": "2025-03-05T10:00+01:00", "transportDetails": {"transportCall": {"vesselTransport": {"vesselIMONumber": 1e400}}}}]`))
	f.Add([]byte(`{"Events": null, "events": []}`))
	f.Add([]byte(`null`))
	const max = 50
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseBody(strings.NewReader(string(body)), max)
		if err != nil {
			return
		}
		if p.total > max || len(p.records)+p.nSkip+p.ignored != p.total || len(p.skips) > maxSkipReasons {
			t.Fatalf("counts: total %d, records %d, skipped %d, ignored %d (%d reasons)", p.total, len(p.records), p.nSkip, p.ignored, len(p.skips))
		}
		for _, r := range resolve(p.records) {
			checkRecordInvariants(t, r)
		}
	})
}

// checkRecordInvariants asserts what every parsed record promises.
func checkRecordInvariants(t *testing.T, r Record) {
	t.Helper()
	if len(r.ID) > dcsa.MaxIDLen || !utf8.ValidString(r.ID) || strings.ContainsAny(r.ID, "\x00\n\r") {
		t.Fatalf("id %q", r.ID)
	}
	if !r.UpdatedAt.IsZero() && r.UpdatedAt.Location() != time.UTC {
		t.Fatalf("updated at %v", r.UpdatedAt)
	}
	if r.Retracted {
		if r.ID == "" || !reflect.DeepEqual(r.Event, references.Event{}) {
			t.Fatalf("retraction %+v", r)
		}
		return
	}
	ev := r.Event
	if ev.ID != r.ID {
		t.Fatalf("event id %q, record id %q", ev.ID, r.ID)
	}
	switch ev.Type {
	case references.EventTransport, references.EventEquipment, references.EventShipment:
	default:
		t.Fatalf("type %q", ev.Type)
	}
	switch ev.Classifier {
	case references.ClassifierPlanned, references.ClassifierEstimated, references.ClassifierActual:
	default:
		t.Fatalf("classifier %q", ev.Classifier)
	}
	if ev.Code == "" || len(ev.Code) > 8 {
		t.Fatalf("code %q", ev.Code)
	}
	if ev.Time.IsZero() || ev.Time.Location() != time.UTC {
		t.Fatalf("time %v", ev.Time)
	}
	if ev.ISOEquipmentCode != "" && dcsa.ISOEquipmentCode(ev.ISOEquipmentCode) != ev.ISOEquipmentCode {
		t.Fatalf("ISO equipment code %q", ev.ISOEquipmentCode)
	}
	texts := []string{ev.EquipmentReference, ev.EmptyIndicator, ev.Description}
	if l := ev.Location; l != nil {
		texts = append(texts, l.UNLocode, l.Name)
	}
	if tc := ev.TransportCall; tc != nil {
		texts = append(texts, tc.VesselName, tc.VesselIMO, tc.Voyage, tc.ModeOfTransport)
	}
	ids := r.Identifiers
	for _, list := range [][]string{ids.Containers, ids.BillsOfLading, ids.Bookings} {
		if len(list) > maxIdentifiers {
			t.Fatalf("%d identifiers", len(list))
		}
		texts = append(texts, list...)
	}
	for _, s := range texts {
		if len(s) > dcsa.MaxTextLen || !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\n\r") {
			t.Fatalf("text %q: want at most %d bytes of valid UTF-8 without control characters", s, dcsa.MaxTextLen)
		}
	}
}
