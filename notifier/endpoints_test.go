package notifier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// Account endpoints end to end: the real store fans updates out, the notifier's loop
// sends them to loopback receivers, and the tests read what arrived and what the
// store recorded.

// hook is one request an endpoint receiver got.
type hook struct {
	header http.Header
	body   []byte
	typ    string
	data   json.RawMessage
}

// updates decodes the update(s) the hook carries: one, or a batch's.
func (h hook) updates(t *testing.T) []webhook.Update {
	t.Helper()
	if h.typ == "batch" {
		var ups []webhook.Update
		if err := json.Unmarshal(h.data, &ups); err != nil {
			t.Fatalf("batch body: %v", err)
		}
		return ups
	}
	var u webhook.Update
	if err := json.Unmarshal(h.data, &u); err != nil {
		t.Fatalf("update body: %v", err)
	}
	return []webhook.Update{u}
}

// hookReceiver is a loopback receiver whose answer to each request a function decides.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []hook
	answer func(n int, w http.ResponseWriter) // n counts requests from 1
}

func newHookReceiver(t *testing.T, answer func(n int, w http.ResponseWriter)) *hookReceiver {
	s := &hookReceiver{answer: answer}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h := hook{header: req.Header.Clone(), body: body}
		var env struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		json.Unmarshal(body, &env)
		h.typ, h.data = env.Type, env.Data
		s.mu.Lock()
		s.got = append(s.got, h)
		n := len(s.got)
		answer := s.answer
		s.mu.Unlock()
		if answer == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		answer(n, w)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *hookReceiver) hooks() []hook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hook(nil), s.got...)
}

func (s *hookReceiver) setAnswer(answer func(n int, w http.ResponseWriter)) {
	s.mu.Lock()
	s.answer = answer
	s.mu.Unlock()
}

func always(status int, header ...string) func(int, http.ResponseWriter) {
	return func(_ int, w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
	}
}

// sequences lists the sequences of the updates the receiver got, in arrival order.
func (s *hookReceiver) sequences(t *testing.T) []uint64 {
	var out []uint64
	for _, h := range s.hooks() {
		for _, u := range h.updates(t) {
			out = append(out, u.Sequence)
		}
	}
	return out
}

func (b *bundle) service() *references.Service {
	return references.NewService(b.db, references.ServiceOptions{Now: b.clock.Now, AllowInsecureCallbacks: true})
}

