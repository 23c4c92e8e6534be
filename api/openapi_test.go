package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

// loadSpec loads openapi.yaml with kin-openapi and validates it as an OpenAPI 3
// document, formats included.
func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPISpec)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableSchemaFormatValidation()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

// echoPath turns an OpenAPI path template into echo's form: {id} becomes :id.
func echoPath(p string) string {
	var b strings.Builder
	for _, seg := range strings.Split(p, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			seg = ":" + seg[1:len(seg)-1]
		}
		b.WriteString(seg + "/")
	}
	return strings.TrimSuffix(b.String(), "/")
}

// withEveryRoute turns on the optional routes, so the served API is the whole spec.
func withEveryRoute(c *setupConfig) {
	pruned := time.Date(2026, 3, 1, 11, 50, 0, 0, time.UTC)
	c.api.Status = fixedStatus{references.Stats{ActiveReferences: 1, Pruned: references.PruneCounts{Updates: 3, References: 1}, LastPruneAt: &pruned}}
}

// fixedStatus is a StatusReporter with a set answer and nothing waiting.
type fixedStatus struct{ st references.Stats }

func (f fixedStatus) Stats(context.Context) (references.Stats, error) { return f.st, nil }

func (f fixedStatus) OldestUndelivered(context.Context) (*references.Update, error) { return nil, nil }

func TestOpenAPI_DescribesEveryRouteAndOnlyThose(t *testing.T) {
	doc := loadSpec(t)
	b := setup(t, withEveryRoute)

	var served, described []string
	for _, r := range b.e.Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described = append(described, method+" "+echoPath(path))
		}
	}
	sort.Strings(served)
	sort.Strings(described)
	for _, r := range served {
		if !slices.Contains(described, r) {
			t.Errorf("route %s is served but not in openapi.yaml", r)
		}
	}
	for _, r := range described {
		if !slices.Contains(served, r) {
			t.Errorf("openapi.yaml describes %s, which is not served", r)
		}
	}
	if len(served) < 10 {
		t.Fatalf("only %d routes served: %v", len(served), served)
	}
}

func TestOpenAPI_ServedWithoutKey(t *testing.T) {
	b := setup(t)
	resp, body := b.do(t, http.MethodGet, "/openapi.yaml", "", nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, openAPISpec) {
		t.Fatalf("GET /openapi.yaml: %d, %d bytes (want the %d of openapi.yaml)", resp.StatusCode, len(body), len(openAPISpec))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q, want application/yaml", ct)
	}
}

// conformance checks requests and their real responses against the spec, and keeps
// track of which operations and statuses were seen.
type conformance struct {
	b      *testBundle
	router routers.Router
	seen   map[string][]int // operationId -> statuses validated
}

func newConformance(t *testing.T, doc *openapi3.T, b *testBundle, seen map[string][]int) *conformance {
	t.Helper()
	tighten(doc)
	doc.Servers = nil // match paths on the test server, whatever its address
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &conformance{b: b, router: router, seen: seen}
}

// call is one request of the conformance test.
type call struct {
	name         string
	method, path string
	key          string
	body         string
	headers      []string // name, value pairs
	status       int      // the status the server must answer
	// invalidRequest marks a request that breaks the spec on purpose (to get an
	// error): the spec must refuse it too, and its response is validated.
	invalidRequest bool
}

