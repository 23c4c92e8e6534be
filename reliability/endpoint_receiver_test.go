package reliability_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/webhook"
)

// hit is one request a destination receiver got in full, with what it answered.
type hit struct {
	at     time.Time // when it was answered
	header http.Header
	body   []byte
	id     string // webhook-id
	status int
}

// accepted reports whether the receiver took the webhook (answered 2xx).
func (h *hit) accepted() bool { return h.status >= 200 && h.status < 300 }

// destReceiver is a loopback receiver of an account endpoint. It keeps every request
// it got in full, accepted or not, so that the checks can compare the tries of one
// webhook-id. A flaky one (failEvery n > 0) answers 500 to the first try of every
// n-th webhook-id it sees and accepts every other request: each failure is followed
// by successes, so the destination's circuit breaker never opens.
type destReceiver struct {
	*httptest.Server
	failEvery int
	delay     func() time.Duration   // before the answer; nil: none
	onAccept  atomic.Pointer[func()] // called after a webhook is accepted, before the answer

	mu    sync.Mutex
	hits  []hit
	seen  map[string]bool // webhook-ids answered
	fresh int             // distinct webhook-ids answered
}

func newDestReceiver(t *testing.T, failEvery int, delay func() time.Duration) *destReceiver {
	t.Helper()
	d := &destReceiver{failEvery: failEvery, delay: delay, seen: map[string]bool{}}
	d.Server = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.Close)
	return d
}

func (d *destReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // cut off half-way (the sender was killed): not a try
	}
	if d.delay != nil {
		timer := time.NewTimer(d.delay())
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return // the sender gave up or was killed before the answer
		}
	}
	id := r.Header.Get(webhook.HeaderID)
	status := http.StatusNoContent
	d.mu.Lock()
	if !d.seen[id] {
		d.seen[id] = true
		d.fresh++
		if d.failEvery > 0 && d.fresh%d.failEvery == 0 {
			status = http.StatusInternalServerError
		}
	}
	d.hits = append(d.hits, hit{at: time.Now(), header: r.Header.Clone(), body: body, id: id, status: status})
	d.mu.Unlock()
	if status == http.StatusNoContent {
		if f := d.onAccept.Load(); f != nil {
			(*f)()
		}
	}
	w.WriteHeader(status)
}

// all returns every request answered so far, in order.
func (d *destReceiver) all() []hit {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]hit(nil), d.hits...)
}
