package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

func TestSourceRouter_DemoForEveryCarrierWithoutAFile(t *testing.T) {
	r, err := sourceRouter(serveConfig{demoSpeed: 3600}, env{getenv: func(string) string { return "" }}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Default.(*demo.Source); !ok || len(r.ByCarrier) != 0 {
		t.Errorf("router %+v, want the unguarded demo carrier for every carrier", r)
	}
}

// TestSourceRouter_BuildsTheFileWithTheServiceLogger loads a file naming both drivers
// and checks that the DCSA client logs what it skips to the service's logger.
func TestSourceRouter_BuildsTheFileWithTheServiceLogger(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"eventID": "1", "eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T18:00:00Z", "transportEventTypeCode": "DEPA"},
			{"eventID": "2", "eventType": "TRANSPORT", "eventClassifierCode": "ACT", "transportEventTypeCode": "ARRI"}]`)
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "sources.yaml")
	file := fmt.Sprintf("carriers:\n  MAEU: {type: dcsa, base_url: '%s', auth: {headers: {K: \"${MAEU_KEY}\"}}}\n  DEMO: {type: demo}\n", srv.URL)
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	getenv := func(name string) string { return map[string]string{"MAEU_KEY": "k-123"}[name] }
	r, err := sourceRouter(serveConfig{sourcesPath: path, demoSpeed: 1}, env{getenv: getenv}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"MAEU", "DEMO"} {
		if _, ok := r.ByCarrier[name].(*poller.GuardedSource); !ok {
			t.Errorf("%s: source %T, want a guarded source", name, r.ByCarrier[name])
		}
	}
	if _, err := r.ByCarrier["MAEU"].Fetch(t.Context(), references.Reference{ContainerID: "MSKU7261948"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "dcsa: skipped unusable events") {
		t.Errorf("logs %q: want the DCSA client's warning", logs.String())
	}
}

func TestSourceRouter_NamesTheFileInErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sources.yaml")
	if err := os.WriteFile(path, []byte("carriers:\n  MAEU: {type: dcsa}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sourceRouter(serveConfig{sourcesPath: path, demoSpeed: 1}, env{getenv: func(string) string { return "" }}, slog.New(slog.DiscardHandler))
	if want := "sources file " + path + ": carriers.MAEU.base_url: is required"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}
