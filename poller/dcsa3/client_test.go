package dcsa3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/tracking"
	"github.com/trackhook/trackhook/webhook"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/dcsa3")

// setup returns a Client for a fake publisher, with cfg's other fields as given.
func setup(t *testing.T, cfg Config, opts ...Option) (*Client, *fakePublisher) {
	t.Helper()
	f := newFakePublisher(t)
	cfg.BaseURL = f.baseURL()
	c, err := New("MAEU", cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, f
}

func blRef() references.Reference {
	return references.Reference{ID: "ref_bl", BillOfLading: fixtureBL, CarrierCode: "MAEU"}
}

func containerRef(id string) references.Reference {
	return references.Reference{ID: "ref_c", ContainerID: id, CarrierCode: "MAEU"}
}

func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("..", "..", "testdata", "dcsa3", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("result differs from %s (run with -update if the change is intended):\n%s", path, got)
	}
}

// eventIDs lists the ids of events in order.
func eventIDs(events []references.Event) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

func TestClient_FetchesTheTransportDocumentAcrossPages(t *testing.T) {
	c, f := setup(t, Config{})

	got, err := c.Fetch(t.Context(), blRef())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}

	reqs := f.recorded()
	if len(reqs) != 3 {
		t.Fatalf("publisher got %d requests, want 3 (one per page, the last one empty)", len(reqs))
	}
	for i, wantCursor := range []string{"", "Y3Vyc29yOjI=", "Y3Vyc29yOjM="} {
		q := reqs[i].Query
		if got := q.Get("cursor"); got != wantCursor {
			t.Errorf("request %d: cursor %q, want %q", i+1, got, wantCursor)
		}
		// The spec: keep every original query parameter alongside the cursor.
		if q.Get("transportDocumentReference") != fixtureBL || q.Get("eventTypes") != "SHIPMENT,TRANSPORT,EQUIPMENT" {
			t.Errorf("request %d: query %v, want the filter and the event types on every page", i+1, q)
		}
		if q.Has("limit") {
			t.Errorf("request %d: limit sent without page_size", i+1)
		}
		if got := reqs[i].Header.Get("API-Version"); got != "3.0.0" {
			t.Errorf("request %d: API-Version %q, want 3.0.0", i+1, got)
		}
	}
	// Of 15 elements: the IoT and reefer events are left out, the estimated departure
	// is overridden by its actual, the planned arrival by the later estimate that came
	// first, and the discharge in Shanghai is retracted.
	want := []string{"shp-ABC709951-CONF", "eq-APZU4812090-GTOT-empty", "eq-APZU4812090-GTIN", "eq-APZU4812091-GTIN",
		"eq-APZU4812090-LOAD", "eq-APZU4812091-LOAD", "tr-2103S-CNSHA-DEPA", "shp-HHL71800000-ISSU", "tr-2103S-NLRTM-ARRI"}
	if fmt.Sprint(eventIDs(got.Events)) != fmt.Sprint(want) {
		t.Errorf("events:\n got %v\nwant %v", eventIDs(got.Events), want)
	}
	checkGolden(t, "bl_shipment.golden.json", webhook.NewShipment(tracking.Derive(got)))
}

func TestClient_SnapshotKeepsTheVersions(t *testing.T) {
	c, _ := setup(t, Config{})
	s, err := c.Snapshot(t.Context(), blRef())
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]Version{
		"tr-2103S-CNSHA-DEPA":       {UpdatedAt: time.Date(2025, 1, 14, 18, 35, 0, 0, time.UTC)},
		"tr-2103S-NLRTM-ARRI":       {UpdatedAt: time.Date(2025, 1, 20, 0, 0, 0, 0, time.UTC)},
		"eq-APZU4812090-DISC-CNSHA": {UpdatedAt: time.Date(2025, 1, 12, 8, 0, 0, 0, time.UTC), Retracted: true},
	}
	for id, want := range tests {
		if got := s.Versions[id]; got != want {
			t.Errorf("version of %s = %+v, want %+v", id, got, want)
		}
	}
	if len(s.Versions) != 10 {
		t.Errorf("%d versions, want the 9 events and the retraction", len(s.Versions))
	}
}

