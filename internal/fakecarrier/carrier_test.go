package fakecarrier_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/fakecarrier"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

var start = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// The references of the tests: a bill of lading of one to five containers, and a
// container of its own.
var (
	blRef        = references.Reference{ID: "ref_bl", BillOfLading: "MAEU234567891", CarrierCode: "MAEU", CreatedAt: start}
	containerRef = references.Reference{ID: "ref_cn", ContainerID: "MSKU7261948", CarrierCode: "MAEU", CreatedAt: start}
)

type bundle struct {
	carrier *fakecarrier.Carrier
	srv     *httptest.Server
	clk     *clock.Fake
	client  *dcsa.Client
}

// setup starts a carrier on loopback tracking refs, on a fake clock at start, and a
// DCSA client for it.
func setup(t *testing.T, opts fakecarrier.Options, refs ...references.Reference) *bundle {
	t.Helper()
	clk := clock.NewFake(start)
	opts.Clock = clk
	c, err := fakecarrier.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range refs {
		if err := c.AddShipment(ref); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	cfg := dcsa.Config{BaseURL: srv.URL}
	if opts.Auth != nil {
		cfg.Auth.Headers = map[string]string{}
		for name := range opts.Auth {
			cfg.Auth.Headers[name] = opts.Auth.Get(name)
		}
	}
	client, err := dcsa.New("FAKE", cfg, dcsa.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{carrier: c, srv: srv, clk: clk, client: client}
}

// receiver is a callback on loopback that records what it is sent.
type receiver struct {
	srv    *httptest.Server
	status int

	mu  sync.Mutex
	got []received
}

type received struct {
	Path   string
	Header http.Header
	Body   []byte
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{Path: req.URL.Path, Header: req.Header.Clone(), Body: body})
		r.mu.Unlock()
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) received(path string) []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, g := range r.got {
		if g.Path == path {
			out = append(out, g)
		}
	}
	return out
}

// subscribe creates a subscription for ref through the DCSA client, to the
// receiver's path.
func (b *bundle) subscribe(t *testing.T, r *receiver, path string, ref references.Reference) (dcsa.Subscription, []byte) {
	t.Helper()
	secret := dcsa.NewSecret()
	sub, err := b.client.CreateSubscription(t.Context(), dcsa.SubscriptionRequest{CallbackURL: r.srv.URL + path, Secret: secret, Reference: ref})
	if err != nil {
		t.Fatalf("CreateSubscription: %v", err)
	}
	return sub, secret
}

// play advances the clock by every, steps, and so on for days; it returns the
// pushes, and after each step calls each (when set).
func (b *bundle) play(t *testing.T, days int, every time.Duration, each func(step int)) []fakecarrier.Push {
	t.Helper()
	var all []fakecarrier.Push
	for i := 0; time.Duration(i)*every < time.Duration(days)*24*time.Hour; i++ {
		b.clk.Advance(every)
		all = append(all, b.carrier.Step(t.Context())...)
		if each != nil {
			each(i)
		}
	}
	return all
}

