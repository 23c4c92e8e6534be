package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/references"
)

// sessionCookie returns the Set-Cookie of the session in an answer, or nil.
func sessionCookie(p page) *http.Cookie {
	res := http.Response{Header: p.header}
	for _, c := range res.Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	return nil
}

func TestSignIn_OpensASessionAndSignOutEndsIt(t *testing.T) {
	r := newRig(t)
	b := r.anonymous()
	if p := b.get("/ui/sign-in"); p.status != http.StatusOK ||
		!strings.Contains(p.body, `<form method="post" action="/ui/sign-in" id="sign-in-form">`) ||
		!regexp.MustCompile(`<input type="password" id="key" name="key" autocomplete="off"`).MatchString(p.body) {
		t.Fatalf("sign-in page: %d\n%s", p.status, p.body)
	}
	p := b.post("/ui/sign-in", url.Values{"key": {r.keyA}})
	ck := sessionCookie(p)
	if p.status != http.StatusSeeOther || p.location != "/ui/" || ck == nil {
		t.Fatalf("sign in: %d to %q, cookie %v", p.status, p.location, ck)
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/ui" || ck.Secure || ck.Value == "" || ck.Value == r.keyA {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/ui, not Secure over http, a token that is not the key", ck)
	}
	token := ck.Value
	if p := b.get("/ui/account"); p.status != http.StatusOK || !strings.Contains(p.body, `id="sign-out"`) || !strings.Contains(p.body, accountA) {
		t.Fatalf("account page: %d\n%s", p.status, p.body)
	}
	// Signed in already: the sign-in page goes on.
	if p := b.get("/ui/sign-in?next=/ui/webhooks"); p.status != http.StatusSeeOther || p.location != "/ui/webhooks" {
		t.Errorf("sign-in page when signed in: %d to %q", p.status, p.location)
	}

	p = b.post("/ui/sign-out", url.Values{})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ui/sign-in") {
		t.Fatalf("sign out: %d to %q", p.status, p.location)
	}
	if ck := sessionCookie(p); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("sign out: cookie %v, want it cleared", ck)
	}
	if p := b.get("/ui/account"); p.status != http.StatusSeeOther || p.location != "/ui/sign-in?next=%2Fui%2Faccount" {
		t.Errorf("after sign out: %d to %q", p.status, p.location)
	}
	// The session is gone from the store: its token, kept by someone, is worthless.
	if _, _, err := r.svc.Session(context.Background(), token); references.ErrorCode(err) != references.CodeUnauthorized {
		t.Errorf("the signed-out session's token: %v, want unauthorized", err)
	}
	kept := r.anonymous()
	kept.client.Jar.SetCookies(mustURL(t, r.srv.URL+"/ui/"), []*http.Cookie{{Name: CookieName, Value: token, Path: "/ui"}})
	if p := kept.get("/ui/account"); p.status != http.StatusSeeOther {
		t.Errorf("the signed-out token reused: %d, want 303 to sign in", p.status)
	}
	// A POST without a session is refused, not redirected (its form would be lost).
	if p := kept.post("/ui/account/secret/rotate", url.Values{"csrf": {"x"}}); p.status != http.StatusUnauthorized {
		t.Errorf("POST without a session: %d, want 401", p.status)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSignIn_RefusesWrongKeysWithoutEchoingThem(t *testing.T) {
	r := newRig(t)
	// A revoked key says so.
	revoked, stored := references.NewAPIKey(accountA, []references.Scope{references.ScopeRead}, r.clock.Now())
	if err := r.db.CreateAPIKey(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.RevokeKey(context.Background(), accountA, stored.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		key    string
		status int
		msg    string
	}{
		{"unknown", "thk_NOTAKEY0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", http.StatusUnauthorized, "unknown API key"},
		{"revoked", revoked, http.StatusUnauthorized, "was revoked"},
		{"markup", `thk_"><script>alert(1)</script>`, http.StatusUnauthorized, "unknown API key"},
		{"empty", "  ", http.StatusUnprocessableEntity, "Enter an API key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := r.anonymous()
			p := b.post("/ui/sign-in", url.Values{"key": {tt.key}, "next": {"/ui/webhooks"}})
			if p.status != tt.status || !strings.Contains(p.body, tt.msg) || !strings.Contains(p.body, `id="sign-in-form"`) {
				t.Fatalf("%d, want %d with %q and the form:\n%s", p.status, tt.status, tt.msg, p.body)
			}
			if strings.TrimSpace(tt.key) != "" && strings.Contains(p.body, strings.TrimSpace(tt.key)) {
				t.Errorf("the page shows the key posted:\n%s", p.body)
			}
			if sessionCookie(p) != nil {
				t.Error("a refused sign-in set a cookie")
			}
			if !strings.Contains(p.body, `name="next" value="/ui/webhooks"`) {
				t.Error("the form forgot where to go next")
			}
		})
	}
}

func TestSignIn_FailuresAreRateLimitedPerAddress(t *testing.T) {
	r := newRig(t, func(o *Options) { o.SignInFailureLimit, o.SignInFailureBurst = rate.Every(time.Minute), 2 })
	b := r.anonymous()
	wrong := url.Values{"key": {"thk_wrong-key-0123456789"}}
	for i := range 2 {
		if p := b.post("/ui/sign-in", wrong); p.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, p.status)
		}
	}
	// Over the limit even the right key waits: the key is not even looked up.
	p := b.post("/ui/sign-in", url.Values{"key": {r.keyA}})
	// A token a minute: the next one is there in exactly 60 s.
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") != "60" || sessionCookie(p) != nil {
		t.Fatalf("over the limit: %d, Retry-After %q; want 429, 60", p.status, p.header.Get("Retry-After"))
	}
	r.clock.Advance(time.Minute)
	if p := b.post("/ui/sign-in", url.Values{"key": {r.keyA}}); p.status != http.StatusSeeOther {
		t.Fatalf("a minute later: %d, want 303", p.status)
	}
	// Successful sign-ins spend nothing.
	for range 3 {
		if p := r.anonymous().post("/ui/sign-in", url.Values{"key": {r.keyB}}); p.status != http.StatusSeeOther {
			t.Fatalf("right key: %d, want 303", p.status)
		}
	}
}

