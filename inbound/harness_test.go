package inbound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/inbound"
	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// Sources of the rig: two T&T 2.2 carriers with subscriptions and two CT 3.0
// carriers, one with a bearer token, one with a header and two carrier codes.
const (
	srcTNT      = "MAEU"
	srcTNTOther = "ZIMU"
	srcCT       = "CMDU"
	srcCTHeader = "HLCU"

	ctBearer    = "ct-bearer-secret-0123456789"
	ctHeaderKey = "hl-api-key-0123456789"
)

// Accounts of the rig.
const (
	acctA = "acct_a"
	acctB = "acct_b"
)

// rig is an inbound server over a real bbolt store, on loopback HTTP, with a fake
// clock and the reports and logs it made.
type rig struct {
	t       *testing.T
	ctx     context.Context
	db      *store.DB
	clk     *clock.Fake
	svc     *references.Service
	srv     *httptest.Server
	applier inbound.Applier
	out     *output
}

// output is what the server reported and logged.
type output struct {
	mu      sync.Mutex
	reports []inbound.Report
	logs    bytes.Buffer
}

// on returns the rig for subtest t: its failures are t's.
func (r *rig) on(t *testing.T) *rig {
	c := *r
	c.t = t
	return &c
}

// notPolled is the rig's tracking source: the tests record polls themselves.
type notPolled struct{}

func (notPolled) Fetch(context.Context, references.Reference) (*references.Shipment, error) {
	return nil, fmt.Errorf("the test polls nothing")
}

// recordingApplier counts ApplyPush calls and records nothing: for the refusal
// tests, where a push must not get that far.
type recordingApplier struct {
	mu    sync.Mutex
	calls int
}

func (a *recordingApplier) ApplyPush(context.Context, string, poller.PushMerge) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	return 0, fmt.Errorf("recordingApplier: ApplyPush called")
}

func (a *recordingApplier) Calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

