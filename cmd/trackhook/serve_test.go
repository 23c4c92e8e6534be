package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// Issue 11, item 12: /metrics on the API's port answered anyone, though its labels
// name the receivers' hosts.
func TestServe_MetricsOnTheAPIPortNeedAnAdminKeyUnlessPublic(t *testing.T) {
	const adminKey = "metrics-admin-key-0123456789"
	tests := []struct {
		name  string
		flags []string
		want  map[string]int // Authorization -> status of GET /metrics on the API's port
	}{
		{"by default", nil, map[string]int{"": 401, "Bearer " + adminKey: 200, "user": 403}},
		{"--metrics-public", []string{"--metrics-public"}, map[string]int{"": 200, "Bearer " + adminKey: 200}},
		{"--metrics-addr", []string{"--metrics-addr", "127.0.0.1:0"}, map[string]int{"": 404, "Bearer " + adminKey: 404}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e, _, _ := newTestEnv(map[string]string{"TRACKHOOK_API_KEY": adminKey})
			c, err := parseServeFlags(append([]string{"--db", filepath.Join(t.TempDir(), "m.db")}, tt.flags...), e)
			if err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(c.dbPath, store.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := bootstrapKeys(ctx, db, e); err != nil {
				t.Fatal(err)
			}
			// An account's own admin key is not an operator's: it manages keys, not metrics.
			userKey, err := createKey(ctx, db, newKeyOptions{
				account: references.DefaultAccount, scopes: []references.Scope{references.ScopeAdmin}, actor: references.ActorCLI,
			}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			s, err := build(c, e, db, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			for auth, want := range tt.want {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				if auth == "user" {
					auth = "Bearer " + userKey
				}
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				rec := httptest.NewRecorder()
				s.api.Handler.ServeHTTP(rec, req)
				if rec.Code != want || (want == 200 && !strings.Contains(rec.Body.String(), "trackhook_references")) {
					t.Errorf("GET /metrics with %q: %d, want %d: %.200s", auth, rec.Code, want, rec.Body)
				}
			}
		})
	}
}

func TestServe_MetricsPublicWithMetricsAddrIsRefused(t *testing.T) {
	e, _, _ := newTestEnv(nil)
	if _, err := parseServeFlags([]string{"--metrics-public", "--metrics-addr", "127.0.0.1:9090"}, e); err == nil || !strings.Contains(err.Error(), "--metrics-public") {
		t.Fatalf("--metrics-public with --metrics-addr: %v, want an error naming the flag", err)
	}
}