func (c *conformance) newRequest(t *testing.T, cl call) *http.Request {
	t.Helper()
	var body io.Reader
	if cl.body != "" {
		body = strings.NewReader(cl.body)
	}
	req, err := http.NewRequest(cl.method, c.b.srv.URL+cl.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if cl.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.key != "" {
		req.Header.Set("Authorization", "Bearer "+cl.key)
	}
	for i := 0; i+1 < len(cl.headers); i += 2 {
		req.Header.Set(cl.headers[i], cl.headers[i+1])
	}
	return req
}

// run sends cl to the server, checks its status, and validates the request (unless
// invalidRequest) and the response against the spec. It returns the response body.
func (c *conformance) run(t *testing.T, cl call) []byte {
	t.Helper()
	ctx := context.Background()
	route, params, err := c.router.FindRoute(c.newRequest(t, cl))
	if err != nil {
		t.Fatalf("%s: %s %s is not in the spec: %v", cl.name, cl.method, cl.path, err)
	}
	input := &openapi3filter.RequestValidationInput{
		Request: c.newRequest(t, cl), PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true,
			RejectWhenRequestBodyNotSpecified: true},
	}
	switch err := openapi3filter.ValidateRequest(ctx, input); {
	case err != nil && !cl.invalidRequest:
		t.Errorf("%s: the request does not match the spec: %v", cl.name, err)
	case err == nil && cl.invalidRequest:
		t.Errorf("%s: the server refuses the request, but the spec allows it", cl.name)
	}

	resp, err := c.b.srv.Client().Do(c.newRequest(t, cl))
	if err != nil {
		t.Fatalf("%s: %v", cl.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: read body: %v", cl.name, err)
	}
	if resp.StatusCode != cl.status {
		t.Fatalf("%s: status %d, want %d: %.300s", cl.name, resp.StatusCode, cl.status, body)
	}
	err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		t.Errorf("%s: the %d response does not match the spec: %v\nbody: %.500s", cl.name, resp.StatusCode, err, body)
	}
	id := route.Operation.OperationID
	c.seen[id] = append(c.seen[id], resp.StatusCode)
	return body
}

// pollWithDemo polls ref twice with the demo carrier, ten simulated days apart, so
// its feed holds real updates with events, vessels and estimates.
func pollWithDemo(t *testing.T, b *testBundle, refID string) {
	t.Helper()
	src := demo.New(demo.Options{Speed: 1, Clock: b.clock})
	p, err := poller.New(b.db, poller.Options{Router: poller.Router{Default: src}, Clock: b.clock})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.PollOne(context.Background(), refID); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(10 * 24 * time.Hour)
	}
}

