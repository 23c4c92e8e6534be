package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/trackhook/trackhook/references"
)

const epHook = "http://127.0.0.1:9/hook" // never called: nothing delivers in these tests

func (r *rig) epList(t *testing.T, acct string) []references.Endpoint {
	t.Helper()
	page, err := r.svc.ListEndpoints(context.Background(), acct, references.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return page.Endpoints
}

func (r *rig) epGet(t *testing.T, acct, id string) references.Endpoint {
	t.Helper()
	ep, err := r.svc.GetEndpoint(context.Background(), acct, id)
	if err != nil {
		t.Fatalf("get endpoint %s: %v", id, err)
	}
	return ep
}

func TestEndpoints_ListShowsStateAndLast24Hours(t *testing.T) {
	r := newRig(t)
	busy := r.epCreate(t, accountA, "http://127.0.0.1:9/busy")
	r.clock.Advance(time.Second) // the list is in creation order
	off := r.epCreate(t, accountA, "http://127.0.0.1:9/off")
	disabled := false
	if _, err := r.svc.PatchEndpoint(context.Background(), accountA, off.ID, references.EndpointPatch{Enabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	other := r.epCreate(t, accountB, "http://127.0.0.1:9/b")
	ref := r.epTrack(t, accountA, "BK100001")
	r.epSeedUpdates(t, ref.ID, 3)
	r.epAttempt(t, busy.ID, false, epDelivered(120))
	r.epAttempt(t, busy.ID, false, epGaveUp(80))

	b := r.signIn(r.keyA)
	p := b.get("/ui/webhooks")
	if p.status != http.StatusOK {
		t.Fatalf("list: %d %s", p.status, p.body)
	}
	if got, want := epRowIDs(t, p, "data-endpoint-id"), []string{busy.ID, off.ID}; !slices.Equal(got, want) {
		t.Fatalf("rows %v, want %v (and never B's %s)", got, want, other.ID)
	}
	doc := epDoc(t, p)
	rows := epFind(doc, epHas("data-endpoint-id", ""))
	busyRow, offRow := epText(rows[0]), epText(rows[1])
	for _, want := range []string{busy.URL, "Enabled", "every update type", "50 %"} {
		if !strings.Contains(busyRow, want) {
			t.Errorf("busy row %q lacks %q", busyRow, want)
		}
	}
	// Three messages: delivered, failed, and one pending (the update off's too,
	// but off was disabled before they came).
	if !strings.Contains(busyRow, " 3 ") {
		t.Errorf("busy row %q does not count 3 messages", busyRow)
	}
	if !strings.Contains(busyRow, "120 ms") {
		t.Errorf("busy row %q lacks the p99 latency 120 ms", busyRow)
	}
	for _, want := range []string{"Disabled", "by a user", "—"} {
		if !strings.Contains(offRow, want) {
			t.Errorf("disabled row %q lacks %q", offRow, want)
		}
	}
	if links := epFind(rows[0], epHas("href", "/ui/webhooks/"+busy.ID)); len(links) != 1 {
		t.Errorf("the row does not link to the endpoint's page")
	}
	if epByID(doc, "add-endpoint") == nil {
		t.Error("a write key sees no a#add-endpoint")
	}

	reader := r.signIn(r.epKey(t, accountA, references.ScopeRead))
	p = reader.get("/ui/webhooks")
	if p.status != http.StatusOK || epByID(epDoc(t, p), "add-endpoint") != nil {
		t.Errorf("read key: %d, add link shown: %v", p.status, epByID(epDoc(t, p), "add-endpoint") != nil)
	}
	if got := epRowIDs(t, p, "data-endpoint-id"); len(got) != 2 {
		t.Errorf("read key sees rows %v", got)
	}
}

// epForm is a valid endpoint form; change what a case needs.
func epForm(rawURL string) url.Values {
	return url.Values{
		"url":                  {rawURL},
		"description":          {"ERP inbound"},
		"event_types":          {"shipment.updated", "shipment.eta_changed"},
		"event_type_patterns":  {"shipment.milestone.*"},
		"min_eta_change":       {"6h"},
		"filter_carrier_codes": {"maeu, MSCU"},
		"filter_metadata":      {"customer=acme\n\npo = 4711\n"},
		"format":               {"batch"},
		"batch_size":           {"20"},
		"header_style":         {"svix"},
		"max_attempts":         {"7"},
		"retry_window":         {""},
		"disable_after":        {"3d"},
		"enabled":              {"true"},
	}
}

func TestEndpoints_CreateStoresEveryFieldAndShowsTheEndpoint(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.keyA)
	form := b.get("/ui/webhooks/new")
	if form.status != http.StatusOK {
		t.Fatalf("new form: %d %s", form.status, form.body)
	}
	doc := epDoc(t, form)
	if epByID(doc, "endpoint-form") == nil {
		t.Fatal("no form#endpoint-form")
	}
	// The catalogue's selectable names are offered as checkboxes, with descriptions.
	boxes := epFind(doc, func(n *html.Node) bool { return n.Data == "input" && epAttr(n, "name") == "event_types" })
	var offered []string
	for _, n := range boxes {
		offered = append(offered, epAttr(n, "value"))
	}
	for _, name := range references.EventTypeNames() {
		if !slices.Contains(offered, name) {
			t.Errorf("event type %s not offered (offered %v)", name, offered)
		}
	}
	if slices.Contains(offered, "batch") || slices.Contains(offered, references.EventEndpointTest) {
		t.Errorf("names an endpoint cannot select are offered: %v", offered)
	}
	// Every control has a label.
	for _, n := range epFind(doc, func(n *html.Node) bool {
		return (n.Data == "input" && epAttr(n, "type") != "hidden" && epAttr(n, "type") != "checkbox") || n.Data == "select" || n.Data == "textarea"
	}) {
		id := epAttr(n, "id")
		if id == "" || len(epFind(doc, func(l *html.Node) bool { return l.Data == "label" && epAttr(l, "for") == id })) == 0 {
			t.Errorf("control %s (id %q) has no label", epAttr(n, "name"), id)
		}
	}

	p := b.post("/ui/webhooks", epForm("http://127.0.0.1:9/erp"))
	if p.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	eps := r.epList(t, accountA)
	if len(eps) != 1 {
		t.Fatalf("%d endpoints stored, want 1", len(eps))
	}
	ep := eps[0]
	if p.location != "/ui/webhooks/"+ep.ID {
		t.Errorf("create redirects to %q", p.location)
	}
	want := references.Endpoint{
		URL: "http://127.0.0.1:9/erp", Description: "ERP inbound",
		EventTypes:   []string{"shipment.updated", "shipment.eta_changed", "shipment.milestone.*"},
		MinETAChange: 6 * time.Hour, Format: references.FormatBatch, BatchSize: 20, Headers: references.HeadersSvix,
		MaxAttempts: 7, DisableAfter: 72 * time.Hour, Enabled: true,
	}
	if ep.URL != want.URL || ep.Description != want.Description || !slices.Equal(ep.EventTypes, want.EventTypes) ||
		ep.MinETAChange != want.MinETAChange || ep.Format != want.Format || ep.BatchSize != want.BatchSize ||
		ep.Headers != want.Headers || ep.MaxAttempts != want.MaxAttempts || ep.RetryWindow != 0 ||
		ep.DisableAfter != want.DisableAfter || !ep.Enabled {
		t.Errorf("stored %+v, want %+v", ep, want)
	}
	if !slices.Equal(ep.Filter.CarrierCodes, []string{"MAEU", "MSCU"}) || len(ep.Filter.Metadata) != 2 ||
		ep.Filter.Metadata["customer"] != "acme" || ep.Filter.Metadata["po"] != "4711" {
		t.Errorf("stored filter %+v", ep.Filter)
	}

	page := b.get(p.location)
	if page.status != http.StatusOK {
		t.Fatalf("endpoint page: %d", page.status)
	}
	if !strings.Contains(page.body, "Endpoint added.") {
		t.Error("the notice is not shown")
	}
	secret := ep.Secrets[0].Secret
	if strings.Contains(page.body, secret) || strings.Contains(page.body, secret[6:]) {
		t.Error("the endpoint page shows the secret before it is revealed")
	}
	if got := epMustID(t, page, "secret"); got != "whsec_••••••••"+secret[len(secret)-4:] {
		t.Errorf("#secret = %q, want masked to the last 4", got)
	}
	for _, id := range []string{"messages-tab", "reveal-secret", "rotate-secret", "send-test", "recover", "deliveries-chart"} {
		epMustID(t, page, id)
	}
	if !strings.Contains(epMustID(t, page, "endpoint-settings"), "batch, up to 20 updates per POST") {
		t.Error("the settings do not show the format")
	}
}

func TestEndpoints_CreateRefusesBadInputBesideTheField(t *testing.T) {
	tests := []struct {
		name   string
		change url.Values
		field  string
		want   string
	}{
		{"invalid URL", url.Values{"url": {"ftp://example.com/x"}}, "url", "URL"},
		{"no URL", url.Values{"url": {""}}, "url", "URL is required"},
		{"duration that is not one", url.Values{"retry_window": {"soon"}, "max_attempts": {""}}, "retry_window", `"soon" is not a duration`},
		{"attempts and window", url.Values{"retry_window": {"2h"}}, "max_attempts", "not both"},
		{"not a number", url.Values{"max_attempts": {"seven"}}, "max_attempts", "whole number"},
		{"unknown event type", url.Values{"event_type_patterns": {"shipment.teleported"}}, "event_types", "shipment.teleported"},
		{"bad carrier", url.Values{"filter_carrier_codes": {"MAEU, M4"}}, "filter_carrier_codes", "SCAC"},
		{"metadata line", url.Values{"filter_metadata": {"customer acme"}}, "filter_metadata", "key=value"},
		{"batch size", url.Values{"batch_size": {"0"}}, "batch_size", "Batch size must be between 1 and 500"},
		{"format", url.Values{"format": {"xml"}}, "format", "Format must be standard or batch"},
		{"header style", url.Values{"header_style": {"custom"}}, "header_style", "must be standard or svix"},
		{"ETA change", url.Values{"min_eta_change": {"60d"}}, "min_eta_change", "must be between"},
	}
	r := newRig(t)
	b := r.signIn(r.keyA)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := epForm("http://127.0.0.1:9/erp")
			for k, v := range tt.change {
				form[k] = v
			}
			p := b.post("/ui/webhooks", form)
			if p.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422:\n%s", p.status, p.body)
			}
			if got := epFieldError(t, p, tt.field); !strings.Contains(got, tt.want) {
				t.Errorf("#error-%s = %q, want it to say %q\n%s", tt.field, got, tt.want, p.body)
			}
			// What was typed is kept.
			if got := epInputValue(t, p, "description"); got != "ERP inbound" {
				t.Errorf("description %q not kept", got)
			}
			if got := epInputValue(t, p, "url"); got != form.Get("url") {
				t.Errorf("url %q not kept, want %q", got, form.Get("url"))
			}
			if n := len(r.epList(t, accountA)); n != 0 {
				t.Fatalf("%d endpoints stored after a refused form", n)
			}
		})
	}
}

