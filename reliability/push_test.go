package reliability_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/fakecarrier"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/poller/dcsa3"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/tracking"
	"github.com/trackhook/trackhook/webhook"
)

// Carrier push (issue 16) against the real binary: `trackhook serve` with a sources
// file whose MAEU is a DCSA Track & Trace 2.2 carrier that takes subscriptions and
// whose CMDU is a DCSA Container Tracking 3.0 carrier that posts events, both played
// by internal/fakecarrier on loopback. The fake's voyages move only when the test
// moves its clock and calls Step, which returns once every push has been answered;
// trackhook answers a push 2xx only once its result is recorded, so what the API
// shows after a Step is settled. Waits are for states (eventually), never timed.
const (
	pushTNT = "MAEU" // the T&T 2.2 source (subscriptions)
	pushCT  = "CMDU" // the CT 3.0 source (the carrier posts to /inbound/dcsa-ct/CMDU/events)
	// pushPollInterval is push_poll_interval: the safety-net poll of pushed references.
	// It is the shortest the sources file takes (poller.MinPushPollInterval), so that a
	// heal is seen within a couple of minutes.
	pushPollInterval = time.Minute
	pushHealWait     = 4 * pushPollInterval // a safety-net poll, with room for a slow machine
	pushCTToken      = "ct-inbound-token-5b1e0c7d9a2f4e68"
	pushAPIKey       = "push-test-admin-key-0123456789"
	pushStep         = 6 * time.Hour // simulated time per Step
	pushMaxVoyage    = 200 * 24 * time.Hour
)

// pushRef is one reference of a push test, as trackhook and the fake carrier know it.
type pushRef struct {
	name   string // its role in the test, for messages
	source string // pushTNT or pushCT
	kind   references.IdentifierKind
	ident  string
	faults *fakecarrier.Faults // its own push faults; nil: the carrier's defaults

	fake references.Reference // as the fake carrier tracks it: its voyage
	id   string               // trackhook's reference id
	// published holds every T&T event id the carrier has listed for it at any clock
	// time so far: a poll or a push can only have brought these.
	published map[string]bool
	// extra are event ids the test itself pushed (signed correctly): the snapshot may
	// hold them besides the carrier's.
	extra map[string]bool
}

func (p *pushRef) String() string {
	return p.name + " (" + p.id + ", " + p.source + " " + p.ident + ")"
}

// reference is p as trackhook's sources take it, to read the carrier as a poll does.
func (p *pushRef) reference() references.Reference {
	ref := references.Reference{ID: p.id, CarrierCode: p.source, CreatedAt: p.fake.CreatedAt}
	setIdentifier(&ref, p.kind, p.ident)
	return ref
}

func setIdentifier(ref *references.Reference, kind references.IdentifierKind, ident string) {
	switch kind {
	case references.KindContainer:
		ref.ContainerID = ident
	case references.KindBillOfLading:
		ref.BillOfLading = ident
	default:
		ref.BookingNumber = ident
	}
}

// pushRig is a fake carrier of both models, a `trackhook serve` whose sources point
// at it, with --public-url set to its own address, and a callback receiver.
type pushRig struct {
	t       *testing.T
	clk     *clock.Fake
	fc      *fakecarrier.Carrier
	carrier *httptest.Server
	svc     *service
	public  string // --public-url
	rc      *receiver
	demo    *demo.Source  // the voyages, as the carrier plays them
	tnt     *dcsa.Client  // reads the carrier as trackhook's T&T poll does
	ct      *dcsa3.Client // and its CT poll
	refs    []*pushRef
}

// newPushRig starts the fake carrier with opts (its clock and API key set here) and
// trackhook with args added to the push flags.
func newPushRig(t *testing.T, opts fakecarrier.Options, args ...string) *pushRig {
	t.Helper()
	r := &pushRig{t: t, clk: clock.NewFake(time.Now().UTC().Truncate(time.Second))}
	opts.Clock = r.clk
	opts.Auth = http.Header{"X-Api-Key": {carrierKey}}
	var err error
	if r.fc, err = fakecarrier.New(opts); err != nil {
		t.Fatal(err)
	}
	r.carrier = httptest.NewServer(r.fc.Handler())
	t.Cleanup(r.carrier.Close)
	r.demo = demo.New(demo.Options{Clock: r.clk})
	auth := dcsa.Auth{Headers: map[string]string{"X-Api-Key": carrierKey}}
	if r.tnt, err = dcsa.New("CHECK", dcsa.Config{BaseURL: r.carrier.URL, Timeout: 10 * time.Second, Auth: auth}, dcsa.WithClock(r.clk)); err != nil {
		t.Fatal(err)
	}
	if r.ct, err = dcsa3.New("CHECK", dcsa3.Config{Config: dcsa.Config{BaseURL: r.carrier.URL, Timeout: 10 * time.Second, Auth: auth}}); err != nil {
		t.Fatal(err)
	}
	r.rc = newReceiver(t)

	carrierAuth := map[string]any{"headers": map[string]string{"X-Api-Key": carrierKey}}
	sources := map[string]any{
		"default": "none",
		"carriers": map[string]any{
			pushTNT: map[string]any{
				"type": "dcsa", "base_url": r.carrier.URL, "timeout": "5s", "auth": carrierAuth,
				"push": true, "push_poll_interval": pushPollInterval.String(),
			},
			pushCT: map[string]any{
				"type": "dcsa-ct", "base_url": r.carrier.URL, "timeout": "5s", "auth": carrierAuth,
				"push": true, "push_poll_interval": pushPollInterval.String(),
				"inbound_auth": map[string]any{"bearer": pushCTToken},
			},
		},
	}
	b, err := json.Marshal(sources)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sources.json") // JSON: the YAML reader takes it as it is
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	// The carrier must reach the process at --public-url, so the address is chosen
	// here and given last (the last --addr wins over the one launch adds).
	addr := freeAddr(t)
	r.public = "http://" + addr
	r.svc = newService(t, pushAPIKey, append([]string{"--sources", path, "--addr", addr, "--public-url", r.public,
		"--allow-insecure-callbacks", "--allow-private-callbacks",
		// A pushed reference is polled at push_poll_interval or its own interval,
		// whichever is longer: its own is --poll-interval here.
		"--poll-interval", pushPollInterval.String(), "--min-poll-interval", pushPollInterval.String()}, args...)...)
	r.svc.launch()
	r.svc.base = r.public
	r.svc.awaitReady()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the end of trackhook's log:\n%s", r.svc.tail())
		}
	})
	return r
}

