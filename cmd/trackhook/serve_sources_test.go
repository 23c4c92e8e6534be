package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/store"
)

// TestBuild_RefusesIdentifiersTheCarriersSourceCannotTake: a bill of lading longer
// than DCSA Track & Trace v2.2 takes is refused at create for a carrier routed to a
// DCSA source, with the limit in the message, and accepted for one the demo tracks.
func TestBuild_RefusesIdentifiersTheCarriersSourceCannotTake(t *testing.T) {
	const key = "build-test-key-0123456789"
	dir := t.TempDir()
	sources := filepath.Join(dir, "sources.yaml")
	if err := os.WriteFile(sources, []byte("carriers:\n  MAEU: {type: dcsa, base_url: 'https://api.example.com/track'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, _, _ := newTestEnv(map[string]string{"TRACKHOOK_API_KEY": key})
	c, err := parseServeFlags([]string{"--db", filepath.Join(dir, "t.db"), "--sources", sources}, e)
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
	create := func(body string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/references", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.api.Handler.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}

	const bl = "MAEU12345678901234567890" // 24 characters: trackhook takes 35
	status, body := create(`{"bill_of_lading":"` + bl + `","carrier_code":"MAEU"}`)
	var got struct {
		Error struct{ Code, Field, Message string }
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || status != http.StatusUnprocessableEntity ||
		got.Error.Code != "invalid" || got.Error.Field != "bill_of_lading" ||
		!strings.Contains(got.Error.Message, "transportDocumentReference) of at most 20 characters; this one has 24") {
		t.Fatalf("create for MAEU (DCSA): %d %s, want a 422 on bill_of_lading naming the limit of 20", status, body)
	}
	if status, body := create(`{"bill_of_lading":"` + bl + `","carrier_code":"ZIMU"}`); status != http.StatusCreated {
		t.Fatalf("create for ZIMU (demo): %d %s, want 201", status, body)
	}
	if status, body := create(`{"bill_of_lading":"MAEU1234567890123456","carrier_code":"MAEU"}`); status != http.StatusCreated {
		t.Fatalf("create of 20 characters for MAEU: %d %s, want 201", status, body)
	}
}
