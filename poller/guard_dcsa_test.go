package poller_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/references"
)

func fetchN(t *testing.T, g *poller.GuardedSource, n int) {
	t.Helper()
	for range n {
		g.Fetch(t.Context(), references.Reference{ContainerID: "MSKU7261948"})
	}
}

// TestGuard_WithDCSAClient checks the classification against the errors a real DCSA
// client returns from a loopback server.
func TestGuard_WithDCSAClient(t *testing.T) {
	tests := []struct {
		status   int
		wantOpen bool
	}{
		{http.StatusBadRequest, false},
		{http.StatusUnauthorized, false},
		{http.StatusForbidden, false},
		{http.StatusNotFound, false}, // an empty 404: the shipment is unknown
		{http.StatusTooManyRequests, true},
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			client, err := dcsa.New("MAEU", dcsa.Config{BaseURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			g := poller.Guard("MAEU", client, poller.GuardOptions{Failures: 3, OpenFor: time.Hour})
			fetchN(t, g, 3)
			if open := g.State() == gobreaker.StateOpen; open != tt.wantOpen {
				t.Errorf("breaker %v after three %d answers, want open=%v", g.State(), tt.status, tt.wantOpen)
			}
		})
	}

	t.Run("malformed answer", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`[{"eventID": `))
		}))
		defer srv.Close()
		client, err := dcsa.New("MAEU", dcsa.Config{BaseURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		g := poller.Guard("MAEU", client, poller.GuardOptions{Failures: 2, OpenFor: time.Hour})
		fetchN(t, g, 2)
		if g.State() != gobreaker.StateOpen {
			t.Errorf("breaker %v after two malformed answers, want open", g.State())
		}
	})

	// As README says: a 200 whose events are all unusable counts as a failure.
	t.Run("200 with only unusable events", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`[{"eventID": "1", "eventType": "TRANSPORT", "eventClassifierCode": "ACT", "transportEventTypeCode": "ARRI"}]`))
		}))
		defer srv.Close()
		client, err := dcsa.New("MAEU", dcsa.Config{BaseURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		g := poller.Guard("MAEU", client, poller.GuardOptions{Failures: 2, OpenFor: time.Hour})
		fetchN(t, g, 2)
		if g.State() != gobreaker.StateOpen {
			t.Errorf("breaker %v after two answers without a usable event, want open", g.State())
		}
	})

	// net/http times a request with the real clock: the timeout is short, and the
	// server answers only when the client gives up, so nothing waits longer.
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		defer srv.Close()
		client, err := dcsa.New("MAEU", dcsa.Config{BaseURL: srv.URL, Timeout: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		g := poller.Guard("MAEU", client, poller.GuardOptions{Failures: 2, OpenFor: time.Hour})
		fetchN(t, g, 2)
		if g.State() != gobreaker.StateOpen {
			t.Errorf("breaker %v after two timeouts, want open", g.State())
		}
	})
}
