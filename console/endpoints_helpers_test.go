package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// Helpers of the webhooks pages' tests (names start with ep, beside the other
// pages' helpers in this package).

const epOwner = "console-test"

// epWithTestSender returns a rig serving the same store and accounts whose Service
// sends test events, as `trackhook serve` wires it (endpointTest in cmd/trackhook):
// through a notifier's sender, here allowed to reach loopback receivers.
func (r *rig) epWithTestSender(t *testing.T) *rig {
	t.Helper()
	n := notifier.New(r.db, notifier.NewSender(notifier.SenderOptions{Timeout: 5 * time.Second, UserAgent: "trackhook/test", AllowPrivate: true, Now: r.clock.Now}),
		notifier.Options{Clock: r.clock, Logger: slog.New(slog.DiscardHandler)})
	svc := references.NewService(r.db, references.ServiceOptions{Now: r.clock.Now, AllowInsecureCallbacks: true, TestEndpoint: n.TestEndpoint})
	log := slog.New(slog.DiscardHandler)
	e := api.New(svc, api.Options{Logger: log, RateLimit: rate.Inf, RotationLimit: rate.Inf, AuthFailureLimit: rate.Inf, Now: r.clock.Now})
	if _, err := Register(e, svc, Options{Logger: log, Operator: r.db, Now: r.clock.Now}); err != nil {
		t.Fatal(err)
	}
	out := *r
	out.svc = svc
	out.srv = httptest.NewServer(e)
	t.Cleanup(out.srv.Close)
	return &out
}

// epKey creates a key of the account with the scope and returns it.
func (r *rig) epKey(t *testing.T, acct string, scope references.Scope) string {
	t.Helper()
	key, stored := references.NewAPIKey(acct, []references.Scope{scope}, r.clock.Now())
	if err := r.db.CreateAPIKey(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	return key
}

// epCreate creates an endpoint of the account through the Service.
func (r *rig) epCreate(t *testing.T, acct, rawURL string) references.Endpoint {
	t.Helper()
	ep, err := r.svc.CreateEndpoint(context.Background(), acct, references.EndpointPatch{URL: &rawURL})
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	return ep
}

// epTrack tracks a booking of the account, without a callback of its own.
func (r *rig) epTrack(t *testing.T, acct, booking string) references.Reference {
	t.Helper()
	ref, _, err := r.svc.Create(context.Background(), acct, references.CreateRequest{BookingNumber: booking, CarrierCode: "MAEU"}, "")
	if err != nil {
		t.Fatalf("track: %v", err)
	}
	return ref
}

// epSeedUpdates records a poll of the reference with n updates, as the poller
// would; each becomes a message of every endpoint of the account.
func (r *rig) epSeedUpdates(t *testing.T, refID string, n int) {
	t.Helper()
	ctx, now := context.Background(), r.clock.Now()
	res := references.PollResult{PolledAt: now, NextPollAt: now.Add(15 * time.Minute)}
	for i := 0; i < n; i++ {
		res.Updates = append(res.Updates, references.Update{
			Type: references.UpdateShipment, CreatedAt: now,
			Changes: []references.Change{{Type: references.ChangeStatusChanged, Description: fmt.Sprintf("change %d", i), New: "in_transit"}},
		})
	}
	claim, err := r.db.ClaimPoll(ctx, epOwner, refID, time.Minute)
	if err != nil {
		t.Fatalf("claim poll: %v", err)
	}
	if _, err := r.db.RecordPoll(ctx, claim.Lease, res); err != nil {
		t.Fatalf("record poll: %v", err)
	}
}

// epAttempt records one attempt of the endpoint's next due message (or its
// requested resend), as the notifier does after a POST, and returns the message's
// id. a's outcome and answer are the caller's.
func (r *rig) epAttempt(t *testing.T, endpointID string, resend bool, a references.DeliveryAttempt) string {
	t.Helper()
	ctx := context.Background()
	claims, err := r.db.ClaimDueDeliveries(ctx, epOwner, 1000, time.Minute)
	if err != nil {
		t.Fatalf("claim deliveries: %v", err)
	}
	var mine *references.DeliveryClaim
	for i := range claims {
		c := &claims[i]
		if mine == nil && c.Job.Destination == endpointID && c.Job.Redelivery == resend {
			mine = c
			continue
		}
		if err := r.db.ReleaseLease(ctx, c.Lease); err != nil {
			t.Fatal(err)
		}
	}
	if mine == nil {
		t.Fatalf("no due work for endpoint %s (resend %v)", endpointID, resend)
	}
	job := mine.Job
	a.Destination, a.ReferenceID, a.UpdateID = endpointID, job.Reference.ID, job.MessageID()
	a.Sequence, a.Attempt, a.URL, a.At, a.Redelivery = job.Update.Sequence, job.Attempt, job.URL(), r.clock.Now(), job.Redelivery
	if _, err := r.db.RecordAttempt(ctx, mine.Lease, job, a, ""); err != nil {
		t.Fatalf("record attempt: %v", err)
	}
	if err := r.db.ReleaseLease(ctx, mine.Lease); err != nil {
		t.Fatal(err)
	}
	return job.MessageID()
}

func epDelivered(ms int64) references.DeliveryAttempt {
	return references.DeliveryAttempt{StatusCode: 200, LatencyMS: ms, ResponseBody: "thanks", Outcome: references.OutcomeDelivered}
}

func epGaveUp(ms int64) references.DeliveryAttempt {
	return references.DeliveryAttempt{StatusCode: 500, LatencyMS: ms, ResponseBody: "oops <b>", Error: "HTTP 500", Outcome: references.OutcomeGaveUp}
}

// epReceiver is a loopback receiver answering status with body, keeping what it got.
type epReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	headers []http.Header
	bodies  [][]byte
}

