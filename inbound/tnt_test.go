package inbound_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/inbound"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
)

// eventIDs returns the ids of the reference's stored snapshot, in order.
func (r *rig) eventIDs(refID string) []string {
	r.t.Helper()
	sh, err := r.db.Shipment(r.ctx, refID)
	if err != nil {
		r.t.Fatal(err)
	}
	if sh == nil {
		return nil
	}
	var ids []string
	for _, e := range sh.Events {
		ids = append(ids, e.ID)
	}
	return ids
}

// TestTNT_PushAppliedOnceWhateverTheOrder: a signed notification is answered 204
// once its events are in the snapshot and the feed; the carrier's retry of it is
// 204 too and appends nothing; an earlier event arriving late joins the snapshot
// without removing the later one.
func TestTNT_PushAppliedOnceWhateverTheOrder(t *testing.T) {
	t.Parallel()
	r := setup(t, nil)
	start := r.clk.Now()
	ref := r.track(acctA, references.CreateRequest{ContainerID: "MSCU1234566"})
	sub := r.subscribe(ref, srcTNT, "sub-1", secret("secret-new-0123456789", nil))
	key := sub.Secrets[0].Key
	later := mustJSON(t, []any{tntEvent("ev-load", "LOAD", start.Add(2*time.Hour), "MSCU1234566")})
	earlier := mustJSON(t, []any{tntEvent("ev-gate-in", "GTIN", start.Add(time.Hour), "MSCU1234566")})

	r.clk.Advance(time.Minute)
	if got := r.notify(srcTNT, ref.ID, "sub-1", key, later); got.status != http.StatusNoContent || len(got.body) != 0 {
		t.Fatalf("first push: %d %q, want 204 and no body", got.status, got.body)
	}
	rep := r.wantReport(srcTNT, poller.PushSubscription, inbound.OutcomeApplied)
	st := r.state(ref)
	if rep.Updates == 0 || len(st.Updates) != rep.Updates {
		t.Errorf("reported %d updates, the feed holds %d: want the same, above 0", rep.Updates, len(st.Updates))
	}
	if got := r.eventIDs(ref.ID); !slices.Equal(got, []string{"ev-load"}) {
		t.Errorf("snapshot %v, want the pushed event", got)
	}
	if st.Ref.Push.LastPushAt == nil || !st.Ref.Push.LastPushAt.Equal(r.clk.Now()) {
		t.Errorf("LastPushAt %v, want %v", st.Ref.Push.LastPushAt, r.clk.Now())
	}

	// The carrier retries: nothing new.
	r.clk.Advance(time.Minute)
	before := r.state(ref)
	if got := r.notify(srcTNT, ref.ID, "sub-1", key, later); got.status != http.StatusNoContent {
		t.Fatalf("retry: %d %s, want 204", got.status, got.body)
	}
	r.wantReport(srcTNT, poller.PushSubscription, inbound.OutcomeDuplicate)
	if after := r.state(ref); len(after.Updates) != len(before.Updates) || !slices.Equal(r.eventIDs(ref.ID), []string{"ev-load"}) {
		t.Errorf("the retry appended %d updates (snapshot %v)", len(after.Updates)-len(before.Updates), r.eventIDs(ref.ID))
	}

	// An earlier event, late.
	if got := r.notify(srcTNT, ref.ID, "sub-1", key, earlier); got.status != http.StatusNoContent {
		t.Fatalf("late push: %d %s, want 204", got.status, got.body)
	}
	r.wantReport(srcTNT, poller.PushSubscription, inbound.OutcomeApplied)
	if got := r.eventIDs(ref.ID); !slices.Equal(got, []string{"ev-gate-in", "ev-load"}) {
		t.Errorf("snapshot %v, want both events by time", got)
	}
	r.noSecretsLogged(later, "secret-new-0123456789")
}

// TestTNT_ContainerReferenceKeepsItsOwnEvents: a container reference's
// notification is read as its polls are: the events of other containers of the same
// subscription's filter are left out.
func TestTNT_ContainerReferenceKeepsItsOwnEvents(t *testing.T) {
	t.Parallel()
	r := setup(t, nil)
	now := r.clk.Now()
	ref := r.track(acctA, references.CreateRequest{ContainerID: "MSCU1234566"})
	sub := r.subscribe(ref, srcTNT, "sub-1", secret("secret-new-0123456789", nil))
	body := mustJSON(t, []any{
		tntEvent("ev-mine", "GTIN", now, "MSCU1234566"),
		tntEvent("ev-other", "GTIN", now, "CSQU3054383"),
	})
	if got := r.notify(srcTNT, ref.ID, "sub-1", sub.Secrets[0].Key, body); got.status != http.StatusNoContent {
		t.Fatalf("%d %s, want 204", got.status, got.body)
	}
	r.wantReport(srcTNT, poller.PushSubscription, inbound.OutcomeApplied)
	if got := r.eventIDs(ref.ID); !slices.Equal(got, []string{"ev-mine"}) {
		t.Errorf("snapshot %v, want only the reference's container's event", got)
	}
}

