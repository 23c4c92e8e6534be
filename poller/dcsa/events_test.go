package dcsa

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trackhook/trackhook/references"
)

func TestParseEvents_MapsEachEvent(t *testing.T) {
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		json string
		want references.Event
	}{
		{
			name: "equipment event with its own location",
			json: `{"eventID": "e1", "eventType": "EQUIPMENT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T18:00:00+08:00",
				"eventCreatedDateTime": "2024-03-05T18:05:00+08:00", "equipmentEventTypeCode": "LOAD", "equipmentReference": "MSKU7261948", "ISOEquipmentCode": " 45g1", "emptyIndicatorCode": "LADEN",
				"eventLocation": {"locationName": "Yangshan", "UNLocationCode": "CNSHA"},
				"transportCall": {"transportCallID": "tc", "modeOfTransport": "VESSEL", "exportVoyageNumber": "412W", "importVoyageNumber": "412E",
					"UNLocationCode": "CNSGH", "vessel": {"vesselIMONumber": "9784207", "vesselName": "NORDIC HORIZON"}}}`,
			want: references.Event{ID: "e1", Type: "EQUIPMENT", Classifier: "ACT", Code: "LOAD", Time: at, RevisedAt: at.Add(5 * time.Minute),
				Location:           &references.Location{UNLocode: "CNSHA", Name: "Yangshan"},
				TransportCall:      &references.TransportCall{VesselName: "NORDIC HORIZON", VesselIMO: "9784207", Voyage: "412W", ModeOfTransport: "VESSEL"},
				EquipmentReference: "MSKU7261948", ISOEquipmentCode: "45G1", EmptyIndicator: "LADEN"},
		},
		{
			name: "transport event located by its transport call",
			json: `{"eventType": "TRANSPORT", "eventClassifierCode": "EST", "eventDateTime": "2024-03-05T10:00:00Z", "transportEventTypeCode": "ARRI",
				"transportCall": {"modeOfTransport": "VESSEL", "carrierVoyageNumber": "237N", "UNLocationCode": "NLRTM",
					"location": {"locationName": "Maasvlakte II"}, "vessel": {"vesselIMONumber": 9632155}}}`,
			want: references.Event{Type: "TRANSPORT", Classifier: "EST", Code: "ARRI", Time: at,
				Location:      &references.Location{UNLocode: "NLRTM", Name: "Maasvlakte II"},
				TransportCall: &references.TransportCall{VesselIMO: "9632155", Voyage: "237N", ModeOfTransport: "VESSEL"}},
		},
		{
			name: "v3 voyage spelling",
			json: `{"eventType": "TRANSPORT", "eventClassifierCode": "PLN", "eventDateTime": "2024-03-05T10:00:00Z", "transportEventTypeCode": "DEPA",
				"transportCall": {"carrierImportVoyageNumber": "9E", "carrierExportVoyageNumber": "9W"}}`,
			want: references.Event{Type: "TRANSPORT", Classifier: "PLN", Code: "DEPA", Time: at,
				TransportCall: &references.TransportCall{Voyage: "9W"}},
		},
		{
			name: "deprecated eventTypeCode, time without seconds, unknown fields, a size and type that is not ISO's, a creation time that does not parse",
			json: `{"eventType": "EQUIPMENT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T11:00+01:00", "eventTypeCode": "GTIN",
				"eventCreatedDateTime": "yesterday",
				"emptyIndicatorCode": "HALF", "ISOEquipmentCode": "40ft HC", "seals": [{"sealNumber": "1"}], "x-carrier": {"deep": [1, 2, {"a": null}]}}`,
			want: references.Event{Type: "EQUIPMENT", Classifier: "ACT", Code: "GTIN", Time: at},
		},
		{
			name: "shipment event",
			json: `{"eventID": "s1", "eventType": "SHIPMENT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T10:00:00.000Z",
				"shipmentEventTypeCode": "ISSU", "documentTypeCode": "TRD", "documentID": "MAEU1"}`,
			want: references.Event{ID: "s1", Type: "SHIPMENT", Classifier: "ACT", Code: "ISSU", Time: at, Description: "Transport document issued"},
		},
		{
			name: "control characters and invalid UTF-8 cleaned",
			json: `{"eventType": "EQUIPMENT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T10:00:00Z", "equipmentEventTypeCode": "GTOT",
				"eventLocation": {"locationName": "  Port\u0000of\nX\u00ff  "}}`,
			want: references.Event{Type: "EQUIPMENT", Classifier: "ACT", Code: "GTOT", Time: at,
				Location: &references.Location{Name: "Port of X\u00ff"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseEvents(strings.NewReader("["+tt.json+"]"), 10)
			if err != nil {
				t.Fatalf("parseEvents: %v", err)
			}
			if len(p.events) != 1 {
				t.Fatalf("got %d events (skipped: %v), want 1", len(p.events), p.skipped)
			}
			assertEvent(t, p.events[0], tt.want)
		})
	}
}

