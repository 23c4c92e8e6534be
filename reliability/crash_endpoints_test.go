package reliability_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// svixEventTypes are the event types of the crash test's svix endpoint: a type and
// tags that a demo voyage gives to some of its updates, not to all.
var svixEventTypes = []string{
	references.TagVesselChanged, references.TagStatusChanged, string(references.UpdateUnsubscribed),
}

// TestCrash_EndpointsKeepOrderPerDestinationAcrossSIGKILLs runs the real binary with
// a fast demo carrier; the account's references have a callback, and the account
// has three endpoints made through the API: a standard one, a batch one (3 updates
// a POST) whose receiver answers 500 to some first tries, and one with svix headers,
// event types and a metadata filter. The process is killed with SIGKILL at random
// moments (a random time, right after some receiver accepted a webhook, during a
// create) and restarted on the same store. When every voyage is over, for every
// destination: every update of the feeds that it selects arrived, verified with its
// own secret, in sequence order per reference, repeated only under the same
// webhook-id right after itself; a batch's webhook-id names the same updates on every
// try; and the messages API shows each of its messages succeeded.
func TestCrash_EndpointsKeepOrderPerDestinationAcrossSIGKILLs(t *testing.T) {
	t.Parallel()
	plan := crashPlan{refs: 16, kills: 6, speed: "300000", lifeMin: 100 * time.Millisecond, lifeMax: 2500 * time.Millisecond}
	if *soak {
		plan = crashPlan{refs: 80, kills: 25, speed: "100000", lifeMin: 50 * time.Millisecond, lifeMax: 6 * time.Second}
	}
	start := time.Now()
	rng := newRand(t)
	delay := func() time.Duration { return rng.duration(0, 15*time.Millisecond) }
	cb := newReceiver(t)
	cb.setDelay(delay)

	const key = "crash-endpoints-key-0123456789"
	svc := newService(t, key, "--demo-speed", plan.speed, "--poll-interval", "1s", "--min-poll-interval", "1s",
		"--allow-insecure-callbacks", "--allow-private-callbacks")
	svc.start()
	accountSecrets := svc.webhookSecrets()

	dests := crashDestinations(t, delay)
	for _, d := range dests {
		d.create(t, svc)
	}

	cr := &creator{svc: svc, rcv: cb, rng: rng, ids: make([]string, plan.refs), metadata: fanoutMetadata}
	creatingLives := max(1, (plan.kills+1)/2)
	perLife := (plan.refs + creatingLives - 1) / creatingLives
	var moments [killMomentKinds]int
	for kill := 1; kill <= plan.kills; kill++ {
		upTo := min(cr.next+perLife, plan.refs)
		trig := armKillTrigger(rng, cr, upTo, 12)
		accepted := trig.accepted
		cb.onAccept.Store(&accepted)
		for _, d := range dests {
			d.rcv.onAccept.Store(&accepted)
		}
		cr.before = trig.creating
		done := make(chan struct{})
		go func() { defer close(done); cr.createUpTo(upTo) }()

		moments[awaitKillMoment(trig, plan, rng)]++
		svc.kill()
		<-done
		cb.onAccept.Store(nil)
		for _, d := range dests {
			d.rcv.onAccept.Store(nil)
		}
		checkStoreFile(t, svc.dbPath)
		svc.start()
	}
	cr.before = nil
	cr.createUpTo(plan.refs)
	if t.Failed() {
		t.FailNow()
	}

	var refs []api.Reference
	eventually(t, 3*time.Minute, "every voyage over and delivered to the callbacks", func() (bool, string) {
		refs = svc.references()
		return settled(refs)
	})
	feeds := wireFeeds(svc, refs) // final: every reference is unsubscribed
	awaitDestinations(t, svc, dests, feeds)
	if code, took := svc.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v); log:\n%s", code, took, svc.tail())
	}

	stats := checkStoreFile(t, svc.dbPath)
	if stats.ActiveReferences != 0 || stats.PendingDeliveries != 0 || stats.UnsubscribedReferences != int64(plan.refs) {
		t.Errorf("store counters after the run: %+v, want 0 active, 0 pending, %d unsubscribed", stats, plan.refs)
	}
	if len(refs) != plan.refs {
		t.Errorf("the service lists %d references, %d were created", len(refs), plan.refs)
	}
	figures := checkCallbackAndDestinations(t, feeds, cb, dests, accountSecrets)
	secrets := map[string]string{
		"API key": key, "API key hash": references.HashAPIKey(key), "account webhook secret": accountSecrets[0],
	}
	for _, d := range dests {
		secrets[d.name+" endpoint's secret"] = d.secrets[0]
	}
	for _, d := range dests {
		assertNoSecrets(t, "GET /endpoints and GET /endpoints/"+d.id, d.listed, secrets)
	}
	checkChildLog(t, svc, secrets)
	t.Logf("crash with endpoints: %d kills survived (%d at a random time, %d right after a webhook was accepted, %d during a create), %d restarts; %s; run %v",
		plan.kills, moments[killAtRandomTime], moments[killAfterWebhook], moments[killDuringCreate], svc.starts,
		strings.Join(figures, "; "), time.Since(start).Round(time.Millisecond))
}

