package dcsa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/dcsa")

// setup returns a Client for the fake server with cfg's other fields as given.
func setup(t *testing.T, cfg Config, opts ...Option) (*Client, *fakeDCSA) {
	t.Helper()
	f := newFakeDCSA(t)
	cfg.BaseURL = f.baseURL()
	c, err := New("MAEU", cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, f
}

func containerRef(id string) references.Reference {
	return references.Reference{ID: "ref_1", ContainerID: id, CarrierCode: "MAEU"}
}

func TestClient_FetchesContainerJourneyAcrossPages(t *testing.T) {
	c, f := setup(t, Config{})

	got, err := c.Fetch(t.Context(), containerRef(fixtureContainer))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}

	reqs := f.recorded()
	if len(reqs) != 3 {
		t.Fatalf("server got %d requests, want 3 (one per page)", len(reqs))
	}
	for i, wantCursor := range []string{"", "Y3Vyc29yOjI=", "Y3Vyc29yOjM="} {
		if got := reqs[i].Query.Get("cursor"); got != wantCursor {
			t.Errorf("request %d: cursor %q, want %q", i+1, got, wantCursor)
		}
		if got := reqs[i].Query.Get("equipmentReference"); got != fixtureContainer {
			t.Errorf("request %d: equipmentReference %q, want it on every page", i+1, got)
		}
		if got := reqs[i].Header.Get("API-Version"); got != "2" {
			t.Errorf("request %d: API-Version %q, want 2", i+1, got)
		}
	}
	if len(got.Events) != 15 {
		t.Errorf("got %d events, want the 15 of the three pages", len(got.Events))
	}
	checkGolden(t, "container_shipment.golden.json", webhook.NewShipment(got))
}

func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("..", "..", "testdata", "dcsa", name)
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

func TestClient_FilterParameterPerIdentifierKind(t *testing.T) {
	tests := []struct {
		name      string
		ref       references.Reference
		param     string
		value     string
		wantCodes []string // the event codes, in order
	}{
		{"container", references.Reference{ContainerID: fixtureContainer}, "equipmentReference", fixtureContainer, nil},
		{"bill of lading", references.Reference{BillOfLading: fixtureBL}, "transportDocumentReference", fixtureBL, nil},
		{"booking", references.Reference{BookingNumber: fixtureBooking}, "carrierBookingReference", fixtureBooking,
			[]string{"RECE", "CONF", "RECE", "PENU", "APPR", "ISSU"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, f := setup(t, Config{})
			got, err := c.Fetch(t.Context(), tt.ref)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			q := f.recorded()[0].Query
			if q.Get(tt.param) != tt.value {
				t.Errorf("query %v: want %s=%s", q, tt.param, tt.value)
			}
			if len(q) != 1 {
				t.Errorf("query %v: want only the %s filter", q, tt.param)
			}
			if tt.wantCodes != nil {
				var codes []string
				for _, ev := range got.Events {
					codes = append(codes, ev.Code)
				}
				if fmt.Sprint(codes) != fmt.Sprint(tt.wantCodes) {
					t.Errorf("codes %v, want %v", codes, tt.wantCodes)
				}
			}
		})
	}
}

func TestClient_DescribesShipmentEvents(t *testing.T) {
	c, _ := setup(t, Config{})
	got, err := c.Fetch(t.Context(), references.Reference{BookingNumber: fixtureBooking})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	want := []string{
		"Booking request received",
		"Booking confirmed",
		"Shipping instruction received",
		"Shipping instruction pending update: Consignee address is incomplete",
		"Shipping instruction approved",
		"Transport document issued",
	}
	for i, ev := range got.Events {
		if ev.Type != references.EventShipment || ev.Description != want[i] {
			t.Errorf("event %d: %s %q, want SHIPMENT %q", i, ev.Type, ev.Description, want[i])
		}
	}
}

func TestClient_SendsStaticAuthHeaders(t *testing.T) {
	t.Run("with the key", func(t *testing.T) {
		c, f := setup(t, Config{Auth: Auth{Headers: map[string]string{"Consumer-Key": "k-123"}}})
		f.requireHeader = [2]string{"Consumer-Key", "k-123"}
		if _, err := c.Fetch(t.Context(), containerRef(fixtureContainer)); err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		for i, r := range f.recorded() {
			if r.Header.Get("Consumer-Key") != "k-123" {
				t.Errorf("request %d has no Consumer-Key", i+1)
			}
		}
	})
	t.Run("without it", func(t *testing.T) {
		c, f := setup(t, Config{})
		f.requireHeader = [2]string{"Consumer-Key", "k-123"}
		_, err := c.Fetch(t.Context(), containerRef(fixtureContainer))
		want := "dcsa MAEU: carrier answered 401: invalidApiKey: missing or unknown Consumer-Key"
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v, want %q", err, want)
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
			t.Errorf("err is not an *APIError with status 401: %#v", err)
		}
		if !errors.Is(err, references.ErrSourceBadRequest) {
			t.Errorf("err = %v, want a bad request: the source is up, the key is wrong", err)
		}
	})
}

