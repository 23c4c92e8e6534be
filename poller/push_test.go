package poller_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/fakecarrier"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/poller/dcsa3"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
	"github.com/trackhook/trackhook/tracking"
)

// pushRig is trackhook's side of carrier push as the poller sees it, against the
// fake carrier on loopback: a store, the sources of a sources file (the carrier MAEU
// with T&T v2.2 subscriptions), a poller with push options, and an inbound callback
// that verifies each notification and hands it to ApplyPush, as the inbound route
// does.
type pushRig struct {
	clock   *clock.Fake
	db      *store.DB
	svc     *references.Service
	carrier *fakecarrier.Carrier
	api     *httptest.Server // the carrier's API, behind the flaky switch
	inbound *httptest.Server // trackhook's callback
	public  *url.URL
	sources *poller.Sources
	p       *poller.Poller

	// flaky makes the carrier answer its subscription requests 503.
	flaky atomic.Bool
	// pollers is what the inbound hands pushes to (set by newPoller).
	current atomic.Pointer[poller.Poller]

	mu      sync.Mutex
	answers []int // statuses of the inbound's answers, in order
}

type pushRigOptions struct {
	poller    poller.Options
	sources   string // the carriers block; the default has MAEU with push: true
	carrierOp fakecarrier.Options
}

