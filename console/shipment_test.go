package console

import (
	"context"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

var (
	milestoneLI = regexp.MustCompile(`<li class="milestone" data-classifier="(PLN|EST|ACT)">`)
	updateLI    = regexp.MustCompile(`<li class="update" data-sequence="(\d+)"`)
	stopLI      = regexp.MustCompile(`<li class="stop" data-role="(\w+)"[^>]*><span class="muted">\w+</span> <abbr class="locode" title="UN/LOCODE">(\w+)</abbr>`)
)

func classifiers(html string) []string {
	var out []string
	for _, m := range milestoneLI.FindAllStringSubmatch(html, -1) {
		out = append(out, m[1])
	}
	return out
}

func sequences(html string) []string {
	var out []string
	for _, m := range updateLI.FindAllStringSubmatch(html, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestShipment_ShowsRouteTimelineChartFeedAndDeliveries(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	now := r.clock.Now()
	callback, hooks := r.receiver(), r.receiver()
	epURL := hooks.srv.URL + "/hooks"
	ep, err := r.svc.CreateEndpoint(ctx, accountA, references.EndpointPatch{URL: &epURL})
	if err != nil {
		t.Fatal(err)
	}
	ref := r.track(accountA, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: "MAEU", CallbackURL: callback.srv.URL, Metadata: map[string]string{"po": "4711"}})
	r.recordPoll(ref.ID, voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour), "MSCU1234566"), "")
	callback.status.Store(http.StatusInternalServerError)
	if out := r.deliver(ref.ID); out != references.OutcomeFailed {
		t.Fatalf("first delivery: %s", out)
	}
	callback.status.Store(http.StatusOK)
	if out := r.deliver(ref.ID); out != references.OutcomeDelivered {
		t.Fatalf("second delivery: %s", out)
	}
	r.clock.Advance(6 * time.Hour)
	r.recordPoll(ref.ID, voyage(now.Add(-48*time.Hour), now.Add(22*24*time.Hour), "MSCU1234566"), "")
	if r.deliverAll() == 0 || hooks.posts.Load() == 0 {
		t.Fatal("nothing was delivered to the endpoint")
	}

	res := r.signIn(r.keyA).get("/ui/shipments/" + ref.ID)
	if res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	body := res.body

	// Header.
	for id, want := range map[string]string{
		"carrier":         "MAEU",
		"ref-status":      `data-status="active"`,
		"shipment-status": "in transit, at",
		"eta":             `<time datetime="2026-03-23T12:00:00Z"`,
		"callback":        callback.srv.URL,
		"metadata":        "<code>po=4711</code>",
		"last-poll":       `<time datetime="2026-03-01T18:00:00Z"`,
		"next-poll":       "every 15 min",
	} {
		if got := element(body, "dd", id); !strings.Contains(got, want) {
			t.Errorf("#%s lacks %q: %s", id, want, got)
		}
	}
	if eta := element(body, "dd", "eta"); !strings.Contains(eta, "&#43;2 days since first ETA") || !strings.Contains(eta, ">late<") {
		t.Errorf("#eta does not say how the ETA moved: %s", eta)
	}

	// Route: origin, the transshipment at Singapore, destination.
	var stops []string
	for _, m := range stopLI.FindAllStringSubmatch(element(body, "div", "route"), -1) {
		stops = append(stops, m[1]+" "+m[2])
	}
	if strings.Join(stops, ", ") != "origin CNSHA, transshipment SGSIN, destination NLRTM" {
		t.Errorf("route %v", stops)
	}
	if !strings.Contains(element(body, "div", "route"), `data-role="origin" data-reached="true"`) {
		t.Error("the origin, left already, is not marked reached")
	}

	// Timeline: every event in time order, with its classifier, place, vessel and voyage.
	timeline := element(body, "ol", "timeline")
	if got := strings.Join(classifiers(timeline), " "); got != "ACT ACT ACT PLN PLN EST PLN" {
		t.Errorf("classifiers %s", got)
	}
	for _, want := range []string{
		"<strong>Laden gate-in</strong> <span class=\"muted\">(GTIN)</span>",
		"<strong>Vessel departure</strong>",
		`<time datetime="2026-02-28T08:00:00Z" title="2026-02-28T08:00:00Z">2026-02-28 08:00 UTC</time>`,
		`<abbr class="locode" title="UN/LOCODE">SGSIN</abbr> Singapore · vessel MAERSK ESSEN (IMO 9456783) · voyage 215E · container MSCU1234566`,
	} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %s", want)
		}
	}
	if !strings.Contains(body, "Times are in UTC") {
		t.Error("the page does not say which zone its times are in")
	}

	// The ETA drift chart: 0, then 48 hours later.
	chart := element(body, "figure", "eta-chart")
	if !strings.Contains(chart, `<svg `) || !strings.Contains(chart, `role="img"`) || !strings.Contains(chart, "last value 48 h") {
		t.Errorf("chart: %s", chart)
	}

	// Feed: newest first, each change described, each update resendable.
	feed := element(body, "ul", "feed")
	if got := strings.Join(sequences(feed), " "); got != "2 1" {
		t.Errorf("feed sequences %s, want 2 1", got)
	}
	for _, want := range []string{
		"ETA at NLRTM moved from 2026-03-21T12:00:00Z to 2026-03-23T12:00:00Z",
		"New actual milestone: vessel departure at CNSHA (NORDIC AURORA 412W) on 2026-02-28T08:00:00Z",
	} {
		if !strings.Contains(feed, want) {
			t.Errorf("feed lacks %q", want)
		}
	}
	if n := strings.Count(feed, `class="resend inline"`); n != 2 {
		t.Errorf("%d resend forms, want 2", n)
	}

	// Deliveries: the callback's attempts, newest first, and the endpoint's messages.
	deliveries := element(body, "section", "deliveries")
	cb := deliveries[strings.Index(deliveries, `data-destination="callback"`):]
	cb = cb[:strings.Index(cb, "</section>")]
	if o := regexp.MustCompile(`data-outcome="(\w+)"`).FindAllStringSubmatch(cb, -1); len(o) < 2 || o[len(o)-1][1] != "failed" || o[len(o)-2][1] != "delivered" {
		t.Errorf("callback attempts %v, want ... delivered, failed (newest first)", o)
	}
	if !strings.Contains(cb, "HTTP 500") || !strings.Contains(cb, "HTTP 200") {
		t.Errorf("callback attempts lack their responses: %s", cb)
	}
	if !strings.Contains(deliveries, `data-destination="`+ep.ID+`"`) || !strings.Contains(deliveries, `<a href="/ui/webhooks/`+ep.ID+`/messages/`) {
		t.Errorf("no endpoint group for %s:\n%s", ep.ID, deliveries)
	}
}

