package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// The accounts every subtest starts with.
const (
	acctA = "acct_a"
	acctB = "acct_b"
)

// leaseFor is the lease the suite asks for when a subtest does not care about it.
const leaseFor = time.Minute

// Callback URLs of the suite's references.
const (
	url1 = "https://receiver.example/hooks/1"
	url2 = "https://receiver.example/hooks/2"
)

// fixture is one subtest's backend, clock and helpers, in the manner of river's
// setup(t) bundles: each subtest reads as arrange, act, assert.
type fixture struct {
	t   *testing.T
	ctx context.Context
	clk *clock.Fake
	h   Harness
	b   references.Backend
	n   int // containers made so far, for unique identifiers
}

// setup opens a fresh backend on a fake clock at Start, with accounts acctA and acctB.
func setup(t *testing.T, open Opener) *fixture {
	t.Helper()
	t.Parallel()
	clk := clock.NewFake(Start)
	h := open(t, clk)
	f := &fixture{t: t, ctx: t.Context(), clk: clk, h: h, b: h.Backend()}
	for _, id := range []string{acctA, acctB} {
		if _, err := f.b.EnsureAccount(f.ctx, id, secretOf(id), clk.Now()); err != nil {
			t.Fatalf("EnsureAccount(%s): %v", id, err)
		}
	}
	return f
}

// secretOf is the first signing secret of an account the fixture made.
func secretOf(accountID string) string { return "whsec_first_" + accountID }

// now is the fake clock's time.
func (f *fixture) now() time.Time { return f.clk.Now() }

// crash and restart replace the backend in use.
func (f *fixture) crash()   { f.t.Helper(); f.b = f.h.Crash(f.t) }
func (f *fixture) restart() { f.t.Helper(); f.b = f.h.Restart(f.t) }

// newRef returns an active reference of the account with a new container id, due now,
// as the Service builds it; mod changes it before it is stored.
func (f *fixture) newRef(accountID string, mod func(*references.Reference)) references.Reference {
	f.n++
	now := f.now()
	next := now
	ref := references.Reference{
		ID:           references.NewID("ref_"),
		AccountID:    accountID,
		ContainerID:  fmt.Sprintf("MSCU%07d", f.n),
		CarrierCode:  "MSCU",
		Metadata:     map[string]string{"po": fmt.Sprint(f.n)},
		PollInterval: references.Duration(15 * time.Minute),
		Status:       references.StatusActive,
		CreatedAt:    now,
		UpdatedAt:    now,
		NextPollAt:   &next,
	}
	if mod != nil {
		mod(&ref)
	}
	return ref
}

// create stores a new reference of the account (see newRef).
func (f *fixture) create(accountID string, mod func(*references.Reference)) references.Reference {
	f.t.Helper()
	ref, replayed, err := f.b.CreateReference(f.ctx, f.newRef(accountID, mod), references.CreateOptions{})
	if err != nil {
		f.t.Fatalf("CreateReference: %v", err)
	}
	if replayed {
		f.t.Fatal("CreateReference without an idempotency key: replayed = true")
	}
	return ref
}

// withCallback sets url as the reference's callback.
func withCallback(url string) func(*references.Reference) {
	return func(r *references.Reference) { r.CallbackURL = url }
}

// get reads a reference of the account, failing the test if it cannot.
func (f *fixture) get(accountID, id string) references.Reference {
	f.t.Helper()
	ref, err := f.b.GetReference(f.ctx, accountID, id)
	if err != nil {
		f.t.Fatalf("GetReference(%s): %v", id, err)
	}
	return ref
}