func TestEndpoints_EditChangesSettingsAndKeepsTypingOnErrors(t *testing.T) {
	r := newRig(t)
	ep := r.epCreate(t, accountA, epHook)
	b := r.signIn(r.keyA)
	form := b.get("/ui/webhooks/" + ep.ID + "/edit")
	if form.status != http.StatusOK {
		t.Fatalf("edit form: %d", form.status)
	}
	if got := epInputValue(t, form, "url"); got != epHook {
		t.Errorf("edit form url %q, want the endpoint's", got)
	}
	if got := epInputValue(t, form, "disable_after"); got != "5d" {
		t.Errorf("disable_after %q, want 5d", got)
	}

	change := url.Values{
		"url": {epHook}, "description": {"renamed"}, "format": {"standard"}, "header_style": {"standard"},
		"max_attempts": {"0"}, "retry_window": {"12h"}, "disable_after": {"1d"}, "min_eta_change": {"0"},
		// enabled unchecked: disable
	}
	p := b.post("/ui/webhooks/"+ep.ID, change)
	if n := b.followNotice(p, "/ui/webhooks/"+ep.ID); n != "Endpoint saved." {
		t.Fatalf("update: notice %q", n)
	}
	got := r.epGet(t, accountA, ep.ID)
	if got.Description != "renamed" || got.RetryWindow != 12*time.Hour || got.DisableAfter != 24*time.Hour ||
		got.Enabled || got.DisabledReason != references.DisabledByUser || len(got.EventTypes) != 0 {
		t.Errorf("after edit: %+v", got)
	}

	bad := cloneValues(change)
	bad.Set("description", "again")
	bad.Set("url", "not a url")
	p = b.post("/ui/webhooks/"+ep.ID, bad)
	if p.status != http.StatusUnprocessableEntity || epFieldError(t, p, "url") == "" {
		t.Fatalf("bad edit: %d, url error %q", p.status, epFieldError(t, p, "url"))
	}
	if v := epInputValue(t, p, "description"); v != "again" {
		t.Errorf("typed description %q not kept", v)
	}
	if after := r.epGet(t, accountA, ep.ID); after.Description != "renamed" || after.URL != epHook {
		t.Errorf("a refused edit changed the endpoint: %+v", after)
	}

	// Enabled again, with the box checked.
	change.Set("enabled", "true")
	if p := b.post("/ui/webhooks/"+ep.ID, change); p.status != http.StatusSeeOther {
		t.Fatalf("re-enable: %d", p.status)
	}
	if after := r.epGet(t, accountA, ep.ID); !after.Enabled || after.DisabledReason != "" {
		t.Errorf("not re-enabled: %+v", after)
	}
}

