package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/tracking"
)

// Helpers of the shipment pages' tests: references made through the Service, polls
// recorded as the poller records them, deliveries made by the real notifier.

const testOwner = "console-test"

// track creates a reference of acct through the Service (not the form).
func (r *rig) track(acct string, req references.CreateRequest) references.Reference {
	r.t.Helper()
	ref, _, err := r.svc.Create(context.Background(), acct, req, "")
	if err != nil {
		r.t.Fatalf("create %+v: %v", req, err)
	}
	return ref
}

// container tracks a container of acct with carrier MAEU.
func (r *rig) container(acct, number string) references.Reference {
	r.t.Helper()
	return r.track(acct, references.CreateRequest{ContainerID: number, CarrierCode: "MAEU"})
}

// recordPoll records a poll of refID that found events (nil: the poll failed with
// pollErr), as the poller does: the snapshot derived from the events, and one
// shipment.updated update with the changes from the last snapshot.
func (r *rig) recordPoll(refID string, events []references.Event, pollErr string) {
	r.t.Helper()
	ctx := context.Background()
	now := r.clock.Now()
	res := references.PollResult{PolledAt: now, NextPollAt: now.Add(15 * time.Minute)}
	if pollErr != "" {
		res.Error, res.ConsecutiveFailures = pollErr, 1
	} else {
		cur := tracking.Derive(&references.Shipment{Events: events})
		old, err := r.db.Shipment(ctx, refID)
		if err != nil {
			r.t.Fatal(err)
		}
		if changes := tracking.Diff(old, cur); len(changes) > 0 {
			res.Shipment = cur
			res.Updates = []references.Update{{
				ID: references.NewID("upd_"), Type: references.UpdateShipment, CreatedAt: now,
				Changes: changes, Shipment: cur,
			}}
		}
	}
	claim, err := r.db.ClaimPoll(ctx, testOwner, refID, time.Minute)
	if err != nil {
		r.t.Fatalf("claim poll: %v", err)
	}
	if _, err := r.db.RecordPoll(ctx, claim.Lease, res); err != nil {
		r.t.Fatalf("record poll: %v", err)
	}
}

// demoPoll polls refID once with the demo carrier, through the real poller, at the
// rig's clock.
func (r *rig) demoPoll(refID string) {
	r.t.Helper()
	p, err := poller.New(r.db, poller.Options{
		Router: poller.Router{Default: demo.New(demo.Options{Speed: 1, Clock: r.clock})},
		Clock:  r.clock, TickSchedule: "@every 1h", Rand: func() float64 { return 0.5 },
	})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := p.PollOne(context.Background(), refID); err != nil {
		r.t.Fatalf("demo poll: %v", err)
	}
}

// receiver is a loopback webhook receiver answering status (200 unless set).
type receiver struct {
	srv    *httptest.Server
	status atomic.Int64
	posts  atomic.Int64
}

func (r *rig) receiver() *receiver {
	rc := &receiver{}
	rc.status.Store(http.StatusOK)
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rc.posts.Add(1)
		w.WriteHeader(int(rc.status.Load()))
	}))
	r.t.Cleanup(rc.srv.Close)
	return rc
}

// deliver sends what waits for refID's callback, one attempt, with the real notifier.
func (r *rig) deliver(refID string) references.AttemptOutcome {
	r.t.Helper()
	n := notifier.New(r.db, notifier.NewSender(notifier.SenderOptions{AllowPrivate: true}), notifier.Options{Clock: r.clock, Owner: testOwner})
	out, err := n.DeliverNext(context.Background(), refID)
	if err != nil {
		r.t.Fatalf("deliver: %v", err)
	}
	return out
}

// deliverAll sends what is due to every destination (callbacks and endpoints) with
// the real notifier: one scan, drained.
func (r *rig) deliverAll() int {
	r.t.Helper()
	ctx := context.Background()
	n := notifier.New(r.db, notifier.NewSender(notifier.SenderOptions{AllowPrivate: true}), notifier.Options{Clock: r.clock, Owner: testOwner})
	queued, err := n.Scan(ctx) // before Start, whose own first scan would race it
	if err != nil {
		r.t.Fatal(err)
	}
	n.Start(ctx)
	n.Stop(ctx) // drains what the scan queued
	return queued
}

// readKey stores a key of acct with the read scope only.
func (r *rig) readKey(acct string) string {
	r.t.Helper()
	key, stored := references.NewAPIKey(acct, []references.Scope{references.ScopeRead}, r.clock.Now())
	if err := r.db.CreateAPIKey(context.Background(), stored); err != nil {
		r.t.Fatal(err)
	}
	return key
}

// ev is an event of a hand-made snapshot.
func ev(typ references.EventType, class references.Classifier, code, locode, name string, at time.Time) references.Event {
	e := references.Event{ID: references.NewID("ev_"), Type: typ, Classifier: class, Code: code, Time: at}
	if locode != "" || name != "" {
		e.Location = &references.Location{UNLocode: locode, Name: name}
	}
	return e
}

func onVessel(e references.Event, vessel, imo, voyage string) references.Event {
	e.TransportCall = &references.TransportCall{VesselName: vessel, VesselIMO: imo, Voyage: voyage, ModeOfTransport: references.ModeVessel}
	return e
}

func forContainer(e references.Event, number string) references.Event {
	e.EquipmentReference, e.EmptyIndicator = number, references.EmptyIndicatorLaden
	return e
}

var refRow = regexp.MustCompile(`<tr data-ref-id="([^"]+)"`)

// rowIDs returns the reference ids of a list page's rows, in order.
func rowIDs(body string) []string {
	var ids []string
	for _, m := range refRow.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// sameIDs reports whether got and want hold the same ids, in any order.
func sameIDs(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// linkHref returns the href of the element with the id (an <a href=... id=...>),
// unescaped, or "".
func linkHref(body, id string) string {
	re := regexp.MustCompile(`<a href="([^"]*)"[^>]*\bid="` + regexp.QuoteMeta(id) + `"`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

// element returns the element of body with the tag and id, to its matching closing
// tag (elements of the same tag nested in it included), or "".
func element(body, tag, id string) string {
	loc := regexp.MustCompile(`<` + tag + `\b[^>]*\bid="` + regexp.QuoteMeta(id) + `"`).FindStringIndex(body)
	if loc == nil {
		return ""
	}
	start := loc[0]
	open, closing := regexp.MustCompile(`<`+tag+`[\s>]`), "</"+tag+">"
	depth, i := 0, start
	for i < len(body) {
		c := strings.Index(body[i:], closing)
		if c < 0 {
			return body[start:]
		}
		if o := open.FindStringIndex(body[i:]); o != nil && o[0] < c {
			depth++
			i += o[1]
			continue
		}
		depth--
		i += c + len(closing)
		if depth == 0 {
			return body[start:i]
		}
	}
	return body[start:]
}