func TestSignIn_GoesOnOnlyToPagesOfTheConsole(t *testing.T) {
	r := newRig(t)
	tests := []struct{ next, want string }{
		{"", "/ui/"},
		{"/ui/webhooks", "/ui/webhooks"},
		{"/ui/?status=active&q=MSCU", "/ui/?status=active&q=MSCU"},
		{"https://evil.example/ui/", "/ui/"},
		{"//evil.example/ui/", "/ui/"},
		{"/ui/../admin/backup", "/ui/"},
		{`/ui/\evil`, "/ui/"},
		{"/references", "/ui/"},
		{"/ui/sign-out", "/ui/"},
		{"javascript:alert(1)", "/ui/"},
	}
	for _, tt := range tests {
		p := r.anonymous().post("/ui/sign-in", url.Values{"key": {r.keyA}, "next": {tt.next}})
		if p.status != http.StatusSeeOther || p.location != tt.want {
			t.Errorf("next %q: %d to %q, want %q", tt.next, p.status, p.location, tt.want)
		}
	}
	// A page asked for without a session comes back after signing in.
	b := r.anonymous()
	p := b.get("/ui/account/events?after=3")
	if p.status != http.StatusSeeOther {
		t.Fatalf("%d", p.status)
	}
	p = b.get(p.location)
	m := regexp.MustCompile(`name="next" value="([^"]*)"`).FindStringSubmatch(p.body)
	if m == nil || m[1] != "/ui/account/events?after=3" {
		t.Fatalf("sign-in form next %v", m)
	}
	if p := b.post("/ui/sign-in", url.Values{"key": {r.keyA}, "next": {m[1]}}); p.location != "/ui/account/events?after=3" {
		t.Errorf("after sign in: to %q", p.location)
	}
}

func TestSignIn_CrossSiteFormIsRefused(t *testing.T) {
	r := newRig(t)
	b := r.anonymous()
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/ui/sign-in", strings.NewReader(url.Values{"key": {r.keyA}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if p := b.do(req); p.status != http.StatusForbidden || sessionCookie(p) != nil {
		t.Errorf("cross-site sign-in: %d, want 403 and no cookie", p.status)
	}
}

func TestSession_CookieIsSecureWhenThePublicURLIsHTTPS(t *testing.T) {
	r := newRig(t, func(o *Options) { o.PublicURL = mustURL(t, "https://track.example.com") })
	p := r.anonymous().post("/ui/sign-in", url.Values{"key": {r.keyA}})
	if ck := sessionCookie(p); ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie %+v, want Secure, HttpOnly, SameSite=Strict", ck)
	}
}

