package browser_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestKeys_CreateShownOnceThenRevoke: a key created on the keys page is shown once,
// works on the API, is listed without its secret afterwards, and once revoked (after
// the confirmation) is refused.
func TestKeys_CreateShownOnceThenRevoke(t *testing.T) {
	t.Parallel()
	s := setup(t)
	p := newPerson(t, s)
	p.signIn(accountKeys)

	p.mustOpen("/ui/account", http.StatusOK)
	p.mustSubmit(`a[href="/ui/account/keys"]`, http.StatusOK)
	before := p.attrs("table#keys tr[data-key-id]", "data-key-id")
	if len(before) != 1 {
		t.Fatalf("the account lists keys %v, want its one admin key", before)
	}
	const name = "deploy bot"
	p.do("fill the key form",
		chromedp.WaitVisible(chromedp.CSS("form#create-key")),
		chromedp.SendKeys(chromedp.CSS(`form#create-key input[name=name]`), name),
		chromedp.Click(chromedp.CSS(`form#create-key input[name=scopes][value=read]`)),
	)
	p.mustSubmit("form#create-key button[type=submit]", http.StatusOK)
	key := p.text("code#new-key")
	if len(key) < 16 {
		t.Fatalf("the new key shown is %q", key)
	}
	// It works, with the scope chosen: it reads, it may not write.
	p.hide("the new key, shown once already", key)
	if status := s.callWith(t, key, http.MethodGet, "/references", nil); status != http.StatusOK {
		t.Errorf("the new key: GET /references answered %d", status)
	}
	if status := s.callWith(t, key, http.MethodPost, "/endpoints", map[string]any{"url": "http://127.0.0.1:9/x"}); status != http.StatusForbidden {
		t.Errorf("the new read key: POST /endpoints answered %d, want 403", status)
	}

	p.mustOpen("/ui/account/keys", http.StatusOK) // the key is no longer shown (capture checks)
	if p.has("code#new-key") {
		t.Error("the keys page shows code#new-key again")
	}
	ids := p.attrs("table#keys tr[data-key-id]", "data-key-id")
	var newID string
	for _, id := range ids {
		if id != before[0] {
			newID = id
		}
	}
	if len(ids) != 2 || newID == "" {
		t.Fatalf("after creating a key the list shows %v, want 2", ids)
	}
	row := fmt.Sprintf(`table#keys tr[data-key-id=%q]`, newID)
	if got := p.text(row); !strings.Contains(got, name) {
		t.Errorf("the new key's row says %q, want its name %q", got, name)
	}

	p.mustSubmit(row+" form.revoke button[type=submit]", http.StatusOK)
	if status := s.callWith(t, key, http.MethodGet, "/references", nil); status != http.StatusOK {
		t.Fatalf("the revoke form revoked before its confirmation (%d)", status)
	}
	p.confirm()
	if status := s.callWith(t, key, http.MethodGet, "/references", nil); status != http.StatusUnauthorized {
		t.Errorf("the revoked key: GET /references answered %d, want 401", status)
	}
	p.mustOpen("/ui/account/keys", http.StatusOK)
	if p.has(row + " form.revoke") {
		t.Errorf("the revoked key can still be revoked\n%s", p.where())
	}
	// The signed-in key was not the one revoked: the console still works.
	p.mustOpen("/ui/", http.StatusOK)
	if p.path() != "/ui/" {
		t.Errorf("after revoking another key, the console shows %s", p.path())
	}
}
