package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// syncBuffer collects log output written from server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// setupConfig is what a test may change before setup builds the server.
type setupConfig struct {
	service references.ServiceOptions
	api     Options
}

// testBundle is a running API over a real store, with two accounts.
type testBundle struct {
	srv   *httptest.Server
	e     *echo.Echo
	svc   *references.Service
	db    *store.DB
	path  string      // the store's file
	clock *clock.Fake // the store's and the API's clock: moves only when told to
	logs  *syncBuffer

	keyA, keyB string // API keys of accounts A and B
	adminKey   string // an admin key of account A
	keyAStored references.APIKey
}

const (
	accountA = "acct_a"
	accountB = "acct_b"
)

// setup opens a store in a temporary directory, creates two accounts with a key each
// (and an admin key for A) and serves the API on a loopback server. Rate limits (per
// key, of rotations, of failed authentications) are off unless a test configures them.
func setup(t testing.TB, configure ...func(*setupConfig)) *testBundle {
	t.Helper()
	b := &testBundle{
		clock: clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		logs:  &syncBuffer{},
		path:  filepath.Join(t.TempDir(), "trackhook.db"),
	}
	db, err := store.Open(b.path, store.Options{NoSync: true, Clock: b.clock})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	b.db = db

	cfg := setupConfig{
		service: references.ServiceOptions{Now: b.clock.Now},
		api: Options{
			Logger:           slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			RateLimit:        rate.Inf,
			RotationLimit:    rate.Inf,
			AuthFailureLimit: rate.Inf,
			Backup:           db,
			Now:              b.clock.Now,
		},
	}
	for _, f := range configure {
		f(&cfg)
	}

	ctx := context.Background()
	now := b.clock.Now()
	for _, acct := range []string{accountA, accountB} {
		if _, err := db.EnsureAccount(ctx, acct, references.NewWebhookSecret(), now); err != nil {
			t.Fatalf("ensure account: %v", err)
		}
	}
	// adminKey is an operator key, with the admin scope, as serve makes them.
	newKey := func(acct string, admin bool) (string, references.APIKey) {
		scopes := []references.Scope{references.ScopeWrite}
		if admin {
			scopes = []references.Scope{references.ScopeAdmin}
		}
		key, stored := references.NewAPIKey(acct, scopes, now)
		stored.Operator = admin
		if err := db.CreateAPIKey(ctx, stored); err != nil {
			t.Fatalf("create key: %v", err)
		}
		return key, stored
	}
	b.keyA, b.keyAStored = newKey(accountA, false)
	b.keyB, _ = newKey(accountB, false)
	b.adminKey, _ = newKey(accountA, true)

	b.svc = references.NewService(db, cfg.service)
	b.e = New(b.svc, cfg.api)
	b.srv = httptest.NewServer(b.e)
	t.Cleanup(b.srv.Close)
	return b
}

// do sends a request to the loopback server. body is sent as is when it is a string
// or []byte and as JSON otherwise; headers are name, value pairs.
func (b *testBundle) do(t testing.TB, method, path, key string, body any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(v)
	case []byte:
		r = bytes.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, out
}

// create posts a reference for the key's account and fails the test unless it is 201.
func (b *testBundle) create(t testing.TB, key string, req map[string]any) Reference {
	t.Helper()
	resp, body := b.do(t, http.MethodPost, "/references", key, req)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create %v: status %d: %s", req, resp.StatusCode, body)
	}
	return decode[Reference](t, body)
}

func decode[T any](t testing.TB, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, body, err)
	}
	return v
}

// wantError checks an error response: its status, and that the body is exactly the
// error shape with the given code (and field, when not empty).
func wantError(t testing.TB, resp *http.Response, body []byte, status int, code, field string) errorDetail {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want JSON", ct)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var eb errorBody
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if eb.Error.Code != code {
		t.Errorf("code %q, want %q; body %s", eb.Error.Code, code, body)
	}
	if field != "" && eb.Error.Field != field {
		t.Errorf("field %q, want %q; body %s", eb.Error.Field, field, body)
	}
	if eb.Error.Message == "" {
		t.Errorf("empty message; body %s", body)
	}
	return eb.Error
}

// containerID returns a valid ISO 6346 container number with the given serial.
func containerID(serial int) string {
	first10 := fmt.Sprintf("MSCU%06d", serial)
	return fmt.Sprintf("%s%d", first10, references.ContainerCheckDigit(first10))
}

func TestRouting_UnknownRouteAndMethodAreJSON(t *testing.T) {
	b := setup(t)
	tests := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown path", http.MethodGet, "/nope", http.StatusNotFound, references.CodeNotFound},
		{"unknown path with key", http.MethodGet, "/references/x/y/z", http.StatusNotFound, references.CodeNotFound},
		{"wrong method", http.MethodPut, "/references", http.StatusMethodNotAllowed, codeMethodNotAllowed},
		{"wrong method on id", http.MethodPost, "/references/ref_X", http.StatusMethodNotAllowed, codeMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.do(t, tt.method, tt.path, b.keyA, nil)
			wantError(t, resp, body, tt.status, tt.code, "")
		})
	}
}
