package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runAccountFeed exercises ListAccountUpdates: one gapless numbering of every update
// of an account, whatever appends it, concurrent polls and crashes included.
func runAccountFeed(t *testing.T, open Opener) {
	t.Run("AccountFeed", func(t *testing.T) {
		t.Run("NumbersEveryUpdateOfTheAccountInTheOrderAppended", func(t *testing.T) {
			f := setup(t, open)
			a := f.create(acctA, nil)
			b := f.create(acctA, withCallback(url1))
			var made []string
			for _, refID := range []string{a.ID, b.ID, a.ID, a.ID} {
				for _, u := range f.appendUpdates(refID, references.UpdateShipment, references.UpdateTrackingFailed) {
					made = append(made, u.ID)
				}
			}
			f.unsubscribe(acctA, b.ID, references.ReasonUser)
			made = append(made, f.updatesOf(acctA, b.ID)[2].ID)

			got := f.accountFeed(acctA)
			if ids := updateIDs(got); !slices.Equal(ids, made) {
				t.Fatalf("account feed = %v, want %v (every update, in the order appended)", ids, made)
			}
			wantNumbered(t, got, 1)
			page := f.accountPage(acctA, references.AccountUpdateQuery{After: 3, Limit: 2})
			if len(page.Updates) != 2 || page.Updates[0].AccountSequence != 4 || page.NextAfter != 5 ||
				page.LastSequence != uint64(len(made)) || page.OldestAvailable != 1 {
				t.Errorf("page after 3, limit 2 = %+v; want 4 and 5, next_after 5, last %d, oldest 1", pageSummary(page), len(made))
			}
			end := f.accountPage(acctA, references.AccountUpdateQuery{After: uint64(len(made))})
			if len(end.Updates) != 0 || end.NextAfter != uint64(len(made)) {
				t.Errorf("page at the end = %+v, want empty with next_after %d", pageSummary(end), len(made))
			}
		})

		t.Run("GaplessAcrossConcurrentPollers", func(t *testing.T) {
			f := setup(t, open)
			const refs, rounds, perPoll = 8, 4, 3
			var ids []string
			for range refs {
				ids = append(ids, f.create(acctA, nil).ID)
			}
			for range rounds {
				claims, err := f.b.ClaimDuePolls(f.ctx, "pollers", refs, leaseFor)
				if err != nil || len(claims) != refs {
					t.Fatalf("ClaimDuePolls = %d claims, %v; want %d", len(claims), err, refs)
				}
				var wg sync.WaitGroup
				errs := make([]error, len(claims))
				for i, c := range claims {
					wg.Go(func() {
						res := references.PollResult{PolledAt: f.now(), NextPollAt: f.now()}
						for range perPoll {
							res.Updates = append(res.Updates, f.update(references.UpdateShipment))
						}
						_, errs[i] = f.b.RecordPoll(f.ctx, c.Lease, res)
					})
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						t.Fatalf("RecordPoll: %v", err)
					}
				}
			}
			got := f.accountFeed(acctA)
			if len(got) != refs*rounds*perPoll {
				t.Fatalf("account feed of %d updates, want %d", len(got), refs*rounds*perPoll)
			}
			wantNumbered(t, got, 1)
			seen := map[string]bool{}
			last := map[string]uint64{} // ref id -> its last sequence seen
			for _, u := range got {
				if seen[u.Update.ID] {
					t.Errorf("update %s twice in the account feed", u.Update.ID)
				}
				seen[u.Update.ID] = true
				if u.Update.Sequence <= last[u.Update.ReferenceID] {
					t.Errorf("update %d of %s after its update %d: a reference's order is kept", u.Update.Sequence, u.Update.ReferenceID, last[u.Update.ReferenceID])
				}
				last[u.Update.ReferenceID] = u.Update.Sequence
			}
			for _, id := range ids {
				if last[id] != rounds*perPoll {
					t.Errorf("reference %s: %d updates in the account feed, want %d", id, last[id], rounds*perPoll)
				}
			}
		})

		t.Run("GaplessAcrossACrash", func(t *testing.T) {
			f := setup(t, open)
			a := f.create(acctA, nil)
			b := f.create(acctA, nil)
			f.appendUpdates(a.ID, references.UpdateShipment, references.UpdateShipment)
			f.crash()
			f.appendUpdates(b.ID)
			f.crash()
			f.appendUpdates(a.ID)
			got := f.accountFeed(acctA)
			if len(got) != 4 {
				t.Fatalf("account feed of %d updates after crashes, want 4", len(got))
			}
			wantNumbered(t, got, 1)
		})

		t.Run("IsolatesAccounts", func(t *testing.T) {
			f := setup(t, open)
			a := f.create(acctA, nil)
			b := f.create(acctB, nil)
			f.appendUpdates(a.ID, references.UpdateShipment, references.UpdateShipment)
			f.appendUpdates(b.ID)
			f.appendUpdates(a.ID)
			gotB := f.accountFeed(acctB)
			if len(gotB) != 1 || gotB[0].Update.ReferenceID != b.ID {
				t.Fatalf("account feed of %s = %v, want its one update", acctB, updateIDs(gotB))
			}
			wantNumbered(t, gotB, 1) // its own numbering, from 1
			gotA := f.accountFeed(acctA)
			if len(gotA) != 3 || slices.ContainsFunc(gotA, func(u references.AccountUpdate) bool { return u.Update.ReferenceID != a.ID }) {
				t.Fatalf("account feed of %s = %v, want the 3 updates of its reference only", acctA, updateIDs(gotA))
			}
			wantNumbered(t, gotA, 1)
			none := f.accountPage("acct_nobody", references.AccountUpdateQuery{})
			if len(none.Updates) != 0 || none.LastSequence != 0 || none.OldestAvailable != 0 {
				t.Errorf("account feed of an unknown account = %+v, want empty", pageSummary(none))
			}
		})

		t.Run("RetentionLeavesHolesAndSaysWhereTheFeedStarts", func(t *testing.T) {
			f := setup(t, open)
			pending := f.create(acctA, withCallback(url1)) // undelivered: retention keeps its updates
			feedOnly := f.create(acctA, nil)
			f.appendUpdates(feedOnly.ID) // 1
			f.appendUpdates(pending.ID)  // 2
			f.appendUpdates(feedOnly.ID) // 3
			f.clk.Advance(time.Hour)
			f.appendUpdates(feedOnly.ID) // 4
			if n, err := f.pruneUpdates(f.now(), 100); err != nil || n != 2 {
				t.Fatalf("pruned %d updates, %v; want 2", n, err)
			}
			page := f.accountPage(acctA, references.AccountUpdateQuery{})
			if seqs := accountSeqs(page.Updates); !slices.Equal(seqs, []uint64{2, 4}) ||
				page.OldestAvailable != 2 || page.LastSequence != 4 || page.NextAfter != 4 {
				t.Fatalf("account feed after retention = %+v; want 2 and 4, oldest 2, last 4, next_after 4", pageSummary(page))
			}
			f.appendUpdates(feedOnly.ID)
			if more := f.accountPage(acctA, references.AccountUpdateQuery{After: 4}); !slices.Equal(accountSeqs(more.Updates), []uint64{5}) {
				t.Errorf("after retention, the next update is %v, want 5: numbers are never reused", accountSeqs(more.Updates))
			}
		})

		t.Run("TypesFilterKeepsTheCursorMoving", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			f.appendUpdates(ref.ID, references.UpdateShipment, references.UpdateTrackingFailed, references.UpdateShipment)
			tests := []struct {
				types []string
				want  []uint64
			}{
				{[]string{"tracking.failed"}, []uint64{2}},
				{[]string{references.TagStatusChanged}, []uint64{1, 3}}, // a tag of the changes
				{[]string{"shipment.*"}, []uint64{1, 3}},
				{[]string{"*"}, []uint64{1, 2, 3}},
				{[]string{"reference.unsubscribed"}, nil},
			}
			for _, tc := range tests {
				page := f.accountPage(acctA, references.AccountUpdateQuery{Types: tc.types})
				if got := accountSeqs(page.Updates); !slices.Equal(got, tc.want) || page.NextAfter != 3 {
					t.Errorf("types %v = %v, next_after %d; want %v, next_after 3", tc.types, got, page.NextAfter, tc.want)
				}
			}
		})
	})
}

