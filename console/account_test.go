package console

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

var newKeyCode = regexp.MustCompile(`<code class="secret" id="new-key">([^<]+)</code>`)

// keyByID returns the account's key id, failing the test when there is none.
func keyByID(t *testing.T, r *rig, account, id string) references.APIKey {
	t.Helper()
	keys, err := r.svc.Keys(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(keys, func(k references.APIKey) bool { return k.ID == id })
	if i < 0 {
		t.Fatalf("no key %s in %s", id, account)
	}
	return keys[i]
}

// keyIDOf returns the id of the key whose text is key.
func keyIDOf(t *testing.T, r *rig, key string) string {
	t.Helper()
	k, err := r.db.LookupAPIKey(context.Background(), references.HashAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	return k.ID
}

func TestKeys_CreatedKeyIsShownOnceThenOnlyItsPrefix(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.adminA)
	p := b.post("/ui/account/keys", url.Values{"name": {"CI deploys"}, "scopes": {"write"}, "expires_in": {"30d"}})
	m := newKeyCode.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil || !strings.Contains(p.body, "only time it is shown") {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	key := m[1]
	if !strings.Contains(p.body, `data-copy="#new-key"`) {
		t.Error("no copy button for the new key")
	}
	// The key works, with what was asked for.
	k, err := r.db.LookupAPIKey(context.Background(), references.HashAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	if k.AccountID != accountA || k.Name != "CI deploys" || !slices.Equal(k.Scopes, []references.Scope{references.ScopeWrite}) ||
		k.ExpiresAt == nil || !k.ExpiresAt.Equal(r.clock.Now().Add(30*24*time.Hour)) || k.Operator {
		t.Errorf("stored key %+v", k)
	}
	if k.CreatedBy != keyIDOf(t, r, r.adminA) {
		t.Errorf("created by %q, want the session's key", k.CreatedBy)
	}
	req, _ := http.NewRequest(http.MethodGet, r.srv.URL+"/references", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("the new key on the API: %d", res.StatusCode)
	}
	// Afterwards, only its prefix.
	p = b.get("/ui/account/keys")
	if strings.Contains(p.body, key) || strings.Contains(p.body, `id="new-key"`) {
		t.Error("the keys page shows the key again")
	}
	if !strings.Contains(p.body, `data-key-id="`+k.ID+`"`) || !strings.Contains(p.body, k.Prefix) || !strings.Contains(p.body, "CI deploys") {
		t.Errorf("the keys page does not list the new key:\n%s", p.body)
	}
	if p := b.get("/ui/account/audit"); !strings.Contains(p.body, "key.created") {
		t.Error("the audit log does not show the creation")
	}
}

func TestKeys_CreateRefusesBadInputWithFieldErrors(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.adminA)
	tests := []struct {
		name  string
		form  url.Values
		field string
	}{
		{"no scope", url.Values{"name": {"x"}, "expires_in": {"30d"}}, "scopes"},
		{"unknown scope", url.Values{"scopes": {"root"}}, "scopes"},
		{"name too long", url.Values{"name": {strings.Repeat("n", 65)}, "scopes": {"read"}}, "name"},
		{"bad lifetime", url.Values{"scopes": {"read"}, "expires_in": {"forever"}}, "expires_in"},
	}
	before, _ := r.svc.Keys(context.Background(), accountA)
	for _, tt := range tests {
		p := b.post("/ui/account/keys", tt.form)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="error-`+tt.field+`"`) || strings.Contains(p.body, `id="new-key"`) {
			t.Errorf("%s: %d, want 422 with #error-%s:\n%s", tt.name, p.status, tt.field, p.body)
		}
		if n := tt.form.Get("name"); n != "" && len(n) < 65 && !strings.Contains(p.body, `value="`+n+`"`) {
			t.Errorf("%s: the form forgot the name", tt.name)
		}
	}
	if after, _ := r.svc.Keys(context.Background(), accountA); len(after) != len(before) {
		t.Errorf("refused creations made keys: %d, want %d", len(after), len(before))
	}
}

func TestKeys_RevokeAfterConfirmation(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.adminA)
	id := keyIDOf(t, r, r.keyA)
	path := "/ui/account/keys/" + id + "/revoke"
	if p := b.get("/ui/account/keys"); !regexp.MustCompile(`action="` + regexp.QuoteMeta(path) + `" class="revoke`).MatchString(p.body) {
		t.Fatalf("no revoke form for %s", id)
	}
	p := b.post(path, url.Values{})
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="confirm-form"`) || !strings.Contains(p.body, id) {
		t.Fatalf("revoke without confirmation: %d\n%s", p.status, p.body)
	}
	if k := keyByID(t, r, accountA, id); k.RevokedAt != nil {
		t.Fatal("revoked before the confirmation")
	}
	p = b.post(path, url.Values{"confirm": {"yes"}})
	if p.status != http.StatusSeeOther || p.location != "/ui/account/keys" {
		t.Fatalf("confirmed: %d to %q", p.status, p.location)
	}
	if k := keyByID(t, r, accountA, id); k.RevokedAt == nil {
		t.Fatal("not revoked")
	}
	if p := b.get(p.location); !strings.Contains(p.body, "Revoked") || !strings.Contains(p.body, "revoked</span>") {
		t.Errorf("the keys page after revoking:\n%s", p.body)
	}
	if p := b.get("/ui/account/audit"); !strings.Contains(p.body, "key.revoked") {
		t.Error("the audit log does not show the revocation")
	}
	// The last admin key stays: the API's rule, told on the page.
	own := keyIDOf(t, r, r.adminA)
	p = b.post("/ui/account/keys/"+own+"/revoke", url.Values{"confirm": {"yes"}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "last live admin key") || !strings.Contains(p.body, `id="revoke-error"`) {
		t.Fatalf("revoking the last admin key: %d\n%s", p.status, p.body)
	}
	if k := keyByID(t, r, accountA, own); k.RevokedAt != nil {
		t.Fatal("the last admin key was revoked")
	}
	// With another admin key, revoking the session's own key signs it out.
	if _, _, err := r.svc.CreateKey(context.Background(), accountA, references.KeyRequest{Scopes: []string{"admin"}}); err != nil {
		t.Fatal(err)
	}
	if p := b.post("/ui/account/keys/"+own+"/revoke", url.Values{}); !strings.Contains(p.body, "you will be signed out") {
		t.Errorf("the confirmation does not warn that it is the session's key:\n%s", p.body)
	}
	p = b.post("/ui/account/keys/"+own+"/revoke", url.Values{"confirm": {"yes"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/ui/sign-in") {
		t.Fatalf("revoking the session's key: %d to %q", p.status, p.location)
	}
	if p := b.get("/ui/account"); p.status != http.StatusSeeOther {
		t.Errorf("the session lives on after its key was revoked: %d", p.status)
	}
}

func TestAccount_IsolationBetweenAccounts(t *testing.T) {
	r := newRig(t)
	adminB, storedB := references.NewAPIKey(accountB, []references.Scope{references.ScopeAdmin}, r.clock.Now())
	if err := r.db.CreateAPIKey(context.Background(), storedB); err != nil {
		t.Fatal(err)
	}
	a := r.signIn(r.adminA)
	a.post("/ui/account/keys", url.Values{"name": {"only-in-a"}, "scopes": {"read"}})
	b := r.signIn(adminB)
	idA := keyIDOf(t, r, r.keyA)
	acctA, _ := r.db.GetAccount(context.Background(), accountA)
	for path, mustNot := range map[string][]string{
		"/ui/account/keys":   {idA, keyIDOf(t, r, r.adminA), "only-in-a", accountA},
		"/ui/account/audit":  {idA, "only-in-a", accountA},
		"/ui/account/events": {accountA},
		"/ui/account":        {accountA, acctA.WebhookSecrets[0].Secret, mask(acctA.WebhookSecrets[0].Secret)},
	} {
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Errorf("B: %s: %d", path, p.status)
		}
		for _, s := range mustNot {
			if strings.Contains(text(p), s) {
				t.Errorf("B's %s shows A's %q", path, s)
			}
		}
	}
	if p := b.post("/ui/account/secret/reveal", url.Values{}); strings.Contains(text(p), acctA.WebhookSecrets[0].Secret) {
		t.Error("B's reveal shows A's secret")
	}
	// A's key by id, from B: not found, and not revoked.
	for _, form := range []url.Values{{}, {"confirm": {"yes"}}} {
		if p := b.post("/ui/account/keys/"+idA+"/revoke", form); p.status != http.StatusNotFound {
			t.Errorf("B revokes A's key (%v): %d, want 404", form, p.status)
		}
	}
	if k := keyByID(t, r, accountA, idA); k.RevokedAt != nil {
		t.Error("B revoked A's key")
	}
	// B is not an operator.
	if p := b.get("/ui/operator"); p.status != http.StatusForbidden {
		t.Errorf("B's admin key on the operator view: %d", p.status)
	}
}

// text is a page's body with its character references decoded: html/template
// writes the + of a base64 secret as &#43;.
func text(p page) string { return html.UnescapeString(p.body) }

var maskedSecret = regexp.MustCompile(`<code id="account-secret(-\d)?">whsec_•+[A-Za-z0-9+/=]{4}</code>`)

func TestAccountSecret_RevealAndRotateWithGrace(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.keyA)
	ctx := context.Background()
	acct, _ := r.db.GetAccount(ctx, accountA)
	old := acct.WebhookSecrets[0].Secret

	p := b.get("/ui/account")
	if strings.Contains(text(p), old) || len(maskedSecret.FindAllString(text(p), -1)) != 1 || !strings.Contains(text(p), `id="reveal-account-secret"`) {
		t.Fatalf("account page: want the secret masked once:\n%s", p.body)
	}
	p = b.post("/ui/account/secret/reveal", url.Values{})
	if p.status != http.StatusOK || !strings.Contains(text(p), `<code class="secret" id="account-secret-value">`+old+`</code>`) ||
		!strings.Contains(text(p), `data-copy="#account-secret-value"`) {
		t.Fatalf("reveal: %d\n%s", p.status, p.body)
	}
	if p := b.get("/ui/account"); strings.Contains(text(p), old) {
		t.Error("the secret stays revealed")
	}

	// Rotation asks first, keeping the grace chosen.
	p = b.post("/ui/account/secret/rotate", url.Values{"grace_seconds": {"3600"}})
	if p.status != http.StatusOK || !strings.Contains(text(p), `id="confirm-form"`) || !strings.Contains(text(p), `name="grace_seconds" value="3600"`) || !strings.Contains(text(p), "1 h") {
		t.Fatalf("rotate without confirmation: %d\n%s", p.status, p.body)
	}
	if acct, _ := r.db.GetAccount(ctx, accountA); len(acct.WebhookSecrets) != 1 {
		t.Fatal("rotated before the confirmation")
	}
	p = b.post("/ui/account/secret/rotate", url.Values{"grace_seconds": {"3600"}, "confirm": {"yes"}})
	if p.status != http.StatusSeeOther || p.location != "/ui/account" {
		t.Fatalf("rotate: %d to %q", p.status, p.location)
	}
	acct, _ = r.db.GetAccount(ctx, accountA)
	live := acct.Live(r.clock.Now())
	if len(live) != 2 || live[1].Secret != old || live[1].ExpiresAt == nil || !live[1].ExpiresAt.Equal(r.clock.Now().Add(time.Hour)) || live[0].ExpiresAt != nil {
		t.Fatalf("after rotating with an hour's grace: %+v", live)
	}
	p = b.get(p.location)
	if n := len(maskedSecret.FindAllString(text(p), -1)); n != 2 || strings.Contains(text(p), old) || strings.Contains(text(p), live[0].Secret) {
		t.Fatalf("account page after rotating: %d masked secrets, want 2:\n%s", n, p.body)
	}
	if !strings.Contains(text(p), `datetime="`+live[1].ExpiresAt.Format(time.RFC3339)+`"`) || !strings.Contains(text(p), "rotated") {
		t.Errorf("the old secret's expiry or the notice is missing:\n%s", p.body)
	}
	if p := b.post("/ui/account/secret/reveal", url.Values{}); !strings.Contains(text(p), live[0].Secret) || !strings.Contains(text(p), old) {
		t.Error("reveal after rotating: want both live secrets")
	}
	// The grace ends: one secret again.
	for range 3 { // within the session's idle time
		r.clock.Advance(20 * time.Minute)
		if p := b.get("/ui/account"); p.status != http.StatusOK {
			t.Fatalf("account page: %d", p.status)
		}
	}
	if p := b.get("/ui/account"); len(maskedSecret.FindAllString(text(p), -1)) != 1 {
		t.Error("the old secret is listed after its grace")
	}
	// Graces the API refuses re-render the page with the message.
	for _, g := range []string{"abc", "-1", "604801"} {
		p := b.post("/ui/account/secret/rotate", url.Values{"grace_seconds": {g}, "confirm": {"yes"}})
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(text(p), `id="error-grace_seconds"`) {
			t.Errorf("grace %q: %d, want 422 with the field's error:\n%s", g, p.status, p.body)
		}
	}
	if acct2, _ := r.db.GetAccount(ctx, accountA); acct2.Live(r.clock.Now())[0].Secret != live[0].Secret {
		t.Error("a refused rotation rotated")
	}
	if p := r.signIn(r.adminA).get("/ui/account/audit"); !strings.Contains(text(p), "webhook_secret.rotated") || !strings.Contains(text(p), keyIDOf(t, r, r.keyA)) {
		t.Errorf("audit: want the rotation by the write key:\n%s", p.body)
	}
}

func TestAudit_PagesOldestFirst(t *testing.T) {
	r := newRig(t)
	ctx := references.WithActor(context.Background(), "key_actor")
	before, err := r.svc.Audit(ctx, accountA, 0, logPageSize)
	if err != nil {
		t.Fatal(err)
	}
	n := len(before.Entries) // the rig's keys
	for i := range logPageSize + 1 - n {
		if _, _, err := r.svc.CreateKey(ctx, accountA, references.KeyRequest{Name: fmt.Sprintf("k%02d", i), Scopes: []string{"read"}}); err != nil {
			t.Fatal(err)
		}
	}
	b := r.signIn(r.adminA)
	p := b.get("/ui/account/audit")
	rows := regexp.MustCompile(`<tr data-sequence="(\d+)">`).FindAllStringSubmatch(p.body, -1)
	if len(rows) != logPageSize || rows[0][1] != "1" || !strings.Contains(p.body, `id="next-page"`) || !strings.Contains(p.body, `id="audit"`) {
		t.Fatalf("first page: %d rows\n%s", len(rows), p.body)
	}
	if !strings.Contains(p.body, "“k00”") || !strings.Contains(p.body, "<code>key_actor</code>") {
		t.Error("the audit log does not name keys by their names")
	}
	next := regexp.MustCompile(`href="([^"]+)" id="next-page"`).FindStringSubmatch(p.body)
	p = b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	rows = regexp.MustCompile(`<tr data-sequence="(\d+)">`).FindAllStringSubmatch(p.body, -1)
	if len(rows) != 1 || rows[0][1] != fmt.Sprint(logPageSize+1) || strings.Contains(p.body, `id="next-page"`) || !strings.Contains(p.body, `id="first-page"`) {
		t.Fatalf("second page (%s): %d rows\n%s", next[1], len(rows), p.body)
	}
	if p := b.get("/ui/account/audit?after=x"); p.status != http.StatusBadRequest {
		t.Errorf("after=x: %d, want 400", p.status)
	}
}

