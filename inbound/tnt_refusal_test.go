package inbound_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/inbound"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/references"
)

// TestTNT_RefusalsChangeNothing: every notification that fails a check is answered
// with the status T&T 2.2's receivers give it, reported under its outcome, and
// never reaches the store: ApplyPush is not called and the reference, its snapshot
// and its feed are as before. The logs name no secret and hold no body.
func TestTNT_RefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	r := setup(t, &recordingApplier{})
	now := r.clk.Now()
	ref := r.track(acctA, references.CreateRequest{ContainerID: "MSCU1234566"})
	other := r.track(acctB, references.CreateRequest{ContainerID: "CSQU3054383"})
	unsubscribed := r.track(acctA, references.CreateRequest{ContainerID: container("MSCU", "765432")})
	ended := now.Add(-time.Minute)
	sub := r.subscribe(ref, srcTNT, "sub-1", secret("secret-new-0123456789", nil), secret("secret-old-0123456789", &ended))
	r.subscribe(other, srcTNTOther, "sub-2", secret("secret-other-0123456789", nil))
	good := mustJSON(t, []any{tntEvent("ev-1", "GTIN", now, "MSCU1234566")})
	key := sub.Secrets[0].Key

	cases := []struct {
		name    string
		source  string // "" : srcTNT
		refID   string // "" : ref's
		subID   string
		key     []byte
		body    []byte
		status  int
		outcome string
		label   string // "" : the source
	}{
		{"unknown source", "XXXX", "", "sub-1", key, good, 404, inbound.OutcomeUnknownSubscription, inbound.UnknownSource},
		{"a CT 3.0 source", srcCT, "", "sub-1", key, good, 404, inbound.OutcomeUnknownSubscription, inbound.UnknownSource},
		{"unknown reference", "", "ref_nosuchthing", "sub-1", key, good, 404, inbound.OutcomeUnknownSubscription, ""},
		{"reference id too long", "", strings.Repeat("r", 200), "sub-1", key, good, 404, inbound.OutcomeUnknownSubscription, ""},
		{"reference without a subscription", "", unsubscribed.ID, "sub-1", key, good, 404, inbound.OutcomeUnknownSubscription, ""},
		{"subscription at another source", "", other.ID, "sub-2", []byte("secret-other-0123456789"), good, 404, inbound.OutcomeUnknownSubscription, ""},
		{"wrong Subscription-ID", "", "", "sub-2", key, good, 400, inbound.OutcomeUnknownSubscription, ""},
		{"no Subscription-ID", "", "", "", key, good, 400, inbound.OutcomeUnknownSubscription, ""},
		{"no signature", "", "", "sub-1", nil, good, 401, inbound.OutcomeBadSignature, ""},
		{"signed with another key", "", "", "sub-1", []byte("not-the-secret-0123456789"), good, 401, inbound.OutcomeBadSignature, ""},
		{"signed with a secret past its grace", "", "", "sub-1", []byte("secret-old-0123456789"), good, 401, inbound.OutcomeBadSignature, ""},
		{"malformed body", "", "", "sub-1", key, []byte(`{"not": "an array"}`), 400, inbound.OutcomeMalformed, ""},
		{"no usable event", "", "", "sub-1", key, []byte(`[{"eventID": "x"}]`), 400, inbound.OutcomeMalformed, ""},
		{"too many events", "", "", "sub-1", key, tooManyTNTEvents(t, now), 413, inbound.OutcomeTooLarge, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := r.on(t)
			source, refID, label := c.source, c.refID, c.label
			if source == "" {
				source = srcTNT
			}
			if refID == "" {
				refID = ref.ID
			}
			if label == "" {
				label = source
			}
			before := r.state(ref)
			got := r.notify(source, refID, c.subID, c.key, c.body)
			if got.status != c.status {
				t.Errorf("status %d, want %d: %s", got.status, c.status, got.body)
			}
			var e struct {
				StatusCode int `json:"statusCode"`
				Errors     []struct {
					Reason, Message string
				} `json:"errors"`
			}
			if err := json.Unmarshal(got.body, &e); err != nil || e.StatusCode != c.status || len(e.Errors) != 1 || e.Errors[0].Message == "" {
				t.Errorf("the body is not T&T 2.2's error of status %d: %s (%v)", c.status, got.body, err)
			}
			r.wantReport(label, poller.PushSubscription, c.outcome)
			r.unchanged(ref, before, c.name)
			if n := r.applier.(*recordingApplier).Calls(); n != 0 {
				t.Errorf("ApplyPush called %d times", n)
			}
			r.noSecretsLogged(c.body, "secret-new-0123456789", "secret-old-0123456789", "secret-other-0123456789", string(key))
		})
	}
}

// TestTNT_BodyBounds: a body over dcsa.MaxNotificationBytes is refused 413, whether
// its Content-Length says so or it comes in chunks; the API's own body limit, far
// lower, does not apply to carriers' bundles.
func TestTNT_BodyBounds(t *testing.T) {
	t.Parallel()
	r := setup(t, &recordingApplier{})
	ref := r.track(acctA, references.CreateRequest{})
	sub := r.subscribe(ref, srcTNT, "sub-1", secret("secret-new-0123456789", nil))
	big := bytes.Repeat([]byte(" "), dcsa.MaxNotificationBytes+1)
	for _, chunked := range []bool{false, true} {
		before := r.state(ref)
		h := http.Header{dcsa.HeaderSubscriptionID: {"sub-1"}, dcsa.HeaderNotificationSignature: {dcsa.SignatureHeader(big, sub.Secrets[0].Key)}}
		got := r.post("/inbound/dcsa/"+srcTNT+"/"+ref.ID, big, h, chunked)
		if got.status != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked %v: status %d, want 413: %s", chunked, got.status, got.body)
		}
		r.wantReport(srcTNT, poller.PushSubscription, inbound.OutcomeTooLarge)
		r.unchanged(ref, before, "a body too large")
	}

	// Over the API's 64 KiB but within the bound: it reaches the signature check (and
	// fails it: this rig's applier records nothing, so the signature is wrong on
	// purpose).
	mid := append([]byte("["), append(bytes.Repeat([]byte(" "), 100<<10), ']')...)
	got := r.notify(srcTNT, ref.ID, "sub-1", []byte("not-the-secret-0123456789"), mid)
	if got.status != http.StatusUnauthorized {
		t.Errorf("a body of 100 KiB: status %d, want 401 (past the size check): %s", got.status, got.body)
	}
	r.wantReport(srcTNT, poller.PushSubscription, inbound.OutcomeBadSignature)
}

// tooManyTNTEvents is a notification of more than dcsa.MaxNotificationEvents events.
func tooManyTNTEvents(t *testing.T, at time.Time) []byte {
	events := make([]any, dcsa.MaxNotificationEvents+1)
	for i := range events {
		events[i] = tntEvent("ev", "GTIN", at, "MSCU1234566")
	}
	return mustJSON(t, events)
}