func oauthConfig(f *fakeDCSA) Config {
	return Config{Auth: Auth{OAuth2: &OAuth2{
		TokenURL: f.srv.URL + "/oauth/token", ClientID: "trackhook", ClientSecret: "client-s3cret", Scopes: []string{"tnt:read"},
	}}}
}

func TestClient_OAuth2TokenIsCachedAndRefreshedOnExpiry(t *testing.T) {
	f := newFakeDCSA(t)
	f.requireBearer = true
	f.tokenLifetime = 3600
	// The oauth2 package sets a token's expiry from the real time: start there.
	clk := clock.NewFake(time.Now())
	cfg := oauthConfig(f)
	cfg.BaseURL = f.baseURL()
	c, err := New("HLCU", cfg, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ref := references.Reference{BookingNumber: fixtureBooking}

	for i := range 3 {
		if _, err := c.Fetch(t.Context(), ref); err != nil {
			t.Fatalf("Fetch %d: %v", i+1, err)
		}
	}
	if n := f.tokenCount(); n != 1 {
		t.Fatalf("%d token requests for 3 fetches, want 1 (cached)", n)
	}

	clk.Advance(time.Hour) // past the expiry, less the early-renewal margin
	if _, err := c.Fetch(t.Context(), ref); err != nil {
		t.Fatalf("Fetch after expiry: %v", err)
	}
	if n := f.tokenCount(); n != 2 {
		t.Fatalf("%d token requests after expiry, want 2 (refreshed)", n)
	}
	reqs := f.recorded()
	if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Bearer access-token-2" {
		t.Errorf("Authorization %q after refresh, want the new token", got)
	}
}