func TestEndpoints_DeleteAsksFirst(t *testing.T) {
	r := newRig(t)
	ep := r.epCreate(t, accountA, epHook)
	b := r.signIn(r.keyA)
	p := b.post("/ui/webhooks/"+ep.ID+"/delete", url.Values{})
	if p.status != http.StatusOK || epByID(epDoc(t, p), "confirm-form") == nil {
		t.Fatalf("delete without confirm: %d, want the confirmation page:\n%s", p.status, p.body)
	}
	if !strings.Contains(epMustID(t, p, "confirm-question"), ep.URL) {
		t.Error("the question does not name the endpoint")
	}
	if len(r.epList(t, accountA)) != 1 {
		t.Fatal("deleted before confirmation")
	}
	p = b.post("/ui/webhooks/"+ep.ID+"/delete", url.Values{"confirm": {"yes"}})
	if n := b.followNotice(p, "/ui/webhooks"); !strings.Contains(n, "deleted") {
		t.Fatalf("confirmed delete: notice %q", n)
	}
	if len(r.epList(t, accountA)) != 0 {
		t.Fatal("not deleted")
	}
	if p := b.get("/ui/webhooks/" + ep.ID); p.status != http.StatusNotFound {
		t.Errorf("deleted endpoint's page: %d, want 404", p.status)
	}
}