// TestOpenAPI_RealResponsesMatchTheSpec drives every route through its success and
// error answers and validates each real request and response with kin-openapi.
func TestOpenAPI_RealResponsesMatchTheSpec(t *testing.T) {
	doc := loadSpec(t)
	seen := map[string][]int{}
	b := setup(t, withEveryRoute)
	c := newConformance(t, doc, b, seen)

	createBody := `{"container_id":"MSCU1234566","carrier_code":"MSCU","callback_url":"https://example.com/hooks","event_types":["shipment.updated"],"metadata":{"order":"4711"},"poll_interval":"30m"}`
	created := decode[Reference](t, c.run(t, call{name: "create", method: http.MethodPost, path: "/references", key: b.keyA,
		body: createBody, headers: []string{"Idempotency-Key", "order-4711"}, status: http.StatusCreated}))
	c.run(t, call{name: "create replayed", method: http.MethodPost, path: "/references", key: b.keyA,
		body: createBody, headers: []string{"Idempotency-Key", "order-4711"}, status: http.StatusCreated})
	c.run(t, call{name: "create idempotency mismatch", method: http.MethodPost, path: "/references", key: b.keyA,
		body: `{"container_id":"CSQU3054383","carrier_code":"MSCU"}`, headers: []string{"Idempotency-Key", "order-4711"}, status: 422})
	pollWithDemo(t, b, created.ID)
	resp, feed := b.do(t, http.MethodGet, "/references/"+created.ID+"/updates", b.keyA, nil)
	ups := decode[UpdatePage](t, feed).Updates
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feed: %d %s", resp.StatusCode, feed)
	}
	if len(ups) < 2 {
		t.Fatalf("the demo carrier made %d updates, want 2", len(ups))
	}
	b.seedAttempts(t, created.ID, 2)
	feedOnly := b.create(t, b.keyA, map[string]any{"bill_of_lading": "MAEU123456789", "carrier_code": "MAEU"})
	refPath := "/references/" + created.ID
	big := `{"carrier_code":"MAEU","metadata":{"x":"` + strings.Repeat("a", DefaultBodyLimit) + `"}}`

	calls := []call{
		{name: "healthz", method: http.MethodGet, path: "/healthz", status: 200},
		{name: "readyz", method: http.MethodGet, path: "/readyz", status: 200},
		{name: "openapi", method: http.MethodGet, path: "/openapi.yaml", status: 200},

		{name: "create booking", method: http.MethodPost, path: "/references", key: b.keyB, body: `{"booking_number":"BK123456","carrier_code":"HLCU"}`, status: 201},
		{name: "create conflict", method: http.MethodPost, path: "/references", key: b.keyA, body: `{"container_id":"MSCU1234566","carrier_code":"MSCU"}`, status: 409},
		{name: "create malformed", method: http.MethodPost, path: "/references", key: b.keyA, body: `{"container_id":`, status: 400, invalidRequest: true},
		{name: "create unknown field", method: http.MethodPost, path: "/references", key: b.keyA, body: `{"carrier_code":"MAEU","colour":"red"}`, status: 400, invalidRequest: true},
		{name: "create without key", method: http.MethodPost, path: "/references", body: `{"booking_number":"BK999999","carrier_code":"MAEU"}`, status: 401},
		{name: "create with unknown key", method: http.MethodPost, path: "/references", key: "thk_nope", body: `{"booking_number":"BK999999","carrier_code":"MAEU"}`, status: 401},
		{name: "create bad check digit", method: http.MethodPost, path: "/references", key: b.keyA, body: `{"container_id":"CSQU3054384","carrier_code":"MAEU"}`, status: 422},
		{name: "create form body", method: http.MethodPost, path: "/references", key: b.keyA, body: `{"carrier_code":"MAEU"}`,
			headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 415, invalidRequest: true},
		{name: "create too large", method: http.MethodPost, path: "/references", key: b.keyA, body: big, status: 413, invalidRequest: true},

		{name: "list", method: http.MethodGet, path: "/references?status=active&limit=1", key: b.keyA, status: 200},
		{name: "list all", method: http.MethodGet, path: "/references", key: b.keyA, status: 200},
		{name: "list bad status", method: http.MethodGet, path: "/references?status=lost", key: b.keyA, status: 422, invalidRequest: true},
		{name: "list bad limit", method: http.MethodGet, path: "/references?limit=501", key: b.keyA, status: 422, invalidRequest: true},
		// Search, sort and export (issue 13).
		{name: "list filtered", method: http.MethodGet, path: "/references?identifier=MSCU12*&carrier_code=MSCU&metadata.order=4711&updated_since=2020-01-01T00:00:00Z&eta_after=2020-01-01T00:00:00Z&eta_before=2100-01-01T00:00:00Z", key: b.keyA, status: 200},
		{name: "list by eta", method: http.MethodGet, path: "/references?sort=eta&limit=1", key: b.keyA, status: 200},
		{name: "list as csv", method: http.MethodGet, path: "/references?format=csv&identifier=MSCU1234566", key: b.keyA, status: 200},
		{name: "list accepting csv", method: http.MethodGet, path: "/references", key: b.keyA, headers: []string{"Accept", "text/csv"}, status: 200},
		{name: "list bad eta", method: http.MethodGet, path: "/references?eta_before=tomorrow", key: b.keyA, status: 422, invalidRequest: true},
		{name: "list bad identifier", method: http.MethodGet, path: "/references?identifier=MS-CU", key: b.keyA, status: 422, invalidRequest: true},
		{name: "list bad sort", method: http.MethodGet, path: "/references?sort=size", key: b.keyA, status: 422, invalidRequest: true},
		{name: "shipment", method: http.MethodGet, path: refPath + "/shipment", key: b.keyA, status: 200},
		{name: "shipment before the first poll", method: http.MethodGet, path: "/references/" + feedOnly.ID + "/shipment", key: b.keyA, status: 404},
		{name: "shipment of another account", method: http.MethodGet, path: refPath + "/shipment", key: b.keyB, status: 404},

		{name: "get", method: http.MethodGet, path: refPath, key: b.keyA, status: 200},
		{name: "get of another account", method: http.MethodGet, path: refPath, key: b.keyB, status: 404},
		{name: "get unknown", method: http.MethodGet, path: "/references/ref_NOSUCH", key: b.keyA, status: 404},

		{name: "updates", method: http.MethodGet, path: refPath + "/updates?after=0&limit=10", key: b.keyA, status: 200},
		{name: "updates at the end", method: http.MethodGet, path: refPath + "/updates?after=99", key: b.keyA, status: 200},
		{name: "updates bad after", method: http.MethodGet, path: refPath + "/updates?after=-1", key: b.keyA, status: 422, invalidRequest: true},
		{name: "updates unknown", method: http.MethodGet, path: "/references/ref_NOSUCH/updates", key: b.keyA, status: 404},

		{name: "account feed", method: http.MethodGet, path: "/updates?after=0&limit=10", key: b.keyA, status: 200},
		{name: "account feed filtered", method: http.MethodGet, path: "/updates?types=shipment.*,reference.unsubscribed", key: b.keyA, status: 200},
		{name: "account feed of another account", method: http.MethodGet, path: "/updates", key: b.keyB, status: 200},
		{name: "account feed bad after", method: http.MethodGet, path: "/updates?after=-1", key: b.keyA, status: 422, invalidRequest: true},
		{name: "account feed bad types", method: http.MethodGet, path: "/updates?types=shipment.sunk", key: b.keyA, status: 422},
		{name: "account feed without key", method: http.MethodGet, path: "/updates", status: 401},

		{name: "deliveries", method: http.MethodGet, path: refPath + "/deliveries?limit=1", key: b.keyA, status: 200},
		{name: "deliveries none", method: http.MethodGet, path: "/references/" + feedOnly.ID + "/deliveries", key: b.keyA, status: 200},
		{name: "deliveries bad limit", method: http.MethodGet, path: refPath + "/deliveries?limit=x", key: b.keyA, status: 422, invalidRequest: true},

		{name: "redeliver", method: http.MethodPost, path: refPath + "/updates/" + ups[0].ID + "/redeliver", key: b.keyA, status: 202},
		{name: "redeliver unknown update", method: http.MethodPost, path: refPath + "/updates/upd_NOSUCH/redeliver", key: b.keyA, status: 404},
		{name: "redeliver without callback", method: http.MethodPost, path: "/references/" + feedOnly.ID + "/updates/upd_X/redeliver", key: b.keyA, status: 422},

		{name: "patch", method: http.MethodPatch, path: refPath, key: b.keyA, body: `{"callback_url":"https://example.org/new","event_types":null}`, status: 200},
		{name: "patch nothing", method: http.MethodPatch, path: refPath, key: b.keyA, body: `{}`, status: 422, invalidRequest: true},
		{name: "patch bad event type", method: http.MethodPatch, path: refPath, key: b.keyA, body: `{"event_types":["shipment.sunk"]}`, status: 422, invalidRequest: true},
		{name: "patch wrong type", method: http.MethodPatch, path: refPath, key: b.keyA, body: `{"event_types":"all"}`, status: 400, invalidRequest: true},

		{name: "webhook secret", method: http.MethodGet, path: "/account/webhook-secret", key: b.keyA, status: 200},
		{name: "rotate", method: http.MethodPost, path: "/account/webhook-secret/rotate", key: b.keyA, body: `{"grace_seconds":3600}`, status: 200},
		{name: "rotate without body", method: http.MethodPost, path: "/account/webhook-secret/rotate", key: b.keyB, status: 200},
		{name: "rotate grace too long", method: http.MethodPost, path: "/account/webhook-secret/rotate", key: b.keyA, body: `{"grace_seconds":604801}`, status: 422, invalidRequest: true},
		{name: "rotate grace as text", method: http.MethodPost, path: "/account/webhook-secret/rotate", key: b.keyA, body: `{"grace_seconds":"1h"}`, status: 400, invalidRequest: true},

		{name: "backup", method: http.MethodGet, path: "/admin/backup", key: b.adminKey, status: 200},
		{name: "backup without admin", method: http.MethodGet, path: "/admin/backup", key: b.keyA, status: 403},
		{name: "status", method: http.MethodGet, path: "/admin/status", key: b.adminKey, status: 200},
		{name: "status without admin", method: http.MethodGet, path: "/admin/status", key: b.keyB, status: 403},

		{name: "refresh", method: http.MethodPost, path: refPath + "/refresh", key: b.keyA, status: 202},
		{name: "refresh within the minute", method: http.MethodPost, path: refPath + "/refresh", key: b.keyA, status: 429},
		{name: "refresh of another account", method: http.MethodPost, path: refPath + "/refresh", key: b.keyB, status: 404},
		{name: "pause", method: http.MethodPost, path: refPath + "/pause", key: b.keyA, status: 200},
		{name: "pause again", method: http.MethodPost, path: refPath + "/pause", key: b.keyA, status: 200},
		{name: "pause of another account", method: http.MethodPost, path: refPath + "/pause", key: b.keyB, status: 404},
		{name: "list paused", method: http.MethodGet, path: "/references?status=paused", key: b.keyA, status: 200},
		{name: "refresh paused", method: http.MethodPost, path: refPath + "/refresh", key: b.keyA, status: 409},
		{name: "resume of another account", method: http.MethodPost, path: refPath + "/resume", key: b.keyB, status: 404},
		{name: "resume", method: http.MethodPost, path: refPath + "/resume", key: b.keyA, status: 200},
		{name: "resume again", method: http.MethodPost, path: refPath + "/resume", key: b.keyA, status: 200},
		{name: "resume unknown", method: http.MethodPost, path: "/references/ref_NOSUCH/resume", key: b.keyA, status: 404},

		{name: "unsubscribe", method: http.MethodDelete, path: refPath, key: b.keyA, status: 200},
		{name: "unsubscribe again", method: http.MethodDelete, path: refPath, key: b.keyA, status: 200},
		{name: "unsubscribe unknown", method: http.MethodDelete, path: "/references/ref_NOSUCH", key: b.keyA, status: 404},
		{name: "patch unsubscribed", method: http.MethodPatch, path: refPath, key: b.keyA, body: `{"event_types":[]}`, status: 409},
		{name: "get unsubscribed", method: http.MethodGet, path: refPath, key: b.keyA, status: 200},
		{name: "pause unsubscribed", method: http.MethodPost, path: refPath + "/pause", key: b.keyA, status: 409},
		{name: "resume unsubscribed", method: http.MethodPost, path: refPath + "/resume", key: b.keyA, status: 409},
	}
	for _, cl := range calls {
		c.run(t, cl)
	}

	// Answers that need a server configured otherwise.
	limited := setup(t, func(c *setupConfig) { c.api.RateLimit, c.api.RateBurst = 0.001, 1 })
	lc := newConformance(t, loadSpec(t), limited, seen)
	lc.run(t, call{name: "first request", method: http.MethodGet, path: "/account/webhook-secret", key: limited.keyA, status: 200})
	lc.run(t, call{name: "over the rate", method: http.MethodGet, path: "/account/webhook-secret", key: limited.keyA, status: 429})

	strict := setup(t, func(c *setupConfig) {
		c.api.RotationLimit, c.api.RotationBurst = 0.001, 1
		c.api.AuthFailureLimit, c.api.AuthFailureBurst = 0.001, 1
	})
	sc := newConformance(t, loadSpec(t), strict, seen)
	sc.run(t, call{name: "rotate at once", method: http.MethodPost, path: "/account/webhook-secret/rotate", key: strict.keyA, body: `{"grace_seconds":0}`, status: 200})
	sc.run(t, call{name: "rotations over the limit", method: http.MethodPost, path: "/account/webhook-secret/rotate", key: strict.keyA, status: 429})
	sc.run(t, call{name: "a failed authentication", method: http.MethodGet, path: "/references", key: "thk_nope", status: 401})
	sc.run(t, call{name: "failed authentications over the limit", method: http.MethodGet, path: "/references", key: "thk_nope", status: 429})
	quota := setup(t, func(c *setupConfig) { c.service.MaxActivePerAccount = 1 })
	qc := newConformance(t, loadSpec(t), quota, seen)
	qc.run(t, call{name: "create within the quota", method: http.MethodPost, path: "/references", key: quota.keyA, body: `{"booking_number":"BK123456","carrier_code":"HLCU"}`, status: 201})
	qc.run(t, call{name: "create beyond the quota", method: http.MethodPost, path: "/references", key: quota.keyA, body: `{"booking_number":"BK654321","carrier_code":"HLCU"}`, status: 403})

	broken := setup(t, func(c *setupConfig) {
		c.api.Ready = func(context.Context) error { return errors.New("store closed") }
		c.api.Backup = failingBackup{n: 0}
		c.api.Status = failingStatus{}
	})
	bc := newConformance(t, loadSpec(t), broken, seen)
	bc.run(t, call{name: "not ready", method: http.MethodGet, path: "/readyz", status: 503})
	bc.run(t, call{name: "backup fails", method: http.MethodGet, path: "/admin/backup", key: broken.adminKey, status: 500})
	bc.run(t, call{name: "status fails", method: http.MethodGet, path: "/admin/status", key: broken.adminKey, status: 500})
	onPostgres := setup(t, func(c *setupConfig) {
		c.api.Ready = func(context.Context) error {
			return NotReady("the database does not answer", errors.New("connection refused"))
		}
		c.api.Backup = unsupportedBackup{}
	})
	pc := newConformance(t, loadSpec(t), onPostgres, seen)
	pc.run(t, call{name: "not ready: the database", method: http.MethodGet, path: "/readyz", status: 503})
	pc.run(t, call{name: "backup on PostgreSQL", method: http.MethodGet, path: "/admin/backup", key: onPostgres.adminKey, status: 501})

	endpointConformance(t, seen)
	keysConformance(t, seen)
	batchConformance(t, seen)

	// Every operation of the spec answered with success at least once.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ok := slices.ContainsFunc(seen[op.OperationID], func(s int) bool { return s < 300 })
			if !ok {
				t.Errorf("%s %s (%s) was never answered with success in this test; seen %v", method, path, op.OperationID, seen[op.OperationID])
			}
		}
	}
}

