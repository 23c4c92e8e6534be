package postgres

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/storecopy"
)

// The counts by status are kept by triggers of refs (migration 00005): these tests
// compare them with a count of the rows after every way of writing refs.

// checkCounts fails the test unless CountReferences gives every account of refs (and
// the accounts named) what counting its rows gives.
func checkCounts(t *testing.T, db *DB, step string, accounts ...string) {
	t.Helper()
	ctx := context.Background()
	want := map[string]map[references.Status]int{}
	for _, a := range accounts {
		want[a] = map[references.Status]int{}
	}
	rows, err := db.pool.Query(ctx, "SELECT account_id, status, count(*) FROM refs GROUP BY account_id, status")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var account, status string
		var n int
		if err := rows.Scan(&account, &status, &n); err != nil {
			t.Fatal(err)
		}
		if want[account] == nil {
			want[account] = map[references.Status]int{}
		}
		want[account][references.Status(status)] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for account, w := range want {
		got, err := db.CountReferences(ctx, account)
		if err != nil || !maps.Equal(got, w) {
			t.Errorf("%s: CountReferences(%s) = %v, %v; counting the rows gives %v", step, account, got, err, w)
		}
	}
}

// Every way of writing refs keeps the counts: creates one by one and in batches,
// pauses and resumes, unsubscribes by the API and by the poller (paused or not),
// retention, the migration that adds them, and a copy's Load.
func TestCountReferences_FollowEveryWrite(t *testing.T) {
	clk := clock.NewFake(summaryT0)
	db, err := Open(context.Background(), pgtest.NewDatabase(t), Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	now := summaryT0
	checkCounts(t, db, "empty", "acct_a")
	n := 0
	newRef := func(account string) references.Reference {
		n++
		next := now
		return references.Reference{
			ID: fmt.Sprintf("ref_%03d", n), AccountID: account, ContainerID: fmt.Sprintf("MSCU%07d", n), CarrierCode: "MSCU",
			Status: references.StatusActive, CreatedAt: now, UpdatedAt: now, NextPollAt: &next,
		}
	}
	var ids []string
	for range 4 {
		ref := newRef("acct_a")
		if _, _, err := db.CreateReference(ctx, ref, references.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ref.ID)
	}
	if _, _, err := db.CreateReference(ctx, newRef("acct_b"), references.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, db, "created one by one")
	var items []references.BatchItem
	for range 5 {
		items = append(items, references.BatchItem{Reference: newRef("acct_a")})
	}
	items = append(items, references.BatchItem{Reference: items[0].Reference}) // a conflict: not stored
	results, _, err := db.CreateReferences(ctx, "acct_a", items, references.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results[:5] {
		ids = append(ids, r.Reference.ID)
	}
	checkCounts(t, db, "created in a batch")

	step := func(what string, f func() error) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		checkCounts(t, db, what)
	}
	step("paused", func() error { _, err := db.PauseReference(ctx, "acct_a", ids[0], now); return err })
	step("paused twice", func() error { _, err := db.PauseReference(ctx, "acct_a", ids[0], now); return err })
	step("another paused", func() error { _, err := db.PauseReference(ctx, "acct_a", ids[1], now); return err })
	step("resumed", func() error { _, err := db.ResumeReference(ctx, "acct_a", ids[1], now); return err })
	step("unsubscribed while paused", func() error {
		_, err := db.UnsubscribeReference(ctx, "acct_a", ids[0], references.ReasonUser, now)
		return err
	})
	step("unsubscribed", func() error {
		_, err := db.UnsubscribeReference(ctx, "acct_a", ids[2], references.ReasonUser, now)
		return err
	})
	step("unsubscribed twice", func() error {
		_, err := db.UnsubscribeReference(ctx, "acct_a", ids[2], references.ReasonUser, now)
		return err
	})
	step("unsubscribed by the poller", func() error {
		claim, err := db.ClaimPoll(ctx, "test", ids[3], time.Minute)
		if err != nil {
			return err
		}
		_, err = db.RecordPoll(ctx, claim.Lease, references.PollResult{
			PolledAt: now, NextPollAt: now, Unsubscribe: references.ReasonNotFound,
			Updates: []references.Update{{ID: references.NewID("upd_"), Type: references.UpdateUnsubscribed, CreatedAt: now}},
		})
		return err
	})
	step("polled", func() error {
		claim, err := db.ClaimPoll(ctx, "test", ids[4], time.Minute)
		if err != nil {
			return err
		}
		_, err = db.RecordPoll(ctx, claim.Lease, references.PollResult{PolledAt: now, NextPollAt: now.Add(time.Hour)})
		return err
	})
	clk.Set(now.Add(400 * 24 * time.Hour))
	step("pruned", func() error {
		got, err := db.Prune(ctx, references.PruneRequest{Unsubscribed: clk.Now(), Updates: clk.Now(), Attempts: clk.Now(), Max: 1000})
		if err == nil && got.References == 0 {
			err = fmt.Errorf("retention deleted no reference: %+v", got)
		}
		return err
	})

	// A copy: the loaded store counts what it loaded.
	var records []storecopy.Record
	if err := db.Dump(ctx, func(r storecopy.Record) error { records = append(records, r); return nil }); err != nil {
		t.Fatal(err)
	}
	dst, err := Open(ctx, pgtest.NewDatabase(t), Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	err = dst.Load(ctx, iter.Seq2[storecopy.Record, error](func(yield func(storecopy.Record, error) bool) {
		for _, r := range records {
			if !yield(r, nil) {
				return
			}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, dst, "loaded", "acct_a", "acct_b")
	if got, _ := dst.CountReferences(ctx, "acct_a"); got[references.StatusActive] == 0 || got[references.StatusPaused] != 0 {
		t.Errorf("the loaded counts %v: the test lost its active references", got)
	}

	// The migration counts the references already there.
	p, sqlDB, err := newProvider(db.pool)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	if _, err := p.DownTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, db, "migrated", "acct_a", "acct_b")
}

// Pauses, resumes and unsubscribes of one account's references at once, from many
// connections, keep the counts exact and never deadlock on them.
func TestCountReferences_ConcurrentStatusChanges(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	now := summaryT0
	const refs = 40
	ids := make([]string, refs)
	for i := range ids {
		next := now
		ref := references.Reference{
			ID: fmt.Sprintf("ref_%03d", i), AccountID: "acct_a", ContainerID: fmt.Sprintf("MSCU%07d", i), CarrierCode: "MSCU",
			Status: references.StatusActive, CreatedAt: now, UpdatedAt: now, NextPollAt: &next,
		}
		if _, _, err := db.CreateReference(ctx, ref, references.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ids[i] = ref.ID
	}
	var wg sync.WaitGroup
	errs := make(chan error, refs)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			for round := range 3 {
				switch (i + round) % 3 {
				case 0:
					_, err = db.PauseReference(ctx, "acct_a", id, now)
				case 1:
					_, err = db.ResumeReference(ctx, "acct_a", id, now)
				case 2:
					if i%4 == 0 {
						_, err = db.UnsubscribeReference(ctx, "acct_a", id, references.ReasonUser, now)
					}
				}
				if err != nil && references.ErrorCode(err) != references.CodeConflict {
					errs <- fmt.Errorf("%s, round %d: %w", id, round, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkCounts(t, db, "after concurrent changes", "acct_a")
}
