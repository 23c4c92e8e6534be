package notifier

import (
	"net/http"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

var policyNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// policyNotifier is a Notifier with the default retry policy and no jitter, for
// decide alone: decide reads neither the store nor the network.
func policyNotifier(t *testing.T) *Notifier {
	t.Helper()
	return New(nil, NewSender(SenderOptions{}), Options{Clock: clock.NewFake(policyNow), Rand: func() float64 { return 0 }})
}

// answered is the Result of a response with status and a webhook-delivery header.
func answered(status int, control Control) Result {
	res := Result{At: policyNow, StatusCode: status, Latency: 40 * time.Millisecond, Control: control, Outcome: references.OutcomeFailed}
	switch {
	case status >= 200 && status < 300:
		res.Outcome = references.OutcomeDelivered
	case status == http.StatusGone:
		res.Outcome = references.OutcomeGone
	}
	if res.Outcome != references.OutcomeDelivered {
		res.Err = &StatusError{StatusCode: status}
	}
	return res
}

func TestDecide_EndpointJobs(t *testing.T) {
	t.Parallel()
	ago := func(d time.Duration) *time.Time { at := policyNow.Add(-d); return &at }
	const day = 24 * time.Hour
	tests := []struct {
		name string
		ep   references.Endpoint // ID, URL and AccountID are filled in
		// attempt is the job's attempt number (1 when 0); firstAgo how long ago the
		// message was first tried (0: this is its first attempt).
		attempt    int
		firstAgo   time.Duration
		redelivery bool
		res        Result
		want       references.AttemptOutcome
		disable    references.DisabledReason
		next       time.Duration // the retry's delay from now; 0 for none
	}{
		{name: "delivered", ep: references.Endpoint{DisableAfter: 5 * day},
			res: answered(200, Control{}), want: references.OutcomeDelivered},
		{name: "delivered, receiver asks to disable", ep: references.Endpoint{DisableAfter: 5 * day},
			res: answered(200, Control{Disable: true}), want: references.OutcomeDelivered, disable: references.DisabledByReceiver},
		{name: "delivered, abort-message means nothing", ep: references.Endpoint{DisableAfter: 5 * day},
			res: answered(204, Control{AbortMessage: true}), want: references.OutcomeDelivered},
		{name: "failed, first retry after 5s", ep: references.Endpoint{DisableAfter: 5 * day},
			res: answered(503, Control{}), want: references.OutcomeFailed, next: 5 * time.Second},
		{name: "abort-message: aborted, never retried", ep: references.Endpoint{DisableAfter: 5 * day},
			res: answered(422, Control{AbortMessage: true}), want: references.OutcomeAborted},
		{name: "abort-message on the last of max_attempts is still aborted", ep: references.Endpoint{MaxAttempts: 2},
			attempt: 2, firstAgo: time.Minute, res: answered(500, Control{AbortMessage: true}), want: references.OutcomeAborted},
		{name: "disable: the message waits for re-enabling, no retry time", ep: references.Endpoint{DisableAfter: 5 * day},
			res: answered(503, Control{Disable: true}), want: references.OutcomeFailed, disable: references.DisabledByReceiver},
		{name: "disable and abort-message: both", ep: references.Endpoint{DisableAfter: 5 * day},
			res: answered(400, Control{Disable: true, AbortMessage: true}), want: references.OutcomeAborted, disable: references.DisabledByReceiver},
		{name: "no response: retried", ep: references.Endpoint{DisableAfter: 5 * day},
			res: Result{At: policyNow, Outcome: references.OutcomeFailed, Err: ErrNoResponse}, want: references.OutcomeFailed, next: 5 * time.Second},
		{name: "410: gone, endpoint disabled", ep: references.Endpoint{DisableAfter: 5 * day},
			res: answered(410, Control{}), want: references.OutcomeGone, disable: references.DisabledGone},
		{name: "410 with a disable header: the receiver's reason", ep: references.Endpoint{DisableAfter: 5 * day},
			res: answered(410, Control{Disable: true}), want: references.OutcomeGone, disable: references.DisabledByReceiver},
		{name: "max_attempts 5: the 4th failure is retried, window or not", ep: references.Endpoint{MaxAttempts: 5},
			attempt: 4, firstAgo: 100 * day, res: answered(500, Control{}), want: references.OutcomeFailed, next: 320 * time.Second},
		{name: "max_attempts 5, disable_after 0: the 5th failure gives up and disables", ep: references.Endpoint{MaxAttempts: 5},
			attempt: 5, firstAgo: time.Hour, res: answered(500, Control{}), want: references.OutcomeGaveUp, disable: references.DisabledFailing},
		{name: "max_attempts 5, disable_after 0, failing since long ago", ep: references.Endpoint{MaxAttempts: 5, FailingSince: ago(3 * day)},
			attempt: 7, firstAgo: time.Hour, res: answered(500, Control{}), want: references.OutcomeGaveUp, disable: references.DisabledFailing},
		{name: "max_attempts 1: the first failure gives up", ep: references.Endpoint{MaxAttempts: 1, DisableAfter: 5 * day},
			res: answered(500, Control{}), want: references.OutcomeGaveUp},
		{name: "max_attempts honours Retry-After", ep: references.Endpoint{MaxAttempts: 5},
			attempt: 1, res: withRetryAfter(answered(429, Control{}), time.Minute), want: references.OutcomeFailed, next: time.Minute},
		{name: "retry_window 1h: retried inside it", ep: references.Endpoint{RetryWindow: time.Hour, DisableAfter: 5 * day},
			attempt: 3, firstAgo: 30 * time.Minute, res: answered(500, Control{}), want: references.OutcomeFailed, next: 80 * time.Second},
		{name: "retry_window 1h: given up past it, disable_after 5 days not reached", ep: references.Endpoint{RetryWindow: time.Hour, DisableAfter: 5 * day, FailingSince: ago(2 * time.Hour)},
			attempt: 9, firstAgo: 59 * time.Minute, res: answered(500, Control{}), want: references.OutcomeGaveUp},
		{name: "retry_window 0: the notifier's 72h, retried", ep: references.Endpoint{DisableAfter: 5 * day, FailingSince: ago(70 * time.Hour)},
			attempt: 3, firstAgo: 70 * time.Hour, res: answered(500, Control{}), want: references.OutcomeFailed, next: 80 * time.Second},
		{name: "retry_window 0: the notifier's 72h, given up", ep: references.Endpoint{DisableAfter: 5 * day, FailingSince: ago(72 * time.Hour)},
			attempt: 20, firstAgo: 72 * time.Hour, res: answered(500, Control{}), want: references.OutcomeGaveUp},
		{name: "disable_after 5 days: 4 days failing, given up, still enabled", ep: references.Endpoint{RetryWindow: time.Hour, DisableAfter: 5 * day, FailingSince: ago(4 * day)},
			attempt: 9, firstAgo: 2 * time.Hour, res: answered(500, Control{}), want: references.OutcomeGaveUp},
		{name: "disable_after 5 days: reached, given up, disabled", ep: references.Endpoint{RetryWindow: time.Hour, DisableAfter: 5 * day, FailingSince: ago(5 * day)},
			attempt: 9, firstAgo: 2 * time.Hour, res: answered(500, Control{}), want: references.OutcomeGaveUp, disable: references.DisabledFailing},
		{name: "disable_after reached but nothing given up: no disable", ep: references.Endpoint{DisableAfter: 5 * day, FailingSince: ago(6 * day)},
			attempt: 2, firstAgo: time.Minute, res: answered(500, Control{}), want: references.OutcomeFailed, next: 20 * time.Second},
		{name: "resend failed: one attempt, never retried or given up", ep: references.Endpoint{MaxAttempts: 1},
			attempt: 3, redelivery: true, res: answered(500, Control{}), want: references.OutcomeFailed},
		{name: "resend answered abort-message: stays a failure of the resend", ep: references.Endpoint{MaxAttempts: 1},
			redelivery: true, res: answered(500, Control{AbortMessage: true}), want: references.OutcomeFailed},
		{name: "resend answered disable: disables", ep: references.Endpoint{DisableAfter: 5 * day},
			redelivery: true, res: answered(500, Control{Disable: true}), want: references.OutcomeFailed, disable: references.DisabledByReceiver},
	}
	n := policyNotifier(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ep := tt.ep
			ep.ID, ep.AccountID, ep.URL, ep.Enabled = "ep_1", "acct_a", "https://hooks.example.com/ep", true
			job := references.DeliveryJob{
				Destination: ep.ID, Endpoint: &ep, Attempt: max(tt.attempt, 1), Redelivery: tt.redelivery,
				Reference: references.Reference{ID: "ref_1", AccountID: "acct_a", CallbackURL: "https://callback.example.com/"},
				Update:    references.Update{ID: "upd_1", ReferenceID: "ref_1", Sequence: 4, Type: references.UpdateShipment},
			}
			if tt.firstAgo > 0 {
				job.FirstAttemptAt = policyNow.Add(-tt.firstAgo)
			}
			a, unsubscribe := n.decide(job, tt.res)
			if unsubscribe != "" {
				t.Errorf("an endpoint's attempt unsubscribes the reference (%s)", unsubscribe)
			}
			if a.Outcome != tt.want || a.Disable != tt.disable {
				t.Errorf("outcome %q, disable %q; want %q, %q", a.Outcome, a.Disable, tt.want, tt.disable)
			}
			switch {
			case tt.next == 0 && a.NextRetryAt != nil:
				t.Errorf("retry at %v, want none", a.NextRetryAt)
			case tt.next != 0 && (a.NextRetryAt == nil || !a.NextRetryAt.Equal(policyNow.Add(tt.next))):
				t.Errorf("retry at %v, want now + %s", a.NextRetryAt, tt.next)
			}
			if a.Destination != "ep_1" || a.URL != ep.URL || a.UpdateID != "upd_1" || a.Sequence != 4 || a.ReferenceID != "ref_1" ||
				a.StatusCode != tt.res.StatusCode || a.Redelivery != tt.redelivery || a.Attempt != job.Attempt {
				t.Errorf("attempt %+v does not describe the job", a)
			}
		})
	}
}

