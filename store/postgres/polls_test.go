package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
)

// Tests of polls that the conformance suite cannot make: several instances (*DB
// values) on one database, and leases decided by the database's clock (no test clock).

// openInstances opens n instances on one new database, with the database's clock.
func openInstances(t *testing.T, n int) []*DB {
	t.Helper()
	url := pgtest.NewDatabase(t)
	dbs := make([]*DB, n)
	for i := range dbs {
		db, err := Open(context.Background(), url, Options{MaxConns: 8})
		if err != nil {
			t.Fatalf("open instance %d: %v", i, err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	return dbs
}

// createDue creates n active references due a minute ago (by this machine's clock,
// which the database's shares here).
func createDue(t *testing.T, db *DB, n int) []string {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	due := now.Add(-time.Minute)
	ids := make([]string, n)
	for i := range ids {
		ref := references.Reference{
			ID: references.NewID("ref_"), AccountID: "acct_poll", ContainerID: fmt.Sprintf("MSCU%07d", i),
			CarrierCode: "MSCU", Status: references.StatusActive, CreatedAt: now, UpdatedAt: now, NextPollAt: &due,
		}
		if _, _, err := db.CreateReference(ctx, ref, references.CreateOptions{}); err != nil {
			t.Fatalf("create reference %d: %v", i, err)
		}
		ids[i] = ref.ID
	}
	return ids
}

// Two instances claiming at once, from several workers each, never get the same
// reference, and between them claim every due one.
func TestTwoInstancesNeverClaimTheSamePoll(t *testing.T) {
	dbs := openInstances(t, 2)
	ids := createDue(t, dbs[0], 300)
	ctx := context.Background()
	var mu sync.Mutex
	claimed := map[string]string{}
	var dup []string
	var wg sync.WaitGroup
	for i, db := range dbs {
		for w := range 4 {
			owner := fmt.Sprintf("instance-%d/worker-%d", i, w)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					claims, err := db.ClaimDuePolls(ctx, owner, 7, time.Minute)
					if err != nil {
						t.Errorf("%s: ClaimDuePolls: %v", owner, err)
						return
					}
					if len(claims) == 0 {
						return
					}
					mu.Lock()
					for _, c := range claims {
						if prev, ok := claimed[c.Reference.ID]; ok {
							dup = append(dup, fmt.Sprintf("%s by %s and %s", c.Reference.ID, prev, owner))
						}
						claimed[c.Reference.ID] = owner
						if c.Lease.Owner != owner || c.Lease.Key != references.PollLeaseKey(c.Reference.ID) {
							t.Errorf("claim of %s has lease %+v, want one of %s", c.Reference.ID, c.Lease, owner)
						}
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(dup) > 0 {
		t.Errorf("claimed twice: %q", dup)
	}
	for _, id := range ids {
		if _, ok := claimed[id]; !ok {
			t.Errorf("%s was never claimed", id)
		}
	}
}

// A lease's end is the database's: a poll recorded after it ran out is refused and
// writes nothing, though no other instance claimed the reference; another instance
// may then claim it.
func TestPollRecordedAfterTheDatabaseEndedItsLeaseIsRefused(t *testing.T) {
	dbs := openInstances(t, 2)
	id := createDue(t, dbs[0], 1)[0]
	ctx := context.Background()
	const lease = 300 * time.Millisecond
	claims, err := dbs[0].ClaimDuePolls(ctx, "first", 1, lease)
	if err != nil || len(claims) != 1 {
		t.Fatalf("ClaimDuePolls = %d claims, %v; want 1", len(claims), err)
	}
	l := claims[0].Lease
	var dbNow time.Time
	if err := dbs[0].pool.QueryRow(ctx, "SELECT now()").Scan(&dbNow); err != nil {
		t.Fatal(err)
	}
	if d := l.Until.Sub(dbNow); d < lease-time.Second || d > lease+time.Second {
		t.Errorf("lease ends %v after the database's now, want about %v", d, lease)
	}
	if _, err := dbs[1].ClaimPoll(ctx, "second", id, time.Minute); !errors.Is(err, references.ErrBusy) {
		t.Errorf("ClaimPoll while the lease is live = %v, want ErrBusy", err)
	}
	// Wait until the database's clock is past the lease's end.
	for {
		var past bool
		if err := dbs[1].pool.QueryRow(ctx, "SELECT now() > $1", l.Until).Scan(&past); err != nil {
			t.Fatal(err)
		}
		if past {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	polled := time.Now().UTC()
	_, err = dbs[0].RecordPoll(ctx, l, references.PollResult{PolledAt: polled, NextPollAt: polled.Add(time.Hour)})
	if !errors.Is(err, references.ErrLeaseLost) {
		t.Fatalf("RecordPoll after the lease ran out = %v, want ErrLeaseLost", err)
	}
	ref, err := dbs[1].GetReference(ctx, "acct_poll", id)
	if err != nil {
		t.Fatal(err)
	}
	if ref.LastPolledAt != nil {
		t.Errorf("a refused poll was written: LastPolledAt %v", ref.LastPolledAt)
	}
	again, err := dbs[1].ClaimDuePolls(ctx, "second", 1, time.Minute)
	if err != nil || len(again) != 1 || again[0].Reference.ID != id || again[0].Lease.Token == l.Token {
		t.Fatalf("claim after the lease ran out = %+v, %v; want %s under a new token", again, err, id)
	}
	if _, err := dbs[1].RecordPoll(ctx, again[0].Lease, references.PollResult{PolledAt: polled, NextPollAt: polled.Add(time.Hour)}); err != nil {
		t.Errorf("RecordPoll under the new lease: %v", err)
	}
}
