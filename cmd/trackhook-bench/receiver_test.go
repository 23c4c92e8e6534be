package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

func TestSampler_VerifyFindsABadSignature(t *testing.T) {
	secret := references.NewWebhookSecret()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	signed := func(body string) http.Header {
		h := http.Header{}
		if err := webhook.SetHeaders(h, []string{secret}, "upd_1", at, []byte(body)); err != nil {
			t.Fatal(err)
		}
		return h
	}
	s := sampler{every: 2}
	s.keep(signed(`{"a":1}`), []byte(`{"a":1}`), at)                    // kept: the 1st
	s.keep(signed(`{"b":2}`), []byte(`{"b":2}`), at)                    // skipped: the 2nd
	s.keep(signed(`{"c":3}`), []byte(`{"c":4}`), at.Add(time.Second))   // kept, and its body is not what was signed
	s.keep(signed(`{"d":4}`), []byte(`{"d":4}`), at.Add(time.Hour*100)) // skipped

	checked, bad, err := s.verify(secret)
	if checked != 2 || bad != 1 || !errors.Is(err, webhook.ErrNoMatchingSignature) {
		t.Fatalf("verify: %d checked, %d bad, %v; want 2, 1 and a signature that does not match", checked, bad, err)
	}
	if checked, bad, err := s.verify(references.NewWebhookSecret()); checked != 2 || bad != 2 || err == nil {
		t.Fatalf("verify with another secret: %d checked, %d bad, %v", checked, bad, err)
	}
}

func TestOutage_RefusesAtOnceOrHoldsUntilReleased(t *testing.T) {
	var o outage
	o.released = make(chan struct{})
	ctx := context.Background()
	if o.refuse(ctx) {
		t.Fatal("refused while up")
	}
	o.set(refusing)
	if !o.refuse(ctx) {
		t.Fatal("not refused while refusing")
	}

	// A hanging receiver holds a request until its client gives up or it is released.
	o.set(hanging)
	held := make(chan bool)
	go func() { held <- o.refuse(ctx) }()
	o.release()
	if !<-held {
		t.Fatal("a released request was not refused")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if !o.refuse(cancelled) || o.refused.Load() != 3 {
		t.Fatalf("%d refused, want 3", o.refused.Load())
	}
}

func TestReceiver_DownAnswers503AndCountsNothingDelivered(t *testing.T) {
	rcv, err := startReceiver(time.Now, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rcv.close(context.Background()) })
	body := []byte(`{"timestamp":"2026-03-01T12:00:00Z","data":{"reference_id":"ref_1","sequence":1}}`)
	postStatus := func() int {
		resp, err := http.Post(rcv.url+"/hooks", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	rcv.outage.set(refusing)
	if got := postStatus(); got != http.StatusServiceUnavailable {
		t.Fatalf("down: %d", got)
	}
	if rcv.webhooks.Load() != 0 || rcv.lastSequence("ref_1") != 0 {
		t.Fatal("a refused webhook was counted")
	}
	rcv.outage.set(up)
	if got := postStatus(); got != http.StatusOK || rcv.missing(map[string]uint64{"ref_1": 1}) != 0 {
		t.Fatalf("up again: %d, missing %d", got, rcv.missing(map[string]uint64{"ref_1": 1}))
	}
}