func TestClient_FilterParameterPerIdentifierKind(t *testing.T) {
	tests := []struct {
		name    string
		ref     references.Reference
		param   string
		value   string
		wantIDs int
	}{
		{"container", containerRef(fixtureContainer), "equipmentReference", fixtureContainer, 7},
		{"other container of the document", containerRef(fixtureContainer2), "equipmentReference", fixtureContainer2, 6},
		{"bill of lading", blRef(), "transportDocumentReference", fixtureBL, 9},
		{"booking", references.Reference{BookingNumber: fixtureBooking, CarrierCode: "MAEU"}, "carrierBookingReference", fixtureBooking, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, f := setup(t, Config{PageSize: 50})
			got, err := c.Fetch(t.Context(), tt.ref)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			q := f.recorded()[0].Query
			if q.Get(tt.param) != tt.value || q.Get("limit") != "50" || len(q) != 3 {
				t.Errorf("query %v: want %s=%s, eventTypes and limit=50", q, tt.param, tt.value)
			}
			if len(got.Events) != tt.wantIDs {
				t.Errorf("%d events %v, want %d", len(got.Events), eventIDs(got.Events), tt.wantIDs)
			}
			if tt.ref.ContainerID != "" {
				for _, e := range got.Events {
					if e.EquipmentReference != "" && e.EquipmentReference != tt.ref.ContainerID {
						t.Errorf("event %s of container %s kept", e.ID, e.EquipmentReference)
					}
				}
			}
		})
	}
}

func TestClient_ContainerOfAnotherShipmentIsNotFound(t *testing.T) {
	c, f := setup(t, Config{})
	f.events = func(w http.ResponseWriter, r *http.Request) { serveFile(t, w, "bl_page2.json") }
	_, err := c.Fetch(t.Context(), containerRef("MSKU7261948"))
	if !errors.Is(err, references.ErrShipmentNotFound) || !strings.Contains(err.Error(), "only for other containers") {
		t.Fatalf("err = %v, want not found: only other containers' events", err)
	}
}