// track makes the carrier track p (a fresh voyage from the clock's time) and
// trackhook track it with a callback to the receiver.
func (r *pushRig) track(p *pushRef) {
	r.t.Helper()
	p.fake = references.Reference{ID: "fake-" + p.ident, CarrierCode: p.source, CreatedAt: r.clk.Now()}
	setIdentifier(&p.fake, p.kind, p.ident)
	if err := r.fc.AddShipment(p.fake); err != nil {
		r.t.Fatal(err)
	}
	if p.faults != nil {
		if err := r.fc.SetFaults(p.ident, *p.faults); err != nil {
			r.t.Fatal(err)
		}
	}
	body := map[string]any{string(p.kind): p.ident, "carrier_code": p.source, "callback_url": r.rc.URL + "/hooks/" + p.name}
	status, out, _, err := r.svc.do(http.MethodPost, "/references", body)
	if err != nil || status != http.StatusCreated {
		r.t.Fatalf("track %s: %d %s %v", p.name, status, out, err)
	}
	var ref api.Reference
	if err := json.Unmarshal(out, &ref); err != nil {
		r.t.Fatal(err)
	}
	p.id = ref.ID
	p.published, p.extra = map[string]bool{}, map[string]bool{}
	r.observe(p)
	r.refs = append(r.refs, p)
}

// observe notes the T&T event ids the carrier lists for p at the clock's time.
func (r *pushRig) observe(p *pushRef) {
	r.t.Helper()
	if p.source != pushTNT {
		return
	}
	s, err := r.demo.Fetch(r.t.Context(), p.fake)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range s.Events {
		p.published[e.ID] = true
	}
}

// voyageOver reports whether p's voyage, as the carrier plays it, has reached the
// event that ends tracking.
func (r *pushRig) voyageOver(p *pushRef) bool {
	s, err := r.demo.Fetch(r.t.Context(), p.fake)
	return err == nil && tracking.IsComplete(s, nil)
}

// subscriptionOf returns the carrier's live subscription for p's identifier.
func (r *pushRig) subscriptionOf(p *pushRef) (fakecarrier.Subscription, bool) {
	for _, s := range r.fc.Subscriptions() {
		if strings.EqualFold(s.Identifier, p.ident) {
			return s, true
		}
	}
	return fakecarrier.Subscription{}, false
}

// callbackURL is where the carrier must push p's events (T&T 2.2).
func (r *pushRig) callbackURL(p *pushRef) string {
	return r.public + "/inbound/dcsa/" + pushTNT + "/" + p.id
}

// ctURL is the CT 3.0 subscriber route of the CMDU source.
func (r *pushRig) ctURL() string { return r.public + "/inbound/dcsa-ct/" + pushCT + "/events" }

// awaitFirstPolls waits until every reference was polled once and every T&T one has
// its subscription at the carrier, with the decided callback URL.
func (r *pushRig) awaitFirstPolls(refs ...*pushRef) {
	r.t.Helper()
	eventually(r.t, 60*time.Second, "first polls and subscriptions", func() (bool, string) {
		for _, p := range refs {
			ref := r.reference(p)
			if ref.LastPolledAt == nil || ref.LastPollError != "" {
				return false, fmt.Sprintf("%s: last polled %v, error %q", p, ref.LastPolledAt, ref.LastPollError)
			}
			if p.source != pushTNT {
				continue
			}
			sub, ok := r.subscriptionOf(p)
			if !ok {
				return false, p.String() + " has no subscription at the carrier"
			}
			if sub.CallbackURL != r.callbackURL(p) {
				r.t.Fatalf("%s subscribed with callback %s, want %s", p, sub.CallbackURL, r.callbackURL(p))
			}
			if ref.Push == nil || ref.Push.ID != sub.ID || ref.Push.Source != pushTNT {
				return false, fmt.Sprintf("%s: the API shows the subscription %+v, the carrier has %s", p, ref.Push, sub.ID)
			}
		}
		return true, ""
	})
}

func (r *pushRig) reference(p *pushRef) api.Reference {
	r.t.Helper()
	var ref api.Reference
	r.svc.get("/references/"+p.id, &ref)
	return ref
}

// feed reads p's whole feed.
func (r *pushRig) feed(p *pushRef) []references.Update {
	r.t.Helper()
	// Pages of 50 rather than svc.feeds' 500: a bill of five containers ends with some
	// 200 updates, each with its snapshot, over 10 MB in one page, which a machine
	// busy with other tests may not serve within the client's timeout.
	var feed []references.Update
	after := uint64(0)
	for {
		var page api.UpdatePage
		r.svc.get(fmt.Sprintf("/references/%s/updates?limit=50&after=%d", p.id, after), &page)
		for _, u := range page.Updates {
			feed = append(feed, u.Domain())
		}
		if len(page.Updates) == 0 {
			return feed
		}
		after = page.NextAfter
	}
}

