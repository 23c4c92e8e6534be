package browser_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAccountSecret_RotateKeepsTwoLiveSecrets: the account's signing secret is
// masked until revealed; rotating it with a grace period (after the confirmation)
// leaves two live secrets, both listed and revealed.
func TestAccountSecret_RotateKeepsTwoLiveSecrets(t *testing.T) {
	t.Parallel()
	s := setup(t)
	secrets := func() []string {
		var body struct {
			Secrets []struct {
				Secret string `json:"secret"`
			} `json:"secrets"`
		}
		if status := s.call(t, accountSecrets, http.MethodGet, "/account/webhook-secret", nil, &body); status != http.StatusOK {
			t.Fatalf("GET the account's secret: %d", status)
		}
		var out []string
		for _, sec := range body.Secrets {
			out = append(out, sec.Secret)
		}
		return out
	}
	old := secrets()
	if len(old) != 1 {
		t.Fatalf("a new account has %d secrets", len(old))
	}
	const rows = "table#account-secrets tbody tr"

	p := newPerson(t, s)
	p.signIn(accountSecrets)
	p.mustOpen("/ui/account", http.StatusOK)
	if n := p.count(rows); n != 1 {
		t.Errorf("the account page lists %d secrets, want 1", n)
	}
	if strings.Contains(p.text("body"), old[0]) {
		t.Fatal("the account page shows the secret before a reveal")
	}
	p.mustSubmit("button#reveal-account-secret", http.StatusOK)
	if got := p.text("#account-secret-value"); got != old[0] {
		t.Errorf("the revealed secret is not the account's (%d characters)", len(got))
	}
	if !p.has(`button[data-copy="#account-secret-value"]`) {
		t.Error("the revealed secret has no copy button")
	}

	p.mustOpen("/ui/account", http.StatusOK)
	grace := longestGrace(p, "form#rotate-account-secret select[name=grace_seconds]")
	p.do("choose a grace period", chromedp.SetValue(chromedp.CSS("form#rotate-account-secret select[name=grace_seconds]"), grace))
	p.mustSubmit("form#rotate-account-secret button[type=submit]", http.StatusOK)
	if got := secrets(); len(got) != 1 {
		t.Fatal("the rotate form rotated before its confirmation")
	}
	p.confirm()
	now := secrets()
	if len(now) != 2 || !slices.Contains(now, old[0]) {
		t.Fatalf("after the rotation the account has %d secrets (old kept: %v), want 2 with the old one", len(now), slices.Contains(now, old[0]))
	}
	p.mustOpen("/ui/account", http.StatusOK)
	if n := p.count(rows); n != 2 {
		t.Errorf("after the rotation the account page lists %d secrets, want 2", n)
	}
	p.mustSubmit("button#reveal-account-secret", http.StatusOK)
	shown := p.text("table#account-secrets")
	for i, sec := range now {
		if !strings.Contains(shown, sec) {
			t.Errorf("after the rotation the revealed secrets miss live secret %d", i)
		}
	}
}

// longestGrace returns the value of the longest grace period the select offers.
func longestGrace(p *person, sel string) string {
	p.t.Helper()
	var values []string
	p.evalInto(`Array.from(document.querySelectorAll(`+jsString(sel+" option")+`), o => o.value)`, &values)
	best, bestN := "", 0
	for _, v := range values {
		var n int
		if _, err := fmt.Sscan(v, &n); err == nil && n > bestN {
			best, bestN = v, n
		}
	}
	if best == "" {
		p.t.Fatalf("%s offers no grace period: %v", sel, values)
	}
	return best
}

// TestEndpointSecret_RotateKeepsTwoLiveSecrets: an endpoint's secret is masked
// until revealed; rotating it with a grace period (after the confirmation) leaves
// two live secrets listed, and a reveal shows the new one.
func TestEndpointSecret_RotateKeepsTwoLiveSecrets(t *testing.T) {
	t.Parallel()
	s := setup(t)
	epID := s.addEndpoint(t, accountSecrets, "http://127.0.0.1:9/never-called")
	secrets := func() []string {
		var body struct {
			Secrets []struct {
				Secret string `json:"secret"`
			} `json:"secrets"`
		}
		if status := s.call(t, accountSecrets, http.MethodGet, "/endpoints/"+epID+"/secret", nil, &body); status != http.StatusOK {
			t.Fatalf("GET the endpoint's secret: %d", status)
		}
		var out []string
		for _, sec := range body.Secrets {
			out = append(out, sec.Secret)
		}
		return out
	}
	old := secrets()
	if len(old) != 1 {
		t.Fatalf("a new endpoint has %d secrets", len(old))
	}
	const rows = "table#secrets tbody tr"

	p := newPerson(t, s)
	p.signIn(accountSecrets)
	endpoint := "/ui/webhooks/" + epID
	p.mustOpen(endpoint, http.StatusOK)
	if !p.has("#secret") || p.has("#secret-value") || p.count(rows) != 1 {
		t.Fatalf("before a reveal the endpoint page should show #secret masked, no #secret-value, one live secret\n%s", p.where())
	}
	if strings.Contains(p.text("body"), old[0]) {
		t.Fatal("the endpoint page shows the secret before a reveal")
	}
	p.mustSubmit("button#reveal-secret", http.StatusOK)
	if got := p.text("#secret-value"); got != old[0] {
		t.Errorf("the revealed secret is not the endpoint's (%d characters)", len(got))
	}
	if !p.has(`button[data-copy="#secret-value"]`) {
		t.Error("the revealed secret has no copy button")
	}

	p.mustOpen(endpoint, http.StatusOK)
	grace := longestGrace(p, "form#rotate-secret select[name=grace_seconds]")
	p.do("choose a grace period", chromedp.SetValue(chromedp.CSS("form#rotate-secret select[name=grace_seconds]"), grace))
	p.mustSubmit("form#rotate-secret button[type=submit]", http.StatusOK)
	if got := secrets(); len(got) != 1 {
		t.Fatal("the rotate form rotated before its confirmation")
	}
	p.confirm()
	now := secrets()
	if len(now) != 2 || !slices.Contains(now, old[0]) {
		t.Fatalf("after the rotation the endpoint has %d secrets (old kept: %v), want 2 with the old one", len(now), slices.Contains(now, old[0]))
	}
	p.mustOpen(endpoint, http.StatusOK)
	if n := p.count(rows); n != 2 {
		t.Errorf("after the rotation the endpoint page lists %d live secrets, want 2\n%s", n, p.where())
	}
	p.mustSubmit("button#reveal-secret", http.StatusOK)
	if got := p.text("#secret-value"); got == old[0] || !slices.Contains(now, got) {
		t.Errorf("after the rotation the revealed secret is not the new one (%d characters)", len(got))
	}
}
