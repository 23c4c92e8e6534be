package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/trackhook/trackhook/references"
)

// epMessagesSetup is an endpoint of account A with three messages of one
// reference, newest first: pending, failed (given up after a 500), succeeded.
func epMessagesSetup(t *testing.T) (*rig, references.Endpoint, []string) {
	r := newRig(t)
	ep := r.epCreate(t, accountA, epHook)
	ref := r.epTrack(t, accountA, "BK200001")
	r.epSeedUpdates(t, ref.ID, 3)
	first := r.epAttempt(t, ep.ID, false, epDelivered(40))
	second := r.epAttempt(t, ep.ID, false, epGaveUp(900))
	page, err := r.svc.Messages(context.Background(), accountA, ep.ID, references.MessageQuery{})
	if err != nil || len(page.Messages) != 3 {
		t.Fatalf("messages: %v %d", err, len(page.Messages))
	}
	third := page.Messages[0].ID
	return r, ep, []string{third, second, first}
}

func TestMessages_ListFiltersByStatus(t *testing.T) {
	r, ep, ids := epMessagesSetup(t)
	retry := r.clock.Now().Add(10 * time.Minute)
	r.epAttempt(t, ep.ID, false, references.DeliveryAttempt{StatusCode: 503, LatencyMS: 3, Outcome: references.OutcomeFailed, NextRetryAt: &retry})
	ref := r.epTrack(t, accountA, "BK200003")
	r.clock.Advance(time.Second)
	r.epSeedUpdates(t, ref.ID, 1)
	page, err := r.svc.Messages(context.Background(), accountA, ep.ID, references.MessageQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	ids = append([]string{page.Messages[0].ID}, ids...) // pending, sending, failed, succeeded
	b := r.signIn(r.keyA)
	tests := []struct {
		status string
		want   []string
	}{
		{"", ids},
		{"pending", ids[:1]},
		{"sending", ids[1:2]},
		{"failed", ids[2:3]},
		{"succeeded", ids[3:]},
	}
	for _, tt := range tests {
		t.Run("status="+tt.status, func(t *testing.T) {
			p := b.get("/ui/webhooks/" + ep.ID + "/messages?status=" + tt.status)
			if p.status != http.StatusOK {
				t.Fatalf("%d %s", p.status, p.body)
			}
			if got := epRowIDs(t, p, "data-message-id"); !slices.Equal(got, tt.want) {
				t.Errorf("rows %v, want %v", got, tt.want)
			}
			doc := epDoc(t, p)
			for _, row := range epFind(doc, epHas("data-message-id", "")) {
				if tt.status != "" && epAttr(row, "data-status") != tt.status {
					t.Errorf("row %s has status %s", epAttr(row, "data-message-id"), epAttr(row, "data-status"))
				}
			}
			// The filter shows what is chosen.
			sel := epFind(epByID(doc, "message-filter"), func(n *html.Node) bool { return n.Data == "option" && epHas("selected", "")(n) })
			if len(sel) != 1 || epAttr(sel[0], "value") != tt.status {
				t.Errorf("selected option %v", sel)
			}
		})
	}

	p := b.get("/ui/webhooks/" + ep.ID + "/messages")
	rows := epFind(epDoc(t, p), epHas("data-message-id", ""))
	failed := epText(rows[2])
	for _, want := range []string{"shipment.updated", "failed", "gave_up", "500", "HTTP 500"} {
		if !strings.Contains(failed, want) {
			t.Errorf("failed row %q lacks %q", failed, want)
		}
	}
	if sending := epText(rows[1]); !strings.Contains(sending, "retry in 9 min") || !strings.Contains(sending, "503") {
		t.Errorf("the row being retried %q does not say when, or its answer", sending)
	}
	for i, want := range []string{"pending", "sending", "failed", "succeeded"} {
		if got := epAttr(rows[i], "data-status"); got != want {
			t.Errorf("row %d: data-status %q, want %q", i, got, want)
		}
	}

	p = b.get("/ui/webhooks/" + ep.ID + "/messages?status=lost")
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(epFieldError(t, p, "status"), "must be one of") {
		t.Errorf("unknown status: %d, error %q", p.status, epFieldError(t, p, "status"))
	}
	p = b.get("/ui/webhooks/" + ep.ID + "/messages?cursor=nonsense")
	if p.status != http.StatusUnprocessableEntity || epFieldError(t, p, "cursor") == "" {
		t.Errorf("bad cursor: %d, error %q", p.status, epFieldError(t, p, "cursor"))
	}
}

func TestMessages_ListPagesWithTheCursor(t *testing.T) {
	r := newRig(t)
	ep := r.epCreate(t, accountA, epHook)
	ref := r.epTrack(t, accountA, "BK200002")
	r.epSeedUpdates(t, ref.ID, references.DefaultPageSize+5)
	b := r.signIn(r.keyA)

	p := b.get("/ui/webhooks/" + ep.ID + "/messages")
	first := epRowIDs(t, p, "data-message-id")
	if len(first) != references.DefaultPageSize {
		t.Fatalf("first page has %d rows", len(first))
	}
	next := epByID(epDoc(t, p), "next-page")
	if next == nil {
		t.Fatal("no a#next-page")
	}
	p = b.get(epAttr(next, "href"))
	second := epRowIDs(t, p, "data-message-id")
	if len(second) != 5 || slices.ContainsFunc(second, func(id string) bool { return slices.Contains(first, id) }) {
		t.Errorf("second page %v overlaps or is not the last 5", second)
	}
	if epByID(epDoc(t, p), "next-page") != nil || epByID(epDoc(t, p), "first-page") == nil {
		t.Error("the last page offers a next page, or no way back")
	}
}

func TestMessages_ViewShowsBodyHeadersAndEveryAttempt(t *testing.T) {
	r, ep, ids := epMessagesSetup(t)
	b := r.signIn(r.keyA)
	p := b.get("/ui/webhooks/" + ep.ID + "/messages/" + ids[1])
	if p.status != http.StatusOK {
		t.Fatalf("message: %d %s", p.status, p.body)
	}
	var body struct {
		Type string `json:"type"`
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	raw := epMustID(t, p, "message-body")
	if err := json.Unmarshal([]byte(raw), &body); err != nil || body.Type != "shipment.updated" || body.Data.ID != ids[1] {
		t.Errorf("#message-body is not the update's webhook body (%v): %s", err, raw)
	}
	if pre := epByID(epDoc(t, p), "message-body"); pre.Data != "pre" || pre.FirstChild == nil ||
		!strings.Contains(pre.FirstChild.Data, "\n  \"type\": \"shipment.updated\"") {
		t.Error("#message-body is not a pre with the body indented")
	}
	headers := epMustID(t, p, "message-headers")
	for _, want := range []string{"webhook-id " + ids[1], "webhook-timestamp", "webhook-signature v1,"} {
		if !strings.Contains(headers, want) {
			t.Errorf("#message-headers %q lacks %q", headers, want)
		}
	}
	for _, s := range r.epGet(t, accountA, ep.ID).Secrets {
		if strings.Contains(p.body, s.Secret) {
			t.Error("the message page shows a secret")
		}
	}
	rows := epFind(epByID(epDoc(t, p), "attempts"), epHas("data-attempt", ""))
	if len(rows) != 1 {
		t.Fatalf("%d attempts shown, want 1", len(rows))
	}
	for _, want := range []string{"500", "900 ms", "gave_up", "oops <b>", "HTTP 500", "2026-03-01 12:00:00 UTC"} {
		if !strings.Contains(epText(rows[0]), want) {
			t.Errorf("attempt row %q lacks %q", epText(rows[0]), want)
		}
	}
	if strings.Contains(p.body, "oops <b>") {
		t.Error("the response body is not escaped")
	}
	if epByID(epDoc(t, p), "resend") == nil {
		t.Error("no button#resend for a write key")
	}
	if p := b.get("/ui/webhooks/" + ep.ID + "/messages/upd_nothing"); p.status != http.StatusNotFound {
		t.Errorf("unknown message: %d", p.status)
	}
}

func TestMessages_ResendAsksFirstAndQueuesTheMessage(t *testing.T) {
	r, ep, ids := epMessagesSetup(t)
	b := r.signIn(r.keyA)
	path := "/ui/webhooks/" + ep.ID + "/messages/" + ids[1] + "/resend"
	p := b.post(path, url.Values{})
	if p.status != http.StatusOK || !strings.Contains(epMustID(t, p, "confirm-question"), ids[1]) {
		t.Fatalf("resend without confirm: %d, want a confirmation:\n%s", p.status, p.body)
	}
	p = b.post(path, url.Values{"confirm": {"yes"}})
	if n := b.followNotice(p, "/ui/webhooks/"+ep.ID+"/messages/"+ids[1]); n != "Message queued to be sent again." {
		t.Fatalf("resend: notice %q", n)
	}
	// The resend is due now: deliver it, and the failed message succeeded.
	if got := r.epAttempt(t, ep.ID, true, epDelivered(7)); got != ids[1] {
		t.Fatalf("the resend due is of %s, want %s", got, ids[1])
	}
	page := b.get("/ui/webhooks/" + ep.ID + "/messages/" + ids[1])
	if got := epMustID(t, page, "message-status"); got != "succeeded" || epAttr(epByID(epDoc(t, page), "message-status"), "data-status") != "succeeded" {
		t.Errorf("after the resend the message is %q", got)
	}
	if rows := epFind(epByID(epDoc(t, page), "attempts"), epHas("data-attempt", "")); len(rows) != 2 || !strings.Contains(epText(rows[1]), "resend") {
		t.Errorf("the attempts do not show the resend")
	}
}

// TestWebhooks_AnotherAccountsEndpointIsNotFound: account B gets 404 on every page and
// action of A's endpoint, and nothing of A's changes.
func TestWebhooks_AnotherAccountsEndpointIsNotFound(t *testing.T) {
	base, ep, ids := epMessagesSetup(t)
	r := base.epWithTestSender(t)
	b := r.signIn(r.keyB)
	prefix := "/ui/webhooks/" + ep.ID
	for _, path := range []string{prefix, prefix + "/edit", prefix + "/messages", prefix + "/messages/" + ids[0]} {
		if p := b.get(path); p.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, p.status)
		}
	}
	confirm := url.Values{"confirm": {"yes"}}
	for path, form := range map[string]url.Values{
		prefix:                    epForm("http://127.0.0.1:9/stolen"),
		prefix + "/delete":        confirm,
		prefix + "/secret/reveal": {},
		prefix + "/secret/rotate": {"grace_seconds": {"0"}, "confirm": {"yes"}},
		prefix + "/test":          {},
		prefix + "/recover":       {"since_ago": {"24h"}},
		prefix + "/messages/" + ids[1] + "/resend": confirm,
	} {
		p := b.post(path, form)
		if p.status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, p.status)
		}
		for _, s := range ep.Secrets {
			if strings.Contains(p.body, s.Secret) {
				t.Errorf("POST %s shows A's secret", path)
			}
		}
	}
	after := r.epGet(t, accountA, ep.ID)
	if after.URL != ep.URL || len(after.Secrets) != 1 || after.Secrets[0].Secret != ep.Secrets[0].Secret {
		t.Errorf("A's endpoint changed: %+v", after)
	}
	if p := b.get("/ui/webhooks"); slices.Contains(epRowIDs(t, p, "data-endpoint-id"), ep.ID) {
		t.Error("B's list shows A's endpoint")
	}
	claims, err := r.db.ClaimDueDeliveries(context.Background(), epOwner, 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range claims {
		if c.Job.Redelivery {
			t.Errorf("B's resend or recover queued %s", c.Job.MessageID())
		}
	}
}

