package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

func (r *rig) get(acct, id string) references.Reference {
	r.t.Helper()
	ref, err := r.svc.Get(context.Background(), acct, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return ref
}

// noticeOfRedirect returns the notice a 303 back to the shipment page shows there.
func noticeOfRedirect(t *testing.T, b *browser, res page, refID string) string {
	t.Helper()
	return b.followNotice(res, "/ui/shipments/"+refID)
}

// buttons returns which action buttons the page offers.
func buttons(body string) map[string]bool {
	out := map[string]bool{}
	for _, id := range []string{"refresh", "pause", "resume", "unsubscribe"} {
		out[id] = strings.Contains(body, `id="`+id+`"`)
	}
	out["resend"] = strings.Contains(body, `class="resend inline"`)
	return out
}

func TestShipmentActions_RefreshAndItsRateRule(t *testing.T) {
	r := newRig(t)
	ref := r.container(accountA, "MSCU1234566")
	b := r.signIn(r.keyA)
	path := "/ui/shipments/" + ref.ID + "/refresh"
	if n := noticeOfRedirect(t, b, b.post(path, nil), ref.ID); !strings.HasPrefix(n, "Refresh asked") {
		t.Errorf("notice %q", n)
	}
	if got := r.get(accountA, ref.ID); got.LastRefreshAt == nil {
		t.Error("no refresh recorded")
	}
	r.clock.Advance(20 * time.Second)
	if n := noticeOfRedirect(t, b, b.post(path, nil), ref.ID); n != "Not refreshed: one refresh a minute is allowed; try again in 40 s." {
		t.Errorf("notice %q", n)
	}
	r.clock.Advance(40 * time.Second)
	if n := noticeOfRedirect(t, b, b.post(path, nil), ref.ID); !strings.HasPrefix(n, "Refresh asked") {
		t.Errorf("after a minute: %q", n)
	}
	// The notice shows on the page it goes back to, once.
	res := b.post(path, nil)
	if page := b.get(res.location); !strings.Contains(page.body, `<p class="notice" role="status">Not refreshed`) {
		t.Error("the notice is not on the page")
	}
	if page := b.get(res.location); strings.Contains(page.body, `class="notice"`) {
		t.Error("the notice shows again on a reload")
	}
}

func TestShipmentActions_PauseAndResumeAreShownByState(t *testing.T) {
	r := newRig(t)
	ref := r.container(accountA, "MSCU1234566")
	b := r.signIn(r.keyA)
	page := "/ui/shipments/" + ref.ID
	if got := buttons(b.get(page).body); !got["refresh"] || !got["pause"] || got["resume"] || !got["unsubscribe"] {
		t.Errorf("active: %v", got)
	}
	if n := noticeOfRedirect(t, b, b.post(page+"/pause", nil), ref.ID); !strings.HasPrefix(n, "Paused") {
		t.Errorf("notice %q", n)
	}
	if got := r.get(accountA, ref.ID); got.Status != references.StatusPaused {
		t.Fatalf("status %s", got.Status)
	}
	if got := buttons(b.get(page).body); got["refresh"] || got["pause"] || !got["resume"] || !got["unsubscribe"] {
		t.Errorf("paused: %v", got)
	}
	// Refreshing a paused reference is the reference's state, said as a notice.
	if n := noticeOfRedirect(t, b, b.post(page+"/refresh", nil), ref.ID); !strings.Contains(n, "is paused") {
		t.Errorf("refresh while paused: %q", n)
	}
	if n := noticeOfRedirect(t, b, b.post(page+"/resume", nil), ref.ID); !strings.HasPrefix(n, "Resumed") {
		t.Errorf("notice %q", n)
	}
	if got := r.get(accountA, ref.ID); got.Status != references.StatusActive {
		t.Fatalf("status %s", got.Status)
	}
}

func TestShipmentActions_UnsubscribeAsksFirst(t *testing.T) {
	r := newRig(t)
	ref := r.container(accountA, "MSCU1234566")
	b := r.signIn(r.keyA)
	path := "/ui/shipments/" + ref.ID + "/unsubscribe"
	res := b.post(path, nil)
	if res.status != http.StatusOK || !strings.Contains(res.body, `<form method="post" action="`+path+`" id="confirm-form">`) ||
		!strings.Contains(res.body, "Stop tracking MSCU1234566?") || !strings.Contains(res.body, `href="/ui/shipments/`+ref.ID+`" id="cancel"`) {
		t.Fatalf("no confirmation: %d\n%s", res.status, res.body)
	}
	if got := r.get(accountA, ref.ID); got.Status != references.StatusActive {
		t.Fatalf("unsubscribed before the confirmation: %s", got.Status)
	}
	if n := noticeOfRedirect(t, b, b.post(path, url.Values{"confirm": {"yes"}}), ref.ID); !strings.HasPrefix(n, "Unsubscribed") {
		t.Errorf("notice %q", n)
	}
	got := r.get(accountA, ref.ID)
	if got.Status != references.StatusUnsubscribed || got.UnsubscribeReason != references.ReasonUser {
		t.Fatalf("status %s (%s)", got.Status, got.UnsubscribeReason)
	}
	body := b.get("/ui/shipments/" + ref.ID).body
	if bs := buttons(body); bs["refresh"] || bs["pause"] || bs["resume"] || bs["unsubscribe"] {
		t.Errorf("unsubscribed: %v", bs)
	}
	if !strings.Contains(element(body, "dd", "ref-status"), "(user)") || !strings.Contains(element(body, "ul", "feed"), "Tracking stopped: user") {
		t.Error("the page does not say why tracking stopped")
	}
}

func TestShipmentActions_ResendAsksFirstThenSendsTheUpdateAgain(t *testing.T) {
	r := newRig(t)
	now := r.clock.Now()
	rc := r.receiver()
	ref := r.track(accountA, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: "MAEU", CallbackURL: rc.srv.URL})
	r.recordPoll(ref.ID, voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour), "MSCU1234566"), "")
	if out := r.deliver(ref.ID); out != references.OutcomeDelivered {
		t.Fatalf("delivery: %s", out)
	}
	ups, err := r.svc.Updates(context.Background(), accountA, ref.ID, 0, 10)
	if err != nil || len(ups.Updates) != 1 {
		t.Fatal(ups, err)
	}
	upd := ups.Updates[0].ID
	b := r.signIn(r.keyA)
	path := "/ui/shipments/" + ref.ID + "/updates/" + upd + "/resend"
	if !strings.Contains(b.get("/ui/shipments/"+ref.ID).body, `action="`+path+`" class="resend inline"`) {
		t.Fatal("no resend form for the update")
	}
	res := b.post(path, nil)
	if res.status != http.StatusOK || !strings.Contains(res.body, `id="confirm-form"`) || !strings.Contains(res.body, "Send update "+upd) {
		t.Fatalf("no confirmation: %d\n%s", res.status, res.body)
	}
	if n := noticeOfRedirect(t, b, b.post(path, url.Values{"confirm": {"yes"}}), ref.ID); !strings.Contains(n, "queued to be sent again") {
		t.Errorf("notice %q", n)
	}
	posts := rc.posts.Load()
	r.deliverAll()
	if rc.posts.Load() != posts+1 {
		t.Fatalf("the receiver got %d posts after the resend, want 1", rc.posts.Load()-posts)
	}
	if cb := element(b.get("/ui/shipments/"+ref.ID).body, "section", "deliveries"); !strings.Contains(cb, `<span class="muted">resent</span>`) {
		t.Errorf("the log does not show the resend:\n%s", cb)
	}
	// An update that is not the reference's.
	if res := b.post("/ui/shipments/"+ref.ID+"/updates/upd_NOPE/resend", url.Values{"confirm": {"yes"}}); res.status != http.StatusNotFound {
		t.Errorf("unknown update: %d", res.status)
	}
}

