package api

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

func TestAuth_RefusesBadKeysOnEveryRoute(t *testing.T) {
	b := setup(t)
	revokedKey, stored := references.NewAPIKey(accountA, []references.Scope{references.ScopeWrite}, b.clock.Now())
	if err := b.db.CreateAPIKey(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.RevokeAPIKey(context.Background(), references.KeyRevocation{Key: stored.ID, At: b.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	expiredKey, expired := references.NewAPIKey(accountA, []references.Scope{references.ScopeAdmin}, b.clock.Now())
	expiresAt := b.clock.Now().Add(time.Minute)
	expired.ExpiresAt, expired.Operator = &expiresAt, true
	if err := b.db.CreateAPIKey(context.Background(), expired); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Minute)

	routes := []struct{ method, path string }{
		{http.MethodPost, "/references"},
		{http.MethodGet, "/references"},
		{http.MethodGet, "/references/ref_X"},
		{http.MethodDelete, "/references/ref_X"},
		{http.MethodPatch, "/references/ref_X"},
		{http.MethodGet, "/references/ref_X/updates"},
		{http.MethodGet, "/references/ref_X/deliveries"},
		{http.MethodGet, "/references/ref_X/shipment"},
		{http.MethodGet, "/updates"},
		{http.MethodPost, "/references/ref_X/updates/upd_X/redeliver"},
		{http.MethodGet, "/account/webhook-secret"},
		{http.MethodPost, "/account/webhook-secret/rotate"},
		{http.MethodGet, "/admin/backup"},
		{http.MethodPost, "/account/keys"},
		{http.MethodGet, "/account/keys"},
		{http.MethodDelete, "/account/keys/key_X"},
		{http.MethodGet, "/account/audit"},
	}
	auths := []struct{ name, header string }{
		{"missing", ""},
		{"malformed scheme", "Basic " + b.keyA},
		{"malformed no token", "Bearer "},
		{"malformed no space", "Bearer" + b.keyA},
		{"unknown key", "Bearer thk_nosuchkey"},
		{"revoked key", "Bearer " + revokedKey},
		{"expired key", "Bearer " + expiredKey},
	}
	for _, r := range routes {
		for _, a := range auths {
			t.Run(r.method+" "+r.path+" "+a.name, func(t *testing.T) {
				var headers []string
				if a.header != "" {
					headers = []string{"Authorization", a.header}
				}
				resp, body := b.do(t, r.method, r.path, "", nil, headers...)
				wantError(t, resp, body, http.StatusUnauthorized, references.CodeUnauthorized, "")
				if got := resp.Header.Get("WWW-Authenticate"); got == "" {
					t.Error("no WWW-Authenticate header on 401")
				}
			})
		}
	}
}

func TestAuth_SchemeIsCaseInsensitive(t *testing.T) {
	b := setup(t)
	resp, body := b.do(t, http.MethodGet, "/references", "", nil, "Authorization", "bearer "+b.keyA)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header, want string
		wantErr      bool
	}{
		{"", "", false},
		{"Bearer abc", "abc", false},
		{"BEARER  abc ", "abc", false},
		{"Bearer", "", true},
		{"Bearer ", "", true},
		{"Token abc", "", true},
		{"abc", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			got, err := bearerToken(tt.header)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("bearerToken(%q) = %q, %v; want %q, error %v", tt.header, got, err, tt.want, tt.wantErr)
			}
			if err != nil && references.ErrorCode(err) != references.CodeUnauthorized {
				t.Errorf("code %q", references.ErrorCode(err))
			}
		})
	}
}

func TestAPIKey_FailsClosedWithoutAuthenticate(t *testing.T) {
	b := setup(t)
	// A route wired by mistake without authenticate must not act for "any account".
	b.e.GET("/unguarded", b.unguardedList)
	rec := httptest.NewRecorder()
	b.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/unguarded", nil))
	wantError(t, rec.Result(), rec.Body.Bytes(), http.StatusInternalServerError, references.CodeInternal, "")
}

// unguardedList lists references the way a handler does, for the test above.
func (b *testBundle) unguardedList(c echo.Context) error {
	page, err := b.svc.List(c.Request().Context(), apiKey(c).AccountID, references.ListQuery{})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// serveFrom sends one request through the echo handler as if from the client address
// remoteAddr, with key as Bearer token (none when empty) and extra headers as pairs.
func (b *testBundle) serveFrom(remoteAddr, key, path string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = remoteAddr
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	b.e.ServeHTTP(rec, req)
	return rec
}

// Issue 11, item 8: 3,000 random keys got 3,000 answers of 401 and no 429; each cost a
// SHA-256, a store read and a log line.
func TestAuth_FailedAuthenticationsAreLimitedPerClientAddress(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.api.AuthFailureLimit, c.api.AuthFailureBurst = 0, 0 }) // the defaults
	const attacker = "192.0.2.10:40000"
	statuses := map[int]int{}
	for i := range 3000 {
		// A header the client writes does not make it another client.
		rec := b.serveFrom(attacker, "thk_"+rand.Text(), "/references", "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i%250))
		statuses[rec.Code]++
		if rec.Code == http.StatusTooManyRequests {
			wantError(t, rec.Result(), rec.Body.Bytes(), http.StatusTooManyRequests, codeRateLimited, "")
			if got := rec.Header().Get("Retry-After"); got != "6" {
				t.Fatalf("Retry-After %q, want 6", got)
			}
		}
	}
	if statuses[401] != DefaultAuthFailureBurst || statuses[429] != 3000-DefaultAuthFailureBurst {
		t.Errorf("3,000 unknown keys from one address: %v; want %d x 401, then 429", statuses, DefaultAuthFailureBurst)
	}
	// An address over its limit is refused before its key is looked at, valid or not.
	if rec := b.serveFrom(attacker, b.keyA, "/references"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("a valid key from the limited address: %d, want 429", rec.Code)
	}
	// Other clients, and other hosts behind their own addresses, are not affected.
	if rec := b.serveFrom("203.0.113.5:5000", b.keyA, "/references"); rec.Code != http.StatusOK {
		t.Errorf("a valid key from another address: %d %s", rec.Code, rec.Body)
	}
	// The budget refills: one more try every 6 s.
	b.clock.Advance(6 * time.Second)
	if rec := b.serveFrom(attacker, "thk_nope", "/references"); rec.Code != http.StatusUnauthorized {
		t.Errorf("after 6 s: %d, want one more 401", rec.Code)
	}
	if rec := b.serveFrom(attacker, "thk_nope", "/references"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("the try after it: %d, want 429", rec.Code)
	}
}

func TestAuth_SuccessfulRequestsUseUpNoFailures(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.api.AuthFailureLimit, c.api.AuthFailureBurst = 0, 0 })
	const client = "203.0.113.7:1234"
	for range 500 {
		if rec := b.serveFrom(client, b.keyA, "/references"); rec.Code != http.StatusOK {
			t.Fatalf("a valid key: %d %s", rec.Code, rec.Body)
		}
	}
	for i := range DefaultAuthFailureBurst {
		if rec := b.serveFrom(client, "thk_typo", "/references"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d after 500 successes: %d, want 401", i+1, rec.Code)
		}
	}
	if rec := b.serveFrom(client, "thk_typo", "/references"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("failure %d: %d, want 429", DefaultAuthFailureBurst+1, rec.Code)
	}
}
