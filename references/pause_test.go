package references

import (
	"errors"
	"testing"
	"time"
)

func TestTrackedFor_LeavesThePausedTimeOut(t *testing.T) {
	created := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) *time.Time { v := created.Add(time.Duration(h) * time.Hour); return &v }
	tests := []struct {
		name      string
		pausedAt  *time.Time
		pausedFor time.Duration
		now       time.Time
		want      time.Duration
	}{
		{"never paused", nil, 0, *at(10), 10 * time.Hour},
		{"paused now", at(4), 0, *at(10), 4 * time.Hour},
		{"paused before", nil, 3 * time.Hour, *at(10), 7 * time.Hour},
		{"both", at(8), 3 * time.Hour, *at(10), 5 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Reference{CreatedAt: created, PausedAt: tt.pausedAt, PausedFor: tt.pausedFor}
			if got := r.TrackedFor(tt.now); got != tt.want {
				t.Errorf("TrackedFor = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPauseResume_StatesAndPausedTime(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	r := Reference{ID: "ref_1", Status: StatusActive, CreatedAt: t0}
	if changed, err := Resume(&r, t0); changed || err != nil {
		t.Fatalf("Resume of an active reference: %t, %v", changed, err)
	}
	if changed, err := Pause(&r, t0.Add(time.Hour)); !changed || err != nil || !r.Paused() || !r.Subscribed() || r.Active() {
		t.Fatalf("Pause: %t, %v, status %s", changed, err, r.Status)
	}
	if changed, err := Pause(&r, t0.Add(2*time.Hour)); changed || err != nil || !r.PausedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Pause twice: %t, %v, paused at %v", changed, err, r.PausedAt)
	}
	if changed, err := Resume(&r, t0.Add(4*time.Hour)); !changed || err != nil || r.PausedFor != 3*time.Hour || r.PausedAt != nil || !r.NextPollAt.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("Resume: %t, %v, paused for %s, next poll %v", changed, err, r.PausedFor, r.NextPollAt)
	}
	r.Status = StatusUnsubscribed
	if _, err := Pause(&r, t0); !errors.Is(err, ErrConflict) {
		t.Fatalf("Pause of an unsubscribed reference: %v", err)
	}
	if _, err := Resume(&r, t0); !errors.Is(err, ErrConflict) {
		t.Fatalf("Resume of an unsubscribed reference: %v", err)
	}
}

func TestCheckRefresh(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	last := t0
	tests := []struct {
		name      string
		status    Status
		last      *time.Time
		at        time.Time
		conflict  bool
		waitAfter time.Duration
	}{
		{"first", StatusActive, nil, t0, false, 0},
		{"a minute later", StatusActive, &last, t0.Add(time.Minute), false, 0},
		{"too soon", StatusActive, &last, t0.Add(45 * time.Second), false, 15 * time.Second},
		{"paused", StatusPaused, nil, t0, true, 0},
		{"unsubscribed", StatusUnsubscribed, nil, t0, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRefresh(&Reference{ID: "ref_1", Status: tt.status, LastRefreshAt: tt.last}, tt.at)
			var soon *RefreshTooSoon
			switch {
			case tt.conflict:
				if !errors.Is(err, ErrConflict) {
					t.Fatalf("got %v, want a conflict", err)
				}
			case tt.waitAfter > 0:
				if !errors.As(err, &soon) || soon.RetryAfter != tt.waitAfter {
					t.Fatalf("got %v, want RefreshTooSoon after %s", err, tt.waitAfter)
				}
			case err != nil:
				t.Fatalf("got %v, want allowed", err)
			}
		})
	}
}
