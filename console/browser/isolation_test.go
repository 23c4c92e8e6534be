package browser_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestIsolation_AnotherAccountSeesNothing: account bravo's browser gets 404 on every
// page of account alpha's shipment and endpoint, even with the URLs in hand, its
// lists are empty, and its posts on alpha's shipment are 404 and change nothing;
// alpha's browser opens the same pages (so the 404s are not broken pages).
func TestIsolation_AnotherAccountSeesNothing(t *testing.T) {
	t.Parallel()
	s := setup(t)
	container := containerID("ALFU", 3001)
	refID := s.track(t, accountAlpha, container, "")
	epID := s.addEndpoint(t, accountAlpha, newReceiver(t).url())
	alphaPages := []string{
		"/ui/shipments/" + refID,
		"/ui/webhooks/" + epID,
		"/ui/webhooks/" + epID + "/edit",
		"/ui/webhooks/" + epID + "/messages",
	}

	alpha := newPerson(t, s)
	alpha.signIn(accountAlpha)
	for _, pg := range alphaPages {
		alpha.mustOpen(pg, http.StatusOK)
	}

	bravo := newPerson(t, s)
	bravo.signIn(accountBravo)
	bravo.hide("alpha's container", container)
	for _, pg := range alphaPages {
		if status := bravo.open(pg); status != http.StatusNotFound {
			t.Errorf("bravo opens alpha's %s: status %d, want 404", pg, status)
		}
	}
	// A post on alpha's shipment with bravo's own session and CSRF token: 404.
	bravo.mustOpen("/ui/track", http.StatusOK)
	bravo.do("make a form that unsubscribes alpha's shipment", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const f = document.createElement("form");
		f.method = "post";
		f.action = %s;
		f.id = "forged";
		for (const [k, v] of [["csrf", document.querySelector("input[name=csrf]").value], ["confirm", "yes"]]) {
			const i = document.createElement("input");
			i.type = "hidden"; i.name = k; i.value = v;
			f.appendChild(i);
		}
		const b = document.createElement("button");
		b.type = "submit"; b.id = "forged-submit"; b.textContent = "go";
		f.appendChild(b);
		document.body.appendChild(f);
	})()`, jsString("/ui/shipments/"+refID+"/unsubscribe"))))
	if status := bravo.submit("button#forged-submit"); status != http.StatusNotFound {
		t.Errorf("bravo unsubscribes alpha's shipment: status %d, want 404", status)
	}
	// Alpha's ids were in the URLs bravo typed; from now on no page may show them.
	bravo.hide("alpha's reference id", refID)
	bravo.hide("alpha's endpoint id", epID)
	bravo.mustOpen("/ui/", http.StatusOK)
	if n := bravo.count("table#shipments tr[data-ref-id]"); n != 0 {
		t.Errorf("bravo's shipments list shows %d rows, want none", n)
	}
	bravo.mustOpen("/ui/webhooks", http.StatusOK)
	if n := bravo.count("table#endpoints tr[data-endpoint-id]"); n != 0 {
		t.Errorf("bravo's endpoints list shows %d rows, want none", n)
	}
	// The CSV export is a download, which the browser would only save: fetched
	// with bravo's session cookie instead.
	status, csv := bravo.fetch("/ui/shipments.csv")
	if status != http.StatusOK || strings.Contains(csv, refID) || strings.Contains(csv, container) {
		t.Errorf("bravo's CSV export: status %d, holds alpha's shipment: %v", status, strings.Contains(csv, container))
	}

	var ref struct {
		Status string `json:"status"`
	}
	if status := s.call(t, accountAlpha, http.MethodGet, "/references/"+refID, nil, &ref); status != http.StatusOK || ref.Status == "unsubscribed" {
		t.Errorf("alpha's shipment after bravo's post: %d, status %q", status, ref.Status)
	}
}