func epNewReceiver(t *testing.T, status int, body string) *epReceiver {
	t.Helper()
	rc := &epReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		rc.mu.Lock()
		rc.headers, rc.bodies = append(rc.headers, req.Header.Clone()), append(rc.bodies, b)
		rc.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *epReceiver) got() ([]http.Header, [][]byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]http.Header(nil), rc.headers...), append([][]byte(nil), rc.bodies...)
}

// epDoc parses a page.
func epDoc(t *testing.T, p page) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(p.body))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	return doc
}

// epFind returns the elements for which match holds, in document order.
func epFind(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// epAttr returns an attribute of n, "" when absent.
func epAttr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// epHas returns a matcher of elements having attribute name (with value, unless
// value is "").
func epHas(name, value string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		for _, a := range n.Attr {
			if a.Key == name && (value == "" || a.Val == value) {
				return true
			}
		}
		return false
	}
}

// epByID returns the element with the id, or nil.
func epByID(doc *html.Node, id string) *html.Node {
	if f := epFind(doc, epHas("id", id)); len(f) > 0 {
		return f[0]
	}
	return nil
}

// epText returns the text of n and its descendants, spaces collapsed.
func epText(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// epMustID fails unless the page has an element with the id, and returns its text.
func epMustID(t *testing.T, p page, id string) string {
	t.Helper()
	n := epByID(epDoc(t, p), id)
	if n == nil {
		t.Fatalf("no #%s on the page (%d):\n%s", id, p.status, p.body)
	}
	return epText(n)
}

// epFieldError returns the text of p.field-error#error-<field>, "" when absent.
func epFieldError(t *testing.T, p page, field string) string {
	t.Helper()
	n := epByID(epDoc(t, p), "error-"+field)
	if n == nil {
		return ""
	}
	if !strings.Contains(" "+epAttr(n, "class")+" ", " field-error ") {
		t.Errorf("#error-%s is not a p.field-error", field)
	}
	return epText(n)
}

// epInputValue returns the value of the input named name.
func epInputValue(t *testing.T, p page, name string) string {
	t.Helper()
	f := epFind(epDoc(t, p), func(n *html.Node) bool { return n.Data == "input" && epAttr(n, "name") == name })
	if len(f) == 0 {
		t.Fatalf("no input %s on the page:\n%s", name, p.body)
	}
	return epAttr(f[0], "value")
}

// epRowIDs returns the attribute attr of every tr having it, in order.
func epRowIDs(t *testing.T, p page, attr string) []string {
	t.Helper()
	var ids []string
	for _, n := range epFind(epDoc(t, p), func(n *html.Node) bool { return n.Data == "tr" && epHas(attr, "")(n) }) {
		ids = append(ids, epAttr(n, attr))
	}
	return ids
}

// epVerify checks a delivery's signature with secret, as a receiver does.
func epVerify(secret string, h http.Header, body []byte, now time.Time) error {
	return webhook.Verify([]string{secret}, h, body, 5*time.Minute, now)
}
