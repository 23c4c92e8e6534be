package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPollsRecorded_SumsEveryOutcomeOfEverySource(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `# HELP trackhook_polls_total Polls of tracking sources.
# TYPE trackhook_polls_total counter
trackhook_polls_total{outcome="changed",source="demo"} 12
trackhook_polls_total{outcome="unchanged",source="demo"} 30
trackhook_poll_duration_seconds_count{source="demo"} 99
`)
	}))
	defer srv.Close()
	n, err := pollsRecorded(context.Background(), srv.Client(), srv.URL)
	if err != nil || n != 42 {
		t.Fatalf("got %v, %v; want 42", n, err)
	}
}

func TestMedianOf_TakesTheMiddleRun(t *testing.T) {
	runs := []crashTime{{RestartSeconds: 9}, {RestartSeconds: 2}, {RestartSeconds: 4}}
	if got := medianOf(runs, func(r crashTime) float64 { return r.RestartSeconds }); got != 4 {
		t.Fatalf("got %v, want 4", got)
	}
}
