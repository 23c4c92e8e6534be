package references

import (
	"fmt"
	"time"
)

// RefreshInterval is how often a client may ask to poll one reference at once.
const RefreshInterval = time.Minute

// Subscribed reports whether the reference is not unsubscribed: active or paused. A
// subscribed reference keeps its identifier reserved and counts in the quota.
func (r Reference) Subscribed() bool { return r.Status != StatusUnsubscribed }

// Paused reports whether the reference is paused: neither polled nor delivered.
func (r Reference) Paused() bool { return r.Status == StatusPaused }

// TrackedFor is how long the reference has been tracked at now: its age less the
// time it spent paused, which is what the maximum tracking age is compared with.
func (r *Reference) TrackedFor(now time.Time) time.Duration {
	paused := r.PausedFor
	if r.PausedAt != nil && now.After(*r.PausedAt) {
		paused += now.Sub(*r.PausedAt)
	}
	return now.Sub(r.CreatedAt) - paused
}

// RefreshTooSoon is the error of a refresh asked within RefreshInterval of the
// reference's last one; RetryAfter says when the next is allowed.
type RefreshTooSoon struct {
	ReferenceID string
	RetryAfter  time.Duration
}

func (e *RefreshTooSoon) Error() string {
	return fmt.Sprintf("reference %s was refreshed less than %s ago; one refresh a minute is allowed", e.ReferenceID, RefreshInterval)
}

// CheckRefresh says whether ref may be polled at once at the client's request at:
// it must be active (a conflict otherwise) and its last refresh at least
// RefreshInterval ago (*RefreshTooSoon otherwise).
func CheckRefresh(ref *Reference, at time.Time) error {
	switch ref.Status {
	case StatusPaused:
		return Errorf(CodeConflict, "reference %s is paused: resume it (POST /references/%s/resume), which polls it at once", ref.ID, ref.ID)
	case StatusUnsubscribed:
		return Errorf(CodeConflict, "reference %s is unsubscribed: it is not polled any more", ref.ID)
	}
	if ref.LastRefreshAt != nil {
		if next := ref.LastRefreshAt.Add(RefreshInterval); at.Before(next) {
			return &RefreshTooSoon{ReferenceID: ref.ID, RetryAfter: next.Sub(at)}
		}
	}
	return nil
}

// Pause makes an active reference paused at at; a paused one is left as it is. An
// unsubscribed one is a conflict. It reports whether ref changed.
func Pause(ref *Reference, at time.Time) (bool, error) {
	switch ref.Status {
	case StatusPaused:
		return false, nil
	case StatusUnsubscribed:
		return false, Errorf(CodeConflict, "reference %s is unsubscribed and cannot be paused", ref.ID)
	}
	ref.Status = StatusPaused
	ref.PausedAt = &at
	ref.NextPollAt = nil
	ref.UpdatedAt = at
	return true, nil
}

// Resume makes a paused reference active again at at, due for a poll at once, and
// adds the pause to PausedFor; an active one is left as it is. An unsubscribed one
// is a conflict. It reports whether ref changed.
func Resume(ref *Reference, at time.Time) (bool, error) {
	switch ref.Status {
	case StatusActive:
		return false, nil
	case StatusUnsubscribed:
		return false, Errorf(CodeConflict, "reference %s is unsubscribed and cannot be resumed; create it again to track it", ref.ID)
	}
	if ref.PausedAt != nil && at.After(*ref.PausedAt) {
		ref.PausedFor += at.Sub(*ref.PausedAt)
	}
	ref.Status = StatusActive
	ref.PausedAt = nil
	ref.NextPollAt = &at
	ref.UpdatedAt = at
	return true, nil
}
