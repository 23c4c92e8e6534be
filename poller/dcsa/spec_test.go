package dcsa

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// specPath is the resolved DCSA T&T v2.2 specification (see its README).
var specPath = filepath.Join("..", "..", "testdata", "dcsa", "push", "TNT_v2.2.0-resolved.yaml")

// v22 is the specification loaded and routed, for validating requests against it.
type v22 struct {
	doc    *openapi3.T
	router routers.Router
}

func loadV22(t testing.TB) *v22 {
	t.Helper()
	raw, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load the v2.2 spec: %v", err)
	}
	// The published examples and defaults do not all match their schemas (a SHIPMENT
	// example under inline_response_200's oneOf, comma-separated strings as the
	// defaults of array parameters): only the schemas themselves are checked.
	lenient := []openapi3.ValidationOption{openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation()}
	if err := doc.Validate(context.Background(), lenient...); err != nil {
		t.Fatalf("the v2.2 spec is not a valid OpenAPI 3 document: %v", err)
	}
	doc.Servers = nil // match paths whatever the test server's address
	router, err := legacy.NewRouter(doc, lenient...)
	if err != nil {
		t.Fatal(err)
	}
	return &v22{doc: doc, router: router}
}

// validate checks req (its path relative to the API's base, its body in body) against
// the specification: the operation exists, the parameters and the body match the
// schema, and the body has no property the schema does not name (the schemas do not
// forbid additional properties, so kin-openapi alone would let a misspelt filter pass).
func (s *v22) validate(req *http.Request, body []byte) []string {
	var problems []string
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := s.router.FindRoute(r)
	if err != nil {
		return []string{req.Method + " " + req.URL.Path + " is not an operation of the v2.2 spec: " + err.Error()}
	}
	input := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
		problems = append(problems, err.Error())
	}
	if route.Operation.RequestBody != nil && len(body) > 0 {
		schema := route.Operation.RequestBody.Value.Content.Get("application/json").Schema.Value
		known := map[string]bool{}
		collectProperties(schema, known)
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			problems = append(problems, "the body is not a JSON object: "+err.Error())
		}
		for name := range fields {
			if !known[name] {
				problems = append(problems, "the body has a property the schema does not name: "+name)
			}
		}
	}
	return problems
}

// collectProperties adds the names of every property s and its allOf parts declare.
func collectProperties(s *openapi3.Schema, into map[string]bool) {
	if s == nil {
		return
	}
	for name := range s.Properties {
		into[name] = true
	}
	for _, part := range s.AllOf {
		collectProperties(part.Value, into)
	}
}

// specServer is a DCSA server on loopback that validates every request against the
// v2.2 specification (reporting mismatches as test errors) before answering it with
// handler. The base_url prefix is stripped before validation.
type specServer struct {
	srv  *httptest.Server
	spec *v22

	mu       sync.Mutex
	requests []recordedRequest
}

type recordedRequest struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

func newSpecServer(t *testing.T, handler http.HandlerFunc) *specServer {
	t.Helper()
	s := &specServer{spec: loadV22(t)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		path := strings.TrimPrefix(r.URL.Path, fixturePrefix)
		s.mu.Lock()
		s.requests = append(s.requests, recordedRequest{Method: r.Method, Path: path, Header: r.Header.Clone(), Body: body})
		s.mu.Unlock()
		rel := r.Clone(r.Context())
		rel.URL.Path, rel.URL.RawPath = path, ""
		for _, p := range s.spec.validate(rel, body) {
			t.Errorf("%s %s: %s\nbody: %s", r.Method, path, p, body)
		}
		rel.Body = io.NopCloser(bytes.NewReader(body))
		handler(w, rel)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *specServer) baseURL() string { return s.srv.URL + fixturePrefix }

func (s *specServer) recorded() []recordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func TestSpecValidator_RefusesRequestsTheSpecDoesNotAllow(t *testing.T) {
	spec := loadV22(t)
	const good = `{"callbackUrl":"https://x.example/cb","secret":"MTIzNA==","equipmentReference":"MSKU7261948"}`
	tests := []struct {
		name, method, path, body string
		ok                       bool
	}{
		{"a valid subscription", "POST", "/v2/event-subscriptions", good, true},
		{"no secret", "POST", "/v2/event-subscriptions", `{"callbackUrl":"https://x.example/cb"}`, false},
		{"no callback", "POST", "/v2/event-subscriptions", `{"secret":"MTIzNA=="}`, false},
		{"a secret not in base64", "POST", "/v2/event-subscriptions", `{"callbackUrl":"https://x.example/cb","secret":"not base64!"}`, false},
		{"a misspelt filter", "POST", "/v2/event-subscriptions", `{"callbackUrl":"https://x.example/cb","secret":"MTIzNA==","equipmentRef":"X"}`, false},
		{"an unknown event type", "POST", "/v2/event-subscriptions", `{"callbackUrl":"https://x.example/cb","secret":"MTIzNA==","eventType":["IOT"]}`, false},
		{"a container number too long", "POST", "/v2/event-subscriptions", `{"callbackUrl":"https://x.example/cb","secret":"MTIzNA==","equipmentReference":"MSKU72619480000000"}`, false},
		{"a new secret", "PUT", "/v2/event-subscriptions/3cecb101-7a1a-43a4-9d62-e88a131651e2/secret", `{"secret":"MTIzNA=="}`, true},
		{"no such operation", "PATCH", "/v2/event-subscriptions", `{}`, false},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		problems := spec.validate(req, []byte(tc.body))
		if (len(problems) == 0) != tc.ok {
			t.Errorf("%s: problems %q, want ok %v", tc.name, problems, tc.ok)
		}
	}
}