// crashDestinations returns the account endpoints of the crash tests, to be made with
// destination.create: a standard one, a batch one (3 updates a POST) whose receiver
// answers 500 to the first try of every third webhook, and one with svix headers,
// event types and a metadata filter that fanoutMetadata's references pass. Every
// receiver waits delay() before it answers.
func crashDestinations(t *testing.T, delay func() time.Duration) []*destination {
	t.Helper()
	return []*destination{
		{name: "standard", rcv: newDestReceiver(t, 0, delay), body: map[string]any{"description": "all updates, one a POST"}},
		{name: "batch", batch: true, rcv: newDestReceiver(t, 3, delay), body: map[string]any{"format": "batch", "batch_size": 3}},
		{name: "svix", svix: true, rcv: newDestReceiver(t, 0, delay), body: map[string]any{
			"headers": "svix", "event_types": svixEventTypes, "filter": map[string]any{"metadata": map[string]string{"fanout": "yes"}},
		}, selects: func(u *webhook.Update) bool {
			return u.Reference.Metadata["fanout"] == "yes" &&
				(slices.Contains(svixEventTypes, string(u.Type)) || slices.ContainsFunc(u.Tags, func(tag string) bool { return slices.Contains(svixEventTypes, tag) }))
		}},
	}
}

// fanoutMetadata is the metadata of the i-th planned reference of the crash tests
// with endpoints: every third is left out by the svix endpoint's filter.
func fanoutMetadata(i int) map[string]string {
	if i%3 == 0 {
		return nil
	}
	return map[string]string{"fanout": "yes"}
}

// awaitDestinations waits until the service has finished every message of each
// destination (succeeded or failed), as many as the final feeds select for it, then
// reads its messages and what GET /endpoints answers about it.
func awaitDestinations(t *testing.T, svc *service, dests []*destination, feeds map[string][]webhook.Update) {
	t.Helper()
	for _, d := range dests {
		want := 0
		for _, feed := range feeds {
			want += len(d.selected(feed))
		}
		eventually(t, 2*time.Minute, "every message of the "+d.name+" endpoint finished", func() (bool, string) {
			var st api.EndpointStats
			svc.get("/endpoints/"+d.id+"/stats", &st)
			open := st.Counts[references.MessagePending] + st.Counts[references.MessageSending]
			done := st.Counts[references.MessageSucceeded] + st.Counts[references.MessageFailed]
			return open == 0 && done == want, fmt.Sprintf("counts %v, %d messages expected", st.Counts, want)
		})
		d.messages = d.listMessages(t, svc)
		d.listed = d.endpointAnswers(t, svc)
	}
}

// checkCallbackAndDestinations checks, each in a subtest, what the callback receiver
// got (checkDeliveries, with the account's secrets) and what each destination got
// (destination.check) against the final feeds, and returns the figures of each.
func checkCallbackAndDestinations(t *testing.T, feeds map[string][]webhook.Update, cb *receiver, dests []*destination, accountSecrets []string) []string {
	t.Helper()
	var figures []string
	t.Run("callback", func(t *testing.T) {
		fig := checkDeliveries(t, domainFeeds(feeds), cb.deliveries(), accountSecrets)
		t.Logf("callback: %s", fig)
		figures = append(figures, "callback: "+fig.String())
	})
	for _, d := range dests {
		t.Run(d.name, func(t *testing.T) {
			fig := d.check(t, feeds, accountSecrets)
			figures = append(figures, d.name+": "+fig.String())
		})
	}
	return figures
}