func TestShipmentActions_ResendWithoutACallbackSaysWhy(t *testing.T) {
	r := newRig(t)
	now := r.clock.Now()
	ref := r.container(accountA, "MSCU1234566")
	r.recordPoll(ref.ID, voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour), "MSCU1234566"), "")
	b := r.signIn(r.keyA)
	body := b.get("/ui/shipments/" + ref.ID).body
	if buttons(body)["resend"] {
		t.Error("resend offered without a callback")
	}
	upd := updateLI.FindStringSubmatch(body)
	ups, _ := r.svc.Updates(context.Background(), accountA, ref.ID, 0, 10)
	if upd == nil || len(ups.Updates) != 1 {
		t.Fatal("no update")
	}
	res := b.post("/ui/shipments/"+ref.ID+"/updates/"+ups.Updates[0].ID+"/resend", url.Values{"confirm": {"yes"}})
	if n := noticeOfRedirect(t, b, res, ref.ID); !strings.HasPrefix(n, "Not done: the reference has no callback_url") {
		t.Errorf("notice %q", n)
	}
}

// TestShipmentPages_AnotherAccountsReferenceIs404 tries every shipment route of
// account A's reference as account B: each is 404, before any confirmation, and
// nothing changes.
func TestShipmentPages_AnotherAccountsReferenceIs404(t *testing.T) {
	r := newRig(t)
	now := r.clock.Now()
	ref := r.track(accountA, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: "MAEU", CallbackURL: "https://example.com/h"})
	r.recordPoll(ref.ID, voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour), "MSCU1234566"), "")
	ups, _ := r.svc.Updates(context.Background(), accountA, ref.ID, 0, 10)
	upd := ups.Updates[0].ID
	before := r.get(accountA, ref.ID)
	b := r.signIn(r.keyB)
	base := "/ui/shipments/" + ref.ID
	for _, path := range []string{base, base + "?feed_before=1", base + "?deliveries=AAAAAAAAAAE"} {
		if res := b.get(path); res.status != http.StatusNotFound || strings.Contains(res.body, "MSCU1234566") {
			t.Errorf("GET %s: %d", path, res.status)
		}
	}
	for _, path := range []string{base + "/refresh", base + "/pause", base + "/resume", base + "/unsubscribe", base + "/updates/" + upd + "/resend"} {
		for _, form := range []url.Values{nil, {"confirm": {"yes"}}} {
			if res := b.post(path, form); res.status != http.StatusNotFound || strings.Contains(res.body, "MSCU1234566") {
				t.Errorf("POST %s %v: %d", path, form, res.status)
			}
		}
	}
	after := r.get(accountA, ref.ID)
	if after.Status != before.Status || after.LastRefreshAt != nil || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("A's reference changed: %+v", after)
	}
}

