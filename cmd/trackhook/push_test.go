package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa3"
	"github.com/trackhook/trackhook/store"
)

// pushSourcesFile is a sources file with a carrier of each push model.
const pushSourcesFile = `carriers:
  MAEU:
    type: dcsa
    base_url: https://api.example-carrier.test/track-and-trace
    push: true
  CMDU:
    type: dcsa-ct
    base_url: https://api.third-carrier.test/ct
    push: true
    push_poll_interval: 12h
    inbound_auth: {bearer: "${CMDU_PUSH_TOKEN}"}
  ZIMU: {type: demo}
`

const cmduToken = "cmdu-push-token-0123456789"

func writeSources(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sources.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseServeFlags_PushSecrets(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		env           map[string]string
		rotate, grace time.Duration
		wantErr       string
	}{
		{name: "defaults", rotate: 720 * time.Hour, grace: time.Hour},
		{name: "set", args: []string{"--push-rotate-every", "168h", "--push-secret-grace", "10m"}, rotate: 168 * time.Hour, grace: 10 * time.Minute},
		{name: "never rotate", args: []string{"--push-rotate-every", "0"}, rotate: 0, grace: time.Hour},
		{name: "from the environment", env: map[string]string{"TRACKHOOK_PUSH_ROTATE_EVERY": "48h", "TRACKHOOK_PUSH_SECRET_GRACE": "0s"}, rotate: 48 * time.Hour},
		{name: "rotating too often", args: []string{"--push-rotate-every", "30m"}, wantErr: "--push-rotate-every must be 0 (never) or at least 1h0m0s, not 30m0s"},
		{name: "negative rotation", args: []string{"--push-rotate-every", "-1h"}, wantErr: "--push-rotate-every must be 0 (never) or at least"},
		{name: "negative grace", args: []string{"--push-secret-grace", "-1s"}, wantErr: "--push-secret-grace must not be negative"},
		{name: "grace past the next rotation", args: []string{"--push-rotate-every", "2h", "--push-secret-grace", "2h"},
			wantErr: "--push-secret-grace (2h0m0s) must be shorter than --push-rotate-every (2h0m0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := newTestEnv(tt.env)
			c, err := parseServeFlags(tt.args, e)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseServeFlags(%q) = %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || c.pushRotateEvery != tt.rotate || c.pushSecretGrace != tt.grace {
				t.Fatalf("parseServeFlags(%q): rotate %v, grace %v, %v; want %v, %v", tt.args, c.pushRotateEvery, c.pushSecretGrace, err, tt.rotate, tt.grace)
			}
			if o := pushOptions(c); o.RotateEvery != tt.rotate || o.Grace != tt.grace {
				t.Errorf("poller push options: rotate %v, grace %v; want the flags'", o.RotateEvery, o.Grace)
			}
		})
	}
}

// TestServe_PushNeedsAPublicURL: a sources file with a carrier that pushes is refused
// without --public-url, in one line naming the carriers and the flag, before the
// store is created; with it the poller gets the carriers and the URL.
func TestServe_PushNeedsAPublicURL(t *testing.T) {
	sources := writeSources(t, pushSourcesFile)
	db := filepath.Join(t.TempDir(), "push.db")
	vars := map[string]string{"CMDU_PUSH_TOKEN": cmduToken}
	e, _, _ := newTestEnv(vars)
	err := run(context.Background(), []string{"serve", "--db", db, "--sources", sources}, e)
	want := "--sources has carriers with push: true (CMDU, MAEU): give --public-url"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("serve without --public-url: %v, want one line containing %q", err, want)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the store was created (%v): the refusal must come first", err)
	}

	// Polled-only sources need no public URL.
	if _, err := parseServeFlags([]string{"--sources", writeSources(t, "carriers:\n  ZIMU: {type: demo}\n")}, e); err != nil {
		t.Errorf("a sources file without push: %v", err)
	}

	c, err := parseServeFlags([]string{"--sources", sources, "--public-url", "https://trackhook.example.com/"}, e)
	if err != nil {
		t.Fatal(err)
	}
	o := pushOptions(c)
	if o.PublicURL.String() != "https://trackhook.example.com" || len(o.Sources) != 2 ||
		o.Sources["MAEU"].Model != poller.PushSubscription || o.Sources["CMDU"].Model != poller.PushReceiver || o.Sources["CMDU"].PollInterval != 12*time.Hour {
		t.Errorf("poller push options %+v, want the public URL and both carriers", o)
	}
}