var pushStart = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func newPushRig(t *testing.T, o pushRigOptions) *pushRig {
	t.Helper()
	r := &pushRig{clock: clock.NewFake(pushStart)}
	db, err := store.Open(filepath.Join(t.TempDir(), "trackhook.db"), store.Options{NoSync: true, Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r.db = db
	r.svc = references.NewService(db, references.ServiceOptions{Now: r.clock.Now})

	o.carrierOp.Clock = r.clock
	o.carrierOp.Seed = 7
	r.carrier, err = fakecarrier.New(o.carrierOp)
	if err != nil {
		t.Fatal(err)
	}
	handler := r.carrier.Handler()
	r.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.flaky.Load() && strings.HasPrefix(req.URL.Path, "/v2/event-subscriptions") {
			http.Error(w, `{"message":"down for maintenance"}`, http.StatusServiceUnavailable)
			return
		}
		handler.ServeHTTP(w, req)
	}))
	t.Cleanup(r.api.Close)

	r.inbound = httptest.NewServer(http.HandlerFunc(r.serveInbound))
	t.Cleanup(r.inbound.Close)
	r.public, _ = url.Parse(r.inbound.URL + "/th")

	carriers := o.sources
	if carriers == "" {
		carriers = `
  MAEU:
    type: dcsa
    base_url: ${API}
    push: true
    push_poll_interval: 6h`
	}
	reg := poller.NewRegistry(dcsa.Driver(), dcsa3.Driver())
	r.sources, err = reg.Parse([]byte("carriers:"+carriers+"\n"), "yaml", func(name string) string {
		if name == "API" {
			return r.api.URL
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	r.p = r.newPoller(t, o.poller)
	return r
}

// newPoller returns a poller over the rig's store and sources (unless opts has a
// router or push sources of its own), on its clock, without jitter; the inbound
// hands pushes to the last one made.
func (r *pushRig) newPoller(t *testing.T, opts poller.Options) *poller.Poller {
	t.Helper()
	if opts.Router.ByCarrier == nil && opts.Router.Default == nil {
		router, err := r.sources.Router(poller.SourceEnv{Clock: r.clock})
		if err != nil {
			t.Fatal(err)
		}
		opts.Router = router
	}
	if opts.Push.Sources == nil {
		opts.Push.Sources = r.sources.Push
	}
	if opts.Push.PublicURL == nil {
		opts.Push.PublicURL = r.public
	}
	opts.Clock = r.clock
	opts.Rand = func() float64 { return 0.5 }
	p, err := poller.New(r.db, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.current.Store(p)
	return p
}

// serveInbound is POST /th/inbound/dcsa/{source}/{ref_id}: the T&T v2.2 callback,
// as the inbound route answers it (the route itself is helper H2's).
func (r *pushRig) serveInbound(w http.ResponseWriter, req *http.Request) {
	status := r.inboundStatus(req)
	r.mu.Lock()
	r.answers = append(r.answers, status)
	r.mu.Unlock()
	w.WriteHeader(status)
}

func (r *pushRig) inboundStatus(req *http.Request) int {
	parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/th/inbound/dcsa/"), "/")
	if req.Method != http.MethodPost || len(parts) != 2 {
		return http.StatusNotFound
	}
	body, err := dcsa.ReadNotificationBody(req.Body)
	if err != nil {
		return dcsa.CallbackStatus(err)
	}
	ref, err := r.db.ReferenceByID(req.Context(), parts[1])
	if err != nil || ref.Push == nil || ref.Push.Source != parts[0] {
		return dcsa.CallbackStatus(dcsa.ErrUnknownSubscription)
	}
	if err := dcsa.VerifyNotificationRequest(req.Header, body, ref.Push.ID, ref.Push.LiveSecrets(r.clock.Now())); err != nil {
		return dcsa.CallbackStatus(err)
	}
	events, err := dcsa.ParseNotification(body)
	if err != nil {
		return dcsa.CallbackStatus(err)
	}
	_, err = r.current.Load().ApplyPush(req.Context(), ref.ID, unionPushed(events))
	if errors.Is(err, poller.ErrNotTracked) {
		err = nil
	}
	return dcsa.CallbackStatus(err)
}

// inboundAnswers returns the statuses the inbound answered so far.
func (r *pushRig) inboundAnswers() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.answers)
}

// unionPushed is the merge of a T&T push: the stored events and the pushed ones, a
// pushed event replacing a stored one of the same id.
func unionPushed(pushed []references.Event) poller.PushMerge {
	return func(stored *references.Shipment) (*references.Shipment, error) {
		out := &references.Shipment{}
		ids := map[string]bool{}
		for _, e := range pushed {
			ids[e.ID] = true
		}
		if stored != nil {
			for _, e := range stored.Events {
				if !ids[e.ID] {
					out.Events = append(out.Events, e)
				}
			}
		}
		out.Events = append(out.Events, pushed...)
		return out, nil
	}
}

// container returns a valid container number of the owner code MSKU from n.
func container(n int) string {
	first := fmt.Sprintf("MSKU%06d", n)
	return fmt.Sprintf("%s%d", first, references.ContainerCheckDigit(first))
}

// track creates a reference for a container at carrier MAEU, tracked by the carrier.
func (r *pushRig) track(t *testing.T, n int) references.Reference {
	t.Helper()
	return r.trackAt(t, n, "MAEU", nil)
}

func (r *pushRig) trackAt(t *testing.T, n int, carrier string, interval *references.Duration) references.Reference {
	t.Helper()
	ref, _, err := r.svc.Create(context.Background(), "acct", references.CreateRequest{
		ContainerID: container(n), CarrierCode: carrier, PollInterval: interval,
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.carrier.AddShipment(ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

func (r *pushRig) ref(t *testing.T, id string) references.Reference {
	t.Helper()
	ref, err := r.db.ReferenceByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (r *pushRig) poll(t *testing.T, id string) {
	t.Helper()
	if err := r.current.Load().PollOne(context.Background(), id); err != nil {
		t.Fatalf("poll %s: %v", id, err)
	}
}

func (r *pushRig) feed(t *testing.T, id string) []references.Update {
	t.Helper()
	ups, err := r.db.ListUpdates(context.Background(), "acct", id, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ups
}

func (r *pushRig) snapshotIDs(t *testing.T, id string) []string {
	t.Helper()
	s, err := r.db.Shipment(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return nil
	}
	var ids []string
	for _, e := range s.Events {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	return ids
}

func (r *pushRig) deletions(t *testing.T) []references.PushDeletion {
	t.Helper()
	ds, err := r.db.ListPushDeletions(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// liveSub returns the carrier's subscription of the reference, failing when there is
// not exactly one.
func (r *pushRig) liveSub(t *testing.T, ref references.Reference) fakecarrier.Subscription {
	t.Helper()
	var found []fakecarrier.Subscription
	for _, s := range r.carrier.Subscriptions() {
		if s.Identifier == ref.ContainerID {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the carrier has %d subscriptions for %s, want 1: %+v", len(found), ref.ContainerID, found)
	}
	return found[0]
}

func (r *pushRig) deletedIDs() []string {
	var ids []string
	for _, s := range r.carrier.Deleted() {
		ids = append(ids, s.ID)
	}
	return ids
}

// carrying returns the pushes that carry one of the events ids: the others are the
// voyage's own, which the clock moved on.
func carrying(pushes []fakecarrier.Push, ids ...string) []fakecarrier.Push {
	var out []fakecarrier.Push
	for _, p := range pushes {
		if slices.ContainsFunc(p.EventIDs, func(id string) bool { return slices.Contains(ids, id) }) {
			out = append(out, p)
		}
	}
	return out
}

// pushedEvent is an actual inspection the carrier publishes of its own (Inject), at
// at, in a place of its own (an inspection per place is a milestone of its own).
func pushedEvent(id string, at time.Time) references.Event {
	return references.Event{
		ID: id, Type: references.EventEquipment, Classifier: references.ClassifierActual, Code: "INSP",
		Time: at, Location: &references.Location{Name: "Inspection yard " + id},
	}
}

func TestPush_FirstPollSubscribesAndPushesReachTheFeedOnce(t *testing.T) {
	r := newPushRig(t, pushRigOptions{})
	ref := r.track(t, 1)
	r.poll(t, ref.ID)

	sub := r.liveSub(t, ref)
	wantCallback := r.inbound.URL + "/th/inbound/dcsa/MAEU/" + ref.ID
	if sub.CallbackURL != wantCallback || sub.Kind != references.KindContainer || sub.Identifier != ref.ContainerID || len(sub.EventTypes) != 0 {
		t.Fatalf("subscription at the carrier: %+v, want callback %s filtered by container %s", sub, wantCallback, ref.ContainerID)
	}
	got := r.ref(t, ref.ID)
	now := r.clock.Now()
	if got.Push == nil || got.Push.ID != sub.ID || got.Push.Source != "MAEU" || len(got.Push.Secrets) != 1 ||
		string(got.Push.Secrets[0].Key) != string(sub.Secret) || got.Push.Secrets[0].Until != nil ||
		!got.Push.CreatedAt.Equal(now) || !got.Push.RotatedAt.Equal(now) || !got.Push.CheckedAt.Equal(now) || got.Push.LastPushAt != nil {
		t.Fatalf("stored subscription %+v does not match the carrier's %+v", got.Push, sub)
	}
	if got.LastPollError != "" || !got.NextPollAt.Equal(now.Add(6*time.Hour)) {
		t.Fatalf("after subscribing: error %q, next poll %v, want the safety net at %v", got.LastPollError, got.NextPollAt, now.Add(6*time.Hour))
	}

	// A poll asked for soon after neither checks nor makes another subscription.
	r.clock.Advance(10 * time.Minute)
	r.poll(t, ref.ID)
	if n := r.carrier.Requests("GET /v2/event-subscriptions/{id}"); n != 0 {
		t.Fatalf("%d checks of a subscription made 10 minutes ago", n)
	}
	if n := r.carrier.Requests("POST /v2/event-subscriptions"); n != 1 {
		t.Fatalf("%d subscriptions made, want 1", n)
	}
	next := *r.ref(t, ref.ID).NextPollAt

	// Events the carrier publishes are pushed, verified and recorded through the feed,
	// each once even when the carrier sends a push twice.
	if err := r.carrier.SetFaults(ref.ContainerID, fakecarrier.Faults{Duplicate: 1}); err != nil {
		t.Fatal(err)
	}
	before := len(r.feed(t, ref.ID))
	r.clock.Advance(time.Minute)
	for i := range 3 {
		if _, err := r.carrier.Inject(ref.ContainerID, pushedEvent(fmt.Sprintf("pushed-%d", i), r.clock.Now())); err != nil {
			t.Fatal(err)
		}
	}
	pushes := carrying(r.carrier.Step(t.Context()), "pushed-0", "pushed-1", "pushed-2")
	if len(pushes) != 6 {
		t.Fatalf("%d pushes, want 3 sent twice", len(pushes))
	}
	for _, p := range pushes {
		if p.Status != http.StatusNoContent {
			t.Fatalf("push %v answered %d %s, want 204", p.EventIDs, p.Status, p.Err)
		}
	}
	ups := r.feed(t, ref.ID)
	if len(ups) != before+3 {
		t.Fatalf("%d updates after 3 events pushed twice, want %d", len(ups), before+3)
	}
	for i, id := range []string{"pushed-0", "pushed-1", "pushed-2"} {
		if !slices.Contains(r.snapshotIDs(t, ref.ID), id) {
			t.Fatalf("the snapshot lacks pushed event %s", id)
		}
		if u := ups[before+i]; u.Type != references.UpdateShipment || len(u.Changes) == 0 {
			t.Fatalf("update of push %d: %+v", i, u)
		}
	}
	got = r.ref(t, ref.ID)
	if got.Push.LastPushAt == nil || !got.Push.LastPushAt.Equal(r.clock.Now()) {
		t.Fatalf("LastPushAt = %v, want %v", got.Push.LastPushAt, r.clock.Now())
	}
	if !got.NextPollAt.Equal(next) {
		t.Fatalf("the pushes moved the safety-net poll from %v to %v", next, got.NextPollAt)
	}
}

func TestPush_SafetyNetPollChecksAndRepairsALostSubscription(t *testing.T) {
	r := newPushRig(t, pushRigOptions{})
	ref := r.track(t, 2)
	r.poll(t, ref.ID)
	lost := r.ref(t, ref.ID).Push
	pushedAt := r.clock.Now().Add(time.Minute)
	r.clock.Advance(time.Minute)
	if _, err := r.carrier.Inject(ref.ContainerID, pushedEvent("before-loss", pushedAt)); err != nil {
		t.Fatal(err)
	}
	if pushes := carrying(r.carrier.Step(t.Context()), "before-loss"); len(pushes) != 1 || !pushes[0].Accepted() {
		t.Fatalf("pushes before the loss: %+v", pushes)
	}

	// The safety-net poll checks the subscription, which the carrier has.
	r.clock.Advance(6 * time.Hour)
	r.poll(t, ref.ID)
	if n := r.carrier.Requests("GET /v2/event-subscriptions/{id}"); n != 1 {
		t.Fatalf("%d checks at the safety-net poll, want 1", n)
	}
	if got := r.ref(t, ref.ID).Push; got.ID != lost.ID || !got.CheckedAt.Equal(r.clock.Now()) {
		t.Fatalf("after a check that found it: %+v", got)
	}

	// The carrier loses it: the next safety-net poll makes a new one, with a new
	// secret, and keeps when the last push came.
	if !r.carrier.LoseSubscription(lost.ID) {
		t.Fatal("the carrier did not have the subscription")
	}
	r.clock.Advance(6 * time.Hour)
	r.poll(t, ref.ID)
	sub := r.liveSub(t, ref)
	got := r.ref(t, ref.ID)
	if sub.ID == lost.ID || got.Push.ID != sub.ID || string(got.Push.Secrets[0].Key) != string(sub.Secret) ||
		string(sub.Secret) == string(lost.Secrets[0].Key) || len(got.Push.Secrets) != 1 {
		t.Fatalf("repaired subscription: stored %+v, carrier %+v (lost %s)", got.Push, sub, lost.ID)
	}
	if !got.Push.CreatedAt.Equal(r.clock.Now()) || got.Push.LastPushAt == nil || !got.Push.LastPushAt.Equal(pushedAt) {
		t.Fatalf("repaired subscription times: created %v, last push %v (want %v)", got.Push.CreatedAt, got.Push.LastPushAt, pushedAt)
	}
	if got.LastPollError != "" || !got.NextPollAt.Equal(r.clock.Now().Add(6*time.Hour)) {
		t.Fatalf("after the repair: error %q, next poll %v", got.LastPollError, got.NextPollAt)
	}
	// The new subscription is pushed to.
	r.clock.Advance(time.Minute)
	if _, err := r.carrier.Inject(ref.ContainerID, pushedEvent("after-repair", r.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if pushes := carrying(r.carrier.Step(t.Context()), "after-repair"); len(pushes) != 1 || pushes[0].Target != sub.ID || !pushes[0].Accepted() {
		t.Fatalf("pushes after the repair: %+v", pushes)
	}
	if !slices.Contains(r.snapshotIDs(t, ref.ID), "after-repair") {
		t.Fatal("the push to the repaired subscription is not in the snapshot")
	}
}

func TestPush_CarrierFailuresNeverFailThePoll(t *testing.T) {
	r := newPushRig(t, pushRigOptions{})
	ref := r.track(t, 3)

	// The carrier refuses to make the subscription: the poll is recorded as a success
	// and polled at the reference's own interval, so that it tries again soon.
	r.flaky.Store(true)
	r.poll(t, ref.ID)
	got := r.ref(t, ref.ID)
	if got.Push != nil || got.LastPollError != "" || got.ConsecutiveFailures != 0 || len(r.feed(t, ref.ID)) == 0 {
		t.Fatalf("a poll whose subscription failed: push %+v, error %q, failures %d", got.Push, got.LastPollError, got.ConsecutiveFailures)
	}
	if !got.NextPollAt.Equal(r.clock.Now().Add(15 * time.Minute)) {
		t.Fatalf("next poll without a subscription at %v, want the reference's own 15m", got.NextPollAt)
	}
	r.flaky.Store(false)
	r.clock.Advance(15 * time.Minute)
	r.poll(t, ref.ID)
	made := r.ref(t, ref.ID).Push
	if made == nil || made.ID != r.liveSub(t, ref).ID {
		t.Fatalf("the next poll did not make the subscription: %+v", made)
	}

	// A check the carrier fails leaves the subscription as it is, and checks again at
	// the next safety-net poll.
	r.flaky.Store(true)
	r.clock.Advance(6 * time.Hour)
	r.poll(t, ref.ID)
	got = r.ref(t, ref.ID)
	if got.Push.ID != made.ID || !got.Push.CheckedAt.Equal(made.CheckedAt) || got.LastPollError != "" {
		t.Fatalf("after a failed check: %+v, error %q", got.Push, got.LastPollError)
	}
	if !got.NextPollAt.Equal(r.clock.Now().Add(6 * time.Hour)) {
		t.Fatalf("next poll after a failed check at %v, want the safety net", got.NextPollAt)
	}
	r.flaky.Store(false)
	r.clock.Advance(6 * time.Hour)
	r.poll(t, ref.ID)
	if got := r.ref(t, ref.ID).Push; !got.CheckedAt.Equal(r.clock.Now()) {
		t.Fatalf("the next safety-net poll did not check: %+v", got)
	}
}

func TestPush_SecretRotation(t *testing.T) {
	const grace = time.Hour
	r := newPushRig(t, pushRigOptions{poller: poller.Options{Push: poller.PushOptions{RotateEvery: 24 * time.Hour, Grace: grace}}})
	ref := r.track(t, 4)
	r.poll(t, ref.ID)
	first := r.ref(t, ref.ID).Push

	// Not yet due at the safety-net polls before RotateEvery.
	for range 3 {
		r.clock.Advance(6 * time.Hour)
		r.poll(t, ref.ID)
	}
	if n := r.carrier.Stats().SecretUpdates; n != 0 {
		t.Fatalf("%d secret updates before RotateEvery", n)
	}
	r.clock.Advance(6 * time.Hour)
	r.poll(t, ref.ID)
	rotatedAt := r.clock.Now()
	sub := r.liveSub(t, ref)
	got := r.ref(t, ref.ID).Push
	if sub.SecretUpdates != 1 || got.ID != first.ID || !got.RotatedAt.Equal(rotatedAt) || len(got.Secrets) != 2 {
		t.Fatalf("after RotateEvery: carrier %+v, stored %+v", sub, got)
	}
	newest, previous := got.Secrets[0], got.Secrets[1]
	if string(newest.Key) != string(sub.Secret) || newest.Until != nil ||
		string(previous.Key) != string(first.Secrets[0].Key) || previous.Until == nil || !previous.Until.Equal(rotatedAt.Add(grace)) {
		t.Fatalf("secrets after the rotation: %+v, carrier signs with %x", got.Secrets, sub.Secret)
	}

	tests := []struct {
		name    string
		advance time.Duration
		stale   bool
		want    int
	}{
		{"NewSecret", time.Minute, false, http.StatusNoContent},
		{"OldSecretWithinGrace", 30 * time.Minute, true, http.StatusNoContent},
		{"OldSecretAfterGrace", 30 * time.Minute, true, http.StatusUnauthorized},
		{"NewSecretAfterGrace", time.Minute, false, http.StatusNoContent},
	}
	for i, tc := range tests {
		r.clock.Advance(tc.advance)
		stale := 0.0
		if tc.stale {
			stale = 1
		}
		if err := r.carrier.SetFaults(ref.ContainerID, fakecarrier.Faults{StaleSecret: stale}); err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("rotation-%d", i)
		if _, err := r.carrier.Inject(ref.ContainerID, pushedEvent(id, r.clock.Now())); err != nil {
			t.Fatal(err)
		}
		pushes := carrying(r.carrier.Step(t.Context()), id)
		if len(pushes) != 1 || pushes[0].StaleSecret != tc.stale || pushes[0].Status != tc.want {
			t.Fatalf("%s: pushes %+v, want one answered %d", tc.name, pushes, tc.want)
		}
		if in := slices.Contains(r.snapshotIDs(t, ref.ID), id); in != (tc.want == http.StatusNoContent) {
			t.Fatalf("%s: event in the snapshot: %t", tc.name, in)
		}
	}

	// The next poll drops the secret that no longer verifies.
	r.poll(t, ref.ID)
	if got := r.ref(t, ref.ID).Push; len(got.Secrets) != 1 || string(got.Secrets[0].Key) != string(sub.Secret) {
		t.Fatalf("secrets after the grace: %+v", got.Secrets)
	}
}

func TestPush_TerminalPollDeletesTheSubscription(t *testing.T) {
	tests := []struct {
		name  string
		flaky bool // the carrier fails the deletion: the store queues it
	}{
		{"CarrierDeletes", false},
		{"CarrierFailsThenTheQueueDeletes", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newPushRig(t, pushRigOptions{})
			ref := r.track(t, 5)
			r.poll(t, ref.ID)
			sub := r.ref(t, ref.ID).Push
			// The voyage ends: the empty container is returned.
			r.clock.Advance(80 * 24 * time.Hour)
			r.flaky.Store(tc.flaky)
			r.poll(t, ref.ID)
			got := r.ref(t, ref.ID)
			if got.Status != references.StatusUnsubscribed || got.UnsubscribeReason != references.ReasonTrackingComplete {
				t.Fatalf("after the voyage: %s (%s), want unsubscribed for tracking_complete", got.Status, got.UnsubscribeReason)
			}
			if tc.flaky {
				if got.Push == nil || got.Push.ID != sub.ID {
					t.Fatalf("a subscription the carrier did not delete is no longer recorded: %+v", got.Push)
				}
				ds := r.deletions(t)
				if len(ds) != 1 || ds[0].SubscriptionID != sub.ID || ds[0].Source != "MAEU" || ds[0].ReferenceID != ref.ID {
					t.Fatalf("queued deletions: %+v", ds)
				}
				if len(r.carrier.Deleted()) != 0 {
					t.Fatalf("deleted at the carrier: %+v", r.carrier.Deleted())
				}
				r.flaky.Store(false)
				if n, err := r.p.WorkPushDeletions(t.Context()); err != nil || n != 1 {
					t.Fatalf("WorkPushDeletions = %d, %v", n, err)
				}
			} else if got.Push != nil {
				t.Fatalf("a subscription deleted at the carrier is still recorded: %+v", got.Push)
			}
			if ids := r.deletedIDs(); !slices.Equal(ids, []string{sub.ID}) {
				t.Fatalf("deleted at the carrier: %v, want %s", ids, sub.ID)
			}
			if ds := r.deletions(t); len(ds) != 0 {
				t.Fatalf("deletions left in the queue: %+v", ds)
			}
			if len(r.carrier.Subscriptions()) != 0 {
				t.Fatalf("live subscriptions: %+v", r.carrier.Subscriptions())
			}
		})
	}
}

func TestPush_UnsubscribedReferenceIsDeletedThroughTheQueue(t *testing.T) {
	ctx := context.Background()
	r := newPushRig(t, pushRigOptions{poller: poller.Options{Push: poller.PushOptions{DeleteBackoffBase: time.Minute, DeleteBackoffMax: 4 * time.Minute}}})
	ref := r.track(t, 6)
	r.poll(t, ref.ID)
	sub := r.ref(t, ref.ID).Push
	if _, err := r.svc.Unsubscribe(ctx, "acct", ref.ID); err != nil {
		t.Fatal(err)
	}
	if ds := r.deletions(t); len(ds) != 1 || ds[0].SubscriptionID != sub.ID {
		t.Fatalf("queued deletions after the unsubscribe: %+v", ds)
	}

	// The carrier fails: the deletion is put off, longer after each failure.
	r.flaky.Store(true)
	for i, wait := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute} {
		if n, err := r.p.WorkPushDeletions(ctx); err != nil || n != 1 {
			t.Fatalf("failure %d: WorkPushDeletions = %d, %v", i+1, n, err)
		}
		ds := r.deletions(t)
		if len(ds) != 1 || ds[0].Attempts != i+1 || !strings.Contains(ds[0].LastError, "503") {
			t.Fatalf("failure %d: %+v", i+1, ds)
		}
		r.clock.Advance(wait - time.Second)
		if n, _ := r.p.WorkPushDeletions(ctx); n != 0 {
			t.Fatalf("failure %d: tried again %v before its backoff of %v ended", i+1, time.Second, wait)
		}
		r.clock.Advance(time.Second)
	}
	r.flaky.Store(false)
	if n, err := r.p.WorkPushDeletions(ctx); err != nil || n != 1 {
		t.Fatalf("WorkPushDeletions = %d, %v", n, err)
	}
	if ids := r.deletedIDs(); !slices.Equal(ids, []string{sub.ID}) {
		t.Fatalf("deleted at the carrier: %v, want %s", ids, sub.ID)
	}
	if ds := r.deletions(t); len(ds) != 0 {
		t.Fatalf("deletions left: %+v", ds)
	}

	// A deletion the carrier had already forgotten is done too.
	ref2 := r.track(t, 7)
	r.poll(t, ref2.ID)
	r.carrier.LoseSubscription(r.ref(t, ref2.ID).Push.ID)
	if _, err := r.svc.Unsubscribe(ctx, "acct", ref2.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := r.p.WorkPushDeletions(ctx); err != nil || n != 1 {
		t.Fatalf("WorkPushDeletions = %d, %v", n, err)
	}
	if ds := r.deletions(t); len(ds) != 0 {
		t.Fatalf("a deletion of a subscription the carrier lost is left: %+v", ds)
	}
}

func TestPush_DeletionOfASourceNoLongerConfiguredWaits(t *testing.T) {
	ctx := context.Background()
	r := newPushRig(t, pushRigOptions{})
	ref := r.track(t, 8)
	r.poll(t, ref.ID)
	sub := r.ref(t, ref.ID).Push
	if _, err := r.svc.Unsubscribe(ctx, "acct", ref.ID); err != nil {
		t.Fatal(err)
	}
	// Restarted with a sources file without MAEU.
	other := r.newPoller(t, poller.Options{Router: poller.Router{Default: newScripted()}, Push: poller.PushOptions{Sources: map[string]poller.PushConfig{}}})
	if n, err := other.WorkPushDeletions(ctx); err != nil || n != 1 {
		t.Fatalf("WorkPushDeletions = %d, %v", n, err)
	}
	ds := r.deletions(t)
	if len(ds) != 1 || ds[0].Attempts != 1 || !strings.Contains(ds[0].LastError, "source MAEU is not configured") {
		t.Fatalf("the deletion of a source no longer configured: %+v", ds)
	}
	// Configured again, it is deleted when its backoff ends.
	r.clock.Advance(time.Hour)
	again := r.newPoller(t, poller.Options{})
	if n, err := again.WorkPushDeletions(ctx); err != nil || n != 1 {
		t.Fatalf("WorkPushDeletions = %d, %v", n, err)
	}
	if ids := r.deletedIDs(); !slices.Equal(ids, []string{sub.ID}) {
		t.Fatalf("deleted at the carrier: %v", ids)
	}
}

func TestPush_StartedPollerWorksTheDeletionQueueAndStopDrainsIt(t *testing.T) {
	r := newPushRig(t, pushRigOptions{})
	refs := []references.Reference{r.track(t, 9), r.track(t, 10), r.track(t, 11)}
	var subs []string
	for _, ref := range refs {
		r.poll(t, ref.ID)
		subs = append(subs, r.ref(t, ref.ID).Push.ID)
		if _, err := r.svc.Unsubscribe(t.Context(), "acct", ref.ID); err != nil {
			t.Fatal(err)
		}
	}
	r.p.Start(t.Context()) // the loops scan at once
	deadline := time.Now().Add(10 * time.Second)
	for len(r.carrier.Deleted()) < len(subs) && time.Now().Before(deadline) { // a safety net, not a wait for time
		time.Sleep(5 * time.Millisecond)
	}
	r.p.Stop(t.Context())
	got := r.deletedIDs()
	slices.Sort(got)
	slices.Sort(subs)
	if !slices.Equal(got, subs) {
		t.Fatalf("deleted at the carrier: %v, want %v", got, subs)
	}
	if ds := r.deletions(t); len(ds) != 0 {
		t.Fatalf("deletions left: %+v", ds)
	}
}

func TestPush_SourceThatStopsPushingEndsTheSubscription(t *testing.T) {
	r := newPushRig(t, pushRigOptions{})
	ref := r.track(t, 12)
	r.poll(t, ref.ID)
	sub := r.ref(t, ref.ID).Push
	// The sources file says push: false now.
	r.newPoller(t, poller.Options{Push: poller.PushOptions{Sources: map[string]poller.PushConfig{}}})
	r.clock.Advance(time.Hour)
	r.poll(t, ref.ID)
	got := r.ref(t, ref.ID)
	if got.Push != nil || got.Status != references.StatusActive || !got.NextPollAt.Equal(r.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("after push was turned off: push %+v, status %s, next poll %v", got.Push, got.Status, got.NextPollAt)
	}
	if ids := r.deletedIDs(); !slices.Equal(ids, []string{sub.ID}) {
		t.Fatalf("deleted at the carrier: %v, want %s", ids, sub.ID)
	}
}

// addEvents is a merge that adds events to the stored snapshot (see unionPushed).
func addEvents(events ...references.Event) poller.PushMerge { return unionPushed(events) }

func TestApplyPush_RecordsThroughTheFeedAndADuplicateAppendsNothing(t *testing.T) {
	ctx := context.Background()
	r := newPushRig(t, pushRigOptions{})
	ref := r.track(t, 20)
	r.poll(t, ref.ID)
	polled := r.ref(t, ref.ID)
	before := len(r.feed(t, ref.ID))

	r.clock.Advance(time.Minute)
	first := r.clock.Now()
	e := pushedEvent("push-1", first)
	n, err := r.p.ApplyPush(ctx, ref.ID, addEvents(e))
	if err != nil || n != 1 {
		t.Fatalf("ApplyPush = %d, %v; want 1 update", n, err)
	}
	ups := r.feed(t, ref.ID)
	if len(ups) != before+1 || ups[before].Type != references.UpdateShipment || ups[before].Changes[0].Type != references.ChangeEventAdded {
		t.Fatalf("feed after a push: %+v", ups[before:])
	}
	got := r.ref(t, ref.ID)
	if got.Push.LastPushAt == nil || !got.Push.LastPushAt.Equal(first) || got.Push.ID != polled.Push.ID ||
		!got.NextPollAt.Equal(*polled.NextPollAt) || !got.LastPolledAt.Equal(first) {
		t.Fatalf("after a push: push %+v, next poll %v (was %v), last polled %v", got.Push, got.NextPollAt, polled.NextPollAt, got.LastPolledAt)
	}

	// The carrier's retry: the same event again.
	r.clock.Advance(time.Minute)
	n, err = r.p.ApplyPush(ctx, ref.ID, addEvents(e))
	if err != nil || n != 0 {
		t.Fatalf("ApplyPush of a duplicate = %d, %v; want 0 updates", n, err)
	}
	if ups := r.feed(t, ref.ID); len(ups) != before+1 {
		t.Fatalf("a duplicate push appended %+v", ups[before+1:])
	}
	if got := r.ref(t, ref.ID); !got.Push.LastPushAt.Equal(r.clock.Now()) || !got.NextPollAt.Equal(*polled.NextPollAt) {
		t.Fatalf("after a duplicate: last push %v, next poll %v", got.Push.LastPushAt, got.NextPollAt)
	}
}

func TestApplyPush_NotTracked(t *testing.T) {
	ctx := context.Background()
	r := newPushRig(t, pushRigOptions{})
	tests := []struct {
		name  string
		setup func(t *testing.T, id string)
	}{
		{"Paused", func(t *testing.T, id string) {
			if _, err := r.svc.Pause(ctx, "acct", id); err != nil {
				t.Fatal(err)
			}
		}},
		{"Unsubscribed", func(t *testing.T, id string) {
			if _, err := r.svc.Unsubscribe(ctx, "acct", id); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := r.track(t, 30+i)
			r.poll(t, ref.ID)
			tc.setup(t, ref.ID)
			before := r.ref(t, ref.ID)
			n, err := r.p.ApplyPush(ctx, ref.ID, addEvents(pushedEvent("ignored", r.clock.Now())))
			if !errors.Is(err, poller.ErrNotTracked) || n != 0 {
				t.Fatalf("ApplyPush = %d, %v; want ErrNotTracked", n, err)
			}
			got := r.ref(t, ref.ID)
			if slices.Contains(r.snapshotIDs(t, ref.ID), "ignored") || got.LastSequence != before.LastSequence ||
				(got.Push == nil) != (before.Push == nil) || got.Push != nil && got.Push.LastPushAt != nil {
				t.Fatalf("a push for a %s reference changed it: %+v", tc.name, got)
			}
		})
	}
	t.Run("Unknown", func(t *testing.T) {
		if _, err := r.p.ApplyPush(ctx, "ref_NOSUCHREFERENCE", addEvents()); !errors.Is(err, poller.ErrNotTracked) {
			t.Fatalf("ApplyPush of an unknown reference: %v, want ErrNotTracked", err)
		}
	})
}

func TestApplyPush_MergeErrorRecordsNothingAndGivesTheLeaseBack(t *testing.T) {
	ctx := context.Background()
	r := newPushRig(t, pushRigOptions{})
	ref := r.track(t, 40)
	r.poll(t, ref.ID)
	before := r.ref(t, ref.ID)
	bad := errors.New("the push is not for this reference")
	_, err := r.p.ApplyPush(ctx, ref.ID, func(*references.Shipment) (*references.Shipment, error) { return nil, bad })
	if !errors.Is(err, bad) {
		t.Fatalf("ApplyPush = %v, want the merge's error", err)
	}
	if got := r.ref(t, ref.ID); got.Push.LastPushAt != nil || got.LastSequence != before.LastSequence || !got.LastPolledAt.Equal(*before.LastPolledAt) {
		t.Fatalf("a failed merge changed the reference: %+v", got)
	}
	// The lease was given back: a poll and a push go through at once.
	r.poll(t, ref.ID)
	if n, err := r.p.ApplyPush(ctx, ref.ID, addEvents(pushedEvent("after", r.clock.Now()))); err != nil || n != 1 {
		t.Fatalf("ApplyPush after a failed one = %d, %v", n, err)
	}
}

func TestApplyPush_PushThatCompletesTheShipmentEndsTracking(t *testing.T) {
	ctx := context.Background()
	r := newPushRig(t, pushRigOptions{})
	ref := r.track(t, 41)
	r.poll(t, ref.ID)
	sub := r.ref(t, ref.ID).Push
	// The carrier pushes the rest of the voyage at once.
	r.clock.Advance(80 * 24 * time.Hour)
	client, err := dcsa.New("MAEU", dcsa.Config{BaseURL: r.api.URL}, dcsa.WithClock(r.clock))
	if err != nil {
		t.Fatal(err)
	}
	voyage, err := client.Fetch(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.p.ApplyPush(ctx, ref.ID, addEvents(voyage.Events...)); err != nil || n != 2 {
		t.Fatalf("ApplyPush = %d, %v; want the shipment's update and reference.unsubscribed", n, err)
	}
	got := r.ref(t, ref.ID)
	if got.Status != references.StatusUnsubscribed || got.UnsubscribeReason != references.ReasonTrackingComplete {
		t.Fatalf("after the last push: %s (%s)", got.Status, got.UnsubscribeReason)
	}
	if ds := r.deletions(t); len(ds) != 1 || ds[0].SubscriptionID != sub.ID {
		t.Fatalf("queued deletions: %+v", ds)
	}
	if n, err := r.p.WorkPushDeletions(ctx); err != nil || n != 1 {
		t.Fatalf("WorkPushDeletions = %d, %v", n, err)
	}
	if ids := r.deletedIDs(); !slices.Equal(ids, []string{sub.ID}) {
		t.Fatalf("deleted at the carrier: %v", ids)
	}
}

func TestApplyPush_WaitsForAPollInFlightAndKeepsBothResults(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{})
	ref := b.create(t, "MSCU1234566")
	polledEvent := ev("DEPA", references.ClassifierActual, b.clock.Now().Add(-time.Hour))
	b.source.set(shipment(polledEvent), nil)
	b.source.block = make(chan struct{})
	polled := make(chan error, 1)
	go func() { polled <- p.PollOne(ctx, ref.ID) }()
	b.source.waitEntered(t)

	timers := b.clock.Timers()
	type result struct {
		n   int
		err error
	}
	pushed := make(chan result, 1)
	var sawStored atomic.Pointer[references.Shipment]
	go func() {
		n, err := p.ApplyPush(ctx, ref.ID, func(stored *references.Shipment) (*references.Shipment, error) {
			sawStored.Store(stored)
			return addEvents(pushedEvent("pushed", b.clock.Now()))(stored)
		})
		pushed <- result{n, err}
	}()
	// The push found the poll's lease and waits on the clock for it.
	waitFor(t, func() bool { return b.clock.Timers() > timers })
	select {
	case res := <-pushed:
		t.Fatalf("ApplyPush returned while the poll held the reference: %+v", res)
	default:
	}
	close(b.source.block)
	if err := <-polled; err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Second)
	res := <-pushed
	if res.err != nil || res.n != 1 {
		t.Fatalf("ApplyPush after the poll = %d, %v", res.n, res.err)
	}
	if s := sawStored.Load(); s == nil || len(s.Events) != 1 || s.Events[0].ID != polledEvent.ID {
		t.Fatalf("the push merged into %+v, not the poll's snapshot", s)
	}
	stored, err := b.db.Shipment(ctx, ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range stored.Events {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{polledEvent.ID, "pushed"}) {
		t.Fatalf("snapshot events %v, want the poll's and the push's", ids)
	}
	if ups := b.feed(t, ref.ID); len(ups) != 2 {
		t.Fatalf("%d updates, want the poll's and the push's", len(ups))
	}
}

func TestApplyPush_GivesUpWhenAPollHoldsTheReferenceTooLong(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{Push: poller.PushOptions{BusyWait: 3 * time.Second}})
	ref := b.create(t, "MSCU1234566")
	b.source.set(shipment(ev("DEPA", references.ClassifierActual, b.clock.Now())), nil)
	b.source.block = make(chan struct{})
	polled := make(chan error, 1)
	go func() { polled <- p.PollOne(ctx, ref.ID) }()
	b.source.waitEntered(t)

	timers := b.clock.Timers() // without the push's wait
	pushed := make(chan error, 1)
	go func() {
		_, err := p.ApplyPush(ctx, ref.ID, addEvents(pushedEvent("pushed", b.clock.Now())))
		pushed <- err
	}()
	var err error
	for done := false; !done; {
		// Each wait of the push arms a timer; moving the clock past it fires it.
		waitFor(t, func() bool {
			select {
			case err = <-pushed:
				done = true
				return true
			default:
				return b.clock.Timers() == timers+1
			}
		})
		if !done {
			b.clock.Advance(time.Second)
		}
	}
	if !errors.Is(err, references.ErrBusy) {
		t.Fatalf("ApplyPush while a poll held the reference past BusyWait: %v, want ErrBusy", err)
	}
	close(b.source.block)
	if err := <-polled; err != nil {
		t.Fatal(err)
	}
	if slices.Contains(snapshotIDsOf(t, b.db, ref.ID), "pushed") {
		t.Fatal("a push given up on was recorded")
	}
}

func snapshotIDsOf(t *testing.T, db *store.DB, id string) []string {
	t.Helper()
	s, err := db.Shipment(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	if s != nil {
		for _, e := range s.Events {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// waitFor waits until cond holds: for another goroutine to reach a point, not for
// time to pass (the deadline is a safety net).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("the condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestApplyPush_PushedEventHealsNotFound(t *testing.T) {
	ctx := context.Background()
	p, b := setup(t, poller.Options{})
	ref := b.create(t, "MSCU1234566")
	b.source.set(nil, fmt.Errorf("carrier: %w", references.ErrShipmentNotFound))
	if err := p.PollOne(ctx, ref.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.db.Reference(ctx, ref.ID); got.NotFoundSince == nil {
		t.Fatal("not found was not recorded")
	}
	if n, err := p.ApplyPush(ctx, ref.ID, addEvents(pushedEvent("pushed", b.clock.Now()))); err != nil || n != 1 {
		t.Fatalf("ApplyPush = %d, %v", n, err)
	}
	got, _ := b.db.Reference(ctx, ref.ID)
	if got.NotFoundSince != nil || got.ConsecutiveFailures != 1 || got.LastPollError == "" {
		t.Fatalf("after a push with events: not found since %v, failures %d, error %q; want the count of not found reset and the poll's error kept",
			got.NotFoundSince, got.ConsecutiveFailures, got.LastPollError)
	}
}

func TestPush_MergeOnPollKeepsPushedEventsTheGETLacks(t *testing.T) {
	ctx := context.Background()
	r := newPushRig(t, pushRigOptions{})
	ref := r.track(t, 50)
	r.poll(t, ref.ID)
	r.clock.Advance(6 * time.Hour)
	// A push brings an event the carrier's GET does not show (yet), and another
	// version of an event the GET shows.
	client, err := dcsa.New("MAEU", dcsa.Config{BaseURL: r.api.URL}, dcsa.WithClock(r.clock))
	if err != nil {
		t.Fatal(err)
	}
	listed, err := client.Fetch(ctx, ref)
	if err != nil || len(listed.Events) == 0 {
		t.Fatalf("the carrier's GET: %+v, %v", listed, err)
	}
	revised := listed.Events[0]
	revised.Time = revised.Time.Add(time.Hour)
	if _, err := r.p.ApplyPush(ctx, ref.ID, addEvents(pushedEvent("only-pushed", r.clock.Now()), revised)); err != nil {
		t.Fatal(err)
	}
	before := len(r.feed(t, ref.ID))

	r.poll(t, ref.ID)
	after, err := r.db.Shipment(ctx, ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kept bool
	for _, e := range after.Events {
		switch e.ID {
		case "only-pushed":
			kept = true
		case revised.ID:
			if !e.Time.Equal(listed.Events[0].Time) {
				t.Fatalf("event %s at %v after the poll, want the fetched version's %v", e.ID, e.Time, listed.Events[0].Time)
			}
		}
	}
	if !kept {
		t.Fatal("the safety-net poll took back an event the carrier pushed")
	}
	for _, u := range r.feed(t, ref.ID)[before:] {
		for _, c := range u.Changes {
			if c.Event != nil && c.Event.ID == "only-pushed" {
				t.Fatalf("the poll reported the pushed event changed: %+v", c)
			}
		}
	}

	// Without a subscription, a poll replaces the snapshot as before.
	plain := r.newPoller(t, poller.Options{Push: poller.PushOptions{Sources: map[string]poller.PushConfig{}}})
	r.clock.Advance(time.Hour)
	if err := plain.PollOne(ctx, ref.ID); err != nil { // ends the subscription
		t.Fatal(err)
	}
	r.clock.Advance(time.Hour)
	if err := plain.PollOne(ctx, ref.ID); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(r.snapshotIDs(t, ref.ID), "only-pushed") {
		t.Fatal("a poll of a reference that is not pushed kept an event its source does not list")
	}
}

func TestPush_SafetyNetInterval(t *testing.T) {
	long := references.Duration(12 * time.Hour)
	short := references.Duration(time.Hour)
	tests := []struct {
		name     string
		sources  string
		interval *references.Duration
		want     time.Duration
	}{
		{"SubscriptionMade", "", nil, 6 * time.Hour},
		{"OwnIntervalLonger", "", &long, 12 * time.Hour},
		{"OwnIntervalShorter", "", &short, 6 * time.Hour},
		{"PushNotConfigured", `
  MAEU:
    type: dcsa
    base_url: ${API}`, nil, 15 * time.Minute},
		{"ContainerTracking3Receiver", `
  MAEU:
    type: dcsa-ct
    base_url: ${API}
    push: true
    push_poll_interval: 8h
    inbound_auth:
      bearer: a-secret-of-the-carrier-and-us`, nil, 8 * time.Hour},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newPushRig(t, pushRigOptions{sources: tc.sources})
			ref := r.trackAt(t, 60+i, "MAEU", tc.interval)
			r.poll(t, ref.ID)
			got := r.ref(t, ref.ID)
			if got.LastPollError != "" {
				t.Fatalf("poll error: %s", got.LastPollError)
			}
			if want := r.clock.Now().Add(tc.want); !got.NextPollAt.Equal(want) {
				t.Fatalf("next poll at %v, want %v (%v)", got.NextPollAt, want, tc.want)
			}
			subscribed := tc.sources == ""
			if (got.Push != nil) != subscribed || len(r.carrier.Subscriptions()) != map[bool]int{true: 1}[subscribed] {
				t.Fatalf("subscription: stored %+v, at the carrier %+v", got.Push, r.carrier.Subscriptions())
			}
		})
	}
}

func TestPush_ContainerTracking3PushIsMergedAndDuplicatesRecordNothing(t *testing.T) {
	ctx := context.Background()
	r := newPushRig(t, pushRigOptions{sources: `
  MAEU:
    type: dcsa-ct
    base_url: ${API}
    push: true
    inbound_auth:
      bearer: a-secret-of-the-carrier-and-us`})
	ref := r.track(t, 70)
	r.poll(t, ref.ID)
	polled := r.ref(t, ref.ID)
	e := pushedEvent("ct-pushed", r.clock.Now())
	r.clock.Advance(time.Minute)
	if n, err := r.p.ApplyPush(ctx, ref.ID, addEvents(e)); err != nil || n != 1 {
		t.Fatalf("ApplyPush = %d, %v", n, err)
	}
	got := r.ref(t, ref.ID)
	if got.Push != nil || !got.NextPollAt.Equal(*polled.NextPollAt) || !got.LastPolledAt.Equal(r.clock.Now()) {
		t.Fatalf("after a CT push: push %+v, next poll %v (was %v), last polled %v", got.Push, got.NextPollAt, polled.NextPollAt, got.LastPolledAt)
	}
	r.clock.Advance(time.Minute)
	if n, err := r.p.ApplyPush(ctx, ref.ID, addEvents(e)); err != nil || n != 0 {
		t.Fatalf("ApplyPush of a duplicate = %d, %v", n, err)
	}
	// The safety-net poll, whose GET lacks the event, keeps it.
	r.clock.Advance(6 * time.Hour)
	r.poll(t, ref.ID)
	if !slices.Contains(r.snapshotIDs(t, ref.ID), "ct-pushed") {
		t.Fatal("the safety-net poll of a CT 3.0 reference took back a pushed event")
	}
	if len(r.carrier.Subscriptions()) != 0 {
		t.Fatalf("subscriptions made for a CT 3.0 source: %+v", r.carrier.Subscriptions())
	}
}

func TestNew_RefusesPushSettingsItCannotWorkWith(t *testing.T) {
	r := newPushRig(t, pushRigOptions{})
	router, err := r.sources.Router(poller.SourceEnv{Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	relative, _ := url.Parse("/callbacks")
	tests := []struct {
		name string
		opts poller.Options
		want string
	}{
		{"NoPublicURL", poller.Options{Router: router, Push: poller.PushOptions{Sources: r.sources.Push}}, "public URL"},
		{"RelativePublicURL", poller.Options{Router: router, Push: poller.PushOptions{Sources: r.sources.Push, PublicURL: relative}}, "public URL"},
		{"SourceWithoutSubscriptions", poller.Options{
			Router: poller.Router{ByCarrier: map[string]poller.Source{"MAEU": poller.Guard("MAEU", newScripted(), poller.GuardOptions{})}},
			Push:   poller.PushOptions{Sources: r.sources.Push, PublicURL: r.public},
		}, "cannot make them"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := poller.New(r.db, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "MAEU") {
				t.Fatalf("New = %v, want an error naming MAEU and %q", err, tc.want)
			}
		})
	}
}

func TestPush_RotationFindsTheSubscriptionLostAndMakesItAgain(t *testing.T) {
	r := newPushRig(t, pushRigOptions{poller: poller.Options{Push: poller.PushOptions{RotateEvery: time.Hour}}})
	ref := r.track(t, 80)
	r.poll(t, ref.ID)
	lost := r.ref(t, ref.ID).Push
	r.carrier.LoseSubscription(lost.ID)
	// Rotation is due before the check (every 3h at a 6h safety net).
	r.clock.Advance(time.Hour)
	r.poll(t, ref.ID)
	if n := r.carrier.Requests("GET /v2/event-subscriptions/{id}"); n != 0 {
		t.Fatalf("%d checks before the check was due", n)
	}
	if n := r.carrier.Requests("PUT /v2/event-subscriptions/{id}/secret"); n != 1 {
		t.Fatalf("%d secret updates, want the one that found the subscription gone", n)
	}
	sub := r.liveSub(t, ref)
	got := r.ref(t, ref.ID).Push
	if sub.ID == lost.ID || got.ID != sub.ID || len(got.Secrets) != 1 || string(got.Secrets[0].Key) != string(sub.Secret) {
		t.Fatalf("after the rotation found it lost: stored %+v, carrier %+v", got, sub)
	}
}

// TestApplyPush_AnOlderRevisionPushedLateChangesNothing: the carrier revises an
// estimate (RevisedAt) and its pushes arrive out of order. A revision that says the
// same is no update but is stored, so that an older revision arriving after it, which
// says something else, is seen as older and changes nothing; a later one does.
func TestApplyPush_AnOlderRevisionPushedLateChangesNothing(t *testing.T) {
	ctx := context.Background()
	r := newPushRig(t, pushRigOptions{})
	ref := r.track(t, 21)
	r.poll(t, ref.ID)
	before := len(r.feed(t, ref.ID))
	now := r.clock.Now()
	estimate := func(hours, revisedMinutes int) references.Event {
		return references.Event{ID: "est-1", Type: references.EventTransport, Classifier: references.ClassifierEstimated, Code: "ARRI",
			Time: now.Add(time.Duration(hours) * time.Hour), RevisedAt: now.Add(time.Duration(revisedMinutes) * time.Minute),
			Location: &references.Location{UNLocode: "ZZLTE", Name: "Late port"}}
	}
	stored := func() references.Event {
		t.Helper()
		s, err := r.db.Shipment(ctx, ref.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range s.Events {
			if e.ID == "est-1" {
				return e
			}
		}
		t.Fatalf("the snapshot lacks est-1")
		return references.Event{}
	}
	steps := []struct {
		name        string
		pushed      references.Event
		updates     int
		wantHours   int
		wantRevised int
	}{
		{"first", estimate(48, 1), 1, 48, 1},
		{"revised, saying the same", estimate(48, 3), 0, 48, 3},
		{"an older revision, late", estimate(60, 2), 0, 48, 3},
		{"a later revision", estimate(72, 4), 1, 72, 4},
	}
	for _, s := range steps {
		r.clock.Advance(time.Minute)
		// The merge of inbound's T&T route: the union that keeps the later revision.
		merge := func(stored *references.Shipment) (*references.Shipment, error) {
			var events []references.Event
			if stored != nil {
				events = stored.Events
			}
			return &references.Shipment{Events: tracking.UnionEvents(events, []references.Event{s.pushed})}, nil
		}
		n, err := r.p.ApplyPush(ctx, ref.ID, merge)
		if err != nil || n != s.updates {
			t.Fatalf("%s: ApplyPush = %d, %v; want %d updates", s.name, n, err, s.updates)
		}
		got := stored()
		if !got.Time.Equal(now.Add(time.Duration(s.wantHours)*time.Hour)) || !got.RevisedAt.Equal(now.Add(time.Duration(s.wantRevised)*time.Minute)) {
			t.Fatalf("%s: stored estimate at %v revised %v; want +%dh revised +%dm", s.name, got.Time, got.RevisedAt, s.wantHours, s.wantRevised)
		}
	}
	if got := len(r.feed(t, ref.ID)) - before; got != 2 {
		t.Errorf("%d updates in the feed, want 2", got)
	}
}
