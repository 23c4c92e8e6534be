package reliability_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// apiServer is the real API over a real store, on a loopback server, logging at
// debug level into logs.
type apiServer struct {
	srv    *httptest.Server
	db     *store.DB
	logs   *syncBuffer
	client *http.Client
}

// newAPIServer serves api.New over db with the given options. Unless apiOpts has a
// logger, the API logs at debug level into the server's logs.
func newAPIServer(t *testing.T, db *store.DB, svcOpts references.ServiceOptions, apiOpts api.Options) *apiServer {
	t.Helper()
	a := &apiServer{db: db, logs: &syncBuffer{}}
	if apiOpts.Logger == nil {
		apiOpts.Logger = slog.New(slog.NewJSONHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a.srv = httptest.NewServer(api.New(references.NewService(db, svcOpts), apiOpts))
	// At most 256 connections: 1,000 concurrent requests stay within a small ulimit.
	tr := &http.Transport{MaxConnsPerHost: 256, MaxIdleConnsPerHost: 256}
	a.client = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		a.srv.Close()
	})
	return a
}

// response is what the API answered.
type response struct {
	status int
	body   []byte
	header http.Header
}

// errorCode returns the code of an error answer, "" when the body is not the API's
// error shape.
func (r response) errorCode() string {
	var e struct {
		Error struct {
			Code        string `json:"code"`
			Message     string `json:"message"`
			ReferenceID string `json:"reference_id"`
		} `json:"error"`
	}
	if json.Unmarshal(r.body, &e) != nil || e.Error.Message == "" {
		return ""
	}
	return e.Error.Code
}

// referenceID returns the reference_id of a conflict answer.
func (r response) referenceID() string {
	var e struct {
		Error struct {
			ReferenceID string `json:"reference_id"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.ReferenceID
}

// call makes one request with key as Bearer token (none when empty). body is sent as
// is, with Content-Type application/json unless header sets one; header holds
// name/value pairs.
func (a *apiServer) call(key, method, path string, body io.Reader, header ...string) (response, error) {
	req, err := http.NewRequest(method, a.srv.URL+path, body)
	if err != nil {
		return response{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: out, header: resp.Header}, err
}

// mustCall is call for requests that must get through, with body marshalled as JSON;
// it fails t on a transport error.
func (a *apiServer) mustCall(t *testing.T, key, method, path string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	r, err := a.call(key, method, path, rd, header...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// create makes a reference and returns its id; it fails t unless the answer is 201.
func (a *apiServer) create(t *testing.T, key string, body map[string]any) string {
	t.Helper()
	r := a.mustCall(t, key, http.MethodPost, "/references", body)
	if r.status != http.StatusCreated {
		t.Fatalf("create %v: %d %s", body, r.status, r.body)
	}
	var ref api.Reference
	if err := json.Unmarshal(r.body, &ref); err != nil {
		t.Fatal(err)
	}
	return ref.ID
}
