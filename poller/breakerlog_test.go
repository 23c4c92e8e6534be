package poller_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
)

// TestSourcesRouter_LogsTheBreakerOpeningAndClosing: a source going down and coming
// back shows in the log at warn, named by its source. gobreaker times the open state
// with the wall clock, so open_for is short.
func TestSourcesRouter_LogsTheBreakerOpeningAndClosing(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, `[{"eventID": "1", "eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": "2024-03-05T18:00:00Z", "transportEventTypeCode": "DEPA"}]`)
	}))
	defer srv.Close()
	s, err := testRegistry().Parse([]byte(fmt.Sprintf("breaker: {failures: 2, open_for: 30ms}\ncarriers:\n  MAEU: {type: dcsa, base_url: '%s'}\n", srv.URL)), "yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	r, err := s.Router(poller.SourceEnv{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ref := references.Reference{ContainerID: "MSKU7261948", CarrierCode: "MAEU"}
	for range 2 {
		r.For("MAEU").Fetch(t.Context(), ref)
	}
	opened := logs.lines(t, "tracking source circuit breaker opened: its polls fail at once until a probe succeeds")
	if len(opened) != 1 || opened[0]["level"] != "WARN" || opened[0]["source"] != "MAEU" || opened[0]["probe_after"] != float64(30*time.Millisecond) {
		t.Fatalf("opened: %v", opened)
	}

	down.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for len(logs.lines(t, "tracking source circuit breaker closed: its polls go through again")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the breaker never closed")
		}
		time.Sleep(5 * time.Millisecond) // open_for runs on the wall clock
		r.For("MAEU").Fetch(t.Context(), ref)
	}
	closed := logs.lines(t, "tracking source circuit breaker closed: its polls go through again")
	if closed[0]["level"] != "WARN" || closed[0]["source"] != "MAEU" {
		t.Fatalf("closed: %v", closed)
	}
}
