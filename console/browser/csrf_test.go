package browser_test

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestCSRF_FormWithoutItsTokenIsRefused: the track form, filled in, with its hidden
// csrf input removed (or its value forged) is refused with the 403 page and tracks
// nothing; the sign-out form without it does not sign out; the same form with its
// token intact tracks the container (so the refusals are the token's doing).
func TestCSRF_FormWithoutItsTokenIsRefused(t *testing.T) {
	t.Parallel()
	s := setup(t)
	p := newPerson(t, s)
	p.signIn(accountForms)
	container := containerID("FRMU", 4001)

	tests := []struct {
		name   string
		tamper string // JavaScript run on the filled form before it is sent
	}{
		{"without the token", `document.querySelector("form#track-form input[name=csrf]").remove()`},
		{"with a forged token", `document.querySelector("form#track-form input[name=csrf]").value = "forged-token"`},
	}
	for _, tt := range tests {
		p.mustOpen("/ui/track", http.StatusOK)
		fillTrackForm(p, container, "", "")
		if p.count("form#track-form input[name=csrf]") != 1 {
			t.Fatalf("the track form has no hidden csrf input\n%s", p.where())
		}
		p.do("tamper with the token", chromedp.Evaluate[chromedp.Void](tt.tamper))
		if status := p.submit("form#track-form button[type=submit]"); status != http.StatusForbidden {
			t.Errorf("the track form %s: status %d, want 403\n%s", tt.name, status, p.where())
		}
		if n := s.referenceCount(t, accountForms); n != 0 {
			t.Fatalf("the track form %s tracked %d references", tt.name, n)
		}
	}

	// Sign-out without the token: refused, still signed in.
	p.mustOpen("/ui/", http.StatusOK)
	p.do("remove the sign-out form's token", chromedp.Evaluate[chromedp.Void](
		`document.querySelectorAll("button#sign-out")[0].form.querySelector("input[name=csrf]").remove()`))
	if status := p.submit("button#sign-out"); status != http.StatusForbidden {
		t.Errorf("sign-out without the token: status %d, want 403", status)
	}
	p.mustOpen("/ui/", http.StatusOK)
	if got := p.path(); got != "/ui/" {
		t.Errorf("a refused sign-out signed out: /ui/ shows %s", got)
	}

	// The same form, untouched: tracked.
	p.mustOpen("/ui/track", http.StatusOK)
	fillTrackForm(p, container, "", "")
	p.mustSubmit("form#track-form button[type=submit]", http.StatusOK)
	if n := s.referenceCount(t, accountForms); n != 1 {
		t.Errorf("the untouched form tracked %d references, want 1", n)
	}
}