func TestSession_EndsWhenIdleOrTooOld(t *testing.T) {
	r := newRig(t)
	t.Run("idle", func(t *testing.T) {
		b := r.signIn(r.keyA)
		r.clock.Advance(references.DefaultSessionIdle - time.Minute)
		if p := b.get("/ui/account"); p.status != http.StatusOK {
			t.Fatalf("used within the idle time: %d", p.status)
		}
		r.clock.Advance(references.DefaultSessionIdle - time.Minute) // idle since the last use, not sign-in
		if p := b.get("/ui/account"); p.status != http.StatusOK {
			t.Fatalf("used again within the idle time: %d", p.status)
		}
		r.clock.Advance(references.DefaultSessionIdle)
		if p := b.get("/ui/account"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ui/sign-in") {
			t.Fatalf("idle for %v: %d to %q", references.DefaultSessionIdle, p.status, p.location)
		}
	})
	t.Run("absolute", func(t *testing.T) {
		b := r.signIn(r.keyA)
		start := r.clock.Now()
		for r.clock.Now().Before(start.Add(references.DefaultSessionLifetime - 20*time.Minute)) {
			r.clock.Advance(20 * time.Minute)
			if p := b.get("/ui/account"); p.status != http.StatusOK {
				t.Fatalf("busy session at %v: %d", r.clock.Now().Sub(start), p.status)
			}
		}
		r.clock.Advance(start.Add(references.DefaultSessionLifetime).Sub(r.clock.Now()))
		if p := b.get("/ui/account"); p.status != http.StatusSeeOther {
			t.Fatalf("at its lifetime: %d, want 303 to sign in", p.status)
		}
	})
}

func TestSession_RevokedKeyEndsIt(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.keyA)
	keys, err := r.svc.Keys(context.Background(), accountA)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(keys, func(k references.APIKey) bool { return k.Hash == references.HashAPIKey(r.keyA) })
	if _, err := r.svc.RevokeKey(context.Background(), accountA, keys[i].ID); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/ui/account"); p.status != http.StatusSeeOther {
		t.Errorf("after its key was revoked: %d, want 303 to sign in", p.status)
	}
}

func TestCSRF_MissingOrWrongTokenChangesNothing(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.adminA)
	other := r.signIn(r.keyA) // a token that is real, of another session
	before, err := r.db.GetAccount(context.Background(), accountA)
	if err != nil {
		t.Fatal(err)
	}
	keysBefore, _ := r.svc.Keys(context.Background(), accountA)
	tests := []struct {
		name string
		csrf []string
	}{
		{"missing", nil},
		{"empty", []string{""}},
		{"wrong", []string{"not-the-token"}},
		{"another session's", []string{other.csrf}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, post := range []struct {
				path string
				form url.Values
			}{
				{"/ui/account/secret/rotate", url.Values{"grace_seconds": {"0"}, "confirm": {"yes"}}},
				{"/ui/account/secret/reveal", url.Values{}},
				{"/ui/account/keys", url.Values{"name": {"x"}, "scopes": {"read"}}},
				{"/ui/sign-out", url.Values{}},
			} {
				form := cloneValues(post.form)
				if tt.csrf != nil {
					form["csrf"] = tt.csrf
				}
				p := b.postRaw(post.path, form)
				if p.status != http.StatusForbidden || !strings.Contains(p.body, "CSRF") {
					t.Errorf("POST %s: %d, want 403", post.path, p.status)
				}
				if strings.Contains(p.body, "whsec_") {
					t.Errorf("POST %s: the refusal shows a secret", post.path)
				}
			}
		})
	}
	after, _ := r.db.GetAccount(context.Background(), accountA)
	keysAfter, _ := r.svc.Keys(context.Background(), accountA)
	if len(after.WebhookSecrets) != len(before.WebhookSecrets) || after.WebhookSecrets[0].Secret != before.WebhookSecrets[0].Secret || len(keysAfter) != len(keysBefore) {
		t.Error("a refused form changed the account")
	}
	if p := b.get("/ui/account"); p.status != http.StatusOK {
		t.Errorf("still signed in after refused sign-outs: %d", p.status)
	}
}

// inlineCode finds what the CSP forbids: inline scripts, style attributes or
// elements, event handler attributes, javascript: URLs.
var inlineCode = regexp.MustCompile(`(?i)<script(\s[^>]*)?>[^<]|<script>|\sstyle=|<style|\son[a-z]+=|javascript:`)