func TestClient_OAuth2TokenRefusedIsFetchedAgain(t *testing.T) {
	f := newFakeDCSA(t)
	f.requireBearer = true
	cfg := oauthConfig(f)
	cfg.BaseURL = f.baseURL()
	c, err := New("HLCU", cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref := references.Reference{BookingNumber: fixtureBooking}
	if _, err := c.Fetch(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	f.revoke("access-token-1")

	_, err = c.Fetch(t.Context(), ref)
	if want := "dcsa HLCU: carrier answered 401: invalidToken: token expired"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if _, err := c.Fetch(t.Context(), ref); err != nil {
		t.Fatalf("Fetch after a refused token: %v", err)
	}
	if n := f.tokenCount(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

func TestClient_OAuth2BadCredentials(t *testing.T) {
	f := newFakeDCSA(t)
	cfg := oauthConfig(f)
	cfg.BaseURL = f.baseURL()
	cfg.Auth.OAuth2.ClientSecret = "wrong-secret"
	c, err := New("HLCU", cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Fetch(t.Context(), references.Reference{BookingNumber: fixtureBooking})
	if err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("err = %v, want the token endpoint's invalid_client", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("the error shows the secret: %v", err)
	}
	if len(f.recorded()) != 0 {
		t.Errorf("the API was called without a token")
	}
}

func TestClient_ErrorResponses(t *testing.T) {
	clk := clock.NewFake(time.Date(2024, 3, 20, 10, 0, 0, 0, time.UTC))
	tests := []struct {
		name          string
		handler       http.HandlerFunc
		want          string // the whole error text
		wantNotFound  bool
		wantKind      error // a references.ErrSource... kind, nil for none
		wantRetryWait time.Duration
	}{
		{
			name:     "401 with a DCSA error body",
			handler:  fileHandler(401, "error_401.json"),
			want:     "dcsa MAEU: carrier answered 401: invalidToken: token expired",
			wantKind: references.ErrSourceBadRequest,
		},
		{
			name: "404 from the API",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeDCSAError(w, 404, "notFound", "no events for the equipment")
			},
			want:         "dcsa MAEU: carrier answered 404: notFound: no events for the equipment: shipment not found at the source",
			wantNotFound: true,
		},
		{
			name: "404 page of a web server",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(404)
				fmt.Fprint(w, "<html><body>Not Found</body></html>")
			},
			want:     "dcsa MAEU: carrier answered 404 Not Found (not an answer of a DCSA API: check base_url)",
			wantKind: references.ErrSourceBadRequest,
		},
		{
			name:         "empty array",
			handler:      bodyHandler(200, "[]"),
			want:         "dcsa MAEU: no events for equipmentReference MSKU0000000: shipment not found at the source",
			wantNotFound: true,
		},
		{
			name: "429 with Retry-After seconds",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "30")
				writeDCSAError(w, 429, "rateLimited", "slow down")
			},
			want:          "dcsa MAEU: carrier answered 429: rateLimited: slow down (retry after 30s)",
			wantKind:      references.ErrSourceRateLimited,
			wantRetryWait: 30 * time.Second,
		},
		{
			name: "429 with Retry-After date",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "Wed, 20 Mar 2024 10:02:00 GMT")
				w.WriteHeader(429)
			},
			want:          "dcsa MAEU: carrier answered 429 Too Many Requests (retry after 2m0s)",
			wantKind:      references.ErrSourceRateLimited,
			wantRetryWait: 2 * time.Minute,
		},
		{
			name:     "429 without Retry-After",
			handler:  bodyHandler(429, ""),
			want:     "dcsa MAEU: carrier answered 429 Too Many Requests",
			wantKind: references.ErrSourceRateLimited,
		},
		{
			name: "429 with an unreadable Retry-After",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "soon")
				w.WriteHeader(429)
			},
			want:     "dcsa MAEU: carrier answered 429 Too Many Requests",
			wantKind: references.ErrSourceRateLimited,
		},
		{
			name: "429 with a Retry-After over the cap",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "999999999999")
				w.WriteHeader(429)
			},
			want:          "dcsa MAEU: carrier answered 429 Too Many Requests (retry after 24h0m0s)",
			wantKind:      references.ErrSourceRateLimited,
			wantRetryWait: maxRetryAfter,
		},
		{
			name: "503 with Retry-After",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "120")
				w.WriteHeader(503)
			},
			want:          "dcsa MAEU: carrier answered 503 Service Unavailable (retry after 2m0s)",
			wantKind:      references.ErrSourceUnavailable,
			wantRetryWait: 2 * time.Minute,
		},
		{
			name:     "503 without Retry-After",
			handler:  bodyHandler(503, ""),
			want:     "dcsa MAEU: carrier answered 503 Service Unavailable",
			wantKind: references.ErrSourceUnavailable,
		},
		{
			name:     "408",
			handler:  bodyHandler(408, ""),
			want:     "dcsa MAEU: carrier answered 408 Request Timeout",
			wantKind: references.ErrSourceUnavailable,
		},
		{
			name: "500 with a DCSA error body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeDCSAError(w, 500, "internalError", "database unavailable")
			},
			want:     "dcsa MAEU: carrier answered 500: internalError: database unavailable",
			wantKind: references.ErrSourceUnavailable,
		},
		{
			name:     "502 from a gateway",
			handler:  bodyHandler(502, "<html>Bad Gateway</html>"),
			want:     "dcsa MAEU: carrier answered 502 Bad Gateway",
			wantKind: references.ErrSourceUnavailable,
		},
		{
			name:     "204 instead of 200",
			handler:  bodyHandler(204, ""),
			want:     "dcsa MAEU: carrier answered 204 No Content",
			wantKind: references.ErrSourceBadAnswer,
		},
		{
			name:     "malformed JSON",
			handler:  bodyHandler(200, `[{"eventID": "x", `),
			want:     "dcsa MAEU: malformed JSON: unexpected end of the body",
			wantKind: references.ErrSourceBadAnswer,
		},
		{
			name:     "an object instead of an array",
			handler:  bodyHandler(200, `{"events": []}`),
			want:     "dcsa MAEU: malformed response: expected a JSON array of events",
			wantKind: references.ErrSourceBadAnswer,
		},
		{
			name:     "no usable event",
			handler:  bodyHandler(200, `[{"eventType": "TRANSPORT", "eventClassifierCode": "ACT", "transportEventTypeCode": "ARRI"}]`),
			want:     "dcsa MAEU: none of the 1 events could be used: event 1: eventDateTime: missing",
			wantKind: references.ErrSourceBadAnswer,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, f := setup(t, Config{}, WithClock(clk))
			f.events = tt.handler
			got, err := c.Fetch(t.Context(), containerRef("MSKU0000000"))
			if err == nil {
				t.Fatalf("Fetch returned %d events, want an error", len(got.Events))
			}
			if err.Error() != tt.want {
				t.Errorf("error text:\n got %q\nwant %q", err, tt.want)
			}
			if errors.Is(err, references.ErrShipmentNotFound) != tt.wantNotFound {
				t.Errorf("errors.Is(err, ErrShipmentNotFound) = %v, want %v", !tt.wantNotFound, tt.wantNotFound)
			}
			var se *references.SourceError
			if errors.As(err, &se) != (tt.wantKind != nil) {
				t.Fatalf("errors.As(err, *references.SourceError) = %v, want %v", tt.wantKind == nil, tt.wantKind != nil)
			}
			if tt.wantKind != nil && (!errors.Is(err, tt.wantKind) || se.RetryAfter != tt.wantRetryWait) {
				t.Errorf("kind %v, RetryAfter %v; want %v, %v", se.Kind, se.RetryAfter, tt.wantKind, tt.wantRetryWait)
			}
		})
	}
}

