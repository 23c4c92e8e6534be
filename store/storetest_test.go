package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/storetest"
)

// TestBackendConformance runs the storage contract's suite against the bbolt store.
// Every subtest ends by checking the counts kept by status against the references
// (checkStatusCounts), so that a write that changes a status and not its count fails
// whichever subtest makes it.
func TestBackendConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clk *clock.Fake) storetest.Harness {
		h := &boltHarness{clk: clk, dir: t.TempDir()}
		h.db = h.open(t, filepath.Join(h.dir, "trackhook.db"))
		t.Cleanup(func() {
			checkStatusCounts(t, h.db)
			if err := h.db.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return h
	})
}

// boltHarness gives the suite a bbolt store in a file of the test's temporary
// directory, opened without fsync.
type boltHarness struct {
	clk   *clock.Fake
	dir   string
	files int
	db    *DB
}

func (h *boltHarness) open(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(path, Options{NoSync: true, Clock: h.clk})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return db
}

// newPath returns the path of a new file in the harness's directory.
func (h *boltHarness) newPath() string {
	h.files++
	return filepath.Join(h.dir, "copy"+string(rune('a'+h.files))+".db")
}

func (h *boltHarness) Backend() references.Backend { return h.db }

// Restart closes the store, which writes what it keeps in memory, and opens the file again.
func (h *boltHarness) Restart(t *testing.T) references.Backend {
	t.Helper()
	path := h.db.Path()
	if err := h.db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	h.db = h.open(t, path)
	return h.db
}

// Crash opens a copy of what is committed to the file at this moment, as a process
// killed now would leave it; the old store is closed afterwards, its Close writing only
// to the abandoned file.
func (h *boltHarness) Crash(t *testing.T) references.Backend {
	t.Helper()
	path := h.newPath()
	err := h.db.bolt.View(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o600) })
	if err != nil {
		t.Fatalf("copy the committed state: %v", err)
	}
	if err := h.db.Close(); err != nil {
		t.Fatalf("close the abandoned store: %v", err)
	}
	h.db = h.open(t, path)
	return h.db
}

// OpenBackup writes the backup to a file and opens it, closed when the test ends.
func (h *boltHarness) OpenBackup(t *testing.T, backup []byte) references.Backend {
	t.Helper()
	path := h.newPath()
	if err := os.WriteFile(path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	db := h.open(t, path)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// DeleteUpdate removes the update from the feed and from the retention index.
func (h *boltHarness) DeleteUpdate(t *testing.T, refID, updateID string) {
	t.Helper()
	err := h.db.update(context.Background(), func(tx *bolt.Tx) error {
		var ref references.Reference
		if err := getRef(tx, anyAccount, refID, &ref); err != nil {
			return err
		}
		u, err := findUpdate(tx, refID, updateID, ref.LastSequence)
		if err != nil {
			return err
		}
		key := updateKey(refID, u.Sequence)
		if err := tx.Bucket(bucketUpdates).Delete(key); err != nil {
			return err
		}
		return tx.Bucket(bucketUpdatesAge).Delete(join(timeKey(u.CreatedAt), key))
	})
	if err != nil {
		t.Fatalf("delete update %s: %v", updateID, err)
	}
}