func TestEvents_EmptyAndBadCursor(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.keyB)
	if p := b.get("/ui/account/events"); p.status != http.StatusOK || !strings.Contains(p.body, `id="events-empty"`) {
		t.Errorf("events: %d\n%s", p.status, p.body)
	}
	if p := b.get("/ui/account/events?after=-1"); p.status != http.StatusBadRequest {
		t.Errorf("after=-1: %d, want 400", p.status)
	}
}

func TestOperator_ShowsTheStore(t *testing.T) {
	r := newRig(t, func(o *Options) {
		o.OpenBreakers = func() []string { return []string{"z.example:443", "a.example:443"} }
	})
	if _, _, err := r.svc.Create(context.Background(), accountA, references.CreateRequest{
		ContainerID: "MSCU1234566", CarrierCode: "MSCU",
	}, ""); err != nil {
		t.Fatal(err)
	}
	p := r.signIn(r.adminA).get("/ui/operator")
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="operator"`) {
		t.Fatalf("%d\n%s", p.status, p.body)
	}
	for _, want := range []string{
		`id="active-references"><dt>Active references</dt><dd>1</dd>`,
		`id="queue-depth"`,
		`id="open-breakers-count"><dt>Open breakers</dt><dd>2</dd>`,
		"<li><code>a.example:443</code></li>\n<li><code>z.example:443</code></li>",
		`id="oldest-undelivered"`,
		`id="store-size"`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("operator page lacks %q", want)
		}
	}
}