// snapshot reads p's stored shipment; nil before the first poll.
func (r *pushRig) snapshot(p *pushRef) *references.Shipment {
	r.t.Helper()
	status, body, _, err := r.svc.do(http.MethodGet, "/references/"+p.id+"/shipment", nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if status == http.StatusNotFound {
		return nil
	}
	if status != http.StatusOK {
		r.t.Fatalf("GET shipment of %s: %d %s", p, status, body)
	}
	var s webhook.Shipment
	if err := json.Unmarshal(body, &s); err != nil {
		r.t.Fatal(err)
	}
	return s.Domain()
}

// carrierEvents reads what the carrier lists for p now, with the client of its model.
func (r *pushRig) carrierEvents(p *pushRef) []references.Event {
	r.t.Helper()
	var s *references.Shipment
	var err error
	if p.source == pushTNT {
		s, err = r.tnt.Fetch(r.t.Context(), p.reference())
	} else {
		s, err = r.ct.Fetch(r.t.Context(), p.reference())
	}
	if err != nil {
		r.t.Fatalf("read the carrier's events of %s: %v", p, err)
	}
	return s.Events
}

// step moves the clock by d and has the carrier push what changed. Every push sent
// must have been accepted: the faults of these tests (duplicates, reordering, stale
// secrets within their grace, drops) are all things trackhook takes.
func (r *pushRig) step(d time.Duration) []fakecarrier.Push {
	r.t.Helper()
	r.clk.Advance(d)
	for _, p := range r.refs {
		r.observe(p)
	}
	pushes := r.fc.Step(r.t.Context())
	for _, ps := range pushes {
		if !ps.Dropped && !ps.Accepted() {
			r.t.Fatalf("a %s push to %s (events %v, stale secret %v, duplicate %v, reordered %v) was answered %d %s",
				ps.Model, ps.URL, ps.EventIDs, ps.StaleSecret, ps.Duplicate, ps.Reordered, ps.Status, ps.Err)
		}
	}
	return pushes
}

// TestPush_EveryEventOnceHealedAndUnsubscribed plays voyages through both push models
// with a carrier that duplicates and reorders some of its pushes, drops every push of
// one reference of each model and loses the subscription of another. (Secret rotation
// is not played here: --push-rotate-every takes an hour at least, and the real clock
// runs the process; the poller's and inbound's tests rotate on a fake clock.) It
// checks, for every reference:
//   - every event the carrier ended with is in the stored snapshot once, as the carrier
//     has it, and nothing the carrier never published is;
//   - the feed names each event in one change only (a duplicate or late push changes
//     nothing), with nothing withdrawn, and every update reached the callback once, in
//     order, signed;
//   - the reference whose pushes were all dropped was healed by the safety-net poll, in
//     the middle of its voyage and at its end;
//   - the lost subscription was made again by the next poll, and pushes flowed again;
//   - a reference the user deletes, and every reference whose voyage ends, has its
//     subscription deleted at the carrier; in the end the carrier holds none, and
//     every subscription it made was deleted or lost;
//   - /metrics counts every accepted push of each source under a 2xx outcome.
func TestPush_EveryEventOnceHealedAndUnsubscribed(t *testing.T) {
	t.Parallel()
	rng := newRand(t)
	seed := uint64(rng.intN(1 << 30))
	r := newPushRig(t, fakecarrier.Options{
		Seed:   seed,
		Faults: fakecarrier.Faults{Duplicate: 0.25, Reorder: 0.25},
	})

	none := fakecarrier.Faults{}
	drop := fakecarrier.Faults{Drop: 1}
	chaos := []*pushRef{
		{name: "tnt-container-1", source: pushTNT, kind: references.KindContainer, ident: containerID("PSHU", 1)},
		{name: "tnt-container-2", source: pushTNT, kind: references.KindContainer, ident: containerID("PSHU", 2)},
		{name: "tnt-bill", source: pushTNT, kind: references.KindBillOfLading, ident: "PSHB00000001"},
		// CT 3.0 references are bills of lading: every CT event of one names the bill,
		// so each push reaches it (a container's vessel events name no container).
		{name: "ct-bill-1", source: pushCT, kind: references.KindBillOfLading, ident: "PSHC00000001"},
		{name: "ct-bill-2", source: pushCT, kind: references.KindBillOfLading, ident: "PSHC00000002"},
	}
	dropped := &pushRef{name: "tnt-dropped", source: pushTNT, kind: references.KindContainer, ident: containerID("PSHU", 3), faults: &drop}
	droppedCT := &pushRef{name: "ct-dropped", source: pushCT, kind: references.KindBillOfLading, ident: "PSHC00000003", faults: &drop}
	lost := &pushRef{name: "tnt-lost", source: pushTNT, kind: references.KindContainer, ident: containerID("PSHU", 4), faults: &none}
	deleted := &pushRef{name: "tnt-deleted", source: pushTNT, kind: references.KindContainer, ident: containerID("PSHU", 5)}
	all := append(slices.Clone(chaos), dropped, droppedCT, lost, deleted)
	for _, p := range all {
		r.track(p)
	}
	r.awaitFirstPolls(all...)
	var ctIdents []string
	for _, p := range all {
		if p.source == pushCT {
			ctIdents = append(ctIdents, p.ident)
		}
	}
	if err := r.fc.AddCTSubscriber(fakecarrier.CTSubscriber{
		Name: "trackhook", URL: r.ctURL(), Identifiers: ctIdents,
		Header: http.Header{"Authorization": {"Bearer " + pushCTToken}},
	}); err != nil {
		t.Fatal(err)
	}
	start := r.clk.Now()
	firstSub := map[string]fakecarrier.Subscription{}
	for _, p := range all {
		if p.source == pushTNT {
			firstSub[p.name], _ = r.subscriptionOf(p)
		}
	}

	// Phase 1: three weeks of voyage, to the middle of the ocean leg.
	for r.clk.Now().Sub(start) < 21*24*time.Hour {
		r.step(pushStep)
	}
	if r.fc.Stats().Accepted == 0 {
		t.Fatalf("no push accepted in three weeks of voyage: %+v", r.fc.Stats())
	}
	// The carrier loses one subscription; the user deletes another reference.
	if !r.fc.LoseSubscription(firstSub[lost.name].ID) {
		t.Fatalf("the subscription of %s was not alive", lost)
	}
	if status, body, _, err := r.svc.do(http.MethodDelete, "/references/"+deleted.id, nil); err != nil || status != http.StatusOK {
		t.Fatalf("DELETE %s: %d %s %v", deleted, status, body, err)
	}
	// Until the safety net has run: the dropped references show what the carrier
	// lists now, the lost subscription is made again, the deleted reference's
	// subscription is gone from the carrier.
	droppedWant := map[*pushRef][]references.Event{dropped: r.carrierEvents(dropped), droppedCT: r.carrierEvents(droppedCT)}
	phase1 := time.Now()
	live := slices.DeleteFunc(slices.Clone(all), func(p *pushRef) bool { return p == deleted })
	eventually(t, pushHealWait, "the safety net healing the dropped references and repairing the lost subscription; the deleted reference's subscription deleted", func() (bool, string) {
		for _, p := range live {
			if ref := r.reference(p); ref.LastPolledAt == nil || !ref.LastPolledAt.After(phase1) {
				return false, p.String() + " not polled since the steps stopped"
			}
		}
		for p, want := range droppedWant {
			if missing := missingEvents(r.snapshot(p), want); len(missing) > 0 {
				return false, fmt.Sprintf("%s lacks %d of the carrier's %d events (e.g. %s)", p, len(missing), len(want), missing[0])
			}
		}
		if sub, ok := r.subscriptionOf(lost); !ok || sub.ID == firstSub[lost.name].ID {
			return false, lost.String() + " has no new subscription"
		}
		if _, ok := r.subscriptionOf(deleted); ok {
			return false, deleted.String() + " still has its subscription at the carrier"
		}
		return true, ""
	})
	if !slices.ContainsFunc(r.fc.Deleted(), func(s fakecarrier.Subscription) bool { return s.ID == firstSub[deleted.name].ID }) {
		t.Errorf("the subscription of %s was not deleted at the carrier (DELETE /v2/event-subscriptions)", deleted)
	}
	// The API shows which references the carrier's pushes reached.
	for _, p := range []*pushRef{chaos[0], chaos[1], chaos[2], dropped} {
		ref := r.reference(p)
		if reached := ref.Push != nil && ref.Push.LastPushAt != nil; reached != (p != dropped) {
			t.Errorf("%s: the API shows the subscription %+v; a push reached it: %v", p, ref.Push, p != dropped)
		}
	}
	repaired, _ := r.subscriptionOf(lost)
	if repaired.CallbackURL != r.callbackURL(lost) {
		t.Errorf("%s was subscribed again with callback %s, want %s", lost, repaired.CallbackURL, r.callbackURL(lost))
	}
	lostPushesBefore := pushesTo(r.fc.Pushes(), repaired.ID)
	// Every reference was polled since the last push: each says what the carrier says.
	for _, p := range live {
		for _, problem := range sameStanding(p, r.snapshot(p), r.carrierEvents(p)) {
			t.Error(problem)
		}
	}

	// Phase 2: to the end of every voyage, and a few steps more for the pushes held
	// back by reordering.
	for !allOver(r, live) {
		if r.clk.Now().Sub(start) > pushMaxVoyage {
			t.Fatalf("the voyages are not over after %v of simulated time", pushMaxVoyage)
		}
		r.step(pushStep)
	}
	for range 4 {
		r.step(pushStep)
	}
	if n := pushesTo(r.fc.Pushes(), repaired.ID) - lostPushesBefore; n == 0 {
		t.Errorf("no push reached %s through its repaired subscription", lost)
	}
	var refs []api.Reference
	eventually(t, pushHealWait, "every reference ended and delivered, the dropped ones by their safety-net poll", func() (bool, string) {
		refs = r.svc.references()
		return settled(refs)
	})
	eventually(t, 60*time.Second, "every subscription deleted at the carrier", func() (bool, string) {
		if live := r.fc.Subscriptions(); len(live) > 0 {
			return false, fmt.Sprintf("%d left, e.g. %s for %s", len(live), live[0].ID, live[0].Identifier)
		}
		return true, ""
	})

	// The references, their snapshots and their feeds.
	byID := map[string]api.Reference{}
	for _, ref := range refs {
		byID[ref.ID] = ref
	}
	feeds := map[string][]references.Update{}
	versions := ctVersions(t, r.fc.Pushes())
	for _, p := range all {
		ref := byID[p.id]
		feed := r.feed(p)
		feeds[p.id] = feed
		complete := p != deleted
		wantReason := references.ReasonTrackingComplete
		if !complete {
			wantReason = ref.UnsubscribeReason // whatever DELETE says; checked below
			if ref.Status != references.StatusUnsubscribed || ref.UnsubscribeReason == references.ReasonTrackingComplete {
				t.Errorf("%s after DELETE: status %s, reason %s", p, ref.Status, ref.UnsubscribeReason)
			}
		}
		if ref.UnsubscribeReason != wantReason {
			t.Errorf("%s ended with %q, want %q", p, ref.UnsubscribeReason, wantReason)
		}
		var carrier []references.Event
		if complete {
			carrier = r.carrierEvents(p)
		}
		for _, problem := range checkPushedFeed(p, feed, r.snapshot(p), carrier, versions) {
			t.Error(problem)
		}
	}
	for _, p := range []*pushRef{dropped, droppedCT} {
		planned, sent := 0, 0
		for _, ps := range r.fc.Pushes() {
			if slices.ContainsFunc(ps.Identifiers, func(id string) bool { return strings.EqualFold(id, p.ident) }) {
				planned++
				if !ps.Dropped {
					sent++
				}
			}
		}
		if planned == 0 || sent > 0 {
			t.Errorf("%s: %d pushes planned, %d sent; want some planned and none sent", p, planned, sent)
		}
	}
	figures := checkDeliveries(t, feeds, r.rc.deliveries(), r.svc.webhookSecrets())

	// The carrier's side: every subscription it made was deleted, or lost by itself.
	st := r.fc.Stats()
	if len(r.fc.Lost()) != 1 || st.Created != len(r.fc.Deleted())+len(r.fc.Lost()) {
		t.Errorf("the carrier made %d subscriptions, %d were deleted and %d lost (want 1 lost, the rest deleted)", st.Created, len(r.fc.Deleted()), len(r.fc.Lost()))
	}
	for _, p := range all {
		if p.source == pushCT && slices.ContainsFunc(r.fc.Deleted(), func(s fakecarrier.Subscription) bool { return strings.EqualFold(s.Identifier, p.ident) }) {
			t.Errorf("a T&T subscription was made for the CT reference %s", p)
		}
	}
	if st.Duplicated == 0 || st.Reordered == 0 || st.Dropped == 0 {
		t.Errorf("the run did not exercise the faults: %+v", st)
	}

	// Every accepted push is counted under a 2xx outcome of its source, and nothing
	// was refused.
	m := r.inboundMetrics()
	accepted := map[string]float64{}
	for _, ps := range r.fc.Pushes() {
		if ps.Accepted() {
			accepted[map[fakecarrier.Model]string{fakecarrier.ModelTNT: pushTNT, fakecarrier.ModelCT: pushCT}[ps.Model]]++
		}
	}
	for _, source := range []string{pushTNT, pushCT} {
		ok := m.sum(source, "applied") + m.sum(source, "duplicate") + m.sum(source, "not_tracked")
		if ok != accepted[source] || m.sum(source, "applied") == 0 {
			t.Errorf("/metrics counts %v pushes of %s applied, duplicate or not tracked (%v applied); the carrier had %v accepted", ok, source, m.sum(source, "applied"), accepted[source])
		}
		for _, outcome := range []string{"bad_signature", "unknown_subscription", "unauthorized", "malformed", "too_large", "error"} {
			if n := m.sum(source, outcome); n != 0 {
				t.Errorf("/metrics counts %v pushes of %s as %s", n, source, outcome)
			}
		}
	}
	t.Logf("push: %s; carrier: %d pushes sent (%d accepted), %d duplicated, %d reordered, %d dropped; %d subscriptions made, %d deleted, %d lost; %v of voyage in %d steps",
		figures, st.Sent, st.Accepted, st.Duplicated, st.Reordered, st.Dropped,
		st.Created, st.Deleted, st.Lost, r.clk.Now().Sub(start), st.Steps)
}

// allOver reports whether every reference's voyage has reached its end at the carrier.
func allOver(r *pushRig, refs []*pushRef) bool {
	for _, p := range refs {
		if !r.voyageOver(p) {
			return false
		}
	}
	return true
}

// pushesTo counts the pushes sent to the T&T subscription id.
func pushesTo(pushes []fakecarrier.Push, id string) int {
	n := 0
	for _, p := range pushes {
		if p.Target == id && !p.Dropped {
			n++
		}
	}
	return n
}

// missingEvents returns the events of want that snap lacks, or has otherwise
// (another classifier or time).
func missingEvents(snap *references.Shipment, want []references.Event) []string {
	have := map[string]references.Event{}
	if snap != nil {
		for _, e := range snap.Events {
			have[e.ID] = e
		}
	}
	var out []string
	for _, w := range want {
		if e, ok := have[w.ID]; !ok || !sameFact(e, w) {
			out = append(out, describeEvent(w))
		}
	}
	return out
}

// sameFact reports whether two versions of an event say the same.
func sameFact(a, b references.Event) bool {
	return a.Type == b.Type && a.Code == b.Code && a.Classifier == b.Classifier && a.Time.Equal(b.Time) &&
		strings.EqualFold(a.EquipmentReference, b.EquipmentReference)
}

func describeEvent(e references.Event) string {
	return fmt.Sprintf("%s %s %s %s %s at %s", e.ID, e.Type, e.Code, e.Classifier, e.EquipmentReference, e.Time.Format(time.RFC3339))
}

// sameStanding compares a snapshot with the carrier's events as the diff does,
// milestone by milestone (the event that stands for each): after a poll, what
// trackhook holds must say what the carrier says, whatever pushes came before.
func sameStanding(p *pushRef, snap *references.Shipment, carrier []references.Event) []string {
	if snap == nil {
		return []string{p.String() + ": no snapshot"}
	}
	var out []string
	for _, c := range tracking.Diff(tracking.Derive(snap), tracking.Derive(&references.Shipment{Events: carrier})) {
		if c.Event == nil {
			continue
		}
		// The snapshot's events of that milestone, to tell a stale version from a
		// missing one.
		var held []string
		for _, e := range snap.Events {
			if e.Type == c.Event.Type && e.Code == c.Event.Code && strings.EqualFold(e.EquipmentReference, c.Event.EquipmentReference) &&
				(e.Location == nil) == (c.Event.Location == nil) && (e.Location == nil || e.Location.UNLocode == c.Event.Location.UNLocode) {
				held = append(held, describeEvent(e))
			}
		}
		out = append(out, fmt.Sprintf("%s: after a poll, the snapshot differs from the carrier's events: %s (%s); the carrier has %s, the snapshot %v",
			p, c.Description, c.Type, describeEvent(*c.Event), held))
	}
	return out
}

// checkPushedFeed checks a reference's snapshot and feed against what the carrier
// published (carrier: its events at the end of the voyage; nil when the reference
// ended before). It returns the problems found.
//   - The snapshot holds each event id once, and only ids the carrier published (for
//     CT, exactly the carrier's, whose ids are stable across versions) or the test
//     pushed itself; it holds every event of carrier as the carrier has it.
//   - No change withdraws an event (nothing was retracted): a late, older version
//     applied over a newer one would.
//   - T&T ids are one version each: an id is the subject of one change at most, so a
//     duplicate push changed nothing. CT ids are versioned (versions: what the
//     carrier published of each, oldest first): an id is added once, and each change
//     of it is to a version later than the one before, so that neither a duplicate
//     nor a late, older version (a reordered push, a poll that lagged) was applied.
//   - Every actual event the carrier ended with is in exactly one change as actual.
//   - The feed ends with reference.unsubscribed.
func checkPushedFeed(p *pushRef, feed []references.Update, snap *references.Shipment, carrier []references.Event, versions map[string][]ctVersion) []string {
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, p.String()+": "+fmt.Sprintf(format, args...))
	}
	if snap == nil {
		return []string{p.String() + ": no snapshot"}
	}
	seen := map[string]int{}
	for _, e := range snap.Events {
		seen[e.ID]++
		if seen[e.ID] == 2 {
			fail("event %s is twice in the snapshot", e.ID)
		}
	}
	if p.source == pushTNT {
		for id := range seen {
			if !p.published[id] && !p.extra[id] {
				fail("the snapshot holds event %s, which the carrier never published", id)
			}
		}
	} else if carrier != nil {
		want := map[string]bool{}
		for _, e := range carrier {
			want[e.ID] = true
		}
		for id := range seen {
			if !want[id] && !p.extra[id] {
				fail("the snapshot holds event %s, which the carrier does not list", id)
			}
		}
	}
	for _, m := range missingEvents(snap, carrier) {
		fail("the snapshot lacks the carrier's event %s (or has another version of it)", m)
	}

	type changeKey struct {
		typ        references.ChangeType
		classifier references.Classifier
		value      string
	}
	byID := map[string][]changeKey{}
	applied := map[string]int{} // CT: the index in versions of the version applied last
	for i, u := range feed {
		if u.Sequence != uint64(i+1) {
			fail("update %d has sequence %d", i, u.Sequence)
		}
		for _, c := range u.Changes {
			switch c.Type {
			case references.ChangeEventRemoved, references.ChangeActualCorrected:
				fail("update #%d withdraws an event: %s", u.Sequence, c.Description)
			}
			if c.Event == nil {
				continue
			}
			k := changeKey{c.Type, c.Event.Classifier, c.New}
			if p.source == pushTNT && len(byID[c.Event.ID]) > 0 {
				fail("event %s is in two changes: %v, then %s in update #%d", c.Event.ID, byID[c.Event.ID], c.Type, u.Sequence)
			}
			if p.source == pushCT {
				vs, last := versions[c.Event.ID], -1
				if n, ok := applied[c.Event.ID]; ok {
					last = n
				}
				i := slices.IndexFunc(vs, func(v ctVersion) bool { return v.classifier == c.Event.Classifier && v.at.Equal(c.Event.Time) })
				for i >= 0 && i <= last {
					next := slices.IndexFunc(vs[i+1:], func(v ctVersion) bool { return v.classifier == c.Event.Classifier && v.at.Equal(c.Event.Time) })
					if next < 0 {
						i = -1
						break
					}
					i += 1 + next
				}
				switch {
				case i >= 0:
					applied[c.Event.ID] = i
				case last >= 0 || len(byID[c.Event.ID]) > 0:
					// The first change of an event may be a version published before
					// the carrier pushed to trackhook (the first poll's); later ones
					// must be versions it published after the one applied before.
					before := "the first poll's"
					if last >= 0 {
						before = vs[last].String()
					}
					fail("event %s: update #%d applies %s %s, not a version the carrier published after the one applied before (%s); its versions: %v",
						c.Event.ID, u.Sequence, c.Event.Classifier, c.Event.Time.Format(time.RFC3339), before, vs)
				}
			}
			if c.Type == references.ChangeEventAdded && slices.ContainsFunc(byID[c.Event.ID], func(o changeKey) bool { return o.typ == references.ChangeEventAdded }) {
				fail("event %s is added twice (update #%d)", c.Event.ID, u.Sequence)
			}
			byID[c.Event.ID] = append(byID[c.Event.ID], k)
		}
	}
	for _, e := range carrier {
		if e.Classifier != references.ClassifierActual {
			continue
		}
		n := 0
		for _, k := range byID[e.ID] {
			if k.classifier == references.ClassifierActual {
				n++
			}
		}
		if n != 1 {
			fail("the carrier's actual event %s is in %d changes as actual, want 1", describeEvent(e), n)
		}
	}
	if len(feed) == 0 || feed[len(feed)-1].Type != references.UpdateUnsubscribed {
		fail("the feed (%d updates) does not end with reference.unsubscribed", len(feed))
	}
	return problems
}

