package dcsa

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Identifiers the fake DCSA server knows, matching the fixtures in testdata/dcsa.
const (
	fixtureContainer = "MSKU7261948"
	fixtureBooking   = "234567891"
	fixtureBL        = "MAEU234567891"
	// fixtureBL3 is a bill of lading of three containers shipped together from
	// Shanghai to Rotterdam (bl_three_containers.json): MSKU7261948 and MRKU2945078
	// are returned empty on 11 April 2024; MSKU5510738 is held at the terminal for
	// five days and returned on 16 April.
	fixtureBL3    = "MAEU345678912"
	fixturePrefix = "/track-and-trace" // base_url path prefix
)

// fakeDCSA is a DCSA T&T v2.2 server on loopback serving the fixtures, with an OAuth2
// token endpoint. It records what it receives so tests can assert on it.
type fakeDCSA struct {
	t   *testing.T
	srv *httptest.Server

	// Set before the first request.
	requireHeader [2]string        // name, value: without it, 401
	requireBearer bool             // API calls need a token issued by /oauth/token
	tokenLifetime int              // expires_in of issued tokens, seconds
	events        http.HandlerFunc // replaces the fixture handler of /v2/events
	// asOf, when set, is the time the server answers at: the events of
	// bl_three_containers.json after it are estimates (EST, under an id of their own),
	// as a carrier publishes what has not happened yet.
	asOf func() time.Time

	mu            sync.Mutex
	requests      []recorded
	tokenRequests int
	issued        map[string]bool // token -> still valid
}

type recorded struct {
	Query  url.Values
	Header http.Header
}

func newFakeDCSA(t *testing.T) *fakeDCSA {
	t.Helper()
	f := &fakeDCSA{t: t, tokenLifetime: 3600, issued: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+fixturePrefix+"/v2/events", f.serveEvents)
	mux.HandleFunc("POST /oauth/token", f.serveToken)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// baseURL is the base_url a Config needs for this server.
func (f *fakeDCSA) baseURL() string { return f.srv.URL + fixturePrefix }

func (f *fakeDCSA) serveEvents(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, recorded{Query: r.URL.Query(), Header: r.Header.Clone()})
	requireBearer, issued := f.requireBearer, f.issued[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	f.mu.Unlock()

	if name := f.requireHeader[0]; name != "" && r.Header.Get(name) != f.requireHeader[1] {
		writeDCSAError(w, http.StatusUnauthorized, "invalidApiKey", "missing or unknown "+name)
		return
	}
	if requireBearer && !issued {
		writeDCSAError(w, http.StatusUnauthorized, "invalidToken", "token expired")
		return
	}
	if f.events != nil {
		f.events(w, r)
		return
	}
	f.serveFixtures(w, r)
}

// serveFixtures serves the container journey in three pages (for the container and
// for its bill of lading) and the booking's shipment events; anything else has no
// events, which DCSA answers with an empty array.
func (f *fakeDCSA) serveFixtures(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pages := map[string]struct{ file, next string }{
		"":             {"container_page1.json", "Y3Vyc29yOjI="},
		"Y3Vyc29yOjI=": {"container_page2.json", "Y3Vyc29yOjM="},
		"Y3Vyc29yOjM=": {"container_page3.json", ""},
	}
	switch {
	case q.Get("equipmentReference") == fixtureContainer || q.Get("transportDocumentReference") == fixtureBL:
		p, ok := pages[q.Get("cursor")]
		if !ok {
			writeDCSAError(w, http.StatusBadRequest, "invalidCursor", "unknown cursor")
			return
		}
		if p.next != "" {
			w.Header().Set("Next-Page", p.next)
		}
		f.serveFile(w, p.file)
	case q.Get("carrierBookingReference") == fixtureBooking:
		f.serveFile(w, "booking_events.json")
	case q.Get("transportDocumentReference") == fixtureBL3:
		f.serveAsOf(w, "bl_three_containers.json")
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "[]")
	}
}

func (f *fakeDCSA) serveFile(w http.ResponseWriter, name string) {
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dcsa", name))
	if err != nil {
		f.t.Errorf("fixture: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("API-Version", "2.2.0")
	w.Write(body)
}

// serveAsOf serves the events of the fixture name as of f.asOf: those after it as
// estimates.
func (f *fakeDCSA) serveAsOf(w http.ResponseWriter, name string) {
	f.mu.Lock()
	asOf := f.asOf
	f.mu.Unlock()
	if asOf == nil {
		f.serveFile(w, name)
		return
	}
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dcsa", name))
	if err != nil {
		f.t.Errorf("fixture: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var events []map[string]any
	if err := json.Unmarshal(body, &events); err != nil {
		f.t.Errorf("fixture %s: %v", name, err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	now := asOf()
	for _, e := range events {
		at, err := time.Parse(time.RFC3339, e["eventDateTime"].(string))
		if err != nil {
			f.t.Errorf("fixture %s: %v", name, err)
		}
		if at.After(now) {
			e["eventClassifierCode"] = "EST"
			e["eventID"] = e["eventID"].(string) + "-est"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("API-Version", "2.2.0")
	json.NewEncoder(w).Encode(events)
}

// serveToken is an OAuth2 client-credentials token endpoint for client "trackhook"
// with secret "client-s3cret".
func (f *fakeDCSA) serveToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	if r.PostFormValue("grant_type") != "client_credentials" || id != "trackhook" || secret != "client-s3cret" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
		return
	}
	f.mu.Lock()
	f.tokenRequests++
	tok := fmt.Sprintf("access-token-%d", f.tokenRequests)
	f.issued[tok] = true
	lifetime := f.tokenLifetime
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": lifetime, "scope": r.PostFormValue("scope")})
}

// revoke makes the server refuse a token it issued.
func (f *fakeDCSA) revoke(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issued[tok] = false
}

func (f *fakeDCSA) recorded() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

func (f *fakeDCSA) tokenCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenRequests
}

func writeDCSAError(w http.ResponseWriter, status int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("API-Version", "2.2.0")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"httpMethod":     "GET",
		"requestUri":     "/v2/events",
		"statusCode":     status,
		"statusCodeText": http.StatusText(status),
		"errorDateTime":  "2024-03-20T10:15:00Z",
		"errors":         []map[string]string{{"reason": reason, "message": message}},
	})
}