func bodyHandler(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func fileHandler(status int, name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dcsa", name))
		if err != nil {
			panic(err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}
}

func TestClient_LimitsTheBodySize(t *testing.T) {
	c, f := setup(t, Config{MaxBodyBytes: 1024})
	f.events = func(w http.ResponseWriter, r *http.Request) {
		// A valid array of 2 KiB: only its size is wrong.
		fmt.Fprintf(w, `[{"eventType": "EQUIPMENT", "reason": %q}]`, strings.Repeat("x", 2048))
	}
	_, err := c.Fetch(t.Context(), containerRef(fixtureContainer))
	if want := "dcsa MAEU: response body over 1024 bytes (max_body_bytes)"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

// net/http times a request with the real clock: the timeout is short, and the server
// answers only when the client gives up, so nothing waits longer.
func TestClient_TimesOutOnASlowServer(t *testing.T) {
	c, f := setup(t, Config{Timeout: 50 * time.Millisecond})
	f.events = func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers only when the client gives up
	}
	_, err := c.Fetch(t.Context(), containerRef(fixtureContainer))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, references.ErrSourceUnavailable) {
		t.Fatalf("err = %v, want a timeout, of an unavailable source", err)
	}
	if !strings.HasPrefix(err.Error(), "dcsa MAEU: GET /v2/events: ") {
		t.Errorf("err = %q, want it to say which request timed out, without the URL", err)
	}
}

func TestClient_StopsEndlessPagination(t *testing.T) {
	event := `{"eventID": "%s", "eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T18:00:00Z", "transportEventTypeCode": "DEPA"}`
	tests := []struct {
		name         string
		cfg          Config
		perPage      int
		sameCursor   bool
		want         string
		wantRequests int
	}{
		{"page limit", Config{MaxPages: 5}, 1, false, "dcsa MAEU: more than 5 pages (max_pages): the server keeps paginating", 5},
		{"default page limit", Config{}, 1, false, fmt.Sprintf("dcsa MAEU: more than %d pages (max_pages): the server keeps paginating", DefaultMaxPages), DefaultMaxPages},
		{"event limit", Config{MaxEvents: 25}, 10, false, "dcsa MAEU: more than 25 events (max_events): the server keeps sending", 3},
		{"repeated cursor", Config{}, 1, true, "dcsa MAEU: the server sent the same Next-Page cursor twice", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, f := setup(t, tt.cfg)
			var n atomic.Int64
			f.events = func(w http.ResponseWriter, r *http.Request) {
				page := n.Add(1)
				cursor := fmt.Sprintf("page-%d", page+1)
				if tt.sameCursor {
					cursor = "again"
				}
				w.Header().Set("Next-Page", cursor)
				events := make([]string, tt.perPage)
				for i := range events {
					events[i] = fmt.Sprintf(event, fmt.Sprintf("ev-%d-%d", page, i))
				}
				fmt.Fprintf(w, "[%s]", strings.Join(events, ","))
			}
			_, err := c.Fetch(t.Context(), containerRef(fixtureContainer))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if !errors.Is(err, references.ErrSourceBadAnswer) {
				t.Errorf("err = %v, want a bad answer", err)
			}
			if got := len(f.recorded()); got != tt.wantRequests {
				t.Errorf("%d requests, want %d", got, tt.wantRequests)
			}
		})
	}
}