// ctVersion is one version of a CT 3.0 event as the carrier pushed it.
type ctVersion struct {
	updated    time.Time // eventUpdatedDateTime
	classifier references.Classifier
	at         time.Time // eventDateTime
	retracted  bool
}

func (v ctVersion) String() string {
	if v.retracted {
		return "retracted@" + v.updated.Format(time.RFC3339)
	}
	return fmt.Sprintf("%s %s@%s", v.classifier, v.at.Format(time.RFC3339), v.updated.Format(time.RFC3339))
}

// ctVersions returns the versions of every CT event the carrier pushed (or planned
// and dropped), by event id, oldest first, each once.
func ctVersions(t *testing.T, pushes []fakecarrier.Push) map[string][]ctVersion {
	t.Helper()
	out := map[string][]ctVersion{}
	for _, ps := range pushes {
		if ps.Model != fakecarrier.ModelCT {
			continue
		}
		var body struct {
			Events []struct {
				EventID              string `json:"eventID"`
				IsRetracted          bool   `json:"isRetracted"`
				EventDateTime        string `json:"eventDateTime"`
				EventUpdatedDateTime string `json:"eventUpdatedDateTime"`
				EventClassification  struct {
					EventClassifierCode references.Classifier `json:"eventClassifierCode"`
				} `json:"eventClassification"`
			} `json:"events"`
		}
		if err := json.Unmarshal(ps.Body, &body); err != nil {
			t.Fatalf("a CT push of the carrier: %v", err)
		}
		for _, e := range body.Events {
			v := ctVersion{classifier: e.EventClassification.EventClassifierCode, retracted: e.IsRetracted}
			v.updated, _ = time.Parse(time.RFC3339, e.EventUpdatedDateTime)
			v.at, _ = time.Parse(time.RFC3339, e.EventDateTime)
			if !slices.Contains(out[e.EventID], v) {
				out[e.EventID] = append(out[e.EventID], v)
			}
		}
	}
	for _, vs := range out {
		slices.SortStableFunc(vs, func(a, b ctVersion) int { return a.updated.Compare(b.updated) })
	}
	return out
}