// setup builds the rig; applier nil means the real poller (not started: pushes
// need no polls).
func setup(t *testing.T, applier inbound.Applier) *rig {
	t.Helper()
	r := &rig{t: t, ctx: context.Background(), clk: clock.NewFake(time.Date(2025, 2, 10, 12, 0, 0, 0, time.UTC)), out: &output{}}
	db, err := store.Open(filepath.Join(t.TempDir(), "inbound.db"), store.Options{NoSync: true, Clock: r.clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	r.db = db
	for _, acct := range []string{acctA, acctB} {
		if _, err := db.EnsureAccount(r.ctx, acct, references.NewWebhookSecret(), r.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	r.svc = references.NewService(db, references.ServiceOptions{AllowInsecureCallbacks: true, Now: r.clk.Now})
	if applier == nil {
		polls, err := poller.New(db, poller.Options{Router: poller.Router{Default: notPolled{}}, Clock: r.clk})
		if err != nil {
			t.Fatal(err)
		}
		applier = polls
	}
	r.applier = applier
	// The API's server, as serve builds it: its body limit must not hold the routes.
	e := api.New(r.svc, api.Options{
		Logger: slog.New(slog.DiscardHandler), RateLimit: rate.Inf, Now: r.clk.Now,
		OwnBodyLimits: []string{inbound.Prefix + "/"},
	})
	err = inbound.Register(e, inbound.Options{
		Applier: applier,
		Store:   db,
		Sources: r.sources(),
		Clock:   r.clk,
		Logger:  slog.New(slog.NewTextHandler(lockedWriter{&r.out.mu, &r.out.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Observe: func(rep inbound.Report) {
			r.out.mu.Lock()
			defer r.out.mu.Unlock()
			r.out.reports = append(r.out.reports, rep)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(e)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rig) sources() map[string]inbound.Source {
	r.t.Helper()
	parser := func(name string) inbound.NotificationParser {
		c, err := dcsa.New(name, dcsa.Config{BaseURL: "http://127.0.0.1:9/"}) // never called
		if err != nil {
			r.t.Fatal(err)
		}
		return c
	}
	return map[string]inbound.Source{
		srcTNT:      {Model: poller.PushSubscription, Notifications: parser(srcTNT)},
		srcTNTOther: {Model: poller.PushSubscription},
		srcCT:       {Model: poller.PushReceiver, Auth: &poller.InboundAuth{Header: "Authorization", Scheme: "Bearer", Secret: ctBearer}},
		srcCTHeader: {Model: poller.PushReceiver, Auth: &poller.InboundAuth{Header: "X-Api-Key", Secret: ctHeaderKey}, CarrierCodes: []string{"HLCU", "HLXU"}},
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// takeReports returns the reports made since the last call.
func (r *rig) takeReports() []inbound.Report {
	r.out.mu.Lock()
	defer r.out.mu.Unlock()
	got := r.out.reports
	r.out.reports = nil
	return got
}

// wantReport checks that exactly one push was reported since the last check, with
// outcome, and returns it.
func (r *rig) wantReport(source string, model poller.PushModel, outcome string) inbound.Report {
	r.t.Helper()
	got := r.takeReports()
	if len(got) != 1 || got[0].Source != source || got[0].Model != model || got[0].Outcome != outcome {
		r.t.Fatalf("reports %+v, want one of source %s, model %s, outcome %s", got, source, model, outcome)
	}
	return got[0]
}

// logText returns what was logged.
func (r *rig) logText() string {
	r.out.mu.Lock()
	defer r.out.mu.Unlock()
	return r.out.logs.String()
}

// track creates a reference of account with the identifier set by mod (a container
// of carrier MAEU by default).
func (r *rig) track(account string, req references.CreateRequest) references.Reference {
	r.t.Helper()
	if req.ContainerID == "" && req.BillOfLading == "" && req.BookingNumber == "" {
		req.ContainerID = "MSCU1234566"
	}
	if req.CarrierCode == "" {
		req.CarrierCode = srcTNT
	}
	ref, _, err := r.svc.Create(r.ctx, account, req, "")
	if err != nil {
		r.t.Fatalf("create %+v: %v", req, err)
	}
	return ref
}

// record records a poll result for ref as the poller would, under a poll lease.
func (r *rig) record(refID string, res references.PollResult) references.Reference {
	r.t.Helper()
	claim, err := r.db.ClaimPoll(r.ctx, "test", refID, time.Minute)
	if err != nil {
		r.t.Fatalf("ClaimPoll(%s): %v", refID, err)
	}
	res.PolledAt = r.clk.Now()
	res.NextPollAt = r.clk.Now().Add(6 * time.Hour)
	ref, err := r.db.RecordPoll(r.ctx, claim.Lease, res)
	if err != nil {
		r.t.Fatalf("RecordPoll(%s): %v", refID, err)
	}
	return ref
}

// subscribe gives ref a subscription at source, as a poll makes one: id, and secrets
// newest first.
func (r *rig) subscribe(ref references.Reference, source, id string, secrets ...references.PushSecret) *references.PushSubscription {
	r.t.Helper()
	sub := &references.PushSubscription{Source: source, ID: id, Secrets: secrets, CreatedAt: r.clk.Now(), RotatedAt: r.clk.Now(), CheckedAt: r.clk.Now()}
	got := r.record(ref.ID, references.PollResult{Push: sub})
	if got.Push == nil || got.Push.ID != id {
		r.t.Fatalf("the subscription was not stored: %+v", got.Push)
	}
	return got.Push
}

// secret returns a secret made of s, live until until (nil: the newest).
func secret(s string, until *time.Time) references.PushSecret {
	return references.PushSecret{Key: []byte(s), Until: until}
}

// answer is an HTTP answer of the server.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// post sends body to path with header; a nil body with length n sends n bytes of
// filler; chunked hides the length.
func (r *rig) post(path string, body []byte, header http.Header, chunked bool) answer {
	r.t.Helper()
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd) // not a *bytes.Reader: the length is not known up front
	}
	req, err := http.NewRequestWithContext(r.ctx, http.MethodPost, r.srv.URL+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		r.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: got}
}

// notify posts a T&T 2.2 notification for ref at source, with Subscription-ID subID,
// signed with key (no signature header when key is nil).
func (r *rig) notify(source, refID, subID string, key []byte, body []byte) answer {
	r.t.Helper()
	h := http.Header{"Api-Version": {"2.2.0"}}
	if subID != "" {
		h.Set(dcsa.HeaderSubscriptionID, subID)
	}
	if key != nil {
		h.Set(dcsa.HeaderNotificationSignature, dcsa.SignatureHeader(body, key))
	}
	return r.post("/inbound/dcsa/"+source+"/"+refID, body, h, false)
}

// state is what a push may change of a reference: compared before and after a
// refused one.
type state struct {
	Ref      references.Reference
	Shipment *references.Shipment
	Updates  []references.Update
}

func (r *rig) state(ref references.Reference) state {
	r.t.Helper()
	got, err := r.db.ReferenceByID(r.ctx, ref.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	sh, err := r.db.Shipment(r.ctx, ref.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	updates, err := r.db.ListUpdates(r.ctx, ref.AccountID, ref.ID, 0, 1000)
	if err != nil {
		r.t.Fatal(err)
	}
	return state{Ref: got, Shipment: sh, Updates: updates}
}

// unchanged fails the test when ref's state differs from before.
func (r *rig) unchanged(ref references.Reference, before state, what string) {
	r.t.Helper()
	if after := r.state(ref); !reflect.DeepEqual(before, after) {
		b, _ := json.Marshal(before)
		a, _ := json.Marshal(after)
		r.t.Errorf("%s changed the reference:\nbefore %s\nafter  %s", what, b, a)
	}
}

// noSecretsLogged fails the test when the logs hold one of secrets or body.
func (r *rig) noSecretsLogged(body []byte, secrets ...string) {
	r.t.Helper()
	logs := r.logText()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			r.t.Errorf("the logs hold the secret %q:\n%s", s, logs)
		}
	}
	if len(body) > 16 && strings.Contains(logs, string(body)) {
		r.t.Errorf("the logs hold a body:\n%s", logs)
	}
}

// tntEvent is a T&T 2.2 equipment event of container at at.
func tntEvent(id, code string, at time.Time, container string) map[string]any {
	return map[string]any{
		"eventID":                id,
		"eventType":              "EQUIPMENT",
		"eventClassifierCode":    "ACT",
		"eventDateTime":          at.Format(time.RFC3339),
		"eventCreatedDateTime":   at.Format(time.RFC3339),
		"equipmentEventTypeCode": code,
		"equipmentReference":     container,
		"emptyIndicatorCode":     "LADEN",
		"eventLocation":          map[string]any{"locationName": "Rotterdam", "UNLocationCode": "NLRTM"},
	}
}

// ctEvent is a CT 3.0 equipment event of container, under bill of lading bl when
// not empty, updated at updated.
func ctEvent(id, code string, at, updated time.Time, container, bl string) map[string]any {
	e := map[string]any{
		"eventID":              id,
		"eventDateTime":        at.Format(time.RFC3339),
		"eventUpdatedDateTime": updated.Format(time.RFC3339),
		"eventLocation":        map[string]any{"locationName": "Rotterdam", "UNLocationCode": "NLRTM"},
		"eventClassification":  map[string]any{"eventTypeCode": "EQUIPMENT", "eventClassifierCode": "ACT", "equipmentEventTypeCode": code},
		"equipmentDetails":     map[string]any{"equipmentReference": container, "emptyIndicatorCode": "LADEN"},
	}
	if bl != "" {
		e["shipmentDetails"] = map[string]any{"documentReference": map[string]any{"typeCode": "TRD", "reference": bl}}
	}
	return e
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// container returns a valid container number of owner (4 letters) and serial (6
// digits).
func container(owner, serial string) string {
	return fmt.Sprintf("%s%s%d", owner, serial, references.ContainerCheckDigit(owner+serial))
}

func newEcho() *echo.Echo { return echo.New() }