// demoEvents is what poller/demo publishes for ref at the clock's time.
func demoEvents(t *testing.T, clk clock.Clock, ref references.Reference) []references.Event {
	t.Helper()
	s, err := demo.New(demo.Options{Clock: clk}).Fetch(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return s.Events
}

func ids(events []references.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	slices.Sort(out)
	return out
}

// pushedIDs are the event ids of received notifications, in order.
func pushedIDs(t *testing.T, got []received) []string {
	t.Helper()
	var out []string
	for _, g := range got {
		var events []struct {
			EventID string `json:"eventID"`
		}
		if err := json.Unmarshal(g.Body, &events); err != nil {
			t.Fatalf("a notification is not an array of events: %v", err)
		}
		for _, e := range events {
			out = append(out, e.EventID)
		}
	}
	return out
}

func TestCarrier_ServesTheDemoVoyagesToTheDCSAClientAcrossPages(t *testing.T) {
	b := setup(t, fakecarrier.Options{PageSize: 4}, blRef, containerRef)
	b.clk.Advance(20 * 24 * time.Hour)
	for _, ref := range []references.Reference{blRef, containerRef} {
		got, err := b.client.Fetch(t.Context(), ref)
		if err != nil {
			t.Fatalf("Fetch %s: %v", ref.ID, err)
		}
		want := demoEvents(t, b.clk, ref)
		if !slices.Equal(ids(got.Events), ids(want)) {
			t.Fatalf("%s: polled ids %v, want the demo's %v", ref.ID, ids(got.Events), ids(want))
		}
		byID := map[string]references.Event{}
		for _, e := range want {
			byID[e.ID] = e
		}
		for _, e := range got.Events {
			w := byID[e.ID]
			if e.Type != w.Type || e.Code != w.Code || e.Classifier != w.Classifier || !e.Time.Equal(w.Time) ||
				e.EquipmentReference != w.EquipmentReference || e.EmptyIndicator != w.EmptyIndicator || e.ISOEquipmentCode != w.ISOEquipmentCode ||
				(w.Location != nil && (e.Location == nil || *e.Location != *w.Location)) ||
				(w.TransportCall != nil && (e.TransportCall == nil || *e.TransportCall != *w.TransportCall)) {
				t.Errorf("%s: event %s polled as %+v, published as %+v", ref.ID, e.ID, e, w)
			}
		}
	}
	if n := b.carrier.Requests("GET /v2/events"); n < 4 {
		t.Errorf("%d requests for two polls with pages of 4 events, want several per poll", n)
	}

	// A container of the bill of lading: its own events, and those naming none.
	var container string
	for _, e := range demoEvents(t, b.clk, blRef) {
		if e.EquipmentReference != "" {
			container = e.EquipmentReference
			break
		}
	}
	got, err := b.client.Fetch(t.Context(), references.Reference{ID: "ref_c2", ContainerID: container, CarrierCode: "MAEU"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got.Events {
		if e.EquipmentReference != "" && e.EquipmentReference != container {
			t.Errorf("the container %s got an event of %s", container, e.EquipmentReference)
		}
	}

	// Every page matches the v2.2 spec, headers included.
	v22 := loadSpec(t, "TNT_v2.2.0-resolved.yaml")
	next := b.srv.URL + "/v2/events?transportDocumentReference=" + blRef.BillOfLading + "&limit=3"
	for pages := 0; next != ""; pages++ {
		resp, body := get(t, next, nil)
		v22.checkResponse(t, resp.Request, resp.StatusCode, resp.Header, body)
		next = ""
		if c := resp.Header.Get("Next-Page"); c != "" {
			next = b.srv.URL + "/v2/events?transportDocumentReference=" + blRef.BillOfLading + "&limit=3&cursor=" + c
		}
		if pages > 100 {
			t.Fatal("the pages do not end")
		}
	}
	resp, body := get(t, b.srv.URL+"/v2/events?equipmentReference="+strings.Repeat("X", 16), nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a container number of 16 characters: %d, want 400", resp.StatusCode)
	}
	v22.checkResponse(t, resp.Request, resp.StatusCode, resp.Header, body)
}

func get(t *testing.T, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestCarrier_PushesEveryNewEventOnceSignedWithTheSubscriptionSecret(t *testing.T) {
	b := setup(t, fakecarrier.Options{}, blRef, containerRef)
	r := newReceiver(t, http.StatusNoContent)
	sub, secret := b.subscribe(t, r, "/bl", blRef)
	b.subscribe(t, r, "/cn", containerRef)

	want := map[string]bool{}
	b.play(t, 90, 12*time.Hour, func(int) {
		for _, e := range demoEvents(t, b.clk, blRef) {
			want[e.ID] = true
		}
	})

	v22 := loadSpec(t, "TNT_v2.2.0-resolved.yaml")
	schema := v22.notificationSchema(t)
	got := r.received("/bl")
	for i, g := range got {
		if err := dcsa.VerifyNotificationRequest(g.Header, g.Body, sub.ID, [][]byte{secret}); err != nil {
			t.Fatalf("notification %d: %v", i, err)
		}
		if g.Header.Get("API-Version") == "" || g.Header.Get("Content-Type") != "application/json" {
			t.Errorf("notification %d: headers %v", i, g.Header)
		}
		if _, err := dcsa.ParseNotification(g.Body); err != nil {
			t.Errorf("notification %d: %v", i, err)
		}
		checkBody(t, "a notification", schema, g.Body)
	}
	pushed := pushedIDs(t, got)
	if len(pushed) != len(slices.Compact(slices.Sorted(slices.Values(pushed)))) {
		t.Errorf("an event was pushed twice without a fault")
	}
	if !slices.Equal(slices.Sorted(slices.Values(pushed)), slices.Sorted(maps.Keys(want))) {
		t.Errorf("pushed %d events, want the %d the voyage published", len(pushed), len(want))
	}
	st := b.carrier.Stats()
	if st.Sent != len(r.received("/bl"))+len(r.received("/cn")) || st.Accepted != st.Sent || st.Failed+st.Dropped+st.Duplicated+st.Reordered != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if len(r.received("/cn")) == 0 {
		t.Error("the container's subscription got nothing")
	}
	for _, id := range pushedIDs(t, r.received("/cn")) {
		if slices.Contains(pushed, id) {
			t.Errorf("event %s of the bill of lading went to the container's subscription", id)
		}
	}
}

func TestCarrier_SubscriptionByAContainerOfABillOfLadingGetsItsOwnEvents(t *testing.T) {
	b := setup(t, fakecarrier.Options{Bundle: 5}, blRef)
	b.clk.Advance(time.Hour)
	var container string
	for _, e := range demoEvents(t, b.clk, blRef) {
		if e.EquipmentReference != "" {
			container = e.EquipmentReference
		}
	}
	r := newReceiver(t, http.StatusNoContent)
	b.subscribe(t, r, "/c", references.Reference{ID: "ref_c", ContainerID: container})
	b.play(t, 60, 24*time.Hour, nil)
	got := r.received("/c")
	if len(got) == 0 {
		t.Fatal("no pushes")
	}
	for _, g := range got {
		events, err := dcsa.ParseNotification(g.Body)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) > 5 {
			t.Errorf("a push of %d events, over the bundle of 5", len(events))
		}
		for _, e := range events {
			if e.EquipmentReference != "" && e.EquipmentReference != container {
				t.Errorf("the subscription of %s got an event of %s", container, e.EquipmentReference)
			}
		}
	}
}

func TestCarrier_FaultsHappenAsConfiguredForTheirReferenceOnly(t *testing.T) {
	tests := []struct {
		name   string
		faults fakecarrier.Faults
		check  func(t *testing.T, b *bundle, planned []fakecarrier.Push, got []received, subID string, secrets [][]byte)
	}{
		{"drop", fakecarrier.Faults{Drop: 1}, func(t *testing.T, b *bundle, planned []fakecarrier.Push, got []received, _ string, _ [][]byte) {
			if len(got) != 0 || len(planned) == 0 || b.carrier.Stats().Dropped != len(planned) {
				t.Errorf("%d received of %d planned, Stats %+v; want every push dropped", len(got), len(planned), b.carrier.Stats())
			}
		}},
		{"duplicate", fakecarrier.Faults{Duplicate: 1}, func(t *testing.T, b *bundle, planned []fakecarrier.Push, got []received, _ string, _ [][]byte) {
			if len(got) != len(planned) || len(got)%2 != 0 {
				t.Fatalf("%d received, %d planned", len(got), len(planned))
			}
			for i := 0; i < len(got); i += 2 {
				if !bytes.Equal(got[i].Body, got[i+1].Body) || got[i].Header.Get("Notification-Signature") != got[i+1].Header.Get("Notification-Signature") || !planned[i+1].Duplicate {
					t.Fatalf("pushes %d and %d are not the same push twice", i, i+1)
				}
			}
		}},
		{"reorder", fakecarrier.Faults{Reorder: 1}, func(t *testing.T, b *bundle, planned []fakecarrier.Push, got []received, _ string, _ [][]byte) {
			// Within a Step, events are published in time order: a reordered push
			// arrives before an earlier event's.
			descending := 0
			var last time.Time
			for _, g := range got {
				events, err := dcsa.ParseNotification(g.Body)
				if err != nil || len(events) != 1 {
					t.Fatalf("%v, %d events", err, len(events))
				}
				if events[0].Time.Before(last) {
					descending++
				}
				last = events[0].Time
			}
			if descending == 0 || b.carrier.Stats().Reordered == 0 {
				t.Errorf("no push came out of order (Stats %+v)", b.carrier.Stats())
			}
			if len(got) > len(planned) {
				t.Errorf("%d received, %d planned", len(got), len(planned))
			}
		}},
		{"bad signature", fakecarrier.Faults{BadSignature: 1}, func(t *testing.T, b *bundle, planned []fakecarrier.Push, got []received, sub string, secrets [][]byte) {
			for _, g := range got {
				if err := dcsa.VerifyNotificationRequest(g.Header, g.Body, sub, secrets); !errors.Is(err, dcsa.ErrSignatureMismatch) {
					t.Fatalf("a push with a spoilt signature: %v", err)
				}
			}
			if len(got) == 0 || b.carrier.Stats().BadSigned != len(got) {
				t.Errorf("%d received, Stats %+v", len(got), b.carrier.Stats())
			}
		}},
		{"lose subscription", fakecarrier.Faults{LoseSubscription: 1}, func(t *testing.T, b *bundle, planned []fakecarrier.Push, got []received, sub string, _ [][]byte) {
			if len(got) != 0 {
				t.Errorf("%d pushes to a lost subscription", len(got))
			}
			if _, err := b.client.GetSubscription(t.Context(), sub); !errors.Is(err, dcsa.ErrSubscriptionNotFound) {
				t.Errorf("GetSubscription of a lost subscription: %v", err)
			}
			if lost := b.carrier.Lost(); len(lost) != 1 || lost[0].ID != sub {
				t.Errorf("Lost() = %+v", lost)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, fakecarrier.Options{Seed: 1}, blRef, containerRef)
			if err := b.carrier.SetFaults(blRef.BillOfLading, tc.faults); err != nil {
				t.Fatal(err)
			}
			r := newReceiver(t, http.StatusNoContent)
			sub, secret := b.subscribe(t, r, "/bl", blRef)
			clean, cleanSecret := b.subscribe(t, r, "/cn", containerRef)
			pushes := b.play(t, 30, 12*time.Hour, nil)
			var planned []fakecarrier.Push
			for _, p := range pushes {
				if p.Target == sub.ID {
					planned = append(planned, p)
				}
			}
			tc.check(t, b, planned, r.received("/bl"), sub.ID, [][]byte{secret})

			// The other reference's pushes are untouched.
			cn := r.received("/cn")
			if len(cn) == 0 {
				t.Fatal("the clean reference got no pushes")
			}
			for _, g := range cn {
				if err := dcsa.VerifyNotificationRequest(g.Header, g.Body, clean.ID, [][]byte{cleanSecret}); err != nil {
					t.Fatalf("the clean reference: %v", err)
				}
			}
			n := pushedIDs(t, cn)
			if len(n) != len(slices.Compact(slices.Sorted(slices.Values(n)))) {
				t.Error("the clean reference got a duplicate")
			}
		})
	}
}

func TestCarrier_SignsWithTheNewSecretAfterAnUpdateAndTheOldOneWhenStale(t *testing.T) {
	for _, stale := range []bool{false, true} {
		b := setup(t, fakecarrier.Options{}, blRef)
		if stale {
			b.carrier.SetFaults(blRef.BillOfLading, fakecarrier.Faults{StaleSecret: 1})
		}
		r := newReceiver(t, http.StatusNoContent)
		sub, old := b.subscribe(t, r, "/bl", blRef)
		b.play(t, 5, 12*time.Hour, nil)
		before := len(r.received("/bl"))
		for _, g := range r.received("/bl") {
			if err := dcsa.VerifyNotificationRequest(g.Header, g.Body, sub.ID, [][]byte{old}); err != nil {
				t.Fatalf("stale %v: before the update: %v", stale, err)
			}
		}
		fresh := dcsa.NewSecret()
		if err := b.client.UpdateSecret(t.Context(), sub.ID, fresh); err != nil {
			t.Fatal(err)
		}
		if s, _ := b.carrier.Subscription(sub.ID); !bytes.Equal(s.Secret, fresh) || s.SecretUpdates != 1 {
			t.Errorf("the carrier holds %+v after the update", s)
		}
		b.play(t, 30, 12*time.Hour, nil)
		after := r.received("/bl")[before:]
		if len(after) == 0 {
			t.Fatal("no pushes after the update")
		}
		for _, g := range after {
			errNew := dcsa.VerifyNotificationRequest(g.Header, g.Body, sub.ID, [][]byte{fresh})
			errOld := dcsa.VerifyNotificationRequest(g.Header, g.Body, sub.ID, [][]byte{old})
			if stale && (errOld != nil || errNew == nil) || !stale && (errNew != nil || errOld == nil) {
				t.Fatalf("stale %v: with the new secret %v, with the old %v", stale, errNew, errOld)
			}
			if err := dcsa.VerifyNotificationRequest(g.Header, g.Body, sub.ID, [][]byte{old, fresh}); err != nil {
				t.Fatalf("stale %v: during the grace of both secrets: %v", stale, err)
			}
		}
		if got := b.carrier.Stats().StaleSigned; (got > 0) != stale {
			t.Errorf("stale %v: StaleSigned = %d", stale, got)
		}
	}
}

func TestCarrier_ReplaysTheSameFaultsFromTheSameSeed(t *testing.T) {
	run := func(seed uint64) string {
		faults := fakecarrier.Faults{Drop: 0.3, Duplicate: 0.3, Reorder: 0.3, BadSignature: 0.2, LoseSubscription: 0.01}
		b := setup(t, fakecarrier.Options{Seed: seed, Faults: faults}, blRef, containerRef)
		r := newReceiver(t, http.StatusNoContent)
		b.subscribe(t, r, "/bl", blRef)
		b.subscribe(t, r, "/cn", containerRef)
		var log strings.Builder
		for _, p := range b.play(t, 40, 12*time.Hour, nil) {
			log.WriteString(strings.Join(p.EventIDs, ","))
			for _, f := range []bool{p.Dropped, p.Duplicate, p.Reordered, p.BadSignature} {
				if f {
					log.WriteString("+")
				} else {
					log.WriteString("-")
				}
			}
			log.WriteString("\n")
		}
		return log.String()
	}
	a, again, other := run(7), run(7), run(8)
	if a != again {
		t.Error("the same seed gave other faults")
	}
	if a == other {
		t.Error("another seed gave the same faults")
	}
	if !strings.Contains(a, "+") {
		t.Error("no fault at all at rates of 0.3")
	}
}

func TestCarrier_DeletedSubscriptionsAreRecordedAndGetNothingMore(t *testing.T) {
	b := setup(t, fakecarrier.Options{}, blRef)
	r := newReceiver(t, http.StatusNoContent)
	sub, _ := b.subscribe(t, r, "/bl", blRef)
	b.play(t, 3, 12*time.Hour, nil)
	n := len(r.received("/bl"))
	if err := b.client.DeleteSubscription(t.Context(), sub.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.client.DeleteSubscription(t.Context(), sub.ID); err != nil {
		t.Errorf("a second delete: %v", err)
	}
	b.play(t, 30, 12*time.Hour, nil)
	if len(r.received("/bl")) != n {
		t.Errorf("%d pushes after the delete", len(r.received("/bl"))-n)
	}
	if d := b.carrier.Deleted(); len(d) != 1 || d[0].ID != sub.ID || d[0].Identifier != blRef.BillOfLading || d[0].Kind != references.KindBillOfLading {
		t.Errorf("Deleted() = %+v", d)
	}
	if len(b.carrier.Subscriptions()) != 0 || b.carrier.Stats().Deleted != 1 {
		t.Errorf("after the delete: %+v, %+v", b.carrier.Subscriptions(), b.carrier.Stats())
	}
}

func TestCarrier_RecordsFailedPushes(t *testing.T) {
	b := setup(t, fakecarrier.Options{}, blRef)
	r := newReceiver(t, http.StatusUnauthorized)
	b.subscribe(t, r, "/bl", blRef)
	pushes := b.play(t, 5, 24*time.Hour, nil)
	if len(pushes) == 0 {
		t.Fatal("no pushes")
	}
	for _, p := range pushes {
		if p.Status != http.StatusUnauthorized || p.Accepted() {
			t.Errorf("a push answered 401 recorded as %d", p.Status)
		}
	}
	if st := b.carrier.Stats(); st.Failed != len(pushes) || st.Accepted != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestCarrier_SubscriptionOperationsAnswerAsTheSpecSays(t *testing.T) {
	b := setup(t, fakecarrier.Options{}, blRef)
	v22 := loadSpec(t, "TNT_v2.2.0-resolved.yaml")
	secret := base64.StdEncoding.EncodeToString(dcsa.NewSecret())
	short := base64.StdEncoding.EncodeToString(make([]byte, 32))
	do := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		check, _ := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
		v22.checkResponse(t, check, resp.StatusCode, resp.Header, answer)
		return resp.StatusCode, answer
	}
	status, body := do("POST", "/v2/event-subscriptions", `{"callbackUrl":"https://x.example/cb","secret":"`+secret+`","transportDocumentReference":"MAEU234567891","eventType":["TRANSPORT"]}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	var created struct {
		SubscriptionID string `json:"subscriptionID"`
		Secret         string `json:"secret"`
	}
	json.Unmarshal(body, &created)
	if created.SubscriptionID == "" || created.Secret != "" {
		t.Errorf("create answered %s: want an id and no secret", body)
	}
	id := created.SubscriptionID
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"no secret", "POST", "/v2/event-subscriptions", `{"callbackUrl":"https://x.example/cb"}`, 400},
		{"a secret of 32 bytes", "POST", "/v2/event-subscriptions", `{"callbackUrl":"https://x.example/cb","secret":"` + short + `"}`, 400},
		{"a secret not in base64", "POST", "/v2/event-subscriptions", `{"callbackUrl":"https://x.example/cb","secret":"!!"}`, 400},
		{"no callback", "POST", "/v2/event-subscriptions", `{"secret":"` + secret + `"}`, 400},
		{"a relative callback", "POST", "/v2/event-subscriptions", `{"callbackUrl":"/cb","secret":"` + secret + `"}`, 400},
		{"an id of its own", "POST", "/v2/event-subscriptions", `{"subscriptionID":"` + id + `","callbackUrl":"https://x.example/cb","secret":"` + secret + `"}`, 400},
		{"an unknown event type", "POST", "/v2/event-subscriptions", `{"callbackUrl":"https://x.example/cb","secret":"` + secret + `","eventType":["IOT"]}`, 400},
		{"not JSON", "POST", "/v2/event-subscriptions", `<`, 400},
		{"get", "GET", "/v2/event-subscriptions/" + id, ``, 200},
		{"get an unknown one", "GET", "/v2/event-subscriptions/00000000-0000-4000-8000-000000000000", ``, 404},
		{"list", "GET", "/v2/event-subscriptions", ``, 200},
		{"update", "PUT", "/v2/event-subscriptions/" + id, `{"subscriptionID":"` + id + `","callbackUrl":"https://y.example/cb"}`, 200},
		{"update with a secret", "PUT", "/v2/event-subscriptions/" + id, `{"subscriptionID":"` + id + `","callbackUrl":"https://y.example/cb","secret":"` + secret + `"}`, 400},
		{"update another id", "PUT", "/v2/event-subscriptions/" + id, `{"subscriptionID":"00000000-0000-4000-8000-000000000000","callbackUrl":"https://y.example/cb"}`, 400},
		{"a new secret", "PUT", "/v2/event-subscriptions/" + id + "/secret", `{"secret":"` + secret + `"}`, 204},
		{"a new secret too short", "PUT", "/v2/event-subscriptions/" + id + "/secret", `{"secret":"` + short + `"}`, 400},
		{"a new secret for an unknown one", "PUT", "/v2/event-subscriptions/00000000-0000-4000-8000-000000000000/secret", `{"secret":"` + secret + `"}`, 404},
		{"delete", "DELETE", "/v2/event-subscriptions/" + id, ``, 204},
		{"delete again", "DELETE", "/v2/event-subscriptions/" + id, ``, 404},
	}
	for _, tc := range tests {
		if status, body := do(tc.method, tc.path, tc.body); status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.want)
		}
	}
	if s := b.carrier.Deleted(); len(s) != 1 || s[0].CallbackURL != "https://y.example/cb" || !slices.Equal(s[0].EventTypes, nil) {
		t.Errorf("Deleted() = %+v, want the updated subscription", s)
	}
}

func TestCarrier_RefusesRequestsWithoutTheConfiguredAuth(t *testing.T) {
	b := setup(t, fakecarrier.Options{Auth: http.Header{"Api-Key": {"s3cr3t-key"}}}, blRef)
	for _, path := range []string{"/v2/events?transportDocumentReference=MAEU234567891", "/v2/event-subscriptions", "/events"} {
		if resp, _ := get(t, b.srv.URL+path, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without the key: %d, want 401", path, resp.StatusCode)
		}
		if resp, _ := get(t, b.srv.URL+path, http.Header{"Api-Key": {"s3cr3t-key"}}); resp.StatusCode != http.StatusOK {
			t.Errorf("%s with the key: %d, want 200", path, resp.StatusCode)
		}
	}
	if _, err := b.client.Fetch(t.Context(), blRef); err != nil {
		t.Errorf("the DCSA client with the key: %v", err)
	}
}

func TestCarrier_RunStepsOnTheClockTimers(t *testing.T) {
	b := setup(t, fakecarrier.Options{}, blRef)
	r := newReceiver(t, http.StatusNoContent)
	b.subscribe(t, r, "/bl", blRef)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { done <- b.carrier.Run(ctx, time.Hour) }()
	// Move the clock whenever Run waits on it, until a Step has pushed something.
	for b.carrier.Stats().Sent == 0 {
		if b.clk.Timers() > 0 {
			b.clk.Advance(time.Hour)
		}
		select {
		case <-t.Context().Done():
			t.Fatal("no push")
		default:
			runtime.Gosched()
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if len(r.received("/bl")) == 0 {
		t.Error("Run pushed nothing")
	}
}

func TestCarrier_AContainersFaultsWinForItsSubscription(t *testing.T) {
	b := setup(t, fakecarrier.Options{}, blRef)
	b.clk.Advance(time.Hour)
	var container string
	for _, e := range demoEvents(t, b.clk, blRef) {
		if e.EquipmentReference != "" {
			container = e.EquipmentReference
		}
	}
	if err := b.carrier.SetFaults(container, fakecarrier.Faults{Drop: 1}); err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t, http.StatusNoContent)
	b.subscribe(t, r, "/bl", blRef)
	b.subscribe(t, r, "/c", references.Reference{ID: "ref_c", ContainerID: container})
	b.play(t, 40, 24*time.Hour, nil)
	if len(r.received("/c")) != 0 || len(r.received("/bl")) == 0 {
		t.Errorf("container %d pushes, bill of lading %d: want the container's all dropped, the bill's all sent",
			len(r.received("/c")), len(r.received("/bl")))
	}
}

func TestCarrier_RefusesBadSetup(t *testing.T) {
	if _, err := fakecarrier.New(fakecarrier.Options{Faults: fakecarrier.Faults{Drop: 1.5}}); err == nil {
		t.Error("a probability of 1.5 was taken")
	}
	b := setup(t, fakecarrier.Options{}, blRef)
	if err := b.carrier.AddShipment(references.Reference{ID: "x", BillOfLading: strings.ToLower(blRef.BillOfLading)}); err == nil {
		t.Error("the same bill of lading was taken twice")
	}
	if err := b.carrier.AddShipment(references.Reference{ID: "x"}); err == nil {
		t.Error("a reference without an identifier was taken")
	}
	if err := b.carrier.SetFaults("X", fakecarrier.Faults{Reorder: -0.1}); err == nil {
		t.Error("a negative probability was taken")
	}
	if _, err := b.carrier.Inject("UNKNOWN", references.Event{}); err == nil {
		t.Error("an event was injected into an unknown shipment")
	}
	if b.carrier.Retract("UNKNOWN", "e") || b.carrier.LoseSubscription("nope") {
		t.Error("Retract or LoseSubscription of unknown things reported success")
	}
	if err := b.carrier.Run(t.Context(), 0); err == nil {
		t.Error("Run with no interval")
	}
}