// inboundCounts are the trackhook_inbound_pushes_total series: labels -> value.
type inboundCounts []struct {
	labels map[string]string
	value  float64
}

// sum adds the series of a source and outcome, whatever the model.
func (m inboundCounts) sum(source, outcome string) float64 {
	var n float64
	for _, s := range m {
		if s.labels["source"] == source && s.labels["outcome"] == outcome {
			n += s.value
		}
	}
	return n
}

// inboundMetrics reads trackhook_inbound_pushes_total from /metrics (with the admin key).
func (r *pushRig) inboundMetrics() inboundCounts {
	r.t.Helper()
	status, body, _, err := r.svc.do(http.MethodGet, "/metrics", nil)
	if err != nil || status != http.StatusOK {
		r.t.Fatalf("GET /metrics: %d %v\n%.300s", status, err, body)
	}
	const name = "trackhook_inbound_pushes_total"
	var out inboundCounts
	found := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# TYPE "+name+" ") {
			found = true
		}
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		value, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if end < 0 || err != nil {
			r.t.Fatalf("/metrics: cannot read %q", line)
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(line[len(name)+1:end], ",") {
			k, v, ok := strings.Cut(kv, "=")
			if ok {
				labels[k] = strings.Trim(v, `"`)
			}
		}
		out = append(out, struct {
			labels map[string]string
			value  float64
		}{labels, value})
	}
	if !found {
		r.t.Fatalf("/metrics has no %s", name)
	}
	return out
}

