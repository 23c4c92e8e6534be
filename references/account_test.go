package references

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestAccount_Rotate(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	tests := []struct {
		name       string
		secrets    []WebhookSecret // before, oldest first
		graceUntil time.Duration   // from t0
		want       []string        // live after, newest first
		wantEnds   []*time.Time    // their expiries
	}{
		{
			name:       "TheNewestGetsTheGrace",
			secrets:    []WebhookSecret{{Secret: "a"}},
			graceUntil: time.Hour,
			want:       []string{"new", "a"},
			wantEnds:   []*time.Time{nil, at(time.Hour)},
		},
		{
			name:       "NoGraceReplacesAtOnce",
			secrets:    []WebhookSecret{{Secret: "a"}},
			graceUntil: 0,
			want:       []string{"new"},
			wantEnds:   []*time.Time{nil},
		},
		{
			name:       "AnEarlierGraceIsNotShortened",
			secrets:    []WebhookSecret{{Secret: "a", ExpiresAt: at(24 * time.Hour)}, {Secret: "b"}},
			graceUntil: 10 * time.Minute,
			want:       []string{"new", "b", "a"},
			wantEnds:   []*time.Time{nil, at(10 * time.Minute), at(24 * time.Hour)},
		},
		{
			name:       "AFourthEndsTheOldestGraceOnly",
			secrets:    []WebhookSecret{{Secret: "a", ExpiresAt: at(time.Hour)}, {Secret: "b", ExpiresAt: at(2 * time.Hour)}, {Secret: "c"}},
			graceUntil: 3 * time.Hour,
			want:       []string{"new", "c", "b"},
			wantEnds:   []*time.Time{nil, at(3 * time.Hour), at(2 * time.Hour)},
		},
		{
			name:       "ExpiredAreDropped",
			secrets:    []WebhookSecret{{Secret: "a", ExpiresAt: at(0)}, {Secret: "b"}},
			graceUntil: time.Hour,
			want:       []string{"new", "b"},
			wantEnds:   []*time.Time{nil, at(time.Hour)},
		},
		{
			name:       "AnOverfullStoreIsCutToThree",
			secrets:    manySecrets(t0, 3000),
			graceUntil: time.Hour,
			want:       []string{"new", "s2999", "s2998"},
			wantEnds:   []*time.Time{nil, at(time.Hour), at(7 * 24 * time.Hour)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Account{WebhookSecrets: tc.secrets}
			a.Rotate("new", t0, t0.Add(tc.graceUntil))
			if got := a.LiveSecrets(t0); !slices.Equal(got, tc.want) {
				t.Fatalf("live = %q, want %q", got, tc.want)
			}
			if len(a.WebhookSecrets) != len(tc.want) {
				t.Errorf("%d stored, want only the %d live ones", len(a.WebhookSecrets), len(tc.want))
			}
			for i, s := range a.Live(t0) {
				if w := tc.wantEnds[i]; (s.ExpiresAt == nil) != (w == nil) || (w != nil && !s.ExpiresAt.Equal(*w)) {
					t.Errorf("%s ends %v, want %v", s.Secret, s.ExpiresAt, w)
				}
			}
		})
	}
}

// manySecrets is what 3,000 rotations with a week's grace left before the limit: n
// secrets in their grace and the newest without an end.
func manySecrets(t0 time.Time, n int) []WebhookSecret {
	out := make([]WebhookSecret, n)
	end := t0.Add(7 * 24 * time.Hour)
	for i := range out {
		out[i] = WebhookSecret{Secret: fmt.Sprintf("s%d", i), ExpiresAt: &end}
	}
	out[n-1].ExpiresAt = nil
	return out
}

func TestAccount_LiveIsAtMostThreeNewestFirst(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a := Account{WebhookSecrets: manySecrets(t0, 3000)}
	if got, want := a.LiveSecrets(t0), []string{"s2999", "s2998", "s2997"}; !slices.Equal(got, want) {
		t.Errorf("live = %q, want %q", got, want)
	}
	if got := a.LiveSecrets(t0.Add(8 * 24 * time.Hour)); !slices.Equal(got, []string{"s2999"}) {
		t.Errorf("live after the graces = %q, want the newest only", got)
	}
}
