package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
)

// What the conformance suite cannot see: several instances (several *DB, each with its
// own pool) on one database, writing the same account at once.

// twoInstances opens two stores on one new database, sharing a fake clock.
func twoInstances(t *testing.T) (a, b *DB, clk *clock.Fake) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	clk = clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	open := func() *DB {
		db, err := Open(context.Background(), url, Options{Clock: clk, MaxConns: 8})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	return open(), open(), clk
}

// alternate runs fn(i, instance) n times at once, instances taking turns.
func alternate(n int, dbs []*DB, fn func(i int, db *DB) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i, dbs[i%len(dbs)])
		}()
	}
	wg.Wait()
	return errs
}

func TestEnsureAccountFromTwoInstancesCreatesOne(t *testing.T) {
	a, b, clk := twoInstances(t)
	ctx := context.Background()
	got := make([]references.Account, 16)
	errs := alternate(len(got), []*DB{a, b}, func(i int, db *DB) error {
		var err error
		got[i], err = db.EnsureAccount(ctx, "acct_1", fmt.Sprintf("whsec_%d", i), clk.Now())
		return err
	})
	stored, err := a.GetAccount(ctx, "acct_1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("EnsureAccount %d: %v", i, errs[i])
		}
		if len(got[i].WebhookSecrets) != 1 || got[i].WebhookSecrets[0].Secret != stored.WebhookSecrets[0].Secret {
			t.Errorf("EnsureAccount %d = %+v; stored %+v", i, got[i], stored)
		}
	}
}

