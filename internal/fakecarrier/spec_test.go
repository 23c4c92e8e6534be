package fakecarrier_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// spec is one of the DCSA specifications in testdata/dcsa/push, routed, to check the
// carrier's answers and pushes against.
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

func loadSpec(t testing.TB, name string) *spec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "dcsa", "push", name))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	// The published examples and defaults do not all match their schemas: only the
	// schemas are used here.
	lenient := []openapi3.ValidationOption{openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation()}
	if err := doc.Validate(context.Background(), lenient...); err != nil {
		t.Fatalf("%s is not a valid OpenAPI 3 document: %v", name, err)
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc, lenient...)
	if err != nil {
		t.Fatal(err)
	}
	return &spec{doc: doc, router: router}
}

// checkResponse validates an answer of the carrier to req against the spec.
func (s *spec) checkResponse(t *testing.T, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in the spec: %v", req.Method, req.URL.Path, err)
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		t.Errorf("the %d answer to %s %s does not match the spec: %v\nbody: %.600s", status, req.Method, req.URL, err, body)
	}
}

// checkBody validates a JSON body against schema.
func checkBody(t *testing.T, what string, schema *openapi3.Schema, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s is not JSON: %v", what, err)
	}
	if err := schema.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		t.Errorf("%s does not match the spec: %v\nbody: %.600s", what, err, body)
	}
}

// notificationSchema is the body of the v2.2 callback of POST /v2/event-subscriptions.
func (s *spec) notificationSchema(t *testing.T) *openapi3.Schema {
	t.Helper()
	cb := s.doc.Paths.Value("/v2/event-subscriptions").Post.Callbacks["event"].Value.Value("{$request.body.callbackUrl}")
	return cb.Post.RequestBody.Value.Content.Get("application/json").Schema.Value
}

// requestSchema is the body of operation method path.
func (s *spec) requestSchema(method, path string) *openapi3.Schema {
	return s.doc.Paths.Value(path).GetOperation(method).RequestBody.Value.Content.Get("application/json").Schema.Value
}