// unsupportedBackup is the Backuper of a store that makes none, as PostgreSQL's.
type unsupportedBackup struct{}

func (unsupportedBackup) Backup(context.Context, io.Writer) (int64, error) {
	return 0, fmt.Errorf("postgres: use pg_dump: %w", errors.ErrUnsupported)
}

// failingStatus is a StatusReporter whose store fails.
type failingStatus struct{}

func (failingStatus) Stats(context.Context) (references.Stats, error) {
	return references.Stats{}, fmt.Errorf("read stats: %w", errors.New("disk on fire"))
}

func (failingStatus) OldestUndelivered(context.Context) (*references.Update, error) {
	return nil, fmt.Errorf("read the outbox: %w", errors.New("disk on fire"))
}

// TestOpenAPI_CatchesAnUndescribedField shows the conformance check is not vacuous:
// a response with a field the spec does not name fails validation.
func TestOpenAPI_CatchesAnUndescribedField(t *testing.T) {
	doc := loadSpec(t)
	tighten(doc)
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	req := httptestRequest(t, http.MethodGet, "/healthz")
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	validate := func(body string) error {
		return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 200,
			Header:                 http.Header{"Content-Type": {"application/json"}},
			Body:                   io.NopCloser(strings.NewReader(body)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true},
		})
	}
	if err := validate(`{"status":"ok"}`); err != nil {
		t.Fatalf("the real shape fails: %v", err)
	}
	if err := validate(`{"status":"ok","uptime":3}`); err == nil {
		t.Fatal("a response with an undescribed field passed")
	}
	if err := validate(`{"status":"fine"}`); err == nil {
		t.Fatal("a response with a value outside the enum passed")
	}
}

func httptestRequest(t *testing.T, method, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://127.0.0.1"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
