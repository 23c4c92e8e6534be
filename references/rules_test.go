package references

import (
	"fmt"
	"testing"
	"time"
)

func TestAfterAttempt(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := t0.Add(time.Hour)
	retry := at.Add(5 * time.Minute)
	earlier := t0.Add(-time.Hour)
	// pending: update 3 of 5 is being sent, never tried.
	pending := DeliveryStream{DeliveredSequence: 2, LastSequence: 5, DueAt: t0, State: DeliveryOK}
	// failing: update 3 of 5 was tried twice, first at t0, failing since earlier.
	failing := DeliveryStream{DeliveredSequence: 2, LastSequence: 5, DueAt: t0, Attempts: 2, FirstAttemptAt: &t0,
		State: DeliveryFailing, FailingSince: &earlier}
	// paris writes the same instants in another zone: the stream keeps UTC.
	paris := time.FixedZone("CET", 3600)

	tests := []struct {
		name            string
		stream          DeliveryStream
		attempt         DeliveryAttempt
		want            DeliveryStream
		wantUnsubscribe UnsubscribeReason
		wantErr         bool
	}{
		{
			name:    "DeliveredMovesOnAndIsDueNow",
			stream:  failing,
			attempt: DeliveryAttempt{Sequence: 3, At: at, Outcome: OutcomeDelivered},
			want:    DeliveryStream{DeliveredSequence: 3, LastSequence: 5, DueAt: at, State: DeliveryOK},
		},
		{
			name:    "DeliveredTimeIsUTC",
			stream:  pending,
			attempt: DeliveryAttempt{Sequence: 3, At: at.In(paris), Outcome: OutcomeDelivered},
			want:    DeliveryStream{DeliveredSequence: 3, LastSequence: 5, DueAt: at, State: DeliveryOK},
		},
		{
			name:    "FirstFailureCountsAndWaitsForTheRetry",
			stream:  pending,
			attempt: DeliveryAttempt{Sequence: 3, At: at, Outcome: OutcomeFailed, NextRetryAt: &retry},
			want: DeliveryStream{DeliveredSequence: 2, LastSequence: 5, DueAt: retry, Attempts: 1, FirstAttemptAt: &at,
				State: DeliveryOK, FailingSince: &at},
		},
		{
			name:    "LaterFailureKeepsFirstAttemptAndFailingSince",
			stream:  failing,
			attempt: DeliveryAttempt{Sequence: 3, At: at, Outcome: OutcomeFailed, NextRetryAt: &retry},
			want: DeliveryStream{DeliveredSequence: 2, LastSequence: 5, DueAt: retry, Attempts: 3, FirstAttemptAt: &t0,
				State: DeliveryFailing, FailingSince: &earlier},
		},
		{
			name:    "FailureWithoutRetryTimeKeepsTheDueTime",
			stream:  pending,
			attempt: DeliveryAttempt{Sequence: 3, At: at, Outcome: OutcomeFailed},
			want: DeliveryStream{DeliveredSequence: 2, LastSequence: 5, DueAt: t0, Attempts: 1, FirstAttemptAt: &at,
				State: DeliveryOK, FailingSince: &at},
		},
		{
			name:    "RetryTimeIsUTC",
			stream:  pending,
			attempt: DeliveryAttempt{Sequence: 3, At: at, Outcome: OutcomeFailed, NextRetryAt: ptr(retry.In(paris))},
			want: DeliveryStream{DeliveredSequence: 2, LastSequence: 5, DueAt: retry, Attempts: 1, FirstAttemptAt: &at,
				State: DeliveryOK, FailingSince: &at},
		},
		{
			name:    "GaveUpMovesOnMarksFailingAndIsDueNow",
			stream:  failing,
			attempt: DeliveryAttempt{Sequence: 3, At: at, Outcome: OutcomeGaveUp},
			want: DeliveryStream{DeliveredSequence: 3, LastSequence: 5, DueAt: at, State: DeliveryFailing,
				FailingSince: &earlier},
		},
		{
			name:    "GaveUpOnAHealthyStreamStartsFailingNow",
			stream:  pending,
			attempt: DeliveryAttempt{Sequence: 3, At: at, Outcome: OutcomeGaveUp},
			want:    DeliveryStream{DeliveredSequence: 3, LastSequence: 5, DueAt: at, State: DeliveryFailing, FailingSince: &at},
		},
		{
			name:            "GoneUnsubscribesAndLeavesTheStream",
			stream:          failing,
			attempt:         DeliveryAttempt{Sequence: 3, At: at, Outcome: OutcomeGone},
			want:            failing,
			wantUnsubscribe: ReasonCallbackGone,
		},
		{
			name:    "UnknownOutcomeIsAnError",
			stream:  pending,
			attempt: DeliveryAttempt{Sequence: 3, At: at, Outcome: "teleported"},
			want:    pending,
			wantErr: true,
		},
		{
			name:    "DroppedIsNoOutcomeOfAnAttempt",
			stream:  pending,
			attempt: DeliveryAttempt{Sequence: 3, At: at, Outcome: OutcomeDropped},
			want:    pending,
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, unsub, err := AfterAttempt(tc.stream, tc.attempt)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error %t", err, tc.wantErr)
			}
			if unsub != tc.wantUnsubscribe {
				t.Errorf("unsubscribe = %q, want %q", unsub, tc.wantUnsubscribe)
			}
			if !sameStream(got, tc.want) {
				t.Errorf("stream =\n%s\nwant\n%s", describe(got), describe(tc.want))
			}
		})
	}
}

