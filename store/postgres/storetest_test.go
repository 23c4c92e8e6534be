package postgres

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/storetest"
)

// TestBackendConformance runs the storage contract's suite against PostgreSQL, each
// subtest on a migrated database of its own, emptied for it. Every subtest ends by
// checking the counts by status that the triggers of refs keep against the rows
// (checkStatusCounts), so that a way of writing refs they miss fails whichever
// subtest takes it.
func TestBackendConformance(t *testing.T) {
	dbs := newTestDatabases(t)
	storetest.Run(t, func(t *testing.T, clk *clock.Fake) storetest.Harness {
		h := &pgHarness{clk: clk, url: dbs.take(t)}
		h.db = h.open(t)
		t.Cleanup(func() {
			checkStatusCounts(t, h.db)
			h.db.Close()
			dbs.give(h.url)
		})
		return h
	})
}

// testDatabases hands subtests migrated databases, reusing each once its subtest is
// done: creating a database and migrating it takes seconds on a busy machine,
// emptying one takes a TRUNCATE. The databases are dropped when the parent test ends.
type testDatabases struct {
	server string
	parent *testing.T
	mu     sync.Mutex
	free   []string
}

func newTestDatabases(parent *testing.T) *testDatabases {
	return &testDatabases{server: pgtest.ServerURL(parent), parent: parent}
}

// take returns an empty migrated database's URL: a free one emptied, or a new one.
func (d *testDatabases) take(t *testing.T) string {
	t.Helper()
	d.mu.Lock()
	var url string
	if n := len(d.free); n > 0 {
		url, d.free = d.free[n-1], d.free[:n-1]
	}
	d.mu.Unlock()
	ctx := context.Background()
	if url == "" {
		var drop func() error
		var err error
		url, drop, err = pgtest.CreateDatabase(ctx, d.server)
		if err != nil {
			t.Fatal(err)
		}
		d.parent.Cleanup(func() {
			if err := drop(); err != nil {
				d.parent.Error(err)
			}
		})
		return url // Open migrates it
	}
	if err := emptyDatabase(ctx, url); err != nil {
		t.Fatalf("empty the test database: %v", err)
	}
	return url
}

// give hands a database back once its subtest closed every connection to it.
func (d *testDatabases) give(url string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.free = append(d.free, url)
}

// emptyDatabase deletes every row of the schema's tables (but goose's) and puts back
// the rows the migrations seed, leaving the database as a new migrated one. DELETE,
// not TRUNCATE: the tables of one subtest are small, and TRUNCATE's exclusive locks
// and new files cost more.
func emptyDatabase(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT quote_ident(tablename) FROM pg_tables
		WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`)
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	var sql strings.Builder
	for _, table := range tables {
		sql.WriteString("DELETE FROM " + table + ";\n")
	}
	// Deleting refs counted the deletions (its triggers): the counts go last.
	sql.WriteString("DELETE FROM ref_status_counts;\n")
	sql.WriteString("INSERT INTO store_stats DEFAULT VALUES;")
	_, err = conn.Exec(ctx, sql.String())
	return err
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

// checkStatusCounts fails the test where ref_status_counts disagrees with counting the
// rows of refs.
func checkStatusCounts(t *testing.T, db *DB) {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), `
		SELECT account_id, status, coalesce(c.n, 0), coalesce(r.n, 0)
		FROM (SELECT account_id, status, n FROM ref_status_counts WHERE n <> 0) c
		FULL JOIN (SELECT account_id, status, count(*) AS n FROM refs GROUP BY account_id, status) r USING (account_id, status)
		WHERE coalesce(c.n, 0) <> coalesce(r.n, 0)`)
	if err != nil {
		t.Errorf("check the counts by status: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var account, status string
		var kept, counted int64
		if err := rows.Scan(&account, &status, &kept, &counted); err != nil {
			t.Errorf("check the counts by status: %v", err)
			return
		}
		t.Errorf("account %s has %d %s references; its count by status says %d", account, counted, status, kept)
	}
	if err := rows.Err(); err != nil {
		t.Errorf("check the counts by status: %v", err)
	}
}