func withRetryAfter(res Result, d time.Duration) Result {
	res.RetryAfter = d
	return res
}

// Operational events and batches are logged under their first message.
func TestDecide_EventAndBatchJobsNameTheirMessage(t *testing.T) {
	t.Parallel()
	n := policyNotifier(t)
	ep := references.Endpoint{ID: "ep_2", AccountID: "acct_a", URL: "https://hooks.example.com/ops", Enabled: true, DisableAfter: time.Hour}
	event := references.AccountEvent{ID: "evt_7", AccountID: "acct_a", Sequence: 12, Type: references.EventEndpointDisabled}
	a, _ := n.decide(references.DeliveryJob{Destination: ep.ID, Endpoint: &ep, Event: &event, Attempt: 1}, answered(204, Control{}))
	if a.UpdateID != "evt_7" || a.Sequence != 12 || a.ReferenceID != "" || a.Destination != "ep_2" || a.URL != ep.URL {
		t.Errorf("event attempt %+v", a)
	}
	batch := []references.Update{{ID: "upd_5", Sequence: 5}, {ID: "upd_6", Sequence: 6}}
	job := references.DeliveryJob{Destination: ep.ID, Endpoint: &ep, Reference: references.Reference{ID: "ref_1"},
		Update: batch[0], Batch: batch, BatchID: references.BatchID(ep.ID, "ref_1", 5, 6), Attempt: 1}
	a, _ = n.decide(job, answered(500, Control{}))
	if a.UpdateID != "upd_5" || a.Sequence != 5 || a.ReferenceID != "ref_1" || a.Outcome != references.OutcomeFailed {
		t.Errorf("batch attempt %+v", a)
	}
}