// TestBuild_InboundRoutesOnTheAPIServer: with carriers that push, the API's server
// takes their pushes without an API key, authenticated their way (the CT 3.0
// carrier's token, the T&T 2.2 subscription's signature), and /metrics counts them.
func TestBuild_InboundRoutesOnTheAPIServer(t *testing.T) {
	const adminKey = "inbound-admin-key-0123456789"
	dir := t.TempDir()
	e, _, _ := newTestEnv(map[string]string{"TRACKHOOK_API_KEY": adminKey, "CMDU_PUSH_TOKEN": cmduToken})
	c, err := parseServeFlags([]string{"--db", filepath.Join(dir, "t.db"), "--sources", writeSources(t, pushSourcesFile),
		"--public-url", "https://trackhook.example.com", "--metrics-public"}, e)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(c.dbPath, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := bootstrapKeys(t.Context(), db, e); err != nil {
		t.Fatal(err)
	}
	s, err := build(c, e, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, auth, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		s.api.Handler.ServeHTTP(rec, req)
		return rec
	}
	// A push larger than the API's body limit, to a container nobody tracks.
	events := `{"events": [{"eventID": "e1", "eventDateTime": "2025-02-11T15:45:00Z", "eventClassification": {"eventTypeCode": "EQUIPMENT", "eventClassifierCode": "ACT", "equipmentEventTypeCode": "GTIN"}, "equipmentDetails": {"equipmentReference": "MSCU1234566"}}]}`
	large := events + strings.Repeat(" ", 70<<10)
	steps := []struct {
		name, path, auth, body string
		want                   int
		wantBody               string
	}{
		{"CT without the token", "/inbound/dcsa-ct/CMDU/events", "", events, 401, "feedbackElements"},
		{"CT with the API key", "/inbound/dcsa-ct/CMDU/events", "Bearer " + adminKey, events, 401, "feedbackElements"},
		{"CT with the token, over the API's body limit", "/inbound/dcsa-ct/CMDU/events", "Bearer " + cmduToken, large, 200, "feedbackElements"},
		{"T&T 2.2, unknown reference", "/inbound/dcsa/MAEU/ref_unknown", "", "[]", 404, "notFound"},
		{"a carrier that does not push", "/inbound/dcsa/ZIMU/ref_unknown", "", "[]", 404, "notFound"},
	}
	for _, st := range steps {
		rec := do(http.MethodPost, st.path, st.auth, st.body)
		if rec.Code != st.want || !strings.Contains(rec.Body.String(), st.wantBody) {
			t.Errorf("%s: %d %.200s, want %d with %q", st.name, rec.Code, rec.Body, st.want, st.wantBody)
		}
		if strings.HasPrefix(st.path, "/inbound/dcsa-ct/") && rec.Header().Get("API-Version") != dcsa3.APIVersion {
			t.Errorf("%s: API-Version %q", st.name, rec.Header().Get("API-Version"))
		}
	}
	metrics := do(http.MethodGet, "/metrics", "", "").Body.String()
	for _, line := range []string{
		`trackhook_inbound_pushes_total{model="receiver",outcome="unauthorized",source="CMDU"} 2`,
		`trackhook_inbound_pushes_total{model="receiver",outcome="not_tracked",source="CMDU"} 1`,
		`trackhook_inbound_pushes_total{model="subscription",outcome="unknown_subscription",source="MAEU"} 1`,
		`trackhook_inbound_pushes_total{model="subscription",outcome="unknown_subscription",source="unknown"} 1`,
		`trackhook_inbound_pushes_total{model="subscription",outcome="applied",source="MAEU"} 0`,
	} {
		if !strings.Contains(metrics, line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}