func assertEvent(t *testing.T, got, want references.Event) {
	t.Helper()
	if !got.Time.Equal(want.Time) || got.Time.Location() != time.UTC {
		t.Errorf("Time = %v, want %v in UTC", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if g, w := describeEvent(got), describeEvent(want); g != w {
		t.Errorf("event:\n got %s\nwant %s", g, w)
	}
}

func describeEvent(e references.Event) string {
	var loc, tc string
	if e.Location != nil {
		loc = e.Location.UNLocode + "/" + e.Location.Name
	}
	if e.TransportCall != nil {
		tc = strings.Join([]string{e.TransportCall.VesselName, e.TransportCall.VesselIMO, e.TransportCall.Voyage, e.TransportCall.ModeOfTransport}, "/")
	}
	var revised string
	if !e.RevisedAt.IsZero() {
		revised = e.RevisedAt.Format(time.RFC3339Nano)
		if e.RevisedAt.Location() != time.UTC {
			revised += " (not UTC)"
		}
	}
	return strings.Join([]string{e.ID, string(e.Type), string(e.Classifier), e.Code, "revised=" + revised, "loc=" + loc, "tc=" + tc,
		e.EquipmentReference, e.ISOEquipmentCode, e.EmptyIndicator, e.Description}, " | ")
}

func TestParseEvents_SkipsUnusableEvents(t *testing.T) {
	good := `{"eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T10:00:00Z", "transportEventTypeCode": "ARRI"}`
	tests := []struct {
		name       string
		json       string
		wantReason string
	}{
		{"no type", `{"eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T10:00:00Z", "transportEventTypeCode": "ARRI"}`, "no eventType"},
		{"unknown type", `{"eventType": "OPERATIONS", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T10:00:00Z"}`, `unsupported eventType "OPERATIONS"`},
		{"bad classifier", `{"eventType": "TRANSPORT", "eventClassifierCode": "REQ", "eventDateTime": "2024-03-05T10:00:00Z", "transportEventTypeCode": "ARRI"}`, `eventClassifierCode "REQ" is not PLN, EST or ACT`},
		{"no code", `{"eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T10:00:00Z", "equipmentEventTypeCode": "LOAD"}`, "no transportEventTypeCode"},
		{"code that is not a code", `{"eventType": "EQUIPMENT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T10:00:00Z", "equipmentEventTypeCode": "<script>"}`, `equipmentEventTypeCode "<script>" is not a code`},
		{"no time", `{"eventType": "TRANSPORT", "eventClassifierCode": "ACT", "transportEventTypeCode": "ARRI"}`, "eventDateTime: missing"},
		{"time without zone", `{"eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T10:00:00", "transportEventTypeCode": "ARRI"}`, `eventDateTime: "2024-03-05T10:00:00" is not an RFC 3339 date-time`},
		{"time out of range", `{"eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": "0001-01-01T00:00:00Z", "transportEventTypeCode": "ARRI"}`, "out of range"},
		{"object where a string belongs", `{"eventType": {"x": 1}, "eventClassifierCode": "ACT"}`, "expected a string"},
		{"array where an object belongs", `{"eventType": "TRANSPORT", "transportCall": [1, 2]}`, "cannot unmarshal array"},
		{"not an object", `"hello"`, "cannot unmarshal string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseEvents(strings.NewReader("["+tt.json+","+good+"]"), 10)
			if err != nil {
				t.Fatalf("parseEvents: %v", err)
			}
			if len(p.events) != 1 || p.total != 2 || p.nSkip != 1 {
				t.Fatalf("events %d, total %d, skipped %d: want the good one kept and the bad one skipped", len(p.events), p.total, p.nSkip)
			}
			if !strings.HasPrefix(p.skipped[0], "event 1: ") || !strings.Contains(p.skipped[0], tt.wantReason) {
				t.Errorf("reason %q, want it to contain %q", p.skipped[0], tt.wantReason)
			}
		})
	}
}

func TestParseEvents_Body(t *testing.T) {
	deep := strings.Repeat(`{"a":[`, 20000) + strings.Repeat(`]}`, 20000)
	tests := []struct {
		name      string
		body      string
		max       int
		wantErr   string // empty: no error
		wantTotal int
	}{
		{"empty array", `[]`, 10, "", 0},
		{"null", ` null `, 10, "", 0},
		{"object", `{}`, 10, "expected a JSON array of events", 0},
		{"string", `"x"`, 10, "expected a JSON array of events", 0},
		{"empty body", ``, 10, "malformed JSON: unexpected end of the body", 0},
		{"cut short", `[{"eventType": "TRAN`, 10, "malformed JSON", 0},
		{"trailing data", `[] []`, 10, "data after the event array", 0},
		{"syntax error inside", `[{"a": 1,}]`, 10, "malformed JSON", 0},
		{"deep nesting in an event", `[` + deep + `]`, 10, "malformed JSON", 0},
		{"deep nesting in an unknown field", `[{"x": ` + deep + `}]`, 10, "malformed JSON", 0},
		{"more events than allowed", `[{}, {}, {}]`, 2, errTooManyEvents.Error(), 0},
		{"exactly the allowed events", `[{}, {}]`, 2, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseEvents(strings.NewReader(tt.body), tt.max)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseEvents: %v", err)
				}
				if p.total != tt.wantTotal {
					t.Errorf("total %d, want %d", p.total, tt.wantTotal)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseEvents_CutsHugeStrings(t *testing.T) {
	huge := strings.Repeat("é", 1<<20) // 2 MiB
	body := `[{"eventID": "` + huge + `", "eventType": "EQUIPMENT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T10:00:00Z",
		"equipmentEventTypeCode": "LOAD", "eventLocation": {"locationName": "` + huge + `"}, "reason": "` + huge + `"}]`
	p, err := parseEvents(strings.NewReader(body), 10)
	if err != nil {
		t.Fatal(err)
	}
	ev := p.events[0]
	if len(ev.ID) > maxIDLen || len(ev.Location.Name) > maxTextLen || !utf8.ValidString(ev.Location.Name) {
		t.Errorf("lengths %d, %d: want at most %d and %d, valid UTF-8", len(ev.ID), len(ev.Location.Name), maxIDLen, maxTextLen)
	}
	if len(ev.Location.Name) < maxTextLen-1 {
		t.Errorf("name cut to %d bytes, want close to %d", len(ev.Location.Name), maxTextLen)
	}
}

func TestLimitedReader_FailsPastTheLimit(t *testing.T) {
	r := &limitedReader{r: strings.NewReader("[1,2,3]"), left: 4}
	_, err := parseEvents(r, 10)
	if !errors.Is(err, errBodyTooLarge) {
		t.Fatalf("err = %v, want errBodyTooLarge", err)
	}
	r = &limitedReader{r: strings.NewReader("[]"), left: 2}
	if _, err := parseEvents(r, 10); err != nil {
		t.Fatalf("a body of exactly the limit: %v", err)
	}
}

func FuzzParseEvents(f *testing.F) {
	for _, name := range []string{"container_page1.json", "container_page3.json", "booking_events.json", "error_401.json"} {
		body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dcsa", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte(`[{"eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T10:00+01:00", "eventTypeCode": "ARRI", "transportCall": {"vessel": {"vesselIMONumber": 1e400}}}]`))
	f.Add([]byte(`[{"eventType": "EQUIPMENT", "eventLocation": {"locationName": [1]}}, null, 1, "x"]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[[[[[[[[]]]]]]]]`))
	const max = 50
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseEvents(strings.NewReader(string(body)), max)
		if err != nil {
			return
		}
		if p.total > max || len(p.events)+p.nSkip != p.total || len(p.skipped) > maxSkipReasons {
			t.Fatalf("counts: total %d, events %d, skipped %d (%d reasons)", p.total, len(p.events), p.nSkip, len(p.skipped))
		}
		for _, ev := range p.events {
			checkEventInvariants(t, ev)
		}
	})
}

// checkEventInvariants asserts what every parsed event promises the poller.
func checkEventInvariants(t *testing.T, ev references.Event) {
	t.Helper()
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
	if ev.ISOEquipmentCode != "" && isoEquipmentCode(ev.ISOEquipmentCode) != ev.ISOEquipmentCode {
		t.Fatalf("ISO equipment code %q", ev.ISOEquipmentCode)
	}
	texts := []string{ev.ID, ev.EquipmentReference, ev.EmptyIndicator, ev.Description}
	if l := ev.Location; l != nil {
		texts = append(texts, l.UNLocode, l.Name)
	}
	if tc := ev.TransportCall; tc != nil {
		texts = append(texts, tc.VesselName, tc.VesselIMO, tc.Voyage, tc.ModeOfTransport)
	}
	for _, s := range texts {
		if len(s) > maxTextLen || !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\n\r") {
			t.Fatalf("text %q: want at most %d bytes of valid UTF-8 without control characters", s, maxTextLen)
		}
	}
}

func TestClean_DropsInvisibleFormatCharacters(t *testing.T) {
	// U+202E reverses the text after it on screen; U+200B is invisible.
	got := clean("ROTTER\u202eMAD\u200b\tPORT\x00", 256)
	if got != "ROTTERMAD PORT " {
		t.Fatalf("clean = %q", got)
	}
}
