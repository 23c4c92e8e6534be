package inbound_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/inbound"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa3"
	"github.com/trackhook/trackhook/references"
)

// pushCT posts events to the CT 3.0 route of source with its credential.
func (r *rig) pushCT(source string, events ...any) answer {
	r.t.Helper()
	h := http.Header{"Authorization": {"Bearer " + ctBearer}, "Api-Version": {dcsa3.APIVersion}}
	if source == srcCTHeader {
		h = http.Header{"X-Api-Key": {ctHeaderKey}}
	}
	return r.post("/inbound/dcsa-ct/"+source+"/events", mustJSON(r.t, map[string]any{"events": events}), h, false)
}

// wantOK checks a 200 PostEventsResponse and returns its feedback.
func wantOK(t *testing.T, got answer) []dcsa3.Feedback {
	t.Helper()
	if got.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", got.status, got.body)
	}
	if v := got.header.Get("API-Version"); v != dcsa3.APIVersion {
		t.Errorf("API-Version %q, want %q", v, dcsa3.APIVersion)
	}
	var body struct {
		Feedback *[]dcsa3.Feedback `json:"feedbackElements"`
	}
	if err := json.Unmarshal(got.body, &body); err != nil || body.Feedback == nil {
		t.Fatalf("not a PostEventsResponse with feedbackElements: %s (%v)", got.body, err)
	}
	return *body.Feedback
}

// TestCT_PushReachesEveryAccountsMatchingReferences: one push is merged into every
// active reference, of any account, that tracks an identifier its events name with
// the source's carrier code: a container reference gets the events of its container,
// a bill of lading reference those of its document. References of another carrier,
// paused ones and those of other identifiers are left alone.
func TestCT_PushReachesEveryAccountsMatchingReferences(t *testing.T) {
	t.Parallel()
	r := setup(t, nil)
	now := r.clk.Now()
	const bl = "CMDU71800000"
	other := container("CMAU", "100200")
	boxA := r.track(acctA, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: srcCT})
	boxB := r.track(acctB, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: srcCT})
	blB := r.track(acctB, references.CreateRequest{BillOfLading: bl, CarrierCode: srcCT})
	otherCarrier := r.track(acctA, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: "ZIMU"})
	paused := r.track(acctA, references.CreateRequest{ContainerID: other, CarrierCode: srcCT})
	if _, err := r.svc.Pause(r.ctx, acctA, paused.ID); err != nil {
		t.Fatal(err)
	}
	notNamed := r.track(acctA, references.CreateRequest{ContainerID: "CSQU3054383", CarrierCode: srcCT})
	untouched := map[string]state{}
	for _, ref := range []references.Reference{otherCarrier, paused, notNamed} {
		untouched[ref.ID] = r.state(ref)
	}

	feedback := wantOK(t, r.pushCT(srcCT,
		ctEvent("ev-gtin", "GTIN", now, now, "MSCU1234566", bl),
		ctEvent("ev-other", "LOAD", now, now, other, bl),
		map[string]any{"eventID": "iot-1", "eventDateTime": now.Format(time.RFC3339), "eventClassification": map[string]any{"eventTypeCode": "IOT", "eventClassifierCode": "ACT"}},
	))
	rep := r.wantReport(srcCT, poller.PushReceiver, inbound.OutcomeApplied)
	if len(feedback) != 1 || feedback[0].Severity != dcsa3.SeverityInfo {
		t.Errorf("feedback %+v, want the INFO on the IoT event", feedback)
	}
	want := map[string][]string{
		boxA.ID: {"ev-gtin"},
		boxB.ID: {"ev-gtin"},
		blB.ID:  {"ev-gtin", "ev-other"},
	}
	total := 0
	for id, ids := range want {
		if got := r.eventIDs(id); !slices.Equal(got, ids) {
			t.Errorf("reference %s: snapshot %v, want %v", id, got, ids)
		}
		ref, err := r.db.ReferenceByID(r.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		total += int(ref.LastSequence)
	}
	if rep.Updates != total || total < 3 {
		t.Errorf("reported %d updates, the feeds hold %d: want the same, at least one per reference", rep.Updates, total)
	}
	for _, ref := range []references.Reference{otherCarrier, paused, notNamed} {
		r.unchanged(ref, untouched[ref.ID], "a push that does not concern it")
	}

	// The carrier sends it again: nothing new anywhere.
	wantOK(t, r.pushCT(srcCT, ctEvent("ev-gtin", "GTIN", now, now, "MSCU1234566", bl), ctEvent("ev-other", "LOAD", now, now, other, bl)))
	r.wantReport(srcCT, poller.PushReceiver, inbound.OutcomeDuplicate)
	for id, ids := range want {
		if got := r.eventIDs(id); !slices.Equal(got, ids) {
			t.Errorf("after a retry, reference %s: snapshot %v, want %v", id, got, ids)
		}
	}
	r.noSecretsLogged(nil, ctBearer)
}

