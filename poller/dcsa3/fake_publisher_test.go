package dcsa3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Identifiers the fake publisher knows, matching the fixtures in testdata/dcsa3.
const (
	fixtureBL         = "HHL71800000"
	fixtureBooking    = "ABC709951"
	fixtureContainer  = "APZU4812090"
	fixtureContainer2 = "APZU4812091"
	fixturePrefix     = "/ct" // base_url path prefix
)

// fixturePages are the pages of the transport document's events, by cursor.
var fixturePages = map[string]struct{ file, next string }{
	"":             {"bl_page1.json", "Y3Vyc29yOjI="},
	"Y3Vyc29yOjI=": {"bl_page2.json", "Y3Vyc29yOjM="},
	"Y3Vyc29yOjM=": {"bl_page3.json", ""},
}

// fakePublisher is a DCSA CT 3.0 publisher (GET /events) on loopback serving the
// fixtures, with an OAuth2 token endpoint. It checks every request it gets and every
// answer it gives against the spec, and records the requests.
type fakePublisher struct {
	t      *testing.T
	srv    *httptest.Server
	router routers.Router

	// Set before the first request.
	requireHeader [2]string        // name, value: without it, 401
	requireBearer string           // API calls need this bearer token (issued by /oauth/token)
	events        http.HandlerFunc // replaces the fixture handler of /events

	mu            sync.Mutex
	requests      []recorded
	tokenRequests int
}

type recorded struct {
	Query  url.Values
	Header http.Header
}

func newFakePublisher(t *testing.T) *fakePublisher {
	t.Helper()
	f := &fakePublisher{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+fixturePrefix+"/events", f.serveEvents)
	mux.HandleFunc("POST /oauth/token", f.serveToken)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)

	doc := loadSpec(t)
	doc.Servers = nil // match the paths below base_url's prefix (see specRequest)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	f.router = router
	return f
}

// baseURL is the base_url a Config needs for this server.
func (f *fakePublisher) baseURL() string { return f.srv.URL + fixturePrefix }

func (f *fakePublisher) serveEvents(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, recorded{Query: r.URL.Query(), Header: r.Header.Clone()})
	f.mu.Unlock()
	specReq := r.Clone(r.Context())
	specReq.URL.Path = strings.TrimPrefix(r.URL.Path, fixturePrefix)
	route, params := f.checkRequest(specReq)

	rec := httptest.NewRecorder()
	f.answer(rec, r)
	if f.events == nil {
		// The fixtures' answers must be the spec's; a test's own handler breaks it on
		// purpose.
		f.checkResponse(specReq, route, params, rec)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

func (f *fakePublisher) answer(w http.ResponseWriter, r *http.Request) {
	if name := f.requireHeader[0]; name != "" && r.Header.Get(name) != f.requireHeader[1] {
		writeFeedback(w, http.StatusUnauthorized, "ERROR", "missing or unknown "+name)
		return
	}
	if f.requireBearer != "" && r.Header.Get("Authorization") != "Bearer "+f.requireBearer {
		writeFeedback(w, http.StatusUnauthorized, "ERROR", "token expired")
		return
	}
	if f.events != nil {
		f.events(w, r)
		return
	}
	f.serveFixtures(w, r)
}

// serveFixtures serves the transport document's events in three pages (for it, its
// booking and either of its containers, as a publisher that does not narrow
// them down would); anything else has no events, which CT 3.0 answers with an
// empty list.
func (f *fakePublisher) serveFixtures(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("transportDocumentReference") == fixtureBL, q.Get("carrierBookingReference") == fixtureBooking,
		q.Get("equipmentReference") == fixtureContainer, q.Get("equipmentReference") == fixtureContainer2:
		p, ok := fixturePages[q.Get("cursor")]
		if !ok {
			writeFeedback(w, http.StatusBadRequest, "ERROR", "unknown cursor")
			return
		}
		if p.next != "" {
			w.Header().Set("Next-Page-Cursor", p.next)
		}
		serveFile(f.t, w, p.file)
	default:
		w.Header().Set("API-Version", APIVersion)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"events": []}`)
	}
}

func serveFile(t *testing.T, w http.ResponseWriter, name string) {
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dcsa3", name))
	if err != nil {
		t.Errorf("fixture: %v", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("API-Version", APIVersion)
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// writeFeedback answers with a CT 3.0 error body (GetEventsError).
func writeFeedback(w http.ResponseWriter, status int, severity, message string) {
	w.Header().Set("API-Version", APIVersion)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"feedbackElements": []map[string]string{{"severity": severity, "message": message}}})
}

func (f *fakePublisher) serveToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.tokenRequests++
	f.mu.Unlock()
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		http.Error(w, `{"error": "unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	if id, secret, ok := r.BasicAuth(); !ok || id != "trackhook" || secret != "ct-client-secret" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error": "invalid_client"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token": %q, "token_type": "Bearer", "expires_in": 3600}`, f.requireBearer)
}

func (f *fakePublisher) recorded() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

// checkRequest validates a request against the spec's GET /events.
func (f *fakePublisher) checkRequest(r *http.Request) (*routers.Route, map[string]string) {
	route, params, err := f.router.FindRoute(r)
	if err != nil {
		f.t.Errorf("request %s not in the spec: %v", r.URL, err)
		return nil, nil
	}
	input := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
		f.t.Errorf("request %s does not match the spec: %v", r.URL, err)
	}
	return route, params
}

// checkResponse validates an answer against the spec's GET /events, additional
// properties refused, so that a misspelt field in a fixture is caught.
func (f *fakePublisher) checkResponse(r *http.Request, route *routers.Route, params map[string]string, rec *httptest.ResponseRecorder) {
	if route == nil {
		return
	}
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		f.t.Errorf("answer to %s does not match the spec: %v", r.URL, err)
	}
}

// loadSpec loads testdata/dcsa3's copy of the spec, with additionalProperties
// refused on every object schema: the spec leaves them open, and a fixture or a
// request must not rely on a field the spec does not have.
func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("..", "..", "testdata", "dcsa3", "ct-v3.0.0-openapi.yaml"))
	if err != nil {
		t.Fatalf("spec: %v", err)
	}
	// The spec's example of eventTypes is the string "EQUIPMENT,IOT,REEFER" where its
	// schema is an array (the wire form is the same): as an array, it validates.
	for _, p := range doc.Paths.Find("/events").Get.Parameters {
		if p.Value.Name == "eventTypes" {
			p.Value.Example = []any{"EQUIPMENT", "IOT", "REEFER"}
		}
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("spec: %v", err)
	}
	no := false
	for _, s := range doc.Components.Schemas {
		if len(s.Value.Properties) > 0 {
			s.Value.AdditionalProperties.Has = &no
		}
	}
	return doc
}

// schema returns a schema of the spec's components by name.
func schema(t testing.TB, doc *openapi3.T, name string) *openapi3.Schema {
	t.Helper()
	s, ok := doc.Components.Schemas[name]
	if !ok {
		t.Fatalf("no schema %s in the spec", name)
	}
	return s.Value
}

// validJSON reports whether body matches the spec's schema called name.
func validJSON(t *testing.T, doc *openapi3.T, name string, body []byte) error {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return schema(t, doc, name).VisitJSON(v, openapi3.MultiErrors())
}
