package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
)

// TestSecurity_EndpointIsolationOnEveryRoute gives account B endpoints with messages,
// and has account A try every endpoint route on them: each answer is a 404 that A
// cannot tell from the one for an endpoint (or message) that does not exist, A's
// lists and operational feed show nothing of B's, B's view of its endpoints is
// unchanged and no resend of B's is queued. Every route of the feature refuses a
// request without a key with 401. No secret appears in an answer it does not belong
// to, nor in the API's log.
func TestSecurity_EndpointIsolationOnEveryRoute(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	secretA, keyA, _ := newAccount(t, db, "acct_a", false)
	secretB, keyB, _ := newAccount(t, db, "acct_b", false)
	// The many 401s below would soon be 429s from the limit on failed
	// authentications, which is not what this test is about.
	a := newAPIServer(t, db, references.ServiceOptions{}, api.Options{RateLimit: rate.Inf, RotationLimit: rate.Inf, AuthFailureLimit: rate.Inf})

	// B: a standard and a batch endpoint, a reference with three updates, so three
	// messages each.
	epB, epSecretB := a.createEndpoint(t, keyB, map[string]any{"url": "https://hooks.b.example/all", "description": "B's"})
	epB2, epSecretB2 := a.createEndpoint(t, keyB, map[string]any{"url": "https://hooks.b.example/batch", "format": "batch", "batch_size": 2, "headers": "svix"})
	refB := a.create(t, keyB, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU", "metadata": map[string]string{"team": "b"}})
	// A: one endpoint and a reference of its own, with messages.
	epA, epSecretA := a.createEndpoint(t, keyA, map[string]any{"url": "https://hooks.a.example/all"})
	refA := a.create(t, keyA, map[string]any{"container_id": "TGHU1234567", "carrier_code": "MSCU"})
	for n := range 3 {
		for _, ref := range []string{refB, refA} {
			if err := appendUpdate(ctx, db, ref, n+1); err != nil {
				t.Fatal(err)
			}
		}
	}
	msgB, msgA := a.messageIDs(t, keyB, epB.ID)[0], a.messageIDs(t, keyA, epA.ID)[0]
	secrets := secretNames(keyA, map[string]string{
		"B's API key": keyB, "A's webhook secret": secretA, "B's webhook secret": secretB,
		"B's endpoint secret": epSecretB, "B's batch endpoint secret": epSecretB2, "A's endpoint secret": epSecretA,
	})
	bSecrets := map[string]string{
		"B's API key": keyB, "B's webhook secret": secretB, "B's endpoint secret": epSecretB, "B's batch endpoint secret": epSecretB2,
	}
	beforeB := a.endpointsView(t, keyB)
	recent := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)

	tried := 0
	missingEP, missingMsg := references.NewID("ep_"), references.NewID("upd_")
	same := func(got, ghost response, gotIDs, ghostIDs []string) bool {
		g, h := string(got.body), string(ghost.body)
		for i := range gotIDs {
			g, h = strings.ReplaceAll(g, gotIDs[i], "ID"), strings.ReplaceAll(h, ghostIDs[i], "ID")
		}
		return got.status == ghost.status && g == h
	}
	for _, r := range endpointRoutes(recent) {
		for _, target := range []struct {
			name          string
			ep, msg       string
			ghostEP, gMsg string // what the answer must look like: a missing endpoint or message
			ofMessage     bool   // only for the routes of one message
		}{
			{"B's endpoint", epB.ID, msgB, missingEP, missingMsg, false},
			{"B's batch endpoint", epB2.ID, msgB, missingEP, missingMsg, false},
			{"B's endpoint with A's message", epB.ID, msgA, missingEP, msgA, true},
			{"A's endpoint with B's message", epA.ID, msgB, epA.ID, missingMsg, true},
		} {
			if target.ofMessage && !strings.Contains(r.pattern, "%[2]s") {
				continue
			}
			tried++
			got := a.mustCall(t, keyA, r.method, r.path(target.ep, target.msg), r.bodyOrNil())
			ghost := a.mustCall(t, keyA, r.method, r.path(target.ghostEP, target.gMsg), r.bodyOrNil())
			if got.status != http.StatusNotFound || got.errorCode() != references.CodeNotFound {
				t.Errorf("A: %s %s on %s: %d %s, want 404 not_found", r.method, r.pattern, target.name, got.status, got.body)
			}
			if !same(got, ghost, []string{target.ep, target.msg}, []string{target.ghostEP, target.gMsg}) {
				t.Errorf("A can tell %s from a missing one on %s %s:\n%d %s\n%d %s", target.name, r.method, r.pattern, got.status, got.body, ghost.status, ghost.body)
			}
			assertNoSecrets(t, fmt.Sprintf("A's answer on %s %s", r.method, r.pattern), string(got.body), bSecrets)
		}
	}

	// Lists and the operational feed: no page size or cursor shows A anything of B's,
	// not even B's own cursors.
	var cursorB, msgCursorB string
	{
		var page api.EndpointPage
		_ = json.Unmarshal(a.mustCall(t, keyB, http.MethodGet, "/endpoints?limit=1", nil).body, &page)
		cursorB = page.NextCursor
		var msgs api.MessagePage
		_ = json.Unmarshal(a.mustCall(t, keyB, http.MethodGet, "/endpoints/"+epB.ID+"/messages?limit=1", nil).body, &msgs)
		msgCursorB = msgs.NextCursor
	}
	if cursorB == "" || msgCursorB == "" {
		t.Fatalf("B's lists have no second page: cursors %q %q", cursorB, msgCursorB)
	}
	for _, p := range []string{
		"/endpoints", "/endpoints?limit=1", "/endpoints?limit=500", "/endpoints?cursor=" + url.QueryEscape(cursorB),
		"/endpoints/" + epA.ID + "/messages?limit=500", "/endpoints/" + epA.ID + "/messages?cursor=" + url.QueryEscape(msgCursorB),
		"/account/events", "/account/events?after=0&limit=500", "/event-types",
	} {
		tried++
		r := a.mustCall(t, keyA, http.MethodGet, p, nil)
		if r.status != http.StatusOK && r.status != http.StatusUnprocessableEntity {
			t.Errorf("A: GET %s: %d %s", p, r.status, r.body)
		}
		for _, id := range []string{epB.ID, epB2.ID, refB, msgB, "acct_b", "hooks.b.example"} {
			if strings.Contains(string(r.body), id) {
				t.Errorf("A: GET %s shows %s of B's", p, id)
			}
		}
		assertNoSecrets(t, "A's answer on GET "+p, string(r.body), secrets)
	}

	// Without a key, every route of the feature is a 401, for B's endpoint as for
	// one that does not exist.
	for _, r := range endpointRoutes(recent) {
		for _, ep := range []string{epB.ID, missingEP} {
			tried++
			got, err := a.call("", r.method, r.path(ep, msgB), bodyReader(r.body))
			if err != nil || got.status != http.StatusUnauthorized || got.errorCode() != references.CodeUnauthorized {
				t.Errorf("no key: %s %s: %d %s %v", r.method, r.path(ep, msgB), got.status, got.body, err)
			}
		}
	}
	for _, r := range accountRoutes {
		tried++
		got, err := a.call("", r.method, r.pattern, bodyReader(r.body))
		if err != nil || got.status != http.StatusUnauthorized {
			t.Errorf("no key: %s %s: %d %s %v", r.method, r.pattern, got.status, got.body, err)
		}
	}

	// A's own endpoint answers A as before: the 404s above were not A's key failing.
	if r := a.mustCall(t, keyA, http.MethodGet, "/endpoints/"+epA.ID+"/messages/"+msgA, nil); r.status != http.StatusOK {
		t.Errorf("A's own message: %d %s", r.status, r.body)
	}
	if after := a.endpointsView(t, keyB); after != beforeB {
		t.Errorf("B's endpoints changed while A tried:\nbefore:\n%s\nafter:\n%s", beforeB, after)
	}
	claims, err := db.ClaimDueDeliveries(ctx, testOwner, 100, time.Minute)
	for _, c := range claims {
		if c.Job.Redelivery {
			t.Errorf("a resend was queued by A's attempts: %s", c.Lease.Key)
		}
		if err := db.ReleaseLease(ctx, c.Lease); err != nil {
			t.Error(err)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	// The secrets stay where they belong: in the log of nothing.
	assertNoSecrets(t, "the API's log", a.logs.String(), secrets)
	t.Logf("endpoint isolation: %d cross-account and keyless requests, none served; B's endpoints unchanged", tried)
}

// TestSecurity_EndpointSecretsOnlyOnTheSecretRoutes creates, changes, lists and
// rotates endpoints and checks that a secret is in the answers of the two secret
// routes only (an endpoint shows a four-character hint), never in the API's log, and
// that a rotation with grace 0 replaces it while one with grace keeps the old one.
func TestSecurity_EndpointSecretsOnlyOnTheSecretRoutes(t *testing.T) {
	db := openStore(t)
	_, key, _ := newAccount(t, db, "acct_s", false)
	a := newAPIServer(t, db, references.ServiceOptions{}, api.Options{RateLimit: rate.Inf, RotationLimit: rate.Inf})
	var answers strings.Builder
	call := func(method, path string, body any) response {
		r := a.mustCall(t, key, method, path, body)
		if r.status >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
		}
		fmt.Fprintf(&answers, "%s %s %s\n", method, path, r.body)
		return r
	}
	var ep api.Endpoint
	_ = json.Unmarshal(call(http.MethodPost, "/endpoints", map[string]any{"url": "https://hooks.example.com/s", "headers": "svix"}).body, &ep)
	first := a.endpointSecret(t, key, ep.ID)
	call(http.MethodPatch, "/endpoints/"+ep.ID, map[string]any{"description": "changed", "format": "batch"})
	var rotated struct {
		Secret  string              `json:"secret"`
		Secrets []api.WebhookSecret `json:"secrets"`
	}
	if err := json.Unmarshal(a.mustCall(t, key, http.MethodPost, "/endpoints/"+ep.ID+"/secret/rotate", map[string]any{"grace_seconds": 60}).body, &rotated); err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == first || len(rotated.Secrets) != 2 || rotated.Secrets[1].Secret != first || rotated.Secrets[1].ExpiresAt == nil {
		t.Errorf("rotation with grace: %+v, want the new secret and the first until it expires", rotated)
	}
	second := rotated.Secret
	if err := json.Unmarshal(a.mustCall(t, key, http.MethodPost, "/endpoints/"+ep.ID+"/secret/rotate", map[string]any{"grace_seconds": 0}).body, &rotated); err != nil {
		t.Fatal(err)
	}
	third := rotated.Secret
	if len(rotated.Secrets) != 2 || rotated.Secrets[1].Secret != first || third == second {
		// grace 0 replaces the one it rotates at once; the first keeps its grace.
		t.Errorf("rotation with grace 0: %+v", rotated)
	}
	r := call(http.MethodGet, "/endpoints/"+ep.ID, nil)
	var got api.Endpoint
	if err := json.Unmarshal(r.body, &got); err != nil || got.SecretHint != "whsec_…"+third[len(third)-4:] {
		t.Errorf("secret hint %q, want the last 4 characters of the newest secret", got.SecretHint)
	}
	call(http.MethodGet, "/endpoints", nil)
	call(http.MethodGet, "/endpoints?limit=1", nil)
	call(http.MethodGet, "/endpoints/"+ep.ID+"/messages", nil)
	call(http.MethodGet, "/endpoints/"+ep.ID+"/stats", nil)
	call(http.MethodPatch, "/endpoints/"+ep.ID, map[string]any{"enabled": false})
	secrets := secretNames(key, map[string]string{"first endpoint secret": first, "second endpoint secret": second, "third endpoint secret": third})
	assertNoSecrets(t, "the answers of routes other than the secret ones", answers.String(), secrets)
	assertNoSecrets(t, "the API's log", a.logs.String(), secrets)
}

// TestSecurity_EndpointURLSSRF refuses endpoint URLs that resolve to private,
// loopback, link-local or otherwise internal addresses (through a DNS server on
// loopback), on create and on change, with 422 naming the url; nothing of them is
// stored. An endpoint whose URL reached the store anyway (made while private
// destinations were allowed) gets no test event: the sender's dialer refuses it.
func TestSecurity_EndpointURLSSRF(t *testing.T) {
	dns := startDNS(t, map[string][]netip.Addr{
		"public.test.":    {netip.MustParseAddr("93.184.215.14")},
		"loopback.test.":  {netip.MustParseAddr("127.0.0.1")},
		"private10.test.": {netip.MustParseAddr("10.0.0.5")},
		"metadata.test.":  {netip.MustParseAddr("169.254.169.254")},
		"v6loop.test.":    {netip.MustParseAddr("::1")},
		"v6ula.test.":     {netip.MustParseAddr("fd00::1")},
		"mapped.test.":    {netip.MustParseAddr("::ffff:127.0.0.1")},
		"mixed.test.":     {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.1")},
	})
	check := func(ctx context.Context, raw string) error {
		return notifier.CheckCallbackURL(ctx, dns.resolver(), raw)
	}
	forbidden := []string{
		"https://loopback.test/", "https://private10.test/", "https://metadata.test/latest/meta-data/", "https://v6loop.test/",
		"https://v6ula.test/", "https://mapped.test/", "https://mixed.test/", "https://127.0.0.1/", "https://127.0.0.1:8080/admin",
		"https://[::1]/", "https://[::ffff:127.0.0.1]/", "https://169.254.169.254/latest/meta-data/", "https://2130706433/",
		"https://0x7f000001/", "https://127.1/", "https://0/", "https://localhost/", "https://api.localhost/", "https://[fe80::1%25eth0]/",
	}

	db := openStore(t)
	_, key, _ := newAccount(t, db, "acct_s", false)
	sender := notifier.NewSender(notifier.SenderOptions{Timeout: 2 * time.Second})
	tester := notifier.New(db, sender, notifier.Options{})
	a := newAPIServer(t, db, references.ServiceOptions{CheckCallback: check, TestEndpoint: tester.TestEndpoint}, api.Options{RateLimit: rate.Inf})
	ep, _ := a.createEndpoint(t, key, map[string]any{"url": "https://public.test/hooks"})
	refused := 0
	for _, u := range forbidden {
		r := a.mustCall(t, key, http.MethodPost, "/endpoints", map[string]any{"url": u})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `"field":"url"`) {
			t.Errorf("create with url %s: %d %s", u, r.status, r.body)
		}
		r = a.mustCall(t, key, http.MethodPatch, "/endpoints/"+ep.ID, map[string]any{"url": u})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `"field":"url"`) {
			t.Errorf("change url to %s: %d %s", u, r.status, r.body)
		}
		refused += 2
	}
	var page api.EndpointPage
	if err := json.Unmarshal(a.mustCall(t, key, http.MethodGet, "/endpoints?limit=500", nil).body, &page); err != nil ||
		len(page.Endpoints) != 1 || page.Endpoints[0].URL != "https://public.test/hooks" {
		t.Errorf("endpoints after the refused creates and changes: %+v %v", page.Endpoints, err)
	}

	// An endpoint made while private destinations were allowed (an API without the
	// check over the same store): its test event is refused when dialling.
	var hits atomic.Int64
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(inside.Close)
	lax := newAPIServer(t, db, references.ServiceOptions{AllowInsecureCallbacks: true}, api.Options{RateLimit: rate.Inf})
	inner, _ := lax.createEndpoint(t, key, map[string]any{"url": inside.URL + "/steal"})
	r := a.mustCall(t, key, http.MethodPost, "/endpoints/"+inner.ID+"/test", nil)
	var res api.TestResult
	if err := json.Unmarshal(r.body, &res); r.status != http.StatusOK || err != nil ||
		res.Outcome != references.OutcomeFailed || res.StatusCode != 0 || !strings.Contains(res.Error, "forbidden") {
		t.Errorf("test event to %s: %d %s", inside.URL, r.status, r.body)
	}
	if hits.Load() != 0 {
		t.Errorf("the private receiver got %d requests", hits.Load())
	}
	t.Logf("endpoint SSRF: %d creates and changes refused, the test event's dial refused", refused)
}
