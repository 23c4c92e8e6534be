package browser_test

import (
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestEndpoint_MessagesArriveAndAResendAfterAFailure: an endpoint added through the
// form gets the account's updates, listed as succeeded messages; with the receiver
// failing, a message resent from its page (after the confirmation) gets a new
// attempt, answered 500; with the receiver fixed, another resend succeeds.
func TestEndpoint_MessagesArriveAndAResendAfterAFailure(t *testing.T) {
	t.Parallel()
	s := setup(t)
	rcv := newReceiver(t)
	p := newPerson(t, s)
	p.signIn(accountHooks)

	p.mustOpen("/ui/webhooks", http.StatusOK)
	if n := p.count("table#endpoints tr[data-endpoint-id]"); n != 0 {
		t.Fatalf("a new account lists %d endpoints", n)
	}
	p.mustSubmit("a#add-endpoint", http.StatusOK)
	p.do("fill the endpoint form",
		chromedp.WaitVisible(chromedp.CSS("form#endpoint-form")),
		chromedp.SendKeys(chromedp.CSS(`form#endpoint-form input[name=url]`), rcv.url()),
		chromedp.SendKeys(chromedp.CSS(`form#endpoint-form [name=description]`), "the browser test's receiver"),
	)
	p.mustSubmit("form#endpoint-form button[type=submit]", http.StatusOK)
	endpoint := p.path()
	epID := path.Base(endpoint)
	if !strings.HasPrefix(endpoint, "/ui/webhooks/") || !strings.HasPrefix(epID, "ep_") {
		t.Fatalf("after adding an endpoint, the browser shows %s, want /ui/webhooks/ep_...", endpoint)
	}
	p.mustOpen("/ui/webhooks", http.StatusOK)
	if got := p.attrs("table#endpoints tr[data-endpoint-id]", "data-endpoint-id"); len(got) != 1 || got[0] != epID {
		t.Errorf("the endpoints list shows %v, want [%s]", got, epID)
	}

	// A shipment of the account: its updates become the endpoint's messages.
	refID := s.track(t, accountHooks, containerID("HOOU", 2001), "")
	p.mustOpen(endpoint, http.StatusOK)
	p.mustSubmit("a#messages-tab", http.StatusOK)
	messages := p.path()
	if messages != endpoint+"/messages" {
		t.Fatalf("the messages tab leads to %s, want %s/messages", messages, endpoint)
	}
	const succeeded = `table#messages tr[data-message-id][data-status=succeeded]`
	p.until(messages, 2*time.Minute, "messages arrive", func() (bool, string) {
		return p.count(succeeded) >= 2, fmt.Sprintf("statuses %v", p.attrs("table#messages tr[data-message-id]", "data-status"))
	})
	// Paused, the shipment makes no more messages: the resends below are the only
	// requests the receiver gets.
	if status := s.call(t, accountHooks, http.MethodPost, "/references/"+refID+"/pause", nil, nil); status != http.StatusOK {
		t.Fatalf("pause %s: %d", refID, status)
	}
	p.until(messages, time.Minute, "every message delivered", func() (bool, string) {
		statuses := p.attrs("table#messages tr[data-message-id]", "data-status")
		for _, st := range statuses {
			if st != "succeeded" {
				return false, fmt.Sprintf("statuses %v", statuses)
			}
		}
		return true, ""
	})
	msgID := p.attrs(succeeded, "data-message-id")[0]

	// The status filter.
	p.do("filter on failed", chromedp.SetValue(chromedp.CSS(`form#message-filter select[name=status]`), "failed"))
	p.mustSubmit("form#message-filter button[type=submit]", http.StatusOK)
	if n := p.count("table#messages tr[data-message-id]"); n != 0 {
		t.Errorf("filtered on failed, the list shows %d messages, want none", n)
	}

	// The receiver fails; the message is resent from its page.
	p.mustOpen(messages, http.StatusOK)
	p.mustSubmit(fmt.Sprintf(`table#messages tr[data-message-id=%q] a`, msgID), http.StatusOK)
	message := p.path()
	if !strings.HasPrefix(message, messages+"/") {
		t.Fatalf("the message's link leads to %s", message)
	}
	for _, sel := range []string{"pre#message-body", "#message-headers", "table#attempts"} {
		if !p.has(sel) {
			t.Errorf("the message page has no %s\n%s", sel, p.where())
		}
	}
	const attempts = "table#attempts tbody tr"
	before := p.count(attempts)
	if before == 0 {
		t.Fatalf("a succeeded message lists no attempt\n%s", p.where())
	}
	rcv.failing.Store(true)
	p.mustSubmit("button#resend", http.StatusOK)
	p.confirm()
	p.until(message, time.Minute, "the resend's failed attempt", func() (bool, string) {
		n := p.count(attempts)
		return n > before && strings.Contains(p.text("table#attempts"), "500"), fmt.Sprintf("%d attempts (%d before)", n, before)
	})
	if rcv.answered(http.StatusInternalServerError) == 0 {
		t.Error("the receiver saw no request while failing: the attempt on the page was not the resend's")
	}

	// Fixed, the receiver takes the next resend.
	rcv.failing.Store(false)
	failed := p.count(attempts)
	p.mustSubmit("button#resend", http.StatusOK)
	p.confirm()
	p.until(message, time.Minute, "the message delivered again", func() (bool, string) {
		var status string
		p.evalInto(`(document.querySelector("[data-status]") || {dataset: {}}).dataset.status || ""`, &status)
		n := p.count(attempts)
		return n > failed && p.has(`[data-status=succeeded]`), fmt.Sprintf("%d attempts (%d before), status %q", n, failed, status)
	})
}

// TestEndpointSecret_RotateKeepsTwoLiveSecrets: the endpoint's secret is masked until
// revealed; rotating it with a grace period (after the confirmation) leaves two live
// secrets, both listed, the old one with its end.
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

	p := newPerson(t, s)
	p.signIn(accountSecrets)
	endpoint := "/ui/webhooks/" + epID
	p.mustOpen(endpoint, http.StatusOK)
	if !p.has("#secret") || p.has("#secret-value") {
		t.Fatalf("the endpoint page should show #secret masked and no #secret-value before a reveal\n%s", p.where())
	}
	if strings.Contains(p.text("body"), old[0]) {
		t.Fatal("the endpoint page shows the secret before a reveal")
	}
	p.mustSubmit("button#reveal-secret", http.StatusOK)
	if got := p.text("#secret-value"); !strings.Contains(got, old[0]) {
		t.Errorf("the revealed secret is %q, want the endpoint's", got)
	}
	if !p.has("#secret-value button[data-copy], button[data-copy]") {
		t.Error("the revealed secret has no copy button")
	}

	p.mustOpen(endpoint, http.StatusOK)
	var graces []string
	p.evalInto(`Array.from(document.querySelectorAll("form#rotate-secret select[name=grace_seconds] option"), o => o.value)`, &graces)
	grace := ""
	for _, g := range graces {
		if g != "" && g != "0" {
			grace = g
			break
		}
	}
	if grace == "" {
		t.Fatalf("the rotate form offers no grace period: %v", graces)
	}
	p.do("choose a grace period", chromedp.SetValue(chromedp.CSS("form#rotate-secret select[name=grace_seconds]"), grace))
	p.mustSubmit("form#rotate-secret button[type=submit]", http.StatusOK)
	if got := secrets(); len(got) != 1 || got[0] != old[0] {
		t.Fatal("the rotate form rotated before its confirmation")
	}
	p.confirm()
	now := secrets()
	if len(now) != 2 || !slices.Contains(now, old[0]) {
		t.Fatalf("after the rotation the endpoint has %d secrets (old kept: %v), want 2 with the old one", len(now), slices.Contains(now, old[0]))
	}
	p.mustOpen(endpoint, http.StatusOK)
	p.mustSubmit("button#reveal-secret", http.StatusOK)
	shown := p.text("#secret-value")
	for _, sec := range now {
		if !strings.Contains(shown, sec) {
			t.Errorf("after the rotation the revealed secrets do not list both live secrets\n%s", p.where())
			break
		}
	}
}
