package references

import (
	"testing"
	"time"
)

func TestReference_Forgettable(t *testing.T) {
	cutoff := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	before, at := cutoff.Add(-time.Hour), cutoff
	tests := []struct {
		name           string
		status         Status
		reason         UnsubscribeReason
		callback       string
		unsubscribed   *time.Time
		last, delivers uint64
		want           bool
	}{
		{"ActiveNever", StatusActive, "", "", nil, 0, 0, false},
		{"UnsubscribedBeforeTheCutoff", StatusUnsubscribed, ReasonCallbackGone, "https://r.example/h", &before, 3, 1, true},
		{"UnsubscribedAtTheCutoffIsKept", StatusUnsubscribed, ReasonUser, "", &at, 0, 0, false},
		{"WithoutAnUnsubscribeTimeIsKept", StatusUnsubscribed, ReasonUser, "", nil, 0, 0, false},
		{"DrainingFeedIsKept", StatusUnsubscribed, ReasonTrackingComplete, "https://r.example/h", &before, 3, 2, false},
		{"DrainedFeedGoes", StatusUnsubscribed, ReasonTrackingComplete, "https://r.example/h", &before, 3, 3, true},
		{"PullFeedGoes", StatusUnsubscribed, ReasonNotFound, "", &before, 3, 3, true},
		{"StoppedDeliveryGoes", StatusUnsubscribed, ReasonCallbackFailing, "https://r.example/h", &before, 5, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Reference{
				Status: tc.status, UnsubscribeReason: tc.reason, CallbackURL: tc.callback,
				UnsubscribedAt: tc.unsubscribed, LastSequence: tc.last, DeliveredSequence: tc.delivers,
			}
			if got := r.Forgettable(cutoff); got != tc.want {
				t.Errorf("Forgettable = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestPruneCounts_TotalAndAdd(t *testing.T) {
	c := PruneCounts{Updates: 1, Attempts: 2, Messages: 1}
	c.Add(PruneCounts{Attempts: 1, IdempotencyKeys: 3, References: 4, Messages: 2, ExpiredMessages: 5})
	if c != (PruneCounts{Updates: 1, Attempts: 3, IdempotencyKeys: 3, References: 4, Messages: 3, ExpiredMessages: 5}) || c.Total() != 19 {
		t.Errorf("after Add: %+v, total %d", c, c.Total())
	}
}
