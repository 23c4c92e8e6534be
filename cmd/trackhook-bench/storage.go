package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// benchStore is what the tool needs of a store: the storage contract, and the
// notifier's claim of one reference's callback stream on demand, which the tool also
// uses to read the next payload of a reference as the notifier would send it.
type benchStore interface {
	references.Backend
	ClaimDelivery(ctx context.Context, owner, refID string, lease time.Duration) (references.DeliveryClaim, error)
}

var _ benchStore = (*store.DB)(nil)

// storage makes the stores of the phases, each fresh: bbolt files in a directory, or
// schemas of one PostgreSQL database (pgStorage). A phase's store is named (main,
// latency, fanout-1, ...) and opened once to seed it, closed, then opened by each
// instance that runs on it.
type storage interface {
	// open opens the phase's store, made empty the first time. seeding is for the
	// set-up writes, which are not measured: bbolt without fsync, PostgreSQL with
	// synchronous_commit off.
	open(ctx context.Context, name string, seeding bool) (benchStore, error)
	// size is what the phase's store takes on disk; db is open on it.
	size(ctx context.Context, name string, db benchStore) (int64, error)
	// commits is how many write transactions the phase's store has committed so
	// far, as its Stats count them.
	commits(ctx context.Context, db benchStore) (int64, error)
	// remove deletes the phase's store once every handle on it is closed, unless the
	// run keeps its stores.
	remove(ctx context.Context, name string) error
	// serverCPU is the CPU time the database server has spent for the tool so far,
	// or ok false when there is no server or it cannot be read.
	serverCPU() (t serverTimes, ok bool)
	// drainEvery is how often the tool asks the store whether a backlog is
	// delivered: a Stats call costs a few keys on bbolt, a query on PostgreSQL.
	drainEvery() time.Duration
	// describe names the store for the report.
	describe() string
	close() error
}

// bboltStorage keeps each phase's store in a file of dir, as `trackhook serve` does
// with its default store; the run's directory is removed at the end unless kept.
type bboltStorage struct{ dir string }

func (s bboltStorage) path(name string) string { return filepath.Join(s.dir, name+".db") }

func (s bboltStorage) open(_ context.Context, name string, seeding bool) (benchStore, error) {
	return store.Open(s.path(name), store.Options{NoSync: seeding})
}

func (s bboltStorage) size(ctx context.Context, _ string, db benchStore) (int64, error) {
	st, err := db.Stats(ctx)
	return st.FileBytes, err
}

func (s bboltStorage) commits(ctx context.Context, db benchStore) (int64, error) {
	st, err := db.Stats(ctx)
	return st.Commits, err
}

// remove leaves the file: the run's directory goes as a whole at the end (or stays
// with --keep or --dir).
func (s bboltStorage) remove(context.Context, string) error { return nil }

func (s bboltStorage) serverCPU() (serverTimes, bool) { return serverTimes{}, false }

func (s bboltStorage) drainEvery() time.Duration { return 5 * time.Millisecond }

func (s bboltStorage) describe() string { return "bbolt" }

func (s bboltStorage) close() error { return nil }