func TestClient_SendsStaticAuthHeaders(t *testing.T) {
	f := newFakePublisher(t)
	f.requireHeader = [2]string{"X-API-Key", "ct-api-key-1"}
	c, err := New("MAEU", Config{Config: dcsa.Config{BaseURL: f.baseURL(), Auth: dcsa.Auth{Headers: map[string]string{"X-API-Key": "ct-api-key-1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(t.Context(), blRef()); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	for i, r := range f.recorded() {
		if r.Header.Get("X-API-Key") != "ct-api-key-1" {
			t.Errorf("request %d without the key", i+1)
		}
	}

	wrong, err := New("MAEU", Config{Config: dcsa.Config{BaseURL: f.baseURL(), Auth: dcsa.Auth{Headers: map[string]string{"X-API-Key": "ct-api-key-2"}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Fetch(t.Context(), blRef())
	if !errors.Is(err, references.ErrSourceBadRequest) || err.Error() != "dcsa-ct MAEU: carrier answered 401: ERROR: missing or unknown X-API-Key" {
		t.Errorf("err = %v, want the 401 with its feedback", err)
	}
	if strings.Contains(err.Error(), "ct-api-key-2") {
		t.Errorf("the error shows the key: %v", err)
	}
}

func TestClient_OAuth2(t *testing.T) {
	f := newFakePublisher(t)
	f.requireBearer = "ct-token-1"
	cfg := func(secret string) Config {
		return Config{Config: dcsa.Config{BaseURL: f.baseURL(), Auth: dcsa.Auth{OAuth2: &dcsa.OAuth2{
			TokenURL: f.srv.URL + "/oauth/token", ClientID: "trackhook", ClientSecret: secret}}}}
	}
	c, err := New("MAEU", cfg("ct-client-secret"), WithClock(clock.NewFake(time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC))))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Fetch(t.Context(), blRef()); err != nil {
			t.Fatalf("Fetch: %v", err)
		}
	}
	if f.tokenRequests != 1 {
		t.Errorf("%d token requests for 6 pages, want 1 (cached)", f.tokenRequests)
	}

	bad, err := New("MAEU", cfg("not-the-secret"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Fetch(t.Context(), blRef())
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || strings.Contains(err.Error(), "not-the-secret") {
		t.Errorf("err = %v, want the token endpoint's refusal without the secret", err)
	}
}

func TestClient_ErrorResponses(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 3, 20, 10, 0, 0, 0, time.UTC))
	tests := []struct {
		name          string
		handler       http.HandlerFunc
		want          string // the whole error text
		wantNotFound  bool
		wantKind      error
		wantRetryWait time.Duration
	}{
		{
			name:     "400 with feedback elements, errors first",
			handler:  fileHandler(t, 400, "error_400.json"),
			want:     "dcsa-ct MAEU: carrier answered 400: ERROR: The cursor has expired (at cursor); WARN: eventUpdatedDateTimeMin is ignored",
			wantKind: references.ErrSourceBadRequest,
		},
		{
			name:     "403 without a body",
			handler:  bodyHandler(403, ""),
			want:     "dcsa-ct MAEU: carrier answered 403 Forbidden",
			wantKind: references.ErrSourceBadRequest,
		},
		{
			name: "404 from the API",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeFeedback(w, 404, "ERROR", "unknown transport document")
			},
			want:         "dcsa-ct MAEU: carrier answered 404: ERROR: unknown transport document: shipment not found at the source",
			wantNotFound: true,
		},
		{
			name: "404 page of a web server",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(404)
				fmt.Fprint(w, "<html><body>Not Found</body></html>")
			},
			want:     "dcsa-ct MAEU: carrier answered 404 Not Found (not an answer of a DCSA API: check base_url)",
			wantKind: references.ErrSourceBadRequest,
		},
		{
			name:         "no events",
			handler:      bodyHandler(200, `{"events": []}`),
			want:         "dcsa-ct MAEU: no events for transportDocumentReference HHL71800000: shipment not found at the source",
			wantNotFound: true,
		},
		{
			name:         "only IoT events",
			handler:      bodyHandler(200, `{"events": [{"eventID": "i", "eventClassification": {"eventTypeCode": "IOT"}}]}`),
			want:         "dcsa-ct MAEU: no events for transportDocumentReference HHL71800000: shipment not found at the source",
			wantNotFound: true,
		},
		{
			name: "every event retracted",
			handler: bodyHandler(200, `{"events": [{"eventID": "a", "eventDateTime": "2025-01-01T00:00:00Z",
				"eventClassification": {"eventTypeCode": "SHIPMENT", "eventClassifierCode": "ACT", "shipmentEventTypeCode": "CONF"}},
				{"eventID": "a", "isRetracted": true}]}`),
			want:         "dcsa-ct MAEU: no events for transportDocumentReference HHL71800000: shipment not found at the source",
			wantNotFound: true,
		},
		{
			name: "429 with Retry-After",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "30")
				writeFeedback(w, 429, "ERROR", "slow down")
			},
			want:          "dcsa-ct MAEU: carrier answered 429: ERROR: slow down (retry after 30s)",
			wantKind:      references.ErrSourceRateLimited,
			wantRetryWait: 30 * time.Second,
		},
		{
			name: "503 with a Retry-After date",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "Thu, 20 Mar 2025 10:02:00 GMT")
				w.WriteHeader(503)
			},
			want:          "dcsa-ct MAEU: carrier answered 503 Service Unavailable (retry after 2m0s)",
			wantKind:      references.ErrSourceUnavailable,
			wantRetryWait: 2 * time.Minute,
		},
		{
			name:     "500 with feedback",
			handler:  func(w http.ResponseWriter, r *http.Request) { writeFeedback(w, 500, "ERROR", "database down") },
			want:     "dcsa-ct MAEU: carrier answered 500: ERROR: database down",
			wantKind: references.ErrSourceUnavailable,
		},
		{
			name:     "a bare array, as T&T 2.2 sent",
			handler:  bodyHandler(200, `[1]`),
			want:     "dcsa-ct MAEU: none of the 1 events could be used: event 1: json: cannot unmarshal number into Go value of type dcsa3.wireEvent",
			wantKind: references.ErrSourceBadAnswer,
		},
		{
			name:     "not JSON",
			handler:  bodyHandler(200, `{"events": [`),
			want:     "dcsa-ct MAEU: malformed JSON: unexpected end of the body",
			wantKind: references.ErrSourceBadAnswer,
		},
		{
			name:     "events not an array",
			handler:  bodyHandler(200, `{"events": {"eventID": "x"}}`),
			want:     `dcsa-ct MAEU: malformed body: "events" is not an array`,
			wantKind: references.ErrSourceBadAnswer,
		},
		{
			name: "every event unusable",
			handler: bodyHandler(200, `{"events": [{"eventID": "x", "eventDateTime": "2025-01-01T00:00:00Z"},
				{"eventClassification": {"eventTypeCode": "TRANSPORT", "eventClassifierCode": "ACT", "transportEventTypeCode": "ARRI"}, "eventDateTime": "yesterday"}]}`),
			want:     `dcsa-ct MAEU: none of the 2 events could be used: event 1: no eventClassification; event 2: eventDateTime: "yesterday" is not an RFC 3339 date-time`,
			wantKind: references.ErrSourceBadAnswer,
		},
		{
			name:     "a 204",
			handler:  bodyHandler(204, ""),
			want:     "dcsa-ct MAEU: carrier answered 204 No Content",
			wantKind: references.ErrSourceBadAnswer,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, Config{}, WithClock(clk))
			f.events = tt.handler
			_, err := c.Fetch(t.Context(), blRef())
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %q\nwant %q", err, tt.want)
			}
			if got := errors.Is(err, references.ErrShipmentNotFound); got != tt.wantNotFound {
				t.Errorf("not found = %v, want %v", got, tt.wantNotFound)
			}
			if tt.wantKind != nil && !errors.Is(err, tt.wantKind) {
				t.Errorf("kind: %v is not %v", err, tt.wantKind)
			}
			var se *references.SourceError
			if errors.As(err, &se) && se.RetryAfter != tt.wantRetryWait {
				t.Errorf("retry after %v, want %v", se.RetryAfter, tt.wantRetryWait)
			}
		})
	}
}