func TestShipmentActions_ReadKeySeesNoActionsAndMayNotPost(t *testing.T) {
	r := newRig(t)
	now := r.clock.Now()
	ref := r.track(accountA, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: "MAEU", CallbackURL: "https://example.com/h"})
	r.recordPoll(ref.ID, voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour), "MSCU1234566"), "")
	ups, _ := r.svc.Updates(context.Background(), accountA, ref.ID, 0, 10)
	b := r.signIn(r.readKey(accountA))
	res := b.get("/ui/shipments/" + ref.ID)
	if res.status != http.StatusOK {
		t.Fatalf("%d", res.status)
	}
	for name, shown := range buttons(res.body) {
		if shown {
			t.Errorf("a read key is offered %s", name)
		}
	}
	base := "/ui/shipments/" + ref.ID
	for _, path := range []string{base + "/refresh", base + "/pause", base + "/resume", base + "/unsubscribe", base + "/updates/" + ups.Updates[0].ID + "/resend"} {
		if res := b.post(path, url.Values{"confirm": {"yes"}}); res.status != http.StatusForbidden {
			t.Errorf("POST %s with a read key: %d", path, res.status)
		}
	}
	// A write key's form without its CSRF token is refused as well.
	w := r.signIn(r.keyA)
	for _, path := range []string{base + "/pause", base + "/unsubscribe"} {
		if res := w.postRaw(path, url.Values{"confirm": {"yes"}}); res.status != http.StatusForbidden {
			t.Errorf("POST %s without CSRF: %d", path, res.status)
		}
	}
	if got := r.get(accountA, ref.ID); got.Status != references.StatusActive || got.LastRefreshAt != nil {
		t.Errorf("the reference changed: %s", got.Status)
	}
}
