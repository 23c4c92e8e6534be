package browser_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestSignIn_KeyStaysOnTheServerAndSignOutEndsTheSession: the console sends a
// visitor to sign in; a wrong key is refused; the right one opens the shipments page
// with an HttpOnly, SameSite=Strict session cookie that is not the key; the account
// pages open; signing out ends the session on the server, so that the old cookie,
// put back, no longer opens anything.
func TestSignIn_KeyStaysOnTheServerAndSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	s := setup(t)
	p := newPerson(t, s)

	p.mustOpen("/ui/", http.StatusOK)
	if got := p.path(); got != "/ui/sign-in" {
		t.Fatalf("not signed in, /ui/ shows %s, want the sign-in page", got)
	}

	// A wrong key: refused on the sign-in page, which does not repeat it.
	wrong := "th-wrong-" + randomHex(16)
	p.do("type a wrong key", chromedp.SendKeys(chromedp.CSS("form#sign-in-form input#key"), wrong))
	if status := p.submit("form#sign-in-form button[type=submit]"); status < 400 || status > 499 {
		t.Errorf("a wrong key: status %d, want a 4xx", status)
	}
	if got := p.path(); got != "/ui/sign-in" {
		t.Errorf("a wrong key led to %s", got)
	}
	var html string
	p.evalInto(`document.documentElement.outerHTML`, &html)
	if strings.Contains(html, wrong) {
		t.Error("the sign-in page repeats the wrong key")
	}
	if c := p.cookie("trackhook_session"); c != nil {
		t.Errorf("a wrong key got a session cookie (%s)", c.Name)
	}

	p.signIn(accountDefault)
	c := p.cookie("trackhook_session")
	switch {
	case c == nil:
		t.Fatal("signed in without a trackhook_session cookie")
	case !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/ui":
		t.Errorf("session cookie: HttpOnly %v, SameSite %q, Path %q; want HttpOnly, Strict, /ui", c.HTTPOnly, c.SameSite, c.Path)
	}
	p.noKeysStored()

	// The account pages (this key is an admin and an operator's).
	for _, pg := range []struct{ path, sel string }{
		{"/ui/account", "#reveal-account-secret"},
		{"/ui/account/keys", "form#create-key"},
		{"/ui/account/audit", "table#audit"}, // the keys made for the suite are in it
		{"/ui/account/events", "h1"},         // none yet: a table only when there are some
		{"/ui/operator", "#operator"},
		{"/ui/webhooks", "a#add-endpoint"},
		{"/ui/track", "form#track-form"},
	} {
		p.mustOpen(pg.path, http.StatusOK)
		if !p.has(pg.sel) {
			t.Errorf("%s has no %s\n%s", pg.path, pg.sel, p.where())
		}
	}
	p.noKeysStored()

	p.mustOpen("/ui/", http.StatusOK)
	p.mustSubmit("button#sign-out", http.StatusOK)
	if got := p.path(); got != "/ui/sign-in" {
		t.Errorf("after signing out the browser shows %s, want the sign-in page", got)
	}
	p.mustOpen("/ui/", http.StatusOK)
	if got := p.path(); got != "/ui/sign-in" {
		t.Fatalf("after signing out, /ui/ shows %s, want the sign-in page", got)
	}

	// The old cookie, put back, is refused: the session ended on the server.
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name: c.Name, Value: c.Value, URL: s.base + "/ui/", Path: "/ui", HTTPOnly: new(true), SameSite: network.CookieSameSiteStrict,
	}); err != nil {
		t.Fatalf("put the old cookie back: %v", err)
	}
	p.mustOpen("/ui/", http.StatusOK)
	if got := p.path(); got != "/ui/sign-in" {
		t.Errorf("the cookie of a signed-out session still opens %s", got)
	}
}
