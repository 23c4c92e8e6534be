package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

func TestRequestID_EchoedOrGenerated(t *testing.T) {
	b := setup(t)
	tests := []struct {
		name, sent string
		keep       bool
	}{
		{"client id kept", "trace-123.abc", true},
		{"none sent", "", false},
		{"unsafe id replaced", "bad id\twith spaces", false},
		{"overlong id replaced", strings.Repeat("a", maxRequestIDLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.sent != "" {
				headers = []string{"X-Request-Id", tt.sent}
			}
			resp, _ := b.do(t, http.MethodGet, "/healthz", "", nil, headers...)
			got := resp.Header.Get("X-Request-Id")
			if tt.keep && got != tt.sent {
				t.Errorf("X-Request-Id %q, want %q", got, tt.sent)
			}
			if !tt.keep && (got == "" || got == tt.sent) {
				t.Errorf("X-Request-Id %q, want a generated id", got)
			}
		})
	}
}

func TestRecover_PanicIsJSON500AndLogged(t *testing.T) {
	b := setup(t)
	// Routes added after New get the middleware but no authentication.
	b.e.GET("/boom", func(echo.Context) error { panic("kaboom") })

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/boom", nil)
	req.Header.Set("X-Request-Id", "req-boom")
	b.e.ServeHTTP(rec, req)

	detail := wantError(t, rec.Result(), rec.Body.Bytes(), http.StatusInternalServerError, references.CodeInternal, "")
	if strings.Contains(detail.Message, "kaboom") {
		t.Errorf("panic value leaked to the client: %q", detail.Message)
	}
	if !strings.Contains(detail.Message, "req-boom") {
		t.Errorf("message %q does not quote the request id", detail.Message)
	}
	logs := b.logs.String()
	if !strings.Contains(logs, "kaboom") || !strings.Contains(logs, `"request_id":"req-boom"`) || !strings.Contains(logs, `"stack"`) {
		t.Errorf("panic not logged with request id and stack:\n%s", logs)
	}
}

func TestRequestLog_NeverContainsTheKey(t *testing.T) {
	b := setup(t)
	requests := []struct {
		method, path, auth string
	}{
		{http.MethodGet, "/references", "Bearer " + b.keyA},
		{http.MethodGet, "/references/ref_NOPE", "Bearer " + b.keyA},
		{http.MethodGet, "/references", "Bearer " + b.keyA + "x"},
		{http.MethodGet, "/references", "Basic " + b.keyA},
		{http.MethodGet, "/admin/backup", "Bearer " + b.keyA},
	}
	for _, r := range requests {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(r.method, r.path, nil)
		req.Header.Set("Authorization", r.auth)
		b.e.ServeHTTP(rec, req)
	}
	logs := b.logs.String()
	if strings.Contains(logs, b.keyA) || strings.Contains(logs, b.keyA[12:]) {
		t.Fatalf("the API key (or its secret part) is in the logs:\n%s", logs)
	}
	if strings.Contains(logs, b.keyAStored.Hash) {
		t.Fatalf("the key hash is in the logs:\n%s", logs)
	}
	// The lines for authenticated requests name the account and the key's id.
	var line struct {
		Msg     string `json:"msg"`
		Status  int    `json:"status"`
		Account string `json:"account"`
		KeyID   string `json:"key_id"`
		Path    string `json:"path"`
		ReqID   string `json:"request_id"`
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if line.Msg == "request" && line.Path == "/references/ref_NOPE" {
			found = true
			if line.Status != http.StatusNotFound || line.Account != accountA || line.KeyID != b.keyAStored.ID || line.ReqID == "" {
				t.Errorf("request line %s", l)
			}
		}
	}
	if !found {
		t.Errorf("no request line for /references/ref_NOPE in:\n%s", logs)
	}
}

// Issue 11, item 9: the request log showed 8 characters of a key that may be as short
// as 16. The keys here are written with characters random ids and log fields never
// hold together, so any 4 of them in a row found in the logs came from the key.
func TestRequestLog_NoFourCharactersOfAKey(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.api.Status = fixedStatus{} })
	keys := map[string]int{ // key -> how many characters its stored prefix keeps
		"qz0x-kw9j-vx1q-zj8k":                    8,  // as serve registers TRACKHOOK_API_KEY
		"thk_qz0xkw9jvx1qzj8kqz0xkw9jvx1qzj8kq0": 12, // as references.NewAPIKey makes them
	}
	for key, prefix := range keys {
		_, stored := references.NewAPIKey(accountA, []references.Scope{references.ScopeAdmin}, b.clock.Now())
		stored.Hash, stored.Prefix, stored.Operator = references.HashAPIKey(key), key[:prefix], true
		if err := b.db.CreateAPIKey(context.Background(), stored); err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct{ path, auth string }{
			{"/references", "Bearer " + key},
			{"/references/ref_NOPE", "Bearer " + key},
			{"/admin/status", "Bearer " + key},
			{"/references", "Bearer " + key + "x"},
			{"/references", "Bearer " + key[:prefix]},
			{"/references", "Basic " + key},
		} {
			req := httptest.NewRequest(http.MethodGet, r.path, nil)
			req.Header.Set("Authorization", r.auth)
			b.e.ServeHTTP(httptest.NewRecorder(), req)
		}
		logs := b.logs.String()
		for i := 0; i+4 <= len(key); i++ {
			if strings.Contains(logs, key[i:i+4]) {
				t.Errorf("%q, 4 characters of the key %q, is in the logs:\n%s", key[i:i+4], key, logs)
			}
		}
		if !strings.Contains(logs, `"key_id":"`+stored.ID+`"`) {
			t.Errorf("no line names the key by its id %s:\n%s", stored.ID, logs)
		}
	}
}