func TestEndpoints_RevealNeedsTheWriteScope(t *testing.T) {
	r := newRig(t)
	ep := r.epCreate(t, accountA, epHook)
	secret := ep.Secrets[0].Secret

	b := r.signIn(r.keyA)
	p := b.post("/ui/webhooks/"+ep.ID+"/secret/reveal", url.Values{})
	if p.status != http.StatusOK {
		t.Fatalf("reveal: %d %s", p.status, p.body)
	}
	if got := epMustID(t, p, "secret-value"); got != secret {
		t.Errorf("#secret-value %q, want the secret", got)
	}
	if copyBtn := epFind(epDoc(t, p), epHas("data-copy", "#secret-value")); len(copyBtn) != 1 || copyBtn[0].Data != "button" {
		t.Error("no button[data-copy=#secret-value]")
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the revealed secret may be cached: Cache-Control %q", p.header.Get("Cache-Control"))
	}

	reader := r.signIn(r.epKey(t, accountA, references.ScopeRead))
	page := reader.get("/ui/webhooks/" + ep.ID)
	if page.status != http.StatusOK {
		t.Fatalf("read key's endpoint page: %d", page.status)
	}
	doc := epDoc(t, page)
	for _, id := range []string{"reveal-secret", "rotate-secret", "send-test", "recover", "delete-endpoint", "edit-endpoint"} {
		if epByID(doc, id) != nil {
			t.Errorf("read key sees #%s", id)
		}
	}
	if strings.Contains(page.body, secret) {
		t.Error("read key's page shows the secret")
	}
	p = reader.post("/ui/webhooks/"+ep.ID+"/secret/reveal", url.Values{})
	if p.status != http.StatusForbidden || strings.Contains(p.body, secret) {
		t.Errorf("read key reveal: %d, secret shown %v", p.status, strings.Contains(p.body, secret))
	}
}