func TestDeliveryStream_PendingAndExpects(t *testing.T) {
	tests := []struct {
		name        string
		stream      DeliveryStream
		wantPending bool
		expects     map[uint64]bool
	}{
		{"Empty", DeliveryStream{}, false, map[uint64]bool{0: false, 1: true, 2: false}},
		{"Drained", DeliveryStream{DeliveredSequence: 4, LastSequence: 4}, false, map[uint64]bool{4: false, 5: true}},
		{"Behind", DeliveryStream{DeliveredSequence: 2, LastSequence: 4}, true, map[uint64]bool{2: false, 3: true, 4: false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.stream.Pending(); got != tc.wantPending {
				t.Errorf("Pending() = %t, want %t", got, tc.wantPending)
			}
			for seq, want := range tc.expects {
				if got := tc.stream.Expects(seq); got != want {
					t.Errorf("Expects(%d) = %t, want %t", seq, got, want)
				}
			}
		})
	}
}

func TestStopsDelivery(t *testing.T) {
	tests := []struct {
		reason UnsubscribeReason
		want   bool
	}{
		{ReasonUser, false},
		{ReasonCallbackGone, true},
		{ReasonCallbackFailing, true},
		{ReasonTrackingComplete, false},
		{ReasonMaxAge, false},
		{ReasonNotFound, false},
		{"", false},
	}
	for _, tc := range tests {
		if got := StopsDelivery(tc.reason); got != tc.want {
			t.Errorf("StopsDelivery(%q) = %t, want %t", tc.reason, got, tc.want)
		}
	}
}

