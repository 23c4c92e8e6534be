package api

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

// countingSource counts the fetches of the source it wraps.
type countingSource struct {
	poller.Source
	calls atomic.Int64
}

func (s *countingSource) Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error) {
	s.calls.Add(1)
	return s.Source.Fetch(ctx, ref)
}

// pauseRig is the API over a real store with the demo carrier behind a poller that
// runs what is due when told (runDue), on the bundle's fake clock.
type pauseRig struct {
	*testBundle
	src   *countingSource
	woken atomic.Int64 // calls of ServiceOptions.PollRequested
}

func newPauseRig(t *testing.T) *pauseRig {
	r := &pauseRig{}
	r.testBundle = setup(t, func(c *setupConfig) { c.service.PollRequested = func() { r.woken.Add(1) } })
	r.src = &countingSource{Source: demo.New(demo.Options{Speed: 1, Clock: r.clock})}
	return r
}

// runDue polls every reference due now, to the end, and returns how many it polled.
func (r *pauseRig) runDue(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	p, err := poller.New(r.db, poller.Options{
		Router: poller.Router{Default: r.src}, Clock: r.clock, TickSchedule: "@every 1h",
		MaxAge: 7 * 24 * time.Hour, Rand: func() float64 { return 0.5 },
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

func (r *pauseRig) post(t *testing.T, path, key string, want int) (*http.Response, Reference) {
	t.Helper()
	resp, body := r.do(t, http.MethodPost, path, key, nil)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d %s, want %d", path, resp.StatusCode, body, want)
	}
	if want >= 300 {
		return resp, Reference{}
	}
	return resp, decode[Reference](t, body)
}

// TestPause_NoPollsWhilePausedAndResumePollsAtOnce: against the demo carrier, a
// paused reference is not fetched however long it waits, its feed stays readable,
// and a resume polls it at once; the time paused is kept out of the maximum age.
func TestPause_NoPollsWhilePausedAndResumePollsAtOnce(t *testing.T) {
	r := newPauseRig(t)
	ref := r.create(t, r.keyA, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU"})
	path := "/references/" + ref.ID
	if n := r.runDue(t); n != 1 || r.src.calls.Load() != 1 {
		t.Fatalf("first poll: %d polled, %d fetches", n, r.src.calls.Load())
	}

	_, paused := r.post(t, path+"/pause", r.keyA, http.StatusOK)
	if paused.Status != references.StatusPaused || paused.PausedAt == nil || paused.NextPollAt != nil {
		t.Fatalf("paused: %+v", paused)
	}
	_, again := r.post(t, path+"/pause", r.keyA, http.StatusOK)
	if !again.PausedAt.Equal(*paused.PausedAt) {
		t.Fatalf("pausing twice moved paused_at from %v to %v", paused.PausedAt, again.PausedAt)
	}
	for range 8 { // past the maximum age of 7 days
		r.clock.Advance(24 * time.Hour)
		if n := r.runDue(t); n != 0 {
			t.Fatalf("%d polls while paused", n)
		}
	}
	if got := r.src.calls.Load(); got != 1 {
		t.Fatalf("the source was called %d times while paused, want no call", got)
	}
	if resp, body := r.do(t, http.MethodGet, path+"/updates", r.keyA, nil); resp.StatusCode != http.StatusOK || len(decode[UpdatePage](t, body).Updates) == 0 {
		t.Fatalf("feed of a paused reference: %d %s", resp.StatusCode, body)
	}
	r.post(t, path+"/refresh", r.keyA, http.StatusConflict)

	woken := r.woken.Load()
	_, resumed := r.post(t, path+"/resume", r.keyA, http.StatusOK)
	if resumed.Status != references.StatusActive || resumed.NextPollAt == nil || !resumed.NextPollAt.Equal(r.clock.Now()) || r.woken.Load() != woken+1 {
		t.Fatalf("resumed: status %s, next poll %v (now %v), poller woken %d times", resumed.Status, resumed.NextPollAt, r.clock.Now(), r.woken.Load()-woken)
	}
	if n := r.runDue(t); n != 1 || r.src.calls.Load() != 2 {
		t.Fatalf("after the resume, without moving the clock: %d polled, %d fetches; want polled at once", n, r.src.calls.Load())
	}
	// Eight days old, but tracked for less than one: the maximum age has not passed.
	if _, body := r.do(t, http.MethodGet, path, r.keyA, nil); decode[Reference](t, body).Status != references.StatusActive {
		t.Fatalf("after the resume and a poll: %s; want active, the time paused left out of the max age", body)
	}
	r.post(t, path+"/resume", r.keyA, http.StatusOK)
}

// TestRefresh_PollsAtOnceOnceAMinute: a refresh makes the next poll run now (the
// answer does not wait for it); another within the minute is refused with
// Retry-After, counted on the fake clock.
func TestRefresh_PollsAtOnceOnceAMinute(t *testing.T) {
	r := newPauseRig(t)
	ref := r.create(t, r.keyA, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU"})
	path := "/references/" + ref.ID + "/refresh"
	r.runDue(t)
	if n := r.runDue(t); n != 0 {
		t.Fatalf("%d polls due right after one", n)
	}

	_, got := r.post(t, path, r.keyA, http.StatusAccepted)
	if got.LastRefreshAt == nil || !got.NextPollAt.Equal(r.clock.Now()) {
		t.Fatalf("refresh answered %+v; want last_refresh_at and next_poll_at now", got)
	}
	if n := r.runDue(t); n != 1 || r.src.calls.Load() != 2 {
		t.Fatalf("after the refresh: %d polled, %d fetches", n, r.src.calls.Load())
	}
	if _, body := r.do(t, http.MethodGet, "/references/"+ref.ID, r.keyA, nil); !decode[Reference](t, body).LastPolledAt.Equal(r.clock.Now()) {
		t.Fatalf("the refreshed poll does not show in the reference: %s", body)
	}

	tests := []struct {
		name       string
		advance    time.Duration
		status     int
		retryAfter string
	}{
		{"at once", 0, http.StatusTooManyRequests, "60"},
		{"59 s later", 59 * time.Second, http.StatusTooManyRequests, "1"},
		{"a minute later", time.Second, http.StatusAccepted, ""},
		{"at once again", 0, http.StatusTooManyRequests, "60"},
	}
	for _, tt := range tests {
		r.clock.Advance(tt.advance)
		resp, _ := r.post(t, path, r.keyA, tt.status)
		if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
			t.Errorf("%s: Retry-After %q, want %q", tt.name, got, tt.retryAfter)
		}
	}
	r.post(t, path, r.keyB, http.StatusNotFound)
}