func TestEndpoints_RotateKeepsThePreviousSecretForTheGrace(t *testing.T) {
	r := newRig(t)
	ep := r.epCreate(t, accountA, epHook)
	old := ep.Secrets[0].Secret
	b := r.signIn(r.keyA)

	p := b.post("/ui/webhooks/"+ep.ID+"/secret/rotate", url.Values{"grace_seconds": {"3600"}})
	if p.status != http.StatusOK || !strings.Contains(epMustID(t, p, "confirm-question"), "1 h") {
		t.Fatalf("rotate without confirm: %d, want a confirmation naming the grace:\n%s", p.status, p.body)
	}
	if got := r.epGet(t, accountA, ep.ID); len(got.Secrets) != 1 {
		t.Fatal("rotated before confirmation")
	}
	p = b.post("/ui/webhooks/"+ep.ID+"/secret/rotate", url.Values{"grace_seconds": {"3600"}, "confirm": {"yes"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("rotate: %d %s", p.status, p.body)
	}
	got := r.epGet(t, accountA, ep.ID)
	live := got.Live(r.clock.Now())
	if len(live) != 2 || live[1].Secret != old || live[0].Secret == old {
		t.Fatalf("live secrets after rotation: %+v", live)
	}
	page := b.get(p.location)
	if !strings.Contains(page.body, "The previous secret signs until 2026-03-01 13:00 UTC.") {
		t.Errorf("the notice does not give the grace's end:\n%s", page.body)
	}
	rows := epFind(epByID(epDoc(t, page), "secrets"), func(n *html.Node) bool { return n.Data == "tr" })
	if len(rows) != 3 { // the head and two secrets
		t.Fatalf("secrets table has %d rows, want 2 secrets", len(rows)-1)
	}
	if txt := epText(rows[2]); !strings.Contains(txt, old[len(old)-4:]) || !strings.Contains(txt, "2026-03-01 13:00 UTC") {
		t.Errorf("the old secret's row %q lacks it (masked) or its expiry", txt)
	}
	if strings.Contains(page.body, old) || strings.Contains(page.body, live[0].Secret) {
		t.Error("the page after rotation shows a secret in full")
	}
	if got := epMustID(t, page, "secret"); !strings.HasSuffix(got, live[0].Secret[len(live[0].Secret)-4:]) {
		t.Errorf("#secret %q is not the new secret", got)
	}
	// A reveal gives both live secrets, as the API does: the new one to copy, the
	// old one while its grace lasts.
	revealed := b.post("/ui/webhooks/"+ep.ID+"/secret/reveal", url.Values{})
	if got := epMustID(t, revealed, "secret-value"); got != live[0].Secret {
		t.Errorf("#secret-value %q, want the new secret", got)
	}
	if got := epMustID(t, revealed, "secret-value-1"); got != old {
		t.Errorf("#secret-value-1 %q, want the old secret", got)
	}
	if got := epMustID(t, revealed, "revealed-secret"); !strings.Contains(got, "until 2026-03-01 13:00 UTC") {
		t.Errorf("the old secret's end is not given: %q", got)
	}

	// Grace 0 replaces at once; a grace that is not one of the numbers is refused.
	r.clock.Advance(2 * time.Hour) // the first secret's grace is over
	b = r.signIn(r.keyA)           // and the session idle
	p = b.post("/ui/webhooks/"+ep.ID+"/secret/rotate", url.Values{"grace_seconds": {"0"}, "confirm": {"yes"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("rotate at once: %d", p.status)
	}
	after := r.epGet(t, accountA, ep.ID)
	if live := after.Live(r.clock.Now()); len(live) != 1 {
		t.Errorf("after a rotation without grace %d secrets sign", len(live))
	}
	for _, grace := range []string{"soon", "-5", "9999999"} {
		p = b.post("/ui/webhooks/"+ep.ID+"/secret/rotate", url.Values{"grace_seconds": {grace}, "confirm": {"yes"}})
		if p.status != http.StatusUnprocessableEntity || epFieldError(t, p, "grace_seconds") == "" {
			t.Errorf("grace %q: %d, error %q", grace, p.status, epFieldError(t, p, "grace_seconds"))
		}
	}
}

func TestEndpoints_SendTestShowsTheReceiversAnswer(t *testing.T) {
	base := newRig(t)
	r := base.epWithTestSender(t)
	tests := []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{"accepted", http.StatusAccepted, `{"ok":true}`, []string{"202", "delivered", `{"ok":true}`}},
		{"failing", http.StatusInternalServerError, "boom <script>", []string{"500", "failed", "boom <script>"}},
	}
	b := r.signIn(r.keyA)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := epNewReceiver(t, tt.status, tt.body)
			ep := r.epCreate(t, accountA, rc.URL+"/hook")
			p := b.post("/ui/webhooks/"+ep.ID+"/test", url.Values{})
			if p.status != http.StatusOK {
				t.Fatalf("test: %d %s", p.status, p.body)
			}
			result := epMustID(t, p, "test-result")
			for _, w := range tt.want {
				if !strings.Contains(result, w) {
					t.Errorf("#test-result %q lacks %q", result, w)
				}
			}
			if strings.Contains(p.body, "boom <script>") {
				t.Error("the receiver's answer is not escaped")
			}
			headers, bodies := rc.got()
			if len(bodies) != 1 || !strings.Contains(string(bodies[0]), `"endpoint.test"`) {
				t.Fatalf("the receiver got %d bodies: %q", len(bodies), bodies)
			}
			if err := epVerify(ep.Secrets[0].Secret, headers[0], bodies[0], r.clock.Now()); err != nil {
				t.Errorf("the test event does not verify with the endpoint's secret: %v", err)
			}
		})
	}

	t.Run("nobody listening", func(t *testing.T) {
		rc := epNewReceiver(t, http.StatusOK, "")
		addr := rc.URL
		rc.Close()
		ep := r.epCreate(t, accountA, addr+"/hook")
		p := b.post("/ui/webhooks/"+ep.ID+"/test", url.Values{})
		if p.status != http.StatusOK {
			t.Fatalf("test: %d", p.status)
		}
		if status := epMustID(t, p, "test-status"); status != "no answer" {
			t.Errorf("#test-status %q", status)
		}
		if epMustID(t, p, "test-error") == "" {
			t.Error("no error shown")
		}
	})

	t.Run("a server that sends no tests", func(t *testing.T) {
		ep := base.epCreate(t, accountA, epHook)
		p := base.signIn(base.keyA).post("/ui/webhooks/"+ep.ID+"/test", url.Values{})
		if p.status != http.StatusServiceUnavailable {
			t.Errorf("test without a sender: %d, want 503", p.status)
		}
	})
}