// claimPoll claims the due poll of refID for owner, giving back any other poll the
// claim returned. It fails the test when refID is not among them.
func (f *fixture) claimPoll(owner, refID string) references.PollClaim {
	f.t.Helper()
	claims, err := f.b.ClaimDuePolls(f.ctx, owner, 1000, leaseFor)
	if err != nil {
		f.t.Fatalf("ClaimDuePolls: %v", err)
	}
	var found *references.PollClaim
	for i := range claims {
		if claims[i].Reference.ID == refID {
			found = &claims[i]
			continue
		}
		if err := f.b.ReleaseLease(f.ctx, claims[i].Lease); err != nil {
			f.t.Fatalf("ReleaseLease: %v", err)
		}
	}
	if found == nil {
		f.t.Fatalf("the poll of %s was not claimed (got %d other claims)", refID, len(claims))
	}
	return *found
}

// poll claims refID's poll and records res; a zero PolledAt is now and a zero
// NextPollAt is now too (the reference stays due, so a subtest can poll again).
func (f *fixture) poll(refID string, res references.PollResult) references.Reference {
	f.t.Helper()
	c := f.claimPoll("poller", refID)
	if res.PolledAt.IsZero() {
		res.PolledAt = f.now()
	}
	if res.NextPollAt.IsZero() {
		res.NextPollAt = f.now()
	}
	ref, err := f.b.RecordPoll(f.ctx, c.Lease, res)
	if err != nil {
		f.t.Fatalf("RecordPoll(%s): %v", refID, err)
	}
	return ref
}

// update returns a new update of type t made now, as the poller makes them.
func (f *fixture) update(t references.UpdateType) references.Update {
	return references.Update{
		ID:        references.NewID("upd_"),
		Type:      t,
		CreatedAt: f.now(),
		Changes:   []references.Change{{Type: references.ChangeStatusChanged, Description: "status changed"}},
	}
}

// appendUpdates records a poll of refID that brings updates of the given types
// (shipment.updated when none are given) and returns them as stored.
func (f *fixture) appendUpdates(refID string, types ...references.UpdateType) []references.Update {
	f.t.Helper()
	if len(types) == 0 {
		types = []references.UpdateType{references.UpdateShipment}
	}
	res := references.PollResult{}
	for _, t := range types {
		res.Updates = append(res.Updates, f.update(t))
	}
	ref := f.poll(refID, res)
	ups, err := f.b.ListUpdates(f.ctx, ref.AccountID, refID, ref.LastSequence-uint64(len(types)), len(types))
	if err != nil {
		f.t.Fatalf("ListUpdates(%s): %v", refID, err)
	}
	if len(ups) != len(types) {
		f.t.Fatalf("a poll appended %d updates, the feed shows %d", len(types), len(ups))
	}
	return ups
}

// updatesOf returns the whole feed of a reference.
func (f *fixture) updatesOf(accountID, refID string) []references.Update {
	f.t.Helper()
	ups, err := f.b.ListUpdates(f.ctx, accountID, refID, 0, references.MaxPageSize)
	if err != nil {
		f.t.Fatalf("ListUpdates(%s): %v", refID, err)
	}
	return ups
}

// noPollDue fails the test when refID's poll can be claimed now.
func (f *fixture) noPollDue(refID, why string) {
	f.t.Helper()
	claims, err := f.b.ClaimDuePolls(f.ctx, "checker", 1000, leaseFor)
	if err != nil {
		f.t.Fatalf("ClaimDuePolls: %v", err)
	}
	for _, c := range claims {
		if c.Reference.ID == refID {
			f.t.Errorf("%s: the poll of %s was claimed", why, refID)
		}
		_ = f.b.ReleaseLease(f.ctx, c.Lease)
	}
}

// wantCode fails the test unless err carries the domain error code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s", what, code)
	}
	if got := references.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v has code %s, want %s", what, err, got, code)
	}
}

// wantLeaseLost fails the test unless err is ErrLeaseLost.
func wantLeaseLost(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("%s: got %v, want ErrLeaseLost", what, err)
	}
}

// sameTime reports whether two optional times are both unset or equal.
func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// seqs returns the sequences of updates, for messages.
func seqs(ups []references.Update) []uint64 {
	out := make([]uint64, len(ups))
	for i, u := range ups {
		out[i] = u.Sequence
	}
	return out
}
