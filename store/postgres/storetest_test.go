package postgres

import (
	"context"
	"testing"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/storetest"
)

// TestBackendConformance runs the storage contract's suite against PostgreSQL, each
// subtest on a database of its own.
func TestBackendConformance(t *testing.T) {
	pgtest.ServerURL(t)
	storetest.Run(t, func(t *testing.T, clk *clock.Fake) storetest.Harness {
		h := &pgHarness{clk: clk, url: pgtest.NewDatabase(t)}
		h.db = h.open(t)
		t.Cleanup(func() { h.db.Close() })
		return h
	})
}

// pgHarness gives the suite a database of its own on the test server.
type pgHarness struct {
	clk *clock.Fake
	url string
	db  *DB
}

func (h *pgHarness) open(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), h.url, Options{Clock: h.clk, MaxConns: 8})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return db
}

func (h *pgHarness) Backend() references.Backend { return h.db }

// Restart closes the pool and opens a new one on the same database.
func (h *pgHarness) Restart(t *testing.T) references.Backend {
	t.Helper()
	h.db.Close()
	h.db = h.open(t)
	return h.db
}

// Crash is a restart: the backend keeps nothing in memory that a Close would write,
// and leases held live in the database, as they would after a killed process.
func (h *pgHarness) Crash(t *testing.T) references.Backend {
	return h.Restart(t)
}

// OpenBackup is never called: Backup answers errors.ErrUnsupported (pg_dump's job)
// and the suite skips its test.
func (h *pgHarness) OpenBackup(t *testing.T, backup []byte) references.Backend {
	t.Fatal("PostgreSQL has no backup of its own to open")
	return nil
}

// DeleteUpdate deletes one update row behind the contract's back.
func (h *pgHarness) DeleteUpdate(t *testing.T, refID, updateID string) {
	t.Helper()
	if _, err := h.db.pool.Exec(context.Background(), "DELETE FROM updates WHERE ref_id = $1 AND id = $2", refID, updateID); err != nil {
		t.Fatalf("delete update: %v", err)
	}
}
