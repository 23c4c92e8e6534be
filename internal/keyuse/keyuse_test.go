package keyuse_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/keyuse"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// bundle is a Recorder over a real store with one account and two keys, on a fake
// clock, with the store's writes counted.
type bundle struct {
	rec    *keyuse.Recorder
	db     *store.DB
	store  *countingStore
	clock  *clock.Fake
	k1, k2 references.APIKey
}

// countingStore counts the calls that write, and can be made to fail.
type countingStore struct {
	db   *store.DB
	mu   sync.Mutex
	n    int
	fail bool
}

func (c *countingStore) RecordAPIKeyUse(ctx context.Context, uses []references.APIKeyUse) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.fail {
		return errors.New("disk full")
	}
	return c.db.RecordAPIKeyUse(ctx, uses)
}

func (c *countingStore) writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func setup(t *testing.T) *bundle {
	t.Helper()
	clk := clock.NewFake(start)
	db, err := store.Open(filepath.Join(t.TempDir(), "keyuse.db"), store.Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	if _, err := db.EnsureAccount(ctx, "acct", "whsec_x", start); err != nil {
		t.Fatal(err)
	}
	b := &bundle{db: db, clock: clk, store: &countingStore{db: db}}
	for _, k := range []*references.APIKey{&b.k1, &b.k2} {
		_, *k = references.NewAPIKey("acct", []references.Scope{references.ScopeRead}, start)
		if err := db.CreateAPIKey(ctx, *k); err != nil {
			t.Fatal(err)
		}
	}
	b.rec = keyuse.New(b.store, keyuse.Options{Clock: clk})
	return b
}

// use is what the Service does on a request: read the key as stored, tell the recorder.
func (b *bundle) use(t *testing.T, k references.APIKey) {
	t.Helper()
	stored, err := b.db.LookupAPIKey(context.Background(), k.Hash)
	if err != nil {
		t.Fatal(err)
	}
	b.rec.Seen(stored, b.clock.Now())
}

func (b *bundle) lastUsed(t *testing.T, k references.APIKey) *time.Time {
	t.Helper()
	stored, err := b.db.LookupAPIKey(context.Background(), k.Hash)
	if err != nil {
		t.Fatal(err)
	}
	return stored.LastUsedAt
}

func TestRecorder_WritesEveryKeyUsedInOneCallAtMostOnceAMinute(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	for range 100 {
		b.use(t, b.k1)
		b.use(t, b.k2)
		b.clock.Advance(100 * time.Millisecond)
	}
	if b.store.writes() != 0 || b.lastUsed(t, b.k1) != nil {
		t.Fatal("a use was written on the request's path")
	}
	if err := b.rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	last := start.Add(99 * 100 * time.Millisecond)
	for _, k := range []references.APIKey{b.k1, b.k2} {
		if got := b.lastUsed(t, k); got == nil || !got.Equal(last) {
			t.Errorf("%s last used %v, want the latest use %v", k.ID, got, last)
		}
	}
	if b.store.writes() != 1 {
		t.Errorf("%d writes for 200 uses of 2 keys, want 1", b.store.writes())
	}

	// Within a minute of the stored time, uses are not even noted.
	b.clock.Set(last.Add(59 * time.Second))
	b.use(t, b.k1)
	if err := b.rec.Flush(ctx); err != nil || b.store.writes() != 1 {
		t.Errorf("a use 59 s after the stored one was written (%d writes, %v)", b.store.writes(), err)
	}
	b.clock.Set(last.Add(time.Minute))
	b.use(t, b.k1)
	if err := b.rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.lastUsed(t, b.k1); got == nil || !got.Equal(last.Add(time.Minute)) {
		t.Errorf("a minute later: last used %v", got)
	}
}

func TestRecorder_AFailedWriteIsTriedAgain(t *testing.T) {
	b := setup(t)
	b.use(t, b.k1)
	b.store.fail = true
	if err := b.rec.Flush(context.Background()); err == nil {
		t.Fatal("Flush over a failing store: no error")
	}
	b.store.fail = false
	if err := b.rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := b.lastUsed(t, b.k1); got == nil || !got.Equal(start) {
		t.Errorf("after the retry: last used %v, want %v", got, start)
	}
}

func TestRecorder_WritesOnItsScheduleAndAtStop(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.rec.Start(ctx)
	waitFor(t, func() bool { return b.clock.Timers() == 1 }) // the first scan found nothing
	b.use(t, b.k1)
	b.clock.Advance(keyuse.DefaultEvery)
	waitFor(t, func() bool { return b.lastUsed(t, b.k1) != nil })
	if got := b.lastUsed(t, b.k1); !got.Equal(start) {
		t.Errorf("written at the tick: %v, want %v", got, start)
	}
	b.use(t, b.k2)
	b.rec.Stop(ctx)
	if got := b.lastUsed(t, b.k2); got == nil || !got.Equal(start.Add(keyuse.DefaultEvery)) {
		t.Errorf("after Stop: %s last used %v", b.k2.ID, got)
	}
}

// waitFor waits for a condition that the recorder's goroutine makes true soon; it is
// not a timing assertion (the deadline is generous).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