func TestClient_LaterPageErrors(t *testing.T) {
	first := `[{"eventID": "1", "eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T18:00:00Z", "transportEventTypeCode": "DEPA"}]`
	tests := []struct {
		name         string
		nextPage     string
		second       http.HandlerFunc
		want         string
		wantNotFound bool
		wantKind     error
	}{
		{"expired cursor is not an unknown shipment", "p2",
			func(w http.ResponseWriter, r *http.Request) { writeDCSAError(w, 404, "notFound", "cursor expired") },
			"dcsa MAEU: page 2: carrier answered 404: notFound: cursor expired: shipment not found at the source", false, references.ErrSourceBadAnswer},
		{"rate limit on page 2", "p2",
			func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Retry-After", "5"); w.WriteHeader(429) },
			"dcsa MAEU: page 2: carrier answered 429 Too Many Requests (retry after 5s)", false, references.ErrSourceRateLimited},
		{"Next-Page URL without a cursor", "https://elsewhere.test/v2/events?page=2", nil,
			"dcsa MAEU: the Next-Page header has no cursor parameter", false, references.ErrSourceBadAnswer},
		{"huge cursor", strings.Repeat("c", 3000), nil,
			"dcsa MAEU: the Next-Page header is over 2048 bytes", false, references.ErrSourceBadAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, f := setup(t, Config{})
			f.events = func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("cursor") == "" {
					w.Header().Set("Next-Page", tt.nextPage)
					fmt.Fprint(w, first)
					return
				}
				tt.second(w, r)
			}
			_, err := c.Fetch(t.Context(), containerRef(fixtureContainer))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if errors.Is(err, references.ErrShipmentNotFound) != tt.wantNotFound {
				t.Errorf("errors.Is(err, ErrShipmentNotFound) = %v", !tt.wantNotFound)
			}
			if !errors.Is(err, tt.wantKind) {
				t.Errorf("err = %v, want kind %v", err, tt.wantKind)
			}
		})
	}
}

func TestClient_NextPageURLYieldsOnlyItsCursor(t *testing.T) {
	c, f := setup(t, Config{})
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the client followed the Next-Page URL to another server")
	}))
	defer other.Close()
	f.events = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "" {
			w.Header().Set("Next-Page", other.URL+"/v2/events?cursor=p2&limit=100")
			fmt.Fprint(w, `[{"eventID": "1", "eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T18:00:00Z", "transportEventTypeCode": "DEPA"}]`)
			return
		}
		fmt.Fprint(w, `[{"eventID": "2", "eventType": "TRANSPORT", "eventClassifierCode": "EST", "eventDateTime": "2024-03-09T18:00:00Z", "transportEventTypeCode": "ARRI"}]`)
	}
	got, err := c.Fetch(t.Context(), containerRef(fixtureContainer))
	if err != nil {
		t.Fatal(err)
	}
	if reqs := f.recorded(); len(reqs) != 2 || reqs[1].Query.Get("cursor") != "p2" {
		t.Errorf("requests %+v, want a second one with cursor p2", reqs)
	}
	if len(got.Events) != 2 {
		t.Errorf("%d events, want 2", len(got.Events))
	}
}

func TestClient_MergesPagesSortedWithoutDuplicates(t *testing.T) {
	c, f := setup(t, Config{})
	ev := func(id, code, at string) string {
		return fmt.Sprintf(`{"eventID": %q, "eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": %q, "transportEventTypeCode": %q}`, id, at, code)
	}
	f.events = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "" {
			w.Header().Set("Next-Page", "2")
			fmt.Fprintf(w, "[%s,%s]", ev("b", "ARRI", "2024-03-10T06:00:00+08:00"), ev("a", "DEPA", "2024-03-05T18:00:00Z"))
			return
		}
		// The data moved between the pages: "b" comes again.
		fmt.Fprintf(w, "[%s,%s]", ev("b", "ARRI", "2024-03-10T06:00:00+08:00"), ev("c", "DEPA", "2024-03-09T00:00:00Z"))
	}
	got, err := c.Fetch(t.Context(), containerRef(fixtureContainer))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got.Events {
		ids = append(ids, e.ID+"@"+e.Time.Format(time.RFC3339))
	}
	want := "[a@2024-03-05T18:00:00Z c@2024-03-09T00:00:00Z b@2024-03-09T22:00:00Z]"
	if fmt.Sprint(ids) != want {
		t.Errorf("events %v, want %s", ids, want)
	}
}