func TestReference_Delivers(t *testing.T) {
	tests := []struct {
		name     string
		callback string
		status   Status
		reason   UnsubscribeReason
		want     bool
	}{
		{"ActiveWithCallback", "https://r.example/h", StatusActive, "", true},
		{"ActiveWithoutCallback", "", StatusActive, "", false},
		{"TrackingCompleteDeliversItsLastUpdates", "https://r.example/h", StatusUnsubscribed, ReasonTrackingComplete, true},
		{"MaxAgeDeliversItsLastUpdates", "https://r.example/h", StatusUnsubscribed, ReasonMaxAge, true},
		{"NotFoundDeliversItsLastUpdates", "https://r.example/h", StatusUnsubscribed, ReasonNotFound, true},
		{"UserDeliversItsLastUpdates", "https://r.example/h", StatusUnsubscribed, ReasonUser, true},
		{"CallbackGoneStops", "https://r.example/h", StatusUnsubscribed, ReasonCallbackGone, false},
		{"CallbackFailingStops", "https://r.example/h", StatusUnsubscribed, ReasonCallbackFailing, false},
		{"EndedWithoutCallback", "", StatusUnsubscribed, ReasonTrackingComplete, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Reference{CallbackURL: tc.callback, Status: tc.status, UnsubscribeReason: tc.reason}
			if got := r.Delivers(); got != tc.want {
				t.Errorf("Delivers() = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestPollResult_QuietAndEndsTracking(t *testing.T) {
	tests := []struct {
		name      string
		res       PollResult
		wantQuiet bool
		wantEnds  bool
	}{
		{"NothingNew", PollResult{NextPollAt: time.Now()}, true, false},
		{"FailureAloneIsQuiet", PollResult{Error: "timeout", ConsecutiveFailures: 3}, true, false},
		{"Snapshot", PollResult{Shipment: &Shipment{}}, false, false},
		{"Update", PollResult{Updates: []Update{{Type: UpdateShipment}}}, false, false},
		{"Unsubscribe", PollResult{Unsubscribe: ReasonTrackingComplete}, false, true},
		{"UpdatesAndUnsubscribe", PollResult{Updates: []Update{{}}, Unsubscribe: ReasonNotFound}, false, true},
		{"PushSubscriptionOnly", PollResult{Push: &PushSubscription{ID: "sub-1"}}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.res.Quiet(); got != tc.wantQuiet {
				t.Errorf("Quiet() = %t, want %t", got, tc.wantQuiet)
			}
			if got := tc.res.EndsTracking(); got != tc.wantEnds {
				t.Errorf("EndsTracking() = %t, want %t", got, tc.wantEnds)
			}
		})
	}
}

func TestPollResult_SameErrorState(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sameInstant := t0.In(time.FixedZone("CET", 3600))
	later := t0.Add(time.Minute)
	stored := Reference{LastPollError: "not found", ConsecutiveFailures: 2, NotFoundSince: &t0}
	tests := []struct {
		name string
		ref  Reference
		res  PollResult
		want bool
	}{
		{"AllEqual", stored, PollResult{Error: "not found", ConsecutiveFailures: 2, NotFoundSince: &t0}, true},
		{"SameInstantInAnotherZone", stored, PollResult{Error: "not found", ConsecutiveFailures: 2, NotFoundSince: &sameInstant}, true},
		{"BothHealthy", Reference{}, PollResult{}, true},
		{"ErrorDiffers", stored, PollResult{Error: "timeout", ConsecutiveFailures: 2, NotFoundSince: &t0}, false},
		{"FailuresDiffer", stored, PollResult{Error: "not found", ConsecutiveFailures: 3, NotFoundSince: &t0}, false},
		{"NotFoundSinceMoved", stored, PollResult{Error: "not found", ConsecutiveFailures: 2, NotFoundSince: &later}, false},
		{"NotFoundSinceCleared", stored, PollResult{Error: "not found", ConsecutiveFailures: 2}, false},
		{"NotFoundSinceSet", Reference{}, PollResult{NotFoundSince: &t0}, false},
		{"FirstSuccessAfterFailures", stored, PollResult{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.res.SameErrorState(&tc.ref); got != tc.want {
				t.Errorf("SameErrorState() = %t, want %t", got, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// sameStream compares streams by instant, not by pointer or location.
func sameStream(a, b DeliveryStream) bool {
	return a.DeliveredSequence == b.DeliveredSequence && a.LastSequence == b.LastSequence &&
		a.DueAt.Equal(b.DueAt) && a.DueAt.Location() == b.DueAt.Location() && a.Attempts == b.Attempts &&
		sameTime(a.FirstAttemptAt, b.FirstAttemptAt) && a.State == b.State && sameTime(a.FailingSince, b.FailingSince)
}

func describe(s DeliveryStream) string {
	show := func(t *time.Time) string {
		if t == nil {
			return "nil"
		}
		return t.String()
	}
	return fmt.Sprintf("  delivered %d last %d due %s attempts %d first %s state %q failing since %s",
		s.DeliveredSequence, s.LastSequence, s.DueAt, s.Attempts, show(s.FirstAttemptAt), s.State, show(s.FailingSince))
}

func TestPollResult_ApplyTo(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	polled := time.Date(2026, 3, 1, 13, 0, 0, 0, paris)
	next := polled.Add(time.Hour)
	since := polled.Add(-24 * time.Hour)
	old := &PushSubscription{Source: "dcsa", ID: "old"}
	fresh := func() *PushSubscription {
		return &PushSubscription{Source: "dcsa", ID: "new", Secrets: []PushSecret{{Key: []byte("k")}}}
	}
	tests := []struct {
		name     string
		push     *PushSubscription
		wantPush string // the subscription's ID after, "" for none
	}{
		{"no push: the subscription stays", nil, "old"},
		{"a push without an ID ends it", &PushSubscription{Source: "dcsa"}, ""},
		{"a new push replaces it", fresh(), "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := PollResult{PolledAt: polled, NextPollAt: next, Error: "timeout", ConsecutiveFailures: 3,
				NotFoundSince: &since, Push: tt.push}
			ref := Reference{LastPollError: "old error", ConsecutiveFailures: 1, Push: old}
			res.ApplyTo(&ref)
			if !ref.LastPolledAt.Equal(polled) || ref.LastPolledAt.Location() != time.UTC ||
				!ref.NextPollAt.Equal(next) || ref.NextPollAt.Location() != time.UTC || !ref.UpdatedAt.Equal(polled) {
				t.Errorf("times: polled %v, next %v, updated %v; want %v and %v in UTC", ref.LastPolledAt, ref.NextPollAt, ref.UpdatedAt, polled, next)
			}
			if !res.SameErrorState(&ref) {
				t.Errorf("error state %q, %d, %v; want the result's", ref.LastPollError, ref.ConsecutiveFailures, ref.NotFoundSince)
			}
			got := ""
			if ref.Push != nil {
				got = ref.Push.ID
			}
			if got != tt.wantPush {
				t.Fatalf("push subscription %q, want %q", got, tt.wantPush)
			}
			if tt.push != nil && tt.push.ID != "" {
				// A copy: a later change to the result's secrets is not the reference's.
				tt.push.Secrets[0].Key[0] = 'x'
				if ref.Push == tt.push || string(ref.Push.Secrets[0].Key) != "k" {
					t.Errorf("the reference shares the result's subscription: %+v", ref.Push)
				}
			}
		})
	}
}
