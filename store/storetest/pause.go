package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runPause checks the PauseStore: a paused reference is neither polled nor delivered
// (callback, endpoint messages, redeliveries) and stays so across a crash; a resume
// brings both back at once; a refresh makes a poll due now, once a minute.
func runPause(t *testing.T, open Opener) {
	// pending creates a reference with a callback and an endpoint, with one update
	// waiting for both.
	pending := func(f *fixture) (references.Reference, references.Endpoint) {
		ep := f.addEndpoint(acctA, func(ep *references.Endpoint) { ep.EventTypes = []string{"*"} })
		ref := f.create(acctA, withCallback(url1))
		f.poll(ref.ID, references.PollResult{
			NextPollAt: f.now().Add(time.Hour),
			Updates:    []references.Update{f.update(references.UpdateShipment)},
		})
		return ref, ep
	}
	pause := func(f *fixture, id string) references.Reference {
		f.t.Helper()
		ref, err := f.b.PauseReference(f.ctx, acctA, id, f.now())
		if err != nil {
			f.t.Fatalf("PauseReference: %v", err)
		}
		return ref
	}
	resume := func(f *fixture, id string) references.Reference {
		f.t.Helper()
		ref, err := f.b.ResumeReference(f.ctx, acctA, id, f.now())
		if err != nil {
			f.t.Fatalf("ResumeReference: %v", err)
		}
		return ref
	}
	wantBothStreams := func(f *fixture, refID, endpointID string) {
		f.t.Helper()
		var keys []string
		for _, c := range f.claimDeliveries("owner-1", 100) {
			keys = append(keys, c.Lease.Key)
			_ = f.b.ReleaseLease(f.ctx, c.Lease)
		}
		slices.Sort(keys)
		want := []string{
			references.DeliveryLeaseKey(references.DestinationCallback, refID),
			references.DeliveryLeaseKey(endpointID, refID),
		}
		slices.Sort(want)
		if !slices.Equal(keys, want) {
			f.t.Fatalf("claimed %q, want both streams %q", keys, want)
		}
	}

	t.Run("PauseStopsPollsAndDeliveriesResumeBringsThemBack", func(t *testing.T) {
		f := setup(t, open)
		ref, _ := pending(f)
		f.clk.Advance(2 * time.Hour) // the poll is due too
		got := pause(f, ref.ID)
		if got.Status != references.StatusPaused || got.PausedAt == nil || !got.PausedAt.Equal(f.now()) || got.NextPollAt != nil {
			t.Fatalf("paused: status %s, paused at %v, next poll %v", got.Status, got.PausedAt, got.NextPollAt)
		}
		f.noPollDue(ref.ID, "paused")
		f.noDeliveryDue("paused")
		if err := f.b.RequestRedelivery(f.ctx, acctA, ref.ID, f.updatesOf(acctA, ref.ID)[0].ID, f.now()); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(24 * time.Hour)
		f.noPollDue(ref.ID, "paused a day")
		f.noDeliveryDue("paused a day, a redelivery asked for")
		if ups := f.updatesOf(acctA, ref.ID); len(ups) != 1 {
			t.Fatalf("the feed of a paused reference has %d updates, want 1 readable", len(ups))
		}

		got = resume(f, ref.ID)
		if got.Status != references.StatusActive || got.PausedAt != nil || got.PausedFor != 24*time.Hour ||
			got.NextPollAt == nil || !got.NextPollAt.Equal(f.now()) {
			t.Fatalf("resumed: status %s, paused at %v, paused for %s, next poll %v", got.Status, got.PausedAt, got.PausedFor, got.NextPollAt)
		}
		f.claimPoll("owner-1", ref.ID)
		var keys []string
		for _, c := range f.claimDeliveries("owner-1", 100) {
			keys = append(keys, c.Lease.Key)
		}
		if len(keys) != 3 {
			t.Fatalf("after the resume claimed %q; want the callback, the endpoint and the redelivery", keys)
		}
	})

	t.Run("AStreamPutBackWhilePausedWaitsAgain", func(t *testing.T) {
		f := setup(t, open)
		ref, ep := pending(f)
		pause(f, ref.ID)
		f.patchEndpointWith(acctA, ep.ID, func(e *references.Endpoint) { e.Enabled = false })
		f.patchEndpointWith(acctA, ep.ID, func(e *references.Endpoint) { e.Enabled = true }) // due now again
		if _, err := f.b.PatchReference(f.ctx, acctA, ref.ID, references.Patch{CallbackURL: ptr(url2)}, f.now()); err != nil {
			t.Fatalf("PatchReference of a paused reference: %v", err)
		}
		f.noDeliveryDue("paused, streams put back by an endpoint's enable and a PATCH")
		f.noDeliveryDue("paused, asked again")
		resume(f, ref.ID)
		wantBothStreams(f, ref.ID, ep.ID)
	})

	t.Run("IdempotentAndConflicts", func(t *testing.T) {
		f := setup(t, open)
		ref := f.create(acctA, nil)
		if again := resume(f, ref.ID); again.Status != references.StatusActive || again.PausedFor != 0 {
			t.Fatalf("resume of an active reference: %s, paused for %s", again.Status, again.PausedFor)
		}
		first := pause(f, ref.ID)
		f.clk.Advance(time.Minute)
		if again := pause(f, ref.ID); again.Status != references.StatusPaused || !again.PausedAt.Equal(*first.PausedAt) {
			t.Fatalf("pausing twice: paused at %v, want %v unchanged", again.PausedAt, first.PausedAt)
		}
		_, err := f.b.PauseReference(f.ctx, acctB, ref.ID, f.now())
		wantCode(t, "pause of another account's reference", err, references.CodeNotFound)
		_, err = f.b.ResumeReference(f.ctx, acctB, ref.ID, f.now())
		wantCode(t, "resume of another account's reference", err, references.CodeNotFound)
		_, err = f.b.RequestPoll(f.ctx, acctB, ref.ID, f.now())
		wantCode(t, "refresh of another account's reference", err, references.CodeNotFound)
		_, err = f.b.RequestPoll(f.ctx, acctA, ref.ID, f.now())
		wantCode(t, "refresh of a paused reference", err, references.CodeConflict)
		f.unsubscribe(acctA, ref.ID, references.ReasonUser)
		for name, call := range map[string]func(string, string, time.Time) (references.Reference, error){
			"pause": func(a, id string, at time.Time) (references.Reference, error) {
				return f.b.PauseReference(f.ctx, a, id, at)
			},
			"resume": func(a, id string, at time.Time) (references.Reference, error) {
				return f.b.ResumeReference(f.ctx, a, id, at)
			},
			"refresh": func(a, id string, at time.Time) (references.Reference, error) {
				return f.b.RequestPoll(f.ctx, a, id, at)
			},
		} {
			_, err := call(acctA, ref.ID, f.now())
			wantCode(t, name+" of an unsubscribed reference", err, references.CodeConflict)
		}
	})

	t.Run("PausedKeepsItsIdentifierAndQuotaAndIsListed", func(t *testing.T) {
		f := setup(t, open)
		ref := f.create(acctA, nil)
		pause(f, ref.ID)
		dup := f.newRef(acctA, func(r *references.Reference) { r.ContainerID = ref.ContainerID })
		_, _, err := f.b.CreateReference(f.ctx, dup, references.CreateOptions{})
		var domain *references.Error
		if !errors.As(err, &domain) || domain.Code != references.CodeConflict || domain.ReferenceID != ref.ID {
			t.Fatalf("create of a paused reference's identifier: %v; want a conflict naming %s", err, ref.ID)
		}
		_, _, err = f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{MaxActive: 1})
		wantCode(t, "create over a quota of 1 with one paused reference", err, references.CodeQuotaExceeded)
		if ids, _ := f.listAll(acctA, references.ListQuery{Status: references.StatusPaused, Limit: 10}); !slices.Equal(ids, []string{ref.ID}) {
			t.Fatalf("list of paused references = %q, want [%s]", ids, ref.ID)
		}
		if ids, _ := f.listAll(acctA, references.ListQuery{Status: references.StatusActive, Limit: 10}); len(ids) != 0 {
			t.Fatalf("list of active references = %q, want none", ids)
		}
	})

	t.Run("UnsubscribeWhilePausedDeliversTheRest", func(t *testing.T) {
		f := setup(t, open)
		ref, ep := pending(f)
		pause(f, ref.ID)
		got := f.unsubscribe(acctA, ref.ID, references.ReasonUser)
		if got.Status != references.StatusUnsubscribed || got.LastSequence != 2 || got.PausedAt != nil {
			t.Fatalf("unsubscribed while paused: status %s, last sequence %d, paused at %v", got.Status, got.LastSequence, got.PausedAt)
		}
		wantBothStreams(f, ref.ID, ep.ID)
		f.noPollDue(ref.ID, "unsubscribed")
	})

	t.Run("CrashWhilePausedStaysPaused", func(t *testing.T) {
		f := setup(t, open)
		ref, ep := pending(f)
		f.clk.Advance(2 * time.Hour)
		pause(f, ref.ID)
		f.crash()
		if got := f.get(acctA, ref.ID); got.Status != references.StatusPaused || got.PausedAt == nil {
			t.Fatalf("after a crash: status %s, paused at %v", got.Status, got.PausedAt)
		}
		f.noPollDue(ref.ID, "paused, after a crash")
		f.noDeliveryDue("paused, after a crash")
		resume(f, ref.ID)
		f.claimPoll("owner-1", ref.ID)
		wantBothStreams(f, ref.ID, ep.ID)
	})

	t.Run("RequestPollMakesDueNowOnceAMinute", func(t *testing.T) {
		f := setup(t, open)
		ref := f.create(acctA, nil)
		f.poll(ref.ID, references.PollResult{NextPollAt: f.now().Add(time.Hour)})
		f.noPollDue(ref.ID, "polled, due in an hour")
		got, err := f.b.RequestPoll(f.ctx, acctA, ref.ID, f.now())
		if err != nil || got.LastRefreshAt == nil || !got.LastRefreshAt.Equal(f.now()) || !got.NextPollAt.Equal(f.now()) {
			t.Fatalf("RequestPoll = %v; last refresh %v, next poll %v; want both now", err, got.LastRefreshAt, got.NextPollAt)
		}
		f.poll(ref.ID, references.PollResult{NextPollAt: f.now().Add(time.Hour)})
		f.restart() // the limit is in the store, not in memory
		f.clk.Advance(40 * time.Second)
		_, err = f.b.RequestPoll(f.ctx, acctA, ref.ID, f.now())
		var soon *references.RefreshTooSoon
		if !errors.As(err, &soon) || soon.RetryAfter != 20*time.Second {
			t.Fatalf("a second refresh 40 s later: %v; want RefreshTooSoon retrying after 20s", err)
		}
		f.noPollDue(ref.ID, "a refused refresh")
		f.clk.Advance(20 * time.Second)
		if _, err := f.b.RequestPoll(f.ctx, acctA, ref.ID, f.now()); err != nil {
			t.Fatalf("a refresh a minute later: %v", err)
		}
		f.claimPoll("owner-1", ref.ID)
	})
}

func ptr[T any](v T) *T { return &v }