func TestShipment_SeveralContainersGetATimelineEach(t *testing.T) {
	r := newRig(t)
	now := r.clock.Now()
	ref := r.track(accountA, references.CreateRequest{BillOfLading: "MAEU123456789", CarrierCode: "MAEU"})
	events := voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour), "MSCU1234566")
	events = append(events, forContainer(ev(references.EventEquipment, references.ClassifierActual, references.CodeGateIn, "CNSHA", "Shanghai container terminal", now.Add(-47*time.Hour)), "TGHU1234563"))
	doc := ev(references.EventShipment, references.ClassifierActual, references.CodeIssued, "", "", now.Add(-40*time.Hour))
	doc.Description = "Transport document issued"
	events = append(events, doc)
	r.recordPoll(ref.ID, events, "")
	body := r.signIn(r.keyA).get("/ui/shipments/" + ref.ID).body
	timeline := element(body, "ol", "timeline")
	groups := regexp.MustCompile(`<li class="milestone-group"(?: data-container="(\w+)")?><h3>([^<]+)`).FindAllStringSubmatch(timeline, -1)
	var titles []string
	for _, g := range groups {
		titles = append(titles, strings.TrimSpace(g[2]))
	}
	if strings.Join(titles, " | ") != "Vessel and documents (every container) | Container MSCU1234566 | Container TGHU1234563" {
		t.Fatalf("groups %q", titles)
	}
	tghu := timeline[strings.Index(timeline, `data-container="TGHU1234563"`):]
	if got := classifiers(tghu); len(got) != 1 || !strings.Contains(tghu, "Laden gate-in") {
		t.Errorf("TGHU1234563's milestones: %v", got)
	}
	if !strings.Contains(timeline, "<strong>Document issued</strong>") || !strings.Contains(timeline, "Transport document issued") {
		t.Error("the document event is not in words")
	}
	if n := len(classifiers(timeline)); n != len(events) {
		t.Errorf("%d milestones shown, want %d", n, len(events))
	}
}