// TestWebhooks_FormsNeedTheCSRFToken: every action of the webhooks pages is refused
// without the session's token, before anything changes.
func TestWebhooks_FormsNeedTheCSRFToken(t *testing.T) {
	r, ep, ids := epMessagesSetup(t)
	b := r.signIn(r.keyA)
	prefix := "/ui/webhooks/" + ep.ID
	for path, form := range map[string]url.Values{
		"/ui/webhooks":            epForm("http://127.0.0.1:9/new"),
		prefix:                    epForm("http://127.0.0.1:9/changed"),
		prefix + "/delete":        {"confirm": {"yes"}},
		prefix + "/secret/reveal": {},
		prefix + "/secret/rotate": {"grace_seconds": {"0"}, "confirm": {"yes"}},
		prefix + "/test":          {},
		prefix + "/recover":       {"since_ago": {"24h"}},
		prefix + "/messages/" + ids[1] + "/resend": {"confirm": {"yes"}},
	} {
		for name, token := range map[string]string{"none": "", "wrong": "x" + b.csrf} {
			f := cloneValues(form)
			if token != "" {
				f.Set("csrf", token)
			}
			p := b.postRaw(path, f)
			if p.status != http.StatusForbidden {
				t.Errorf("POST %s with %s token: %d, want 403", path, name, p.status)
			}
			for _, s := range ep.Secrets {
				if strings.Contains(p.body, s.Secret) {
					t.Errorf("POST %s without the token shows the secret", path)
				}
			}
		}
	}
	eps := r.epList(t, accountA)
	if len(eps) != 1 || eps[0].URL != ep.URL || len(eps[0].Secrets) != 1 {
		t.Errorf("endpoints changed by forms without the token: %+v", eps)
	}
}