func TestAuditSequenceIsGaplessAcrossInstances(t *testing.T) {
	a, b, clk := twoInstances(t)
	ctx := context.Background()
	const n = 40
	errs := alternate(n, []*DB{a, b}, func(i int, db *DB) error {
		_, err := db.AppendAudit(ctx, references.AuditEntry{
			AccountID: "acct_1", At: clk.Now(), Actor: "cli", Action: references.AuditEndpointCreated, TargetID: fmt.Sprint(i),
		})
		return err
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	entries, err := b.ListAudit(ctx, "acct_1", 0, 2*n)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, e := range entries {
		if e.Sequence != uint64(i+1) {
			t.Fatalf("entry %d has sequence %d: the log is not 1..%d", i, e.Sequence, n)
		}
		seen[e.TargetID] = true
	}
	if len(entries) != n || len(seen) != n {
		t.Errorf("%d entries for %d distinct appends, want %d", len(entries), len(seen), n)
	}
}

// A rolled-back transaction gives its sequence back: the next entry takes it.
func TestAuditSequenceOfARolledBackAppendIsReused(t *testing.T) {
	a, _, clk := twoInstances(t)
	ctx := context.Background()
	boom := errors.New("the audited operation failed")
	err := a.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := a.appendAudit(ctx, tx, references.AuditEntry{AccountID: "acct_1", At: clk.Now(), Action: references.AuditKeyCreated}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("inTx = %v", err)
	}
	e, err := a.AppendAudit(ctx, references.AuditEntry{AccountID: "acct_1", At: clk.Now(), Action: references.AuditKeyRevoked})
	if err != nil || e.Sequence != 1 {
		t.Errorf("AppendAudit after a rollback = %+v, %v; want sequence 1", e, err)
	}
}

func TestRotationsFromTwoInstancesKeepEverySecret(t *testing.T) {
	a, b, clk := twoInstances(t)
	ctx := context.Background()
	if _, err := a.EnsureAccount(ctx, "acct_1", "whsec_first", clk.Now()); err != nil {
		t.Fatal(err)
	}
	grace := clk.Now().Add(time.Hour)
	errs := alternate(2, []*DB{a, b}, func(i int, db *DB) error {
		_, err := db.RotateWebhookSecret(ctx, "acct_1", fmt.Sprintf("whsec_%d", i), grace, "cli")
		return err
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	acct, err := b.GetAccount(ctx, "acct_1")
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]bool{}
	for _, s := range acct.Live(clk.Now()) {
		secrets[s.Secret] = true
	}
	if len(secrets) != 3 || !secrets["whsec_first"] || !secrets["whsec_0"] || !secrets["whsec_1"] {
		t.Errorf("live secrets after two rotations at once = %v; want the first and both new ones", secrets)
	}
	if entries, err := a.ListAudit(ctx, "acct_1", 0, 10); err != nil || len(entries) != 2 {
		t.Errorf("audit log = %+v, %v; want two rotations", entries, err)
	}
}

// Two instances revoking an account's two admin keys at once: CheckRevoke decides on
// what the other committed, so one key is left.
func TestRevocationsFromTwoInstancesLeaveAnAdminKey(t *testing.T) {
	a, b, clk := twoInstances(t)
	ctx := context.Background()
	for round := range 10 {
		acct := fmt.Sprintf("acct_%d", round)
		if _, err := a.EnsureAccount(ctx, acct, "whsec_first", clk.Now()); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for range 2 {
			_, k := references.NewAPIKey(acct, []references.Scope{references.ScopeAdmin}, clk.Now())
			if err := a.CreateAPIKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, k.ID)
		}
		errs := alternate(2, []*DB{a, b}, func(i int, db *DB) error {
			_, err := db.RevokeAPIKey(ctx, references.KeyRevocation{AccountID: acct, Key: ids[i], Actor: "cli", At: clk.Now()})
			return err
		})
		refused := 0
		for _, err := range errs {
			var e *references.Error
			switch {
			case errors.As(err, &e) && e.Code == references.CodeConflict:
				refused++
			case err != nil:
				t.Fatal(err)
			}
		}
		keys, err := b.ListAPIKeys(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		live := 0
		for _, k := range keys {
			if k.LiveAt(clk.Now()) {
				live++
			}
		}
		if refused != 1 || live != 1 {
			t.Fatalf("round %d: %d of two revocations refused, %d keys live; want 1 and 1 (errors %v)", round, refused, live, errs)
		}
		if entries, err := b.ListAudit(ctx, acct, 0, 10); err != nil || len(entries) != 3 {
			t.Errorf("round %d: audit log %+v, %v; want two creations and one revocation", round, entries, err)
		}
	}
}

func TestRecordAPIKeyUseKeepsTheLatestOfABatch(t *testing.T) {
	a, _, clk := twoInstances(t)
	ctx := context.Background()
	if _, err := a.EnsureAccount(ctx, "acct_1", "whsec_first", clk.Now()); err != nil {
		t.Fatal(err)
	}
	_, k := references.NewAPIKey("acct_1", []references.Scope{references.ScopeRead}, clk.Now())
	if err := a.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	t0 := clk.Now()
	uses := []references.APIKeyUse{
		{Hash: k.Hash, At: t0.Add(2 * time.Minute)},
		{Hash: k.Hash, At: t0.Add(3 * time.Minute)},
		{Hash: k.Hash, At: t0.Add(time.Minute)},
		{Hash: references.HashAPIKey("thk_gone"), At: t0},
	}
	if err := a.RecordAPIKeyUse(ctx, uses); err != nil {
		t.Fatal(err)
	}
	if err := a.RecordAPIKeyUse(ctx, uses[2:3]); err != nil { // older: kept out
		t.Fatal(err)
	}
	got, err := a.LookupAPIKey(ctx, k.Hash)
	if err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("LastUsedAt = %v, %v; want %v", got.LastUsedAt, err, t0.Add(3*time.Minute))
	}
}

// Reads move no commit count: only transactions that write are given an id.
func TestStatsCommitsCountWritesOnly(t *testing.T) {
	a, _, clk := twoInstances(t)
	ctx := context.Background()
	if _, err := a.EnsureAccount(ctx, "acct_1", "whsec_first", clk.Now()); err != nil {
		t.Fatal(err)
	}
	s0, err := a.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := a.GetAccount(ctx, "acct_1"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.ListAudit(ctx, "acct_1", 0, 10); err != nil {
			t.Fatal(err)
		}
	}
	s1, err := a.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AppendAudit(ctx, references.AuditEntry{AccountID: "acct_1", At: clk.Now(), Action: references.AuditKeyCreated}); err != nil {
		t.Fatal(err)
	}
	s2, err := a.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Other databases of the test server commit meanwhile (other tests): the count is
	// the server's. Without them, reads add 0 and the append 1.
	if s1.Commits < s0.Commits || s2.Commits <= s1.Commits {
		t.Errorf("Commits %d, after reads %d, after a write %d", s0.Commits, s1.Commits, s2.Commits)
	}
	if s0.FileBytes <= 0 {
		t.Errorf("FileBytes = %d", s0.FileBytes)
	}
}

func TestBackupPointsToPgDump(t *testing.T) {
	a, _, _ := twoInstances(t)
	_, err := a.Backup(context.Background(), nil)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Backup = %v, want errors.ErrUnsupported", err)
	}
}