// TestCT_CarrierCodesOfTheSource: a source serving several carrier codes matches
// the references of each.
func TestCT_CarrierCodesOfTheSource(t *testing.T) {
	t.Parallel()
	r := setup(t, nil)
	now := r.clk.Now()
	hl := r.track(acctA, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: "HLCU"})
	hx := r.track(acctB, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: "HLXU"})
	wantOK(t, r.pushCT(srcCTHeader, ctEvent("ev-1", "GTIN", now, now, "MSCU1234566", "")))
	r.wantReport(srcCTHeader, poller.PushReceiver, inbound.OutcomeApplied)
	for _, ref := range []references.Reference{hl, hx} {
		if got := r.eventIDs(ref.ID); !slices.Equal(got, []string{"ev-1"}) {
			t.Errorf("%s reference: snapshot %v, want ev-1", ref.CarrierCode, got)
		}
	}
}

// TestCT_NewVersionsAndRetractions: a later version of an event replaces it, a
// retraction removes it (naming the identifier or, with other events of the
// reference, naming none), and a push that concerns no tracked reference is
// acknowledged.
func TestCT_NewVersionsAndRetractions(t *testing.T) {
	t.Parallel()
	r := setup(t, nil)
	now := r.clk.Now()
	ref := r.track(acctA, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: srcCT})
	wantOK(t, r.pushCT(srcCT,
		ctEvent("ev-gtin", "GTIN", now, now, "MSCU1234566", ""),
		ctEvent("ev-load", "LOAD", now.Add(time.Hour), now, "MSCU1234566", ""),
		ctEvent("ev-depa", "DISC", now.Add(2*time.Hour), now, "MSCU1234566", ""),
	))
	r.wantReport(srcCT, poller.PushReceiver, inbound.OutcomeApplied)

	// ev-load moves; ev-gtin is retracted by a record naming the container.
	moved := ctEvent("ev-load", "LOAD", now.Add(90*time.Minute), now.Add(time.Minute), "MSCU1234566", "")
	retractGTIN := map[string]any{"eventID": "ev-gtin", "isRetracted": true, "eventUpdatedDateTime": now.Add(time.Minute).Format(time.RFC3339),
		"equipmentDetails": map[string]any{"equipmentReference": "MSCU1234566"}}
	wantOK(t, r.pushCT(srcCT, moved, retractGTIN))
	r.wantReport(srcCT, poller.PushReceiver, inbound.OutcomeApplied)
	sh, err := r.db.Shipment(r.ctx, ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.eventIDs(ref.ID); !slices.Equal(got, []string{"ev-load", "ev-depa"}) {
		t.Fatalf("snapshot %v, want ev-load and ev-depa (ev-gtin retracted)", got)
	}
	if !sh.Events[0].Time.Equal(now.Add(90 * time.Minute)) {
		t.Errorf("ev-load at %v, want the new version's %v", sh.Events[0].Time, now.Add(90*time.Minute))
	}

	// A retraction that names nothing, with an event of the reference.
	retractDepa := map[string]any{"eventID": "ev-depa", "isRetracted": true, "eventUpdatedDateTime": now.Add(2 * time.Minute).Format(time.RFC3339)}
	wantOK(t, r.pushCT(srcCT, ctEvent("ev-arri", "DISC", now.Add(3*time.Hour), now.Add(2*time.Minute), "MSCU1234566", ""), retractDepa))
	r.wantReport(srcCT, poller.PushReceiver, inbound.OutcomeApplied)
	if got := r.eventIDs(ref.ID); !slices.Equal(got, []string{"ev-load", "ev-arri"}) {
		t.Errorf("snapshot %v, want ev-load and ev-arri (ev-depa retracted)", got)
	}

	// Nobody tracks this container.
	before := r.state(ref)
	wantOK(t, r.pushCT(srcCT, ctEvent("ev-x", "GTIN", now, now, "CSQU3054383", "")))
	r.wantReport(srcCT, poller.PushReceiver, inbound.OutcomeNotTracked)
	r.unchanged(ref, before, "a push for another container")
}

// TestCT_BusyReferenceAsksTheCarrierToRetry: nothing recorded, 503 with Retry-After.
func TestCT_BusyReferenceAsksTheCarrierToRetry(t *testing.T) {
	t.Parallel()
	r := setup(t, busyApplier{})
	r.track(acctA, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: srcCT})
	got := r.pushCT(srcCT, ctEvent("ev-1", "GTIN", r.clk.Now(), r.clk.Now(), "MSCU1234566", ""))
	if got.status != http.StatusServiceUnavailable || got.header.Get("Retry-After") == "" {
		t.Fatalf("%d (Retry-After %q) %s, want 503 with Retry-After", got.status, got.header.Get("Retry-After"), got.body)
	}
	r.wantReport(srcCT, poller.PushReceiver, inbound.OutcomeError)
}