// TestWebhooks_ReadKeySeesButCannotAct: a read key has the pages without their
// forms, and every action is refused with 403.
func TestWebhooks_ReadKeySeesButCannotAct(t *testing.T) {
	r, ep, ids := epMessagesSetup(t)
	b := r.signIn(r.epKey(t, accountA, references.ScopeRead))
	prefix := "/ui/webhooks/" + ep.ID
	for _, path := range []string{"/ui/webhooks", prefix, prefix + "/messages", prefix + "/messages/" + ids[1]} {
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Errorf("GET %s: %d", path, p.status)
			continue
		}
		doc := epDoc(t, p)
		for _, id := range []string{"add-endpoint", "resend", "reveal-secret", "rotate-secret", "send-test", "recover"} {
			if epByID(doc, id) != nil {
				t.Errorf("GET %s shows #%s to a read key", path, id)
			}
		}
	}
	for _, path := range []string{"/ui/webhooks/new", prefix + "/edit"} {
		if p := b.get(path); p.status != http.StatusForbidden {
			t.Errorf("GET %s: %d, want 403", path, p.status)
		}
	}
	for path, form := range map[string]url.Values{
		"/ui/webhooks":                             epForm("http://127.0.0.1:9/new"),
		prefix + "/delete":                         {"confirm": {"yes"}},
		prefix + "/secret/rotate":                  {"grace_seconds": {"0"}, "confirm": {"yes"}},
		prefix + "/messages/" + ids[1] + "/resend": {"confirm": {"yes"}},
	} {
		if p := b.post(path, form); p.status != http.StatusForbidden {
			t.Errorf("POST %s: %d, want 403", path, p.status)
		}
	}
	if eps := r.epList(t, accountA); len(eps) != 1 || len(eps[0].Secrets) != 1 {
		t.Errorf("a read key changed endpoints: %+v", eps)
	}
}
