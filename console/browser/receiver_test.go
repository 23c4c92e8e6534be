package browser_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// receiver is a loopback webhook receiver: it answers 204, or 500 while failing is
// set, and records what it answered to each request.
type receiver struct {
	srv     *httptest.Server
	failing atomic.Bool
	mu      sync.Mutex
	got     []received
}

// received is one request and the receiver's answer.
type received struct {
	messageID string // the webhook-id (or svix-id) header
	status    int
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		id := req.Header.Get("webhook-id")
		if id == "" {
			id = req.Header.Get("svix-id")
		}
		status := http.StatusNoContent
		if r.failing.Load() {
			status = http.StatusInternalServerError
		}
		r.mu.Lock()
		r.got = append(r.got, received{messageID: id, status: status})
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// url is where the receiver listens (http://127.0.0.1:port/hook).
func (r *receiver) url() string { return r.srv.URL + "/hook" }

// answered returns how many requests the receiver answered with status.
func (r *receiver) answered(status int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, g := range r.got {
		if g.status == status {
			n++
		}
	}
	return n
}
