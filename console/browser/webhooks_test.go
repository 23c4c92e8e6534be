package browser_test

import (
	"fmt"
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestEndpoint_MessagesArriveAndAResendAfterAFailure: an endpoint added through the
// form gets the account's updates, listed as succeeded messages; once the voyage is
// over and with the receiver failing, a message resent from its page (after the
// confirmation) gets a new attempt, answered 500; with the receiver fixed, another
// resend succeeds.
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
	// Once the voyage is over the shipment makes no more messages, and the resends
	// below are the only requests the receiver gets. (Pausing it would hold its
	// deliveries, resends included.)
	p.until(messages, 3*time.Minute, "the voyage over and every message delivered", func() (bool, string) {
		var ref struct {
			Status string `json:"status"`
		}
		if status := s.call(t, accountHooks, http.MethodGet, "/references/"+refID, nil, &ref); status != http.StatusOK {
			t.Fatalf("GET /references/%s: %d", refID, status)
		}
		statuses := p.attrs("table#messages tr[data-message-id]", "data-status")
		for _, st := range statuses {
			if st != "succeeded" {
				return false, fmt.Sprintf("reference %s, messages %v", ref.Status, statuses)
			}
		}
		return ref.Status != "active", fmt.Sprintf("reference %s, messages %v", ref.Status, statuses)
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
		n, status := p.count(attempts), p.text("#message-status")
		return n > before && strings.Contains(p.text("table#attempts"), "500"), fmt.Sprintf("%d attempts (%d before), status %q", n, before, status)
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
		n, status := p.count(attempts), p.text("#message-status")
		return n > failed && status == "succeeded", fmt.Sprintf("%d attempts (%d before), status %q", n, failed, status)
	})
}
