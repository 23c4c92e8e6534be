package reliability_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// TestSecurity_AccountIsolationOnEveryRoute gives account B references with feeds,
// delivery logs and a callback, and has account A try every route on them: A reads,
// changes, unsubscribes and redelivers nothing of B's, sees none of B's references in
// any list, cannot tell B's reference from one that does not exist, and leaves B's
// state exactly as it was.
func TestSecurity_AccountIsolationOnEveryRoute(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	secretA, keyA, _ := newAccount(t, db, "acct_a", false)
	secretB, keyB, _ := newAccount(t, db, "acct_b", false)
	a := newAPIServer(t, db, references.ServiceOptions{}, api.Options{RateLimit: rate.Inf})

	// B: two references with a callback and one pull feed, three updates each, and a
	// delivery logged.
	var refsB []string
	for i, body := range []map[string]any{
		{"container_id": "MSCU1234566", "carrier_code": "MSCU", "callback_url": "https://hooks.b.example/1"},
		{"booking_number": "BOOKB0001", "carrier_code": "MAEU", "callback_url": "https://hooks.b.example/2"},
		{"bill_of_lading": "BLB0000001", "carrier_code": "HLCU"},
	} {
		id := a.create(t, keyB, body)
		refsB = append(refsB, id)
		for n := range 3 {
			if err := appendUpdate(ctx, db, id, n+1); err != nil {
				t.Fatal(err)
			}
		}
		if i < 2 {
			claim, err := db.ClaimDelivery(ctx, testOwner, id, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			job := claim.Job
			if _, err := db.RecordAttempt(ctx, claim.Lease, job, references.DeliveryAttempt{
				ReferenceID: id, UpdateID: job.Update.ID, Sequence: job.Update.Sequence, Attempt: 1, URL: job.Reference.CallbackURL,
				At: time.Now().UTC(), StatusCode: 200, Outcome: references.OutcomeDelivered,
			}, ""); err != nil {
				t.Fatal(err)
			}
			if err := db.ReleaseLease(ctx, claim.Lease); err != nil {
				t.Fatal(err)
			}
		}
	}
	refA := a.create(t, keyA, map[string]any{"container_id": "TGHU1234567", "carrier_code": "MSCU", "callback_url": "https://hooks.a.example/"})
	if err := appendUpdate(ctx, db, refA, 1); err != nil {
		t.Fatal(err)
	}
	viewOfB := func() string { // B's whole state as B sees it
		var sb strings.Builder
		for _, id := range refsB {
			for _, p := range []string{"/references/" + id, "/references/" + id + "/updates", "/references/" + id + "/deliveries"} {
				r := a.mustCall(t, keyB, http.MethodGet, p, nil)
				fmt.Fprintf(&sb, "%s %d %s\n", p, r.status, r.body)
			}
		}
		r := a.mustCall(t, keyB, http.MethodGet, "/account/webhook-secret", nil)
		fmt.Fprintf(&sb, "secret %d %s\n", r.status, r.body)
		return sb.String()
	}
	before := viewOfB()
	firstUpdateOf := func(key, refID string) string {
		var page api.UpdatePage
		_ = json.Unmarshal(a.mustCall(t, key, http.MethodGet, "/references/"+refID+"/updates", nil).body, &page)
		return page.Updates[0].ID
	}
	updB := firstUpdateOf(keyB, refsB[0])

	tried := 0
	// A's attempt on B's reference must look exactly like one on a reference that does
	// not exist.
	missing := references.NewID("ref_")
	for _, id := range refsB {
		for _, c := range []struct {
			method, path, body string
		}{
			{http.MethodGet, "/references/%s", ""},
			{http.MethodGet, "/references/%s/updates?after=0&limit=500", ""},
			{http.MethodGet, "/references/%s/deliveries?limit=500", ""},
			{http.MethodPatch, "/references/%s", `{"callback_url":"https://evil.example/steal"}`},
			{http.MethodPatch, "/references/%s", `{"event_types":["tracking.failed"]}`},
			{http.MethodPatch, "/references/%s", `{"callback_url":""}`},
			{http.MethodDelete, "/references/%s", ""},
			{http.MethodPost, "/references/%s/updates/" + updB + "/redeliver", ""},
		} {
			tried++
			var body any
			if c.body != "" {
				body = json.RawMessage(c.body)
			}
			got := a.mustCall(t, keyA, c.method, fmt.Sprintf(c.path, id), body)
			ghost := a.mustCall(t, keyA, c.method, fmt.Sprintf(c.path, missing), body)
			if got.status != http.StatusNotFound || got.errorCode() != references.CodeNotFound {
				t.Errorf("A: %s %s on B's reference: %d %s", c.method, c.path, got.status, got.body)
			}
			if strings.ReplaceAll(string(got.body), id, "ID") != strings.ReplaceAll(string(ghost.body), missing, "ID") {
				t.Errorf("A can tell B's reference from a missing one on %s %s:\n%s\n%s", c.method, c.path, got.body, ghost.body)
			}
		}
	}
	// B's update id through A's own reference.
	tried++
	if r := a.mustCall(t, keyA, http.MethodPost, "/references/"+refA+"/updates/"+updB+"/redeliver", nil); r.status != http.StatusNotFound {
		t.Errorf("A redelivering B's update through its own reference: %d %s", r.status, r.body)
	}

	// Lists: no status, cursor or page size shows A anything of B's, not even B's cursor.
	var cursorB string
	{
		var page api.ReferencePage
		_ = json.Unmarshal(a.mustCall(t, keyB, http.MethodGet, "/references?limit=1", nil).body, &page)
		cursorB = page.NextCursor
	}
	for _, q := range []string{"", "?status=active", "?status=unsubscribed", "?limit=1", "?limit=500", "?cursor=" + url.QueryEscape(cursorB)} {
		tried++
		r := a.mustCall(t, keyA, http.MethodGet, "/references"+q, nil)
		for _, id := range refsB {
			if strings.Contains(string(r.body), id) {
				t.Errorf("A's list %q shows B's reference %s", q, id)
			}
		}
		if strings.Contains(string(r.body), "acct_b") {
			t.Errorf("A's list %q mentions account B", q)
		}
	}

	// Creating what B tracks, with B's Idempotency-Key, makes A's own reference.
	tried++
	r := a.mustCall(t, keyA, http.MethodPost, "/references", map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU"}, "Idempotency-Key", "shared-key")
	if r.status != http.StatusCreated || strings.Contains(string(r.body), refsB[0]) {
		t.Errorf("A tracking what B tracks: %d %s", r.status, r.body)
	}
	a.mustCall(t, keyB, http.MethodPost, "/references", map[string]any{"container_id": "CSQU3054383", "carrier_code": "MSCU"}, "Idempotency-Key", "same-idem")
	tried++
	r = a.mustCall(t, keyA, http.MethodPost, "/references", map[string]any{"container_id": "CSQU3054383", "carrier_code": "MSCU"}, "Idempotency-Key", "same-idem")
	if r.status != http.StatusCreated || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("A reusing B's Idempotency-Key: %d replayed=%q %s", r.status, r.header.Get("Idempotent-Replayed"), r.body)
	}

	// A batch of what B tracks, under B's Idempotency-Key, creates A's own references
	// and names none of B's.
	a.mustCall(t, keyB, http.MethodPost, "/references/batch", map[string]any{"references": []any{map[string]any{"booking_number": "BKB00001", "carrier_code": "MAEU"}}}, "Idempotency-Key", "batch-idem")
	tried++
	r = a.mustCall(t, keyA, http.MethodPost, "/references/batch", map[string]any{"references": []any{
		map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU"}, // A's own since above: a 409 naming A's
		map[string]any{"booking_number": "BKB00001", "carrier_code": "MAEU"},
	}}, "Idempotency-Key", "batch-idem")
	if r.status != http.StatusOK || r.header.Get("Idempotent-Replayed") != "" || strings.Count(string(r.body), `"status":201`) != 1 || strings.Contains(string(r.body), "acct_b") {
		t.Errorf("A's batch of what B tracks: %d replayed=%q %s", r.status, r.header.Get("Idempotent-Replayed"), r.body)
	}
	for _, id := range refsB {
		if strings.Contains(string(r.body), id) {
			t.Errorf("A's batch names B's reference %s", id)
		}
	}

	// Secrets: A sees and rotates only its own.
	tried += 2
	r = a.mustCall(t, keyA, http.MethodGet, "/account/webhook-secret", nil)
	if !strings.Contains(string(r.body), secretA) || strings.Contains(string(r.body), secretB) {
		t.Errorf("A's webhook secret answer: %s", r.body)
	}
	if r = a.mustCall(t, keyA, http.MethodPost, "/account/webhook-secret/rotate", nil); r.status != http.StatusOK || strings.Contains(string(r.body), secretB) {
		t.Errorf("A rotating: %d %s", r.status, r.body)
	}
	tried++
	if r = a.mustCall(t, keyA, http.MethodGet, "/admin/backup", nil); r.status != http.StatusForbidden && r.status != http.StatusNotFound {
		t.Errorf("a plain key on /admin/backup: %d", r.status)
	}

	if after := viewOfB(); after != before {
		t.Errorf("B's state changed while A tried:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	claims, err := db.ClaimDueDeliveries(ctx, testOwner, 100, time.Minute)
	var queued []references.DeliveryJob
	for _, c := range claims {
		if c.Job.Redelivery {
			queued = append(queued, c.Job)
		}
		if err := db.ReleaseLease(ctx, c.Lease); err != nil {
			t.Error(err)
		}
	}
	if err != nil || len(queued) != 0 {
		t.Errorf("redeliveries queued after A's attempts: %d %v", len(queued), err)
	}
	t.Logf("isolation: %d cross-account requests, none served; B's state unchanged", tried)
}

// TestSecurity_RevokedKeyStopsWorkingAtOnce revokes a key in the store while the API
// runs: the very next request with it is refused, the account's other key still works.
func TestSecurity_RevokedKeyStopsWorkingAtOnce(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	_, key, stored := newAccount(t, db, "acct_r", false)
	other, storedOther := references.NewAPIKey("acct_r", []references.Scope{references.ScopeWrite}, time.Now())
	if err := db.CreateAPIKey(ctx, storedOther); err != nil {
		t.Fatal(err)
	}
	// The revoked key's many 401s would soon be 429s from the limit on failed
	// authentications, which is not what this test is about.
	a := newAPIServer(t, db, references.ServiceOptions{}, api.Options{RateLimit: rate.Inf, AuthFailureLimit: rate.Inf})
	a.create(t, key, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU"})

	// Requests keep coming on a busy connection pool while the key is revoked.
	var stop atomic.Bool
	var afterRevoke atomic.Int64
	var okAfterRevoke atomic.Int64
	var revokedAt atomic.Pointer[time.Time]
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			sent := time.Now()
			r, err := a.call(key, http.MethodGet, "/references", nil)
			if err != nil {
				continue
			}
			if at := revokedAt.Load(); at != nil && sent.After(*at) {
				afterRevoke.Add(1)
				if r.status != http.StatusUnauthorized {
					okAfterRevoke.Add(1)
				}
			}
		}
	}()
	if r := a.mustCall(t, key, http.MethodGet, "/references", nil); r.status != http.StatusOK {
		t.Fatalf("the key before revocation: %d", r.status)
	}
	if _, err := db.RevokeAPIKey(ctx, references.KeyRevocation{Key: stored.ID, Actor: references.ActorCLI, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	revokedAt.Store(&now)
	for range 50 {
		if r := a.mustCall(t, key, http.MethodGet, "/references", nil); r.status != http.StatusUnauthorized || r.errorCode() != references.CodeUnauthorized {
			t.Fatalf("the revoked key: %d %s", r.status, r.body)
		}
	}
	eventually(t, 10*time.Second, "requests racing the revocation", func() (bool, string) {
		return afterRevoke.Load() >= 20, fmt.Sprint(afterRevoke.Load())
	})
	stop.Store(true)
	<-done
	if n := okAfterRevoke.Load(); n != 0 {
		t.Errorf("%d requests sent after the revocation were served", n)
	}
	for _, p := range []string{"/references", "/account/webhook-secret", "/references/ref_x/updates"} {
		if r := a.mustCall(t, key, http.MethodGet, p, nil); r.status != http.StatusUnauthorized {
			t.Errorf("revoked key on %s: %d", p, r.status)
		}
	}
	if r := a.mustCall(t, other, http.MethodGet, "/references", nil); r.status != http.StatusOK {
		t.Errorf("the account's other key after the revocation: %d %s", r.status, r.body)
	}
	t.Logf("revocation: 50 sequential and %d concurrent requests after it, all 401", afterRevoke.Load())
}

// TestSecurity_SecretsStayOutOfLogsAndErrorBodies runs the API, the poller and the
// notifier over one store, all logging at debug level into one buffer, through a day
// of ordinary and failing work: creates, polls, deliveries that fail and succeed, a
// receiver that answers 410, bad keys, a revoked key, a secret rotation, and finally
// internal errors from a closed store. No API key, key hash or webhook secret may
// appear in any log line or error body.
func TestSecurity_SecretsStayOutOfLogsAndErrorBodies(t *testing.T) {
	ctx := context.Background()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	path := t.TempDir() + "/trackhook.db"
	db, err := store.Open(path, store.Options{NoSync: true, Logger: logger.With("component", "store")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	secretA, keyA, _ := newAccount(t, db, "acct_a", true)
	secretB, keyB, _ := newAccount(t, db, "acct_b", false)
	revoked, storedRevoked := references.NewAPIKey("acct_a", []references.Scope{references.ScopeWrite}, time.Now())
	if err := db.CreateAPIKey(ctx, storedRevoked); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeAPIKey(ctx, references.KeyRevocation{Key: storedRevoked.ID, Actor: references.ActorCLI, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	almost := keyA[:len(keyA)-1] + "A" // a typo of A's key
	if almost == keyA {
		almost = keyA[:len(keyA)-1] + "B"
	}

	failing := atomic.Int64{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/gone"):
			w.WriteHeader(http.StatusGone)
		case failing.Add(1) <= 6:
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error":"receiver trouble"}`)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(rcv.Close)

	a := newAPIServer(t, db, references.ServiceOptions{AllowInsecureCallbacks: true, MinPollInterval: time.Second},
		api.Options{RateLimit: rate.Inf, Backup: db, Logger: logger.With("component", "api")})
	n := notifier.New(db, notifier.NewSender(notifier.SenderOptions{Timeout: 2 * time.Second, AllowPrivate: true}), notifier.Options{
		ScanEvery: 10 * time.Millisecond, Retry: notifier.RetryPolicy{First: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		Breakers:    notifier.NewBreakers(notifier.BreakerSettings{OpenFor: 50 * time.Millisecond}),
		BreakerWait: 20 * time.Millisecond,
		Logger:      logger.With("component", "notifier"),
	})
	p, err := poller.New(db, poller.Options{
		Router: poller.Router{Default: demo.New(demo.Options{Speed: 5_000_000})}, Logger: logger.With("component", "poller"),
		Observe: func(poller.PollReport) { n.Wake() },
	})
	if err != nil {
		t.Fatal(err)
	}
	n.Start(ctx)
	stopped := false
	stopNotifier := func() {
		if !stopped {
			stopped = true
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			n.Stop(sctx)
		}
	}
	t.Cleanup(stopNotifier)

	var errorBodies strings.Builder
	call := func(key, method, path string, body any, header ...string) response {
		r := a.mustCall(t, key, method, path, body, header...)
		if r.status >= 400 {
			fmt.Fprintf(&errorBodies, "%s %s %d %s\n", method, path, r.status, r.body)
		}
		return r
	}
	var refs []string
	for i, cb := range []string{rcv.URL + "/hooks", rcv.URL + "/gone", ""} {
		body := map[string]any{"container_id": containerID("SECU", i), "carrier_code": "MSCU", "poll_interval": "1s"}
		if cb != "" {
			body["callback_url"] = cb
		}
		r := call(keyA, http.MethodPost, "/references", body, "Idempotency-Key", fmt.Sprintf("sec-%d", i))
		var ref api.Reference
		_ = json.Unmarshal(r.body, &ref)
		refs = append(refs, ref.ID)
	}
	for range 8 {
		for _, id := range refs {
			if err := p.PollOne(ctx, id); err != nil {
				// The reference whose callback answered 410 is unsubscribed by the
				// notifier meanwhile, and an unsubscribed reference cannot be claimed
				// for a poll (a conflict): that is the only error allowed.
				if cur, rerr := db.Reference(ctx, id); rerr == nil && !cur.Active() && errors.Is(err, references.ErrConflict) {
					continue
				}
				t.Fatalf("poll: %v", err)
			}
		}
		time.Sleep(20 * time.Millisecond) // lets simulated time move between polls
	}
	eventually(t, 20*time.Second, "deliveries done", func() (bool, string) {
		ref, err := db.Reference(ctx, refs[0])
		return err == nil && ref.LastSequence > 1 && ref.DeliveredSequence == ref.LastSequence, fmt.Sprintf("%+v %v", ref.DeliveredSequence, err)
	})

	// Every kind of refusal, with keys near and far from the real ones.
	for _, key := range []string{almost, revoked, keyA + " ", "Bearer " + keyA, secretA, references.HashAPIKey(keyA)} {
		call(key, http.MethodGet, "/references", nil)
	}
	call(keyB, http.MethodGet, "/references/"+refs[0], nil)
	call(keyB, http.MethodGet, "/admin/backup", nil)
	call(keyA, http.MethodPost, "/references", map[string]any{"container_id": keyA, "carrier_code": "MSCU"})
	call(keyA, http.MethodPost, "/references", map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU", "metadata": map[string]string{"note": "x"}, "secret": secretA})
	call(keyA, http.MethodPatch, "/references/"+refs[0], map[string]any{"callback_url": "https://" + keyA + "@example.com/"})
	call(keyA, http.MethodPost, "/references", map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU"}, "Idempotency-Key", "sec-0")
	call(keyA, http.MethodGet, "/references?cursor="+url.QueryEscape(secretA), nil)
	rotated := call(keyA, http.MethodPost, "/account/webhook-secret/rotate", map[string]any{"grace_seconds": 60})
	var secrets struct {
		Secret string `json:"secret"`
	}
	_ = json.Unmarshal(rotated.body, &secrets)
	if secrets.Secret == "" || secrets.Secret == secretA {
		t.Fatalf("rotation: %s", rotated.body)
	}
	if r := call(keyA, http.MethodGet, "/admin/backup", nil); r.status != http.StatusOK {
		t.Errorf("backup as admin: %d", r.status)
	}
	stopNotifier()

	// A closed store: every layer now fails and logs what failed.
	_ = db.Close()
	for _, path := range []string{"/references", "/references/" + refs[0], "/account/webhook-secret"} {
		if r := call(keyA, http.MethodGet, path, nil); r.status < 500 {
			t.Errorf("GET %s on a closed store: %d", path, r.status)
		}
	}
	_ = p.PollOne(ctx, refs[0])
	if _, err := n.DeliverNext(ctx, refs[0]); err == nil {
		t.Error("delivering from a closed store worked")
	}

	logText := logs.String()
	for _, want := range []string{`"status":401`, `"msg":"webhook not delivered"`, `"msg":"webhook failed; reference unsubscribed"`, `"msg":"internal error"`} {
		if !strings.Contains(logText, want) {
			t.Errorf("the log has no %s: the test did not exercise what it checks", want)
		}
	}
	forbidden := map[string]string{
		"A's API key": keyA, "B's API key": keyB, "the revoked key": revoked, "a typo of A's key": almost,
		"the hash of A's key": references.HashAPIKey(keyA), "the hash of B's key": references.HashAPIKey(keyB),
		"the hash of the revoked key": storedRevoked.Hash,
		"A's webhook secret":          secretA, "A's rotated secret": secrets.Secret, "B's webhook secret": secretB,
		"A's secret's key": strings.TrimPrefix(secretA, "whsec_"), "the rotated secret's key": strings.TrimPrefix(secrets.Secret, "whsec_"),
	}
	assertNoSecrets(t, "the log", logText, forbidden)
	bodies := errorBodies.String()
	assertNoSecrets(t, "an error body", bodies, forbidden)
	t.Logf("secrets: %d log lines and %d error bodies checked for %d secrets", strings.Count(logText, "\n"), strings.Count(bodies, "\n"), len(forbidden))
}

// TestSecurity_SSRF checks the callback guard on a table of destinations, names
// resolving to private addresses among them (through a DNS server on loopback), then
// that the service refuses such callbacks on create and on change, and that the
// delivery dialer refuses a private address even when the callback got past the
// check.
func TestSecurity_SSRF(t *testing.T) {
	dns := startDNS(t, map[string][]netip.Addr{
		"public.test.":      {netip.MustParseAddr("93.184.215.14")},
		"public6.test.":     {netip.MustParseAddr("2606:4700:4700::1111")},
		"loopback.test.":    {netip.MustParseAddr("127.0.0.1")},
		"loopback2.test.":   {netip.MustParseAddr("127.53.0.1")},
		"private10.test.":   {netip.MustParseAddr("10.0.0.5")},
		"private172.test.":  {netip.MustParseAddr("172.16.3.4")},
		"private192.test.":  {netip.MustParseAddr("192.168.1.1")},
		"metadata.test.":    {netip.MustParseAddr("169.254.169.254")},
		"cgnat.test.":       {netip.MustParseAddr("100.64.0.1")},
		"zero.test.":        {netip.MustParseAddr("0.0.0.0")},
		"v6loop.test.":      {netip.MustParseAddr("::1")},
		"v6ula.test.":       {netip.MustParseAddr("fd00::1")},
		"v6linklocal.test.": {netip.MustParseAddr("fe80::1")},
		"mapped.test.":      {netip.MustParseAddr("::ffff:127.0.0.1")},
		"nat64.test.":       {netip.MustParseAddr("64:ff9b::a00:1")},
		"sixtofour.test.":   {netip.MustParseAddr("2002:7f00:1::")},
		"multicast.test.":   {netip.MustParseAddr("224.0.0.1")},
		"broadcast.test.":   {netip.MustParseAddr("255.255.255.255")},
		"mixed.test.":       {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.1")},
		"mixed6.test.":      {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("::1")},
		"empty.test.":       {},
	})
	check := func(ctx context.Context, raw string) error {
		return notifier.CheckCallbackURL(ctx, dns.resolver(), raw)
	}
	const (
		allowed = iota
		forbidden
		invalid     // including a name that does not exist
		unavailable // the resolver failed: ask again later
	)
	cases := []struct {
		url  string
		want int
	}{
		{"https://public.test/hooks", allowed},
		{"https://public6.test/hooks", allowed},
		{"https://93.184.215.14/hooks", allowed},
		{"https://PUBLIC.test./hooks", allowed},
		{"https://loopback.test/", forbidden},
		{"https://loopback2.test/", forbidden},
		{"https://private10.test/", forbidden},
		{"https://private172.test/", forbidden},
		{"https://private192.test/", forbidden},
		{"https://metadata.test/latest/meta-data/", forbidden},
		{"https://cgnat.test/", forbidden},
		{"https://zero.test/", forbidden},
		{"https://v6loop.test/", forbidden},
		{"https://v6ula.test/", forbidden},
		{"https://v6linklocal.test/", forbidden},
		{"https://mapped.test/", forbidden},
		{"https://nat64.test/", forbidden},
		{"https://sixtofour.test/", forbidden},
		{"https://multicast.test/", forbidden},
		{"https://broadcast.test/", forbidden},
		{"https://mixed.test/", forbidden},
		{"https://mixed6.test/", forbidden},
		{"https://127.0.0.1/", forbidden},
		{"https://127.0.0.1:8080/admin", forbidden},
		{"https://[::1]/", forbidden},
		{"https://[::ffff:127.0.0.1]/", forbidden},
		{"https://[::ffff:7f00:1]/", forbidden},
		{"https://[0:0:0:0:0:ffff:10.0.0.1]/", forbidden},
		{"https://169.254.169.254/latest/meta-data/", forbidden},
		{"https://[fd00::1]/", forbidden},
		{"https://2130706433/", forbidden},
		{"https://0x7f000001/", forbidden},
		{"https://017700000001/", forbidden},
		{"https://127.1/", forbidden},
		{"https://0/", forbidden},
		{"https://0x7f.0.0.1/", forbidden},
		{"https://localhost/", forbidden},
		{"https://LOCALHOST./", forbidden},
		{"https://api.localhost/", forbidden},
		{"https://[fe80::1%25eth0]/", forbidden},
		{"https://1572395790/", invalid}, // 93.184.215.14 written as one number
		{"https://exa_mple..test/", invalid},
		{"https://xn--e1afmkfd.test:99999/", invalid},
		{"ftp://public.test/", invalid},
		{"https://unknown.test/", invalid},
		{"https://empty.test/", invalid},
	}
	ctx := context.Background()
	for _, c := range cases {
		err := check(ctx, c.url)
		got := allowed
		switch {
		case err == nil:
		case errors.Is(err, notifier.ErrForbiddenDestination):
			got = forbidden
		case errors.Is(err, notifier.ErrInvalidCallbackURL):
			got = invalid
		case errors.Is(err, notifier.ErrTemporaryResolution):
			got = unavailable
		default:
			got = -1
		}
		if got != c.want {
			t.Errorf("%s: %v (class %d), want class %d", c.url, err, got, c.want)
		}
	}

	// The service refuses them on create and on change.
	db := openStore(t)
	_, key, _ := newAccount(t, db, "acct_s", false)
	a := newAPIServer(t, db, references.ServiceOptions{CheckCallback: check}, api.Options{RateLimit: rate.Inf})
	refID := a.create(t, key, map[string]any{"container_id": "MSCU1234566", "carrier_code": "MSCU", "callback_url": "https://public.test/hooks"})
	refused := 0
	for i, c := range cases {
		if c.want != forbidden || strings.HasPrefix(c.url, "ftp") {
			continue
		}
		r := a.mustCall(t, key, http.MethodPost, "/references", map[string]any{"container_id": containerID("SSRU", i), "carrier_code": "MSCU", "callback_url": c.url})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `"field":"callback_url"`) {
			t.Errorf("create with callback %s: %d %s", c.url, r.status, r.body)
		}
		r = a.mustCall(t, key, http.MethodPatch, "/references/"+refID, map[string]any{"callback_url": c.url})
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("change callback to %s: %d %s", c.url, r.status, r.body)
		}
		refused += 2
	}
	got, err := db.GetReference(ctx, "acct_s", refID)
	if err != nil || got.CallbackURL != "https://public.test/hooks" {
		t.Errorf("the callback after refused changes: %q %v", got.CallbackURL, err)
	}
	if page, err := db.ListReferences(ctx, "acct_s", references.ListQuery{Limit: 500}); err != nil || len(page.References) != 1 {
		t.Errorf("references after refused creates: %d %v", len(page.References), err)
	}

	// A callback that reached the store anyway (its DNS answer changed after the check)
	// is refused by the dialer: nothing reaches the private receiver.
	var hits atomic.Int64
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(inside.Close)
	res := notifier.NewSender(notifier.SenderOptions{Timeout: 2 * time.Second}).Send(ctx, notifier.Request{
		URL: inside.URL + "/steal", UpdateID: "upd_x", Body: []byte(`{}`), Secrets: []string{references.NewWebhookSecret()},
	})
	if !errors.Is(res.Err, notifier.ErrForbiddenDestination) {
		t.Errorf("sending to %s: %v", inside.URL, res.Err)
	}
	ref := addReference(t, db, "acct_s", inside.URL+"/steal", 99)
	if err := appendUpdate(ctx, db, ref.ID, 1); err != nil {
		t.Fatal(err)
	}
	guarded := notifier.New(db, notifier.NewSender(notifier.SenderOptions{Timeout: 2 * time.Second}), notifier.Options{})
	outcome, err := guarded.DeliverNext(ctx, ref.ID)
	if err != nil || outcome != references.OutcomeFailed {
		t.Errorf("delivering to a private address: %q %v", outcome, err)
	}
	page, _ := db.ListDeliveries(ctx, "acct_s", ref.ID, references.DeliveryQuery{Limit: 10})
	if len(page.Deliveries) != 1 || !strings.Contains(page.Deliveries[0].Error, "forbidden") {
		t.Errorf("delivery log: %+v", page.Deliveries)
	}
	if hits.Load() != 0 {
		t.Errorf("the private receiver got %d requests", hits.Load())
	}
	t.Logf("SSRF: %d destinations classified, %d creates and changes refused by the service, dial-time guard held", len(cases), refused)
}