// pushRequest is one hand-made push and what trackhook must answer.
type pushRequest struct {
	name    string
	url     string
	header  http.Header
	body    []byte
	status  int    // the answer wanted
	outcome string // the outcome it is counted under; "" for none
}

// post sends a hand-made push and returns the status.
func (r *pushRig) post(req pushRequest) (int, string) {
	r.t.Helper()
	hr, err := http.NewRequestWithContext(r.t.Context(), http.MethodPost, req.url, bytes.NewReader(req.body))
	if err != nil {
		r.t.Fatal(err)
	}
	hr.Header = req.header.Clone()
	if hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.svc.client.Do(hr)
	if err != nil {
		r.t.Fatalf("%s: %v", req.name, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(out)
}

// state is what a refused push must leave as it was: the reference, its feed and
// its snapshot, as the API shows them.
func (r *pushRig) state(p *pushRef) string {
	r.t.Helper()
	ref := r.reference(p)
	// A safety-net poll that finds nothing new moves these.
	ref.NextPollAt, ref.UpdatedAt, ref.LastPolledAt = nil, time.Time{}, nil
	if ref.Push != nil {
		sub := *ref.Push
		sub.CheckedAt = time.Time{}
		ref.Push = &sub
	}
	feed, _ := json.Marshal(r.feed(p))
	snap, _ := json.Marshal(r.snapshot(p))
	refJSON, _ := json.Marshal(ref)
	return string(refJSON) + "\n" + string(feed) + "\n" + string(snap)
}

// tntHeader returns the headers of a T&T notification of body signed with key.
func tntHeader(subscription string, body, key []byte) http.Header {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return http.Header{
		"Subscription-Id":        {subscription},
		"Notification-Signature": {"sha256=" + hex.EncodeToString(m.Sum(nil))},
		"Api-Version":            {"2.2.0"},
	}
}

// newEventID returns a UUID-shaped event id no carrier published.
func newEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// TestPush_RefusedPushesChangeNothing sends trackhook pushes it must refuse, on both
// models: a bad signature (a random key, another subscription's secret, none, not
// hex), an unknown or mismatched subscription, an unknown reference, a malformed and
// a too large body; CT pushes without or with the wrong credential, malformed, too
// large. Each is answered with its 4xx, changes nothing the API shows (the reference,
// its feed, its snapshot) and is counted in /metrics under its outcome. Each body is
// an event the reference does not have, and the same body pushed correctly is then
// applied (one new update naming it) and, pushed again, changes nothing more: so a
// refusal that let the event in would have shown.
func TestPush_RefusedPushesChangeNothing(t *testing.T) {
	t.Parallel()
	r := newPushRig(t, fakecarrier.Options{Seed: 7})
	container := &pushRef{name: "tnt-container", source: pushTNT, kind: references.KindContainer, ident: containerID("PSHU", 11)}
	other := &pushRef{name: "tnt-other", source: pushTNT, kind: references.KindContainer, ident: containerID("PSHU", 12)}
	bill := &pushRef{name: "ct-bill", source: pushCT, kind: references.KindBillOfLading, ident: "PSHC00000011"}
	for _, p := range []*pushRef{container, other, bill} {
		r.track(p)
	}
	r.awaitFirstPolls(container, other, bill)
	sub, _ := r.subscriptionOf(container)
	otherSub, _ := r.subscriptionOf(other)
	// A day of voyage pushed by the carrier itself first, so that the references are
	// past their first poll and the subscription has carried pushes.
	if err := r.fc.AddCTSubscriber(fakecarrier.CTSubscriber{Name: "trackhook", URL: r.ctURL(), Identifiers: []string{bill.ident},
		Header: http.Header{"Authorization": {"Bearer " + pushCTToken}}}); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		r.step(pushStep)
	}

	at := r.clk.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	tntID := newEventID()
	tntBody := []byte(fmt.Sprintf(`[{"eventID":%q,"eventType":"EQUIPMENT","eventClassifierCode":"ACT","eventDateTime":%q,"eventCreatedDateTime":%q,`+
		`"equipmentEventTypeCode":"INSP","equipmentReference":%q,"emptyIndicatorCode":"LADEN","eventLocation":{"locationName":"Push test yard","UNLocationCode":"NLRTM"}}]`,
		tntID, at, at, container.ident))
	var billContainer string
	for _, e := range r.carrierEvents(bill) {
		if e.EquipmentReference != "" {
			billContainer = e.EquipmentReference
			break
		}
	}
	ctID := "push-test-" + newEventID()
	ctBody := []byte(fmt.Sprintf(`{"events":[{"eventID":%q,"eventDateTime":%q,"eventUpdatedDateTime":%q,`+
		`"eventLocation":{"locationName":"Push test yard","UNLocationCode":"NLRTM"},`+
		`"eventClassification":{"eventTypeCode":"EQUIPMENT","eventClassifierCode":"ACT","equipmentEventTypeCode":"INSP"},`+
		`"shipmentDetails":{"documentReference":{"typeCode":"TRD","reference":%q}},`+
		`"equipmentDetails":{"equipmentReference":%q,"emptyIndicatorCode":"LADEN"}}]}`,
		ctID, at, at, bill.ident, billContainer))
	randomKey := make([]byte, fakecarrier.SecretSize)
	_, _ = rand.Read(randomKey)
	huge := append([]byte(`[`), bytes.Repeat([]byte(` `), dcsa.MaxNotificationBytes)...)
	huge = append(huge, tntBody[1:]...)
	hugeCT := append([]byte(`{"events":`), bytes.Repeat([]byte(` `), dcsa3.MaxPushBytes)...)
	hugeCT = append(hugeCT, ctBody[len(`{"events":`):]...)
	malformed := []byte(`[{"eventID":` + strconv.Quote(tntID) + `,"eventType":`)
	ctAuth := func(h http.Header) http.Header { h.Set("Authorization", "Bearer "+pushCTToken); return h }
	unknownRef := r.public + "/inbound/dcsa/" + pushTNT + "/ref_doesnotexist0000000000"

	refused := []pushRequest{
		{"T&T signed with a random key", r.callbackURL(container), tntHeader(sub.ID, tntBody, randomKey), tntBody, http.StatusUnauthorized, "bad_signature"},
		{"T&T signed with another subscription's secret", r.callbackURL(container), tntHeader(sub.ID, tntBody, otherSub.Secret), tntBody, http.StatusUnauthorized, "bad_signature"},
		{"T&T without a signature", r.callbackURL(container), http.Header{"Subscription-Id": {sub.ID}}, tntBody, http.StatusUnauthorized, "bad_signature"},
		{"T&T with a signature that is not hex", r.callbackURL(container), http.Header{"Subscription-Id": {sub.ID}, "Notification-Signature": {"sha256=" + strings.Repeat("zz", 32)}}, tntBody, http.StatusUnauthorized, "bad_signature"},
		{"T&T with a signature of the body with one byte changed", r.callbackURL(container), tntHeader(sub.ID, append(slices.Clone(tntBody[:len(tntBody)-1]), ' '), sub.Secret), tntBody, http.StatusUnauthorized, "bad_signature"},
		{"T&T under an unknown Subscription-ID", r.callbackURL(container), tntHeader(newEventID(), tntBody, sub.Secret), tntBody, 0, "unknown_subscription"},
		{"T&T under another reference's Subscription-ID", r.callbackURL(container), tntHeader(otherSub.ID, tntBody, otherSub.Secret), tntBody, 0, "unknown_subscription"},
		{"T&T to an unknown reference", unknownRef, tntHeader(sub.ID, tntBody, sub.Secret), tntBody, http.StatusNotFound, "unknown_subscription"},
		{"T&T to another reference's callback", r.callbackURL(other), tntHeader(sub.ID, tntBody, sub.Secret), tntBody, 0, "unknown_subscription"},
		{"T&T malformed, signed", r.callbackURL(container), tntHeader(sub.ID, malformed, sub.Secret), malformed, http.StatusBadRequest, "malformed"},
		{"T&T too large, signed", r.callbackURL(container), tntHeader(sub.ID, huge, sub.Secret), huge, http.StatusRequestEntityTooLarge, "too_large"},
		{"CT without credentials", r.ctURL(), http.Header{}, ctBody, http.StatusUnauthorized, "unauthorized"},
		{"CT with the wrong bearer token", r.ctURL(), http.Header{"Authorization": {"Bearer " + strings.ToUpper(pushCTToken)}}, ctBody, http.StatusUnauthorized, "unauthorized"},
		{"CT with the token as a header of another name", r.ctURL(), http.Header{"X-Api-Key": {pushCTToken}}, ctBody, http.StatusUnauthorized, "unauthorized"},
		{"CT malformed", r.ctURL(), ctAuth(http.Header{}), []byte(`{"events":[{"eventID":`), http.StatusBadRequest, "malformed"},
		{"CT too large", r.ctURL(), ctAuth(http.Header{}), hugeCT, http.StatusRequestEntityTooLarge, "too_large"},
	}
	before := map[*pushRef]string{container: r.state(container), other: r.state(other), bill: r.state(bill)}
	wantCounts := map[[2]string]float64{}
	for _, req := range refused {
		status, answer := r.post(req)
		switch {
		case req.status != 0 && status != req.status:
			t.Errorf("%s: answered %d %s, want %d", req.name, status, answer, req.status)
		case status < 400 || status > 499:
			t.Errorf("%s: answered %d %s, want a 4xx", req.name, status, answer)
		}
		source := pushTNT
		if strings.HasPrefix(req.name, "CT") {
			source = pushCT
		}
		wantCounts[[2]string{source, req.outcome}]++
		for p, was := range before {
			if now := r.state(p); now != was {
				t.Fatalf("%s (answered %d) changed %s:\nbefore %s\nafter  %s", req.name, status, p, was, now)
			}
		}
	}
	m := r.inboundMetrics()
	for k, want := range wantCounts {
		if got := m.sum(k[0], k[1]); got != want {
			t.Errorf("/metrics: %v pushes of %s counted %s, want %v", got, k[0], k[1], want)
		}
	}

	// The controls: the same bodies, pushed as the carrier would, are applied once.
	controls := []struct {
		p    *pushRef
		id   string
		req  pushRequest
		want int
	}{
		{container, tntID, pushRequest{name: "T&T signed", url: r.callbackURL(container), header: tntHeader(sub.ID, tntBody, sub.Secret), body: tntBody}, http.StatusNoContent},
		{bill, ctID, pushRequest{name: "CT with its token", url: r.ctURL(), header: ctAuth(http.Header{}), body: ctBody}, 0},
	}
	for _, c := range controls {
		c.p.extra[c.id] = true
		last := r.reference(c.p).LastSequence
		for i := range 2 {
			status, answer := r.post(c.req)
			if status < 200 || status > 299 || (c.want != 0 && status != c.want) {
				t.Fatalf("%s (%d): answered %d %s, want 2xx", c.req.name, i+1, status, answer)
			}
			feed := r.feed(c.p)
			if uint64(len(feed)) != last+1 {
				t.Fatalf("%s (%d): the feed went from %d to %d updates, want %d", c.req.name, i+1, last, len(feed), last+1)
			}
			named := slices.ContainsFunc(feed[last].Changes, func(ch references.Change) bool { return ch.Event != nil && ch.Event.ID == c.id })
			if !named {
				t.Fatalf("%s: the new update does not name event %s: %+v", c.req.name, c.id, feed[last].Changes)
			}
		}
	}
	m = r.inboundMetrics()
	if m.sum(pushTNT, "duplicate") < 1 || m.sum(pushCT, "duplicate") < 1 {
		t.Errorf("/metrics: the repeated controls are not counted as duplicate (T&T %v, CT %v)", m.sum(pushTNT, "duplicate"), m.sum(pushCT, "duplicate"))
	}
	t.Logf("push refusals: %d hand-made pushes refused, each changing nothing; 2 controls applied once", len(refused))
}