func TestClient_RateLimitIsShared(t *testing.T) {
	// One request now, the next only in 1000s: the second fetch cannot get a token
	// before its deadline, and the limiter says so at once instead of waiting.
	c, f := setup(t, Config{RequestsPerSecond: 0.001})
	ref := references.Reference{BookingNumber: fixtureBooking}
	if _, err := c.Fetch(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := c.Fetch(ctx, ref)
	if err == nil || !strings.Contains(err.Error(), "waiting for the rate limit (requests_per_second 0.001)") {
		t.Fatalf("err = %v, want a rate limit error", err)
	}
	if n := len(f.recorded()); n != 1 {
		t.Errorf("server got %d requests, want 1", n)
	}
}

func TestClient_ConcurrencyLimitIsHonoured(t *testing.T) {
	c, f := setup(t, Config{MaxConcurrency: 2})
	var inFlight, peak atomic.Int64
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	f.events = func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		arrived <- struct{}{}
		<-release
		fmt.Fprint(w, `[{"eventID": "1", "eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T18:00:00Z", "transportEventTypeCode": "DEPA"}]`)
	}
	ref := containerRef(fixtureContainer)

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := c.Fetch(t.Context(), ref)
			errs <- err
		})
	}
	<-arrived
	<-arrived
	// Both slots are taken: a fetch that cannot wait fails without reaching the server.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	_, err := c.Fetch(ctx, ref)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "max_concurrency 2") {
		t.Errorf("err = %v, want it to time out waiting for a slot", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Fetch: %v", err)
		}
	}
	if got := len(f.recorded()); got != 4 {
		t.Errorf("server got %d requests, want 4", got)
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("peak of %d requests in flight, want 2", p)
	}
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
	_, err := c.Fetch(ctx, containerRef(fixtureContainer))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var se *references.SourceError
	if errors.As(err, &se) {
		t.Errorf("err = %v is a %v: a cancelled poll is nobody's fault", err, se.Kind)
	}
}

func TestClient_RefusesRedirectToAnotherHost(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Consumer-Key") != "")
	}))
	defer other.Close()
	c, f := setup(t, Config{Auth: Auth{Headers: map[string]string{"Consumer-Key": "k-123"}}})
	// httptest servers share 127.0.0.1 but differ in port, hence in host.
	f.events = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/v2/events", http.StatusFound)
	}
	_, err := c.Fetch(t.Context(), containerRef(fixtureContainer))
	if err == nil || !strings.Contains(err.Error(), "refusing a redirect to another host") {
		t.Fatalf("err = %v, want the redirect refused", err)
	}
	if !errors.Is(err, references.ErrSourceBadAnswer) {
		t.Errorf("err = %v, want a bad answer", err)
	}
	if leaked.Load() {
		t.Error("the API key was sent to the other host")
	}
}

// A carrier whose error answer repeats the credentials it was sent must not put them
// into the poll error, which reaches every account's last_poll_error and feed.
func TestClient_ErrorAnswersDoNotRepeatCredentials(t *testing.T) {
	const apiKey = "carrier-api-key-0123456789"
	tests := []struct {
		name   string
		config func(f *fakeDCSA) Config
		secret func(f *fakeDCSA) []string
	}{
		{"static header", func(f *fakeDCSA) Config {
			return Config{BaseURL: f.baseURL(), Auth: Auth{Headers: map[string]string{"X-Api-Key": apiKey}}}
		}, func(*fakeDCSA) []string { return []string{apiKey} }},
		{"oauth2 token and client secret", func(f *fakeDCSA) Config {
			cfg := oauthConfig(f)
			cfg.BaseURL = f.baseURL()
			return cfg
		}, func(f *fakeDCSA) []string {
			var toks []string
			f.mu.Lock()
			for tok := range f.issued {
				toks = append(toks, tok)
			}
			f.mu.Unlock()
			return append(toks, "client-s3cret")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeDCSA(t)
			f.events = func(w http.ResponseWriter, r *http.Request) {
				echo := r.Header.Get("X-Api-Key") + " " + r.Header.Get("Authorization") + " client-s3cret"
				writeDCSAError(w, http.StatusForbidden, "forbidden", "credentials "+echo+" may not read this")
			}
			c, err := New("ECHO", tt.config(f))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Fetch(context.Background(), containerRef(fixtureContainer))
			if err == nil || !strings.Contains(err.Error(), "[redacted]") {
				t.Fatalf("error %v does not show the redaction", err)
			}
			for _, s := range tt.secret(f) {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error repeats a credential: %v", err)
				}
			}
		})
	}
}
