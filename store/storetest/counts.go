package storetest

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runCounts exercises CountReferences: every change of status moves the counts, a
// refused create counts nothing, retention's deletes leave them, and each account
// counts its own.
func runCounts(t *testing.T, open Opener) {
	t.Run("Counts", func(t *testing.T) {
		t.Run("EveryStatusChangeMovesTheCounts", func(t *testing.T) {
			f := setup(t, open)
			f.wantCounts(acctA, nil, "a new account")
			a1 := f.create(acctA, nil)
			a2 := f.create(acctA, nil)
			a3 := f.create(acctA, nil)
			a4 := f.create(acctA, withCallback(url1))
			f.batch(acctA, []references.BatchItem{{Reference: f.newRef(acctA, nil)}, {Reference: f.newRef(acctA, nil)}}, references.CreateOptions{})
			f.wantCounts(acctA, counts{references.StatusActive: 6}, "six created")
			if _, _, err := f.b.CreateReference(f.ctx, f.newRef(acctA, func(r *references.Reference) { r.ContainerID = a1.ContainerID }), references.CreateOptions{}); err == nil {
				t.Fatal("a second reference of the same container was created")
			}
			if _, _, err := f.b.CreateReference(f.ctx, f.newRef(acctA, nil), references.CreateOptions{MaxActive: 6}); err == nil {
				t.Fatal("a reference above the quota was created")
			}
			f.wantCounts(acctA, counts{references.StatusActive: 6}, "after two refused creates")

			for _, step := range []struct {
				name string
				do   func() error
				want counts
			}{
				{"pause", func() error { _, err := f.b.PauseReference(f.ctx, acctA, a2.ID, f.now()); return err },
					counts{references.StatusActive: 5, references.StatusPaused: 1}},
				{"pause again", func() error { _, err := f.b.PauseReference(f.ctx, acctA, a2.ID, f.now()); return err },
					counts{references.StatusActive: 5, references.StatusPaused: 1}},
				{"unsubscribe an active one", func() error {
					_, err := f.b.UnsubscribeReference(f.ctx, acctA, a3.ID, references.ReasonUser, f.now())
					return err
				}, counts{references.StatusActive: 4, references.StatusPaused: 1, references.StatusUnsubscribed: 1}},
				{"unsubscribe it again", func() error {
					_, err := f.b.UnsubscribeReference(f.ctx, acctA, a3.ID, references.ReasonUser, f.now())
					return err
				}, counts{references.StatusActive: 4, references.StatusPaused: 1, references.StatusUnsubscribed: 1}},
				{"resume", func() error { _, err := f.b.ResumeReference(f.ctx, acctA, a2.ID, f.now()); return err },
					counts{references.StatusActive: 5, references.StatusUnsubscribed: 1}},
				{"resume again", func() error { _, err := f.b.ResumeReference(f.ctx, acctA, a2.ID, f.now()); return err },
					counts{references.StatusActive: 5, references.StatusUnsubscribed: 1}},
				{"pause, then unsubscribe", func() error {
					if _, err := f.b.PauseReference(f.ctx, acctA, a2.ID, f.now()); err != nil {
						return err
					}
					_, err := f.b.UnsubscribeReference(f.ctx, acctA, a2.ID, references.ReasonUser, f.now())
					return err
				}, counts{references.StatusActive: 4, references.StatusUnsubscribed: 2}},
				{"a poll ends tracking", func() error {
					f.poll(a1.ID, references.PollResult{Unsubscribe: references.ReasonNotFound})
					return nil
				}, counts{references.StatusActive: 3, references.StatusUnsubscribed: 3}},
				{"the callback is gone", func() error {
					f.appendUpdates(a4.ID)
					c := f.claimStream("owner-1", a4.ID)
					f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeGone))
					return nil
				}, counts{references.StatusActive: 2, references.StatusUnsubscribed: 4}},
			} {
				if err := step.do(); err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				f.wantCounts(acctA, step.want, step.name)
			}
			f.restart()
			f.wantCounts(acctA, counts{references.StatusActive: 2, references.StatusUnsubscribed: 4}, "after a restart")
			f.wantCounts(acctB, nil, "the other account")
		})

		t.Run("RetentionsDeletesLeaveTheCounts", func(t *testing.T) {
			f := setup(t, open)
			gone := f.create(acctA, nil)
			f.unsubscribe(acctA, gone.ID, references.ReasonUser)
			kept := f.create(acctA, nil)
			f.unsubscribe(acctA, kept.ID, references.ReasonUser)
			f.create(acctA, nil)
			cutoff := f.now().Add(time.Minute)
			f.clk.Advance(time.Hour)
			f.unsubscribe(acctA, f.create(acctA, nil).ID, references.ReasonUser) // after the cutoff
			f.wantCounts(acctA, counts{references.StatusActive: 1, references.StatusUnsubscribed: 3}, "before the prune")
			if got := f.prune(references.PruneRequest{Unsubscribed: cutoff, Max: 100}); got.References != 2 {
				t.Fatalf("Prune = %+v, want the 2 references unsubscribed before the cutoff", got)
			}
			f.wantCounts(acctA, counts{references.StatusActive: 1, references.StatusUnsubscribed: 1}, "after the prune")
			f.prune(references.PruneRequest{Unsubscribed: f.now().Add(time.Second), Max: 100})
			f.wantCounts(acctA, counts{references.StatusActive: 1}, "after every unsubscribed one went: none is absent")
		})

		t.Run("EachAccountCountsItsOwn", func(t *testing.T) {
			f := setup(t, open)
			for i := range 3 {
				f.create(acctA, nil)
				ref := f.create(acctB, func(r *references.Reference) { r.ContainerID = fmt.Sprintf("MSCU%07d", 9000000+i) })
				if i == 0 {
					f.unsubscribe(acctB, ref.ID, references.ReasonUser)
				}
			}
			if _, err := f.b.PauseReference(f.ctx, acctA, f.create(acctA, nil).ID, f.now()); err != nil {
				t.Fatal(err)
			}
			f.wantCounts(acctA, counts{references.StatusActive: 3, references.StatusPaused: 1}, acctA)
			f.wantCounts(acctB, counts{references.StatusActive: 2, references.StatusUnsubscribed: 1}, acctB)
			f.wantCounts("acct_none", nil, "an account without references")
		})
	})
}

// counts are references by status, as CountReferences returns them.
type counts map[references.Status]int

// wantCounts fails the test unless the account's counts are want (nil: none at all).
func (f *fixture) wantCounts(accountID string, want counts, when string) {
	f.t.Helper()
	got, err := f.b.CountReferences(f.ctx, accountID)
	if err != nil {
		f.t.Fatalf("CountReferences(%s) %s: %v", accountID, when, err)
	}
	if !maps.Equal(got, want) {
		f.t.Errorf("CountReferences(%s) %s = %v, want %v (a status without references absent)", accountID, when, got, want)
	}
}
