package reliability_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// TestPause_DCSACarrierGetsNoRequestsWhilePaused is api's pause test against a DCSA
// carrier instead of the demo one: the real DCSA client, routed by carrier code,
// against a Track & Trace server on loopback. While the reference is paused the
// carrier gets no request however many poll intervals pass; a resume polls it at
// once, without moving the clock.
func TestPause_DCSACarrierGetsNoRequestsWhilePaused(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	db, err := store.Open(filepath.Join(t.TempDir(), "trackhook.db"), store.Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	_, key, _ := newAccount(t, db, "acct_pause", false)

	healthy, err := os.ReadFile(filepath.Join("..", "testdata", "reliability", "dcsa_events.json"))
	if err != nil {
		t.Fatal(err)
	}
	carrier := newFakeCarrier(t)
	carrier.set(healthyAnswer(healthy))
	client, err := dcsa.New("PAUSE", dcsa.Config{
		BaseURL: carrier.srv.URL, Timeout: 10 * time.Second,
		Auth: dcsa.Auth{Headers: map[string]string{"X-Api-Key": carrierKey}},
	}, dcsa.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	router := poller.Router{ByCarrier: map[string]poller.Source{"MSCU": client}}
	var woken atomic.Int64
	a := newAPIServer(t, db, references.ServiceOptions{
		Now: clk.Now, CheckSource: router.Check, PollRequested: func() { woken.Add(1) },
	}, api.Options{})

	// runDue polls what is due now, to the end, as api's pause rig does.
	runDue := func() int {
		t.Helper()
		p, err := poller.New(db, poller.Options{
			Router: router, Clock: clk, TickSchedule: "@every 1h", Rand: func() float64 { return 0.5 },
		})
		if err != nil {
			t.Fatal(err)
		}
		n, err := p.Tick(ctx) // before Start, whose own first scan would race it
		if err != nil {
			t.Fatal(err)
		}
		p.Start(ctx)
		p.Stop(ctx) // drains what the tick queued
		return n
	}
	reference := func(r response) api.Reference {
		t.Helper()
		var ref api.Reference
		if err := json.Unmarshal(r.body, &ref); err != nil {
			t.Fatalf("%s: %v", r.body, err)
		}
		return ref
	}

	id := a.create(t, key, map[string]any{"container_id": containerID("PAUU", 1), "carrier_code": "MSCU", "poll_interval": "1h"})
	path := "/references/" + id
	if n := runDue(); n != 1 || carrier.requests.Load() != 1 {
		t.Fatalf("first poll: %d polled, %d requests to the carrier", n, carrier.requests.Load())
	}
	if got := reference(a.mustCall(t, key, http.MethodGet, path, nil)); got.LastPollError != "" || got.LastPolledAt == nil {
		t.Fatalf("the first poll did not succeed against the DCSA carrier: %+v", got)
	}

	if r := a.mustCall(t, key, http.MethodPost, path+"/pause", nil); r.status != http.StatusOK || reference(r).Status != references.StatusPaused {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	for range 6 { // six poll intervals, and then some
		clk.Advance(90 * time.Minute)
		if n := runDue(); n != 0 {
			t.Fatalf("%d polls while paused", n)
		}
	}
	if got := carrier.requests.Load(); got != 1 {
		t.Fatalf("the carrier got %d requests while the reference was paused, want none", got-1)
	}

	r := a.mustCall(t, key, http.MethodPost, path+"/resume", nil)
	if resumed := reference(r); r.status != http.StatusOK || resumed.Status != references.StatusActive || woken.Load() != 1 {
		t.Fatalf("resume: %d %s; poller woken %d times", r.status, r.body, woken.Load())
	}
	if n := runDue(); n != 1 || carrier.requests.Load() != 2 {
		t.Fatalf("after the resume, without moving the clock: %d polled, %d requests to the carrier; want one at once", n, carrier.requests.Load()-1)
	}
	got := reference(a.mustCall(t, key, http.MethodGet, path, nil))
	if got.Status != references.StatusActive || got.LastPollError != "" || got.LastPolledAt == nil || !got.LastPolledAt.Equal(clk.Now()) {
		t.Fatalf("after the resume and its poll: %+v; want active, polled now (%v) without error", got, clk.Now())
	}
}
