package inbound_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/inbound"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa3"
	"github.com/trackhook/trackhook/references"
)

// TestCT_RefusalsChangeNothing: a push to POST /events without the source's
// credential, too large or not a PostEventsRequest is answered with the standard's
// error (feedbackElements with an ERROR, API-Version), reported under its outcome,
// and changes nothing.
func TestCT_RefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	r := setup(t, &recordingApplier{})
	now := r.clk.Now()
	ref := r.track(acctA, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: srcCT})
	good := mustJSON(t, map[string]any{"events": []any{ctEvent("ev-1", "GTIN", now, now, "MSCU1234566", "")}})
	bearer := http.Header{"Authorization": {"Bearer " + ctBearer}}
	tooMany := make([]any, dcsa3.MaxPushEvents+1)
	for i := range tooMany {
		tooMany[i] = ctEvent("ev", "GTIN", now, now, "MSCU1234566", "")
	}

	cases := []struct {
		name    string
		source  string
		header  http.Header
		body    []byte
		status  int
		outcome string
		label   string
	}{
		{"unknown source", "XXXX", bearer, good, 404, inbound.OutcomeUnknownSubscription, inbound.UnknownSource},
		{"a T&T 2.2 source", srcTNT, bearer, good, 404, inbound.OutcomeUnknownSubscription, inbound.UnknownSource},
		{"no credential", srcCT, nil, good, 401, inbound.OutcomeUnauthorized, srcCT},
		{"wrong token", srcCT, http.Header{"Authorization": {"Bearer " + ctBearer + "x"}}, good, 401, inbound.OutcomeUnauthorized, srcCT},
		{"another source's credential", srcCT, http.Header{"X-Api-Key": {ctHeaderKey}}, good, 401, inbound.OutcomeUnauthorized, srcCT},
		{"token twice", srcCT, http.Header{"Authorization": {"Bearer " + ctBearer, "Bearer " + ctBearer}}, good, 401, inbound.OutcomeUnauthorized, srcCT},
		{"header source, bearer given", srcCTHeader, bearer, good, 401, inbound.OutcomeUnauthorized, srcCTHeader},
		{"not JSON", srcCT, bearer, []byte(`events`), 400, inbound.OutcomeMalformed, srcCT},
		{"events not an array", srcCT, bearer, []byte(`{"events": "GTIN"}`), 400, inbound.OutcomeMalformed, srcCT},
		{"no usable event", srcCT, bearer, []byte(`{"events": [{"eventID": "x", "eventDateTime": "soon"}]}`), 400, inbound.OutcomeMalformed, srcCT},
		{"too many events", srcCT, bearer, mustJSON(t, map[string]any{"events": tooMany}), 413, inbound.OutcomeTooLarge, srcCT},
		{"too many bytes", srcCT, bearer, bytes.Repeat([]byte(" "), dcsa3.MaxPushBytes+1), 413, inbound.OutcomeTooLarge, srcCT},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := r.on(t)
			before := r.state(ref)
			got := r.post("/inbound/dcsa-ct/"+c.source+"/events", c.body, c.header, false)
			if got.status != c.status {
				t.Errorf("status %d, want %d: %.300s", got.status, c.status, got.body)
			}
			if v := got.header.Get("API-Version"); v != dcsa3.APIVersion {
				t.Errorf("API-Version %q, want %q", v, dcsa3.APIVersion)
			}
			var e struct {
				FeedbackElements []dcsa3.Feedback `json:"feedbackElements"`
			}
			if err := json.Unmarshal(got.body, &e); err != nil || len(e.FeedbackElements) == 0 || e.FeedbackElements[0].Severity != dcsa3.SeverityError {
				t.Errorf("the body is not a PostEventsError with an ERROR: %.300s (%v)", got.body, err)
			}
			r.wantReport(c.label, poller.PushReceiver, c.outcome)
			r.unchanged(ref, before, c.name)
			if n := r.applier.(*recordingApplier).Calls(); n != 0 {
				t.Errorf("ApplyPush called %d times", n)
			}
			r.noSecretsLogged(c.body, ctBearer, ctHeaderKey)
		})
	}
}

// TestCT_UnusableEventsAreNamed: when none of a push's events can be used, the 400
// says which and why, by their path in the request.
func TestCT_UnusableEventsAreNamed(t *testing.T) {
	t.Parallel()
	r := setup(t, &recordingApplier{})
	body := []byte(`{"events": [{"eventID": "a"}, {"eventID": "b", "eventDateTime": 7}]}`)
	got := r.post("/inbound/dcsa-ct/"+srcCT+"/events", body, http.Header{"Authorization": {"Bearer " + ctBearer}}, false)
	if got.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", got.status, got.body)
	}
	for _, path := range []string{`$.events[0]`, `$.events[1]`} {
		if !strings.Contains(string(got.body), path) {
			t.Errorf("the feedback does not name %s: %s", path, got.body)
		}
	}
	r.wantReport(srcCT, poller.PushReceiver, inbound.OutcomeMalformed)
}

// TestRegister_RefusesIncompleteOptions: the routes are not added without what they
// need, nor for a receiver without a credential, which would let anyone push.
func TestRegister_RefusesIncompleteOptions(t *testing.T) {
	t.Parallel()
	r := setup(t, &recordingApplier{})
	cases := []struct {
		name string
		opts inbound.Options
	}{
		{"no applier", inbound.Options{Store: r.db}},
		{"no store", inbound.Options{Applier: r.applier}},
		{"receiver without auth", inbound.Options{Applier: r.applier, Store: r.db, Sources: map[string]inbound.Source{"X": {Model: poller.PushReceiver}}}},
		{"receiver with an empty secret", inbound.Options{Applier: r.applier, Store: r.db,
			Sources: map[string]inbound.Source{"X": {Model: poller.PushReceiver, Auth: &poller.InboundAuth{Header: "X-Key"}}}}},
		{"no model", inbound.Options{Applier: r.applier, Store: r.db, Sources: map[string]inbound.Source{"X": {}}}},
	}
	for _, c := range cases {
		if err := inbound.Register(newEcho(), c.opts); err == nil {
			t.Errorf("%s: Register succeeded", c.name)
		}
	}
}
