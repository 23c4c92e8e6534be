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
	pushes := r.carrier.Step(t.Context())
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
	if pushes := r.carrier.Step(t.Context()); len(pushes) != 1 || !pushes[0].Accepted() {
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
	if pushes := r.carrier.Step(t.Context()); len(pushes) != 1 || pushes[0].Target != sub.ID || !pushes[0].Accepted() {
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
		pushes := r.carrier.Step(t.Context())
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
