package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/store"
)

func TestParseServeFlags_PublicURLAndSessions(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		env           map[string]string
		publicURL     string // "" for none
		idle, life    time.Duration
		wantErrNaming string
	}{
		{name: "defaults", idle: 30 * time.Minute, life: 12 * time.Hour},
		{name: "https public URL", args: []string{"--public-url", "https://track.example.com/"},
			publicURL: "https://track.example.com", idle: 30 * time.Minute, life: 12 * time.Hour},
		{name: "public URL with a path and port", args: []string{"--public-url", "http://10.0.0.5:8080/trackhook"},
			publicURL: "http://10.0.0.5:8080/trackhook", idle: 30 * time.Minute, life: 12 * time.Hour},
		{name: "from the environment", env: map[string]string{
			"TRACKHOOK_PUBLIC_URL": "https://t.example.com", "TRACKHOOK_SESSION_IDLE": "10m", "TRACKHOOK_SESSION_LIFETIME": "2h",
		}, publicURL: "https://t.example.com", idle: 10 * time.Minute, life: 2 * time.Hour},
		{name: "session times", args: []string{"--session-idle", "1h", "--session-lifetime", "24h"}, idle: time.Hour, life: 24 * time.Hour},
		{name: "relative public URL", args: []string{"--public-url", "/ui"}, wantErrNaming: "--public-url"},
		{name: "no scheme", args: []string{"--public-url", "track.example.com"}, wantErrNaming: "--public-url"},
		{name: "other scheme", args: []string{"--public-url", "ftp://track.example.com"}, wantErrNaming: "--public-url"},
		{name: "no host", args: []string{"--public-url", "https://"}, wantErrNaming: "--public-url"},
		{name: "credentials", args: []string{"--public-url", "https://u:p@track.example.com"}, wantErrNaming: "--public-url"},
		{name: "query", args: []string{"--public-url", "https://track.example.com/?a=b"}, wantErrNaming: "--public-url"},
		{name: "fragment", args: []string{"--public-url", "https://track.example.com/#x"}, wantErrNaming: "--public-url"},
		{name: "idle too short", args: []string{"--session-idle", "30s"}, wantErrNaming: "--session-idle"},
		{name: "idle negative", args: []string{"--session-idle", "-5m"}, wantErrNaming: "--session-idle"},
		{name: "lifetime shorter than idle", args: []string{"--session-idle", "2h", "--session-lifetime", "1h"}, wantErrNaming: "--session-lifetime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := newTestEnv(tt.env)
			c, err := parseServeFlags(tt.args, e)
			if tt.wantErrNaming != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrNaming) {
					t.Fatalf("parseServeFlags(%q) = %v, want an error naming %s", tt.args, err, tt.wantErrNaming)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if c.publicURL != nil {
				got = c.publicURL.String()
			}
			if got != tt.publicURL || c.sessionIdle != tt.idle || c.sessionLifetime != tt.life {
				t.Errorf("public URL %q, idle %v, lifetime %v; want %q, %v, %v", got, c.sessionIdle, c.sessionLifetime, tt.publicURL, tt.idle, tt.life)
			}
		})
	}
}

func TestServeUsage_NamesTheConsoleFlags(t *testing.T) {
	e, stdout, _ := newTestEnv(nil)
	if _, err := parseServeFlags([]string{"-h"}, e); err == nil {
		t.Fatal("-h: no error")
	}
	for _, want := range []string{"/ui/", "--public-url (TRACKHOOK_PUBLIC_URL)", "--session-idle (TRACKHOOK_SESSION_IDLE)", "--session-lifetime (TRACKHOOK_SESSION_LIFETIME)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("serve -h does not mention %q:\n%s", want, stdout)
		}
	}
}

// serveHandler builds serve over a fresh store with flags, and returns its HTTP
// handler and an API key of account default.
func serveHandler(t *testing.T, flags ...string) (http.Handler, string) {
	t.Helper()
	const key = "console-admin-key-0123456789"
	e, _, _ := newTestEnv(map[string]string{"TRACKHOOK_API_KEY": key})
	c, err := parseServeFlags(append([]string{"--db", filepath.Join(t.TempDir(), "c.db")}, flags...), e)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(c.dbPath, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := bootstrapKeys(context.Background(), db, e); err != nil {
		t.Fatal(err)
	}
	s, err := build(c, e, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s.api.Handler, key
}

func TestServe_ServesTheConsole(t *testing.T) {
	h, _ := serveHandler(t)
	for _, tc := range []struct {
		path, location string
		status         int
	}{
		{"/", "/ui/", http.StatusFound},
		{"/ui", "/ui/", http.StatusFound},
		{"/ui/", "/ui/sign-in", http.StatusSeeOther},
		{"/ui/sign-in", "", http.StatusOK},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Location") != tc.location {
			t.Errorf("GET %s: %d to %q, want %d to %q", tc.path, rec.Code, rec.Header().Get("Location"), tc.status, tc.location)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ui/sign-in", nil))
	if !strings.Contains(rec.Body.String(), `id="sign-in-form"`) || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("sign-in page: %v\n%.300s", rec.Header(), rec.Body)
	}
}

func TestServe_ConsoleCookieIsSecureWithAnHTTPSPublicURL(t *testing.T) {
	for _, tc := range []struct {
		flags  []string
		secure bool
	}{
		{nil, false},
		{[]string{"--public-url", "http://127.0.0.1:8080"}, false},
		{[]string{"--public-url", "https://track.example.com"}, true},
	} {
		h, key := serveHandler(t, tc.flags...)
		req := httptest.NewRequest(http.MethodPost, "/ui/sign-in", strings.NewReader(url.Values{"key": {key}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		i := slices.IndexFunc(res.Cookies(), func(c *http.Cookie) bool { return c.Name == "trackhook_session" })
		if rec.Code != http.StatusSeeOther || i < 0 {
			t.Fatalf("%q: sign in: %d, cookies %v: %.300s", tc.flags, rec.Code, res.Cookies(), rec.Body)
		}
		if ck := res.Cookies()[i]; ck.Secure != tc.secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
			t.Errorf("%q: cookie %+v, want Secure %v, HttpOnly, SameSite=Strict", tc.flags, ck, tc.secure)
		}
	}
}