// endpoint creates an endpoint of account "acct" for url with the settings of in.
func (b *bundle) endpoint(t *testing.T, url string, in references.EndpointPatch) references.Endpoint {
	t.Helper()
	in.URL = &url
	ep, err := b.service().CreateEndpoint(context.Background(), "acct", in)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func (b *bundle) messages(t *testing.T, ep references.Endpoint) []references.Message {
	t.Helper()
	page, err := b.db.ListMessages(context.Background(), "acct", ep.ID, references.MessageQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return page.Messages
}

// settled reports whether every message of the endpoint has its outcome recorded:
// none is pending or being retried.
func (b *bundle) settled(t *testing.T, ep references.Endpoint) bool {
	for _, m := range b.messages(t, ep) {
		if m.Status == references.MessagePending || m.Status == references.MessageSending {
			return false
		}
	}
	return true
}

func (b *bundle) getEndpoint(t *testing.T, id string) references.Endpoint {
	t.Helper()
	ep, err := b.db.GetEndpoint(context.Background(), "acct", id)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func ptrTo[T any](v T) *T { return &v }

// waitWaking waits for cond, asking n to scan meanwhile: the fake clock never fires
// the notifier's periodic scan, and work made by a recorded attempt (the next message
// of a stream after a failure, an operational event) waits for one.
func waitWaking(t *testing.T, n *notifier.Notifier, cond func() bool) {
	t.Helper()
	waitFor(t, func() bool {
		n.Wake()
		return cond()
	})
}

// run starts n and stops it when the test ends.
func run(t *testing.T, n *notifier.Notifier) {
	ctx := context.Background()
	n.Start(ctx)
	t.Cleanup(func() { n.Stop(ctx) })
}

func TestEndpoints_FanOutToTheCallbackAndEndpointsByFilter(t *testing.T) {
	n, b := setup(t, notifier.Options{})
	callback := newHookReceiver(t, nil)
	all := newHookReceiver(t, nil)
	failures := newHookReceiver(t, nil)
	otherCarrier := newHookReceiver(t, nil)
	acme := newHookReceiver(t, nil)
	epAll := b.endpoint(t, all.URL, references.EndpointPatch{})
	epFailures := b.endpoint(t, failures.URL, references.EndpointPatch{EventTypes: &[]string{"tracking.*"}})
	b.endpoint(t, otherCarrier.URL, references.EndpointPatch{Filter: &references.EndpointFilter{CarrierCodes: []string{"CMDU"}}})
	b.endpoint(t, acme.URL, references.EndpointPatch{Filter: &references.EndpointFilter{Metadata: map[string]string{"customer": "acme"}}})

	ref := b.track(t, callback.URL, "MSCU1234566", 2) // MAEU, no metadata
	b.appendUpdates(t, ref.ID, 1, references.UpdateTrackingFailed)
	run(t, n)
	waitWaking(t, n, func() bool {
		if len(callback.hooks()) != 3 || len(all.hooks()) != 3 || len(failures.hooks()) != 1 {
			return false
		}
		return b.settled(t, epAll) // recorded after the receiver answered
	})

	if got := fmt.Sprint(all.sequences(t)); got != "[1 2 3]" {
		t.Errorf("the endpoint for everything got %s, want [1 2 3]", got)
	}
	if got := failures.hooks()[0].typ; got != "tracking.failed" {
		t.Errorf("the tracking.* endpoint got %s", got)
	}
	if len(otherCarrier.hooks()) != 0 || len(acme.hooks()) != 0 {
		t.Errorf("filtered endpoints got %d and %d requests, want none", len(otherCarrier.hooks()), len(acme.hooks()))
	}
	// Each destination signs with its own secret; webhook-id is the update's id.
	for _, c := range []struct {
		rcv    *hookReceiver
		secret string
	}{{callback, b.secret}, {all, epAll.Secrets[0].Secret}, {failures, epFailures.Secrets[0].Secret}} {
		for _, h := range c.rcv.hooks() {
			if err := verifyWith([]string{c.secret}, h.header, h.body, b.clock.Now()); err != nil {
				t.Errorf("%s: %v", c.rcv.URL, err)
			}
			if id := h.header.Get("webhook-id"); id != h.updates(t)[0].ID {
				t.Errorf("webhook-id %s is not the update's id", id)
			}
		}
	}
	for _, m := range b.messages(t, epAll) {
		if m.Status != references.MessageSucceeded || len(m.Attempts) != 1 || m.Attempts[0].StatusCode != http.StatusNoContent {
			t.Errorf("message %s: %s after %d attempts", m.ID, m.Status, len(m.Attempts))
		}
	}
}

func TestEndpoints_OneDownDoesNotDelayTheOthers(t *testing.T) {
	n, b := setup(t, notifier.Options{})
	callback := newHookReceiver(t, nil)
	up := newHookReceiver(t, nil)
	down := newHookReceiver(t, always(http.StatusServiceUnavailable))
	b.endpoint(t, up.URL, references.EndpointPatch{})
	epDown := b.endpoint(t, down.URL, references.EndpointPatch{})

	ref := b.track(t, callback.URL, "MSCU1234566", 5)
	run(t, n)
	// The healthy destinations get all five while the first update to the dead one
	// waits for its retry (the clock does not move).
	waitWaking(t, n, func() bool {
		if len(up.hooks()) != 5 || len(callback.hooks()) != 5 {
			return false
		}
		for _, m := range b.messages(t, epDown) {
			if m.Status == references.MessageSending { // the failure is recorded
				return true
			}
		}
		return false
	})
	if got := fmt.Sprint(up.sequences(t)); got != "[1 2 3 4 5]" {
		t.Errorf("healthy endpoint got %s", got)
	}
	if got := len(down.hooks()); got != 1 {
		t.Errorf("the endpoint that is down got %d requests before its retry was due, want 1", got)
	}
	msgs := b.messages(t, epDown)
	statuses := map[references.MessageStatus]int{}
	for _, m := range msgs {
		statuses[m.Status]++
	}
	if statuses[references.MessageSending] != 1 || statuses[references.MessagePending] != 4 {
		t.Errorf("messages of the endpoint that is down: %v, want 1 sending and 4 pending", statuses)
	}
	// It comes back: the rest arrives, in order, after the retry.
	down.setAnswer(nil)
	b.clock.Advance(time.Minute)
	n.Wake()
	waitWaking(t, n, func() bool { return len(down.sequences(t)) == 6 })
	if got := fmt.Sprint(down.sequences(t)); got != "[1 1 2 3 4 5]" {
		t.Errorf("recovered endpoint got %s, want update 1 twice then the rest in order", got)
	}
	_ = ref
}

func TestEndpoints_Vision6PolicyDisablesAfterFiveAttempts(t *testing.T) {
	n, b := setup(t, notifier.Options{})
	dead := newHookReceiver(t, always(http.StatusInternalServerError))
	ops := newHookReceiver(t, nil)
	epDead := b.endpoint(t, dead.URL, references.EndpointPatch{MaxAttempts: ptrTo(5), DisableAfter: ptrTo(time.Duration(0))})
	b.endpoint(t, ops.URL, references.EndpointPatch{EventTypes: &[]string{"endpoint.*", "message.*"}})

	b.track(t, "", "MSCU1234566", 2)
	run(t, n)
	// The clock moves on only once the attempt it made due is recorded: jumping past
	// the lease of an attempt in flight would have it sent again beside its retry.
	attempts := func() int {
		n := 0
		for _, m := range b.messages(t, epDead) {
			n += len(m.Attempts)
		}
		return n
	}
	waitWaking(t, n, func() bool { return attempts() == 1 })
	for i := 0; i < 100 && b.getEndpoint(t, epDead.ID).Enabled; i++ {
		before := attempts()
		b.clock.Advance(time.Hour)
		waitWaking(t, n, func() bool { return attempts() > before })
	}
	got := b.getEndpoint(t, epDead.ID)
	if got.Enabled || got.DisabledReason != references.DisabledFailing || got.DisabledAt == nil {
		t.Fatalf("endpoint after its fifth failed attempt: enabled %v reason %q", got.Enabled, got.DisabledReason)
	}
	if n := len(dead.hooks()); n != 5 {
		t.Errorf("the endpoint got %d attempts, want 5", n)
	}
	var first references.Message
	for _, m := range b.messages(t, epDead) {
		if m.Sequence == 1 {
			first = m
		}
	}
	if first.Status != references.MessageFailed || first.FailReason != references.OutcomeGaveUp || len(first.Attempts) != 5 {
		t.Errorf("first message: %s (%s) after %d attempts, want failed (gave_up) after 5", first.Status, first.FailReason, len(first.Attempts))
	}
	// The operational feed has both events; the subscribing endpoint got them.
	events, err := b.db.ListAccountEvents(context.Background(), "acct", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	if fmt.Sprint(types) != "[message.attempt.exhausted endpoint.disabled]" {
		t.Errorf("operational feed: %v", types)
	}
	waitWaking(t, n, func() bool { return len(ops.hooks()) == 2 })
	if a, b := ops.hooks()[0].typ, ops.hooks()[1].typ; a != "message.attempt.exhausted" || b != "endpoint.disabled" {
		t.Errorf("the operations endpoint got %s, %s", a, b)
	}
}

func TestEndpoints_ReceiverControlHeaders(t *testing.T) {
	n, b := setup(t, notifier.Options{})
	rcv := newHookReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			always(http.StatusUnprocessableEntity, "Webhook-Delivery", "abort-message")(n, w)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ep := b.endpoint(t, rcv.URL, references.EndpointPatch{})
	b.track(t, "", "MSCU1234566", 2)
	run(t, n)
	waitWaking(t, n, func() bool { return len(rcv.hooks()) == 2 && b.settled(t, ep) })
	if got := fmt.Sprint(rcv.sequences(t)); got != "[1 2]" {
		t.Fatalf("receiver got %s: the aborted message must not be retried", got)
	}
	for _, m := range b.messages(t, ep) {
		want := references.MessageSucceeded
		if m.Sequence == 1 {
			want = references.MessageFailed
		}
		if m.Status != want || (m.Sequence == 1 && m.FailReason != references.OutcomeAborted) {
			t.Errorf("message %d: %s (%s)", m.Sequence, m.Status, m.FailReason)
		}
	}

	// webhook-delivery: disable turns the endpoint off; re-enabling resumes.
	rcv.setAnswer(always(http.StatusServiceUnavailable, "webhook-delivery", "disable"))
	ref := b.track(t, "", container(7), 0)
	b.appendUpdates(t, ref.ID, 2, references.UpdateShipment)
	n.Wake()
	waitWaking(t, n, func() bool { return !b.getEndpoint(t, ep.ID).Enabled })
	if got := b.getEndpoint(t, ep.ID).DisabledReason; got != references.DisabledByReceiver {
		t.Fatalf("disabled for %q, want receiver_disabled", got)
	}
	before := len(rcv.hooks())
	b.clock.Advance(time.Hour)
	n.Wake()
	time.Sleep(50 * time.Millisecond)
	if len(rcv.hooks()) != before {
		t.Fatal("a disabled endpoint was sent to")
	}
	rcv.setAnswer(nil)
	if _, err := b.service().PatchEndpoint(context.Background(), "acct", ep.ID, references.EndpointPatch{Enabled: ptrTo(true)}); err != nil {
		t.Fatal(err)
	}
	n.Wake()
	waitWaking(t, n, func() bool { return len(rcv.hooks()) == before+2 })
	var refSeqs []uint64
	for _, h := range rcv.hooks()[before:] {
		u := h.updates(t)[0]
		if u.ReferenceID == ref.ID {
			refSeqs = append(refSeqs, u.Sequence)
		}
	}
	if fmt.Sprint(refSeqs) != "[1 2]" {
		t.Errorf("after re-enabling the receiver got %v of the second reference, want [1 2]", refSeqs)
	}
}

func TestEndpoints_GoneDisablesTheEndpointNotTheReference(t *testing.T) {
	n, b := setup(t, notifier.Options{})
	rcv := newHookReceiver(t, always(http.StatusGone))
	ep := b.endpoint(t, rcv.URL, references.EndpointPatch{})
	ref := b.track(t, "", "MSCU1234566", 1)
	run(t, n)
	waitWaking(t, n, func() bool { return !b.getEndpoint(t, ep.ID).Enabled })
	if got := b.getEndpoint(t, ep.ID).DisabledReason; got != references.DisabledGone {
		t.Errorf("disabled for %q, want gone", got)
	}
	if r := b.ref(t, ref.ID); !r.Active() {
		t.Errorf("an endpoint's 410 unsubscribed the reference (%s)", r.UnsubscribeReason)
	}
}

func TestEndpoints_BatchIsFixedAtItsFirstAttempt(t *testing.T) {
	n, b := setup(t, notifier.Options{})
	rcv := newHookReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ep := b.endpoint(t, rcv.URL, references.EndpointPatch{Format: ptrTo(references.FormatBatch), BatchSize: ptrTo(3)})
	ref := b.track(t, "", "MSCU1234566", 4)
	run(t, n)
	waitWaking(t, n, func() bool { return len(rcv.hooks()) == 1 })
	// More updates arrive before the retry: the batch is sent again as it was.
	b.appendUpdates(t, ref.ID, 2, references.UpdateShipment)
	b.clock.Advance(time.Minute)
	n.Wake()
	waitWaking(t, n, func() bool { return len(rcv.hooks()) == 3 })
	hooks := rcv.hooks()
	var bodies []string
	for _, h := range hooks {
		if h.typ != "batch" {
			t.Fatalf("a batch endpoint got a %q body", h.typ)
		}
		if err := verifyWith([]string{ep.Secrets[0].Secret}, h.header, h.body, b.clock.Now()); err != nil {
			t.Errorf("batch signature: %v", err)
		}
		bodies = append(bodies, fmt.Sprint(seqsOf(h.updates(t))))
	}
	if fmt.Sprint(bodies) != "[[1 2 3] [1 2 3] [4 5 6]]" {
		t.Errorf("batches sent: %v, want [1 2 3] twice then [4 5 6]", bodies)
	}
	if hooks[0].header.Get("webhook-id") != hooks[1].header.Get("webhook-id") || hooks[1].header.Get("webhook-id") == hooks[2].header.Get("webhook-id") {
		t.Errorf("webhook-ids %s %s %s: a retried batch keeps its id, the next has another",
			hooks[0].header.Get("webhook-id"), hooks[1].header.Get("webhook-id"), hooks[2].header.Get("webhook-id"))
	}
}

// verifyWith checks a delivery's Standard Webhooks signature against secrets.
func verifyWith(secrets []string, header http.Header, body []byte, now time.Time) error {
	return webhook.Verify(secrets, header, body, 5*time.Minute, now)
}

func seqsOf(ups []webhook.Update) []uint64 {
	out := make([]uint64, len(ups))
	for i, u := range ups {
		out[i] = u.Sequence
	}
	return out
}

func TestEndpoints_RecoverSendsFailedMessagesAgain(t *testing.T) {
	ctx := context.Background()
	n, b := setup(t, notifier.Options{})
	rcv := newHookReceiver(t, always(http.StatusInternalServerError))
	ep := b.endpoint(t, rcv.URL, references.EndpointPatch{MaxAttempts: ptrTo(1)})
	b.track(t, "", "MSCU1234566", 3)
	run(t, n)
	waitWaking(t, n, func() bool {
		failed := 0
		for _, m := range b.messages(t, ep) {
			if m.Status == references.MessageFailed {
				failed++
			}
		}
		return failed == 3
	})
	rcv.setAnswer(nil)
	queued, err := b.service().RecoverMessages(ctx, "acct", ep.ID, epoch.Add(-time.Hour))
	if err != nil || queued != 3 {
		t.Fatalf("recover queued %d, %v; want 3", queued, err)
	}
	n.Wake()
	waitWaking(t, n, func() bool {
		for _, m := range b.messages(t, ep) {
			if m.Status != references.MessageSucceeded {
				return false
			}
		}
		return true
	})
	if got := len(rcv.hooks()); got != 6 {
		t.Errorf("receiver got %d requests, want 3 failed and 3 recovered", got)
	}
}

func TestEndpoints_SecretRotation(t *testing.T) {
	ctx := context.Background()
	n, b := setup(t, notifier.Options{})
	rcv := newHookReceiver(t, nil)
	ep := b.endpoint(t, rcv.URL, references.EndpointPatch{})
	old := ep.Secrets[0].Secret
	svc := b.service()

	graced, err := svc.RotateEndpointSecret(ctx, "acct", ep.ID, ptrTo(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	withGrace := graced.LiveSecrets(b.clock.Now())[0]
	ref := b.track(t, "", "MSCU1234566", 1)
	run(t, n)
	waitWaking(t, n, func() bool { return len(rcv.hooks()) == 1 })
	for _, secret := range []string{old, withGrace} {
		if err := verifyWith([]string{secret}, rcv.hooks()[0].header, rcv.hooks()[0].body, b.clock.Now()); err != nil {
			t.Errorf("during the grace a delivery must verify with either secret: %v", err)
		}
	}
	now, err := svc.RotateEndpointSecret(ctx, "acct", ep.ID, ptrTo(time.Duration(0)))
	if err != nil {
		t.Fatal(err)
	}
	newest := now.LiveSecrets(b.clock.Now())[0]
	b.appendUpdates(t, ref.ID, 1, references.UpdateShipment)
	n.Wake()
	waitWaking(t, n, func() bool { return len(rcv.hooks()) == 2 })
	h := rcv.hooks()[1]
	if err := verifyWith([]string{newest}, h.header, h.body, b.clock.Now()); err != nil {
		t.Errorf("after an immediate rotation: %v", err)
	}
	if err := verifyWith([]string{withGrace}, h.header, h.body, b.clock.Now()); err == nil {
		t.Error("an immediately replaced secret still signs")
	}
	if err := verifyWith([]string{old}, h.header, h.body, b.clock.Now()); err != nil {
		t.Errorf("the first secret's grace (an hour) was cut short by the second rotation: %v", err)
	}
}
