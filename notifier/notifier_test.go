package notifier_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
	"github.com/trackhook/trackhook/webhook"
)

// delivery is one request a receiver got.
type delivery struct {
	id, timestamp, signature string
	body                     []byte
	payload                  struct {
		Type string         `json:"type"`
		Data webhook.Update `json:"data"`
	}
}

// receiver is a loopback webhook receiver whose answers the test scripts.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []delivery
	answers []int         // status codes to answer in turn; 200 when used up
	hang    chan struct{} // when set, requests wait for it (or the client's cancel)
	arrived int           // requests received, answered or not
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	r := &receiver{answers: answers}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivery{id: req.Header.Get("webhook-id"), timestamp: req.Header.Get("webhook-timestamp"), signature: req.Header.Get("webhook-signature"), body: body}
		json.Unmarshal(body, &d.payload)
		r.mu.Lock()
		hang := r.hang
		r.arrived++
		r.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-req.Context().Done():
				return
			}
		}
		r.mu.Lock()
		r.got = append(r.got, d)
		status := http.StatusOK
		if len(r.answers) > 0 {
			status, r.answers = r.answers[0], r.answers[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"status":%d}`, status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// verifySignature checks a delivery as the Standard Webhooks specification says,
// written here independently of package webhook: HMAC-SHA256 with the base64-decoded
// secret over "id.timestamp.body", base64 in a "v1," entry of the space-separated list.
func verifySignature(d delivery, secret string, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	ts, err := strconv.ParseInt(d.timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q: %v", d.timestamp, err)
	}
	if diff := now.Unix() - ts; diff > 300 || diff < -300 {
		return fmt.Errorf("timestamp %d is %ds away from now", ts, diff)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", d.id, d.timestamp, d.body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Split(d.signature, " ") {
		if v, ok := strings.CutPrefix(sig, "v1,"); ok && hmac.Equal([]byte(v), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("no signature in %q matches", d.signature)
}

type bundle struct {
	path     string
	db       *store.DB
	clock    *clock.Fake // the store's, the notifier's and the sender's
	breakers *notifier.Breakers
	store    *watchedStore // the store as the last notifier made sees it
	secret   string
	// sendTimeout is the Sender's timeout in notifiers made from now on (2s).
	sendTimeout time.Duration
	// resolver is the Sender's resolver in notifiers made from now on (the default).
	resolver *net.Resolver
}

// epoch is the fake time every test begins at.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T, opts notifier.Options) (*notifier.Notifier, *bundle) {
	t.Helper()
	b := &bundle{clock: clock.NewFake(epoch), path: filepath.Join(t.TempDir(), "trackhook.db")}
	b.open(t)
	b.secret = references.NewWebhookSecret()
	if _, err := b.db.EnsureAccount(context.Background(), "acct", b.secret, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return b.notifier(opts), b
}

func (b *bundle) open(t *testing.T) {
	t.Helper()
	db, err := store.Open(b.path, store.Options{NoSync: true, Clock: b.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b.db = db
}

func (b *bundle) notifier(opts notifier.Options) *notifier.Notifier {
	opts.Clock = b.clock
	opts.Rand = func() float64 { return 1 } // the longest delay of each jitter range
	if opts.Breakers == nil {
		opts.Breakers = notifier.NewBreakers(notifier.BreakerSettings{FailuresToOpen: 1000})
	}
	b.breakers = opts.Breakers
	timeout := b.sendTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	sender := notifier.NewSender(notifier.SenderOptions{AllowPrivate: true, Now: b.clock.Now, Timeout: timeout, UserAgent: "trackhook/test", Resolver: b.resolver})
	b.store = &watchedStore{DB: b.db}
	return notifier.New(b.store, sender, opts)
}

// watchedStore is the store as the notifier uses it, noting what the notifier
// claimed, postponed and gave back, so that a test can wait for it; it can also hold
// the notifier's releases back.
type watchedStore struct {
	*store.DB
	mu        sync.Mutex
	postponed []postponement
	claimed   int // streams and redeliveries handed out by ClaimDueDeliveries
	releasing int // ReleaseLease calls, made or waiting
	recorded  int // RecordAttempt calls
	// holdReleases, when set, keeps ReleaseLease calls waiting until it is closed.
	holdReleases chan struct{}
}

func (s *watchedStore) ReleaseLease(ctx context.Context, lease references.Lease) error {
	s.mu.Lock()
	s.releasing++
	hold := s.holdReleases
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	return s.DB.ReleaseLease(ctx, lease)
}

func (s *watchedStore) RecordAttempt(ctx context.Context, lease references.Lease, job references.DeliveryJob, a references.DeliveryAttempt, unsubscribe references.UnsubscribeReason) (references.Reference, error) {
	s.mu.Lock()
	s.recorded++
	s.mu.Unlock()
	return s.DB.RecordAttempt(ctx, lease, job, a, unsubscribe)
}

func (s *watchedStore) records() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recorded
}

func (s *watchedStore) releases() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.releasing
}

func (s *watchedStore) ClaimDueDeliveries(ctx context.Context, owner string, limit int, lease time.Duration) ([]references.DeliveryClaim, error) {
	claims, err := s.DB.ClaimDueDeliveries(ctx, owner, limit, lease)
	s.mu.Lock()
	s.claimed += len(claims)
	s.mu.Unlock()
	return claims, err
}

func (s *watchedStore) claims() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claimed
}

type postponement struct {
	refID string
	until time.Time
}

func (s *watchedStore) PostponeDelivery(ctx context.Context, lease references.Lease, until time.Time) error {
	err := s.DB.PostponeDelivery(ctx, lease, until)
	if err == nil {
		s.mu.Lock()
		s.postponed = append(s.postponed, postponement{refID: strings.TrimPrefix(lease.Key, references.DeliveryLeaseKey(references.DestinationCallback, "")), until: until})
		s.mu.Unlock()
	}
	return err
}

func (s *watchedStore) postponements() []postponement {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]postponement(nil), s.postponed...)
}

// track creates a reference of account "acct" with a callback and appends n shipment
// updates to its feed.
func (b *bundle) track(t *testing.T, callback string, container string, n int, eventTypes ...string) references.Reference {
	t.Helper()
	return b.trackAs(t, "acct", callback, container, n, eventTypes...)
}

// trackAs is track for another account, which it creates if need be.
func (b *bundle) trackAs(t *testing.T, account, callback string, container string, n int, eventTypes ...string) references.Reference {
	t.Helper()
	ctx := context.Background()
	if _, err := b.db.EnsureAccount(ctx, account, b.secret, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	svc := references.NewService(b.db, references.ServiceOptions{Now: b.clock.Now, AllowInsecureCallbacks: true})
	ref, _, err := svc.Create(ctx, account, references.CreateRequest{ContainerID: container, CarrierCode: "MAEU", CallbackURL: callback, EventTypes: eventTypes}, "")
	if err != nil {
		t.Fatal(err)
	}
	b.appendUpdates(t, ref.ID, n, references.UpdateShipment)
	return ref
}

// appendUpdates records a poll of the reference that found n updates, as the poller
// does: under a claim of its poll.
func (b *bundle) appendUpdates(t *testing.T, refID string, n int, typ references.UpdateType) {
	t.Helper()
	ctx := context.Background()
	claim, err := b.db.ClaimPoll(ctx, "poller", refID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	res := references.PollResult{PolledAt: b.clock.Now(), NextPollAt: b.clock.Now().Add(time.Hour)}
	for i := 0; i < n; i++ {
		res.Updates = append(res.Updates, references.Update{Type: typ, CreatedAt: b.clock.Now(), Changes: []references.Change{}})
	}
	if _, err := b.db.RecordPoll(ctx, claim.Lease, res); err != nil {
		t.Fatal(err)
	}
}

// due returns the references whose callback stream another notifier instance would
// be handed now (due, and leased to no one); it gives the claims back at once.
func (b *bundle) due(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	claims, err := b.db.ClaimDueDeliveries(ctx, "probe", 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range claims {
		if !c.Job.Redelivery {
			ids = append(ids, c.Job.Reference.ID)
		}
		if err := b.db.ReleaseLease(ctx, c.Lease); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func (b *bundle) ref(t *testing.T, id string) references.Reference {
	t.Helper()
	ref, err := b.db.Reference(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (b *bundle) log(t *testing.T, refID string) []references.DeliveryAttempt {
	t.Helper()
	page, err := b.db.ListDeliveries(context.Background(), "acct", refID, references.DeliveryQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return page.Deliveries
}

func TestNotifier_DeliversSignedInOrderWithStandardHeaders(t *testing.T) {
	ctx := context.Background()
	n, b := setup(t, notifier.Options{})
	rcv := newReceiver(t)
	ref := b.track(t, rcv.URL+"/hooks", "MSCU1234566", 3)

	for i := 0; i < 3; i++ {
		if out, err := n.DeliverNext(ctx, ref.ID); err != nil || out != references.OutcomeDelivered {
			t.Fatalf("delivery %d: %q, %v", i+1, out, err)
		}
	}
	got := rcv.deliveries()
	if len(got) != 3 {
		t.Fatalf("receiver got %d deliveries, want 3", len(got))
	}
	for i, d := range got {
		if err := verifySignature(d, b.secret, b.clock.Now()); err != nil {
			t.Errorf("delivery %d: %v", i+1, err)
		}
		if d.payload.Data.Sequence != uint64(i+1) || d.id != d.payload.Data.ID || d.payload.Type != "shipment.updated" {
			t.Errorf("delivery %d: webhook-id %s, payload %+v", i+1, d.id, d.payload)
		}
		if d.payload.Data.Reference.ContainerID != "MSCU1234566" {
			t.Errorf("delivery %d does not say which reference it is about: %+v", i+1, d.payload.Data.Reference)
		}
	}
	if r := b.ref(t, ref.ID); r.DeliveredSequence != 3 || r.DeliveryState != references.DeliveryOK {
		t.Fatalf("after delivery: delivered %d state %q", r.DeliveredSequence, r.DeliveryState)
	}
	if _, err := n.DeliverNext(ctx, ref.ID); err == nil {
		t.Fatal("a fourth delivery was made from a feed of three")
	}
}

func TestNotifier_RetriesWithBackoffUntilSuccessAndKeepsOrder(t *testing.T) {
	ctx := context.Background()
	n, b := setup(t, notifier.Options{})
	rcv := newReceiver(t, 500, 503)
	ref := b.track(t, rcv.URL, "MSCU1234566", 2)

	wantDelays := []time.Duration{5 * time.Second, 20 * time.Second}
	for i, want := range wantDelays {
		out, err := n.DeliverNext(ctx, ref.ID)
		if err != nil || out != references.OutcomeFailed {
			t.Fatalf("attempt %d: %q, %v", i+1, out, err)
		}
		a := b.log(t, ref.ID)[0]
		if a.NextRetryAt == nil || a.NextRetryAt.Sub(b.clock.Now()) != want || a.StatusCode == 0 || a.ResponseBody == "" {
			t.Fatalf("attempt %d logged as %+v; want a retry in %v", i+1, a, want)
		}
		b.clock.Advance(want - time.Millisecond)
		if ids := b.due(t); len(ids) != 0 {
			t.Fatalf("due again before its retry time")
		}
		b.clock.Advance(time.Millisecond)
		if ids := b.due(t); len(ids) != 1 {
			t.Fatalf("not due at its retry time")
		}
	}
	for i := 0; i < 2; i++ {
		if out, err := n.DeliverNext(ctx, ref.ID); err != nil || out != references.OutcomeDelivered {
			t.Fatalf("after recovery: %q, %v", out, err)
		}
	}
	var seqs []uint64
	var ids []string
	for _, d := range rcv.deliveries() {
		seqs = append(seqs, d.payload.Data.Sequence)
		ids = append(ids, d.id)
	}
	if fmt.Sprint(seqs) != "[1 1 1 2]" || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Fatalf("receiver saw sequences %v ids %v; want update 1 three times with one webhook-id, then 2", seqs, ids)
	}
}

func TestNotifier_GivesUpAfterWindowThenUnsubscribesFailingCallback(t *testing.T) {
	ctx := context.Background()
	n, b := setup(t, notifier.Options{RetryWindow: time.Hour, UnsubscribeFailingAfter: 2 * time.Hour})
	rcv := newReceiver(t, repeat(500, 1000)...)
	ref := b.track(t, rcv.URL, "MSCU1234566", 3)

	for step := 0; step < 200 && b.ref(t, ref.ID).Active(); step++ {
		if _, err := n.DeliverNext(ctx, ref.ID); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		b.clock.Advance(10 * time.Minute)
	}
	r := b.ref(t, ref.ID)
	if r.Active() || r.UnsubscribeReason != references.ReasonCallbackFailing || r.DeliveryState != references.DeliveryFailing {
		t.Fatalf("reference after 3h of failures: status %s reason %q state %q", r.Status, r.UnsubscribeReason, r.DeliveryState)
	}
	gaveUp := 0
	for _, a := range b.log(t, ref.ID) {
		if a.Outcome == references.OutcomeGaveUp {
			gaveUp++
		}
	}
	if gaveUp < 2 {
		t.Fatalf("%d updates given up, want at least 2 within 3h at a 1h window", gaveUp)
	}
	ups, _ := b.db.ListUpdates(ctx, "acct", ref.ID, 0, 10)
	if len(ups) != 4 {
		t.Fatalf("given-up updates must stay in the feed, with the final one after them: %d there, want 4", len(ups))
	}
	if last := ups[3]; last.Type != references.UpdateUnsubscribed || last.UnsubscribeReason != references.ReasonCallbackFailing {
		t.Fatalf("the feed ends with %s (%q), want reference.unsubscribed (callback_failing)", last.Type, last.UnsubscribeReason)
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestNotifier_OutcomesByResponse(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		wantOutcome references.AttemptOutcome
		wantActive  bool
	}{
		{"2xx delivers", 204, references.OutcomeDelivered, true},
		{"410 unsubscribes", 410, references.OutcomeGone, false},
		{"4xx is retried", 400, references.OutcomeFailed, true},
		{"redirect is not followed", 302, references.OutcomeFailed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			n, b := setup(t, notifier.Options{})
			rcv := newReceiver(t, tt.status)
			ref := b.track(t, rcv.URL, "MSCU1234566", 1)
			out, err := n.DeliverNext(ctx, ref.ID)
			if err != nil || out != tt.wantOutcome {
				t.Fatalf("outcome %q, %v; want %q", out, err, tt.wantOutcome)
			}
			r := b.ref(t, ref.ID)
			if r.Active() != tt.wantActive {
				t.Fatalf("active = %v, want %v (reason %q)", r.Active(), tt.wantActive, r.UnsubscribeReason)
			}
			if !tt.wantActive && r.UnsubscribeReason != references.ReasonCallbackGone {
				t.Fatalf("reason %q", r.UnsubscribeReason)
			}
			if len(rcv.deliveries()) != 1 {
				t.Fatalf("receiver got %d requests", len(rcv.deliveries()))
			}
		})
	}
}

func TestNotifier_TimeoutIsAFailedAttempt(t *testing.T) {
	ctx := context.Background()
	_, b := setup(t, notifier.Options{})
	b.sendTimeout = 100 * time.Millisecond // the Sender's own timeout, on the wall clock
	n := b.notifier(notifier.Options{})
	rcv := newReceiver(t)
	rcv.hang = make(chan struct{})
	defer close(rcv.hang)
	ref := b.track(t, rcv.URL, "MSCU1234566", 1)
	out, err := n.DeliverNext(ctx, ref.ID)
	if err != nil || out != references.OutcomeFailed {
		t.Fatalf("outcome %q, %v", out, err)
	}
	if a := b.log(t, ref.ID)[0]; a.Error == "" || a.StatusCode != 0 {
		t.Fatalf("timeout logged as %+v", a)
	}
}

func TestNotifier_BreakerOpensPerHostAndWaitsUncounted(t *testing.T) {
	ctx := context.Background()
	breakers := notifier.NewBreakers(notifier.BreakerSettings{FailuresToOpen: 2, OpenFor: 250 * time.Millisecond})
	n, b := setup(t, notifier.Options{Breakers: breakers, BreakerWait: time.Minute})
	down := newReceiver(t, 503, 503)
	up := newReceiver(t)
	bad := b.track(t, down.URL, "MSCU1234566", 1)
	good := b.track(t, up.URL, "CSQU3054383", 1)

	for i := 0; i < 2; i++ {
		if out, _ := n.DeliverNext(ctx, bad.ID); out != references.OutcomeFailed {
			t.Fatalf("attempt %d: %q", i+1, out)
		}
	}
	// Open: no request is made and no attempt is counted; the delivery waits.
	out, err := n.DeliverNext(ctx, bad.ID)
	if err != nil || out != "" {
		t.Fatalf("with the breaker open: %q, %v", out, err)
	}
	if len(down.deliveries()) != 2 || len(b.log(t, bad.ID)) != 2 {
		t.Fatalf("open breaker let a request through (%d requests, %d logged)", len(down.deliveries()), len(b.log(t, bad.ID)))
	}
	b.clock.Advance(59 * time.Second)
	if contains(b.due(t), bad.ID) {
		t.Fatal("postponed delivery is due before BreakerWait")
	}
	// Another host is not affected.
	if out, err := n.DeliverNext(ctx, good.ID); err != nil || out != references.OutcomeDelivered {
		t.Fatalf("other host: %q, %v", out, err)
	}
	// After OpenFor a half-open probe goes through; its success closes the breaker.
	deadline := time.Now().Add(5 * time.Second)
	for !breakers.Available(strings.TrimPrefix(down.URL, "http://")) {
		if time.Now().After(deadline) {
			t.Fatal("breaker never became half-open")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.clock.Advance(time.Second)
	if !contains(b.due(t), bad.ID) {
		t.Fatal("postponed delivery is not due after BreakerWait")
	}
	if out, err := n.DeliverNext(ctx, bad.ID); err != nil || out != references.OutcomeDelivered {
		t.Fatalf("probe: %q, %v", out, err)
	}
	if a := b.log(t, bad.ID)[0]; a.Attempt != 3 {
		t.Fatalf("probe logged as attempt %d, want 3 (waiting is not an attempt)", a.Attempt)
	}
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func TestNotifier_RotationSignsWithBothSecretsDuringGrace(t *testing.T) {
	ctx := context.Background()
	n, b := setup(t, notifier.Options{})
	rcv := newReceiver(t)
	ref := b.track(t, rcv.URL, "MSCU1234566", 2)
	acct, err := b.db.RotateWebhookSecret(ctx, "acct", references.NewWebhookSecret(), b.clock.Now().Add(time.Hour), "key_test")
	if err != nil {
		t.Fatal(err)
	}
	newSecret := acct.WebhookSecrets[len(acct.WebhookSecrets)-1].Secret
	n.DeliverNext(ctx, ref.ID)
	b.clock.Advance(2 * time.Hour) // the grace period is over
	n.DeliverNext(ctx, ref.ID)
	got := rcv.deliveries()
	if len(strings.Split(got[0].signature, " ")) != 2 {
		t.Fatalf("during grace want two signatures, got %q", got[0].signature)
	}
	for _, secret := range []string{b.secret, newSecret} {
		if err := verifySignature(got[0], secret, b.clock.Now().Add(-2*time.Hour)); err != nil {
			t.Errorf("during grace: %v", err)
		}
	}
	if err := verifySignature(got[1], b.secret, b.clock.Now()); err == nil {
		t.Error("the old secret still verifies after the grace period")
	}
	if err := verifySignature(got[1], newSecret, b.clock.Now()); err != nil {
		t.Errorf("after grace, new secret: %v", err)
	}
}

func TestNotifier_EventTypesFilterAndPatchRedirect(t *testing.T) {
	ctx := context.Background()
	n, b := setup(t, notifier.Options{})
	oldRcv, newRcv := newReceiver(t), newReceiver(t)
	ref := b.track(t, oldRcv.URL, "MSCU1234566", 0, string(references.UpdateUnsubscribed))
	b.appendUpdates(t, ref.ID, 2, references.UpdateShipment)
	b.appendUpdates(t, ref.ID, 1, references.UpdateTrackingFailed)
	if _, err := n.DeliverNext(ctx, ref.ID); err == nil {
		t.Fatal("filtered updates were delivered")
	}
	svc := references.NewService(b.db, references.ServiceOptions{Now: b.clock.Now, AllowInsecureCallbacks: true})
	url, all := newRcv.URL, []string{}
	if _, err := svc.Patch(ctx, "acct", ref.ID, references.Patch{CallbackURL: &url, EventTypes: &all}); err != nil {
		t.Fatal(err)
	}
	b.appendUpdates(t, ref.ID, 1, references.UpdateShipment)
	if out, err := n.DeliverNext(ctx, ref.ID); err != nil || out != references.OutcomeDelivered {
		t.Fatalf("after PATCH: %q, %v", out, err)
	}
	if len(oldRcv.deliveries()) != 0 || len(newRcv.deliveries()) != 1 || newRcv.deliveries()[0].payload.Data.Sequence != 4 {
		t.Fatalf("old receiver got %d, new got %+v", len(oldRcv.deliveries()), newRcv.deliveries())
	}
	if ups, _ := b.db.ListUpdates(ctx, "acct", ref.ID, 0, 10); len(ups) != 4 {
		t.Fatalf("filtered updates must stay in the feed: %d", len(ups))
	}
}

func TestNotifier_Redeliver(t *testing.T) {
	ctx := context.Background()
	n, b := setup(t, notifier.Options{})
	rcv := newReceiver(t)
	ref := b.track(t, rcv.URL, "MSCU1234566", 1)
	n.DeliverNext(ctx, ref.ID)
	upd := rcv.deliveries()[0].id
	svc := references.NewService(b.db, references.ServiceOptions{Now: b.clock.Now})
	if err := svc.Redeliver(ctx, "acct", ref.ID, upd); err != nil {
		t.Fatal(err)
	}
	n.Start(ctx)
	waitFor(t, func() bool { return len(rcv.deliveries()) == 2 })
	n.Stop(ctx)
	got := rcv.deliveries()
	if got[1].id != upd {
		t.Fatalf("redelivery has webhook-id %s, want %s", got[1].id, upd)
	}
	if log := b.log(t, ref.ID); len(log) != 2 || !log[0].Redelivery {
		t.Fatalf("log: %+v", log)
	}
}

// TestNotifier_RedeliveryOfAPrunedUpdateDoesNotBlockOthers queues redeliveries of
// updates that are then removed from the feed (retention before it kept such updates
// did so: a store carried over from it has them), more of them than a claim takes.
// The store drops each with an entry in the delivery log, and the other deliveries go
// on.
func TestNotifier_RedeliveryOfAPrunedUpdateDoesNotBlockOthers(t *testing.T) {
	ctx := context.Background()
	n, b := setup(t, notifier.Options{})
	rcv := newReceiver(t)
	ref := b.track(t, rcv.URL, container(1), 3)
	other := b.track(t, rcv.URL, container(2), 0)
	for range 3 {
		if out, err := n.DeliverNext(ctx, ref.ID); err != nil || out != references.OutcomeDelivered {
			t.Fatalf("first delivery: %q, %v", out, err)
		}
	}
	svc := references.NewService(b.db, references.ServiceOptions{Now: b.clock.Now})
	pruned := map[string]bool{}
	for _, d := range rcv.deliveries() {
		if err := svc.Redeliver(ctx, "acct", ref.ID, d.id); err != nil {
			t.Fatal(err)
		}
		pruned[d.id] = true
	}
	b.db.Close()
	pruneByHand(t, b.path, ref.ID, 1, 2, 3)
	b.open(t)
	b.appendUpdates(t, ref.ID, 1, references.UpdateShipment)
	b.appendUpdates(t, other.ID, 1, references.UpdateShipment)

	n = b.notifier(notifier.Options{Workers: 1}) // a claim takes 2 at most
	n.Start(ctx)
	waitFor(t, func() bool {
		return b.ref(t, ref.ID).DeliveredSequence == 4 && b.ref(t, other.ID).DeliveredSequence == 1
	})
	n.Stop(ctx)

	dropped := map[string]bool{}
	for _, a := range b.log(t, ref.ID) {
		if a.Outcome != references.OutcomeDropped {
			continue
		}
		if !a.Redelivery || !pruned[a.UpdateID] || dropped[a.UpdateID] || a.StatusCode != 0 {
			t.Fatalf("dropped redelivery logged as %+v", a)
		}
		dropped[a.UpdateID] = true
	}
	if len(dropped) != len(pruned) {
		t.Fatalf("%d dropped redeliveries logged, want %d", len(dropped), len(pruned))
	}
	sent := 0
	for _, d := range rcv.deliveries() {
		if pruned[d.id] {
			sent++
		}
	}
	if sent != len(pruned) || len(rcv.deliveries()) != len(pruned)+2 {
		t.Fatalf("receiver got %d requests, %d of pruned updates; want only the 2 new updates after the first %d", len(rcv.deliveries()), sent, len(pruned))
	}
	// Dropped once: nothing is left to claim, and no further log entry is written.
	if claims, err := b.db.ClaimDueDeliveries(ctx, "probe", 10, time.Minute); err != nil || len(claims) != 0 {
		t.Fatalf("left to claim: %+v, %v", claims, err)
	}
	if got := len(b.log(t, ref.ID)); got != 3+len(pruned)+1 {
		t.Fatalf("%d log entries, want 3 deliveries, %d dropped redeliveries and 1 delivery", got, len(pruned))
	}
}

// pruneByHand removes updates of a reference from the feed of the store file at path
// (closed), and from the retention index, as retention did before it kept updates
// queued for redelivery.
func pruneByHand(t *testing.T, path, refID string, seqs ...uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		feed, age := tx.Bucket([]byte("updates")), tx.Bucket([]byte("updates_by_time"))
		for _, seq := range seqs {
			key := binary.BigEndian.AppendUint64(append([]byte(refID), 0), seq)
			if feed.Get(key) == nil {
				return fmt.Errorf("no update %d of %s in the feed", seq, refID)
			}
			if err := feed.Delete(key); err != nil {
				return err
			}
			var index [][]byte
			err := age.ForEach(func(k, _ []byte) error {
				if bytes.Equal(k[8:], key) {
					index = append(index, bytes.Clone(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range index {
				if err := age.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestNotifier_CrashMidFlightRedeliversWithSameID abandons an attempt under way at
// shutdown, reopens the store as after a crash, and checks that the update is sent
// again with the same webhook-id and that nothing was marked delivered meanwhile.
func TestNotifier_CrashMidFlightRedeliversWithSameID(t *testing.T) {
	ctx := context.Background()
	n, b := setup(t, notifier.Options{Workers: 2})
	rcv := newReceiver(t)
	rcv.hang = make(chan struct{})
	ref := b.track(t, rcv.URL, "MSCU1234566", 2)

	n.Start(ctx)
	waitFor(t, func() bool { return rcv.arrivals() > 0 })
	stopCtx, cancel := context.WithCancel(ctx)
	cancel()
	n.Stop(stopCtx) // gives up on the hanging attempt at once
	if r := b.ref(t, ref.ID); r.DeliveredSequence != 0 || len(b.log(t, ref.ID)) != 0 {
		t.Fatalf("an abandoned attempt was recorded: delivered %d", r.DeliveredSequence)
	}
	b.db.Close()
	b.open(t)

	rcv.mu.Lock()
	close(rcv.hang)
	rcv.hang = nil
	rcv.mu.Unlock()
	n2 := b.notifier(notifier.Options{})
	n2.Start(ctx)
	waitFor(t, func() bool { return b.ref(t, ref.ID).DeliveredSequence == 2 })
	n2.Stop(ctx)
	// At least once: the abandoned request may or may not have reached the receiver's
	// handler before the cut, so update 1 may arrive twice, but with one webhook-id
	// and never after update 2.
	var seqs []uint64
	ids := map[uint64]string{}
	for _, d := range rcv.deliveries() {
		if len(seqs) == 0 || seqs[len(seqs)-1] != d.payload.Data.Sequence {
			seqs = append(seqs, d.payload.Data.Sequence)
		}
		if id, seen := ids[d.payload.Data.Sequence]; seen && id != d.id {
			t.Fatalf("update %d redelivered with webhook-id %s, first sent as %s", d.payload.Data.Sequence, d.id, id)
		}
		ids[d.payload.Data.Sequence] = d.id
	}
	if fmt.Sprint(seqs) != "[1 2]" {
		t.Fatalf("after restart the receiver saw %v, want [1 2]", seqs)
	}
}

func (r *receiver) arrivals() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.arrived
}