func bodyHandler(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func fileHandler(t *testing.T, status int, name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dcsa3", name))
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}
}

func TestClient_PaginationGuards(t *testing.T) {
	event := func(id string) string {
		return fmt.Sprintf(`{"eventID": %q, "eventDateTime": "2025-01-01T00:00:00Z",
			"eventClassification": {"eventTypeCode": "SHIPMENT", "eventClassifierCode": "ACT", "shipmentEventTypeCode": "CONF"}}`, id)
	}
	tests := []struct {
		name    string
		cfg     Config
		handler http.HandlerFunc
		want    string
		kind    error
	}{
		{
			name: "endless pages",
			cfg:  Config{Config: dcsa.Config{MaxPages: 3}},
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Next-Page-Cursor", "c"+r.URL.Query().Get("cursor"))
				fmt.Fprintf(w, `{"events": [%s]}`, event("e"+r.URL.Query().Get("cursor")))
			},
			want: "dcsa-ct MAEU: more than 3 pages (max_pages): the server keeps paginating",
			kind: references.ErrSourceBadAnswer,
		},
		{
			name: "the same cursor twice",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Next-Page-Cursor", "again")
				fmt.Fprintf(w, `{"events": [%s]}`, event("e"))
			},
			want: "dcsa-ct MAEU: the server sent the same Next-Page-Cursor twice",
			kind: references.ErrSourceBadAnswer,
		},
		{
			name: "too many events across pages",
			cfg:  Config{Config: dcsa.Config{MaxEvents: 3}},
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("cursor") == "" {
					w.Header().Set("Next-Page-Cursor", "2")
				}
				fmt.Fprintf(w, `{"events": [%s, %s]}`, event("a"+r.URL.Query().Get("cursor")), event("b"+r.URL.Query().Get("cursor")))
			},
			want: "dcsa-ct MAEU: more than 3 events (max_events): the server keeps sending",
			kind: references.ErrSourceBadAnswer,
		},
		{
			name: "a body too large",
			cfg:  Config{Config: dcsa.Config{MaxBodyBytes: 200}},
			handler: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"events": [%s, %s]}`, event("a"), event("b"))
			},
			want: "dcsa-ct MAEU: response body over 200 bytes (max_body_bytes)",
			kind: references.ErrSourceBadAnswer,
		},
		{
			name: "a later page not found",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("cursor") != "" {
					writeFeedback(w, 404, "ERROR", "cursor expired")
					return
				}
				w.Header().Set("Next-Page-Cursor", "2")
				fmt.Fprintf(w, `{"events": [%s]}`, event("a"))
			},
			want: "dcsa-ct MAEU: page 2: carrier answered 404: ERROR: cursor expired: shipment not found at the source",
			kind: references.ErrSourceBadAnswer,
		},
		{
			name: "a later page failing",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("cursor") != "" {
					w.WriteHeader(502)
					return
				}
				w.Header().Set("Next-Page-Cursor", "2")
				fmt.Fprintf(w, `{"events": [%s]}`, event("a"))
			},
			want: "dcsa-ct MAEU: page 2: carrier answered 502 Bad Gateway",
			kind: references.ErrSourceUnavailable,
		},
		{
			name: "a cursor too long",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Next-Page-Cursor", strings.Repeat("c", 3000))
				fmt.Fprintf(w, `{"events": [%s]}`, event("a"))
			},
			want: "dcsa-ct MAEU: the Next-Page-Cursor header is over 2048 bytes",
			kind: references.ErrSourceBadAnswer,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, tt.cfg)
			f.events = tt.handler
			_, err := c.Fetch(t.Context(), blRef())
			if err == nil || err.Error() != tt.want || !errors.Is(err, tt.kind) {
				t.Errorf("err = %v\nwant %q, %v", err, tt.want, tt.kind)
			}
			if errors.Is(err, references.ErrShipmentNotFound) {
				t.Errorf("%v counts as not found", err)
			}
		})
	}
}

func TestClient_CursorIsSentBackAsGiven(t *testing.T) {
	c, f := setup(t, Config{})
	const cursor = "a/b+c=?&d" // base64 and query characters, not a URL to follow
	f.events = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "" {
			w.Header().Set("Next-Page-Cursor", cursor)
		}
		fmt.Fprint(w, `{"events": [{"eventID": "a", "eventDateTime": "2025-01-01T00:00:00Z",
			"eventClassification": {"eventTypeCode": "SHIPMENT", "eventClassifierCode": "ACT", "shipmentEventTypeCode": "CONF"}}]}`)
	}
	if _, err := c.Fetch(t.Context(), blRef()); err != nil {
		t.Fatal(err)
	}
	reqs := f.recorded()
	if len(reqs) != 2 || reqs[1].Query.Get("cursor") != cursor {
		t.Errorf("requests %v, want the second with cursor %q", reqs, cursor)
	}
}

func TestClient_CheckReference(t *testing.T) {
	c, _ := setup(t, Config{})
	tests := []struct {
		ref  references.Reference
		want string
	}{
		{containerRef(fixtureContainer), ""},
		{references.Reference{BookingNumber: fixtureBooking}, ""},
		{references.Reference{BillOfLading: strings.Repeat("B", 100)}, ""},
		{references.Reference{CarrierCode: "MAEU", BillOfLading: strings.Repeat("B", 101)},
			"carrier MAEU is tracked through its DCSA Container Tracking 3.0 API, whose events hold a bill of lading number (transportDocumentReference) of at most 100 characters; this one has 101"},
		{references.Reference{CarrierCode: "MAEU", ContainerID: "MSKU12345678"},
			"carrier MAEU is tracked through its DCSA Container Tracking 3.0 API, whose events hold a container number (equipmentReference) of at most 11 characters; this one has 12"},
		{references.Reference{}, "the reference has no identifier"},
	}
	for _, tt := range tests {
		err := c.CheckReference(tt.ref)
		if got := errText(err); got != tt.want {
			t.Errorf("CheckReference(%+v) = %q, want %q", tt.ref, got, tt.want)
		}
	}
	// Fetch does not ask for what CheckReference refuses.
	_, err := c.Fetch(t.Context(), references.Reference{CarrierCode: "MAEU", ContainerID: "MSKU12345678"})
	if !errors.Is(err, references.ErrSourceBadRequest) {
		t.Errorf("Fetch: %v, want a bad request", err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestClient_HonoursContextCancellation(t *testing.T) {
	c, f := setup(t, Config{})
	arrived := make(chan struct{})
	f.events = func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.Fetch(ctx, blRef())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var se *references.SourceError
	if errors.As(err, &se) {
		t.Errorf("err = %v is a %v: a cancelled poll is nobody's fault", err, se.Kind)
	}
}

// TestClient_LimitsAreDcsas checks that the limits of the carrier block hold: they
// are poller/dcsa's, tested there in depth.
func TestClient_LimitsAreDcsas(t *testing.T) {
	c, f := setup(t, Config{Config: dcsa.Config{MaxConcurrency: 1, RequestsPerSecond: 0.001}})
	arrived := make(chan struct{})
	release := make(chan struct{})
	f.events = func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		fmt.Fprint(w, `{"events": []}`)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Fetch(t.Context(), blRef())
		done <- err
	}()
	<-arrived
	// The one slot is taken: a fetch that cannot wait fails without reaching the server.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Fetch(ctx, blRef())
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "max_concurrency 1") {
		t.Errorf("err = %v, want it to give up waiting for a slot", err)
	}
	close(release)
	if err := <-done; !errors.Is(err, references.ErrShipmentNotFound) {
		t.Errorf("Fetch: %v", err)
	}
	// The slot is free, the rate is spent: one request per 1000 s.
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = c.Fetch(ctx, blRef())
	if err == nil || !strings.Contains(err.Error(), "waiting for the rate limit (requests_per_second 0.001)") {
		t.Errorf("err = %v, want a rate limit error", err)
	}
	if n := len(f.recorded()); n != 1 {
		t.Errorf("publisher got %d requests, want 1", n)
	}
}

func TestClient_ErrorAnswersDoNotRepeatCredentials(t *testing.T) {
	c, f := setup(t, Config{Config: dcsa.Config{Auth: dcsa.Auth{Headers: map[string]string{"X-API-Key": "ct-api-key-secret"}}}})
	f.events = func(w http.ResponseWriter, r *http.Request) {
		writeFeedback(w, 403, "ERROR", "key "+r.Header.Get("X-API-Key")+" is not allowed for this document")
	}
	_, err := c.Fetch(t.Context(), blRef())
	if err == nil || strings.Contains(err.Error(), "ct-api-key-secret") ||
		err.Error() != "dcsa-ct MAEU: carrier answered 403: ERROR: key [redacted] is not allowed for this document" {
		t.Errorf("err = %v, want the feedback with the key redacted", err)
	}
}