// accountPage reads one page of the account feed, failing the test on error.
func (f *fixture) accountPage(accountID string, q references.AccountUpdateQuery) references.AccountUpdatePage {
	f.t.Helper()
	page, err := f.b.ListAccountUpdates(f.ctx, accountID, q)
	if err != nil {
		f.t.Fatalf("ListAccountUpdates(%s, %+v): %v", accountID, q, err)
	}
	return page
}

// accountFeed reads the whole account feed, page by page.
func (f *fixture) accountFeed(accountID string) []references.AccountUpdate {
	f.t.Helper()
	var out []references.AccountUpdate
	q := references.AccountUpdateQuery{Limit: 7} // pages that do not divide the feed
	for {
		page := f.accountPage(accountID, q)
		out = append(out, page.Updates...)
		if page.NextAfter >= page.LastSequence {
			return out
		}
		if page.NextAfter <= q.After {
			f.t.Fatalf("ListAccountUpdates after %d: next_after %d does not move on", q.After, page.NextAfter)
		}
		q.After = page.NextAfter
	}
}

// wantNumbered fails the test unless the account sequences are from, from+1, ...
func wantNumbered(t *testing.T, ups []references.AccountUpdate, from uint64) {
	t.Helper()
	for i, u := range ups {
		if u.AccountSequence != from+uint64(i) {
			t.Fatalf("account sequences %v, want %d, %d, ... without gap or duplicate", accountSeqs(ups), from, from+1)
		}
	}
}

func accountSeqs(ups []references.AccountUpdate) []uint64 {
	var out []uint64
	for _, u := range ups {
		out = append(out, u.AccountSequence)
	}
	return out
}

func updateIDs(ups []references.AccountUpdate) []string {
	var out []string
	for _, u := range ups {
		out = append(out, u.Update.ID)
	}
	return out
}

// pageSummary is a page without its updates' bodies, for messages.
func pageSummary(p references.AccountUpdatePage) string {
	return fmt.Sprintf("sequences %v, next_after %d, last %d, oldest %d", accountSeqs(p.Updates), p.NextAfter, p.LastSequence, p.OldestAvailable)
}