func TestShipment_DemoVoyageFillsTheTimelineAsItAdvances(t *testing.T) {
	r := newRig(t)
	b := r.signIn(r.keyA)
	res := b.post("/ui/track", map[string][]string{"kind": {"container_id"}, "identifier": {"MSCU1234566"}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("track: %d %s", res.status, res.body)
	}
	refs := r.listAll(accountA)
	id := refs[0].ID
	r.demoPoll(id)
	first := b.get("/ui/shipments/" + id).body
	actBefore := strings.Count(strings.Join(classifiers(element(first, "ol", "timeline")), " "), "ACT")
	if len(classifiers(first)) == 0 {
		t.Fatal("no milestones after the first poll")
	}
	if !strings.Contains(element(first, "div", "route"), `data-role="origin"`) || !strings.Contains(element(first, "div", "route"), `data-role="destination"`) {
		t.Errorf("route: %s", element(first, "div", "route"))
	}
	r.clock.Advance(20 * 24 * time.Hour)
	r.demoPoll(id)
	later := r.signIn(r.keyA).get("/ui/shipments/" + id).body // the first session ended, idle
	actAfter := strings.Count(strings.Join(classifiers(element(later, "ol", "timeline")), " "), "ACT")
	if actAfter <= actBefore {
		t.Errorf("%d actual milestones after 20 days, %d before", actAfter, actBefore)
	}
	if got := sequences(element(later, "ul", "feed")); len(got) != 2 || got[0] != "2" {
		t.Errorf("feed %v, want 2 1", got)
	}
}

func TestShipment_BeforeTheFirstPoll(t *testing.T) {
	r := newRig(t)
	ref := r.container(accountA, "MSCU1234566")
	res := r.signIn(r.keyA).get("/ui/shipments/" + ref.ID)
	if res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	for _, want := range []string{
		"not known until the first successful poll", "not polled yet", "No milestones until the first successful poll.",
		"No updates yet.", "Nothing was sent for this reference yet.", `id="eta-chart"`, "<svg",
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestShipment_FeedPagesNewestFirst(t *testing.T) {
	r := newRig(t)
	now := r.clock.Now()
	ref := r.container(accountA, "MSCU1234566")
	for i := range 30 {
		r.clock.Advance(time.Hour)
		r.recordPoll(ref.ID, voyage(now.Add(-48*time.Hour), now.Add(20*24*time.Hour+time.Duration(i)*time.Hour), "MSCU1234566"), "")
	}
	b := r.signIn(r.keyA)
	first := b.get("/ui/shipments/" + ref.ID)
	seqs := sequences(element(first.body, "ul", "feed"))
	if len(seqs) != feedPageSize || seqs[0] != "30" || seqs[len(seqs)-1] != "6" {
		t.Fatalf("first page %v, want 30 down to 6", seqs)
	}
	if linkHref(first.body, "feed-newer") != "" {
		t.Error("a newer link on the newest page")
	}
	older := linkHref(first.body, "feed-older")
	if older != "/ui/shipments/"+ref.ID+"?feed_before=6#feed" {
		t.Fatalf("older link %q", older)
	}
	second := b.get(strings.TrimSuffix(older, "#feed"))
	if got := strings.Join(sequences(element(second.body, "ul", "feed")), " "); got != "5 4 3 2 1" {
		t.Errorf("second page %s", got)
	}
	if linkHref(second.body, "feed-older") != "" || linkHref(second.body, "feed-newer") == "" {
		t.Error("the oldest page's links")
	}
	// The chart reads the whole feed: 30 points.
	if !strings.Contains(element(first.body, "figure", "eta-chart"), "(30 changes)") {
		t.Error("the chart does not count every ETA change of the feed")
	}
	if res := b.get("/ui/shipments/" + ref.ID + "?feed_before=abc"); res.status != http.StatusBadRequest {
		t.Errorf("feed_before=abc: %d", res.status)
	}
}

// TestShipment_ShowsThePushSubscription: a reference its carrier pushes for shows
// the subscription and its last push, never its secrets; one only polled shows none.
func TestShipment_ShowsThePushSubscription(t *testing.T) {
	r := newRig(t)
	ref := r.container(accountA, "MSCU1234566")
	b := r.signIn(r.keyA)
	if p := b.get("/ui/shipments/" + ref.ID); strings.Contains(p.body, `id="push"`) {
		t.Error("a reference only polled shows a push subscription")
	}
	ctx := context.Background()
	now := r.clock.Now()
	last := now.Add(-5 * time.Minute)
	secret := []byte("carrier-push-secret-0123456789ab")
	claim, err := r.db.ClaimPoll(ctx, testOwner, ref.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	sub := &references.PushSubscription{
		Source: "MAEU", ID: "sub-7f3a", Secrets: []references.PushSecret{{Key: secret}},
		CreatedAt: now.Add(-time.Hour), RotatedAt: now.Add(-time.Hour), CheckedAt: now, LastPushAt: &last,
	}
	if _, err := r.db.RecordPoll(ctx, claim.Lease, references.PollResult{PolledAt: now, NextPollAt: now.Add(6 * time.Hour), Push: sub}); err != nil {
		t.Fatal(err)
	}
	p := b.get("/ui/shipments/" + ref.ID)
	for _, want := range []string{`id="push"`, "<code>sub-7f3a</code> at MAEU", "last push", "5 min ago"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(p.body, string(secret)) || strings.Contains(p.body, base64.StdEncoding.EncodeToString(secret)) {
		t.Error("the page shows the subscription's secret")
	}
}