func TestPages_SendSecurityHeadersAndNoInlineCode(t *testing.T) {
	r := newRig(t)
	admin := r.signIn(r.adminA)
	pages := []struct {
		name string
		get  func() page
	}{
		{"sign-in", func() page { return r.anonymous().get("/ui/sign-in") }},
		{"wrong key", func() page { return r.anonymous().post("/ui/sign-in", url.Values{"key": {"nope"}}) }},
		{"account", func() page { return admin.get("/ui/account") }},
		{"revealed secret", func() page { return admin.post("/ui/account/secret/reveal", url.Values{}) }},
		{"rotate confirmation", func() page { return admin.post("/ui/account/secret/rotate", url.Values{"grace_seconds": {"3600"}}) }},
		{"keys", func() page { return admin.get("/ui/account/keys") }},
		{"new key", func() page {
			return admin.post("/ui/account/keys", url.Values{"name": {"ci"}, "scopes": {"read"}, "expires_in": {"30d"}})
		}},
		{"audit", func() page { return admin.get("/ui/account/audit") }},
		{"events", func() page { return admin.get("/ui/account/events") }},
		{"operator", func() page { return admin.get("/ui/operator") }},
		{"not found", func() page { return admin.get("/ui/no-such-page") }},
		{"forbidden", func() page { return r.signIn(r.keyA).get("/ui/account/keys") }},
	}
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
		"Cache-Control":           "no-store",
	}
	for _, pg := range pages {
		p := pg.get()
		for h, v := range want {
			if got := p.header.Get(h); got != v {
				t.Errorf("%s (%d): %s %q, want %q", pg.name, p.status, h, got, v)
			}
		}
		if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q", pg.name, ct)
		}
		if m := inlineCode.FindString(p.body); m != "" {
			t.Errorf("%s: inline code %q", pg.name, m)
		}
		if !strings.Contains(p.body, `<main id="main"`) {
			t.Errorf("%s: not a console page:\n%.300s", pg.name, p.body)
		}
	}
}

func TestScopes_PagesAndActionsAKeyMayNotUse(t *testing.T) {
	r := newRig(t)
	readKey, stored := references.NewAPIKey(accountA, []references.Scope{references.ScopeRead}, r.clock.Now())
	if err := r.db.CreateAPIKey(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	reader, writer, admin := r.signIn(readKey), r.signIn(r.keyA), r.signIn(r.adminA)
	tests := []struct {
		name   string
		b      *browser
		method string
		path   string
		form   url.Values
		status int
	}{
		{"read: account", reader, "GET", "/ui/account", nil, 200},
		{"read: events", reader, "GET", "/ui/account/events", nil, 200},
		{"read: reveal secret", reader, "POST", "/ui/account/secret/reveal", url.Values{}, 403},
		{"read: rotate secret", reader, "POST", "/ui/account/secret/rotate", url.Values{"grace_seconds": {"0"}, "confirm": {"yes"}}, 403},
		{"read: keys", reader, "GET", "/ui/account/keys", nil, 403},
		{"write: keys", writer, "GET", "/ui/account/keys", nil, 403},
		{"write: create key", writer, "POST", "/ui/account/keys", url.Values{"scopes": {"admin"}}, 403},
		{"write: revoke key", writer, "POST", "/ui/account/keys/" + stored.ID + "/revoke", url.Values{"confirm": {"yes"}}, 403},
		{"write: audit", writer, "GET", "/ui/account/audit", nil, 403},
		{"write: reveal secret", writer, "POST", "/ui/account/secret/reveal", url.Values{}, 200},
		{"write: operator", writer, "GET", "/ui/operator", nil, 403},
		{"admin: keys", admin, "GET", "/ui/account/keys", nil, 200},
		{"admin: audit", admin, "GET", "/ui/account/audit", nil, 200},
		{"operator: operator", admin, "GET", "/ui/operator", nil, 200},
	}
	for _, tt := range tests {
		var p page
		if tt.method == "GET" {
			p = tt.b.get(tt.path)
		} else {
			p = tt.b.post(tt.path, tt.form)
		}
		if p.status != tt.status {
			t.Errorf("%s: %s %s: %d, want %d", tt.name, tt.method, tt.path, p.status, tt.status)
		}
	}
	// What a key may not use is not offered.
	p := reader.get("/ui/account")
	for _, id := range []string{`id="reveal-account-secret"`, `id="rotate-account-secret"`, `id="keys-link"`, `href="/ui/operator"`} {
		if strings.Contains(p.body, id) {
			t.Errorf("a read key's account page offers %s", id)
		}
	}
	if p := writer.get("/ui/account"); !strings.Contains(p.body, `id="rotate-account-secret"`) || strings.Contains(p.body, `id="keys-link"`) {
		t.Error("a write key's account page: want rotate, no keys link")
	}
	if p := admin.get("/ui/account"); !strings.Contains(p.body, `id="keys-link"`) || !strings.Contains(p.body, `href="/ui/operator"`) {
		t.Error("an operator's admin key: want the keys link and the operator tab")
	}
	// Nothing a refused key asked for happened.
	keys, _ := r.svc.Keys(context.Background(), accountA)
	for _, k := range keys {
		if k.RevokedAt != nil || k.Name != "" {
			t.Errorf("key %s changed: %+v", k.ID, k)
		}
	}
	if len(keys) != 3 {
		t.Errorf("%d keys, want 3", len(keys))
	}
}