func TestEndpoints_RecoverQueuesFailedMessages(t *testing.T) {
	r := newRig(t)
	ep := r.epCreate(t, accountA, epHook)
	ref := r.epTrack(t, accountA, "BK100002")
	r.epSeedUpdates(t, ref.ID, 2)
	r.epAttempt(t, ep.ID, false, epGaveUp(10))
	r.clock.Advance(2 * time.Hour)
	b := r.signIn(r.keyA)

	p := b.post("/ui/webhooks/"+ep.ID+"/recover", url.Values{"since_ago": {"1h"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("recover: %d %s", p.status, p.body)
	}
	if page := b.get(p.location); !strings.Contains(page.body, "0 failed messages since 2026-03-01 13:00 UTC queued") {
		t.Errorf("an hour back finds no failed message; page says:\n%s", page.body)
	}
	p = b.post("/ui/webhooks/"+ep.ID+"/recover", url.Values{"since_ago": {"24h"}})
	if page := b.get(p.location); !strings.Contains(page.body, "1 failed message since 2026-02-28 14:00 UTC queued") {
		t.Errorf("a day back finds the failed message; page says:\n%s", page.body)
	}
	r.epAttempt(t, ep.ID, true, epDelivered(5)) // the recovery is due as a resend

	p = b.post("/ui/webhooks/"+ep.ID+"/recover", url.Values{"since_ago": {"24h"}, "since": {"2026-03-01T11:30"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("recover since a time: %d %s", p.status, p.body)
	}
	tests := []struct {
		name  string
		form  url.Values
		wants string
	}{
		{"too far back", url.Values{"since": {"2026-02-01T00:00"}}, "14 days"},
		{"in the future", url.Values{"since": {"2026-03-02T00:00"}}, "future"},
		{"not a time", url.Values{"since": {"yesterday"}}, "date and time"},
		{"no choice", url.Values{"since_ago": {"3y"}}, "choose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.post("/ui/webhooks/"+ep.ID+"/recover", tt.form)
			if p.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", p.status)
			}
			if got := epFieldError(t, p, "since"); !strings.Contains(got, tt.wants) {
				t.Errorf("#error-since %q, want %q", got, tt.wants)
			}
		})
	}
}

func TestEndpoints_DeliveriesChartCountsMessagesPerHour(t *testing.T) {
	r := newRig(t)
	ep := r.epCreate(t, accountA, epHook)
	ref := r.epTrack(t, accountA, "BK100003")
	r.clock.Set(time.Date(2026, 3, 1, 12, 10, 0, 0, time.UTC))
	r.epSeedUpdates(t, ref.ID, 2) // 12:00: one delivered, one failed
	r.epAttempt(t, ep.ID, false, epDelivered(5))
	r.epAttempt(t, ep.ID, false, epGaveUp(5))
	r.clock.Set(time.Date(2026, 3, 1, 14, 59, 0, 0, time.UTC))
	r.epSeedUpdates(t, ref.ID, 3) // 14:00: pending
	r.clock.Set(time.Date(2026, 3, 2, 11, 30, 0, 0, time.UTC))
	r.epSeedUpdates(t, ref.ID, 1) // 11:00 the next day, the last hour: pending
	r.clock.Set(time.Date(2026, 3, 2, 11, 59, 0, 0, time.UTC))

	// 12:00 of the day before is the first hour drawn, 11:00 the last.
	p := r.signIn(r.keyA).get("/ui/webhooks/" + ep.ID)
	chart := epByID(epDoc(t, p), "deliveries-chart")
	if chart == nil || len(epFind(chart, func(n *html.Node) bool { return n.Data == "svg" && epAttr(n, "role") == "img" })) != 1 {
		t.Fatalf("#deliveries-chart has no svg:\n%s", p.body)
	}
	txt := epText(chart)
	for _, want := range []string{"12:00, Delivered: 1", "12:00, Failed: 1", "14:00, Pending: 3", "11:00, Pending: 1", "Delivered 1, Failed 1, Retrying 0, Pending 4"} {
		if !strings.Contains(txt, want) {
			t.Errorf("chart lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, "newest") {
		t.Errorf("a small log is said to be cut:\n%s", txt)
	}

	// An hour on, 12:00 of the day before is out of the 24 hours.
	r.clock.Set(time.Date(2026, 3, 2, 12, 5, 0, 0, time.UTC))
	txt = epMustID(t, r.signIn(r.keyA).get("/ui/webhooks/"+ep.ID), "deliveries-chart")
	if strings.Contains(txt, "Delivered: 1") || !strings.Contains(txt, "Delivered 0, Failed 0, Retrying 0, Pending 4") {
		t.Errorf("the hour 24 h ago is still drawn:\n%s", txt)
	}
}

func TestEndpoints_DeliveriesChartSaysWhenItIsCut(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds over 2,000 messages")
	}
	r := newRig(t)
	ep := r.epCreate(t, accountA, epHook)
	ref := r.epTrack(t, accountA, "BK100004")
	r.epSeedUpdates(t, ref.ID, chartMaxMessages+10)
	p := r.signIn(r.keyA).get("/ui/webhooks/" + ep.ID)
	if txt := epMustID(t, p, "deliveries-chart"); !strings.Contains(txt, "The chart shows the newest 2,000 messages") {
		t.Errorf("the chart does not say it is cut:\n%s", txt)
	}
}
