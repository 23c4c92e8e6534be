package storecopy_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/postgres"
	"github.com/trackhook/trackhook/store/storecopy"
)

func openPostgres(t *testing.T, clk *clock.Fake) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), postgres.Options{Clock: clk, MaxConns: 4})
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestCopy_BoltToPostgresToBolt moves a store with every kind of record to
// PostgreSQL and back to a new bbolt file: each copy reads the same through the
// contract as the original, and hands out the same work next.
func TestCopy_BoltToPostgresToBolt(t *testing.T) {
	clk := clock.NewFake(Start)
	dir := t.TempDir()
	src := openBolt(t, filepath.Join(dir, "src.db"), clk)
	w := buildWorld(t, clk, src)
	pg := openPostgres(t, clk)
	back := openBolt(t, filepath.Join(dir, "back.db"), clk)

	there := copyStore(t, src, pg)
	again := copyStore(t, pg, back)
	if !sameCounts(there, again) {
		t.Errorf("the copy back moved %v, the copy there %v", again.Counts, there.Counts)
	}
	want := normalise(read(t, src, w))
	sameView(t, "bbolt -> PostgreSQL -> bbolt", want, normalise(read(t, back, w)))
	sameView(t, "bbolt -> PostgreSQL", want, normalise(read(t, pg, w)))
	movedETAs(t, want)
	sessionLeftBehind(t, src, pg, w)
	sessionLeftBehind(t, src, back, w)
	clk.Advance(time.Hour)
	claims := claimAll(t, src)
	somePushDeletionsDue(t, claims)
	sameClaims(t, "bbolt -> PostgreSQL -> bbolt", claims, claimAll(t, back))
	sameClaims(t, "bbolt -> PostgreSQL", claims, claimAll(t, pg))

	// What waited for a paused reference and a disabled endpoint is the same too.
	for _, b := range []references.Backend{src, back, pg} {
		wake(t, b, w, clk.Now())
	}
	claims = claimAll(t, src)
	sameClaims(t, "bbolt -> PostgreSQL -> bbolt, woken", claims, claimAll(t, back))
	sameClaims(t, "bbolt -> PostgreSQL, woken", claims, claimAll(t, pg))
}

// TestCopy_RefusesANonEmptyPostgres: a database that holds a reference's account is
// not written to.
func TestCopy_RefusesANonEmptyPostgres(t *testing.T) {
	clk := clock.NewFake(Start)
	src := openBolt(t, filepath.Join(t.TempDir(), "src.db"), clk)
	if _, err := src.EnsureAccount(t.Context(), acctA, "whsec_1", clk.Now()); err != nil {
		t.Fatal(err)
	}
	pg := openPostgres(t, clk)
	if _, err := pg.EnsureAccount(t.Context(), acctB, "whsec_2", clk.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := storecopy.Copy(t.Context(), src, pg)
	var ne *storecopy.NotEmptyError
	if !errors.As(err, &ne) || ne.Kind != storecopy.KindAccount {
		t.Fatalf("Copy into a database with an account: %v, want a NotEmptyError naming %s", err, storecopy.KindAccount)
	}
	if _, err := pg.GetAccount(t.Context(), acctA); !errors.Is(err, references.ErrNotFound) {
		t.Errorf("the refused copy wrote the account: %v", err)
	}
}

func sameCounts(a, b storecopy.Report) bool {
	if len(a.Counts) != len(b.Counts) {
		return false
	}
	for i := range a.Counts {
		if a.Counts[i] != b.Counts[i] {
			return false
		}
	}
	return true
}

// normalise keeps to the microsecond the times of a view that PostgreSQL keeps in
// columns of their own: a key's last use, the last prune, a queued push deletion's,
// a push subscription's. A copy through PostgreSQL keeps them to the microsecond (the
// verification compares them so too).
func normalise(v view) view {
	micro := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		m := t.UTC().Truncate(time.Microsecond)
		return &m
	}
	for _, keys := range [][]references.APIKey{v.Keys, v.KeyLookups} {
		for i := range keys {
			keys[i].LastUsedAt = micro(keys[i].LastUsedAt)
		}
	}
	v.Stats.LastPruneAt = micro(v.Stats.LastPruneAt)
	for i := range v.PushDeletions {
		v.PushDeletions[i].QueuedAt = *micro(&v.PushDeletions[i].QueuedAt)
	}
	refs := append(slices.Concat(v.References...), v.Gets...)
	refs = append(refs, v.ByID...)
	for _, r := range refs {
		if p := r.Push; p != nil {
			p.CreatedAt, p.RotatedAt, p.CheckedAt = *micro(&p.CreatedAt), *micro(&p.RotatedAt), *micro(&p.CheckedAt)
			p.LastPushAt = micro(p.LastPushAt)
			for j := range p.Secrets {
				p.Secrets[j].Until = micro(p.Secrets[j].Until)
			}
		}
	}
	for _, sums := range v.Summaries {
		for id, s := range sums {
			s.ETA, s.FirstETA = micro(s.ETA), micro(s.FirstETA)
			sums[id] = s
		}
	}
	return v
}
