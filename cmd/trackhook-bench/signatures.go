package main

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackhook/trackhook/webhook"
)

// maxSamples bounds how many requests a receiver keeps for checking.
const maxSamples = 32

// sampler keeps every n-th webhook a receiver took (headers, body, when it came), up
// to maxSamples, so that their signatures are checked after a phase, outside the time
// and CPU measured.
type sampler struct {
	every int64 // 0: none is kept
	seen  atomic.Int64

	mu   sync.Mutex
	kept []signedRequest
}

// signedRequest is one webhook as the receiver got it.
type signedRequest struct {
	header http.Header
	body   []byte
	at     time.Time
}

// keep keeps the request when its turn comes. body must not change afterwards.
func (s *sampler) keep(h http.Header, body []byte, at time.Time) {
	if s.every <= 0 || (s.seen.Add(1)-1)%s.every != 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.kept) < maxSamples {
		s.kept = append(s.kept, signedRequest{header: h.Clone(), body: body, at: at})
	}
}

// verify checks each kept request's signature with secret, as a receiver would when
// it came, and returns how many were checked and how many failed, with the first
// failure.
func (s *sampler) verify(secret string) (checked, bad int, err error) {
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for _, r := range s.kept {
		v.Now = func() time.Time { return r.at }
		if verr := v.Verify(r.header, r.body); verr != nil {
			bad++
			if first == nil {
				first = verr
			}
		}
		checked++
	}
	return checked, bad, first
}
