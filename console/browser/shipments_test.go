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

// TestTrack_TimelineFillsAsTheVoyageAdvances: a container tracked through the form
// (an invalid one first: the form comes back with the API's message next to the
// field, and nothing is tracked) opens its shipment page, whose timeline gains
// actual milestones as the demo voyage advances while the page is reloaded; the
// callback receiver gets its updates; refresh, pause and resume work from the page;
// the list shows it with two more, finds it by identifier and links to it.
func TestTrack_TimelineFillsAsTheVoyageAdvances(t *testing.T) {
	t.Parallel()
	s := setup(t)
	callback := newReceiver(t)
	// Two shipments tracked through the API first, so that the list shows voyages
	// under way when the test comes back to it.
	s.track(t, accountShips, containerID("SHPU", 1002), "")
	s.track(t, accountShips, containerID("SHPU", 1003), callback.url())
	p := newPerson(t, s)
	p.signIn(accountShips)

	p.mustSubmit("a#track-link", http.StatusOK)
	good := containerID("SHPU", 1001)
	bad := good[:10] + fmt.Sprint((good[10]-'0'+1)%10) // a wrong check digit
	fillTrackForm(p, bad, callback.url(), "po=4711\nteam=ops")
	if status := p.submit("form#track-form button[type=submit]"); status != http.StatusUnprocessableEntity {
		t.Fatalf("track %s (wrong check digit): status %d, want 422\n%s", bad, status, p.where())
	}
	if !p.has("p.field-error#error-identifier") {
		t.Errorf("the refused form shows no p.field-error#error-identifier\n%s", p.where())
	}
	if n := s.referenceCount(t, accountShips); n != 2 {
		t.Fatalf("after a refused form the account has %d references, want the 2 tracked before", n)
	}

	fillTrackForm(p, good, callback.url(), "po=4711\nteam=ops")
	p.mustSubmit("form#track-form button[type=submit]", http.StatusOK)
	detail := p.path()
	refID := path.Base(detail)
	if !strings.HasPrefix(detail, "/ui/shipments/") || !strings.HasPrefix(refID, "ref_") {
		t.Fatalf("after tracking, the browser shows %s, want /ui/shipments/ref_...", detail)
	}
	var ref struct {
		ContainerID string            `json:"container_id"`
		CallbackURL string            `json:"callback_url"`
		Metadata    map[string]string `json:"metadata"`
	}
	if status := s.call(t, accountShips, http.MethodGet, "/references/"+refID, nil, &ref); status != http.StatusOK {
		t.Fatalf("GET /references/%s: %d", refID, status)
	}
	if ref.ContainerID != good || ref.CallbackURL != callback.url() || ref.Metadata["po"] != "4711" || ref.Metadata["team"] != "ops" || len(ref.Metadata) != 2 {
		t.Errorf("the form tracked %+v, want container %s, callback %s, metadata po=4711 team=ops", ref, good, callback.url())
	}

	// The timeline fills: reload until the count of actual milestones has grown
	// twice. The voyage plays in about a minute (--demo-speed); the bound is generous.
	const act = "ol#timeline li.milestone[data-classifier=ACT]"
	first := -1
	var seen []int
	p.until(detail, 3*time.Minute, "the timeline gains actual milestones", func() (bool, string) {
		n := p.count(act)
		if first < 0 {
			first = n
		}
		if len(seen) == 0 || n != seen[len(seen)-1] {
			seen = append(seen, n)
		}
		return len(seen) >= 3 && n > first, fmt.Sprintf("actual milestones seen: %v", seen)
	})
	t.Logf("actual milestones seen on reloads: %v", seen)
	for _, sel := range []string{"#route", "ol#timeline li.milestone[data-classifier=PLN], ol#timeline li.milestone[data-classifier=EST]", "ul#feed li.update[data-sequence]", "#deliveries", "#eta-chart svg, svg#eta-chart"} {
		if !p.has(sel) {
			t.Errorf("the shipment page has no %s\n%s", sel, p.where())
		}
	}
	if callback.answered(http.StatusNoContent) == 0 {
		t.Error("the callback receiver got no update")
	}

	// Refresh, pause, resume from the page.
	p.mustSubmit("button#refresh", http.StatusOK)
	if got := p.path(); got != detail {
		t.Errorf("refresh led to %s, want %s", got, detail)
	}
	if p.has("button#pause") { // a reference whose voyage ended cannot be paused
		p.mustSubmit("button#pause", http.StatusOK)
		if !p.has("button#resume") {
			t.Errorf("a paused shipment offers no resume\n%s", p.where())
		}
		p.mustSubmit("button#resume", http.StatusOK)
		if !p.has("button#pause") {
			t.Errorf("resume did not take\n%s", p.where())
		}
	}

	// The list: all three shipments, one found by identifier and linked to its page.
	p.mustOpen("/ui/", http.StatusOK)
	if got := p.attrs("table#shipments tr[data-ref-id]", "data-ref-id"); len(got) != 3 {
		t.Errorf("the list shows references %v, want 3", got)
	}
	for _, sel := range []string{"form#filters", "#counts", "a#export-csv"} {
		if !p.has(sel) {
			t.Errorf("the shipments page has no %s", sel)
		}
	}
	p.do("search by identifier", chromedp.SendKeys(chromedp.CSS(`form#filters input[name=q]`), good))
	p.mustSubmit("form#filters button[type=submit]", http.StatusOK)
	if got := p.attrs("table#shipments tr[data-ref-id]", "data-ref-id"); len(got) != 1 || got[0] != refID {
		t.Fatalf("searching %s lists %v, want [%s]", good, got, refID)
	}
	p.mustSubmit(fmt.Sprintf(`table#shipments tr[data-ref-id=%q] a[href=%q]`, refID, detail), http.StatusOK)
	if got := p.path(); got != detail {
		t.Errorf("the row's link leads to %s, want %s", got, detail)
	}
}

// fillTrackForm fills the track form (a container of the demo carrier) as a person
// types it, replacing what the fields hold.
func fillTrackForm(p *person, container, callback, metadata string) {
	p.t.Helper()
	p.do("find the track form", chromedp.WaitVisible(chromedp.CSS("form#track-form")))
	p.do("choose a container", chromedp.SetValue(chromedp.CSS("select#kind"), "container_id"))
	p.do("type the identifier", typeInto("input#identifier", container))
	p.do("type the carrier", typeInto("input#carrier", "DEMO"))
	p.do("type the callback", typeInto("input#callback", callback))
	p.do("type the metadata", typeInto("textarea#metadata", metadata))
}