// domainFeeds converts feeds in wire form (wireFeeds) to the domain's.
func domainFeeds(feeds map[string][]webhook.Update) map[string][]references.Update {
	out := make(map[string][]references.Update, len(feeds))
	for id, feed := range feeds {
		for i := range feed {
			out[id] = append(out[id], feed[i].Domain())
		}
	}
	return out
}

// wireFeeds reads the whole feed of every reference, as GET /references/:id/updates
// gives it (with tags and the reference's metadata, which endpoints select on).
func wireFeeds(s *service, refs []api.Reference) map[string][]webhook.Update {
	s.t.Helper()
	out := make(map[string][]webhook.Update, len(refs))
	for _, ref := range refs {
		var feed []webhook.Update
		after := uint64(0)
		for {
			var page api.UpdatePage
			s.get(fmt.Sprintf("/references/%s/updates?limit=500&after=%d", ref.ID, after), &page)
			feed = append(feed, page.Updates...)
			if len(page.Updates) == 0 {
				break
			}
			after = page.NextAfter
		}
		out[ref.ID] = feed
	}
	return out
}

// destination is one account endpoint of the crash test: how it is made, its
// receiver, and what the service says of it at the end.
type destination struct {
	name    string
	body    map[string]any // settings of POST /endpoints besides the url
	rcv     *destReceiver
	batch   bool
	svix    bool
	selects func(u *webhook.Update) bool // nil: every update

	id       string
	secrets  []string      // from GET /endpoints/:id/secret
	messages []api.Message // every message, from GET /endpoints/:id/messages
	listed   string        // the answers of GET /endpoints and GET /endpoints/:id
}

// create makes the endpoint through the API and reads its secret.
func (d *destination) create(t *testing.T, svc *service) {
	t.Helper()
	body := map[string]any{"url": d.rcv.URL + "/" + d.name}
	for k, v := range d.body {
		body[k] = v
	}
	status, out, _, err := svc.do(http.MethodPost, "/endpoints", body)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create the %s endpoint: %d %s %v", d.name, status, out, err)
	}
	var ep api.Endpoint
	if err := json.Unmarshal(out, &ep); err != nil || !strings.HasPrefix(ep.ID, "ep_") {
		t.Fatalf("create the %s endpoint: %s %v", d.name, out, err)
	}
	d.id = ep.ID
	var sec struct {
		Secret  string              `json:"secret"`
		Secrets []api.WebhookSecret `json:"secrets"`
	}
	svc.get("/endpoints/"+d.id+"/secret", &sec)
	if len(sec.Secrets) != 1 || sec.Secret != sec.Secrets[0].Secret || !strings.HasPrefix(sec.Secret, webhook.SecretPrefix) {
		t.Fatalf("the secret of the %s endpoint: %+v", d.name, sec)
	}
	d.secrets = []string{sec.Secret}
}

// selected returns the updates of a feed the destination gets, in order.
func (d *destination) selected(feed []webhook.Update) []webhook.Update {
	if d.selects == nil {
		return feed
	}
	var out []webhook.Update
	for i := range feed {
		if d.selects(&feed[i]) {
			out = append(out, feed[i])
		}
	}
	return out
}

// listMessages reads every message of the endpoint, following the pages.
func (d *destination) listMessages(t *testing.T, svc *service) []api.Message {
	t.Helper()
	var all []api.Message
	cursor := ""
	for {
		var page api.MessagePage
		svc.get("/endpoints/"+d.id+"/messages?limit=500&cursor="+url.QueryEscape(cursor), &page)
		all = append(all, page.Messages...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// endpointAnswers returns the raw answers of GET /endpoints and GET /endpoints/:id.
func (d *destination) endpointAnswers(t *testing.T, svc *service) string {
	t.Helper()
	var sb strings.Builder
	for _, p := range []string{"/endpoints", "/endpoints/" + d.id} {
		status, out, _, err := svc.do(http.MethodGet, p, nil)
		if err != nil || status != http.StatusOK {
			t.Fatalf("GET %s: %d %s %v", p, status, out, err)
		}
		sb.Write(out)
		sb.WriteByte('\n')
	}
	return sb.String()
}
