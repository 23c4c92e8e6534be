package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/references"
)

func TestParseJSON(t *testing.T) {
	type target struct {
		Name  string            `json:"name"`
		Count int               `json:"count"`
		Tags  []string          `json:"tags"`
		Attrs map[string]string `json:"attrs"`
	}
	tests := []struct {
		name, body string
		allowEmpty bool
		code       string // empty: no error
		field      string
		inMessage  string
	}{
		{"object", `{"name":"a","count":2,"tags":["x"],"attrs":{"k":"v"}}`, false, "", "", ""},
		{"surrounding whitespace", " \n{\"name\":\"a\"}\r\n\t", false, "", "", ""},
		{"empty allowed", "  ", true, "", "", ""},
		{"empty refused", "", false, codeBadRequest, "", "empty"},
		{"unknown field", `{"nmae":"a"}`, false, codeBadRequest, "nmae", `unknown field "nmae"`},
		{"unknown field with quote", `{"a\"b":1}`, false, codeBadRequest, `a"b`, `unknown field`},
		{"int as string", `{"count":"2"}`, false, codeBadRequest, "count", "count must be an integer"},
		{"int overflow", `{"count":1e400}`, false, codeBadRequest, "count", "count must be"},
		{"bool into string", `{"name":true}`, false, codeBadRequest, "name", "name must be a string, not a JSON bool"},
		{"array element type", `{"tags":[1]}`, false, codeBadRequest, "tags", "tags must be a string"},
		{"map value type", `{"attrs":{"k":[]}}`, false, codeBadRequest, "attrs", "each value in attrs must be a string"},
		{"truncated", `{"name":"a"`, false, codeBadRequest, "", "malformed JSON"},
		{"bad token", `{name:"a"}`, false, codeBadRequest, "", "malformed JSON at byte 2"},
		{"two objects", `{}{}`, false, codeBadRequest, "", "after the JSON object"},
		{"trailing comma", `{},`, false, codeBadRequest, "", "after the JSON object"},
		{"string", `"x"`, false, codeBadRequest, "", "must be a JSON object"},
		{"number", `12`, false, codeBadRequest, "", "must be a JSON object"},
		{"null", `null`, true, codeBadRequest, "", "must be a JSON object"},
		{"invalid UTF-8", "{\"name\":\"\xff\xfe\"}", false, codeBadRequest, "", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v target
			err := parseJSON([]byte(tt.body), &v, tt.allowEmpty)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			e, ok := err.(*references.Error)
			if !ok {
				t.Fatalf("error %v (%T), want *references.Error", err, err)
			}
			if e.Code != tt.code || e.Field != tt.field || !strings.Contains(e.Message, tt.inMessage) {
				t.Errorf("got code %q field %q message %q; want %q, %q, containing %q", e.Code, e.Field, e.Message, tt.code, tt.field, tt.inMessage)
			}
		})
	}
}

// FuzzCreateReference posts arbitrary bodies to POST /references through the whole
// middleware stack: the answer is never a 5xx, never a panic, and a 201 always carries
// a reference the domain would accept as it is.
func FuzzCreateReference(f *testing.F) {
	seeds := []string{
		`{"container_id":"CSQU3054383","carrier_code":"MAEU"}`,
		`{"container_id":"msku 123456-5","carrier_code":"maeu","callback_url":"https://example.com/h","event_types":["shipment.updated"],"metadata":{"a":"b"},"poll_interval":"1h"}`,
		`{"bill_of_lading":"MAEU123456789","carrier_code":"MAEU","poll_interval":900}`,
		`{"booking_number":"BK123456","carrier_code":"HLCU","metadata":{"a":1}}`,
		`{"booking_number":"BK123456","carrier_code":"HLCU"} trailing`,
		`{"container_id":"CSQU3054383","carrier_code":"MAEU","unknown":true}`,
		`{"callback_url":"http://user:pw@[::1]:80/x"}`,
		`[]`, `null`, ``, `{`, `{"poll_interval":"9999999999h"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	b := setup(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/references", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+b.keyA)
		req.Header.Set("Content-Type", "application/json")
		b.e.ServeHTTP(rec, req)

		res := rec.Result()
		if res.StatusCode >= 500 {
			t.Fatalf("status %d for body %q: %s", res.StatusCode, body, rec.Body.String())
		}
		if res.StatusCode != http.StatusCreated {
			wantError(t, res, rec.Body.Bytes(), res.StatusCode, errorCodeOf(t, rec.Body.Bytes()), "")
			return
		}
		ref := decode[Reference](t, rec.Body.Bytes())
		checkValidReference(t, ref)
		// Free the identifier so later inputs can create it too.
		if _, err := b.svc.Unsubscribe(req.Context(), accountA, ref.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// errorCodeOf returns the code of an error body, for checks that accept any code.
func errorCodeOf(t *testing.T, body []byte) string {
	return decode[errorBody](t, body).Error.Code
}

// checkValidReference fails unless ref is what a successful create may return.
func checkValidReference(t *testing.T, ref Reference) {
	t.Helper()
	if !strings.HasPrefix(ref.ID, "ref_") || ref.AccountID != accountA || ref.Status != references.StatusActive {
		t.Fatalf("reference %+v", ref)
	}
	domain := references.Reference{ContainerID: ref.ContainerID, BillOfLading: ref.BillOfLading, BookingNumber: ref.BookingNumber}
	kind, value := domain.Identifier()
	var norm string
	var err error
	switch kind {
	case references.KindContainer:
		norm, err = references.NormalizeContainerID(value)
	default:
		norm, err = references.NormalizeDocumentNumber(string(kind), value)
	}
	if err != nil || norm != value {
		t.Fatalf("identifier %s %q is not valid and normalised: %v", kind, value, err)
	}
	set := 0
	for _, v := range []string{ref.ContainerID, ref.BillOfLading, ref.BookingNumber} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		t.Fatalf("%d identifiers set in %+v", set, ref)
	}
	if c, err := references.NormalizeCarrierCode(ref.CarrierCode); err != nil || c != ref.CarrierCode {
		t.Fatalf("carrier %q: %v", ref.CarrierCode, err)
	}
	if ref.CallbackURL != "" {
		if _, err := references.ValidateCallbackURL(ref.CallbackURL, false); err != nil {
			t.Fatalf("callback %q: %v", ref.CallbackURL, err)
		}
	}
	if _, err := references.ValidateEventTypes(ref.EventTypes); err != nil {
		t.Fatal(err)
	}
	if err := references.ValidateMetadata(ref.Metadata); err != nil {
		t.Fatal(err)
	}
}