// A callback is decided as before endpoints: the webhook-delivery header is not
// read, a 410 is gone without disabling anything, and long failing unsubscribes.
func TestDecide_CallbackJobsIgnoreEndpointRules(t *testing.T) {
	t.Parallel()
	n := policyNotifier(t)
	failing := policyNow.Add(-6 * 24 * time.Hour)
	job := references.DeliveryJob{
		Destination: references.DestinationCallback, Attempt: 1,
		Reference: references.Reference{ID: "ref_1", AccountID: "acct_a", CallbackURL: "https://callback.example.com/", FailingSince: &failing},
		Update:    references.Update{ID: "upd_1", Sequence: 1},
	}
	tests := []struct {
		name        string
		res         Result
		want        references.AttemptOutcome
		unsubscribe references.UnsubscribeReason
	}{
		{"abort-message is not read", answered(500, Control{AbortMessage: true}), references.OutcomeFailed, references.ReasonCallbackFailing},
		{"disable is not read", answered(200, Control{Disable: true}), references.OutcomeDelivered, ""},
		{"410 is gone", answered(410, Control{}), references.OutcomeGone, ""},
	}
	for _, tt := range tests {
		a, unsubscribe := n.decide(job, tt.res)
		if a.Outcome != tt.want || a.Disable != "" || unsubscribe != tt.unsubscribe {
			t.Errorf("%s: outcome %q, disable %q, unsubscribe %q; want %q, none, %q", tt.name, a.Outcome, a.Disable, unsubscribe, tt.want, tt.unsubscribe)
		}
		if a.Destination != references.DestinationCallback || a.URL != job.Reference.CallbackURL {
			t.Errorf("%s: attempt %+v", tt.name, a)
		}
	}
}