// TestTNT_RotatedSecretVerifiesUntilItsGraceEnds: after a rotation the carrier may
// sign with the previous secret until its Until; then only the new one verifies.
func TestTNT_RotatedSecretVerifiesUntilItsGraceEnds(t *testing.T) {
	t.Parallel()
	r := setup(t, nil)
	now := r.clk.Now()
	ref := r.track(acctA, references.CreateRequest{})
	graceEnd := now.Add(time.Hour)
	r.subscribe(ref, srcTNT, "sub-1", secret("secret-new-0123456789", nil), secret("secret-old-0123456789", &graceEnd))
	oldKey, newKey := []byte("secret-old-0123456789"), []byte("secret-new-0123456789")
	push := func(id string) []byte {
		if id == "ev-1" {
			return mustJSON(t, []any{tntEvent(id, "GTIN", now, "MSCU1234566")})
		}
		return mustJSON(t, []any{tntEvent(id, "LOAD", now.Add(time.Hour), "MSCU1234566")})
	}

	r.clk.Set(graceEnd.Add(-time.Second))
	if got := r.notify(srcTNT, ref.ID, "sub-1", oldKey, push("ev-1")); got.status != http.StatusNoContent {
		t.Fatalf("old secret within its grace: %d %s, want 204", got.status, got.body)
	}
	r.wantReport(srcTNT, poller.PushSubscription, inbound.OutcomeApplied)

	r.clk.Set(graceEnd)
	before := r.state(ref)
	if got := r.notify(srcTNT, ref.ID, "sub-1", oldKey, push("ev-2")); got.status != http.StatusUnauthorized {
		t.Fatalf("old secret at the end of its grace: %d %s, want 401", got.status, got.body)
	}
	r.wantReport(srcTNT, poller.PushSubscription, inbound.OutcomeBadSignature)
	r.unchanged(ref, before, "a push signed with an expired secret")

	if got := r.notify(srcTNT, ref.ID, "sub-1", newKey, push("ev-2")); got.status != http.StatusNoContent {
		t.Fatalf("new secret: %d %s, want 204", got.status, got.body)
	}
	r.wantReport(srcTNT, poller.PushSubscription, inbound.OutcomeApplied)
	if got := r.eventIDs(ref.ID); !slices.Equal(got, []string{"ev-1", "ev-2"}) {
		t.Errorf("snapshot %v, want ev-1 and ev-2", got)
	}
}

// TestTNT_UntrackedReferenceIsAcknowledgedAndIgnored: a verified notification for a
// paused or ended reference is answered 204, so that the carrier does not retry it,
// and changes nothing (the subscription of an ended reference is deleted through the
// store's queue).
func TestTNT_UntrackedReferenceIsAcknowledgedAndIgnored(t *testing.T) {
	t.Parallel()
	r := setup(t, nil)
	now := r.clk.Now()
	paused := r.track(acctA, references.CreateRequest{ContainerID: "MSCU1234566"})
	ended := r.track(acctA, references.CreateRequest{ContainerID: "CSQU3054383"})
	r.subscribe(paused, srcTNT, "sub-p", secret("secret-p-0123456789", nil))
	r.subscribe(ended, srcTNT, "sub-e", secret("secret-e-0123456789", nil))
	if _, err := r.svc.Pause(r.ctx, acctA, paused.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Unsubscribe(r.ctx, acctA, ended.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ref       references.Reference
		sub, key  string
		container string
	}{
		{paused, "sub-p", "secret-p-0123456789", "MSCU1234566"},
		{ended, "sub-e", "secret-e-0123456789", "CSQU3054383"},
	} {
		r.clk.Advance(time.Minute)
		before := r.state(c.ref)
		body := mustJSON(t, []any{tntEvent("ev-1", "GTIN", now, c.container)})
		if got := r.notify(srcTNT, c.ref.ID, c.sub, []byte(c.key), body); got.status != http.StatusNoContent {
			t.Fatalf("%s: %d %s, want 204", c.ref.Status, got.status, got.body)
		}
		r.wantReport(srcTNT, poller.PushSubscription, inbound.OutcomeNotTracked)
		r.unchanged(c.ref, before, "a push for a reference not tracked")
	}
}

// busyApplier answers every push as a poll holding the reference would.
type busyApplier struct{}

func (busyApplier) ApplyPush(_ context.Context, refID string, _ poller.PushMerge) (int, error) {
	return 0, errors.Join(errors.New("push for "+refID+": a poll held the reference"), references.ErrBusy)
}

// TestTNT_BusyReferenceAsksTheCarrierToRetry: when a poll held the reference past
// ApplyPush's wait, nothing was recorded: 503 with Retry-After, which DCSA's
// publishers honour.
func TestTNT_BusyReferenceAsksTheCarrierToRetry(t *testing.T) {
	t.Parallel()
	r := setup(t, busyApplier{})
	ref := r.track(acctA, references.CreateRequest{})
	sub := r.subscribe(ref, srcTNT, "sub-1", secret("secret-new-0123456789", nil))
	body := mustJSON(t, []any{tntEvent("ev-1", "GTIN", r.clk.Now(), "MSCU1234566")})
	got := r.notify(srcTNT, ref.ID, "sub-1", sub.Secrets[0].Key, body)
	if got.status != http.StatusServiceUnavailable || got.header.Get("Retry-After") == "" {
		t.Fatalf("%d (Retry-After %q) %s, want 503 with Retry-After", got.status, got.header.Get("Retry-After"), got.body)
	}
	r.wantReport(srcTNT, poller.PushSubscription, inbound.OutcomeError)
}
