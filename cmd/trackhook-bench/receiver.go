package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// baselinePath is where the raw POST loop sends; everything else is a webhook.
const baselinePath = "/baseline"

// receiver is a real HTTP server on loopback that takes the webhooks: it reads and
// decodes every body (as a receiver would), checks that each reference's updates come
// in order without a gap, and keeps the detect -> 2xx latency of each update when
// asked. The raw baseline's requests are read and decoded the same way but not
// tracked, so both loops pay the receiver the same. A receiver can be taken down
// (down.go) and can keep a sample of the signed requests (signatures.go).
type receiver struct {
	srv    *http.Server
	url    string
	now    func() time.Time
	served chan error // what Serve returned

	webhooks atomic.Int64 // webhook requests answered 2xx
	baseline atomic.Int64 // baseline requests answered 2xx

	outage outage  // answering 503 or hanging instead of 2xx
	sample sampler // every so many webhooks, kept to check their signatures
	// tap, when set, is given every webhook body and the moment it arrived (the push
	// phase reads the events the changes name).
	tap atomic.Pointer[func(body []byte, at time.Time)]

	mu        sync.Mutex
	last      map[string]uint64 // reference id -> highest sequence received
	dups      int64             // updates received again
	gaps      int64             // updates received before one of their predecessors
	recording bool
	latencies []time.Duration
}

// webhookBody is the part of a payload the receiver looks at.
type webhookBody struct {
	Timestamp time.Time `json:"timestamp"` // when the update was created: detection
	Data      struct {
		ReferenceID string `json:"reference_id"`
		Sequence    uint64 `json:"sequence"`
	} `json:"data"`
}

// startReceiver listens on a free loopback port. With sampleEvery above 0 it keeps
// every sampleEvery-th webhook for its signature to be checked (see sampler).
func startReceiver(now func() time.Time, sampleEvery int64) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{now: now, last: map[string]uint64{}, served: make(chan error, 1)}
	r.outage.released = make(chan struct{})
	r.sample.every = sampleEvery
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	r.url = "http://" + ln.Addr().String()
	go func() { r.served <- r.srv.Serve(ln) }()
	return r, nil
}

// close shuts the server down, letting go of the requests it holds when hanging; an
// error says it had stopped serving before.
func (r *receiver) close(ctx context.Context) error {
	r.outage.release()
	err := r.srv.Shutdown(ctx)
	if serr := <-r.served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// ServeHTTP answers 200 to a well-formed payload and 400 to anything else, or 503
// (at once or after hanging) while down.
func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.outage.refuse(req.Context()) {
		http.Error(w, "down for the benchmark", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(req.Body)
	var p webhookBody
	if err == nil {
		err = json.Unmarshal(body, &p)
	}
	if err != nil || p.Data.ReferenceID == "" {
		http.Error(w, "not a webhook payload", http.StatusBadRequest)
		return
	}
	if req.URL.Path == baselinePath {
		r.baseline.Add(1)
		w.WriteHeader(http.StatusOK)
		return
	}
	at := r.now()
	latency := at.Sub(p.Timestamp)
	r.sample.keep(req.Header, body, at)
	if tap := r.tap.Load(); tap != nil {
		(*tap)(body, at)
	}
	r.mu.Lock()
	switch last := r.last[p.Data.ReferenceID]; {
	case p.Data.Sequence <= last:
		r.dups++
	case p.Data.Sequence > last+1:
		r.gaps++
		r.last[p.Data.ReferenceID] = p.Data.Sequence
	default:
		r.last[p.Data.ReferenceID] = p.Data.Sequence
	}
	if r.recording {
		r.latencies = append(r.latencies, latency)
	}
	r.mu.Unlock()
	r.webhooks.Add(1)
	w.WriteHeader(http.StatusOK)
}

// record starts keeping latencies, dropping those kept before.
func (r *receiver) record() {
	r.mu.Lock()
	r.recording, r.latencies = true, nil
	r.mu.Unlock()
}

// stopRecording stops keeping latencies and returns them.
func (r *receiver) stopRecording() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recording = false
	return r.latencies
}

// lastSequence returns the highest sequence received for a reference.
func (r *receiver) lastSequence(refID string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[refID]
}

// missing counts the updates up to last[reference] that the receiver did not get.
func (r *receiver) missing(last map[string]uint64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for id, want := range last {
		if got := r.last[id]; got < want {
			n += int64(want - got)
		}
	}
	return n
}

// anomalies returns how many updates came twice and how many came out of order.
func (r *receiver) anomalies() (dups, gaps int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dups, r.gaps
}
