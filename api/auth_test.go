package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

func TestAuth_RefusesBadKeysOnEveryRoute(t *testing.T) {
	b := setup(t)
	revokedKey, stored := references.NewAPIKey(accountA, false, b.clock.Now())
	if err := b.db.CreateAPIKey(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.RevokeAPIKey(context.Background(), stored.ID, b.clock.Now()); err != nil {
		t.Fatal(err)
	}

	routes := []struct{ method, path string }{
		{http.MethodPost, "/references"},
		{http.MethodGet, "/references"},
		{http.MethodGet, "/references/ref_X"},
		{http.MethodDelete, "/references/ref_X"},
		{http.MethodPatch, "/references/ref_X"},
		{http.MethodGet, "/references/ref_X/updates"},
		{http.MethodGet, "/references/ref_X/deliveries"},
		{http.MethodPost, "/references/ref_X/updates/upd_X/redeliver"},
		{http.MethodGet, "/account/webhook-secret"},
		{http.MethodPost, "/account/webhook-secret/rotate"},
		{http.MethodGet, "/admin/backup"},
	}
	auths := []struct{ name, header string }{
		{"missing", ""},
		{"malformed scheme", "Basic " + b.keyA},
		{"malformed no token", "Bearer "},
		{"malformed no space", "Bearer" + b.keyA},
		{"unknown key", "Bearer thk_nosuchkey"},
		{"revoked key", "Bearer " + revokedKey},
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
